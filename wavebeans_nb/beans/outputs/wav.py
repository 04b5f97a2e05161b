"""WAV output: ``stream.to_wav(uri, bit_depth=16)`` writes PCM or float WAV files atomically."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import Iterator

import numpy as np
import soundfile as sf

from ...errors import InvalidParameterError, OutputError
from ..base import Stream, register_api
from ..blocks import Block
from ..channels import Frame
from .base import AtomicFile, Output, Writer

__all__ = ["WavOutput", "quantize"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Encoding:
    subtype: str
    bits: int
    integer: bool


_ENCODINGS = {
    8: _Encoding("PCM_U8", 8, True),
    16: _Encoding("PCM_16", 16, True),
    24: _Encoding("PCM_24", 24, True),
    32: _Encoding("PCM_32", 32, True),
    "float": _Encoding("FLOAT", 32, False),
}


def _normalize_bit_depth(bit_depth: "int | float | str") -> "int | str":
    """Return 8, 16, 24, 32 (PCM) or "float" (32-bit IEEE float) for an accepted ``bit_depth``."""
    if isinstance(bit_depth, str) and bit_depth.strip().lower() in ("float", "float32"):
        return "float"
    if isinstance(bit_depth, float) and bit_depth == 32.0:
        return "float"
    if isinstance(bit_depth, (int, np.integer)) and not isinstance(bit_depth, bool) and int(bit_depth) in _ENCODINGS:
        return int(bit_depth)
    raise InvalidParameterError(
        f"WAV bit depth {bit_depth!r} is not supported; pass 8, 16, 24 or 32 for integer PCM, "
        "or 'float' for 32-bit float"
    )


def quantize(samples: np.ndarray, bits: int) -> np.ndarray:
    """Convert samples to integer PCM codes ``rint(x * 2**(bits-1))``, clipped to the code range.

    NaN becomes 0; values beyond ±1 (and ±inf) clip to the largest codes.

    Returns
    -------
    numpy.ndarray
        int16 for 8 and 16 bits, int32 for 24 and 32 bits, same shape as ``samples``.
    """
    full_scale = float(2 ** (bits - 1))
    scaled = np.asarray(samples, dtype=np.float64) * full_scale
    np.rint(scaled, out=scaled)
    np.clip(scaled, -full_scale, full_scale - 1.0, out=scaled)
    scaled[np.isnan(scaled)] = 0.0
    return scaled.astype(np.int16 if bits <= 16 else np.int32)


def _encode(frames: np.ndarray, encoding: _Encoding) -> np.ndarray:
    """Return the array to hand to libsndfile so that it stores exactly our quantised codes.

    libsndfile copies int16 to PCM_16 and int32 to PCM_32 unchanged. For a
    narrower file it keeps the top bits of the integer, so 8-bit codes are
    passed shifted left by 8 in int16, and 24-bit codes shifted left by 8 in int32.
    """
    if not encoding.integer:
        return frames.astype(np.float32)
    codes = quantize(frames, encoding.bits)
    if encoding.bits in (8, 24):
        codes = codes << 8
    return codes


class _WavWriter(Writer):
    def __init__(self, output: "WavOutput", blocks: Iterator[Block], sample_rate: float) -> None:
        super().__init__(output, blocks, sample_rate)
        self._encoding = _ENCODINGS[output.params["bit_depth"]]
        self._file_rate = max(1, int(round(sample_rate)))
        if self._file_rate != sample_rate:
            logger.warning("WAV header stores whole Hz: %g Hz is written as %d Hz", sample_rate, self._file_rate)
        self._channels_hint = getattr(output.input, "channels_count", None)
        self._target = AtomicFile(output.params["uri"], "wb")
        self._sound: sf.SoundFile | None = None

    def _open(self, channels: int) -> sf.SoundFile:
        try:
            self._sound = sf.SoundFile(
                self._target.file.fileno(), mode="w", samplerate=self._file_rate, channels=channels,
                format="WAV", subtype=self._encoding.subtype, closefd=False,
            )
        except sf.LibsndfileError as error:
            raise OutputError(f"cannot write WAV {self.output.params['uri']}: {error.error_string}") from error
        return self._sound

    def _write_block(self, block: Block) -> None:
        if isinstance(block, list):
            # A block of sample vectors: each vector is a run of consecutive samples.
            block = np.concatenate([np.asarray(vector, dtype=np.float64).reshape(-1) for vector in block])
        frames = np.asarray(block, dtype=np.float64)
        if frames.ndim == 1:
            frames = frames.reshape(-1, 1)
        elif frames.ndim != 2:
            raise InvalidParameterError(
                f"to_wav got a block of shape {frames.shape}; it writes samples (1-D) or frames (2-D)"
            )
        sound = self._sound or self._open(frames.shape[1])
        if frames.shape[1] != sound.channels:
            raise InvalidParameterError(
                f"to_wav got a block of {frames.shape[1]} channels after blocks of {sound.channels}; "
                "every block of a stream must have the same channel count"
            )
        sound.write(_encode(frames, self._encoding))

    def _commit(self) -> None:
        # An empty stream still gets a valid WAV header with no frames.
        sound = self._sound or self._open(self._channels_hint or 1)
        try:
            sound.close()
        except sf.LibsndfileError as error:
            self._target.discard()
            raise OutputError(f"cannot finish WAV {self.output.params['uri']}: {error.error_string}") from error
        self._target.commit()

    def _discard(self) -> None:
        if self._sound is not None and not self._sound.closed:
            try:
                self._sound.close()
            except sf.LibsndfileError:
                logger.debug("closing the partial WAV for %s failed", self.output.params["uri"], exc_info=True)
        self._target.discard()


class WavOutput(Output):
    """Writes a sample stream, or a multichannel stream of frames, to a WAV file.

    The file is written under a temporary name and moved to ``uri`` when the
    writer closes; an aborted run leaves whatever was at ``uri`` before.
    """

    commits_at_end = True

    def __init__(self, input: Stream, *, uri: "str | os.PathLike[str]", bit_depth: "int | str" = 16) -> None:
        if not isinstance(uri, (str, os.PathLike)):
            raise InvalidParameterError(f"WAV output URI {uri!r} is not a string or path; pass a file path or fsspec URI")
        if input.element_type not in (float, Frame, np.ndarray):
            raise InvalidParameterError(
                f"to_wav needs a stream of samples, sample vectors or frames, but {input.label()} yields "
                f"{getattr(input.element_type, '__name__', input.element_type)}; flatten or map it to samples first"
            )
        super().__init__(input, uri=os.fspath(uri), bit_depth=_normalize_bit_depth(bit_depth))

    def label(self) -> str:
        name = os.path.basename(self.params["uri"].rstrip("/")) or self.params["uri"]
        depth = self.params["bit_depth"]
        return f"to_wav({name}, {depth if depth == 'float' else f'{depth}-bit'})"

    def _make_writer(self, blocks: Iterator[Block], sample_rate: float) -> Writer:
        return _WavWriter(self, blocks, sample_rate)


@register_api()
def to_wav(self: Stream, uri: "str | os.PathLike[str]", bit_depth: "int | str" = 16) -> WavOutput:
    """Write the stream to a WAV file.

    Parameters
    ----------
    uri : str or os.PathLike
        Target path or fsspec URI (``file://``, ``memory://``, ...). Its directory must exist.
    bit_depth : {8, 16, 24, 32, "float"}, default 16
        8, 16, 24 and 32 write integer PCM (8-bit WAV is unsigned, as the
        format requires). ``"float"`` (or the float ``32.0``) writes 32-bit
        IEEE float, which keeps values beyond ±1.

    Returns
    -------
    WavOutput
        The output; evaluate it with an overseer.

    Notes
    -----
    PCM codes are ``rint(x * 2**(bits-1))`` clipped to the code range, so
    1.0 becomes the largest code and values beyond ±1 clip instead of
    wrapping around; NaN is written as 0. The header stores the evaluation
    rate rounded to whole Hz. A stream of frames (see :func:`channels`)
    writes one channel per column; a stream of sample vectors writes each
    vector's samples in order. An empty stream writes a valid WAV with no
    frames.

    Raises
    ------
    InvalidParameterError
        If ``bit_depth`` is not supported or the stream does not yield samples or frames.
    OutputError
        At evaluation, if the target cannot be written.

    Examples
    --------
    >>> import wavebeans_nb as wb
    >>> out = wb.sine(440).trim(100).to_wav("memory://sine.wav", bit_depth=24)
    >>> with wb.SingleThreadedOverseer(out) as overseer:
    ...     overseer.eval(8000)[0].result().finished
    True
    """
    return WavOutput(self, uri=uri, bit_depth=bit_depth)
