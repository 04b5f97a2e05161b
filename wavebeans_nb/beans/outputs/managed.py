"""Managed outputs: WAV and CSV files opened, flushed and closed by signals inside the stream.

The input is a stream of :class:`~wavebeans_nb.beans.types.Managed` elements,
``Managed(signal, argument, payload)``. The output writes payloads into a
sequence of files named ``<dir>/<name><suffix(argument)><.ext>``, where
``uri = <dir>/<name><.ext>``. The gate starts open and the first file uses
argument None. Effect of each signal on its element e:

=============  ==================================================================
signal         effect
=============  ==================================================================
NOOP           none; e is written if the gate is open.
FLUSH          the current file (if it has data) is committed, and the next
               file uses e's argument; e goes into that next file. The gate
               does not change, so on a closed gate e is skipped.
OPEN_GATE      on a closed gate: opens it, the next file uses e's argument, and e
               is its first payload. On an open gate: ignored (e is written).
CLOSE_GATE     on an open gate: closes it and commits the current file. e is
               skipped either way.
CLOSE_OUTPUT   e is written if the gate is open, the current file is committed,
               and the output ends.
=============  ==================================================================

A file is created when its first payload arrives; each file is committed
atomically (temporary file, then rename). Skipped elements still advance the
CSV row index, which runs on across files.
"""

from __future__ import annotations

import logging
import os
from typing import Any, Callable, Iterator, Sequence

import numpy as np
import soundfile as sf

from ...errors import InvalidParameterError, OutputError
from ..base import Stream, register_api
from ..blocks import Block, iter_elements
from ..timeunit import normalize_unit
from ..types import Managed, OutputSignal
from .base import AtomicFile, Output, Writer
from .csv import _format_sample_rows, check_encoding, check_uri, sample_times
from .wav import _ENCODINGS, _encode, _normalize_bit_depth

__all__ = ["ManagedWavOutput", "ManagedCsvOutput", "default_suffix", "segment_uri"]

logger = logging.getLogger(__name__)

Serializer = Callable[[int, float, Any], Sequence[str]]


def default_suffix(argument: Any) -> str:
    """Return ``""`` for None and ``"-<argument>"`` otherwise."""
    return "" if argument is None else f"-{argument}"


def segment_uri(uri: str, suffix: str) -> str:
    """Insert ``suffix`` between the file name and its extension: ``a/b.wav`` + ``-1`` gives ``a/b-1.wav``."""
    root, extension = os.path.splitext(uri)
    return f"{root}{suffix}{extension}"


class _Segment:
    """One file of a managed output; subclasses write payloads."""

    def __init__(self, uri: str) -> None:
        self.uri = uri
        self.has_data = False

    def write(self, payloads: list, first_index: int) -> None:
        raise NotImplementedError

    def commit(self) -> None:
        raise NotImplementedError

    def discard(self) -> None:
        raise NotImplementedError


class _WavSegment(_Segment):
    def __init__(self, uri: str, sample_rate: float, bit_depth: "int | str") -> None:
        super().__init__(uri)
        self.encoding = _ENCODINGS[bit_depth]
        self.target = AtomicFile(uri, "wb")
        try:
            self.sound = sf.SoundFile(self.target.file.fileno(), mode="w", samplerate=max(1, int(round(sample_rate))),
                                      channels=1, format="WAV", subtype=self.encoding.subtype, closefd=False)
        except sf.LibsndfileError as error:
            self.target.discard()
            raise OutputError(f"cannot write WAV {uri}: {error.error_string}") from error

    def write(self, payloads: list, first_index: int) -> None:
        parts = [np.asarray(p, dtype=np.float64).reshape(-1) for p in payloads]
        samples = np.concatenate(parts) if parts else np.empty(0)
        if len(samples):
            self.sound.write(_encode(samples.reshape(-1, 1), self.encoding))
            self.has_data = True

    def commit(self) -> None:
        self.sound.close()
        self.target.commit()
        logger.debug("managed WAV segment %s committed", self.uri)

    def discard(self) -> None:
        if not self.sound.closed:
            try:
                self.sound.close()
            except sf.LibsndfileError:
                logger.debug("closing the partial WAV %s failed", self.uri, exc_info=True)
        self.target.discard()


class _CsvSegment(_Segment):
    def __init__(self, uri: str, sample_rate: float, header: str, encoding: str,
                 time_unit: str, serializer: Serializer | None) -> None:
        super().__init__(uri)
        self.sample_rate, self.time_unit, self.serializer = sample_rate, time_unit, serializer
        self.target = AtomicFile(uri, "w", encoding=encoding, newline="")
        self.target.file.write(header)

    def write(self, payloads: list, first_index: int) -> None:
        if not payloads:
            return
        if self.serializer is None:
            values = np.asarray(payloads, dtype=np.float64)
            times = sample_times(first_index, len(values), self.sample_rate, self.time_unit)
            self.target.file.write(_format_sample_rows(times, values))
        else:
            lines = [",".join(str(f) for f in self.serializer(first_index + i, self.sample_rate, p)) + "\n"
                     for i, p in enumerate(payloads)]
            self.target.file.write("".join(lines))
        self.has_data = True

    def commit(self) -> None:
        self.target.commit()
        logger.debug("managed CSV segment %s committed", self.uri)

    def discard(self) -> None:
        self.target.discard()


class _ManagedWriter(Writer):
    """Runs the signal state machine and groups consecutive payloads into one write."""

    def __init__(self, output: Output, blocks: Iterator[Block], sample_rate: float,
                 open_segment: Callable[[str], _Segment]) -> None:
        super().__init__(output, blocks, sample_rate)
        self._open_segment = open_segment
        self._suffix = output.params["suffix"] or default_suffix
        self._gate_open = True
        self._argument: Any = None
        self._segment: _Segment | None = None
        self._pending: list = []
        self._pending_index = 0
        self._index = 0  # element index, advanced for skipped elements too
        self._output_closed = False

    def write(self) -> bool:
        if self._output_closed:
            return False
        return super().write()

    def _write_block(self, block: Block) -> bool:
        for element in iter_elements(block):
            if not isinstance(element, Managed):
                raise InvalidParameterError(
                    f"managed outputs need Managed elements, but got a {type(element).__name__}; "
                    "wrap payloads with Managed(signal, argument, payload)"
                )
            if not self._handle(element):
                self._flush_pending()
                self._finalise()
                self._output_closed = True
                return False
        self._flush_pending()
        return True

    def _handle(self, element: Managed) -> bool:
        """Apply one element's signal and queue its payload; return False after CLOSE_OUTPUT."""
        signal = element.signal
        if signal == OutputSignal.FLUSH:
            self._flush_pending()
            self._finalise()
            self._argument = element.argument
        elif signal == OutputSignal.OPEN_GATE and not self._gate_open:
            self._gate_open = True
            self._argument = element.argument
        elif signal == OutputSignal.CLOSE_GATE:
            if self._gate_open:
                self._flush_pending()
                self._finalise()
                self._gate_open = False
            self._index += 1
            return True
        if self._gate_open:
            if not self._pending:
                self._pending_index = self._index
            self._pending.append(element.payload)
        self._index += 1
        return signal != OutputSignal.CLOSE_OUTPUT

    def _flush_pending(self) -> None:
        if not self._pending:
            return
        if self._segment is None:
            uri = segment_uri(self.output.params["uri"], str(self._suffix(self._argument)))
            self._segment = self._open_segment(uri)
        self._segment.write(self._pending, self._pending_index)
        self._pending = []

    def _finalise(self) -> None:
        if self._segment is not None:
            segment, self._segment = self._segment, None
            segment.commit()

    def _commit(self) -> None:
        self._flush_pending()
        self._finalise()

    def _discard(self) -> None:
        self._pending = []
        if self._segment is not None:
            self._segment.discard()
            self._segment = None


def _check_managed(input: Stream, what: str) -> None:
    if input.element_type is not Managed:
        raise InvalidParameterError(
            f"{what} needs a stream of Managed elements, but {input.label()} yields "
            f"{getattr(input.element_type, '__name__', input.element_type)}; "
            "map the payloads to Managed(signal, argument, payload) with element_type=Managed"
        )


def _check_suffix(suffix: Any) -> None:
    if suffix is not None and not callable(suffix):
        raise InvalidParameterError(f"suffix {suffix!r} is not callable; pass fn(argument) -> str")


class ManagedWavOutput(Output):
    """Writes the sample or sample-vector payloads of a managed stream into a sequence of WAV files."""

    def __init__(self, input: Stream, *, uri: "str | os.PathLike[str]", bit_depth: "int | str" = 16,
                 suffix: Callable[[Any], str] | None = None) -> None:
        _check_managed(input, "to_managed_wav")
        _check_suffix(suffix)
        super().__init__(input, uri=check_uri(uri, "managed WAV output"), bit_depth=_normalize_bit_depth(bit_depth), suffix=suffix)

    def label(self) -> str:
        return f"to_managed_wav({os.path.basename(self.params['uri'])})"

    def _make_writer(self, blocks: Iterator[Block], sample_rate: float) -> Writer:
        def open_segment(uri: str) -> _Segment:
            return _WavSegment(uri, sample_rate, self.params["bit_depth"])

        return _ManagedWriter(self, blocks, sample_rate, open_segment)


class ManagedCsvOutput(Output):
    """Writes the payloads of a managed stream into a sequence of CSV files, each with the header."""

    def __init__(self, input: Stream, *, uri: "str | os.PathLike[str]", time_unit: str = "ms",
                 header: Sequence[str] | None = None, serializer: Serializer | None = None,
                 suffix: Callable[[Any], str] | None = None, encoding: str = "utf-8") -> None:
        _check_managed(input, "to_managed_csv")
        _check_suffix(suffix)
        if (header is None) != (serializer is None):
            raise InvalidParameterError(
                "to_managed_csv needs header= and serializer= together (custom rows) or neither (time,value rows)"
            )
        if serializer is not None and not callable(serializer):
            raise InvalidParameterError(f"CSV serializer {serializer!r} is not callable")
        if header is not None and (isinstance(header, str) or not hasattr(header, "__iter__")
                                   or not all(isinstance(name, str) for name in header)):
            raise InvalidParameterError(f"CSV header {header!r} is invalid; pass a list of column names")
        super().__init__(input, uri=check_uri(uri, "managed CSV output"), time_unit=normalize_unit(time_unit),
                         header=None if header is None else list(header), serializer=serializer,
                         suffix=suffix, encoding=check_encoding(encoding))

    def label(self) -> str:
        return f"to_managed_csv({os.path.basename(self.params['uri'])})"

    def _make_writer(self, blocks: Iterator[Block], sample_rate: float) -> Writer:
        header = self.params["header"]
        line = (",".join(header) if header is not None else f"time {self.params['time_unit']},value") + "\n"

        def open_segment(uri: str) -> _Segment:
            return _CsvSegment(uri, sample_rate, line, self.params["encoding"], self.params["time_unit"],
                               self.params["serializer"])

        return _ManagedWriter(self, blocks, sample_rate, open_segment)


@register_api()
def to_managed_wav(self: Stream, uri: "str | os.PathLike[str]", bit_depth: "int | str" = 16,
                   suffix: Callable[[Any], str] | None = None) -> ManagedWavOutput:
    """Write a managed stream (``Managed`` elements) into WAV files switched by its signals.

    Parameters
    ----------
    uri : str or os.PathLike
        Base target; each file is named ``<root><suffix(argument)><ext>``.
    bit_depth : {8, 16, 24, 32, "float"}, default 16
        As for :meth:`to_wav`.
    suffix : callable, optional
        ``suffix(argument) -> str``; by default ``""`` for None and ``"-<argument>"`` otherwise.

    Raises
    ------
    InvalidParameterError
        If the stream does not yield Managed elements or the bit depth is unsupported.

    Examples
    --------
    >>> import wavebeans_nb as wb
    >>> from wavebeans_nb import Managed, OutputSignal
    >>> managed = wb.list_input([0.1, 0.2, 0.3, 0.4]).map(
    ...     lambda x: Managed(OutputSignal.FLUSH if x == 0.3 else OutputSignal.NOOP, "b", x),
    ...     element_type=Managed)
    >>> out = managed.to_managed_wav("memory://part.wav")
    >>> with wb.SingleThreadedOverseer(out) as overseer:
    ...     overseer.eval(8000)[0].result().finished
    True
    >>> import fsspec
    >>> sorted(fsspec.filesystem("memory").ls("/", detail=False))  # doctest: +SKIP
    ['/part-b.wav', '/part.wav']
    """
    return ManagedWavOutput(self, uri=uri, bit_depth=bit_depth, suffix=suffix)


@register_api()
def to_managed_csv(self: Stream, uri: "str | os.PathLike[str]", time_unit: str = "ms",
                   header: Sequence[str] | None = None, serializer: Serializer | None = None,
                   suffix: Callable[[Any], str] | None = None, encoding: str = "utf-8") -> ManagedCsvOutput:
    """Write a managed stream into CSV files switched by its signals; rows as :meth:`to_csv`.

    Sample payloads give ``time,value`` rows; other payloads need ``header`` and
    ``serializer(index, sample_rate, payload)``. The index counts elements from
    the start of the stream, including skipped ones, and every file gets the header.
    """
    return ManagedCsvOutput(self, uri=uri, time_unit=time_unit, header=header, serializer=serializer,
                            suffix=suffix, encoding=encoding)
