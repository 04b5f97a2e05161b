"""Pod proxies: the streams a pod's beans read other pods through.

A proxy is used in place of the producer bean. It reports the producer's
element type, finiteness and sample rate from the plan, and its blocks are
the producer pod's chunks, fetched with the pod call protocol through the
job's :class:`~wavebeans_nb.execution.discovery.PodDiscovery`. A merging proxy
reads the N partition copies of a bean and puts their chunks back in
sequence order, checking that no number is missing.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from typing import TYPE_CHECKING, Callable, Iterator

from ..beans.base import BeanKind, Stream
from ..beans.blocks import Block
from ..errors import ExecutionError, JobCancelledError, SampleRateMismatchError
from .chunking import join_parts
from .protocol import Chunk, ConsumerKey, PodCall, PodKey

if TYPE_CHECKING:
    from .context import JobContext
    from .podref import ProxyRef

__all__ = ["PodProxy", "StreamingPodProxy", "MergingPodProxy", "make_proxy"]

logger = logging.getLogger(__name__)


class _Reader:
    """Reads one cursor of one pod with ``iterator_start`` / ``iterator_next`` calls."""

    def __init__(self, proxy: "PodProxy", target: PodKey, partition: int | None) -> None:
        self.proxy = proxy
        self.target = target
        self.partition = partition
        self.context = proxy.context
        self.bush = self.context.discovery.bush_for(target)
        self.key: int | None = None

    def start(self, sample_rate: float) -> None:
        call = PodCall.iterator_start(sample_rate, self.partition, self.proxy.consumer)
        self.key = self.bush.call(self.target, call).unwrap()

    def fetch(self) -> list[Chunk] | None:
        """Return the next chunks, waiting for them; None at the end of the stream."""
        config = self.context.config
        chunks = self.bush.call(self.target, PodCall.iterator_next(self.key, config.prefetch_buckets)).unwrap()
        if chunks != []:
            return chunks
        self.proxy.announce_wait()
        with self.context.slots.released():
            while chunks == []:
                if self.context.cancelled:
                    raise JobCancelledError(f"job {self.context.job_id} was cancelled")
                call = PodCall.iterator_next(self.key, config.prefetch_buckets, config.poll_interval)
                chunks = self.bush.call(self.target, call).unwrap()
        return chunks

    def close(self) -> None:
        pass


class _PrefetchingReader(_Reader):
    """A reader that keeps up to ``prefetch_buckets`` chunks fetched ahead on a background thread."""

    def __init__(self, proxy: "PodProxy", target: PodKey, partition: int | None) -> None:
        super().__init__(proxy, target, partition)
        self._ready: deque = deque()  # chunk lists, then None at the end or an exception
        self._buffered = 0
        self._closed = False
        self._condition = threading.Condition()
        self._thread: threading.Thread | None = None

    def start(self, sample_rate: float) -> None:
        super().start(sample_rate)
        self._thread = threading.Thread(
            target=self._prefetch, daemon=True,
            name=f"wavebeans-{self.context.job_id}-prefetch-{self.target}-for-{self.proxy.consumer}",
        )
        self._thread.start()

    def _prefetch(self) -> None:
        limit = self.context.config.prefetch_buckets
        while True:
            with self._condition:
                while self._buffered >= limit and not self._closed:
                    self._condition.wait(self.context.config.poll_interval)
                if self._closed:
                    return
            try:
                item = self._fetch_batch()
            except Exception as error:
                item = error
            with self._condition:
                self._ready.append(item)
                self._buffered += len(item) if isinstance(item, list) else 0
                self._condition.notify_all()
            if not isinstance(item, list):
                return

    def _fetch_batch(self) -> list[Chunk] | None:
        # Each call to another worker costs about a millisecond of both event loops. No reader
        # waits on this thread directly, so it requests half a batch at least.
        config = self.context.config
        call = PodCall.iterator_next(self.key, config.prefetch_buckets, config.poll_interval,
                                     least=max(1, config.prefetch_buckets // 2))
        while True:
            chunks = self.bush.call(self.target, call).unwrap()
            if chunks != []:
                return chunks
            if self.context.cancelled:
                raise JobCancelledError(f"job {self.context.job_id} was cancelled")

    def fetch(self) -> list[Chunk] | None:
        with self._condition:
            waiting = not self._ready
        if waiting:
            self.proxy.announce_wait()
        with self.context.slots.released(), self._condition:
            while not self._ready:
                if self.context.cancelled:
                    raise JobCancelledError(f"job {self.context.job_id} was cancelled")
                self._condition.wait(self.context.config.poll_interval)
            item = self._ready.popleft()
            if isinstance(item, list):
                self._buffered -= len(item)
                self._condition.notify_all()
            else:
                self._ready.appendleft(item)  # the end and errors stay for later calls
        if isinstance(item, BaseException):
            raise item
        return item

    def close(self) -> None:
        with self._condition:
            self._closed = True
            self._condition.notify_all()


class PodProxy(Stream):
    """A stream whose elements come from another pod, used in place of the plan's producer bean.

    Attributes
    ----------
    ref : ProxyRef
        The plan entry: targets, split partition and the producer's metadata.
    consumer : ConsumerKey
        The reading pod and input slot; the producer pods know it from their plans.
    sequence_log : deque or None
        When set (by a partition copy's pod), ``(seq, length)`` of every chunk
        handed to the bean is appended, so the pod can number its output.
    on_wait : callable or None
        Called before the proxy waits for data, so the reading pod can hand
        its readers the chunks it has so far instead of letting them wait too.
    """

    kind = BeanKind.SOURCE

    def __init__(self, ref: "ProxyRef", reader: PodKey, context: "JobContext") -> None:
        super().__init__()
        self.ref = ref
        self.consumer = ConsumerKey(reader, ref.slot)
        self.context = context
        self.element_type = ref.element_type
        self.sequence_log: deque | None = None
        self.on_wait: Callable[[], None] | None = None
        self._released = False
        self._release_lock = threading.Lock()

    @property
    def desired_sample_rate(self) -> float | None:
        if self.ref.rate_error is not None:
            raise SampleRateMismatchError(self.ref.rate_error)
        return self.ref.desired_sample_rate

    @property
    def is_finite(self) -> bool:
        return self.ref.is_finite

    def label(self) -> str:
        targets = ", ".join(str(target) for target in self.ref.targets)
        return f"proxy({self.ref.label} from {targets})"

    def announce_wait(self) -> None:
        if self.on_wait is not None:
            self.on_wait()

    def _open(self, target: PodKey, partition: int | None) -> _Reader:
        prefetch = self.context.config.proxy_prefetch
        if prefetch is None:
            prefetch = not getattr(self.context.discovery.bush_for(target), "local", False)
        return (_PrefetchingReader if prefetch else _Reader)(self, target, partition)

    def _target_count(self, target: PodKey, sample_rate: float) -> int | None:
        bush = self.context.discovery.bush_for(target)
        return bush.call(target, PodCall.samples_count(sample_rate)).unwrap()

    def release(self) -> None:
        """Tell the producer pods that this consumer reads no more. Safe to call more than once."""
        with self._release_lock:
            if self._released:
                return
            self._released = True
        for target in self.ref.targets:
            try:
                bush = self.context.discovery.bush_for(target)
                bush.call(target, PodCall.iterator_close(self.consumer)).unwrap()
            except Exception:
                # The job is ending anyway, and a producer that cannot be notified stops with its bush.
                logger.debug("job %s: releasing %s on pod %s failed", self.context.job_id,
                             self.consumer, target, exc_info=True)


class StreamingPodProxy(PodProxy):
    """Reads one pod: every chunk, or for one copy of a split, every N-th chunk."""

    def samples_count(self, sample_rate: float) -> int | None:
        total = self._target_count(self.ref.targets[0], sample_rate)
        if total is None or self.ref.partition is None:
            return total
        # NOTE: exact for 1-D sample streams; for wide elements the producer cuts smaller
        # chunks, so this share is an estimate (it only feeds progress bars).
        chunk = self.context.config.chunk_elements(8 if self.element_type is float else None)
        return _partition_share(total, chunk, self.ref.partitions, self.ref.partition)

    def _blocks(self, sample_rate: float, block_size: int) -> Iterator[Block]:
        reader = self._open(self.ref.targets[0], self.ref.partition)
        try:
            reader.start(sample_rate)
            while True:
                chunks = reader.fetch()
                if chunks is None:
                    return
                if self.sequence_log is not None:
                    self.sequence_log.extend((chunk.seq, len(chunk)) for chunk in chunks)
                yield from _join([block for chunk in chunks for block in chunk.blocks()])
        finally:
            reader.close()
            self.release()


class MergingPodProxy(PodProxy):
    """Reads the N partition copies of a bean and yields their chunks in sequence order.

    Chunk k comes from partition k mod N. A chunk with another number, or a
    partition that still has chunks after the stream ended, is an error:
    the merged stream is never silently out of order.
    """

    def samples_count(self, sample_rate: float) -> int | None:
        counts = [self._target_count(target, sample_rate) for target in self.ref.targets]
        return None if None in counts else sum(counts)

    def _blocks(self, sample_rate: float, block_size: int) -> Iterator[Block]:
        readers = [self._open(target, None) for target in self.ref.targets]
        merger = _Merger(readers, self.ref.label)
        try:
            for reader in readers:
                reader.start(sample_rate)
            while True:
                parts = merger.take_run(block_size, self.context.config.prefetch_buckets)
                if not parts:
                    return
                yield from _join(parts)
        finally:
            for reader in readers:
                reader.close()
            self.release()


class _Merger:
    """Puts the chunks of N partition readers back in sequence order."""

    def __init__(self, readers: list[_Reader], label: str) -> None:
        self.readers = readers
        self.label = label
        self.pending = [deque() for _ in readers]
        self.ended = [False] * len(readers)
        self.seq = 0

    def _next(self, partition: int, wait: bool = True) -> Chunk | None:
        queue = self.pending[partition]
        while not queue and not self.ended[partition] and wait:
            chunks = self.readers[partition].fetch()
            if chunks is None:
                self.ended[partition] = True
            else:
                queue.extend(chunks)
        return queue.popleft() if queue else None

    def take_run(self, block_size: int, max_chunks: int) -> list[Block]:
        """Return the data of up to ``max_chunks`` next chunks in order: at least one unless the stream ended.

        Only the first chunk is waited for; the run stops at the first chunk
        not fetched yet, or at ``block_size`` elements.
        """
        parts: list[Block] = []
        count = 0
        while count < block_size and len(parts) < max_chunks:
            partition = self.seq % len(self.readers)
            chunk = self._next(partition, wait=not parts)
            if chunk is None:
                if not parts:
                    self._check_end(partition)
                return parts
            if chunk.seq != self.seq:
                raise ExecutionError(
                    f"merging the partitions of {self.label}: expected chunk {self.seq} from partition "
                    f"{partition}, got chunk {chunk.seq}", bean=self.label,
                )
            parts.extend(chunk.blocks())
            count += len(chunk)
            self.seq += 1
        return parts

    def _check_end(self, ended_partition: int) -> None:
        for partition in range(len(self.readers)):
            if partition == ended_partition:
                continue
            chunk = self._next(partition)
            if chunk is not None:
                raise ExecutionError(
                    f"merging the partitions of {self.label}: partition {ended_partition} ended at chunk "
                    f"{self.seq} but partition {partition} still has chunk {chunk.seq}", bean=self.label,
                )


def _join(parts: list[Block]) -> list[Block]:
    """Return the blocks to yield for consecutive chunk blocks: one joined block, or the batched blocks as they are."""
    joined = join_parts(parts)
    return list(joined) if isinstance(joined, tuple) else [joined]


def _partition_share(total: int, chunk_size: int, partitions: int, partition: int) -> int:
    """Return how many of ``total`` elements fall in the chunks dealt to ``partition``."""
    full, rest = divmod(total, chunk_size)
    chunks = full // partitions + (1 if partition < full % partitions else 0)
    share = chunks * chunk_size
    if rest and full % partitions == partition:
        share += rest
    return share


def make_proxy(ref: "ProxyRef", reader: PodKey, context: "JobContext") -> PodProxy:
    """Build the proxy a pod uses for one input slot: merging when it reads several partitions."""
    cls = MergingPodProxy if ref.merging else StreamingPodProxy
    return cls(ref, reader, context)
