"""The /dev/null output: pulls every element and discards it."""

from __future__ import annotations

from typing import Iterator

from ..base import Stream, register_api
from ..blocks import Block
from .base import Output, Writer

__all__ = ["DevNullOutput"]


class _DevNullWriter(Writer):
    def _write_block(self, block: Block) -> None:
        return None


class DevNullOutput(Output):
    """Evaluates its input and discards the elements (useful for benchmarks and tests)."""

    def __init__(self, input: Stream) -> None:
        super().__init__(input)

    def label(self) -> str:
        return "to_dev_null"

    def _make_writer(self, blocks: Iterator[Block], sample_rate: float) -> Writer:
        return _DevNullWriter(self, blocks, sample_rate)


@register_api()
def to_dev_null(self: Stream) -> DevNullOutput:
    """Evaluate the stream and discard its elements."""
    return DevNullOutput(self)
