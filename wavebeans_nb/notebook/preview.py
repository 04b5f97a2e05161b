"""Audio preview of a stream in the notebook, through ``IPython.display.Audio``."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import numpy as np

from ..beans.base import Stream
from ..beans.channels import Frame
from ..errors import InvalidParameterError
from ._evaluation import check_rate, check_seconds, check_stream, join_samples, read_blocks, seconds_to_samples

if TYPE_CHECKING:
    from IPython.display import Audio

__all__ = ["preview"]

logger = logging.getLogger(__name__)


def _known_length(stream: Stream, sample_rate: float) -> int | None:
    try:
        return stream.samples_count(sample_rate)
    except Exception:  # the length is only a hint that lets a too-long stream fail before evaluating
        logger.debug("samples count of %s is unknown", stream.label(), exc_info=True)
        return None


def _too_long(stream: Stream, max_seconds: "float | str", limit: int, rate: float) -> InvalidParameterError:
    endless = "" if stream.is_finite else " (it may be infinite)"
    example = repr(max_seconds) if isinstance(max_seconds, str) else repr(f"{max_seconds}s")
    return InvalidParameterError(
        f"{stream.label()} is longer than max_seconds={max_seconds!r} ({limit} samples at {rate:g} Hz)"
        f"{endless}; trim it, for example stream.trim({example}), or pass a larger max_seconds "
        "(the notebook stores about 235 KB per second of 44.1 kHz stereo)"
    )


def _check_levels(samples: np.ndarray, stream: Stream, normalize: bool) -> float:
    """Return the peak absolute sample, or raise if the samples cannot be played as asked."""
    if not np.all(np.isfinite(samples)):
        raise InvalidParameterError(f"{stream.label()} has NaN or infinite samples, which cannot be played")
    peak = float(np.max(np.abs(samples)))
    if peak > 1.0 and not normalize:
        raise InvalidParameterError(
            f"{stream.label()} reaches {peak:.4g}, outside the playable range [-1, 1]; scale it, "
            f"for example stream * {1 / peak:.3g}, or pass normalize=True to scale the preview"
        )
    return peak


def preview(stream: Stream, sample_rate: float, max_seconds: "float | str" = 30, *,
            block_size: int | None = None, normalize: bool = False) -> "Audio":
    """Evaluate a stream and return an audio player for the notebook.

    The samples are embedded in the notebook as a base64 WAV file of 16-bit
    PCM: ``sample_rate * channels * 2 * 4/3`` bytes per second, about 235 KB
    per second of 44.1 kHz stereo (14 MB per minute). ``max_seconds`` keeps
    a long stream from filling the notebook by mistake.

    Parameters
    ----------
    stream : Stream
        A stream of samples, or of multichannel frames (``wb.channels(left, right)``).
    sample_rate : float
        Evaluation rate in Hz; the WAV header stores it rounded to whole Hz.
    max_seconds : float or str, default 30
        Maximum length in seconds (or a string such as ``"2m"``). A longer
        stream raises instead of being cut short.
    block_size : int, optional
        Elements per block while evaluating; the result does not depend on it.
    normalize : bool, default False
        False plays the samples at their real level, so they must lie in
        [-1, 1]; True scales the loudest sample to full scale.

    Returns
    -------
    IPython.display.Audio
        The WAV bytes are in its ``data`` attribute.

    Raises
    ------
    InvalidParameterError
        If the stream is not of samples or frames, is longer than
        ``max_seconds`` or infinite, is empty, has NaN or infinite samples, or
        exceeds [-1, 1] while ``normalize`` is False.
    SampleRateMismatchError
        If the stream reads a file of another sample rate.

    Examples
    --------
    >>> import wavebeans_nb as wb
    >>> from wavebeans_nb.notebook import preview
    >>> player = preview((wb.sine(440.0) * 0.5).trim("1s"), 8000)
    >>> player.data[:4]
    b'RIFF'
    """
    check_stream(stream, "preview", (float, Frame))
    rate = check_rate(stream, sample_rate)
    limit = seconds_to_samples(check_seconds(max_seconds, "max_seconds"), rate)
    known = _known_length(stream, rate)
    if known is not None and known > limit:
        raise _too_long(stream, max_seconds, limit, rate)
    blocks, more = read_blocks(stream, rate, limit, block_size)
    if more:
        raise _too_long(stream, max_seconds, limit, rate)
    samples = join_samples(stream, blocks)
    if samples.size == 0:
        raise InvalidParameterError(f"{stream.label()} has no samples to play")
    peak = _check_levels(samples, stream, normalize)
    file_rate = max(1, int(round(rate)))
    if file_rate != rate:
        logger.warning("the preview's WAV header stores whole Hz: %g Hz is played at %d Hz", rate, file_rate)
    from IPython.display import Audio

    # IPython expects multichannel audio as (channels, samples).
    data = samples.T if samples.ndim == 2 else samples
    # Normalising silence would divide by a zero peak.
    return Audio(data, rate=file_rate, normalize=normalize and peak > 0)
