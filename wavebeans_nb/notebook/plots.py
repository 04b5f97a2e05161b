"""Waveform and spectrogram plots of streams, drawn with matplotlib.

The functions evaluate the stream in the kernel, so the stream must be
finite or be cut with ``seconds``. The samples stay in memory while
plotting: 8 bytes per sample and channel, 8 bytes per FFT bin.
"""

from __future__ import annotations

import contextlib
import logging
from typing import TYPE_CHECKING

import numpy as np

from ..beans.base import Stream
from ..beans.channels import Frame
from ..beans.types import FftBlock, FftSample, as_fft_blocks
from ..errors import InvalidParameterError
from ._evaluation import check_rate, check_seconds, check_stream, join_samples, read_blocks, seconds_to_samples

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["plot_waveform", "plot_spectrogram"]

logger = logging.getLogger(__name__)


def _new_axes(figsize: tuple[float, float]) -> "Axes":
    import matplotlib.pyplot as plt

    _, ax = plt.subplots(figsize=figsize, layout="constrained")
    return ax


def _check_finite_or_cut(stream: Stream, seconds: "float | str | None", function: str) -> None:
    if seconds is None and not stream.is_finite:
        raise InvalidParameterError(
            f"{stream.label()} is infinite (or not known to end), so {function}() cannot plot all of it; "
            "pass seconds=... to plot its beginning, or trim the stream"
        )


def _envelope(times: np.ndarray, values: np.ndarray, max_points: int) -> tuple[np.ndarray, np.ndarray]:
    """Reduce a long signal to the minimum and maximum of each of ``max_points // 2`` buckets.

    Returns the signal unchanged when it has at most ``max_points`` samples.
    Otherwise each bucket gives two points at its start time, its minimum and
    then its maximum, so the line still spans every peak of the signal.
    """
    if len(values) <= max_points:
        return times, values
    buckets = max(1, max_points // 2)
    size = -(-len(values) // buckets)
    starts = np.arange(0, len(values), size)
    lows = np.minimum.reduceat(values, starts)
    highs = np.maximum.reduceat(values, starts)
    return np.repeat(times[starts], 2), np.column_stack([lows, highs]).ravel()


def plot_waveform(stream: Stream, sample_rate: float, seconds: "float | str | None" = None,
                  ax: "Axes | None" = None, *, block_size: int | None = None,
                  max_points: int = 20_000) -> "Axes":
    """Plot the samples of a stream against time in seconds.

    Parameters
    ----------
    stream : Stream
        A stream of samples, or of multichannel frames (``wb.channels(...)``),
        which gives one line per channel.
    sample_rate : float
        Evaluation rate in Hz.
    seconds : float or str, optional
        Plot only the first ``seconds`` (``floor(seconds * sample_rate)``
        samples, as ``trim`` counts them); a string such as ``"250ms"`` also
        works. Required for a stream that is not known to end.
    ax : matplotlib.axes.Axes, optional
        Axes to draw on; by default a new figure.
    block_size : int, optional
        Elements per block while evaluating; the plot does not depend on it.
    max_points : int, default 20000
        Above this many samples per channel, each line shows the minimum and
        maximum of ``max_points // 2`` equal buckets instead of every sample.

    Returns
    -------
    matplotlib.axes.Axes

    Raises
    ------
    InvalidParameterError
        If the stream is not of samples or frames, is infinite and ``seconds``
        is None, or ``seconds`` or ``max_points`` is invalid.
    SampleRateMismatchError
        If the stream reads a file of another sample rate.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import wavebeans_nb as wb
    >>> from wavebeans_nb.notebook import plot_waveform
    >>> ax = plot_waveform(wb.sine(5.0), 100, seconds=1)
    >>> len(ax.lines[0].get_xdata())
    100
    """
    check_stream(stream, "plot_waveform", (float, Frame))
    rate = check_rate(stream, sample_rate)
    if isinstance(max_points, bool) or not isinstance(max_points, int) or max_points < 2:
        raise InvalidParameterError(f"max_points={max_points!r} is invalid; pass a whole number >= 2")
    _check_finite_or_cut(stream, seconds, "plot_waveform")
    limit = None if seconds is None else seconds_to_samples(check_seconds(seconds, "seconds"), rate)
    blocks, _ = read_blocks(stream, rate, limit, block_size)
    samples = join_samples(stream, blocks)
    columns = samples if samples.ndim == 2 else samples[:, np.newaxis]
    times = np.arange(len(samples)) / rate
    if ax is None:
        ax = _new_axes((9.0, 2.8))
    for channel in range(columns.shape[1]):
        x, y = _envelope(times, columns[:, channel], max_points)
        label = f"channel {channel}" if samples.ndim == 2 else stream.label()
        ax.plot(x, y, linewidth=0.8, label=label)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("amplitude")
    ax.set_title(stream.label())
    ax.set_xlim(0.0, max(len(samples), 1) / rate)
    ax.grid(True, alpha=0.3)
    if samples.ndim == 2 and columns.shape[1] > 1:
        ax.legend(loc="upper right")
    return ax


def _read_frames(stream: Stream, rate: float, seconds: "float | str | None",
                 block_size: int | None) -> list[FftBlock]:
    """Evaluate an FFT stream into uniform runs, keeping the frames that start before ``seconds``."""
    limit = None if seconds is None else check_seconds(seconds, "seconds")
    runs: list[FftBlock] = []
    with contextlib.closing(stream.iter_blocks(rate, block_size)) as source:
        for block in source:
            for run in as_fft_blocks(block):
                if limit is None:
                    runs.append(run)
                    continue
                # A frame that starts at sample s is kept when s < seconds * rate.
                first_late = seconds_to_samples(limit, run.sample_rate, round_up=True)
                early = int(np.count_nonzero(run.index * run.step < first_late))
                if early:
                    runs.append(run[:early])
                if early < len(run):
                    return runs
    return runs


def _spectrogram_data(runs: list[FftBlock]) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Return time edges (s), frequency edges (Hz), magnitudes in dB (frames x bins) and the rate."""
    first = runs[0]
    for run in runs[1:]:
        if (run.bin_count, run.sample_rate) != (first.bin_count, first.sample_rate):
            raise InvalidParameterError(
                f"FFT frames change from {first.bin_count} bins at {first.sample_rate:g} Hz to "
                f"{run.bin_count} bins at {run.sample_rate:g} Hz; a spectrogram needs one bin count and rate"
            )
    magnitudes = np.concatenate([run.magnitude() for run in runs])
    starts = np.concatenate([run.index * run.step for run in runs]) / first.sample_rate
    last = runs[-1]
    time_edges = np.append(starts, starts[-1] + last.step / last.sample_rate)
    spacing = first.sample_rate / first.bin_count
    # Bin k is centred on k * spacing Hz.
    frequency_edges = (np.arange(first.bin_count // 2 + 1) - 0.5) * spacing
    return time_edges, frequency_edges, magnitudes, first.sample_rate


def plot_spectrogram(fft_stream: Stream, sample_rate: float, seconds: "float | str | None" = None,
                     ax: "Axes | None" = None, *, block_size: int | None = None, db_range: float = 100.0,
                     colorbar: bool = True, cmap: str = "magma") -> "Axes":
    """Plot the magnitude of an FFT stream as a heat map: frequency in Hz against time in seconds.

    Each frame is a column that starts at its window's start time
    (``index * step / sample_rate``) and is one step wide. Its cells are the
    bins 0 … N/2 − 1, coloured by ``20·log10|X_k|`` in dB without
    normalisation. Values more than ``db_range`` dB below the loudest cell,
    and bins of magnitude 0 (−inf dB), get the colour of the floor.

    Parameters
    ----------
    fft_stream : Stream
        A stream of :class:`~wavebeans_nb.FftSample`, such as
        ``stream.window(1024, 512).window_function("hann").fft(1024)``.
    sample_rate : float
        Evaluation rate in Hz.
    seconds : float or str, optional
        Plot only the frames that start before ``seconds``. Required for a
        stream that is not known to end.
    ax : matplotlib.axes.Axes, optional
        Axes to draw on; by default a new figure.
    block_size : int, optional
        Elements per block while evaluating; the plot does not depend on it.
    db_range : float, default 100
        Dynamic range of the colour scale in dB.
    colorbar : bool, default True
        Add a colour bar labelled in dB next to the axes.
    cmap : str, default "magma"
        Matplotlib colour map.

    Returns
    -------
    matplotlib.axes.Axes
        The heat map is ``ax.collections[0]`` (a QuadMesh).

    Raises
    ------
    InvalidParameterError
        If the stream is not of FFT frames, is infinite and ``seconds`` is
        None, has no frames, changes bin count or rate, or ``db_range`` is not positive.
    SampleRateMismatchError
        If the stream reads a file of another sample rate.
    """
    check_stream(fft_stream, "plot_spectrogram", (FftSample,))
    rate = check_rate(fft_stream, sample_rate)
    if isinstance(db_range, bool) or not isinstance(db_range, (int, float)) or not 0 < db_range < np.inf:
        raise InvalidParameterError(f"db_range={db_range!r} is invalid; pass a positive number of dB such as 80")
    _check_finite_or_cut(fft_stream, seconds, "plot_spectrogram")
    runs = _read_frames(fft_stream, rate, seconds, block_size)
    if not runs:
        raise InvalidParameterError(f"{fft_stream.label()} produced no FFT frames to plot")
    time_edges, frequency_edges, magnitudes, frames_rate = _spectrogram_data(runs)
    finite = magnitudes[np.isfinite(magnitudes)]
    top = float(finite.max()) if finite.size else 0.0
    floor = top - float(db_range)
    levels = np.clip(np.nan_to_num(magnitudes, nan=floor, neginf=floor), floor, None)
    if ax is None:
        ax = _new_axes((9.0, 3.6))
    mesh = ax.pcolormesh(time_edges, frequency_edges, levels.T, shading="flat", cmap=cmap, vmin=floor, vmax=top)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("frequency (Hz)")
    ax.set_ylim(0.0, frames_rate / 2)
    ax.set_title(fft_stream.label())
    if colorbar:
        ax.figure.colorbar(mesh, ax=ax, label="magnitude (dB)")
    return ax
