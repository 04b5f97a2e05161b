"""Jobs started from a notebook: creating the overseer for a mode, the job handle and the kernel's job list."""

from __future__ import annotations

import logging
import threading
from concurrent.futures import Future
from typing import Any, Sequence

from ..beans.outputs.base import Output
from ..errors import InvalidParameterError, WaveBeansError
from ..execution.result import ExecutionResult
from .widgets import JobMonitor, JobSnapshot, StatusWidget, format_summary

__all__ = ["MODES", "PLANNERS", "DEFAULT_SAMPLE_RATE", "Job", "JobRegistry", "make_overseer", "make_planner",
           "infer_sample_rate", "start_job"]

logger = logging.getLogger(__name__)

MODES = ("single", "multi", "distributed")
DEFAULT_SAMPLE_RATE = 44100.0
_MODE_TITLES = {"single": "single-threaded", "multi": "multi-threaded", "distributed": "distributed"}


PLANNERS = ("even", "affinity")


def make_planner(name: str) -> Any:
    """Return the distribution planner called ``name``: ``even`` or ``affinity``.

    Raises
    ------
    InvalidParameterError
        If ``name`` is unknown.
    WaveBeansError
        If the distributed package cannot be imported.
    """
    try:
        from ..distributed.planner import EvenDistributionPlanner, PartitionAffinityPlanner
    except ImportError as error:
        raise WaveBeansError(f"the distributed mode is not available: {error}") from error
    if name == "even":
        return EvenDistributionPlanner()
    if name == "affinity":
        return PartitionAffinityPlanner()
    raise InvalidParameterError(f"planner {name!r} is invalid; use one of {', '.join(PLANNERS)}")


def make_overseer(outputs: Sequence[Output], mode: str, partitions: int = 1, threads: int | None = None,
                  client: Any = None, planner: str = "even") -> Any:
    """Create the overseer of ``mode`` for ``outputs``.

    Parameters
    ----------
    mode : {"single", "multi", "distributed"}
    partitions, threads : int
        Used by the multi-threaded and distributed modes.
    client : distributed.Client, optional
        The cluster to run a distributed job on; without one the distributed
        overseer starts (and later closes) its own local cluster.
    planner : {"even", "affinity"}
        The distribution planner of a distributed job (see :func:`make_planner`).

    Raises
    ------
    InvalidParameterError
        If ``mode`` is unknown.
    WaveBeansError
        If the distributed mode is requested but cannot be imported.
    """
    from ..execution.multi_threaded import MultiThreadedOverseer
    from ..execution.single_threaded import SingleThreadedOverseer

    if mode == "single":
        return SingleThreadedOverseer(list(outputs))
    if mode == "multi":
        return MultiThreadedOverseer(list(outputs), threads=threads, partitions=partitions)
    if mode == "distributed":
        try:
            from ..distributed.overseer import DistributedOverseer
        except ImportError as error:
            raise WaveBeansError(f"the distributed mode is not available: {error}") from error
        return DistributedOverseer(list(outputs), partitions=partitions, client=client,
                                   distribution_planner=make_planner(planner))
    raise InvalidParameterError(f"mode {mode!r} is invalid; use one of {', '.join(MODES)}")


def _source_rates(outputs: Sequence[Output]) -> set[float]:
    """Return the native rates of the graph's sources that have one (audio files, even when resampled)."""
    rates: set[float] = set()
    seen: set[int] = set()
    pending = [output.input for output in outputs]
    while pending:
        bean = pending.pop()
        if id(bean) in seen:
            continue
        seen.add(id(bean))
        if not bean.inputs and bean.desired_sample_rate is not None:
            rates.add(float(bean.desired_sample_rate))
        pending.extend(bean.inputs)
    return rates


def infer_sample_rate(outputs: Sequence[Output]) -> float:
    """Return the sample rate to evaluate ``outputs`` at when none is given.

    That is the rate the outputs' inputs require, else the one native rate
    of the graph's sources (a WAV file read with resampling), else 44100 Hz.

    Raises
    ------
    InvalidParameterError
        If the outputs require different rates.
    """
    required = {output.input.desired_sample_rate for output in outputs} - {None}
    if len(required) > 1:
        listed = ", ".join(f"{rate:g}" for rate in sorted(required))
        raise InvalidParameterError(
            f"the outputs read inputs at different sample rates ({listed} Hz); resample them to one rate "
            "or pass --sample-rate"
        )
    if required:
        return float(required.pop())
    native = _source_rates(outputs)
    return native.pop() if len(native) == 1 else DEFAULT_SAMPLE_RATE


class Job:
    """A job started from the notebook: its overseer, futures, status monitor and view.

    The handle closes the overseer once every output has finished, so the
    threads and cluster state of the job are released without a call from the user.

    Attributes
    ----------
    number : int
        The job's number in this kernel (1, 2, ...), used by ``%wavebeans stop``.
    names : list of str
        The outputs' variable names, in output order.
    futures : list of Future
        One per output, resolving to an :class:`~wavebeans_nb.ExecutionResult`.
    """

    def __init__(self, number: int, names: Sequence[str], mode: str, sample_rate: float, overseer: Any,
                 futures: Sequence[Future], interval: float = 0.5) -> None:
        self.number = number
        self.names = list(names)
        self.mode = mode
        self.sample_rate = sample_rate
        self.overseer = overseer
        self.futures = list(futures)
        self.job_id: str | None = getattr(overseer, "job_id", None)
        self.monitor = JobMonitor(overseer, self.futures, interval=interval, labels=self.names)
        self._closed = False
        self._close_lock = threading.Lock()
        self.monitor.subscribe(self._close_when_finished)
        self._widget: StatusWidget | None = None

    @property
    def title(self) -> str:
        return f"#{self.number} {_MODE_TITLES.get(self.mode, self.mode)}"

    @property
    def state(self) -> str:
        """The job state at the latest poll: running, done, failed or cancelled."""
        snapshot = self.monitor.snapshot if self.monitor.snapshot is not None else self.monitor.poll()
        return snapshot.state

    def widget(self) -> StatusWidget:
        """Return the job's status widget (created on first use)."""
        if self._widget is None:
            self._widget = StatusWidget(self.monitor, title=self.title)
        return self._widget

    def wait(self, timeout: float | None = None) -> list[ExecutionResult]:
        """Wait for every output and return their results, in output order.

        Raises
        ------
        TimeoutError
            If the job does not end within ``timeout`` seconds.
        """
        results = [future.result(timeout) for future in self.futures]
        self.monitor.wait(timeout)
        return results

    def cancel(self) -> None:
        """Cancel the job; unfinished outputs resolve as cancelled and keep their old content."""
        self.monitor.cancel()

    def close(self) -> None:
        """Cancel what still runs, close the overseer and stop polling."""
        with self._close_lock:
            if self._closed:
                return
            self._closed = True
        try:
            self.overseer.close()
        finally:
            self.monitor.stop()

    def _close_when_finished(self, snapshot: JobSnapshot) -> None:
        if not snapshot.finished:
            return
        try:
            self.close()
        except Exception:  # this runs on the monitor thread, where no caller can catch it, so log it
            logger.exception("closing the overseer of job %s failed", self.job_id)

    def summary(self) -> str:
        """Return the job's status as text (see :func:`~wavebeans_nb.notebook.widgets.format_summary`)."""
        snapshot = self.monitor.snapshot if self.monitor.snapshot is not None else self.monitor.poll()
        return f"{self.title}: " + format_summary(snapshot)

    def __repr__(self) -> str:
        return f"<Job #{self.number} {self.mode} job_id={self.job_id} outputs={self.names}>"

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(self.summary())


class JobRegistry:
    """The jobs started in this kernel, by number and by overseer job id."""

    def __init__(self) -> None:
        self._jobs: list[Job] = []
        self._lock = threading.Lock()

    def next_number(self) -> int:
        with self._lock:
            return len(self._jobs) + 1

    def add(self, job: Job) -> Job:
        with self._lock:
            self._jobs.append(job)
        return job

    def get(self, key: str | int) -> Job:
        """Return the job with number ``key`` (``3`` or ``"#3"``) or overseer job id ``key``.

        Raises
        ------
        InvalidParameterError
            If no such job was started in this kernel.
        """
        text = str(key).lstrip("#")
        for job in self._jobs:
            if text == str(job.number) or text == job.job_id:
                return job
        known = ", ".join(f"#{job.number} ({job.job_id})" for job in self._jobs) or "none"
        raise InvalidParameterError(f"job {key!r} not found; jobs started in this kernel: {known}")

    def __iter__(self):
        return iter(list(self._jobs))

    def __len__(self) -> int:
        return len(self._jobs)


def start_job(registry: JobRegistry, names: Sequence[str], outputs: Sequence[Output], mode: str,
              sample_rate: float | None = None, partitions: int = 1, threads: int | None = None,
              client: Any = None, interval: float = 0.5, planner: str = "even") -> Job:
    """Create the overseer, start evaluating and start polling its status; return at once.

    Raises
    ------
    InvalidParameterError, WaveBeansError
        If the mode, the rate or the outputs are invalid. A failure inside the
        job surfaces in its futures and status instead.
    """
    rate = float(sample_rate) if sample_rate is not None else infer_sample_rate(outputs)
    overseer = make_overseer(outputs, mode, partitions, threads, client, planner)
    try:
        futures = overseer.eval(rate)
    except BaseException:
        overseer.close()
        raise
    job = registry.add(Job(registry.next_number(), names, mode, rate, overseer, futures, interval))
    logger.info("job #%d (%s) started: %s at %g Hz", job.number, job.job_id, ", ".join(job.names), rate)
    job.monitor.start()
    return job
