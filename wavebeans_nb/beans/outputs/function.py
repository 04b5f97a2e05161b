"""Function output: ``stream.out(fn)`` hands every element to a Python callable."""

from __future__ import annotations

import enum
import logging
from dataclasses import dataclass
from typing import Any, Callable, Iterator

from ...errors import InvalidParameterError
from ..base import Stream, register_api
from ..blocks import Block, iter_elements
from .base import Output, Writer

__all__ = ["WritePhase", "WriteFunctionArgument", "FunctionOutput"]

logger = logging.getLogger(__name__)


class WritePhase(enum.Enum):
    """Phase of an output function call: an element, the end of the input, or closing."""

    #: One element of the stream; returning False stops the output.
    WRITE = "write"
    #: The input has ended (called once).
    END = "end"
    #: The output is closing (called once, also after a failure or cancellation).
    CLOSE = "close"


@dataclass(frozen=True)
class WriteFunctionArgument:
    """Argument of an output function.

    Attributes
    ----------
    sample_index : int
        Index of the element in WRITE (0, 1, ...); the number of elements
        written in END and CLOSE.
    sample_rate : float
        Evaluation rate in Hz.
    sample : object or None
        The element in WRITE (a float for sample streams); None in END and CLOSE.
    phase : WritePhase
        WRITE, END or CLOSE.
    """

    sample_index: int
    sample_rate: float
    sample: Any
    phase: WritePhase


class _FunctionWriter(Writer):
    def __init__(self, output: "FunctionOutput", blocks: Iterator[Block], sample_rate: float) -> None:
        super().__init__(output, blocks, sample_rate)
        self._fn: Callable[[WriteFunctionArgument], Any] = output.params["fn"]
        self._index = 0

    def _call(self, sample: Any, phase: WritePhase) -> Any:
        return self._fn(WriteFunctionArgument(self._index, self.sample_rate, sample, phase))

    def _write_block(self, block: Block) -> bool:
        for position, element in enumerate(iter_elements(block)):
            result = self._call(element, WritePhase.WRITE)
            if result is not None and not result:
                # Writer.write adds the whole block afterwards; count only the accepted elements.
                self.elements_written -= len(block) - position
                return False
            self._index += 1
        return True

    def _end(self) -> None:
        self._call(None, WritePhase.END)

    def _commit(self) -> None:
        self._call(None, WritePhase.CLOSE)

    def _discard(self) -> None:
        # The run has already failed or been cancelled; an error here must not hide that one.
        try:
            self._call(None, WritePhase.CLOSE)
        except Exception:
            logger.warning("output function %s raised in the CLOSE phase after a failed run",
                           self.output.label(), exc_info=True)


class FunctionOutput(Output):
    """Calls a function for every element, once at the end of the input and once on close."""

    def __init__(self, input: Stream, *, fn: Callable[[WriteFunctionArgument], Any]) -> None:
        if not callable(fn):
            raise InvalidParameterError(f"output function {fn!r} is not callable")
        super().__init__(input, fn=fn)

    def label(self) -> str:
        return f"out({getattr(self.params['fn'], '__name__', 'fn')})"

    def _make_writer(self, blocks: Iterator[Block], sample_rate: float) -> Writer:
        return _FunctionWriter(self, blocks, sample_rate)


@register_api()
def out(self: Stream, fn: Callable[[WriteFunctionArgument], Any]) -> FunctionOutput:
    """Send the stream to a Python function.

    ``fn`` receives a :class:`WriteFunctionArgument` and is called:

    * in phase WRITE once per element, with ``sample_index`` 0, 1, ...; a
      result that is falsy but not None (False, 0) stops the output: that
      element is not counted and END is not called;
    * in phase END once, when the input has ended, with ``sample=None``;
    * in phase CLOSE once, when the output closes, with ``sample=None``. This
      also happens after an error or a cancellation, and an exception that
      ``fn`` raises then is logged, not raised.

    Exceptions from ``fn`` in WRITE and END fail the output with that exception.

    Parameters
    ----------
    fn : callable
        ``fn(argument) -> bool or None``.

    Returns
    -------
    FunctionOutput
        The output; evaluate it with an overseer.

    Examples
    --------
    >>> import wavebeans_nb as wb
    >>> seen = []
    >>> out = wb.list_input([0.5, 1.0]).out(lambda a: seen.append((a.phase.name, a.sample)))
    >>> with wb.SingleThreadedOverseer(out) as overseer:
    ...     overseer.eval(8000)[0].result().finished
    True
    >>> seen
    [('WRITE', 0.5), ('WRITE', 1.0), ('END', None), ('CLOSE', None)]
    """
    return FunctionOutput(self, fn=fn)
