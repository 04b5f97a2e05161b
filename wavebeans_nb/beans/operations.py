"""Operations on streams: arithmetic, map, merge, trim, concatenation, projection, after-filling."""

from __future__ import annotations

import numbers
import operator
from typing import Any, Callable, Iterator

import numpy as np

from ..errors import InvalidParameterError
from .base import Stream, check_element_type, register_api
from .blocks import Block, BlockReader, block_from_elements, block_measures, concat_blocks, iter_elements
from .timeunit import TimeMeasure, time_to_sample_ceil, time_to_sample_floor

__all__ = [
    "ScalarOperation", "StreamOperation", "MapStream", "MapBlocksStream", "MergeStream",
    "TrimStream", "ConcatStream", "ProjectionStream", "AfterFillingStream",
]

_OPERATORS: dict[str, Callable[[Any, Any], Any]] = {
    "add": operator.add,
    "sub": operator.sub,
    "mul": operator.mul,
    "truediv": operator.truediv,
}
_SYMBOLS = {"add": "+", "sub": "-", "mul": "*", "truediv": "/"}


def _is_scalar(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


class ScalarOperation(Stream):
    """Element-wise arithmetic with a constant: ``x op scalar`` or ``scalar op x`` when reversed."""

    partitionable = True

    def __init__(self, input: Stream, *, operation: str, scalar: float, reverse: bool = False) -> None:
        if operation not in _OPERATORS:
            raise InvalidParameterError(f"unknown operation {operation!r}; use one of {sorted(_OPERATORS)}")
        if not _is_scalar(scalar):
            raise InvalidParameterError(f"scalar {scalar!r} is not a real number")
        super().__init__(input, operation=operation, scalar=float(scalar), reverse=bool(reverse))
        self.element_type = input.element_type

    def label(self) -> str:
        symbol = _SYMBOLS[self.params["operation"]]
        scalar = self.params["scalar"]
        return f"{scalar:g} {symbol} x" if self.params["reverse"] else f"x {symbol} {scalar:g}"

    def samples_count(self, sample_rate: float) -> int | None:
        return self.input.samples_count(sample_rate)

    def _blocks(self, sample_rate: float, block_size: int) -> Iterator[Block]:
        fn = _OPERATORS[self.params["operation"]]
        scalar = self.params["scalar"]
        reverse = self.params["reverse"]
        with np.errstate(divide="ignore", invalid="ignore"):
            for block in self.input.iter_blocks(self.rate_for(sample_rate), block_size):
                if isinstance(block, np.ndarray):
                    yield fn(scalar, block) if reverse else fn(block, scalar)
                elif hasattr(block, "apply_scalar"):
                    yield block.apply_scalar(fn, scalar, reverse)
                else:
                    yield [fn(scalar, e) if reverse else fn(e, scalar) for e in block]


class StreamOperation(Stream):
    """Arithmetic between two streams, element by element.

    The result is as long as the longer input. Once one input ends it counts as
    zero, except that ``a / b`` is 0.0 where ``b`` has ended.
    """

    def __init__(self, left: Stream, right: Stream, *, operation: str) -> None:
        if operation not in _OPERATORS:
            raise InvalidParameterError(f"unknown operation {operation!r}; use one of {sorted(_OPERATORS)}")
        super().__init__(left, right, operation=operation)
        self.element_type = left.element_type

    def label(self) -> str:
        return f"a {_SYMBOLS[self.params['operation']]} b"

    @property
    def is_finite(self) -> bool:
        return all(s.is_finite for s in self.inputs)

    def _blocks(self, sample_rate: float, block_size: int) -> Iterator[Block]:
        rate = self.rate_for(sample_rate)
        operation = self.params["operation"]
        fn = _OPERATORS[operation]
        left = BlockReader(self.inputs[0].iter_blocks(rate, block_size))
        right = BlockReader(self.inputs[1].iter_blocks(rate, block_size))
        with np.errstate(divide="ignore", invalid="ignore"):
            while True:
                a = left.read_up_to(block_size)
                if a is None:
                    b = right.read_up_to(block_size)
                    if b is None:
                        return
                    yield _combine_one_sided(None, b, operation, fn)
                    continue
                b = right.read(len(a))
                if b is None or len(b) < len(a):
                    yield _combine_one_sided(a, b, operation, fn)
                elif isinstance(a, np.ndarray):
                    yield fn(a, b)
                elif hasattr(a, "combine"):
                    yield a.combine(b, fn)
                else:
                    yield [fn(x, y) for x, y in zip(a, b)]


def _combine_one_sided(a: Block | None, b: Block | None, operation: str, fn: Callable) -> Block:
    """Combine blocks where one side ended part-way; the ended side counts as zero."""
    sample = isinstance(a if a is not None else b, np.ndarray)
    if not sample:
        reference = a if a is not None else b
        if hasattr(reference, "combine_partial"):
            return reference.combine_partial(a, b, fn)
        left = list(iter_elements(a)) if a is not None else []
        right = list(iter_elements(b)) if b is not None else []
        n = max(len(left), len(right))
        rows = []
        for i in range(n):
            x = left[i] if i < len(left) else None
            y = right[i] if i < len(right) else None
            if y is None and operation == "truediv":
                rows.append(0.0)
            else:
                rows.append(fn(0.0 if x is None else x, 0.0 if y is None else y))
        return rows
    n = max(len(a) if a is not None else 0, len(b) if b is not None else 0)
    # Frames of multichannel streams are 2-D blocks; pad them per channel.
    shape = (n,) + (a if a is not None else b).shape[1:]
    x = np.zeros(shape)
    y = np.zeros(shape)
    if a is not None:
        x[: len(a)] = a
    if b is not None:
        y[: len(b)] = b
    out = fn(x, y)
    if operation == "truediv":
        ended = len(b) if b is not None else 0
        out[ended:] = 0.0
    return out


class MapStream(Stream):
    """``fn(element)`` for every element (the slow, general path)."""

    partitionable = True

    def __init__(self, input: Stream, *, fn: Callable[[Any], Any], element_type: type | None = None) -> None:
        if not callable(fn):
            raise InvalidParameterError(f"map function {fn!r} is not callable; pass fn(element)")
        check_element_type(element_type, "map")
        super().__init__(input, fn=fn, element_type=element_type)
        self.element_type = element_type or input.element_type

    def label(self) -> str:
        return f"map({getattr(self.params['fn'], '__name__', 'fn')})"

    def _blocks(self, sample_rate: float, block_size: int) -> Iterator[Block]:
        fn = self.params["fn"]
        for block in self.input.iter_blocks(self.rate_for(sample_rate), block_size):
            yield block_from_elements([fn(e) for e in iter_elements(block)], self.element_type)

    def samples_count(self, sample_rate: float) -> int | None:
        return self.input.samples_count(sample_rate)


class MapBlocksStream(Stream):
    """``fn(block)`` for every block: the fast path for numpy code.

    ``fn`` must work element by element: it receives a block and returns a
    block of the same length, so the result does not depend on block size.
    """

    partitionable = True

    def __init__(self, input: Stream, *, fn: Callable[[Block], Block], element_type: type | None = None) -> None:
        if not callable(fn):
            raise InvalidParameterError(f"block function {fn!r} is not callable; pass fn(block) returning a block of the same length")
        check_element_type(element_type, "map_blocks")
        super().__init__(input, fn=fn, element_type=element_type)
        self.element_type = element_type or input.element_type

    def label(self) -> str:
        return f"map_blocks({getattr(self.params['fn'], '__name__', 'fn')})"

    def _blocks(self, sample_rate: float, block_size: int) -> Iterator[Block]:
        fn = self.params["fn"]
        for block in self.input.iter_blocks(self.rate_for(sample_rate), block_size):
            result = fn(block)
            if self.element_type is float:
                result = np.asarray(result, dtype=np.float64).reshape(-1)
            if len(result) != len(block):
                raise InvalidParameterError(
                    f"map_blocks function {getattr(fn, '__name__', fn)!r} returned {len(result)} elements "
                    f"for a block of {len(block)}; it must return one element per input element"
                )
            yield result

    def samples_count(self, sample_rate: float) -> int | None:
        return self.input.samples_count(sample_rate)


class MergeStream(Stream):
    """``fn(x, y)`` over pairs of elements of two streams; a None result ends the stream.

    An input that has ended passes None. The stream also ends when both inputs end.
    """

    def __init__(self, left: Stream, right: Stream, *, fn: Callable[[Any, Any], Any],
                 element_type: type | None = None) -> None:
        if not callable(fn):
            raise InvalidParameterError(f"merge function {fn!r} is not callable; pass fn(x, y)")
        check_element_type(element_type, "merge")
        super().__init__(left, right, fn=fn, element_type=element_type)
        self.element_type = element_type or left.element_type

    def label(self) -> str:
        return f"merge({getattr(self.params['fn'], '__name__', 'fn')})"

    def _blocks(self, sample_rate: float, block_size: int) -> Iterator[Block]:
        rate = self.rate_for(sample_rate)
        fn = self.params["fn"]
        left = BlockReader(self.inputs[0].iter_blocks(rate, block_size))
        right = BlockReader(self.inputs[1].iter_blocks(rate, block_size))
        while True:
            a = left.read_up_to(block_size)
            b = right.read(len(a)) if a is not None else right.read_up_to(block_size)
            if a is None and b is None:
                return
            xs = list(iter_elements(a)) if a is not None else []
            ys = list(iter_elements(b)) if b is not None else []
            out = []
            for i in range(max(len(xs), len(ys))):
                value = fn(xs[i] if i < len(xs) else None, ys[i] if i < len(ys) else None)
                if value is None:
                    if out:
                        yield block_from_elements(out, self.element_type)
                    return
                out.append(value)
            yield block_from_elements(out, self.element_type)


class TrimStream(Stream):
    """The first ``length`` of a stream.

    Elements are emitted while fewer than ``floor(length * sample_rate)``
    samples have been emitted; an element that crosses the limit is emitted
    whole (windows overshoot).
    """

    def __init__(self, input: Stream, *, nanos: int) -> None:
        if isinstance(nanos, bool) or not isinstance(nanos, (int, np.integer)) or nanos < 0:
            raise InvalidParameterError(f"trim length {nanos!r} ns is invalid; pass a length >= 0")
        super().__init__(input, nanos=int(nanos))
        self.element_type = input.element_type

    def label(self) -> str:
        return f"trim({TimeMeasure(self.params['nanos'])})"

    @property
    def is_finite(self) -> bool:
        return True

    def samples_count(self, sample_rate: float) -> int | None:
        limit = time_to_sample_floor(self.params["nanos"], self.rate_for(sample_rate))
        upstream = self.input.samples_count(sample_rate)
        if self.element_type is not float:
            return None
        return limit if upstream is None else min(limit, upstream)

    def _blocks(self, sample_rate: float, block_size: int) -> Iterator[Block]:
        rate = self.rate_for(sample_rate)
        budget = time_to_sample_floor(self.params["nanos"], rate)
        if budget <= 0:
            return
        for block in self.input.iter_blocks(rate, block_size):
            measures = block_measures(block)
            before = np.cumsum(measures) - measures
            keep = int(np.count_nonzero(before < budget))
            if keep < len(block):
                if keep:
                    yield block[:keep]
                return
            budget -= int(measures.sum())
            yield block
            if budget <= 0:
                return


class ConcatStream(Stream):
    """All elements of a finite stream, then all of another."""

    def __init__(self, first: Stream, second: Stream) -> None:
        if not first.is_finite:
            raise InvalidParameterError(
                f"cannot concatenate after {first.label()}: it is infinite; trim it first"
            )
        super().__init__(first, second)
        self.element_type = first.element_type

    def label(self) -> str:
        return "concat"

    def samples_count(self, sample_rate: float) -> int | None:
        counts = [s.samples_count(sample_rate) for s in self.inputs]
        return None if None in counts else sum(counts)

    def _blocks(self, sample_rate: float, block_size: int) -> Iterator[Block]:
        rate = self.rate_for(sample_rate)
        yield from self.inputs[0].iter_blocks(rate, block_size)
        yield from self.inputs[1].iter_blocks(rate, block_size)


class ProjectionStream(Stream):
    """The part of a stream between two times: samples ``[floor(start·sr), ceil(end·sr))``."""

    def __init__(self, input: Stream, *, start_nanos: int, end_nanos: int | None = None) -> None:
        if end_nanos is not None and end_nanos < start_nanos:
            raise InvalidParameterError(
                f"projection end {TimeMeasure(end_nanos)} is before its start {TimeMeasure(start_nanos)}; "
                "pass an end at or after the start, or None for no end"
            )
        super().__init__(input, start_nanos=int(start_nanos),
                         end_nanos=None if end_nanos is None else int(end_nanos))
        self.element_type = input.element_type

    def label(self) -> str:
        end = self.params["end_nanos"]
        return f"range_projection({TimeMeasure(self.params['start_nanos'])}..{'' if end is None else TimeMeasure(end)})"

    @property
    def is_finite(self) -> bool:
        return self.params["end_nanos"] is not None or self.input.is_finite

    def _blocks(self, sample_rate: float, block_size: int) -> Iterator[Block]:
        rate = self.rate_for(sample_rate)
        start = max(0, time_to_sample_floor(self.params["start_nanos"], rate))
        end_nanos = self.params["end_nanos"]
        left = None if end_nanos is None else time_to_sample_ceil(end_nanos, rate) - start
        to_skip = start
        for block in self.input.iter_blocks(rate, block_size):
            measures = block_measures(block)
            if to_skip > 0:
                before = np.cumsum(measures) - measures
                skipped = int(np.count_nonzero(before < to_skip))
                to_skip -= int(measures[:skipped].sum())
                block, measures = block[skipped:], measures[skipped:]
                if to_skip > 0:
                    continue
                if left is not None:
                    # Credit back the overshoot of the last skipped element.
                    left += to_skip
                to_skip = 0
                if not len(block):
                    continue
            if left is None:
                yield block
                continue
            before = np.cumsum(measures) - measures
            keep = int(np.count_nonzero(before < left))
            if keep:
                yield block[:keep]
            left -= int(measures[:keep].sum())
            if left <= 0:
                return


class AfterFillingStream(Stream):
    """All elements of a finite stream, then ``zero`` forever."""

    partitionable = False

    def __init__(self, input: Stream, *, zero: Any = 0.0) -> None:
        is_number = isinstance(zero, numbers.Real) and not isinstance(zero, bool)
        if input.element_type is float and not is_number:
            raise InvalidParameterError(
                f"after_filling zero {zero!r} is not a number; pass a number such as 0.0 to fill a sample stream"
            )
        super().__init__(input, zero=zero)
        self.element_type = input.element_type

    def label(self) -> str:
        return f"after_filling({self.params['zero']!r})"

    @property
    def is_finite(self) -> bool:
        return False

    def _blocks(self, sample_rate: float, block_size: int) -> Iterator[Block]:
        yield from self.input.iter_blocks(self.rate_for(sample_rate), block_size)
        filler = block_from_elements([self.params["zero"]] * block_size, self.element_type)
        while True:
            yield filler.copy() if isinstance(filler, np.ndarray) else filler


# -- fluent API -----------------------------------------------------------------


def _binary(operation: str, reverse: bool = False) -> Callable[[Stream, Any], Stream]:
    def apply(self: Stream, other: Any) -> Stream:
        if isinstance(other, Stream):
            left, right = (other, self) if reverse else (self, other)
            return StreamOperation(left, right, operation=operation)
        if _is_scalar(other):
            return ScalarOperation(self, operation=operation, scalar=other, reverse=reverse)
        return NotImplemented

    apply.__name__ = f"__{'r' if reverse else ''}{operation}__"
    return apply


for _name in _OPERATORS:
    register_api(f"__{_name}__")(_binary(_name))
    register_api(f"__r{_name}__")(_binary(_name, reverse=True))


@register_api()
def change_amplitude(self: Stream, factor: float) -> Stream:
    """Multiply every sample by ``factor``."""
    return ScalarOperation(self, operation="mul", scalar=factor)


@register_api()
def map(self: Stream, fn: Callable[[Any], Any], element_type: type | None = None) -> Stream:
    """Apply ``fn`` to every element (Python per element; prefer :meth:`map_blocks` for samples).

    Parameters
    ----------
    fn : callable
        Called with one element, returns the new element.
    element_type : type, optional
        Type of the new elements; ``float`` for samples. Defaults to the input's.
    """
    return MapStream(self, fn=fn, element_type=element_type)


@register_api()
def map_blocks(self: Stream, fn: Callable[[Block], Block], element_type: type | None = None) -> Stream:
    """Apply a vectorised ``fn`` to every block (a 1-D float64 array for samples).

    ``fn`` must return one element per input element.

    Examples
    --------
    >>> import numpy as np, wavebeans_nb as wb
    >>> list(wb.list_input([0.5, -2.0]).map_blocks(np.abs).elements(8000))
    [0.5, 2.0]
    """
    return MapBlocksStream(self, fn=fn, element_type=element_type)


@register_api()
def merge(self: Stream, other: Stream, fn: Callable[[Any, Any], Any], element_type: type | None = None) -> Stream:
    """Combine elements pairwise with ``fn(x, y)``; an ended side passes None, a None result ends the stream."""
    return MergeStream(self, other, fn=fn, element_type=element_type)


@register_api()
def trim(self: Stream, length: "float | int | str", unit: str = "ms") -> Stream:
    """Keep the first ``length`` of the stream, for example ``trim(1500)`` or ``trim("1.5s")``.

    Parameters
    ----------
    length : float or int or str
        Length in ``unit``, or a string with its own unit such as ``"1.5s"``.
    unit : str, default "ms"
        One of ns, us, ms, s, m, h, d.

    Raises
    ------
    InvalidParameterError
        If the length is negative or the unit unknown.
    """
    nanos = TimeMeasure.of(length, unit).nanos
    if nanos < 0:
        raise InvalidParameterError(f"trim length {length!r} {unit} is negative; pass a length >= 0")
    return TrimStream(self, nanos=nanos)


@register_api()
def concat(self: Stream, other: Stream) -> Stream:
    """Append ``other`` after this finite stream."""
    if not isinstance(other, Stream):
        raise InvalidParameterError(f"cannot concatenate {other!r} (a {type(other).__name__}); pass a stream")
    return ConcatStream(self, other)


@register_api()
def range_projection(self: Stream, start: "float | int | str", end: "float | int | str | None" = None,
                     unit: str = "ms") -> Stream:
    """Keep the part of the stream from ``start`` to ``end`` (open end when None)."""
    start_nanos = TimeMeasure.of(start, unit).nanos
    end_nanos = None if end is None else TimeMeasure.of(end, unit).nanos
    return ProjectionStream(self, start_nanos=start_nanos, end_nanos=end_nanos)


@register_api()
def after_filling(self: Stream, zero: Any = 0.0) -> Stream:
    """Continue a finite stream with ``zero`` forever."""
    if not self.is_finite:
        raise InvalidParameterError(f"{self.label()} is already infinite; after_filling needs a finite stream")
    return AfterFillingStream(self, zero=zero)


del _name
