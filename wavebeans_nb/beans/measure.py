"""Sample counts of stream elements, used by beans that count time (trim, projection, tables)."""

from __future__ import annotations

import numbers
import threading
from typing import Any, Callable

import numpy as np

from ..errors import InvalidParameterError

__all__ = ["measure", "register_type"]

_registry: dict[type, Callable[[Any], int]] = {}
_lock = threading.Lock()


def register_type(cls: type, fn: Callable[[Any], int]) -> None:
    """Register how many samples an element of ``cls`` stands for.

    Raises
    ------
    InvalidParameterError
        If ``cls`` is already registered.
    """
    with _lock:
        if cls in _registry:
            raise InvalidParameterError(f"{cls.__qualname__} is already registered for measurement")
        _registry[cls] = fn


def measure(element: Any) -> int:
    """Return the number of samples ``element`` stands for.

    Numbers count 1, a 1-D numpy array (a sample vector) its length, a tuple the
    maximum of its members, a list the sum of its members. Objects with a
    ``measure()`` method and registered types use that.

    Raises
    ------
    InvalidParameterError
        If the element's type has no known measure.
    """
    method = getattr(element, "measure", None)
    if callable(method):
        return int(method())
    if isinstance(element, numbers.Number):
        return 1
    if isinstance(element, np.ndarray):
        return int(element.shape[0]) if element.ndim else 1
    if isinstance(element, tuple):
        return max((measure(member) for member in element), default=0)
    if isinstance(element, list):
        return sum(measure(member) for member in element)
    for cls, fn in _registry.items():
        if isinstance(element, cls):
            return int(fn(element))
    raise InvalidParameterError(
        f"{type(element).__qualname__} has no sample count; give the class a measure() method "
        f"or call wavebeans_nb.register_type({type(element).__qualname__}, fn)"
    )
