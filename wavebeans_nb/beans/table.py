"""In-memory tables: time series written by one graph and read by queries or by other graphs.

``stream.to_table("name", max_size="60s")`` is an output that stores every
element with a time marker: element k is stamped with the time of its first
sample, ``floor(index · 10⁹ / sample_rate)`` ns computed exactly, where index
counts samples (a window counts its step). Elements older than ``max_size``
before the newest marker are dropped. ``to_sample_table`` stores a sample
stream in a numpy ring buffer instead of one Python object per sample.

Tables live in a :class:`TableRegistry`; :data:`default_registry` is used
unless another is passed. ``wavebeans_nb.table("name")`` returns a handle
whose ``last``, ``time_range`` and ``stream`` methods are streams that can be
the input of another graph. Tables are in-process objects: a graph that reads
one must run in the process (and the registry) that contains it.
"""

from __future__ import annotations

import bisect
import logging
import threading
import uuid
from fractions import Fraction
from typing import Any, Iterator

import numpy as np

from ..errors import InvalidParameterError
from .base import BeanKind, Stream, register_api
from .blocks import Block, block_from_elements, block_measures, iter_elements
from .outputs.base import Output, Writer
from .timeunit import TimeMeasure

__all__ = [
    "Table", "SampleTable", "TableRegistry", "TableHandle", "TableOutput", "TableQueryStream",
    "TableNotFoundError", "TableExistsError", "default_registry", "table",
]

logger = logging.getLogger(__name__)

_NANOS = 1_000_000_000


class TableNotFoundError(InvalidParameterError):
    """No table of that name is registered."""


class TableExistsError(InvalidParameterError):
    """A table of that name is already registered."""


def _nanos(value: "int | float | str | TimeMeasure", unit: str = "ms") -> int:
    return TimeMeasure.of(value, unit).nanos


class _Timeline:
    """Exact conversions between sample indices and ns markers at one sample rate."""

    def __init__(self, sample_rate: float) -> None:
        rate = Fraction(sample_rate)
        self.sample_rate = float(sample_rate)
        self.num, self.den = rate.numerator, rate.denominator

    def marker(self, index: int) -> int:
        """Return ``floor(index · 10⁹ / sample_rate)`` ns."""
        return index * _NANOS * self.den // self.num

    def markers(self, indices: np.ndarray) -> list[int]:
        return [self.marker(i) for i in indices.tolist()]

    def first_index_at(self, nanos: int) -> int:
        """Return the smallest index whose marker is >= ``nanos``."""
        return max(0, -((-nanos * self.num) // (_NANOS * self.den)))


class Table:
    """A time series of elements stamped with ns markers, with retention by time length.

    Thread-safe: one writer and any number of readers. Continuous readers wait
    on a condition variable for new rows.

    Parameters
    ----------
    name : str
        Registry key.
    max_size_nanos : int
        Retention: an element is kept while its marker is greater than the
        newest marker minus this length.
    element_type : type
        Element type of the stream written into the table.
    """

    def __init__(self, name: str, max_size_nanos: int, element_type: type = object, token: str | None = None) -> None:
        if max_size_nanos <= 0:
            raise InvalidParameterError(f"table retention {TimeMeasure(max_size_nanos)} is invalid; pass a positive length")
        self.name = name
        self.max_size_nanos = int(max_size_nanos)
        self.element_type = element_type
        self.token = token
        self.condition = threading.Condition()
        self.timeline: _Timeline | None = None
        self.next_index = 0  # sample index the next written element starts at
        self.finished = False
        self._markers: list[int] = []
        self._elements: list = []
        self._head = 0  # rows before _head were dropped by retention
        self._dropped = 0  # absolute row number of _markers[_head]

    # -- writing ---------------------------------------------------------------------

    def begin_writing(self, sample_rate: float) -> None:
        """Prepare for a writer at ``sample_rate`` Hz; a resumed table continues after its last element.

        Raises
        ------
        InvalidParameterError
            If the table already contains data at another sample rate.
        """
        with self.condition:
            if self.timeline is not None and self.next_index and self.timeline.sample_rate != float(sample_rate):
                raise InvalidParameterError(
                    f"table {self.name!r} contains data at {self.timeline.sample_rate:g} Hz and cannot accept a stream "
                    f"at {sample_rate:g} Hz; write at the same rate or use another table"
                )
            self.timeline = _Timeline(sample_rate)
            self.finished = False

    def write_block(self, block: Block) -> None:
        """Append a block of elements, stamping each with the time of its first sample."""
        measures = block_measures(block)
        starts = self.next_index + np.cumsum(measures) - measures
        markers = self.timeline.markers(starts)
        with self.condition:
            if self.finished:
                raise InvalidParameterError(f"table {self.name!r} is finished; start a new writer to add data")
            self._markers.extend(markers)
            self._elements.extend(iter_elements(block))
            self.next_index += int(measures.sum())
            self._apply_retention()
            self.condition.notify_all()

    def finish(self) -> None:
        """Mark the stream as finished, so continuous readers end after the last row."""
        with self.condition:
            self.finished = True
            self.condition.notify_all()

    def _apply_retention(self) -> None:
        if len(self._markers) == self._head:
            return
        oldest_kept = self._markers[-1] - self.max_size_nanos
        cut = bisect.bisect_right(self._markers, oldest_kept, lo=self._head)
        self._dropped += cut - self._head
        self._head = cut
        if self._head > 1024 and self._head * 2 > len(self._markers):
            del self._markers[: self._head]
            del self._elements[: self._head]
            self._head = 0

    # -- reading ---------------------------------------------------------------------

    def first_marker(self) -> TimeMeasure | None:
        """Return the marker of the oldest kept element, or None when empty."""
        with self.condition:
            return TimeMeasure(self._markers[self._head]) if len(self._markers) > self._head else None

    def last_marker(self) -> TimeMeasure | None:
        """Return the marker of the newest element, or None when empty."""
        with self.condition:
            return TimeMeasure(self._markers[-1]) if len(self._markers) > self._head else None

    def _last_nanos(self) -> int:
        return self._markers[-1] if len(self._markers) > self._head else 0

    def select(self, start_nanos: int, end_nanos: int) -> Block:
        """Return the elements with ``start <= marker < end`` (markers in ns)."""
        with self.condition:
            lo = bisect.bisect_left(self._markers, start_nanos, lo=self._head)
            hi = bisect.bisect_left(self._markers, end_nanos, lo=lo)
            return block_from_elements(self._elements[lo:hi], self.element_type)

    def last(self, interval_nanos: int) -> Block:
        """Return the elements with ``newest − interval < marker <= newest``."""
        with self.condition:
            newest = self._last_nanos()
            return self.select(newest - interval_nanos + 1, newest + 1)

    def cursor_at(self, start_nanos: int) -> int:
        """Return the absolute row position of the first element with marker >= ``start_nanos``."""
        with self.condition:
            return self._dropped + bisect.bisect_left(self._markers, start_nanos, lo=self._head) - self._head

    def read_from(self, cursor: int, limit: int, timeout: float | None) -> tuple[Block | None, int]:
        """Wait for rows at or after ``cursor`` and return up to ``limit`` of them with the next cursor.

        Returns ``(None, cursor)`` when the table is finished and everything was read.

        Raises
        ------
        TimeoutError
            If ``timeout`` seconds pass without a new row.
        """
        with self.condition:
            while True:
                available = self._dropped + len(self._markers) - self._head
                if available > cursor:
                    break
                if self.finished:
                    return None, cursor
                if not self.condition.wait(timeout):
                    raise TimeoutError(f"no new rows in table {self.name!r} for {timeout} s")
            if cursor < self._dropped:
                logger.warning("table %s: reader fell behind, %d rows dropped by retention", self.name,
                               self._dropped - cursor)
                cursor = self._dropped
            lo = self._head + cursor - self._dropped
            hi = min(lo + limit, len(self._markers))
            return block_from_elements(self._elements[lo:hi], self.element_type), cursor + hi - lo

    def __len__(self) -> int:
        with self.condition:
            return len(self._markers) - self._head


class _SampleRing:
    """Samples in one numpy buffer with a moving start; grows by doubling, compacts in place."""

    def __init__(self) -> None:
        self.buffer = np.empty(1024)
        self.start = 0  # buffer offset of the first kept sample
        self.count = 0

    def append(self, samples: np.ndarray) -> None:
        needed = self.count + len(samples)
        if self.start + needed > len(self.buffer):
            if needed * 2 <= len(self.buffer):
                self.buffer[: self.count] = self.buffer[self.start: self.start + self.count]
            else:
                grown = np.empty(max(needed * 2, len(self.buffer) * 2))
                grown[: self.count] = self.buffer[self.start: self.start + self.count]
                self.buffer = grown
            self.start = 0
        self.buffer[self.start + self.count: self.start + needed] = samples
        self.count = needed

    def drop(self, count: int) -> None:
        count = min(count, self.count)
        self.start += count
        self.count -= count

    def view(self, lo: int, hi: int) -> np.ndarray:
        """Return a copy of the kept samples at offsets ``[lo, hi)`` from the first kept one."""
        return self.buffer[self.start + lo: self.start + hi].copy()


class SampleTable(Table):
    """A table of samples stored in a numpy ring buffer; sample i has marker ``floor(i · 10⁹ / rate)`` ns."""

    def __init__(self, name: str, max_size_nanos: int, token: str | None = None) -> None:
        super().__init__(name, max_size_nanos, float, token)
        self._ring = _SampleRing()
        self._first_index = 0  # sample index of the oldest kept sample

    def write_block(self, block: Block) -> None:
        samples = np.asarray(block, dtype=np.float64)
        with self.condition:
            if self.finished:
                raise InvalidParameterError(f"table {self.name!r} is finished; start a new writer to add data")
            if self._ring.count == 0:
                self._first_index = self.next_index
            self._ring.append(samples)
            self.next_index += len(samples)
            oldest_kept = self.timeline.marker(self.next_index - 1) - self.max_size_nanos
            first = max(self._first_index, self.timeline.first_index_at(oldest_kept + 1))
            self._ring.drop(first - self._first_index)
            self._first_index = first
            self.condition.notify_all()

    def _bounds(self) -> tuple[int, int]:
        return self._first_index, self._first_index + self._ring.count

    def first_marker(self) -> TimeMeasure | None:
        with self.condition:
            first, end = self._bounds()
            return TimeMeasure(self.timeline.marker(first)) if end > first else None

    def last_marker(self) -> TimeMeasure | None:
        with self.condition:
            first, end = self._bounds()
            return TimeMeasure(self.timeline.marker(end - 1)) if end > first else None

    def _last_nanos(self) -> int:
        first, end = self._bounds()
        return self.timeline.marker(end - 1) if end > first else 0

    def select(self, start_nanos: int, end_nanos: int) -> np.ndarray:
        with self.condition:
            first, end = self._bounds()
            if end == first:
                return np.empty(0)
            lo = min(max(first, self.timeline.first_index_at(start_nanos)), end)
            hi = min(max(lo, self.timeline.first_index_at(end_nanos)), end)
            return self._ring.view(lo - first, hi - first)

    def cursor_at(self, start_nanos: int) -> int:
        with self.condition:
            return self.timeline.first_index_at(start_nanos) if self.timeline is not None else 0

    def read_from(self, cursor: int, limit: int, timeout: float | None) -> tuple[np.ndarray | None, int]:
        with self.condition:
            while self._bounds()[1] <= cursor:
                if self.finished:
                    return None, cursor
                if not self.condition.wait(timeout):
                    raise TimeoutError(f"no new samples in table {self.name!r} for {timeout} s")
            first, end = self._bounds()
            if cursor < first:
                logger.warning("table %s: reader fell behind, %d samples dropped by retention", self.name, first - cursor)
                cursor = first
            hi = min(cursor + limit, end)
            return self._ring.view(cursor - first, hi - first), hi

    def __len__(self) -> int:
        with self.condition:
            return self._ring.count


class TableRegistry:
    """Named tables of one process. Create one per application, or use :data:`default_registry`."""

    def __init__(self) -> None:
        self._tables: dict[str, Table] = {}
        self._lock = threading.Lock()

    def create(self, name: str, max_size_nanos: int, *, samples: bool = False, element_type: type = object,
               reuse: bool = False, token: str | None = None) -> Table:
        """Create a table, or return the existing one when ``reuse`` is True or ``token`` matches.

        Raises
        ------
        TableExistsError
            If the name is taken and neither ``reuse`` nor a matching ``token`` is given.
        """
        if not isinstance(name, str) or not name:
            raise InvalidParameterError(f"table name {name!r} is invalid; pass a non-empty string")
        with self._lock:
            existing = self._tables.get(name)
            if existing is not None:
                if reuse or (token is not None and existing.token == token):
                    if isinstance(existing, SampleTable) != samples:
                        raise TableExistsError(
                            f"table {name!r} exists as a {'sample' if not samples else 'general'} table; "
                            "use another name"
                        )
                    return existing
                raise TableExistsError(
                    f"table {name!r} already exists; pass reuse=True to write into it, choose another name, "
                    f"or remove it first with registry.remove({name!r})"
                )
            created = (SampleTable(name, max_size_nanos, token) if samples
                       else Table(name, max_size_nanos, element_type, token))
            self._tables[name] = created
            logger.debug("created table %s", name)
            return created

    def get(self, name: str) -> Table:
        """Return the table called ``name``.

        Raises
        ------
        TableNotFoundError
            If there is no such table.
        """
        with self._lock:
            try:
                return self._tables[name]
            except KeyError:
                known = ", ".join(sorted(self._tables)) or "none"
                raise TableNotFoundError(
                    f"table {name!r} not found (tables: {known}); create it with stream.to_table({name!r}) first"
                ) from None

    def remove(self, name: str) -> None:
        """Remove a table; continuous readers of it end after the rows they can still see."""
        table = self.get(name)
        table.finish()
        with self._lock:
            self._tables.pop(name, None)

    def names(self) -> list[str]:
        """Return the registered table names, sorted."""
        with self._lock:
            return sorted(self._tables)

    def __contains__(self, name: object) -> bool:
        with self._lock:
            return name in self._tables


#: The registry used when no other is passed.
default_registry = TableRegistry()


# -- output ------------------------------------------------------------------------------


class _TableWriter(Writer):
    def __init__(self, output: "TableOutput", blocks: Iterator[Block], sample_rate: float, target: Table) -> None:
        super().__init__(output, blocks, sample_rate)
        self.table = target
        target.begin_writing(sample_rate)

    def _write_block(self, block: Block) -> None:
        self.table.write_block(block)

    def _end(self) -> None:
        self.table.finish()

    def _commit(self) -> None:
        self.table.finish()

    def _discard(self) -> None:
        self.table.finish()


def _check_registry(registry: Any) -> None:
    if registry is not None and not isinstance(registry, TableRegistry):
        raise InvalidParameterError(
            f"registry {registry!r} is not a TableRegistry; pass a TableRegistry() or leave it out for the default"
        )


class TableOutput(Output):
    """Writes a stream into a registered table (created when the output is built)."""

    def __init__(self, input: Stream, *, name: str, max_size_nanos: int, samples: bool = False,
                 reuse: bool = False, registry: TableRegistry | None = None, token: str | None = None) -> None:
        if samples and input.element_type is not float:
            raise InvalidParameterError(
                "to_sample_table() needs a sample stream; use to_table() for windows and other elements"
            )
        if not isinstance(reuse, (bool, np.bool_)):
            raise InvalidParameterError(f"reuse {reuse!r} is not a bool; pass True or False")
        _check_registry(registry)
        token = token or uuid.uuid4().hex
        super().__init__(input, name=name, max_size_nanos=int(max_size_nanos), samples=bool(samples),
                         reuse=bool(reuse), registry=registry, token=token)
        self.table = self._registry().create(name, int(max_size_nanos), samples=samples,
                                             element_type=input.element_type, reuse=reuse, token=token)

    def _registry(self) -> TableRegistry:
        return self.params["registry"] or default_registry

    def label(self) -> str:
        kind = "to_sample_table" if self.params["samples"] else "to_table"
        return f"{kind}({self.params['name']!r})"

    def _make_writer(self, blocks: Iterator[Block], sample_rate: float) -> Writer:
        return _TableWriter(self, blocks, sample_rate, self.table)


# -- queries as streams -------------------------------------------------------------------


class TableQueryStream(Stream):
    """Elements of a table: the last interval, a time range, or a continuous read that follows the writer.

    The table is looked up when the stream is evaluated. The stream has no
    desired sample rate; the elements come out as they were written.
    """

    kind = BeanKind.SOURCE

    def __init__(self, *, name: str, query: str, start_nanos: int = 0, end_nanos: int = 0,
                 registry: TableRegistry | None = None, timeout: float | None = None) -> None:
        if query not in ("last", "range", "stream"):
            raise InvalidParameterError(f"table query {query!r} is unknown; use 'last', 'range' or 'stream'")
        super().__init__(name=name, query=query, start_nanos=int(start_nanos), end_nanos=int(end_nanos),
                         registry=registry, timeout=timeout)
        source = self._table()
        self.element_type = source.element_type

    def _table(self) -> Table:
        return (self.params["registry"] or default_registry).get(self.params["name"])

    def label(self) -> str:
        query = self.params["query"]
        if query == "last":
            detail = f"last {TimeMeasure(self.params['start_nanos'])}"
        elif query == "range":
            detail = f"{TimeMeasure(self.params['start_nanos'])}..{TimeMeasure(self.params['end_nanos'])}"
        else:
            detail = f"stream from last - {TimeMeasure(self.params['start_nanos'])}"
        return f"table({self.params['name']!r}, {detail})"

    @property
    def is_finite(self) -> bool:
        return True

    def _blocks(self, sample_rate: float, block_size: int) -> Iterator[Block]:
        source = self._table()
        query = self.params["query"]
        if query == "last":
            rows = source.last(self.params["start_nanos"])
        elif query == "range":
            rows = source.select(self.params["start_nanos"], self.params["end_nanos"])
        else:
            yield from self._follow(source, block_size)
            return
        for start in range(0, len(rows), block_size):
            yield rows[start: start + block_size]

    def _follow(self, source: Table, block_size: int) -> Iterator[Block]:
        with source.condition:
            cursor = source.cursor_at(source._last_nanos() - self.params["start_nanos"])
        while True:
            block, cursor = source.read_from(cursor, block_size, self.params["timeout"])
            if block is None:
                return
            yield block


class TableHandle:
    """Queries on one registered table; each query is a stream usable as a graph input."""

    def __init__(self, name: str, registry: TableRegistry | None = None) -> None:
        if not isinstance(name, str):
            raise InvalidParameterError(f"table name {name!r} is not a string; pass the name given to to_table()")
        _check_registry(registry)
        self.name = name
        self.registry = registry
        self.table = (registry or default_registry).get(name)

    def last(self, interval: "int | float | str | TimeMeasure", unit: str = "ms") -> TableQueryStream:
        """Return the elements whose markers are within ``interval`` of the newest (newest − interval < t <= newest)."""
        nanos = _nanos(interval, unit)
        if nanos < 0:
            raise InvalidParameterError(f"interval {interval!r} is negative; pass a length >= 0")
        return TableQueryStream(name=self.name, query="last", start_nanos=nanos, registry=self.registry)

    def time_range(self, start: "int | float | str | TimeMeasure", end: "int | float | str | TimeMeasure",
                   unit: str = "ms") -> TableQueryStream:
        """Return the elements with ``start <= marker < end`` (empty when start > end)."""
        return TableQueryStream(name=self.name, query="range", start_nanos=_nanos(start, unit),
                                end_nanos=_nanos(end, unit), registry=self.registry)

    def stream(self, offset: "int | float | str | TimeMeasure" = 0, unit: str = "ms",
               timeout: float | None = None) -> TableQueryStream:
        """Return a continuous read from ``newest − offset`` that follows new rows until the writer finishes.

        The start is taken when the stream is evaluated. ``timeout`` in seconds
        ends the read with TimeoutError when no row arrives for that long.
        """
        return TableQueryStream(name=self.name, query="stream", start_nanos=_nanos(offset, unit),
                                registry=self.registry, timeout=timeout)

    def first_marker(self) -> TimeMeasure | None:
        """Return the marker of the oldest kept element, or None."""
        return self.table.first_marker()

    def last_marker(self) -> TimeMeasure | None:
        """Return the marker of the newest element, or None."""
        return self.table.last_marker()

    def __len__(self) -> int:
        return len(self.table)


def table(name: str, registry: TableRegistry | None = None) -> TableHandle:
    """Return a handle on the table called ``name``.

    Raises
    ------
    TableNotFoundError
        If no table of that name is registered.

    Examples
    --------
    >>> import wavebeans_nb as wb
    >>> registry = wb.TableRegistry()
    >>> out = wb.list_input([0.1, 0.2, 0.3]).to_sample_table("demo", registry=registry)
    >>> with wb.SingleThreadedOverseer([out]) as overseer:
    ...     overseer.eval(1000)[0].result().finished
    True
    >>> list(wb.table("demo", registry).last("2ms").elements(1000))
    [0.2, 0.3]
    """
    return TableHandle(name, registry)


@register_api()
def to_table(self: Stream, name: str, max_size: "int | float | str | TimeMeasure" = "60s", unit: str = "ms",
             reuse: bool = False, registry: TableRegistry | None = None) -> TableOutput:
    """Write the stream into an in-memory table called ``name``.

    Parameters
    ----------
    name : str
        Table name, unique within the registry.
    max_size : int or float or str, default "60s"
        Retention length: elements older than this before the newest are dropped.
    unit : str, default "ms"
        Unit of a numeric ``max_size``.
    reuse : bool, default False
        Write into an existing table of that name instead of raising; the
        writer continues after the table's last element.
    registry : TableRegistry, optional
        Where to register the table; :data:`default_registry` by default.

    Raises
    ------
    TableExistsError
        If the name is taken and ``reuse`` is False.
    """
    return TableOutput(self, name=name, max_size_nanos=_nanos(max_size, unit), reuse=reuse, registry=registry)


@register_api()
def to_sample_table(self: Stream, name: str, max_size: "int | float | str | TimeMeasure" = "60s", unit: str = "ms",
                    reuse: bool = False, registry: TableRegistry | None = None) -> TableOutput:
    """Write a sample stream into an in-memory sample table (a numpy ring buffer); see :meth:`to_table`."""
    return TableOutput(self, name=name, max_size_nanos=_nanos(max_size, unit), samples=True, reuse=reuse,
                       registry=registry)
