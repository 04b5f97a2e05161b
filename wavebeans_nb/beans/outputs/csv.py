"""CSV output: ``stream.to_csv(uri)`` writes ``time,value`` rows, or custom rows via a serializer."""

from __future__ import annotations

import codecs
import os
from fractions import Fraction
from typing import Any, Callable, Iterator, Sequence

import numpy as np

from ...errors import InvalidParameterError
from ..base import Stream, register_api
from ..blocks import Block, iter_elements
from ..timeunit import UNIT_NANOS, normalize_unit
from .base import AtomicFile, Output, Writer

__all__ = ["CsvOutput", "sample_times"]

Serializer = Callable[[int, float, Any], Sequence[str]]

_INT64_LIMIT = 2**63 - 1


def sample_times(start: int, count: int, sample_rate: float, unit: str = "ms") -> np.ndarray:
    """Return the times of samples ``start .. start+count-1`` in ``unit``, truncated toward zero.

    Vectorised form of :func:`~wavebeans_nb.beans.timeunit.samples_to_length`
    with the same exact rational arithmetic: the time of sample ``i`` is
    ``floor(i * num / den)``, where ``num / den`` is the exact length of one
    sample in ``unit``.

    Returns
    -------
    numpy.ndarray
        int64 array of ``count`` times, or an object array of Python ints when
        the times would not fit in int64.
    """
    per_sample = Fraction(1_000_000_000, UNIT_NANOS[normalize_unit(unit)]) / Fraction(sample_rate)
    num, den = per_sample.numerator, per_sample.denominator
    end = start + count
    # Split i = q*den + r, so i*num//den = q*num + r*num//den and no product exceeds int64.
    if den * num <= _INT64_LIMIT and (end // den + 1) * num <= _INT64_LIMIT:
        quotient, remainder = np.divmod(np.arange(start, end, dtype=np.int64), den)
        return quotient * num + (remainder * num) // den
    return np.array([i * num // den for i in range(start, end)], dtype=object)


def check_encoding(encoding: Any) -> str:
    """Return ``encoding`` if Python has a codec of that name, or raise InvalidParameterError."""
    try:
        if not isinstance(encoding, str):
            raise LookupError(encoding)
        codecs.lookup(encoding)
    except LookupError:
        raise InvalidParameterError(
            f"text encoding {encoding!r} is unknown; pass a name such as 'utf-8' or 'latin-1'"
        ) from None
    return encoding


def check_uri(uri: Any, what: str) -> str:
    """Return ``uri`` as a string, or raise InvalidParameterError if it is not a string or path."""
    if not isinstance(uri, (str, os.PathLike)):
        raise InvalidParameterError(f"{what} URI {uri!r} is not a string or path; pass a file path or fsspec URI")
    return os.fspath(uri)


def _format_sample_rows(times: np.ndarray, values: np.ndarray) -> str:
    """Format rows ``time,value`` with the value to 10 decimals, in one C-level formatting pass."""
    count = len(values)
    fields: list = [None] * (2 * count)
    fields[0::2] = times.tolist()
    fields[1::2] = values.tolist()
    return ("%d,%.10f\n" * count) % tuple(fields)


class _SampleCsvWriter(Writer):
    def __init__(self, output: "CsvOutput", blocks: Iterator[Block], sample_rate: float) -> None:
        super().__init__(output, blocks, sample_rate)
        self._unit = output.params["time_unit"]
        self._index = 0
        self._target = AtomicFile(output.params["uri"], "w", encoding=output.params["encoding"], newline="")
        self._target.file.write(f"time {self._unit},value\n")

    def _write_block(self, block: Block) -> None:
        values = np.asarray(block, dtype=np.float64)
        if values.ndim != 1:
            raise InvalidParameterError(
                f"to_csv got a block of shape {values.shape}; the time,value form writes one sample "
                "per row, so pass header= and serializer= for other elements"
            )
        times = sample_times(self._index, len(values), self.sample_rate, self._unit)
        self._target.file.write(_format_sample_rows(times, values))
        self._index += len(values)

    def _commit(self) -> None:
        self._target.commit()

    def _discard(self) -> None:
        self._target.discard()


class _CustomCsvWriter(Writer):
    def __init__(self, output: "CsvOutput", blocks: Iterator[Block], sample_rate: float) -> None:
        super().__init__(output, blocks, sample_rate)
        self._serializer: Serializer = output.params["serializer"]
        self._index = 0
        self._target = AtomicFile(output.params["uri"], "w", encoding=output.params["encoding"], newline="")
        self._target.file.write(",".join(output.params["header"]) + "\n")

    def _write_block(self, block: Block) -> None:
        lines = []
        for element in iter_elements(block):
            row = self._serializer(self._index, self.sample_rate, element)
            if isinstance(row, (str, bytes)) or not isinstance(row, Sequence):
                raise InvalidParameterError(
                    f"CSV serializer returned {type(row).__name__} for element {self._index}; "
                    "it must return a list of strings, one per column"
                )
            lines.append(",".join(str(field) for field in row))
            self._index += 1
        lines.append("")
        self._target.file.write("\n".join(lines))

    def _commit(self) -> None:
        self._target.commit()

    def _discard(self) -> None:
        self._target.discard()


class CsvOutput(Output):
    """Writes a stream to a CSV file through a temporary file that is moved into place on close."""

    commits_at_end = True

    def __init__(self, input: Stream, *, uri: "str | os.PathLike[str]", time_unit: str = "ms",
                 header: Sequence[str] | None = None, serializer: Serializer | None = None,
                 encoding: str = "utf-8") -> None:
        if not isinstance(uri, (str, os.PathLike)):
            raise InvalidParameterError(f"CSV output URI {uri!r} is not a string or path; pass a file path or fsspec URI")
        if (header is None) != (serializer is None):
            raise InvalidParameterError(
                "to_csv needs header= and serializer= together (custom rows) or neither (time,value rows)"
            )
        if serializer is not None and not callable(serializer):
            raise InvalidParameterError(f"CSV serializer {serializer!r} is not callable")
        if header is not None:
            if (isinstance(header, str) or not hasattr(header, "__iter__")
                    or not all(isinstance(name, str) for name in header)):
                raise InvalidParameterError(f"CSV header {header!r} is invalid; pass a list of column names")
            header = list(header)
        elif input.element_type is not float:
            raise InvalidParameterError(
                f"to_csv writes time,value rows for samples only, but {input.label()} yields "
                f"{getattr(input.element_type, '__name__', input.element_type)}; pass header= and serializer="
            )
        super().__init__(input, uri=os.fspath(uri), time_unit=normalize_unit(time_unit), header=header,
                         serializer=serializer, encoding=check_encoding(encoding))

    def label(self) -> str:
        name = os.path.basename(self.params["uri"].rstrip("/")) or self.params["uri"]
        return f"to_csv({name})"

    def _make_writer(self, blocks: Iterator[Block], sample_rate: float) -> Writer:
        if self.params["serializer"] is None:
            return _SampleCsvWriter(self, blocks, sample_rate)
        return _CustomCsvWriter(self, blocks, sample_rate)


@register_api()
def to_csv(self: Stream, uri: "str | os.PathLike[str]", time_unit: str = "ms",
           header: Sequence[str] | None = None, serializer: Serializer | None = None,
           encoding: str = "utf-8") -> CsvOutput:
    """Write the stream to a CSV file.

    Without ``serializer`` the stream must yield samples and each row is
    ``time,value``: the time of the sample in ``time_unit``, truncated to a
    whole number, and the value with 10 decimals (Python ``%.10f``). The
    header is ``time <unit>,value``.

    Parameters
    ----------
    uri : str or os.PathLike
        Target path or fsspec URI. Its directory must exist.
    time_unit : str, default "ms"
        Unit of the time column: ns, us, ms, s, m, h or d.
    header : list of str, optional
        Column names of a custom form; requires ``serializer``.
    serializer : callable, optional
        ``serializer(index, sample_rate, element)`` returns the row's fields
        as a list of strings. ``index`` counts elements (0, 1, ...), not samples.
    encoding : str, default "utf-8"
        Text encoding of the file.

    Returns
    -------
    CsvOutput
        The output; evaluate it with an overseer. Lines end with ``\\n``.
        Fields are not quoted. An empty stream writes only the header.

    Raises
    ------
    InvalidParameterError
        If the unit is unknown, only one of ``header`` and ``serializer`` is
        given, or the stream does not yield samples and no serializer is given.

    Examples
    --------
    >>> import wavebeans_nb as wb
    >>> out = wb.list_input([0.5, -0.25]).to_csv("memory://rows.csv")
    >>> with wb.SingleThreadedOverseer(out) as overseer:
    ...     overseer.eval(4)[0].result().finished
    True
    >>> import fsspec
    >>> print(fsspec.open("memory://rows.csv", "r").open().read(), end="")
    time ms,value
    0,0.5000000000
    250,-0.2500000000
    """
    return CsvOutput(self, uri=uri, time_unit=time_unit, header=header, serializer=serializer,
                     encoding=encoding)
