"""FFT of window streams, its inverse, and magnitude and phase streams.

``windows.fft(N)`` turns each window of m <= N samples into an FFT frame of N
bins. The window is zero-padded with its centre moved to the start (zero-phase
padding): for ``m2 = m // 2`` the FFT input is ``x[m2:] + [0] * (N - m) + x[:m2]``,
so the phase of a symmetric window's spectrum is not tilted by the padding.
The bins follow numpy's sign convention, ``X_k = Σ x_n e^{-2πi kn/N}``.
"""

from __future__ import annotations

import logging
from typing import Iterator

import numpy as np

from ..errors import InvalidParameterError
from .base import Stream, register_api
from .blocks import Block
from .types import FftBlock, FftSample, SampleVector, Window, WindowBlock, as_fft_blocks, as_window_blocks

__all__ = ["FftStream", "InverseFftStream", "SpectrumValuesStream", "check_bin_count"]

logger = logging.getLogger(__name__)


def check_bin_count(bin_count: int) -> int:
    """Return ``bin_count`` as an int, or raise if it is not a power of 2.

    Raises
    ------
    InvalidParameterError
        If the value is not a whole number that is a power of 2 (1, 2, 4, …).
    """
    valid = not isinstance(bin_count, bool) and isinstance(bin_count, (int, np.integer)) and bin_count >= 1
    if not valid or int(bin_count) & (int(bin_count) - 1):
        raise InvalidParameterError(
            f"FFT bin count {bin_count!r} is not a power of 2; pass for example 512, 1024 or 2048"
        )
    return int(bin_count)


def _known_window_size(stream: Stream) -> int | None:
    """Return the window size the upstream window() bean sets, when the chain shows it."""
    current = stream
    while current is not None and current.element_type is Window:
        if type(current).__name__ == "WindowStream":
            return int(current.params["size"])
        current = current.inputs[0] if current.inputs else None
    return None


def _ordinals_reach(stream: Stream) -> bool:
    """Return True when window ordinals flow unchanged from a window() bean to ``stream``."""
    from .operations import ScalarOperation
    from .window import WindowFunctionStream, WindowStream

    current = stream
    while isinstance(current, (WindowFunctionStream, ScalarOperation)):
        current = current.input
    return isinstance(current, WindowStream) and current.is_samples


def _window_too_long(count: int, bin_count: int) -> InvalidParameterError:
    smallest = 1 << max(0, int(count) - 1).bit_length()
    return InvalidParameterError(
        f"a window of {count} samples does not fit in an FFT of {bin_count} bins; "
        f"use a bin count >= the window size, such as {smallest}"
    )


def _centre_shift(block: WindowBlock, bin_count: int) -> np.ndarray:
    """Return the zero-phase padded FFT input of every window, shape ``(n, bin_count)``."""
    counts = block.counts
    data = block.data
    first = int(counts[0])
    if (counts == first).all():
        groups = [(first, slice(None))]
    else:
        groups = [(int(m), counts == m) for m in np.unique(counts)]
    buffer = np.zeros((len(block), bin_count))
    for m, rows in groups:
        half = m // 2
        buffer[rows, : m - half] = data[rows, half:m]
        if half:
            buffer[rows, bin_count - half:] = data[rows, :half]
    return buffer


def _zero_phase_rfft(block: WindowBlock, bin_count: int) -> np.ndarray:
    """Return bins 0 … N/2 of every window's zero-phase FFT, shape ``(n, bin_count // 2 + 1)``.

    Real input: rfft returns bins 0 … N/2, the rest follow by conjugate symmetry.
    """
    full = block.counts == bin_count
    if block.data.shape[1] == bin_count and full.all():
        return _half_turn_rfft(block.data)
    bins = np.fft.rfft(_centre_shift(block, bin_count), axis=1)
    if block.data.shape[1] == bin_count and full.any():
        # Full windows take the same path in every block, so results never depend on the block size.
        bins[full] = _half_turn_rfft(block.data[full])
    return bins


def _half_turn_rfft(data: np.ndarray) -> np.ndarray:
    """Return the rfft of full windows rotated by N/2 samples, without building the rotated copy.

    Rotating N samples by N/2 multiplies bin k by ``exp(iπk) = (-1)^k``, and a
    sign change is exact in floating point.
    """
    bins = np.fft.rfft(data, axis=1)
    bins[:, 1::2] *= -1.0
    return bins


class FftStream(Stream):
    """FFT frames of a window stream: one :class:`FftSample` of N bins per window."""

    element_type = FftSample

    def __init__(self, input: Stream, *, bin_count: int) -> None:
        bin_count = check_bin_count(bin_count)
        size = _known_window_size(input)
        if size is not None and size > bin_count:
            raise _window_too_long(size, bin_count)
        super().__init__(input, bin_count=bin_count)
        # Frames are numbered by their window's ordinal. Where every bean between
        # window() and here keeps the ordinals, the FFT is element-wise and may run
        # partitioned; otherwise it counts windows itself and must see them all in order.
        self.partitionable = _ordinals_reach(input)

    def label(self) -> str:
        return f"fft({self.params['bin_count']})"

    def samples_count(self, sample_rate: float) -> int | None:
        return self.input.samples_count(sample_rate)

    def _blocks(self, sample_rate: float, block_size: int) -> Iterator[Block]:
        rate = self.rate_for(sample_rate)
        bin_count = self.params["bin_count"]
        next_index = 0
        for block in self.input.iter_blocks(rate, block_size):
            frames = []
            for run in as_window_blocks(block):
                if run.index is not None:
                    index = run.index
                elif self.partitionable:
                    raise InvalidParameterError(
                        f"{self.label()} received windows without their ordinals; "
                        "this is a bug in the bean between window() and fft()"
                    )
                else:
                    index = np.arange(next_index, next_index + len(run), dtype=np.int64)
                frames.append(self._transform(run, index, rate))
                next_index += len(run)
            yield frames[0] if len(frames) == 1 else FftBlock.concat(frames)

    def _transform(self, block: WindowBlock, index: np.ndarray, sample_rate: float) -> FftBlock:
        bin_count = self.params["bin_count"]
        if not block.is_samples:
            raise InvalidParameterError("fft() needs windows of samples; window a sample stream first")
        longest = int(block.counts.max())
        if longest > bin_count:
            raise _window_too_long(longest, bin_count)
        bins = _zero_phase_rfft(block, bin_count)
        return FftBlock(bins, index, block.counts, bin_count, block.step, sample_rate, block.size, onesided=True)


class InverseFftStream(Stream):
    """Windows restored from FFT frames: the inverse FFT with the zero-phase shift undone.

    A frame of a window with m samples gives back a window of m elements, with
    the source window's size and step.
    """

    element_type = Window
    partitionable = True
    item_type = float

    def __init__(self, input: Stream) -> None:
        super().__init__(input)

    def label(self) -> str:
        return "inverse_fft"

    def samples_count(self, sample_rate: float) -> int | None:
        return self.input.samples_count(sample_rate)

    def _blocks(self, sample_rate: float, block_size: int) -> Iterator[Block]:
        for block in self.input.iter_blocks(self.rate_for(sample_rate), block_size):
            runs = [self._inverse(run) for run in as_fft_blocks(block)]
            yield runs[0] if len(runs) == 1 else WindowBlock.concat(runs)

    @staticmethod
    def _inverse(block: FftBlock) -> WindowBlock:
        n = block.bin_count
        if block.onesided:
            signal = np.fft.irfft(block.bins, n=n, axis=1)
        else:
            signal = np.fft.ifft(block.bins, axis=1).real
        size = max(block.window_size, int(block.counts.max()))
        data = np.zeros((len(block), size))
        for m in np.unique(block.counts).tolist():
            rows = block.counts == m
            half = m // 2
            if half:
                data[rows, :half] = signal[rows, n - half:]
            data[rows, half:m] = signal[rows, : m - half]
        return WindowBlock(data, block.counts, size, block.step, 0.0)


class SpectrumValuesStream(Stream):
    """Per frame, the magnitude in dB or the phase in radians of bins 0 … N/2 − 1, as sample vectors."""

    element_type = SampleVector
    partitionable = True

    def __init__(self, input: Stream, *, kind: str = "magnitude") -> None:
        if kind not in ("magnitude", "phase"):
            raise InvalidParameterError(f"spectrum value kind {kind!r} is unknown; use 'magnitude' or 'phase'")
        super().__init__(input, kind=kind)

    def label(self) -> str:
        return self.params["kind"]

    def samples_count(self, sample_rate: float) -> int | None:
        return self.input.samples_count(sample_rate)

    def _blocks(self, sample_rate: float, block_size: int) -> Iterator[Block]:
        kind = self.params["kind"]
        for block in self.input.iter_blocks(self.rate_for(sample_rate), block_size):
            rows: list = []
            for run in as_fft_blocks(block):
                values = run.magnitude() if kind == "magnitude" else run.phase()
                rows.extend(values)
            yield rows


# -- fluent API -----------------------------------------------------------------------


@register_api()
def fft(self: Stream, bin_count: int) -> FftStream:
    """Compute the FFT of every window.

    Parameters
    ----------
    bin_count : int
        FFT size N in bins; a power of 2 and at least the window size.

    Returns
    -------
    Stream
        One :class:`~wavebeans_nb.beans.types.FftSample` per window, with the
        window's index, element count, step and the sample rate.

    Raises
    ------
    InvalidParameterError
        If N is not a power of 2, or a window has more than N samples (raised
        when the stream is built if the window size is known, otherwise when the
        window arrives).

    Examples
    --------
    >>> import wavebeans_nb as wb
    >>> frame = next(wb.list_input([1.0, 2.0, 3.0, 4.0]).window(4).fft(4).elements(4))
    >>> frame.bins.tolist()  # numpy.fft.fft of the centre-shifted [3, 4, 1, 2]
    [(10+0j), (2-2j), (-2+0j), (2+2j)]
    """
    return FftStream(self, bin_count=bin_count)


@register_api()
def inverse_fft(self: Stream) -> InverseFftStream:
    """Turn FFT frames back into windows of samples (the exact inverse of :meth:`fft`)."""
    return InverseFftStream(self)


@register_api()
def magnitude(self: Stream) -> SpectrumValuesStream:
    """Return per FFT frame the magnitudes ``20·log10|X_k|`` in dB of bins 0 … N/2 − 1, as sample vectors."""
    return SpectrumValuesStream(self, kind="magnitude")


@register_api()
def phase(self: Stream) -> SpectrumValuesStream:
    """Return per FFT frame the phases ``angle(X_k)`` in radians of bins 0 … N/2 − 1, as sample vectors."""
    return SpectrumValuesStream(self, kind="phase")
