"""JSON encoding of bean parameters and bean classes.

Plain JSON values (None, booleans, whole numbers, finite floats, strings, and
lists and string-keyed dicts of those) are written as they are. Anything else
(callables, numpy arrays, types, tuples, non-finite floats) is embedded as
``{"$pickle": "<base64 of the cloudpickle payload>"}``, so that a topology
round-trips through JSON without loss.
"""

from __future__ import annotations

import base64
import importlib
import math
from typing import Any

import cloudpickle

from ..errors import InvalidParameterError

__all__ = ["encode_value", "decode_value", "class_name", "class_entry", "load_class"]

_PICKLE_KEY = "$pickle"


def _is_plain(value: Any) -> bool:
    if value is None or isinstance(value, (bool, str)):
        return True
    if type(value) is int:
        return True
    if type(value) is float:
        return math.isfinite(value)
    if type(value) is list:
        return all(_is_plain(item) for item in value)
    if type(value) is dict:
        return all(
            isinstance(key, str) and not key.startswith("$") and _is_plain(item)
            for key, item in value.items()
        )
    return False


def encode_value(value: Any) -> Any:
    """Return ``value`` as JSON-ready data, embedding non-JSON values as cloudpickle payloads."""
    if _is_plain(value):
        return value
    payload = base64.b64encode(cloudpickle.dumps(value)).decode("ascii")
    return {_PICKLE_KEY: payload}


def decode_value(data: Any) -> Any:
    """Invert :func:`encode_value`."""
    if isinstance(data, dict) and set(data) == {_PICKLE_KEY}:
        return cloudpickle.loads(base64.b64decode(data[_PICKLE_KEY]))
    return data


def class_name(cls: type) -> str:
    """Return ``"module:qualified.name"`` for a class."""
    return f"{cls.__module__}:{cls.__qualname__}"


def _importable(cls: type) -> bool:
    if cls.__module__ == "__main__" or "<locals>" in cls.__qualname__:
        return False
    try:
        return _resolve(class_name(cls)) is cls
    except (ImportError, AttributeError):
        return False


def _resolve(name: str) -> type:
    module_name, _, qualname = name.partition(":")
    target: Any = importlib.import_module(module_name)
    for part in qualname.split("."):
        target = getattr(target, part)
    return target


def class_entry(cls: type) -> dict:
    """Return the JSON fields that name ``cls``: its qualified name, plus a payload if it cannot be imported."""
    entry: dict[str, Any] = {"type": class_name(cls)}
    if not _importable(cls):
        # Classes defined in a notebook or inside a function travel by value.
        entry["class_pickle"] = encode_value(cls)[_PICKLE_KEY]
    return entry


def load_class(name: str, payload: str | None = None) -> type:
    """Return the class named ``"module:qualname"``, or unpickle ``payload`` when given.

    Raises
    ------
    InvalidParameterError
        If the class cannot be imported.
    """
    if payload is not None:
        return decode_value({_PICKLE_KEY: payload})
    try:
        return _resolve(name)
    except (ImportError, AttributeError) as error:
        raise InvalidParameterError(
            f"bean class {name!r} cannot be imported ({error}); install the module that defines it"
        ) from error
