"""Element types beyond plain samples: windows, FFT frames, sample vectors and managed payloads.

Each element type has a batched block form (:class:`WindowBlock`,
:class:`FftBlock`) that keeps many elements in 2-D numpy arrays, so that a
window -> window function -> FFT chain runs as a few array operations per
block. The element classes (:class:`Window`, :class:`FftSample`) are what a
user function sees when it works element by element.

A *sample vector* is a 1-D float64 numpy array used as one element; the
helpers here build and combine them.
"""

from __future__ import annotations

import enum
import numbers
import operator
from typing import Any, Callable, Iterable, Iterator, Sequence

import numpy as np

from ..errors import InvalidParameterError
from .measure import measure
from .timeunit import samples_to_length

__all__ = [
    "Window", "WindowBlock", "FftSample", "FftBlock", "SampleVector", "sample_vector",
    "combine_vectors", "vector_to_window", "OutputSignal", "Managed", "with_output_signal",
    "as_window_blocks", "as_fft_blocks",
]

#: Element type of streams of sample vectors (1-D float64 arrays).
SampleVector = np.ndarray


def _is_real(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _same_zero(a: Any, b: Any) -> bool:
    if a is b:
        return True
    if _is_real(a) and _is_real(b):
        return float(a) == float(b)
    return False


def _check_positive(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise InvalidParameterError(f"window {name} {value!r} is invalid; pass a whole number >= 1")
    return int(value)


# -- sample vectors ---------------------------------------------------------------


def sample_vector(values: "Iterable[float] | Window") -> np.ndarray:
    """Return ``values`` as a sample vector (a new 1-D float64 array).

    A window gives its elements only, so a partial window gives a shorter vector.
    """
    if isinstance(values, Window):
        values = values.elements
    try:
        return np.array(values, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError) as error:
        raise InvalidParameterError(
            f"sample vector values {_short_repr(values)} are not numbers ({error}); pass a list or array of floats"
        ) from None


def _short_repr(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def combine_vectors(a: np.ndarray | None, b: np.ndarray | None,
                    fn: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> np.ndarray | None:
    """Apply ``fn`` element-wise to two sample vectors of possibly different lengths.

    The result is as long as the longer vector; missing positions and a None
    side count as 0.0, and division follows IEEE (x/0 is ±inf, 0/0 is NaN).
    Returns None only when both sides are None.
    """
    if a is None and b is None:
        return None
    length = max(0 if a is None else len(a), 0 if b is None else len(b))
    left = np.zeros(length)
    right = np.zeros(length)
    if a is not None:
        left[: len(a)] = a
    if b is not None:
        right[: len(b)] = b
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.asarray(fn(left, right), dtype=np.float64)


def vector_to_window(vector: np.ndarray, step: int | None = None) -> "Window":
    """Return a sample window whose size is the vector's length and whose step is ``step`` (default the size)."""
    vector = sample_vector(vector)
    return Window(len(vector), step or len(vector), vector, 0.0)


# -- windows ------------------------------------------------------------------------


class Window:
    """A window of consecutive stream elements.

    Attributes
    ----------
    size : int
        Number of elements in a full window (>= 1).
    step : int
        Distance in elements from the start of this window to the start of the next (>= 1).
    elements : numpy.ndarray or list
        The elements, at most ``size`` of them (fewer for partial windows at the
        end of a stream). Sample windows store a 1-D float64 array.
    zero : object
        The element that pads the window to ``size`` when windows are combined
        or flattened; 0.0 for samples.

    Equality compares size, step and elements; the zero element is ignored.
    A window stands for ``step`` samples times the measure of its first element.
    """

    __slots__ = ("size", "step", "elements", "zero")

    def __init__(self, size: int, step: int, elements: Sequence[Any], zero: Any = 0.0) -> None:
        self.size = _check_positive("size", size)
        self.step = _check_positive("step", step)
        if isinstance(elements, np.ndarray) and elements.dtype.kind in "biuf":
            elements = elements.astype(np.float64, copy=False)
        elif _is_real(zero) and not isinstance(elements, np.ndarray) and all(_is_real(e) for e in elements):
            elements = np.asarray(elements, dtype=np.float64)
        elif isinstance(elements, np.ndarray) and elements.dtype == object:
            elements = list(elements)
        if len(elements) == 0:
            raise InvalidParameterError("a window needs at least one element")
        self.elements = elements
        self.zero = zero

    @classmethod
    def of_samples(cls, size: int, step: int, values: Iterable[float]) -> "Window":
        """Build a sample window with zero element 0.0."""
        return cls(size, step, np.asarray(list(values) if not isinstance(values, np.ndarray) else values,
                                          dtype=np.float64), 0.0)

    @property
    def is_samples(self) -> bool:
        """True when the elements are samples (a float64 array)."""
        return isinstance(self.elements, np.ndarray)

    def measure(self) -> int:
        """Return the number of samples the window stands for: ``step`` times its first element's measure."""
        return self.step * measure(self.elements[0])

    def padded(self) -> list | np.ndarray:
        """Return the elements padded with the zero element up to ``size``."""
        missing = self.size - len(self.elements)
        if missing <= 0:
            return self.elements
        if self.is_samples:
            return np.concatenate([self.elements, np.full(missing, float(self.zero))])
        return list(self.elements) + [self.zero] * missing

    def merge(self, other: "Window | None", fn: Callable[[Any, Any], Any]) -> "Window":
        """Combine with another window of the same size and step, element by element.

        Both windows are padded to ``size`` with the zero element (None counts as
        all zeros), so the result always has ``size`` elements.

        Raises
        ------
        InvalidParameterError
            If the other window has a different size or step.
        """
        if other is not None and (other.size != self.size or other.step != self.step):
            raise InvalidParameterError(
                f"cannot merge a window of size {self.size} step {self.step} with one of size "
                f"{other.size} step {other.step}; window both streams with the same size and step"
            )
        mine = self.padded()
        theirs = other.padded() if other is not None else [self.zero] * self.size
        if self.is_samples:
            with np.errstate(divide="ignore", invalid="ignore"):
                values = fn(np.asarray(mine, dtype=np.float64), np.asarray(theirs, dtype=np.float64))
        else:
            values = [fn(x, y) for x, y in zip(mine, theirs)]
        return Window(self.size, self.step, values, self.zero)

    def to_vector(self) -> np.ndarray:
        """Return the elements as a sample vector (a copy)."""
        return sample_vector(self)

    @staticmethod
    def block_from_elements(elements: list["Window"]) -> "WindowBlock | list":
        """Return the batched form of a list of windows (a plain list when sizes or steps differ)."""
        return WindowBlock.from_windows(elements)

    def __len__(self) -> int:
        return len(self.elements)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Window):
            return NotImplemented
        if self.size != other.size or self.step != other.step or len(self.elements) != len(other.elements):
            return False
        if self.is_samples and other.is_samples:
            return bool(np.array_equal(self.elements, other.elements))
        return list(self.elements) == list(other.elements)

    __hash__ = None  # windows are mutable containers

    def __repr__(self) -> str:
        shown = self.elements.tolist() if self.is_samples else list(self.elements)
        return f"Window(size={self.size}, step={self.step}, elements={shown})"


class WindowBlock:
    """Many windows of one size and step, batched in a 2-D array.

    Attributes
    ----------
    data : numpy.ndarray
        Shape ``(n_windows, size)``; float64 for sample windows, object otherwise.
        Row ``i`` contains window ``i``'s elements followed by the zero element.
    counts : numpy.ndarray
        int64, shape ``(n_windows,)``: the number of elements in each window
        (``size`` for full windows, fewer for partial ones).
    size, step : int
        Window size and step in elements.
    zero : object
        Zero element used for padding.
    index : numpy.ndarray or None
        int64, shape ``(n_windows,)``: each window's ordinal in the stream
        (window k starts at sample k·step), or None when the windows were
        rebuilt from elements and the ordinal is not known. Carrying it lets
        the FFT number its frames without counting, so it can run partitioned.
    """

    element_type = Window

    def __init__(self, data: np.ndarray, counts: np.ndarray, size: int, step: int, zero: Any = 0.0,
                 index: np.ndarray | None = None) -> None:
        self.data = data
        self.counts = np.asarray(counts, dtype=np.int64)
        self.size = int(size)
        self.step = int(step)
        self.zero = zero
        self.index = None if index is None else np.asarray(index, dtype=np.int64)

    # -- construction -------------------------------------------------------------

    @classmethod
    def from_windows(cls, windows: list[Window]) -> "WindowBlock | list":
        """Batch windows of one size, step and zero element; return a list when they differ."""
        if not windows:
            return []
        first = windows[0]
        uniform = all(
            w.size == first.size and w.step == first.step and w.is_samples == first.is_samples
            and _same_zero(w.zero, first.zero) and len(w.elements) <= w.size
            for w in windows
        )
        if not uniform:
            return list(windows)
        counts = np.fromiter((len(w.elements) for w in windows), dtype=np.int64, count=len(windows))
        if first.is_samples:
            data = np.full((len(windows), first.size), float(first.zero))
            for row, window in enumerate(windows):
                data[row, : len(window.elements)] = window.elements
        else:
            data = _object_rows(len(windows), first.size, first.zero)
            for row, window in enumerate(windows):
                for column, element in enumerate(window.elements):
                    data[row, column] = element
        return cls(data, counts, first.size, first.step, first.zero)

    @property
    def is_samples(self) -> bool:
        """True when the windows contain samples."""
        return self.data.dtype != object

    def __reduce__(self) -> tuple:
        # Overlapping sample windows are usually a strided view of one run of samples (see
        # WindowStream). Pickling the view would copy every sample size/step times over, so
        # such a block travels as that run of samples and is rebuilt as a view on arrival.
        span = _overlapping_span(self.data, self.step)
        if span is None:
            return WindowBlock, (self.data, self.counts, self.size, self.step, self.zero, self.index)
        return _windows_from_span, (span, len(self), self.counts, self.size, self.step, self.zero, self.index)

    def with_data(self, data: np.ndarray, counts: np.ndarray | None = None) -> "WindowBlock":
        """Return a block with the same size, step, zero element and ordinals, and new data."""
        return WindowBlock(data, self.counts if counts is None else counts, self.size, self.step, self.zero,
                           self.index)

    # -- block protocol -------------------------------------------------------------

    def __len__(self) -> int:
        return len(self.counts)

    def __getitem__(self, index: slice) -> "WindowBlock":
        if not isinstance(index, slice):
            raise TypeError("window blocks support slicing only; use elements() for single windows")
        sliced = WindowBlock(self.data[index], self.counts[index], self.size, self.step, self.zero,
                             None if self.index is None else self.index[index])
        return sliced

    @classmethod
    def concat(cls, blocks: list["WindowBlock | list"]) -> "WindowBlock | list":
        """Join blocks in order; windows of different sizes or steps give a plain list."""
        first = blocks[0]
        same = all(
            isinstance(b, WindowBlock) and b.size == first.size and b.step == first.step
            and b.is_samples == first.is_samples and _same_zero(b.zero, first.zero)
            for b in blocks
        )
        if same:
            indexed = all(b.index is not None for b in blocks)
            return WindowBlock(np.concatenate([b.data for b in blocks]),
                               np.concatenate([b.counts for b in blocks]), first.size, first.step, first.zero,
                               np.concatenate([b.index for b in blocks]) if indexed else None)
        joined: list = []
        for block in blocks:
            joined.extend(block.elements() if isinstance(block, WindowBlock) else block)
        return joined

    def elements(self) -> Iterator[Window]:
        """Yield the windows one by one (copies of the rows)."""
        for row, count in zip(self.data, self.counts.tolist()):
            if self.is_samples:
                yield Window(self.size, self.step, row[:count].copy(), self.zero)
            else:
                yield Window(self.size, self.step, list(row[:count]), self.zero)

    def measures(self) -> np.ndarray:
        """Return the sample count of each window: ``step`` times the measure of its first element."""
        if self.is_samples:
            return np.full(len(self), self.step, dtype=np.int64)
        return np.fromiter((self.step * measure(row[0]) for row in self.data), dtype=np.int64, count=len(self))

    # -- arithmetic -----------------------------------------------------------------

    def _padding_mask(self, counts: np.ndarray | None = None) -> np.ndarray:
        counts = self.counts if counts is None else counts
        return np.arange(self.size)[None, :] >= counts[:, None]

    def apply_scalar(self, fn: Callable[[Any, Any], Any], scalar: float, reverse: bool) -> "WindowBlock":
        """Apply ``x op scalar`` (or ``scalar op x``) to the existing elements; padding stays zero."""
        if self.is_samples:
            data = fn(scalar, self.data) if reverse else fn(self.data, scalar)
            data = np.where(self._padding_mask(), float(self.zero), data)
            return self.with_data(data)
        data = self.data.copy()
        for row, count in enumerate(self.counts.tolist()):
            for column in range(count):
                value = data[row, column]
                data[row, column] = fn(scalar, value) if reverse else fn(value, scalar)
        return self.with_data(data)

    def _check_compatible(self, other: "WindowBlock") -> None:
        if other.size != self.size or other.step != self.step:
            raise InvalidParameterError(
                f"cannot combine windows of size {self.size} step {self.step} with windows of size "
                f"{other.size} step {other.step}; window both streams with the same size and step"
            )

    def combine(self, other: "WindowBlock | list", fn: Callable[[Any, Any], Any]) -> "WindowBlock":
        """Combine window ``i`` of this block with window ``i`` of ``other``, element by element.

        The result window has as many elements as the longer of the two,
        and a missing position counts as the zero element.
        """
        if not isinstance(other, WindowBlock):
            other = WindowBlock.from_windows(list(other))
            if not isinstance(other, WindowBlock):
                raise InvalidParameterError("cannot combine with windows of mixed sizes or steps")
        self._check_compatible(other)
        counts = np.maximum(self.counts, other.counts)
        if self.is_samples and other.is_samples:
            data = fn(self.data, other.data)
            return self.with_data(np.where(self._padding_mask(counts), float(self.zero), data), counts)
        data = _object_rows(len(self), self.size, self.zero)
        for row, count in enumerate(counts.tolist()):
            for column in range(count):
                data[row, column] = fn(self.data[row, column], other.data[row, column])
        return self.with_data(data, counts)

    @staticmethod
    def combine_partial(a: "WindowBlock | None", b: "WindowBlock | None",
                        fn: Callable[[Any, Any], Any]) -> "WindowBlock":
        """Combine where one side ended: the ended side counts as windows of zero elements.

        When the divisor of a division has ended, the result windows are all zero,
        as for sample streams.
        """
        reference = a if a is not None else b
        if a is not None and b is not None:
            a._check_compatible(b)
        n = max(len(a) if a is not None else 0, len(b) if b is not None else 0)
        left = _extend_with_empty(a, reference, n)
        right = _extend_with_empty(b, reference, n)
        result = left.combine(right, fn)
        if fn is operator.truediv:
            ended = len(b) if b is not None else 0
            result.data[ended:] = result.zero
        return result


def _overlapping_span(data: np.ndarray, step: int) -> np.ndarray | None:
    """Return the 1-D run of samples that ``data`` views as overlapping windows, or None.

    ``data`` qualifies when it is a float64 array of shape ``(n, size)`` whose
    rows start ``step`` samples apart in memory (``step < size``). The run
    covers ``(n - 1) * step + size`` samples; all of them lie between the
    first and the last element of ``data``, so they belong to its buffer.
    """
    if data.dtype != np.float64 or data.ndim != 2 or len(data) == 0:
        return None
    n, size = data.shape
    item = data.itemsize
    if not 0 < step < size or data.strides != (step * item, item):
        return None
    return np.lib.stride_tricks.as_strided(data, shape=((n - 1) * step + size,), strides=(item,), writeable=False)


def _windows_from_span(span: np.ndarray, n: int, counts: np.ndarray, size: int, step: int, zero: Any,
                       index: np.ndarray | None) -> WindowBlock:
    """Rebuild a pickled window block from its run of samples (see ``WindowBlock.__reduce__``)."""
    data = np.lib.stride_tricks.sliding_window_view(span, size)[::step][:n]
    return WindowBlock(data, counts, size, step, zero, index)


def _object_rows(n: int, size: int, zero: Any) -> np.ndarray:
    data = np.empty((n, size), dtype=object)
    data.fill(zero)
    return data


def _extend_with_empty(block: WindowBlock | None, reference: WindowBlock, n: int) -> WindowBlock:
    """Pad ``block`` to ``n`` windows with windows of no elements (all zero element)."""
    have = 0 if block is None else len(block)
    if have == n:
        return block
    if reference.is_samples:
        extra = np.full((n - have, reference.size), float(reference.zero))
    else:
        extra = _object_rows(n - have, reference.size, reference.zero)
    empty = reference.with_data(extra, np.zeros(n - have, dtype=np.int64))
    return empty if block is None else WindowBlock.concat([block, empty])


def as_window_blocks(block: Any) -> list[WindowBlock]:
    """Return a window block, or a list of windows, as runs of uniform :class:`WindowBlock`."""
    if isinstance(block, WindowBlock):
        return [block]
    runs: list[WindowBlock] = []
    pending: list[Window] = []
    for window in block:
        if not isinstance(window, Window):
            raise InvalidParameterError(
                f"expected windows but got a {type(window).__name__}; call window() before this operation"
            )
        if pending and not isinstance(WindowBlock.from_windows([pending[0], window]), WindowBlock):
            runs.append(WindowBlock.from_windows(pending))
            pending = []
        pending.append(window)
    if pending:
        runs.append(WindowBlock.from_windows(pending))
    return runs


# -- FFT frames ---------------------------------------------------------------------


class FftSample:
    """The spectrum of one window.

    Attributes
    ----------
    index : int
        Position of the window in the stream: 0, 1, 2, …
    bin_count : int
        FFT size N, a power of 2.
    samples_count : int
        Number of samples the source window held (m <= N).
    samples_length : int
        The source window's step in samples; the frame stands for that many samples.
    sample_rate : float
        Sample rate in Hz of the source stream.
    bins : numpy.ndarray
        N complex128 values, numpy's sign convention ``X_k = Σ x_n e^{-2πi kn/N}``.
    window_size : int
        The source window's size, so that :meth:`~wavebeans_nb.Stream.inverse_fft`
        restores partial windows with their original size (defaults to ``samples_count``).
    """

    __slots__ = ("index", "bin_count", "samples_count", "samples_length", "sample_rate", "bins", "window_size")

    def __init__(self, index: int, bin_count: int, samples_count: int, samples_length: int,
                 sample_rate: float, bins: np.ndarray, window_size: int | None = None) -> None:
        self.index = int(index)
        self.bin_count = int(bin_count)
        self.samples_count = int(samples_count)
        self.samples_length = int(samples_length)
        self.sample_rate = float(sample_rate)
        self.bins = np.asarray(bins, dtype=np.complex128)
        self.window_size = int(window_size) if window_size is not None else self.samples_count
        if self.bins.shape != (self.bin_count,):
            raise InvalidParameterError(
                f"an FFT frame of {self.bin_count} bins got {self.bins.shape[0]} values; pass exactly bin_count values"
            )

    def magnitude(self) -> np.ndarray:
        """Return ``20·log10|X_k|`` in dB for k = 0 … N/2−1 (no normalisation; |X| = 0 gives −inf)."""
        with np.errstate(divide="ignore"):
            return 20.0 * np.log10(np.abs(self.bins[: self.bin_count // 2]))

    def phase(self) -> np.ndarray:
        """Return the phase ``angle(X_k)`` in radians, in (−π, π], for k = 0 … N/2−1."""
        return np.angle(self.bins[: self.bin_count // 2])

    def frequency(self) -> np.ndarray:
        """Return the bin frequencies ``k · sample_rate / N`` in Hz for k = 0 … N/2−1."""
        return np.arange(self.bin_count // 2) * (self.sample_rate / self.bin_count)

    def bin(self, frequency: float) -> int:
        """Return the index of the bin nearest to ``frequency`` Hz, at most N."""
        return int(min(self.bin_count, np.rint(frequency / self.sample_rate * self.bin_count)))

    def time(self) -> int:
        """Return the start time of the frame's window in ns: ``index · step / sample_rate``, exact, truncated to whole ns."""
        return samples_to_length(self.index * self.samples_length, self.sample_rate, "ns")

    def measure(self) -> int:
        """Return the number of samples the frame stands for: the window step."""
        return self.samples_length

    @staticmethod
    def block_from_elements(elements: list["FftSample"]) -> "FftBlock | list":
        """Return the batched form of a list of frames (a plain list when their shapes differ)."""
        return FftBlock.from_frames(elements)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, FftSample):
            return NotImplemented
        return (
            (self.index, self.bin_count, self.samples_count, self.samples_length, self.window_size)
            == (other.index, other.bin_count, other.samples_count, other.samples_length, other.window_size)
            and self.sample_rate == other.sample_rate
            and bool(np.array_equal(self.bins, other.bins))
        )

    __hash__ = None

    def __repr__(self) -> str:
        return (f"FftSample(index={self.index}, bin_count={self.bin_count}, samples_count={self.samples_count}, "
                f"samples_length={self.samples_length}, sample_rate={self.sample_rate:g})")


class FftBlock:
    """Many FFT frames of one bin count, step and sample rate, batched in a 2-D array.

    Attributes
    ----------
    bins : numpy.ndarray
        complex128, shape ``(n_frames, N)``, or ``(n_frames, N // 2 + 1)`` when
        ``onesided`` is True: frames of real windows are Hermitian, so only the
        non-negative frequencies are stored (as ``numpy.fft.rfft`` returns them).
    index, counts : numpy.ndarray
        int64 frame indices and source window element counts, shape ``(n_frames,)``.
    bin_count, step, window_size : int
        FFT size N, window step and window size in samples.
    sample_rate : float
        Sample rate in Hz.
    onesided : bool
        Whether ``bins`` contains only bins 0 … N/2.
    """

    element_type = FftSample

    def __init__(self, bins: np.ndarray, index: np.ndarray, counts: np.ndarray, bin_count: int, step: int,
                 sample_rate: float, window_size: int, onesided: bool = False) -> None:
        self.bins = bins
        self.index = np.asarray(index, dtype=np.int64)
        self.counts = np.asarray(counts, dtype=np.int64)
        self.bin_count = int(bin_count)
        self.step = int(step)
        self.sample_rate = float(sample_rate)
        self.window_size = int(window_size)
        self.onesided = bool(onesided)

    @classmethod
    def from_frames(cls, frames: list[FftSample]) -> "FftBlock | list":
        """Batch frames that share bin count, step, rate and window size; return a list otherwise."""
        if not frames:
            return []
        first = frames[0]
        key = (first.bin_count, first.samples_length, first.sample_rate, first.window_size)
        if any((f.bin_count, f.samples_length, f.sample_rate, f.window_size) != key for f in frames):
            return list(frames)
        return cls(
            np.stack([f.bins for f in frames]),
            np.fromiter((f.index for f in frames), dtype=np.int64, count=len(frames)),
            np.fromiter((f.samples_count for f in frames), dtype=np.int64, count=len(frames)),
            first.bin_count, first.samples_length, first.sample_rate, first.window_size,
        )

    def _like(self, bins: np.ndarray, index: np.ndarray, counts: np.ndarray, onesided: bool) -> "FftBlock":
        return FftBlock(bins, index, counts, self.bin_count, self.step, self.sample_rate, self.window_size, onesided)

    def full_bins(self) -> np.ndarray:
        """Return all N bins of every frame, shape ``(n_frames, N)``."""
        if not self.onesided:
            return self.bins
        n = self.bin_count
        full = np.empty((len(self), n), dtype=np.complex128)
        full[:, : n // 2 + 1] = self.bins[:, : n // 2 + 1]
        if n > 2:
            full[:, n // 2 + 1:] = np.conj(self.bins[:, 1: (n + 1) // 2][:, ::-1])
        return full

    def half_bins(self) -> np.ndarray:
        """Return bins 0 … N/2 − 1 of every frame, shape ``(n_frames, N // 2)`` (a view when possible)."""
        return self.bins[:, : self.bin_count // 2]

    def magnitude(self) -> np.ndarray:
        """Return ``20·log10|X_k|`` in dB for k < N/2, shape ``(n_frames, N // 2)``."""
        with np.errstate(divide="ignore"):
            return 20.0 * np.log10(np.abs(self.half_bins()))

    def phase(self) -> np.ndarray:
        """Return ``angle(X_k)`` in radians for k < N/2, shape ``(n_frames, N // 2)``."""
        return np.angle(self.half_bins())

    def frequency(self) -> np.ndarray:
        """Return the frequencies of bins 0 … N/2 − 1 in Hz."""
        return np.arange(self.bin_count // 2) * (self.sample_rate / self.bin_count)

    def times(self, unit: str = "ns") -> list[int]:
        """Return each frame's start time in ``unit``, exact and truncated toward zero."""
        return [samples_to_length(i * self.step, self.sample_rate, unit) for i in self.index.tolist()]

    # -- block protocol -------------------------------------------------------------

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, index: slice) -> "FftBlock":
        if not isinstance(index, slice):
            raise TypeError("FFT blocks support slicing only; use elements() for single frames")
        return self._like(self.bins[index], self.index[index], self.counts[index], self.onesided)

    def _key(self) -> tuple:
        return (self.bin_count, self.step, self.sample_rate, self.window_size)

    @classmethod
    def concat(cls, blocks: list["FftBlock | list"]) -> "FftBlock | list":
        """Join blocks in order; frames of different shapes give a plain list."""
        first = blocks[0]
        if all(isinstance(b, FftBlock) and b._key() == first._key() for b in blocks):
            onesided = all(b.onesided for b in blocks)
            bins = [b.bins if onesided else b.full_bins() for b in blocks]
            return first._like(np.concatenate(bins), np.concatenate([b.index for b in blocks]),
                               np.concatenate([b.counts for b in blocks]), onesided)
        joined: list = []
        for block in blocks:
            joined.extend(block.elements() if isinstance(block, FftBlock) else block)
        return joined

    def elements(self) -> Iterator[FftSample]:
        """Yield the frames one by one."""
        full = self.full_bins()
        for row, index, count in zip(full, self.index.tolist(), self.counts.tolist()):
            yield FftSample(index, self.bin_count, count, self.step, self.sample_rate, row.copy(), self.window_size)

    def measures(self) -> np.ndarray:
        """Return the sample count of each frame: the window step."""
        return np.full(len(self), self.step, dtype=np.int64)

    # -- arithmetic -----------------------------------------------------------------
    # A real scalar keeps a Hermitian spectrum Hermitian, so one-sided storage survives.

    def apply_scalar(self, fn: Callable[[Any, Any], Any], scalar: float, reverse: bool) -> "FftBlock":
        """Apply ``X op scalar`` (or ``scalar op X``) to every bin."""
        bins = fn(scalar, self.bins) if reverse else fn(self.bins, scalar)
        return self._like(bins, self.index, self.counts, self.onesided)

    def combine(self, other: "FftBlock | list", fn: Callable[[Any, Any], Any]) -> "FftBlock":
        """Combine frame ``i`` with frame ``i`` of ``other``, bin by bin; indices come from this block."""
        if not isinstance(other, FftBlock):
            other = FftBlock.from_frames(list(other))
        if not isinstance(other, FftBlock) or other.bin_count != self.bin_count:
            raise InvalidParameterError("cannot combine FFT frames with different bin counts; use one bin count")
        onesided = self.onesided and other.onesided
        left = self.bins if onesided else self.full_bins()
        right = other.bins if onesided else other.full_bins()
        return self._like(fn(left, right), self.index, np.maximum(self.counts, other.counts), onesided)

    @staticmethod
    def combine_partial(a: "FftBlock | None", b: "FftBlock | None", fn: Callable[[Any, Any], Any]) -> "FftBlock":
        """Combine where one side ended; the ended side counts as all-zero spectra.

        When the divisor of a division has ended, the result bins are zero, as for sample streams.
        """
        reference = a if a is not None else b
        n = max(len(a) if a is not None else 0, len(b) if b is not None else 0)
        left = _extend_with_zero_frames(a, reference, n)
        right = _extend_with_zero_frames(b, reference, n)
        result = left.combine(right, fn)
        if fn is operator.truediv:
            result.bins[len(b) if b is not None else 0:] = 0.0
        return result


def _extend_with_zero_frames(block: FftBlock | None, reference: FftBlock, n: int) -> FftBlock:
    have = 0 if block is None else len(block)
    if have == n:
        return block
    start = 0 if block is None else int(block.index[-1]) + 1
    zeros = reference._like(np.zeros((n - have, reference.bins.shape[1]), dtype=np.complex128),
                            np.arange(start, start + n - have), np.zeros(n - have), reference.onesided)
    return zeros if block is None else FftBlock.concat([block, zeros])


def as_fft_blocks(block: Any) -> list[FftBlock]:
    """Return an FFT block, or a list of frames, as runs of uniform :class:`FftBlock`."""
    if isinstance(block, FftBlock):
        return [block]
    runs: list[FftBlock] = []
    pending: list[FftSample] = []
    for frame in block:
        if not isinstance(frame, FftSample):
            raise InvalidParameterError(
                f"expected FFT frames but got a {type(frame).__name__}; call fft() before this operation"
            )
        if pending and not isinstance(FftBlock.from_frames([pending[0], frame]), FftBlock):
            runs.append(FftBlock.from_frames(pending))
            pending = []
        pending.append(frame)
    if pending:
        runs.append(FftBlock.from_frames(pending))
    return runs


# -- managed outputs ------------------------------------------------------------------


class OutputSignal(enum.IntEnum):
    """Signals that drive a managed output (see :mod:`wavebeans_nb.beans.outputs.managed`)."""

    NOOP = 0
    FLUSH = 1
    OPEN_GATE = 2
    CLOSE_GATE = 3
    CLOSE_OUTPUT = 4


class Managed:
    """A payload with a signal for a managed output.

    Attributes
    ----------
    signal : OutputSignal
        What the output does before (or instead of) writing the payload.
    argument : object
        Passed to the output's suffix function to name the next file; may be None.
    payload : object
        The element to write: a sample, a sample vector, or a CSV element.
    """

    __slots__ = ("signal", "argument", "payload")

    def __init__(self, signal: OutputSignal | int, argument: Any, payload: Any) -> None:
        try:
            if isinstance(signal, bool):
                raise ValueError(signal)
            self.signal = OutputSignal(signal)
        except ValueError:
            raise InvalidParameterError(
                f"output signal {signal!r} is unknown; use one of {[s.name for s in OutputSignal]}"
            ) from None
        self.argument = argument
        self.payload = payload

    def measure(self) -> int:
        """Return the payload's sample count."""
        return measure(self.payload)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Managed):
            return NotImplemented
        payload_equal = self.payload is other.payload or bool(np.all(self.payload == other.payload))
        return self.signal == other.signal and self.argument == other.argument and payload_equal

    __hash__ = None

    def __repr__(self) -> str:
        return f"Managed({self.signal.name}, {self.argument!r}, {self.payload!r})"


def with_output_signal(payload: Any, signal: OutputSignal | int, argument: Any = None) -> Managed:
    """Wrap ``payload`` with an output signal and its argument."""
    return Managed(signal, argument, payload)

