"""Rich display of execution objects in Jupyter, without importing the notebook layer.

The execution layer sits below the notebook layer, so it cannot import the
drawing code. The top-level package registers a renderer here instead, and
``_repr_mimebundle_`` methods call :func:`mimebundle`.
"""

from __future__ import annotations

import logging
from typing import Callable, Iterable

__all__ = ["set_renderer", "mimebundle"]

logger = logging.getLogger(__name__)

Renderer = Callable[[object, "Iterable[str] | None", "Iterable[str] | None"], dict]

_renderer: Renderer | None = None


def set_renderer(renderer: Renderer | None) -> None:
    """Install the function that turns a topology, pod list or plan into Jupyter display data."""
    global _renderer
    _renderer = renderer


def mimebundle(graph: object, include: Iterable[str] | None = None,
               exclude: Iterable[str] | None = None) -> dict:
    """Return display data for ``graph``: a drawing when a renderer is installed, else its repr."""
    if _renderer is None:
        return {"text/plain": repr(graph)}
    return _renderer(graph, include, exclude)
