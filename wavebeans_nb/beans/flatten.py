"""Flatten: windows back to elements (overlap-add), lists and sample vectors to their items; flat_map.

Window k of a window stream starts at position ``s_k`` (0 for the first
window, then the previous start plus the previous window's step) and covers
``[s_k, s_k + m_k)`` where m_k is its element count. Flattening emits, for
every position t from 0 to the end of the last covered position:

* the sum of the elements of all windows that cover t (overlap-add, however
  many windows overlap), or ``overlap_resolve`` folded over them in stream order;
* the window's zero element where no window covers t (the gaps when step > size).

So step == size gives the input samples back, partial tail windows are not
padded past the real data, and a window -> FFT -> inverse FFT chain with a
window function that sums to a constant over its overlaps reconstructs the input.
"""

from __future__ import annotations

import itertools
import logging
import math
import numbers
import operator
from typing import Any, Callable, Iterable, Iterator

import numpy as np

from ..errors import InvalidParameterError
from .base import Stream, check_element_type, register_api
from .blocks import Block, block_from_elements, iter_elements
from .types import SampleVector, Window, WindowBlock, as_window_blocks, combine_vectors
from .window import window_item_type

__all__ = ["FlattenStream", "FlatMapStream"]

logger = logging.getLogger(__name__)

_UNSET = object()


class _SampleOverlapAdd:
    """Streaming overlap-add of sample windows with numpy, for any size and step.

    Each window is cut into ``r = ceil(size / step)`` segments of ``step``
    samples; segment q of window k lands on row k + q of a (rows, step) grid,
    so one vectorised add per segment index sums all overlapping windows.
    """

    def __init__(self) -> None:
        self.origin = 0  # absolute position of pending[0]
        self.pending = np.empty(0)
        self.coverage = np.empty(0, dtype=np.int64)  # windows covering each pending position
        self.next_start = 0
        self.max_end = 0
        self.zero = 0.0
        self.track_gaps = False  # True when the zero element is not 0.0, so gaps need marking

    def push(self, block: WindowBlock) -> np.ndarray:
        """Add a block of windows and return the samples that no later window can change."""
        size, step, n = block.size, block.step, len(block)
        segments = math.ceil(size / step)
        width = segments * step
        real = np.arange(size)[None, :] < block.counts[:, None]
        self.zero = float(block.zero)
        # Padding past each window's count is the zero element, which must not be summed.
        values = block.data if self.zero == 0.0 else np.where(real, block.data, 0.0)
        self.track_gaps = self.track_gaps or self.zero != 0.0

        start = self.next_start
        ends = start + np.arange(n, dtype=np.int64) * step + block.counts
        self.max_end = max(self.max_end, int(ends.max()))
        span = (n + segments - 1) * step
        total = max(self.origin + len(self.pending), start + span) - self.origin
        offset = start - self.origin
        acc = np.zeros(total)
        acc[: len(self.pending)] = self.pending
        self._add_in_window_order(acc[offset: offset + span], values, segments, step, width)
        covered = np.zeros(total if self.track_gaps else 0, dtype=np.int64)
        if self.track_gaps:
            covered[: len(self.coverage)] = self.coverage
            cover = self._grid_sum(real.astype(np.int64), segments, step, width)
            covered[offset: offset + len(cover)] += cover

        self.next_start = start + n * step
        emit_to = max(self.origin, min(self.next_start, self.max_end))
        cut = emit_to - self.origin
        out = acc[:cut]
        if self.track_gaps:
            out = np.where(covered[:cut] > 0, out, self.zero)
        keep = self.max_end - emit_to
        self.pending, self.coverage = acc[cut: cut + keep], covered[cut: cut + keep]
        self.origin = emit_to
        return out

    @staticmethod
    def _add_in_window_order(target: np.ndarray, values: np.ndarray, segments: int, step: int,
                             width: int) -> None:
        """Add every window into ``target`` so each position sums its windows oldest first.

        Floating-point addition is not associative, so a fixed order (the
        accumulated older windows, then each newer window in turn) is what keeps
        the result identical whatever the block boundaries are.
        """
        n, size = values.shape
        if width != size:
            values = np.concatenate([values, np.zeros((n, width - size), dtype=values.dtype)], axis=1)
        grid = target.reshape(n + segments - 1, step)
        # Row j of the grid receives window j - q at iteration q, so descending q adds older windows first.
        for q in range(segments - 1, -1, -1):
            grid[q: q + n] += values[:, q * step: (q + 1) * step]

    @staticmethod
    def _grid_sum(values: np.ndarray, segments: int, step: int, width: int) -> np.ndarray:
        n, size = values.shape
        if width != size:
            values = np.concatenate([values, np.zeros((n, width - size), dtype=values.dtype)], axis=1)
        if segments == 1:
            return values.reshape(-1)
        grid = np.zeros((n + segments - 1, step), dtype=values.dtype)
        for q in range(segments):
            grid[q: q + n] += values[:, q * step: (q + 1) * step]
        return grid.reshape(-1)

    def finish(self) -> np.ndarray:
        """Return the samples left after the last window."""
        out = self.pending
        if len(out) and self.track_gaps:
            out = np.where(self.coverage > 0, out, self.zero)
        self.pending = np.empty(0)
        return out


class _GenericOverlap:
    """Element-by-element flatten of windows with a resolve function (the slow, general path)."""

    def __init__(self, resolve: Callable[[Any, Any], Any] | None) -> None:
        self.resolve = resolve
        self.origin = 0
        self.pending: list = []
        self.next_start = 0
        self.max_end = 0
        self.zero: Any = 0.0

    def _combine(self, earlier: Any, later: Any) -> Any:
        if self.resolve is not None:
            return self.resolve(earlier, later)
        if isinstance(earlier, numbers.Number) and isinstance(later, numbers.Number):
            return earlier + later
        if isinstance(earlier, np.ndarray) and isinstance(later, np.ndarray):
            return combine_vectors(earlier, later, operator.add)
        raise InvalidParameterError(
            f"windows of {type(earlier).__name__} overlap and there is no default way to combine them; "
            "pass flatten(overlap_resolve=fn) with fn(earlier, later) returning the combined element"
        )

    def push(self, window: Window) -> list:
        """Add one window and return the elements that no later window can change."""
        start = self.next_start
        self.zero = window.zero
        end = start + len(window.elements)
        self.max_end = max(self.max_end, end)
        needed = self.max_end - self.origin
        self.pending.extend([_UNSET] * (needed - len(self.pending)))
        for offset, element in enumerate(window.elements, start=start - self.origin):
            current = self.pending[offset]
            self.pending[offset] = element if current is _UNSET else self._combine(current, element)
        self.next_start = start + window.step
        emit_to = max(self.origin, min(self.next_start, self.max_end))
        return self._take(emit_to - self.origin)

    def _take(self, count: int) -> list:
        out = [self.zero if value is _UNSET else value for value in self.pending[:count]]
        del self.pending[:count]
        self.origin += count
        return out

    def finish(self) -> list:
        return self._take(len(self.pending))


class FlattenStream(Stream):
    """The items of a stream of windows, sample vectors or other iterables, one level deep.

    Windows are overlap-added (see the module documentation); sample vectors
    give their samples; other iterables give their items and empty ones are skipped.
    """

    def __init__(self, input: Stream, *, overlap_resolve: Callable[[Any, Any], Any] | None = None,
                 element_type: type | None = None) -> None:
        if overlap_resolve is not None and not callable(overlap_resolve):
            raise InvalidParameterError(f"overlap resolve function {overlap_resolve!r} is not callable; pass fn(a, b) or None")
        check_element_type(element_type, "flatten")
        super().__init__(input, overlap_resolve=overlap_resolve, element_type=element_type)
        if element_type is not None:
            self.element_type = element_type
        elif input.element_type is Window:
            self.element_type = window_item_type(input)
        elif input.element_type is SampleVector:
            self.element_type = float
        else:
            self.element_type = object

    def label(self) -> str:
        return "flatten"

    def _blocks(self, sample_rate: float, block_size: int) -> Iterator[Block]:
        blocks = self.input.iter_blocks(self.rate_for(sample_rate), block_size)
        resolve = self.params["overlap_resolve"]
        sample_adder: _SampleOverlapAdd | None = None
        generic: _GenericOverlap | None = None
        for block in blocks:
            if _contains_windows(block):
                for run in as_window_blocks(block):
                    if run.is_samples and resolve is None and self.element_type is float:
                        sample_adder = sample_adder or _SampleOverlapAdd()
                        out = sample_adder.push(run)
                    else:
                        generic = generic or _GenericOverlap(resolve)
                        out = [x for window in run.elements() for x in generic.push(window)]
                    if len(out):
                        yield self._as_block(out)
            else:
                out = _flatten_items(block, self.element_type)
                if len(out):
                    yield out
        tail = sample_adder.finish() if sample_adder is not None else []
        if generic is not None:
            tail = list(tail) + generic.finish()
        if len(tail):
            yield self._as_block(tail)

    def _as_block(self, values: Any) -> Block:
        if isinstance(values, np.ndarray) and self.element_type is float:
            return values
        return block_from_elements(list(values) if isinstance(values, np.ndarray) else values, self.element_type)


def _contains_windows(block: Block) -> bool:
    if isinstance(block, WindowBlock):
        return True
    return isinstance(block, list) and bool(block) and isinstance(block[0], Window)


def _flatten_items(block: Block, element_type: type) -> Block:
    elements = list(iter_elements(block))
    if element_type is float and all(isinstance(e, np.ndarray) for e in elements):
        parts = [np.asarray(e, dtype=np.float64).reshape(-1) for e in elements]
        return np.concatenate(parts) if parts else np.empty(0)
    items = list(itertools.chain.from_iterable(_items_of(e) for e in elements))
    return block_from_elements(items, element_type)


def _items_of(element: Any) -> Iterable[Any]:
    if isinstance(element, np.ndarray):
        return element.tolist()
    if isinstance(element, Window):
        raise InvalidParameterError("windows mixed with other elements cannot be flattened together")
    try:
        return iter(element)
    except TypeError:
        raise InvalidParameterError(
            f"flatten() needs iterable elements, but got a {type(element).__name__}"
        ) from None


class FlatMapStream(Stream):
    """The items of ``fn(element)`` for every element, in order."""

    # One element may become any number of items, so copies per partition could
    # not be merged back by chunk.
    partitionable = False

    def __init__(self, input: Stream, *, fn: Callable[[Any], Iterable[Any]], element_type: type | None = None) -> None:
        if not callable(fn):
            raise InvalidParameterError(f"flat_map function {fn!r} is not callable; pass fn(element) returning an iterable")
        check_element_type(element_type, "flat_map")
        super().__init__(input, fn=fn, element_type=element_type)
        if element_type is not None:
            self.element_type = element_type
        else:
            self.element_type = float if input.element_type is float else object

    def label(self) -> str:
        return f"flat_map({getattr(self.params['fn'], '__name__', 'fn')})"

    def _blocks(self, sample_rate: float, block_size: int) -> Iterator[Block]:
        fn = self.params["fn"]
        for block in self.input.iter_blocks(self.rate_for(sample_rate), block_size):
            items: list = []
            for element in iter_elements(block):
                items.extend(_items_of(fn(element)))
            if items:
                yield block_from_elements(items, self.element_type)


# -- fluent API -----------------------------------------------------------------------


@register_api()
def flatten(self: Stream, overlap_resolve: Callable[[Any, Any], Any] | None = None,
            element_type: type | None = None) -> FlattenStream:
    """Flatten windows, sample vectors or other iterables into a stream of their items.

    Parameters
    ----------
    overlap_resolve : callable, optional
        For windows only: ``fn(earlier, later)`` combines two elements at a
        position covered by several windows, folded in stream order. The default
        adds numbers and sample vectors, and raises for other types when
        windows overlap.
    element_type : type, optional
        Type of the items; inferred for windows and sample vectors, ``object``
        for other iterables unless given (pass ``float`` for lists of samples).

    Returns
    -------
    Stream
        For windows: ``s_last + m_last`` items (the end of the last window), where
        overlapping windows are summed and gaps between windows contain the zero element.

    Examples
    --------
    >>> import wavebeans_nb as wb
    >>> list(wb.list_input([1.0, 1.0, 1.0, 1.0]).window(2, 1).flatten().elements(8000))
    [1.0, 2.0, 2.0, 2.0]
    """
    return FlattenStream(self, overlap_resolve=overlap_resolve, element_type=element_type)


@register_api()
def flat_map(self: Stream, fn: Callable[[Any], Iterable[Any]], element_type: type | None = None) -> FlatMapStream:
    """Map every element to an iterable with ``fn`` and emit the items.

    ``element_type`` defaults to ``float`` for sample streams and ``object`` otherwise.

    Examples
    --------
    >>> import wavebeans_nb as wb
    >>> list(wb.list_input([1.0, 2.0]).flat_map(lambda x: [x, -x]).elements(8000))
    [1.0, -1.0, 2.0, -2.0]
    """
    return FlatMapStream(self, fn=fn, element_type=element_type)
