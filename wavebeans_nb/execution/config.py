"""Settings of the pod-based execution engine, passed explicitly to every job."""

from __future__ import annotations

import dataclasses
import math
import os
from dataclasses import dataclass

from ..errors import InvalidParameterError

__all__ = ["ExecutionConfig"]


def _check_whole(name: str, value: object, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise InvalidParameterError(f"{name} {value!r} is invalid; pass a whole number >= {minimum}")


def _check_seconds(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < math.inf:
        raise InvalidParameterError(f"{name} {value!r} is invalid; pass a positive, finite number of seconds")


def _check_flag(name: str, value: object, allow_none: bool) -> None:
    if not isinstance(value, bool) and not (allow_none and value is None):
        choices = "True, False or None" if allow_none else "True or False"
        raise InvalidParameterError(f"{name} {value!r} is invalid; pass {choices}")


@dataclass(frozen=True)
class ExecutionConfig:
    """Settings of one multi-threaded (or distributed) job.

    Every job gets its own copy; nothing here is global, so two overseers in
    one process never affect each other.

    Parameters
    ----------
    chunk_size : int, default 65536
        Maximum elements per chunk. Chunks are the unit pods buffer, send and
        deal out round-robin to partitions. The original WaveBeans used 512;
        larger chunks cut the per-chunk cost of threads and worker comms.
    chunk_bytes : int, default 2097152
        Maximum bytes per chunk. A stream of wide elements (windows, FFT
        frames, multichannel frames) gets fewer elements per chunk, so that
        buffers stay small: 2048-sample windows go 128 to a chunk.
    prefetch_buckets : int, default 8
        Maximum chunks one ``iterator_next`` call returns, and the number of
        chunks a prefetching proxy keeps ready. A proxy joins the sample chunks
        of one call into one block, so this also bounds the block size inside pods.
    buffer_chunks : int, default 8
        Maximum chunks a pod keeps for one consumer. A pod stops computing
        while any of its consumers has this many chunks unread. With the
        defaults, that is 4 MiB of samples per consumer.
    threads : int or None, default None
        Maximum pods that compute at the same time; None means ``os.cpu_count()``.
        Threads that wait for data do not count.
    block_size : int or None, default 65536
        Elements per block that sources inside pods produce; None means the
        library default (8192). Results never depend on it. Pods hand blocks
        to other threads, so larger blocks than in single-threaded runs keep
        the cost per block small against the numpy work in it.
    group_beans : bool, default True
        Run chains of beans in one pod. False gives one pod per bean.
    proxy_prefetch : bool or None, default None
        Whether proxies fetch from their pods on a background thread. None
        enables it only for pods on other bushes (remote calls), where it
        hides the call latency; local pods compute ahead on their own thread.
    poll_interval : float, default 0.05
        Seconds a waiting thread sleeps before it checks for cancellation again.
        Also the longest time one ``iterator_next`` call waits for data.
    stall_timeout : float, default 60.0
        Seconds a pod may stay blocked on a full consumer buffer while another
        of its consumers waits for data. After that the job fails with an error
        that names the pod, instead of hanging. A graph whose consumers must
        drift further apart than ``buffer_chunks`` (for example a concatenation
        of two parts of one stream) needs a larger ``buffer_chunks``.
    shared_memory : bool, default True
        Distributed jobs only: pods on two workers of one machine pass the
        chunks of a pod call through a file in ``/dev/shm`` instead of the
        TCP connection, which is several times faster. Where the other
        worker cannot open the file, calls go over the comms.
    """

    chunk_size: int = 65536
    chunk_bytes: int = 2 << 20
    prefetch_buckets: int = 8
    buffer_chunks: int = 8
    threads: int | None = None
    block_size: int | None = 1 << 16
    group_beans: bool = True
    proxy_prefetch: bool | None = None
    poll_interval: float = 0.05
    stall_timeout: float = 60.0
    shared_memory: bool = True

    def __post_init__(self) -> None:
        _check_whole("chunk_size", self.chunk_size, 1)
        _check_whole("chunk_bytes", self.chunk_bytes, 1)
        _check_whole("prefetch_buckets", self.prefetch_buckets, 1)
        _check_whole("buffer_chunks", self.buffer_chunks, 1)
        if self.threads is not None:
            _check_whole("threads", self.threads, 1)
        if self.block_size is not None:
            _check_whole("block_size", self.block_size, 1)
        _check_flag("group_beans", self.group_beans, allow_none=False)
        _check_flag("proxy_prefetch", self.proxy_prefetch, allow_none=True)
        _check_flag("shared_memory", self.shared_memory, allow_none=False)
        _check_seconds("poll_interval", self.poll_interval)
        _check_seconds("stall_timeout", self.stall_timeout)

    def chunk_elements(self, element_bytes: int | None) -> int:
        """Return the elements per chunk for elements of ``element_bytes`` bytes (None: unknown)."""
        if not element_bytes:
            return self.chunk_size
        return max(1, min(self.chunk_size, self.chunk_bytes // element_bytes))

    @property
    def compute_threads(self) -> int:
        """Number of pods allowed to compute at once (``threads`` resolved)."""
        return self.threads if self.threads is not None else (os.cpu_count() or 1)

    def replace(self, **changes: object) -> "ExecutionConfig":
        """Return a copy with some settings changed (validated like the constructor)."""
        return dataclasses.replace(self, **changes)
