"""CSV output of FFT frames: one row per frame with the magnitude (dB) or phase (rad) of each bin.

The first line is ``time <unit> \\ freq hz,f0,f1,…`` with the bin frequencies
(``%.5f``, Hz) of bins 0 … N/2 − 1; every following line is the frame's start
time in the unit (exact, truncated toward zero) and N/2 values (``%.10f``).
"""

from __future__ import annotations

import os
from typing import Iterator

import numpy as np

from ...errors import InvalidParameterError
from ..base import Stream, register_api
from ..blocks import Block
from ..timeunit import normalize_unit
from ..types import FftBlock, FftSample, as_fft_blocks
from .base import AtomicFile, Output, Writer
from .csv import check_encoding

__all__ = ["FftCsvOutput"]


def _known_bin_count(stream: Stream) -> int | None:
    """Return the bin count of the upstream fft() bean, when the chain shows it."""
    current = stream
    while current is not None and current.element_type is FftSample:
        if "bin_count" in current.params:
            return int(current.params["bin_count"])
        current = current.inputs[0] if current.inputs else None
    return None


def _header(unit: str, bin_count: int, sample_rate: float) -> str:
    frequencies = np.arange(bin_count // 2) * (sample_rate / bin_count)
    return f"time {unit} \\ freq hz" + "".join(",%.5f" % f for f in frequencies.tolist()) + "\n"


class _FftCsvWriter(Writer):
    def __init__(self, output: "FftCsvOutput", blocks: Iterator[Block], sample_rate: float) -> None:
        super().__init__(output, blocks, sample_rate)
        self._unit = output.params["time_unit"]
        self._kind = output.params["kind"]
        self._bin_count = _known_bin_count(output.input)
        self._target = AtomicFile(output.params["uri"], "w", encoding=output.params["encoding"], newline="")
        self._header_written = False

    def _write_header(self, bin_count: int, sample_rate: float) -> None:
        if not self._header_written:
            self._target.file.write(_header(self._unit, bin_count, sample_rate))
            self._header_written = True

    def _write_block(self, block: Block) -> None:
        for run in as_fft_blocks(block):
            self._write_frames(run)

    def _write_frames(self, block: FftBlock) -> None:
        self._write_header(block.bin_count, block.sample_rate)
        values = block.magnitude() if self._kind == "magnitude" else block.phase()
        times = block.times(self._unit)
        columns = values.shape[1]
        fields: list = []
        for time, row in zip(times, values.tolist()):
            fields.append(time)
            fields.extend(row)
        line = "%d" + ",%.10f" * columns + "\n"
        self._target.file.write((line * len(times)) % tuple(fields))

    def _commit(self) -> None:
        if self._bin_count is not None:
            self._write_header(self._bin_count, self.sample_rate)
        self._target.commit()

    def _discard(self) -> None:
        self._target.discard()


class FftCsvOutput(Output):
    """Writes the magnitude or phase of every FFT frame to a CSV file, committed atomically on close."""

    commits_at_end = True

    def __init__(self, input: Stream, *, uri: "str | os.PathLike[str]", kind: str = "magnitude",
                 time_unit: str = "ms", encoding: str = "utf-8") -> None:
        if not isinstance(uri, (str, os.PathLike)):
            raise InvalidParameterError(f"CSV output URI {uri!r} is not a string or path; pass a file path or fsspec URI")
        if kind not in ("magnitude", "phase"):
            raise InvalidParameterError(f"FFT CSV kind {kind!r} is unknown; use 'magnitude' or 'phase'")
        if input.element_type is not FftSample:
            raise InvalidParameterError(
                f"{kind}_to_csv needs a stream of FFT frames, but {input.label()} yields "
                f"{getattr(input.element_type, '__name__', input.element_type)}; call .fft(N) first"
            )
        super().__init__(input, uri=os.fspath(uri), kind=kind, time_unit=normalize_unit(time_unit),
                         encoding=check_encoding(encoding))

    def label(self) -> str:
        name = os.path.basename(self.params["uri"].rstrip("/")) or self.params["uri"]
        return f"{self.params['kind']}_to_csv({name})"

    def _make_writer(self, blocks: Iterator[Block], sample_rate: float) -> Writer:
        return _FftCsvWriter(self, blocks, sample_rate)


@register_api()
def magnitude_to_csv(self: Stream, uri: "str | os.PathLike[str]", time_unit: str = "ms",
                     encoding: str = "utf-8") -> FftCsvOutput:
    """Write ``20·log10|X_k|`` (dB) of bins 0 … N/2 − 1 of every FFT frame to a CSV file.

    Parameters
    ----------
    uri : str or os.PathLike
        Target path or fsspec URI; its directory must exist.
    time_unit : str, default "ms"
        Unit of the time column and of its header label: ns, us, ms, s, m, h or d.
    encoding : str, default "utf-8"
        Text encoding.

    Returns
    -------
    FftCsvOutput
        One header line, then one line per frame: its start time
        (``index · step / sample_rate``, truncated) and N/2 values with 10 decimals.
        A zero bin is written as ``-inf``. An empty stream writes only the
        header when the bin count is known from the graph.

    Raises
    ------
    InvalidParameterError
        If the stream does not yield FFT frames or the unit is unknown.
    """
    return FftCsvOutput(self, uri=uri, kind="magnitude", time_unit=time_unit, encoding=encoding)


@register_api()
def phase_to_csv(self: Stream, uri: "str | os.PathLike[str]", time_unit: str = "ms",
                 encoding: str = "utf-8") -> FftCsvOutput:
    """Write the phase ``angle(X_k)`` (radians, numpy's sign convention) of bins 0 … N/2 − 1 to a CSV file.

    The layout is that of :meth:`magnitude_to_csv`.
    """
    return FftCsvOutput(self, uri=uri, kind="phase", time_unit=time_unit, encoding=encoding)
