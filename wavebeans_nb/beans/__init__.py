"""The stream model: bean kinds, element types, inputs, operations and outputs.

This layer knows nothing of execution; importing it registers every fluent
method on :class:`~wavebeans_nb.beans.base.Stream`.
"""

from . import operations  # noqa: F401  (registers fluent methods)
from .base import Bean, BeanKind, Stream, register_api
from .inputs import input, list_input, sine, sine_sweep
from .measure import measure, register_type
from .outputs import Output, Writer
from .timeunit import TimeMeasure

__all__ = [
    "Bean", "BeanKind", "Stream", "register_api", "Output", "Writer", "TimeMeasure",
    "input", "list_input", "sine", "sine_sweep", "measure", "register_type",
]
