"""Pods: the units of execution, and how a bush builds them from pod references.

A stream pod (:class:`StreamingPod`, :class:`SplittingPod`) runs its beans on
its own thread once the first consumer attaches, cuts the output into
numbered chunks and appends each chunk to the cursors of the consumers that
should get it. Cursors are created from the plan when the pod is built, so no
consumer can miss data by attaching late. Each cursor contains at most
``buffer_chunks`` chunks, and the pod waits while one is full, so a pod never
computes further ahead than its slowest consumer allows.

An :class:`OutputPod` wraps an output bean and is driven by its bush one
block (:meth:`OutputPod.tick`) at a time.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from typing import Any, Callable

from ..beans.base import Bean, rates_equal
from ..beans.outputs.base import Writer
from ..errors import ExecutionError, InvalidParameterError, JobCancelledError
from .chunking import ChunkCutter, SequenceCutter
from .context import JobContext
from .podref import PodRef
from .protocol import Chunk, ConsumerKey, ErrorEnvelope, PodCall, PodCallResult, PodFailure
from .proxies import PodProxy, make_proxy
from .summary import OutputSummary

__all__ = ["Pod", "StreamingPod", "SplittingPod", "OutputPod", "Cursor", "instantiate_pod"]

logger = logging.getLogger(__name__)


class Cursor:
    """One consumer's read position on a pod: a bounded queue of chunks.

    Attributes
    ----------
    partition : int or None
        None when the consumer gets every chunk; otherwise it gets the chunks
        with ``seq % partitions == partition`` (one copy of a split).
    """

    def __init__(self, index: int, consumer: ConsumerKey | None, partition: int | None,
                 partitions: int) -> None:
        self.index = index
        self.consumer = consumer
        self.partition = partition
        self.partitions = partitions
        self.queue: deque[Chunk] = deque()
        self.attached = False
        self.released = False
        self.max_buffered = 0
        self.chunks_served = 0
        self.starving_since: float | None = None

    def accepts(self, seq: int) -> bool:
        return self.partition is None or seq % self.partitions == self.partition

    def status(self) -> dict:
        return {
            "consumer": None if self.consumer is None else str(self.consumer),
            "partition": self.partition,
            "attached": self.attached,
            "released": self.released,
            "chunks_buffered": len(self.queue),
            "max_chunks_buffered": self.max_buffered,
            "chunks_served": self.chunks_served,
        }


class Pod:
    """Base of all pods: the call dispatcher, error capture and status."""

    kind = "pod"

    def __init__(self, ref: PodRef, beans: list[Bean], proxies: list[PodProxy], context: JobContext) -> None:
        self.ref = ref
        self.key = ref.key
        self.beans = beans  # downstream first
        self.tail = beans[0]
        self.proxies = proxies
        self.context = context
        self.calls_served = 0
        self._lock = threading.Condition()
        self._handlers: dict[str, Callable[..., Any]] = {
            "iterator_start": self.iterator_start,
            "iterator_next": self.iterator_next,
            "iterator_close": self.iterator_close,
            "samples_count": self.samples_count,
            "status": self.status,
        }

    @property
    def label(self) -> str:
        return self.ref.label

    def call(self, call: PodCall) -> PodCallResult:
        """Run one protocol call and return its result; an exception becomes the result's error envelope."""
        self.calls_served += 1
        try:
            call.validate()
            return PodCallResult(value=self._handlers[call.method](**call.args))
        except PodFailure as failure:
            return PodCallResult(error=failure.envelope)
        except Exception as error:
            return PodCallResult(error=self.envelope(error))

    # -- protocol; stream pods override these ------------------------------------

    def iterator_start(self, sample_rate: float, partition: int | None = None,
                       consumer: ConsumerKey | None = None) -> int:
        raise InvalidParameterError(f"pod {self.key} ({self.label}) is an output; it cannot be read")

    def iterator_next(self, key: int, buckets: int, wait: float = 0.0, least: int = 1) -> list[Chunk] | None:
        raise InvalidParameterError(f"pod {self.key} ({self.label}) is an output; it cannot be read")

    def iterator_close(self, consumer: ConsumerKey) -> None:
        raise InvalidParameterError(f"pod {self.key} ({self.label}) is an output; it cannot be read")

    def samples_count(self, sample_rate: float) -> int | None:
        return self.tail.samples_count(sample_rate)

    def status(self) -> dict:
        """Return a plain-data snapshot of the pod."""
        return {"key": str(self.key), "kind": self.kind, "label": self.label,
                "beans": [bean.label() for bean in self.beans], "calls_served": self.calls_served}

    # -- errors and shutdown --------------------------------------------------------

    def failing_bean(self, error: BaseException) -> str:
        """Return the label of the innermost bean of this pod in ``error``'s traceback."""
        if isinstance(error, ExecutionError) and error.bean:
            return error.bean
        ours = {id(bean): bean for bean in self.beans}
        found = None
        trace = error.__traceback__
        while trace is not None:
            owner = trace.tb_frame.f_locals.get("self")
            if isinstance(owner, Writer):
                owner = owner.output
            if owner is not None and ours.get(id(owner)) is owner:
                found = owner
            trace = trace.tb_next
        return (found or self.tail).label()

    def envelope(self, error: BaseException) -> ErrorEnvelope:
        """Capture ``error`` as raised by this pod; an upstream failure keeps its own envelope."""
        if isinstance(error, PodFailure):
            return error.envelope
        return ErrorEnvelope.from_exception(error, bean=self.failing_bean(error), pod=self.key)

    def release_inputs(self) -> None:
        """Release this pod's cursors on the pods it reads, so they stop keeping data for it."""
        for proxy in self.proxies:
            proxy.release()

    def close(self) -> None:
        """Stop the pod and release its inputs."""
        self.release_inputs()

    def join(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for the pod's thread; return True when it has ended."""
        return True

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.key} {self.label}>"


class StreamingPod(Pod):
    """A pod that serves its stream to the consumers registered in its plan.

    It starts computing, on its own thread, when the first consumer calls
    ``iterator_start``; the sample rate of that call is the rate it runs at.
    """

    kind = "streaming"

    def __init__(self, ref: PodRef, beans: list[Bean], proxies: list[PodProxy], context: JobContext) -> None:
        super().__init__(ref, beans, proxies, context)
        self._cursors = [
            Cursor(index, item.consumer, item.partition, item.partitions)
            for index, item in enumerate(ref.consumers)
        ]
        self._rate: float | None = None
        self._thread: threading.Thread | None = None
        self._ended = False
        self._stopped = False
        self._error: ErrorEnvelope | None = None
        self._chunks_produced = 0
        self._log: deque = deque()
        if ref.sequenced:
            proxies[0].sequence_log = self._log
        for proxy in proxies:
            proxy.on_wait = self._wake_readers

    # -- protocol ----------------------------------------------------------------------

    def iterator_start(self, sample_rate: float, partition: int | None = None,
                       consumer: ConsumerKey | None = None) -> int:
        """Attach ``consumer``'s cursor, starting the pod at ``sample_rate`` if it is the first."""
        with self._lock:
            cursor = self._attach(consumer, partition)
            if self._rate is None:
                self._rate = float(sample_rate)
                self._thread = threading.Thread(
                    target=self._run, name=f"wavebeans-{self.context.job_id}-pod-{self.key}", daemon=True
                )
                self._thread.start()
            elif not rates_equal(self._rate, sample_rate):
                raise InvalidParameterError(
                    f"pod {self.key} ({self.label}) runs at {self._rate:g} Hz but consumer "
                    f"{consumer} reads it at {sample_rate:g} Hz; one stream cannot run at two rates"
                )
            cursor.attached = True
            return cursor.index

    def _attach(self, consumer: ConsumerKey | None, partition: int | None) -> "Cursor":
        for cursor in self._cursors:
            if consumer is not None and cursor.consumer == consumer:
                if cursor.attached or cursor.released:
                    raise InvalidParameterError(
                        f"consumer {consumer} already read pod {self.key} ({self.label}); a bean that "
                        "iterates its input twice cannot run in pods"
                    )
                if cursor.partition != partition:
                    raise InvalidParameterError(
                        f"consumer {consumer} of pod {self.key} is planned to read partition "
                        f"{cursor.partition}, not {partition}"
                    )
                return cursor
        if self._rate is not None or partition is not None:
            raise InvalidParameterError(
                f"consumer {consumer} is not in the plan of pod {self.key} ({self.label}), which has "
                "already started; unplanned readers may only attach, for every chunk, before the pod starts"
            )
        cursor = Cursor(len(self._cursors), consumer, None, 1)
        self._cursors.append(cursor)
        return cursor

    def iterator_next(self, key: int, buckets: int, wait: float = 0.0, least: int = 1) -> list[Chunk] | None:
        """Return up to ``buckets`` chunks once ``least`` of them are ready, or at the end of the stream.

        After ``wait`` seconds it returns what is there: fewer chunks, or []
        when none arrived. None means the stream has ended.
        """
        cursor = self._cursor(key)
        least = min(least, buckets)
        with self._lock:
            if wait <= 0 or self._may_take(cursor, least):
                return self._take(cursor, buckets)
        deadline = time.monotonic() + wait
        with self.context.slots.released(), self._lock:
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self._may_take(cursor, least):
                    return self._take(cursor, buckets)
                self._lock.wait(min(remaining, self.context.config.poll_interval))

    def _may_take(self, cursor: Cursor, least: int) -> bool:
        # Called with the lock held: enough chunks are queued, or nothing more will come.
        return (len(cursor.queue) >= least or self._ended or cursor.released or self._error is not None
                or self.context.cancelled)

    def iterator_close(self, consumer: ConsumerKey) -> None:
        """Release ``consumer``'s cursor; when no cursor is left the pod stops and releases its inputs."""
        with self._lock:
            for cursor in self._cursors:
                if cursor.consumer == consumer and not cursor.released:
                    cursor.released = True
                    cursor.queue.clear()
            finished = all(cursor.released for cursor in self._cursors)
            if finished:
                self._stopped = True
            started = self._thread is not None
            self._lock.notify_all()
        if finished and not started:
            self.release_inputs()

    def _cursor(self, key: int) -> Cursor:
        if not 0 <= key < len(self._cursors) or not self._cursors[key].attached:
            raise InvalidParameterError(f"iterator key {key} is not attached to pod {self.key}; call iterator_start first")
        return self._cursors[key]

    def _take(self, cursor: Cursor, buckets: int) -> list[Chunk] | None:
        # Called with the lock held. [] means "nothing yet".
        if cursor.queue:
            count = min(buckets, len(cursor.queue))
            chunks = [cursor.queue.popleft() for _ in range(count)]
            cursor.chunks_served += count
            cursor.starving_since = None
            self._lock.notify_all()
            return chunks
        if self._error is not None:
            raise PodFailure(self._error)
        if self.context.cancelled:
            # Checked before the end: a pod stopped by cancellation must not look finished.
            raise JobCancelledError(f"job {self.context.job_id} was cancelled")
        if self._ended or cursor.released:
            return None
        if cursor.starving_since is None:
            cursor.starving_since = time.monotonic()
        return []

    # -- the pod's thread ----------------------------------------------------------------

    def _run(self) -> None:
        envelope = None
        with self.context.slots.hold():
            try:
                self._produce()
            except JobCancelledError:
                logger.debug("job %s: pod %s cancelled", self.context.job_id, self.key)
            except Exception as error:
                envelope = self.envelope(error)
                logger.info("job %s: pod %s failed: %s", self.context.job_id, self.key, envelope.message)
        self.release_inputs()
        with self._lock:
            self._error = envelope
            self._ended = True
            self._lock.notify_all()

    def _produce(self) -> None:
        config = self.context.config
        if self.ref.sequenced:
            cutter: Any = SequenceCutter(self._log, self.tail.label())
        else:
            cutter = ChunkCutter(config.chunk_elements)
        blocks = self.tail.iter_blocks(self._rate, config.block_size)
        try:
            for block in blocks:
                for chunk in cutter.push(block):
                    if not self._deliver(chunk):
                        return
            for chunk in cutter.finish():
                if not self._deliver(chunk):
                    return
        finally:
            blocks.close()

    def _deliver(self, chunk: Chunk) -> bool:
        """Append ``chunk`` to the cursors that take it, waiting for room; False when the pod must stop."""
        blocked_since = None
        while True:
            with self._lock:
                done = self._append(chunk)
            if done is not None:
                return done
            now = time.monotonic()
            blocked_since = blocked_since or now
            if now - blocked_since > self.context.config.stall_timeout:
                self._check_stall(now)
            with self.context.slots.released(), self._lock:
                if self._append_would_wait(chunk):
                    self._lock.notify_all()  # readers with part of a batch may drain it meanwhile
                    self._lock.wait(self.context.config.poll_interval)

    def _wake_readers(self) -> None:
        with self._lock:
            self._lock.notify_all()

    def _targets(self, chunk: Chunk) -> list[Cursor]:
        return [cursor for cursor in self._cursors if not cursor.released and cursor.accepts(chunk.seq)]

    def _append_would_wait(self, chunk: Chunk) -> bool:
        if self._stopped or self.context.cancelled:
            return False
        bound = self.context.config.buffer_chunks
        return any(len(cursor.queue) >= bound for cursor in self._targets(chunk))

    def _append(self, chunk: Chunk) -> bool | None:
        # Called with the lock held: True appended, False stop, None no room yet.
        if self.context.cancelled:
            raise JobCancelledError(f"job {self.context.job_id} was cancelled")
        if self._stopped or all(cursor.released for cursor in self._cursors):
            self._stopped = True
            return False
        if self._append_would_wait(chunk):
            return None
        config = self.context.config
        # Waking a waiting reader per chunk costs a thread switch each; wake it once a batch is ready.
        batch = min(config.prefetch_buckets, config.buffer_chunks)
        wake = False
        for cursor in self._targets(chunk):
            cursor.queue.append(chunk)
            cursor.max_buffered = max(cursor.max_buffered, len(cursor.queue))
            wake = wake or len(cursor.queue) >= batch
        self._chunks_produced += 1
        if wake:
            self._lock.notify_all()
        return True

    def _check_stall(self, now: float) -> None:
        timeout = self.context.config.stall_timeout
        with self._lock:
            starving = [cursor for cursor in self._cursors if cursor.attached and not cursor.released
                        and cursor.starving_since is not None and now - cursor.starving_since > timeout]
            full = [cursor for cursor in self._cursors if not cursor.released
                    and len(cursor.queue) >= self.context.config.buffer_chunks]
        if starving and full:
            raise ExecutionError(
                f"pod {self.key} ({self.label}) stalled for {timeout:g} s: consumer {full[0].consumer} has "
                f"{len(full[0].queue)} unread chunks while consumer {starving[0].consumer} waits for data. "
                "The graph needs these consumers to drift further apart than buffer_chunks="
                f"{self.context.config.buffer_chunks}; raise ExecutionConfig.buffer_chunks",
                bean=self.tail.label(),
            )

    # -- lifecycle and status ------------------------------------------------------------------

    def close(self) -> None:
        with self._lock:
            self._stopped = True
            for cursor in self._cursors:
                cursor.queue.clear()
            self._lock.notify_all()
        if self._thread is None:
            self.release_inputs()

    def join(self, timeout: float) -> bool:
        if self._thread is None:
            return True
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def status(self) -> dict:
        with self._lock:
            cursors = [cursor.status() for cursor in self._cursors]
            if self._error is not None:
                state = "failed"
            elif self._ended:
                state = "done"
            elif self._thread is not None:
                state = "running"
            else:
                state = "waiting"
            produced = self._chunks_produced
        return {
            **super().status(),
            "state": state,
            "sample_rate": self._rate,
            "chunks_produced": produced,
            "chunks_buffered": sum(cursor["chunks_buffered"] for cursor in cursors),
            "max_chunks_buffered": max((cursor["max_chunks_buffered"] for cursor in cursors), default=0),
            "cursors": cursors,
            "error": None if self._error is None else self._error.message,
        }


class SplittingPod(StreamingPod):
    """A streaming pod with at least one split consumer: a copy of a partitioned bean that gets every N-th chunk.

    Routing is decided per consumer, so the same pod also serves consumers
    that get every chunk (for example a merge reading the whole stream).
    """

    kind = "splitting"


class OutputPod(Pod):
    """A tick pod: it wraps an output bean and writes one block per :meth:`tick`."""

    kind = "output"

    def __init__(self, ref: PodRef, beans: list[Bean], proxies: list[PodProxy], context: JobContext) -> None:
        super().__init__(ref, beans, proxies, context)
        self._writer: Writer | None = None
        self._finished = False
        self.summary = OutputSummary()

    def start(self, sample_rate: float) -> None:
        """Open the output's writer at ``sample_rate`` Hz; its blocks feed :attr:`summary`."""
        self._writer = self.tail.writer(sample_rate, self.context.config.block_size)
        self._writer.observer = self.summary

    def tick(self) -> bool:
        """Write one block; return False once the input has ended."""
        if self._writer is None:
            raise InvalidParameterError(f"output pod {self.key} is not started; call start() first")
        if self._finished:
            return False
        if not self._writer.write():
            self._finished = True
        return not self._finished

    def commit(self) -> None:
        """Flush and commit the output, then release the pod's inputs."""
        try:
            if self._writer is not None:
                self._writer.close()
        finally:
            self.release_inputs()

    def abort(self) -> None:
        """Discard what was written (the target keeps its old content) and release the inputs."""
        try:
            if self._writer is not None:
                self._writer.abort()
        finally:
            self.release_inputs()

    @property
    def elements_written(self) -> int:
        return 0 if self._writer is None else self._writer.elements_written

    def status(self) -> dict:
        return {**super().status(), "elements_written": self.elements_written, "finished": self._finished,
                "summary": self.summary.snapshot()}


def instantiate_pod(ref: PodRef, context: JobContext) -> Pod:
    """Build the pod described by ``ref``: proxies first, then the beans from upstream to downstream.

    Raises
    ------
    ExecutionError
        If a bean cannot be rebuilt from its parameters.
    """
    proxies = [make_proxy(item, ref.key, context) for item in ref.proxies]
    beans: list[Bean] = []
    inputs: list[Any] = list(proxies)
    for bean_ref in reversed(ref.beans):
        try:
            bean = bean_ref.instantiate(inputs)
        except Exception as error:
            raise ExecutionError(
                f"cannot build {bean_ref.label} in pod {ref.key}: {error}",
                bean=bean_ref.label, pod=str(ref.key),
            ) from error
        beans.insert(0, bean)
        inputs = [bean]
    pod_class = {"output": OutputPod, "splitting": SplittingPod}.get(ref.kind, StreamingPod)
    return pod_class(ref, beans, proxies, context)
