"""The multi-threaded overseer: partitions the graph, groups it into pods and runs them on threads."""

from __future__ import annotations

import logging
import time
import uuid
import weakref
from concurrent.futures import Future
from typing import Iterable

from ..beans.base import check_sample_rate
from ..beans.outputs.base import Output
from ..errors import ExecutionError, InvalidParameterError
from .config import ExecutionConfig
from .gardener import Gardener
from .podref import PodRef, build_pods
from .protocol import PodKey
from .result import ExecutionResult
from .single_threaded import Overseer, job_state
from .topology import Topology, build_topology

__all__ = ["MultiThreadedOverseer"]

logger = logging.getLogger(__name__)


class MultiThreadedOverseer(Overseer):
    """Evaluate outputs with pods on threads, partitions running in parallel.

    The graph is built into a topology, partitionable beans are copied
    ``partitions`` times, chains are grouped into pods and every pod runs on
    its own thread, at most ``threads`` of them computing at once. numpy
    releases the GIL, so partitions and independent pods use several cores.

    Parameters
    ----------
    outputs : Output or list of Output
        What to evaluate.
    threads : int, optional
        Maximum pods computing at the same time; overrides ``config.threads``.
    partitions : int, default 1
        Copies of every partitionable bean; each copy gets every N-th chunk.
    config : ExecutionConfig, optional
        Chunk size, buffer bound, prefetch and the other settings.

    Attributes
    ----------
    topology, partitioned_topology : Topology
        The graph as built, and after partitioning.
    pods : list of PodRef
        The pods every :meth:`eval` plants.

    Raises
    ------
    InvalidParameterError
        If ``outputs`` is empty, or ``threads`` or ``partitions`` is not a whole number >= 1.

    Examples
    --------
    >>> import numpy as np, wavebeans_nb as wb
    >>> out = wb.sine(440).map_blocks(np.abs).trim(100).to_dev_null()
    >>> with wb.MultiThreadedOverseer([out], threads=2, partitions=2) as overseer:
    ...     [f.result().finished for f in overseer.eval(8000)]
    [True]
    """

    def __init__(self, outputs: "Output | Iterable[Output]", threads: int | None = None,
                 partitions: int = 1, config: ExecutionConfig | None = None) -> None:
        super().__init__(outputs)
        if config is None:
            config = ExecutionConfig()
        elif not isinstance(config, ExecutionConfig):
            raise InvalidParameterError(
                f"config {config!r} is not an ExecutionConfig; pass ExecutionConfig(...) or leave it out"
            )
        if threads is not None:
            config = config.replace(threads=threads)
        self.config = config
        self.topology: Topology = build_topology(self.outputs)
        self.partitioned_topology: Topology = self.topology.partition(partitions)
        self.pods: list[PodRef] = build_pods(self.partitioned_topology, group=config.group_beans)
        pod_of = {(ref.id, ref.partition): pod.key for pod in self.pods for ref in pod.beans}
        self._output_pods: list[PodKey] = [pod_of[(output_id, 0)] for output_id in self.topology.outputs]
        self._gardener = Gardener()
        self._expected: list[int | None] = []
        # An overseer dropped without close() still stops its threads when it is collected.
        self._finalizer = weakref.finalize(self, self._gardener.stop_all, 1.0)

    @property
    def partitions(self) -> int:
        return self.partitioned_topology.partitions

    def eval(self, sample_rate: float) -> list[Future]:
        """Plant and start a job at ``sample_rate`` Hz; return one future per output, in output order.

        Raises
        ------
        InvalidParameterError
            If the overseer is closed, the rate is invalid, or the previous
            job still runs (wait for its futures or call :meth:`cancel`).
        """
        self._check_open()
        rate = check_sample_rate(sample_rate)
        if any(not future.done() for future in self._futures):
            raise InvalidParameterError(
                f"job {self.job_id} is still running; wait for its futures or call cancel() before eval() again"
            )
        if self.job_id is not None:
            self._gardener.stop(self.job_id)
        self.job_id = uuid.uuid4().hex[:12]
        self._cancel.clear()
        self._expected = [output.samples_count(rate) for output in self.outputs]
        logger.info("job %s: evaluating %d outputs at %g Hz with %d pods, %d partitions, %d threads",
                    self.job_id, len(self.outputs), rate, len(self.pods), self.partitions,
                    self.config.compute_threads)
        try:
            self._gardener.plant(self.job_id, self.pods, rate, self.config, bush_key=f"{self.job_id}-local")
            futures = self._gardener.futures(self.job_id)
            self._gardener.start(self.job_id)
        except Exception as error:
            logger.info("job %s: planting failed: %s", self.job_id, error)
            self._gardener.stop(self.job_id, timeout=1.0)
            failure = error if isinstance(error, ExecutionError) else ExecutionError(f"planting the job failed: {error}")
            self._futures = [_resolved(ExecutionResult.error(failure)) for _ in self.outputs]
            return list(self._futures)
        self._futures = [futures[key] for key in self._output_pods]
        return list(self._futures)

    def cancel(self) -> None:
        """Stop the running job; waiting threads notice within ``config.poll_interval`` seconds.

        Unfinished outputs resolve with ``finished=False`` and a
        :class:`~wavebeans_nb.errors.JobCancelledError`; their targets keep
        their previous content.
        """
        super().cancel()
        if self.job_id is not None and self.job_id in self._gardener.jobs():
            self._gardener.cancel(self.job_id)

    def close(self, timeout: float = 10.0) -> None:
        """Cancel what still runs, wait up to ``timeout`` seconds for every thread, and drop the job.

        Outputs that finished were already committed when their futures
        resolved; outputs still running are aborted, never left half-written.
        """
        if self._closed:
            return
        super().close()
        if self.job_id is not None:
            self.cancel()
            deadline = time.monotonic() + timeout
            for future in self._futures:
                try:
                    future.result(timeout=max(0.0, deadline - time.monotonic()))
                except Exception:  # a result that never came is reported by stop() below
                    pass
            if not self._gardener.stop(self.job_id, max(0.0, deadline - time.monotonic())):
                logger.warning("job %s: some threads did not end within %g s", self.job_id, timeout)
        self._finalizer.detach()

    def status(self) -> dict:
        """Return a plain-data snapshot of the current job.

        Returns
        -------
        dict
            ``job_id``, ``state`` (idle, running, done, failed, cancelled),
            ``outputs`` (per output: ``label``, ``pod``, ``state``,
            ``elements_written``, ``elements_expected`` (None when the length
            is unknown), ``error``, ``summary``: the live-thumbnail data of
            :meth:`~wavebeans_nb.execution.summary.OutputSummary.snapshot`) and ``pods`` (per pod: ``key``,
            ``kind``, ``state``, ``calls_served``, ``chunks_buffered`` and more).
        """
        if self.job_id is None or self.job_id not in self._gardener.jobs():
            return {"job_id": self.job_id, "state": self._job_state(), "outputs": [], "pods": []}
        job = self._gardener.status(self.job_id)
        pods = [pod for bush in job["bushes"] for pod in bush["pods"]]
        by_key = {pod["key"]: pod for pod in pods}
        outputs = []
        for output, key, expected in zip(self.outputs, self._output_pods, self._expected):
            entry = by_key.get(str(key), {})
            outputs.append({"label": output.label(), "pod": str(key), "state": entry.get("state", "planted"),
                            "elements_written": entry.get("elements_written", 0), "elements_expected": expected,
                            "error": entry.get("error"), "summary": entry.get("summary")})
        return {"job_id": self.job_id, "state": self._job_state(), "partitions": self.partitions,
                "threads": self.config.compute_threads, "outputs": outputs, "pods": pods}

    def _job_state(self) -> str:
        return job_state(self._futures)


def _resolved(result: ExecutionResult) -> Future:
    future: Future = Future()
    future.set_result(result)
    return future
