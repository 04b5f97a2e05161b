"""The Gardener: plants, starts, reports and stops the bushes of jobs in one process."""

from __future__ import annotations

import logging
import threading
import uuid
from concurrent.futures import Future
from dataclasses import dataclass, field

from ..beans.base import check_sample_rate, rates_equal
from ..errors import ExecutionError
from .bush import LocalBush
from .config import ExecutionConfig
from .context import JobContext
from .discovery import PodDiscovery
from .podref import PodRef
from .protocol import PodKey
from .result import ExecutionResult

__all__ = ["Gardener"]

logger = logging.getLogger(__name__)


@dataclass
class _Job:
    context: JobContext
    bushes: list[LocalBush] = field(default_factory=list)
    started: bool = False


class Gardener:
    """Keeps the jobs of this process, each with its own discovery, settings and bushes.

    A multi-threaded overseer owns one gardener; in distributed mode every
    worker has one. Methods that take a job id raise :class:`ExecutionError`
    for a job the gardener does not know, except :meth:`stop`, which may be
    called any number of times.
    """

    def __init__(self) -> None:
        self._jobs: dict[str, _Job] = {}
        self._lock = threading.Lock()

    def plant(self, job_id: str, pods: list[PodRef], sample_rate: float,
              config: ExecutionConfig | None = None, bush_key: str | None = None) -> LocalBush:
        """Instantiate ``pods`` into a new local bush of job ``job_id``; nothing runs until :meth:`start`.

        The first bush of a job creates the job's context (discovery,
        cancellation, compute slots); later bushes of the job share it.

        Raises
        ------
        ExecutionError
            If a pod cannot be built, or the job was planted with another rate.
        """
        rate = check_sample_rate(sample_rate)
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None:
                context = JobContext(job_id, rate, config or ExecutionConfig(), PodDiscovery(job_id))
                job = self._jobs[job_id] = _Job(context)
        if not rates_equal(job.context.sample_rate, rate):
            raise ExecutionError(f"job {job_id} runs at {job.context.sample_rate:g} Hz, not {rate:g} Hz")
        bush = LocalBush(bush_key or uuid.uuid4().hex[:12], job.context)
        try:
            for ref in pods:
                bush.plant(ref)
        except BaseException:
            bush.close(timeout=0.0)
            raise
        job.bushes.append(bush)
        logger.info("job %s: planted bush %s with %d pods", job_id, bush.key, len(pods))
        return bush

    def _job(self, job_id: str) -> _Job:
        job = self._jobs.get(job_id)
        if job is None:
            raise ExecutionError(f"job {job_id} is not known to this gardener; plant it first")
        return job

    def context(self, job_id: str) -> JobContext:
        """Return the job's context (its discovery takes handles to bushes elsewhere)."""
        return self._job(job_id).context

    def start(self, job_id: str, drive_outputs: bool = True) -> None:
        """Start every bush of the job. Starting twice does nothing.

        With ``drive_outputs=False`` no output runs until :meth:`drive` is
        called for it (see :meth:`LocalBush.start`).
        """
        job = self._job(job_id)
        if job.started:
            return
        job.started = True
        for bush in job.bushes:
            bush.start(drive_outputs)
        logger.info("job %s: started %d bushes", job_id, len(job.bushes))

    def bushes(self, job_id: str) -> list[LocalBush]:
        """Return the job's local bushes."""
        return list(self._job(job_id).bushes)

    def drive(self, job_id: str, pod: PodKey) -> ExecutionResult:
        """Run output pod ``pod`` of the job on the calling thread; return its result.

        Raises
        ------
        ExecutionError
            If the job is unknown, or none of its bushes has that output pod.
        """
        key = PodKey(*pod)
        for bush in self._job(job_id).bushes:
            if key in bush.tick_futures():
                return bush.drive(key)
        raise ExecutionError(f"job {job_id} has no output pod {key} on this gardener")

    def futures(self, job_id: str) -> dict[PodKey, Future]:
        """Return the future of every output pod of the job."""
        futures: dict[PodKey, Future] = {}
        for bush in self._job(job_id).bushes:
            futures.update(bush.tick_futures())
        return futures

    def status(self, job_id: str) -> dict:
        """Return a plain-data snapshot of the job's bushes and pods."""
        job = self._job(job_id)
        return {"job_id": job_id, "started": job.started, "cancelled": job.context.cancelled,
                "bushes": [bush.status() for bush in job.bushes]}

    def cancel(self, job_id: str) -> None:
        """Ask every pod and output of the job to stop; outputs resolve as cancelled."""
        self._job(job_id).context.cancel.set()
        logger.info("job %s: cancel requested", job_id)

    def stop(self, job_id: str, timeout: float = 5.0) -> bool:
        """Cancel what still runs, close the job's bushes and forget the job.

        Returns
        -------
        bool
            True when every thread ended within ``timeout`` seconds (also for an unknown job).
        """
        with self._lock:
            job = self._jobs.pop(job_id, None)
        if job is None:
            return True
        clean = True
        for bush in job.bushes:
            clean = bush.close(timeout) and clean
        job.context.discovery.clear()
        logger.info("job %s: stopped", job_id)
        return clean

    def jobs(self) -> list[str]:
        """Return the ids of the jobs this gardener keeps."""
        return list(self._jobs)

    def stop_all(self, timeout: float = 5.0) -> bool:
        """Stop every job."""
        return all([self.stop(job_id, timeout) for job_id in self.jobs()])
