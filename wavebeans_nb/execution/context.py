"""Per-job state shared by the pods of one bush: settings, discovery, cancellation, compute slots."""

from __future__ import annotations

import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Iterator

from .config import ExecutionConfig
from .discovery import PodDiscovery

__all__ = ["ComputeSlots", "JobContext"]


class ComputeSlots:
    """Limits how many threads of a job compute at the same time.

    A thread takes a slot with :meth:`hold` before it runs bean code and gives
    it back in :meth:`released` while it waits for data or for buffer space,
    so a waiting thread never keeps another from computing. This is what
    makes the ``threads`` setting real without risking a deadlock: every slot
    holder is running, so it eventually gives its slot back.
    """

    def __init__(self, count: int, cancel: threading.Event, poll_interval: float) -> None:
        self.count = count
        self._semaphore = threading.Semaphore(count)
        self._cancel = cancel
        self._poll = poll_interval
        self._local = threading.local()

    def holding(self) -> bool:
        """True when the calling thread has a slot."""
        return getattr(self._local, "has_slot", False)

    def _acquire(self) -> None:
        # After cancellation the thread goes on without a slot; it stops at its next check.
        while not self._semaphore.acquire(timeout=self._poll):
            if self._cancel.is_set():
                return
        self._local.has_slot = True

    def _release(self) -> None:
        if self.holding():
            self._local.has_slot = False
            self._semaphore.release()

    @contextmanager
    def hold(self) -> Iterator[None]:
        """Hold a slot for the duration of the block."""
        self._acquire()
        try:
            yield
        finally:
            self._release()

    @contextmanager
    def released(self) -> Iterator[None]:
        """Give the calling thread's slot back for the duration of the block (a wait)."""
        if not self.holding():
            yield
            return
        self._release()
        try:
            yield
        finally:
            self._acquire()


@dataclass
class JobContext:
    """State shared by the pods of one job on one bush.

    Attributes
    ----------
    job_id : str
    sample_rate : float
        The rate in Hz the job's outputs are evaluated at.
    config : ExecutionConfig
    discovery : PodDiscovery
        Where each pod of the job lives.
    cancel : threading.Event
        Set to stop every pod and output of the job.
    slots : ComputeSlots
    """

    job_id: str
    sample_rate: float
    config: ExecutionConfig
    discovery: PodDiscovery
    cancel: threading.Event = field(default_factory=threading.Event)
    slots: ComputeSlots = field(init=False)

    def __post_init__(self) -> None:
        self.slots = ComputeSlots(self.config.compute_threads, self.cancel, self.config.poll_interval)

    @property
    def cancelled(self) -> bool:
        return self.cancel.is_set()
