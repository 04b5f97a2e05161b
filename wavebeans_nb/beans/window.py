"""Windows over a stream, and window functions (rectangle, triangular, blackman, hamming, hann).

``stream.window(size, step)`` cuts a stream into windows that start at 0,
step, 2·step, … and contain ``size`` elements each. The windows near the end
of a finite stream are partial (fewer elements). Arithmetic between window
streams and with scalars works through the ``+ - * /`` operators of
:class:`~wavebeans_nb.beans.base.Stream` on the batched :class:`WindowBlock`.
"""

from __future__ import annotations

import logging
import math
from typing import Any, Callable, Iterator

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ..errors import InvalidParameterError
from .base import Stream, register_api
from .blocks import Block, iter_elements
from .types import Window, WindowBlock, _is_real, _object_rows, as_window_blocks

__all__ = [
    "WindowStream", "WindowFunctionStream", "WINDOW_FUNCTIONS", "window_weights",
    "rectangle_weights", "triangular_weights", "blackman_weights", "hamming_weights", "hann_weights",
    "window_item_type", "HAMMING_A0",
]

logger = logging.getLogger(__name__)


def _check_count(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise InvalidParameterError(f"window {name} {value!r} is invalid; pass a whole number >= 1")
    return int(value)


class WindowStream(Stream):
    """Windows of ``size`` elements starting every ``step`` elements.

    Windows start at 0, step, 2·step, … for every start before the end of the
    input, and window k contains ``min(size, n - k·step)`` elements, so a finite
    stream ends with partial windows. With ``step > size`` the elements between
    windows are dropped. Each window stands for ``step`` samples.
    """

    element_type = Window

    def __init__(self, input: Stream, *, size: int, step: int | None = None, zero: Any = 0.0) -> None:
        size = _check_count("size", size)
        step = size if step is None else _check_count("step", step)
        super().__init__(input, size=size, step=step, zero=zero)
        self.is_samples = input.element_type is float and _is_real(zero)
        #: Type of the elements inside the windows.
        self.item_type = float if self.is_samples else input.element_type

    def label(self) -> str:
        return f"window({self.params['size']}, {self.params['step']})"

    def samples_count(self, sample_rate: float) -> int | None:
        upstream = self.input.samples_count(sample_rate)
        return None if upstream is None else math.ceil(upstream / self.params["step"])

    def _as_array(self, block: Block) -> np.ndarray:
        if self.is_samples:
            return np.asarray(block, dtype=np.float64)
        if isinstance(block, np.ndarray) and block.dtype == object:
            return block
        elements = block.tolist() if isinstance(block, np.ndarray) else list(iter_elements(block))
        return np.fromiter(elements, dtype=object, count=len(elements))

    def _blocks(self, sample_rate: float, block_size: int) -> Iterator[Block]:
        size, step, zero = self.params["size"], self.params["step"], self.params["zero"]
        pending = np.empty(0, dtype=np.float64 if self.is_samples else object)
        position = 0  # absolute index of pending[0]
        next_start = 0  # absolute index where the next window starts
        for block in self.input.iter_blocks(self.rate_for(sample_rate), block_size):
            pending = np.concatenate([pending, self._as_array(block)])
            skip = min(next_start - position, len(pending))
            pending, position = pending[skip:], position + skip
            if len(pending) < size:
                continue
            count = (len(pending) - size) // step + 1
            rows = sliding_window_view(pending, size)[::step][:count]
            # Sample windows stay a read-only strided view of the input: copying them here would
            # put the largest memory pass of an STFT in this single-partition bean, while the
            # next (partitionable) step makes a new array anyway.
            data = rows if self.is_samples else rows.copy()
            first = next_start // step
            ordinals = np.arange(first, first + count, dtype=np.int64)
            yield WindowBlock(data, np.full(count, size, dtype=np.int64), size, step, zero, ordinals)
            next_start = position + count * step
            consumed = min(count * step, len(pending))
            pending, position = pending[consumed:], position + consumed
        tail = self._partial_windows(pending, position, next_start)
        if tail is not None:
            yield tail

    def _partial_windows(self, pending: np.ndarray, position: int, next_start: int) -> WindowBlock | None:
        """Build the partial windows that start before the end but run past it."""
        size, step, zero = self.params["size"], self.params["step"], self.params["zero"]
        end = position + len(pending)
        starts = list(range(next_start, end, step))
        if not starts:
            return None
        counts = np.array([min(size, end - start) for start in starts], dtype=np.int64)
        if self.is_samples:
            data = np.full((len(starts), size), float(zero))
        else:
            data = _object_rows(len(starts), size, zero)
        for row, (start, count) in enumerate(zip(starts, counts.tolist())):
            offset = start - position
            data[row, :count] = pending[offset: offset + count]
        ordinals = np.array(starts, dtype=np.int64) // step
        return WindowBlock(data, counts, size, step, zero, ordinals)


# -- window functions ----------------------------------------------------------------

#: Hamming coefficient a0 = 25/46 (≈ 0.5435), the value that cancels the first side lobe
#: and the one the original library uses, instead of the rounded 0.54.
HAMMING_A0 = 25.0 / 46.0


def _periodic_phase(n: int) -> np.ndarray:
    return 2.0 * np.pi * np.arange(n) / n


def rectangle_weights(n: int) -> np.ndarray:
    """Return the rectangle window of length ``n``: all ones."""
    return np.ones(n)


def triangular_weights(n: int) -> np.ndarray:
    """Return the periodic triangular window ``1 − |(i − n/2) / (n/2)|``, i = 0 … n−1."""
    half = n / 2.0
    return 1.0 - np.abs((np.arange(n) - half) / half)


def blackman_weights(n: int) -> np.ndarray:
    """Return the periodic Blackman window ``0.42 − 0.5 cos(2πi/n) + 0.08 cos(4πi/n)``."""
    phase = _periodic_phase(n)
    return 0.42 - 0.5 * np.cos(phase) + 0.08 * np.cos(2.0 * phase)


def hamming_weights(n: int) -> np.ndarray:
    """Return the periodic Hamming window ``a0 − (1 − a0) cos(2πi/n)`` with a0 = 25/46."""
    return HAMMING_A0 - (1.0 - HAMMING_A0) * np.cos(_periodic_phase(n))


def hann_weights(n: int) -> np.ndarray:
    """Return the periodic Hann window ``0.5 − 0.5 cos(2πi/n)``."""
    return 0.5 - 0.5 * np.cos(_periodic_phase(n))


#: Built-in window functions by name; each maps a length n to n weights.
WINDOW_FUNCTIONS: dict[str, Callable[[int], np.ndarray]] = {
    "rectangle": rectangle_weights,
    "triangular": triangular_weights,
    "blackman": blackman_weights,
    "hamming": hamming_weights,
    "hann": hann_weights,
}


def window_weights(function: "str | Callable[[int], Any]", n: int) -> np.ndarray:
    """Return the ``n`` weights of a window function given by name or as a callable ``fn(n)``.

    Raises
    ------
    InvalidParameterError
        If the name is unknown or the callable returns other than ``n`` values.
    """
    if isinstance(function, str):
        try:
            fn = WINDOW_FUNCTIONS[function]
        except KeyError:
            raise InvalidParameterError(
                f"window function {function!r} is unknown; use one of {sorted(WINDOW_FUNCTIONS)} or a callable"
            ) from None
    else:
        fn = function
    weights = np.asarray(fn(n), dtype=np.float64).reshape(-1)
    if len(weights) != n:
        raise InvalidParameterError(
            f"window function {getattr(fn, '__name__', fn)!r} returned {len(weights)} weights for length {n}; "
            f"it must return exactly n weights"
        )
    return weights


def window_item_type(stream: Stream) -> type:
    """Return the type of the elements inside the windows of ``stream`` (float when unknown)."""
    current = stream
    while current is not None:
        item_type = getattr(current, "item_type", None)
        if item_type is not None:
            return item_type
        current = current.inputs[0] if current.inputs and current.inputs[0].element_type is Window else None
    return float


class WindowFunctionStream(Stream):
    """Each window multiplied by a window function of the window's own element count.

    A partial window of m elements gets the m-point window, as in the
    original library. The result keeps size, step and zero element.
    """

    element_type = Window
    partitionable = True

    def __init__(self, input: Stream, *, function: "str | Callable[[int], Any]",
                 multiply: Callable[[Any, float], Any] | None = None) -> None:
        if isinstance(function, str):
            window_weights(function, 1)  # validates the name now instead of at evaluation
        elif not callable(function):
            raise InvalidParameterError(
                f"window function {function!r} is not a name or a callable; "
                f"pass one of {sorted(WINDOW_FUNCTIONS)} or fn(size)"
            )
        if multiply is not None and not callable(multiply):
            raise InvalidParameterError(f"multiply function {multiply!r} is not callable; pass fn(element, weight)")
        super().__init__(input, function=function, multiply=multiply)
        self.item_type = window_item_type(input)

    def label(self) -> str:
        function = self.params["function"]
        return function if isinstance(function, str) else f"window_function({getattr(function, '__name__', 'fn')})"

    def samples_count(self, sample_rate: float) -> int | None:
        return self.input.samples_count(sample_rate)

    def _blocks(self, sample_rate: float, block_size: int) -> Iterator[Block]:
        cache: dict[int, np.ndarray] = {}

        def weights(m: int) -> np.ndarray:
            if m not in cache:
                cache[m] = window_weights(self.params["function"], m)
            return cache[m]

        for block in self.input.iter_blocks(self.rate_for(sample_rate), block_size):
            runs = [self._apply(run, weights) for run in as_window_blocks(block)]
            yield runs[0] if len(runs) == 1 else WindowBlock.concat(runs)

    def _apply(self, block: WindowBlock, weights: Callable[[int], np.ndarray]) -> WindowBlock:
        if not block.is_samples:
            return self._apply_objects(block, weights)
        full = block.counts == block.size
        if full.all():
            return block.with_data(block.data * weights(block.size))
        data = block.data.copy()
        data[full] *= weights(block.size)
        for row in np.flatnonzero(~full).tolist():
            m = int(block.counts[row])
            data[row, :m] *= weights(m)
        return block.with_data(data)

    def _apply_objects(self, block: WindowBlock, weights: Callable[[int], np.ndarray]) -> WindowBlock:
        multiply = self.params["multiply"]
        if multiply is None:
            raise InvalidParameterError(
                "windows of non-sample elements need multiply=fn(element, weight) for a window function"
            )
        data = block.data.copy()
        for row, m in enumerate(block.counts.tolist()):
            factors = weights(m)
            for column in range(m):
                data[row, column] = multiply(data[row, column], float(factors[column]))
        return block.with_data(data)


# -- fluent API -----------------------------------------------------------------------


@register_api()
def window(self: Stream, size: int, step: int | None = None, zero: Any = None) -> WindowStream:
    """Cut the stream into windows of ``size`` elements that start every ``step`` elements.

    Parameters
    ----------
    size : int
        Elements per window (>= 1).
    step : int, optional
        Distance between window starts in elements (>= 1); defaults to ``size``.
    zero : object, optional
        Zero element used to pad windows; 0.0 for sample streams, required for other element types.

    Returns
    -------
    Stream
        Stream of :class:`~wavebeans_nb.beans.types.Window`; a finite input of n
        elements gives ``ceil(n / step)`` windows, the last ones partial.

    Raises
    ------
    InvalidParameterError
        If size or step is below 1, or ``zero`` is missing for a non-sample stream.

    Examples
    --------
    >>> import wavebeans_nb as wb
    >>> [w.elements.tolist() for w in wb.list_input(range(5)).window(2).elements(8000)]
    [[0.0, 1.0], [2.0, 3.0], [4.0]]
    """
    if zero is None:
        if self.element_type is not float:
            raise InvalidParameterError(
                f"window() over a stream of {getattr(self.element_type, '__name__', self.element_type)} needs "
                "a zero element; pass zero=..."
            )
        zero = 0.0
    return WindowStream(self, size=size, step=step, zero=zero)


@register_api()
def window_function(self: Stream, function: "str | Callable[[int], Any]",
                    multiply: Callable[[Any, float], Any] | None = None) -> WindowFunctionStream:
    """Multiply every window by a window function.

    Parameters
    ----------
    function : str or callable
        One of "rectangle", "triangular", "blackman", "hamming", "hann", or a
        callable ``fn(n)`` returning ``n`` weights. A window of m elements is
        multiplied by the m-point function.
    multiply : callable, optional
        ``multiply(element, weight)`` for windows of non-sample elements.
    """
    return WindowFunctionStream(self, function=function, multiply=multiply)


def _named_window_method(name: str, description: str) -> Callable[[Stream], WindowFunctionStream]:
    def apply(self: Stream) -> WindowFunctionStream:
        return WindowFunctionStream(self, function=name)

    apply.__name__ = name
    apply.__doc__ = f"Multiply every window by the periodic {description} window of its own length."
    return apply


register_api("rectangle")(_named_window_method("rectangle", "rectangle (all ones)"))
register_api("triangular")(_named_window_method("triangular", "triangular"))
register_api("blackman")(_named_window_method("blackman", "Blackman"))
register_api("hamming")(_named_window_method("hamming", "Hamming (a0 = 25/46)"))
register_api("hann")(_named_window_method("hann", "Hann"))
