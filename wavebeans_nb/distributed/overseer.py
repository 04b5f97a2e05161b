"""The DistributedOverseer: runs a job's pods on the workers of a Dask cluster."""

from __future__ import annotations

import logging
import os
import re
import threading
import time
import traceback
import uuid
import weakref
from concurrent.futures import Future
from types import ModuleType
from typing import Any, Iterable

import fsspec

from ..beans.base import check_sample_rate
from ..beans.outputs.base import Output
from ..beans.outputs.managed import ManagedCsvOutput, ManagedWavOutput
from ..errors import ExecutionError, InvalidParameterError, JobCancelledError
from ..execution.config import ExecutionConfig
from ..execution.podref import PodRef, build_pods
from ..execution.protocol import PodKey
from ..execution.result import ExecutionResult
from ..execution.single_threaded import Overseer, job_state
from ..execution.topology import Topology, build_topology
from .cluster import (
    call_worker, cluster_workers, facilitators_of, install_facilitators, scheduler_of, start_local_cluster,
)
from .code import pickle_job
from .errors import FacilitatorLostError, FacilitatorNotFoundError, JobNotFoundError
from .facilitator import job_guard_key, output_task_key, run_output
from .planner import DistributionPlanner, EvenDistributionPlanner, FacilitatorInfo, check_plan

__all__ = ["DistributedOverseer"]

#: Seconds to wait for the scheduler when the overseer connects to an address.
SCHEDULER_TIMEOUT = 30.0

logger = logging.getLogger(__name__)

#: Seconds between two checks of the scheduler's worker list while a job runs.
WATCH_INTERVAL = 0.5

#: Seconds to wait for the scheduler to drop a worker that a failed output names, before the
#: failure counts as an error of the job rather than a worker loss (only while retries remain).
LOSS_GRACE = 5.0


class DistributedOverseer(Overseer):
    """Evaluate outputs with pods spread over the workers (Facilitators) of a Dask cluster.

    :meth:`eval` follows the job start order of WaveBeans: build and
    partition the topology, build pods, plan the distribution, pickle the
    job's code, plant one bush per worker, tell every worker where the other
    bushes are, start the job, then run every output pod as a Dask task pinned
    to its worker. It returns one future per output at once.

    Parameters
    ----------
    outputs : Output or list of Output
        What to evaluate.
    partitions : int, default 1
        Copies of every partitionable bean.
    facilitators : list of str, optional
        Worker addresses to plan on; default every worker of the cluster.
    client : distributed.Client or str, optional
        The cluster to use: a client, or a scheduler address to connect to.
        Without it, the scheduler is asked from the first of ``facilitators``;
        with neither, an embedded :class:`distributed.LocalCluster` of worker
        processes is started and closed with the overseer.
    distribution_planner : object with ``distribute(pods, facilitators)``, optional
        Default :class:`~wavebeans_nb.distributed.planner.EvenDistributionPlanner`.
    config : ExecutionConfig, optional
        Chunk size, prefetch, buffers; the same settings apply on every worker.
    cluster_workers : int, default 2
        Worker processes of the embedded cluster (one thread each).
    ship_modules : list of module, optional
        Modules to send by value besides those detected automatically
        (see :mod:`wavebeans_nb.distributed.code`).
    retries : int, default 0
        How many times a job that failed because a worker left the cluster
        is planned again, as a whole and under a new job id, on the workers
        that remain. With 0 the loss fails the job. See "Worker loss and
        retries" in ``docs/distributed.md``.

    Attributes
    ----------
    topology, partitioned_topology : Topology
    pods : list of PodRef
    plan : dict of str to list of PodRef
        The distribution plan of the last :meth:`eval` (address to pods); after
        a retry, the plan of the attempt that replaced the failed one.
    retries : int
    client : distributed.Client

    Raises
    ------
    InvalidParameterError
        If ``outputs`` is empty, ``partitions`` is not a whole number >= 1 or
        ``retries`` is not a whole number >= 0.
    FacilitatorNotFoundError
        If the cluster has no workers or an address in ``facilitators`` is not one of them.

    Notes
    -----
    Workers run the code that clients send. Use a cluster only for trusted
    users, on a private network, with TLS (see ``docs/distributed.md``).
    """

    def __init__(self, outputs: "Output | Iterable[Output]", partitions: int = 1,
                 facilitators: Iterable[str] | None = None, client: Any = None,
                 distribution_planner: DistributionPlanner | None = None,
                 config: ExecutionConfig | None = None, cluster_workers: int = 2,
                 ship_modules: Iterable[ModuleType] = (), retries: int = 0) -> None:
        self.retries = _check_retries(retries)
        super().__init__(outputs)
        self.config = config or ExecutionConfig()
        self.topology: Topology = build_topology(self.outputs)
        self.partitioned_topology: Topology = self.topology.partition(partitions)
        self.pods: list[PodRef] = build_pods(self.partitioned_topology, group=self.config.group_beans)
        pod_of = {(ref.id, ref.partition): pod.key for pod in self.pods for ref in pod.beans}
        self._output_pods: list[PodKey] = [pod_of[(output_id, 0)] for output_id in self.topology.outputs]
        self.planner = distribution_planner or EvenDistributionPlanner()
        self.ship_modules = list(ship_modules)
        self.plan: dict[str, list[PodRef]] = {}
        self._addresses = None if facilitators is None else [str(address) for address in facilitators]
        self._planted: list[str] = []
        self._pod_address: dict[PodKey, str] = {}
        self._expected: list[int | None] = []
        self._dask_futures: list = []
        self._guard = None  # Dask future of the job's guard task, held while the job exists on workers
        self._lost: dict[str, list[str]] = {}
        self._failure: ExecutionError | None = None
        self._infos: list[FacilitatorInfo] = []
        self._watch_stop = threading.Event()
        self._watcher: threading.Thread | None = None
        # Retry state of the current eval(). The lock orders output results, loss handling and retries.
        self._lock = threading.RLock()
        self._rate = 0.0
        self._attempt = 0
        self._abandoned = 0  # the attempt a retry replaces; results of its tasks are ignored
        self._replaced_job: str | None = None  # the job id of that attempt, until the next attempt starts
        self._retries_left = 0
        self._retry_thread: threading.Thread | None = None
        self._excluded: dict[str, list[str]] = {}  # lost workers of earlier attempts, address to pods
        self._held_results: list[ExecutionResult | None] = []
        self._partials_before: dict[int, set[str]] = {}
        self.cluster = None
        self.client, owned = self._connect(client, cluster_workers)
        self._finalizer = weakref.finalize(self, _close_owned, self.client if owned else None, self.cluster)

    def _connect(self, client: Any, cluster_workers: int):
        from distributed import Client

        if isinstance(client, Client):
            install_facilitators(client, self._addresses)
            return client, False
        if client is None and self._addresses:
            client = scheduler_of(self._addresses[0])
        if isinstance(client, str):
            try:
                connected = Client(client, set_as_default=False, timeout=SCHEDULER_TIMEOUT)
            except OSError as error:
                raise FacilitatorNotFoundError(
                    f"cannot reach the Dask scheduler at {client!r} within {SCHEDULER_TIMEOUT:g} s ({error}); "
                    "start one there with `dask scheduler`, or pass client=None for an embedded cluster"
                ) from error
            try:
                install_facilitators(connected, self._addresses)
            except BaseException:
                connected.close()
                raise
            return connected, True
        if client is not None:
            raise InvalidParameterError(
                f"client {client!r} is invalid; pass a distributed.Client, a scheduler address or None"
            )
        self.cluster, connected = start_local_cluster(n_workers=cluster_workers, threads_per_worker=1)
        logger.info("started an embedded cluster with %d workers at %s", cluster_workers,
                    self.cluster.scheduler_address)
        return connected, True

    @property
    def partitions(self) -> int:
        return self.partitioned_topology.partitions

    # -- eval -----------------------------------------------------------------------------

    def eval(self, sample_rate: float) -> list[Future]:
        """Plant and start a job at ``sample_rate`` Hz; return one future per output, in output order.

        Each future resolves to an :class:`ExecutionResult`. A failure while
        planting resolves every future with that error (the job is then
        already removed from the workers). While ``retries`` remain, a
        worker loss starts the whole job again under a new job id, and the
        futures resolve only with the results of the last attempt.

        Raises
        ------
        InvalidParameterError
            If the overseer is closed, the rate is invalid or the previous job still runs.
        """
        self._check_open()
        rate = check_sample_rate(sample_rate)
        if any(not future.done() for future in self._futures):
            raise InvalidParameterError(
                f"job {self.job_id} is still running; wait for its futures or call cancel() before eval() again"
            )
        self._stop_job()
        with self._lock:
            self._rate = rate
            self._replaced_job = None
            self._retries_left = self.retries
            self._excluded = {}
            self._cancel.clear()
            self._expected = [output.samples_count(rate) for output in self.outputs]
            self._futures = [Future() for _ in self.outputs]
        self._launch()
        return list(self._futures)

    # -- attempts -----------------------------------------------------------------------------

    def _launch(self) -> None:
        """Start attempts of the job until one runs, or resolve every future with the reason none can."""
        while True:
            self._begin_attempt()
            try:
                self._plant_and_start(self._rate)
            except Exception as error:
                lost = self._refresh_lost()
                logger.info("job %s: starting failed: %s", self.job_id, error)
                self._stop_job(timeout=2.0)
                if lost is not None and self._take_retry(lost):
                    continue
                self._resolve_all(error if isinstance(error, ExecutionError) else ExecutionError(
                    f"starting job {self.job_id} failed: {type(error).__name__}: {error}"))
                return
            if self._cancel.is_set():  # cancel() ran while a retry planted this attempt
                self._stop_job(timeout=2.0)
                self._resolve_all(JobCancelledError(f"job {self.job_id} was cancelled while it was being started"))
                return
            self._submit_outputs()
            self._watcher = threading.Thread(target=self._watch, args=(self._attempt, self._watch_stop), daemon=True,
                                             name=f"wavebeans-{self.job_id}-watch")
            self._watcher.start()
            return

    def _begin_attempt(self) -> None:
        """Give the next attempt a new job id and fresh per-attempt state; log which job it replaces."""
        with self._lock:
            previous, self._replaced_job = self._replaced_job, None
            self._attempt += 1  # counts across eval() calls, so late results of older jobs never look current
            self.job_id = uuid.uuid4().hex[:12]
            self._failure = None
            self._lost = {}
            self._planted = []
            self.plan = {}
            self._pod_address = {}
            self._dask_futures = []
            self._held_results = [None] * len(self.outputs)
            self._watch_stop = threading.Event()
        self._partials_before = self._snapshot_partials()
        if previous is not None:
            logger.warning("job %s: retry %d of %d replaces job %s, which lost workers %s", self.job_id,
                           self.retries - self._retries_left, self.retries, previous, sorted(self._excluded))

    def _take_retry(self, failure: FacilitatorLostError) -> bool:
        """Use up one retry for the worker loss ``failure``; return False when none remains or the job was cancelled."""
        with self._lock:
            if self._retries_left <= 0 or self._cancel.is_set() or self._closed:
                return False
            self._retries_left -= 1
            self._abandoned = self._attempt
            self._replaced_job = self.job_id
            self._excluded.update(self._lost)
        logger.warning("%s; planning the whole job again on the remaining workers (%d of %d retries left)",
                       failure, self._retries_left, self.retries)
        return True

    def _is_current(self, attempt: int) -> bool:
        return attempt == self._attempt and attempt != self._abandoned

    def _remaining_facilitators(self) -> list[FacilitatorInfo]:
        """Return the workers to plan on: the chosen or all workers, without those lost in earlier attempts.

        Raises
        ------
        FacilitatorNotFoundError
            If no worker remains.
        """
        addresses = self._addresses
        if addresses is not None and self._excluded:
            addresses = [address for address in addresses if address not in self._excluded]
            if not addresses:
                raise FacilitatorNotFoundError(
                    f"no facilitators remain for job {self.job_id}: workers {sorted(self._excluded)} left the "
                    f"cluster and the overseer may use only {self._addresses}; pass other facilitators"
                )
        infos = [info for info in facilitators_of(self.client, addresses) if info.address not in self._excluded]
        if not infos:
            raise FacilitatorNotFoundError(
                f"no workers remain for job {self.job_id}: workers {sorted(self._excluded)} left the cluster; "
                "start workers or connect to another cluster"
            )
        return infos

    def _plant_and_start(self, rate: float) -> None:
        job_id = self.job_id
        self._infos = self._remaining_facilitators()
        install_facilitators(self.client, [info.address for info in self._infos])
        self.plan = check_plan(self.planner.distribute(list(self.pods), self._infos), self.pods, self._infos)
        self._pod_address = {pod.key: address for address, pods in self.plan.items() for pod in pods}
        logger.info("job %s: %d pods on %d facilitators at %g Hz: %s", job_id, len(self.pods), len(self._infos),
                    rate, {address: [str(pod.key) for pod in pods] for address, pods in self.plan.items()})
        # Kept until the job is stopped. While the scheduler has this task, the client is alive, so the
        # Facilitators keep the job even before its output tasks exist. Any worker can run str.
        self._guard = self.client.submit(str, job_id, key=job_guard_key(job_id), pure=False)
        endpoints = []
        for index, (address, pods) in enumerate(self.plan.items()):
            if not pods:
                continue
            payload = pickle_job(pods, self.config, self.ship_modules)
            bush = f"{job_id}-{index}"
            call_worker(self.client, address, "wavebeans_plant", timeout=120.0, job_id=job_id, bush=bush,
                        payload=payload, sample_rate=rate, guard_task=self._guard.key)
            self._planted.append(address)
            endpoints.append({"bush": bush, "address": address,
                              "pods": [[pod.key.id, pod.key.partition] for pod in pods]})
        for address in self._planted:
            others = [endpoint for endpoint in endpoints if endpoint["address"] != address]
            call_worker(self.client, address, "wavebeans_register_bushes", job_id=job_id, endpoints=others)
        output_tasks = [output_task_key(job_id, key) for key in self._output_pods]
        for address in self._planted:
            call_worker(self.client, address, "wavebeans_start_job", job_id=job_id, output_tasks=output_tasks)

    def _submit_outputs(self) -> None:
        attempt = self._attempt
        for index, key in enumerate(self._output_pods):
            address = self._pod_address[key]
            dask_future = self.client.submit(
                run_output, self.job_id, (key.id, key.partition), workers=[address],
                allow_other_workers=False, pure=False, key=output_task_key(self.job_id, key),
            )
            dask_future.add_done_callback(lambda done, index=index: self._resolve(index, done, attempt))
            self._dask_futures.append(dask_future)

    # -- results ----------------------------------------------------------------------------------

    def _resolve(self, index: int, dask_future, attempt: int) -> None:
        """Take output ``index``'s result from its finished Dask task (runs on Dask's callback thread)."""
        if not self._is_current(attempt):
            return  # a task of an attempt that a retry replaced
        result = self._task_result(index, dask_future)
        if not result.finished and self._retries_left > 0 and not self._cancel.is_set():
            # Telling a worker loss from other failures may wait for the scheduler; Dask runs every
            # callback of the process on one thread, so the check runs on a thread of its own.
            threading.Thread(target=self._settle_failure, args=(index, result, attempt), daemon=True,
                             name=f"wavebeans-{self.job_id}-settle").start()
            return
        self._record(index, result, attempt)

    def _task_result(self, index: int, dask_future) -> ExecutionResult:
        key = self._output_pods[index]
        try:
            if dask_future.status == "finished":
                return dask_future.result()
            if dask_future.status == "cancelled":
                return ExecutionResult.error(JobCancelledError(
                    f"the task of output {self.outputs[index].label()} of job {self.job_id} was cancelled"))
            error = dask_future.exception()
            trace = "".join(traceback.format_tb(dask_future.traceback())) if dask_future.traceback() else None
            return ExecutionResult.error(ExecutionError(
                f"the task of output {self.outputs[index].label()} (pod {key}) on worker "
                f"{self._pod_address.get(key)} failed: {type(error).__name__}: {error}",
                pod=str(key), remote_traceback=trace))
        except Exception as error:  # the client lost the result, for example after a lost worker
            return ExecutionResult.error(ExecutionError(
                f"the result of output {self.outputs[index].label()} of job {self.job_id} is unavailable: {error}"))

    def _settle_failure(self, index: int, result: ExecutionResult, attempt: int) -> None:
        """Handle a failed output as a worker loss when the scheduler dropped a worker of the job, else record it.

        A failed pod call to a dead worker can reach the output before the
        scheduler drops that worker, so a failure naming a worker of the job
        waits up to :data:`LOSS_GRACE` seconds for the drop.
        """
        text = str(result.exception)
        names_worker = any(address in text for address in self._planned_addresses())
        deadline = time.monotonic() + (LOSS_GRACE if names_worker else 0.0)
        lost = self._refresh_lost()
        while lost is None and time.monotonic() < deadline and self._is_current(attempt):
            time.sleep(0.1)
            lost = self._refresh_lost()
        if lost is not None:
            self._on_loss(attempt)
        else:
            self._record(index, result, attempt)

    def _record(self, index: int, result: ExecutionResult, attempt: int) -> None:
        """Resolve output ``index`` with ``result``, or hold a success back while a retry could still replace it."""
        with self._lock:
            if not self._is_current(attempt) or self._futures[index].done():
                return
            if result.finished and self._retries_left > 0:
                self._held_results[index] = result
                if any(held is None for held in self._held_results):
                    return
                ready = list(enumerate(self._held_results))
            else:
                if not result.finished:
                    self._retries_left = 0  # retries follow worker losses only, so this attempt is the last
                ready = [(held_index, held) for held_index, held in enumerate(self._held_results) if held is not None]
                ready.append((index, result))
        for ready_index, ready_result in ready:
            if not self._futures[ready_index].done():
                self._futures[ready_index].set_result(ready_result)

    def _resolve_all(self, failure: BaseException) -> None:
        for future in self._futures:
            if not future.done():
                future.set_result(ExecutionResult.error(failure))

    # -- failure watch -------------------------------------------------------------------------

    def _watch(self, attempt: int, stop: threading.Event) -> None:
        """Handle the loss of a worker with pods of the attempt as soon as the scheduler drops it."""
        while not stop.wait(WATCH_INTERVAL):
            if not self._is_current(attempt) or all(future.done() for future in self._futures):
                return
            if self._refresh_lost() is not None:
                self._on_loss(attempt)
                return

    def _planned_addresses(self) -> list[str]:
        return [address for address, pods in self.plan.items() if pods]

    def _refresh_lost(self) -> FacilitatorLostError | None:
        """Record the planned workers that left the cluster; return the error naming them, or None."""
        try:
            workers = set(cluster_workers(self.client))
        except Exception as error:
            logger.warning("job %s: cannot read the worker list: %s", self.job_id, error)
            return None
        for address in self._planned_addresses():
            if address not in workers and address not in self._lost:
                self._lost[address] = [str(pod.key) for pod in self.plan.get(address, [])]
        if not self._lost:
            return None
        names = "; ".join(f"worker {address} (pods {', '.join(pods)})" for address, pods in self._lost.items())
        self._failure = FacilitatorLostError(f"job {self.job_id} failed: {names} left the cluster")
        return self._failure

    def _on_loss(self, attempt: int) -> None:
        """Start a retry of the job when one remains, else fail the attempt's unfinished outputs."""
        with self._lock:
            if not self._is_current(attempt) or self._failure is None:
                return
            retry = self._take_retry(self._failure)
            if retry:
                self._retry_thread = threading.Thread(target=self._retry, daemon=True,
                                                      name=f"wavebeans-{self.job_id}-retry")
                self._retry_thread.start()
        if not retry:
            self._fail_lost()

    def _retry(self) -> None:
        """Remove what is left of the failed attempt from the surviving workers, then run the job again."""
        self._abort_attempt()
        if self._cancel.is_set() or self._closed:
            self._resolve_all(JobCancelledError(f"job {self.job_id} was cancelled before its retry started"))
            return
        self._launch()

    def _abort_attempt(self) -> None:
        """Cancel and stop the attempt on the surviving workers and delete the lost workers' temporary files."""
        self._cancel_on_survivors()
        if not self._stop_job():
            logger.warning("job %s: some surviving workers did not stop the job cleanly", self.job_id)
        # A writer on a surviving worker may still wait on a call to the lost worker, and it aborts
        # only when that call times out. Its temporary file belongs to the discarded attempt.
        self._remove_partials(every_output=True)

    def _fail_lost(self) -> None:
        failure = self._refresh_lost()
        if failure is None:
            return
        logger.warning("%s", failure)
        self._resolve_all(failure)
        self._cancel_on_survivors()
        self._remove_partials()

    def _cancel_on_survivors(self) -> None:
        """Ask every reachable worker of the job to stop its pods, and cancel the output tasks."""
        for address in self._planted:
            if address not in self._lost:
                self._send_quietly(address, "wavebeans_cancel_job", timeout=5.0, job_id=self.job_id)
        try:
            self.client.cancel([f for f in self._dask_futures if not f.done()])
        except Exception as error:
            logger.debug("job %s: cancelling the tasks failed: %s", self.job_id, error)

    # -- temporary files of lost workers ---------------------------------------------------------

    def _snapshot_partials(self) -> dict[int, set[str]]:
        """Return, per output with a local file target, the temporary files already next to the target."""
        snapshot = {}
        for index, output in enumerate(self.outputs):
            found = _partial_pattern(output)
            if found is not None:
                snapshot[index] = _partial_files(*found)
        return snapshot

    def _remove_partials(self, every_output: bool = False) -> None:
        """Delete the temporary files that output pods on lost workers left next to their targets.

        With ``every_output``, the files of outputs on surviving workers go too:
        the attempt is being discarded, so none of them can be committed.

        A killed worker cannot abort its writer, so its ``.<name>.<hex>.partial``
        file stays. Only files matching the output's target name that were
        not there when the attempt started are deleted, and only in
        directories this process can read (the same machine or a shared filesystem).
        """
        for index, before in self._partials_before.items():
            address = self._pod_address.get(self._output_pods[index])
            if address not in self._lost and not every_output:
                continue
            directory, pattern = _partial_pattern(self.outputs[index])
            for name in sorted(_partial_files(directory, pattern) - before):
                path = os.path.join(directory, name)
                try:
                    os.unlink(path)
                except FileNotFoundError:
                    continue
                except OSError as error:
                    logger.warning("job %s: cannot remove %s, left by the worker %s: %s", self.job_id, path,
                                   address, error)
                    continue
                logger.info("job %s: removed %s, the temporary file of output %s left by the worker %s",
                            self.job_id, path, self.outputs[index].label(), address)

    def _send_quietly(self, address: str, op: str, timeout: float, **kwargs: Any) -> Any:
        try:
            return call_worker(self.client, address, op, timeout=timeout, **kwargs)
        except Exception as error:
            logger.info("job %s: %s on %s failed: %s: %s", self.job_id, op, address, type(error).__name__, error)
            return None

    # -- cancel, close ------------------------------------------------------------------------

    def cancel(self) -> None:
        """Stop the running job on every worker; pods notice within ``config.poll_interval`` seconds.

        Unfinished outputs resolve with ``finished=False`` and a
        :class:`~wavebeans_nb.errors.JobCancelledError`; their targets keep
        their previous content.
        """
        super().cancel()
        if self.job_id is None:
            return
        for address in self._planted:
            if address not in self._lost:
                self._send_quietly(address, "wavebeans_cancel_job", timeout=5.0, job_id=self.job_id)

    def _stop_job(self, timeout: float = 5.0) -> bool:
        """Stop the job on every worker it was planted on and forget it; return True when all stopped cleanly."""
        self._watch_stop.set()
        if self._planted:
            self._refresh_lost()  # a worker that left cannot be reached, and waiting for it only delays close
        clean = True
        for address in self._planted:
            if address in self._lost:
                continue
            try:
                reply = call_worker(self.client, address, "wavebeans_stop_job", timeout=timeout + 10.0,
                                    job_id=self.job_id, wait=timeout)
            except JobNotFoundError:
                # A Facilitator stops a job by itself once the job's tasks are gone from the scheduler.
                logger.info("job %s: already stopped on %s", self.job_id, address)
                continue
            except Exception as error:
                logger.info("job %s: wavebeans_stop_job on %s failed: %s: %s", self.job_id, address,
                            type(error).__name__, error)
                reply = None
            clean = clean and bool(reply and reply.get("clean"))
        if self._lost:
            self._remove_partials()
        self._planted = []
        self._release_guard()
        return clean

    def _release_guard(self) -> None:
        """Release the job's guard task, so that a worker that missed the stop drops the job by itself."""
        guard, self._guard = self._guard, None
        if guard is None:
            return
        try:
            guard.release()
        except Exception as error:  # the client may be closing
            logger.debug("job %s: releasing the guard task failed: %s", self.job_id, error)

    def close(self, timeout: float = 10.0) -> None:
        """Cancel what still runs, stop the job on every worker, and close an embedded cluster.

        Outputs that finished were committed when their futures resolved;
        outputs still running are aborted, never left half-written. After
        this no worker keeps any state of the job.
        """
        if self._closed:
            return
        super().close()
        if self.job_id is not None:
            if any(not future.done() for future in self._futures):
                self.cancel()
            deadline = time.monotonic() + timeout
            retry_thread = self._retry_thread
            if retry_thread is not None:  # let a retry that is planting notice the cancel and stop
                retry_thread.join(max(0.0, deadline - time.monotonic()))
            for future in self._futures:
                try:
                    future.result(timeout=max(0.0, deadline - time.monotonic()))
                except Exception:  # stop_job below reports what did not end
                    pass
            if not self._stop_job(max(1.0, deadline - time.monotonic())):
                logger.warning("job %s: some workers did not stop the job cleanly", self.job_id)
        self._finalizer()

    # -- status ---------------------------------------------------------------------------------

    def status(self) -> dict:
        """Return a plain-data snapshot of the current job, asking every Facilitator for its part.

        Returns
        -------
        dict
            ``job_id``; ``state`` (idle, running, done, failed, cancelled);
            ``partitions``; ``threads`` (sum over the Facilitators);
            ``outputs``: per output ``label``, ``pod``, ``state`` (planted,
            running, done, failed, cancelled, lost), ``elements_written``,
            ``elements_expected`` (None when unknown), ``error``, ``summary``
            (the live-thumbnail data of the output pod, or None) and
            ``facilitator`` (address);
            ``pods``: every pod's status dict (``key``, ``kind``, ``state``,
            ``calls_served``, ``remote_calls_served``, ...) plus ``facilitator``;
            ``facilitators``: per worker ``address``, ``name``, ``threads``,
            ``state`` (ok, lost, unreachable, job_missing), ``error``,
            ``bushes`` (``bush`` and its pod keys), ``remote_bushes``
            (``bush``, ``address``, ``calls`` sent there, ``failures``).
            The keys of :meth:`MultiThreadedOverseer.status` are all present.
        """
        base = {"job_id": self.job_id, "state": self._job_state(), "partitions": self.partitions,
                "threads": sum(info.threads for info in self._infos), "outputs": [], "pods": [],
                "facilitators": []}
        if self.job_id is None:
            return base
        if self._planted:
            self._refresh_lost()
        pods_by_key: dict[str, dict] = {}
        for info in self._infos:
            entry = self._facilitator_status(info, pods_by_key)
            base["facilitators"].append(entry)
        base["pods"] = list(pods_by_key.values())
        base["outputs"] = [self._output_status(index, pods_by_key) for index in range(len(self.outputs))]
        return base

    def _facilitator_status(self, info: FacilitatorInfo, pods_by_key: dict[str, dict]) -> dict:
        entry = {"address": info.address, "name": info.name, "threads": info.threads, "state": "ok",
                 "error": None, "bushes": [], "remote_bushes": []}
        if info.address in self._lost:
            entry.update(state="lost", error=str(self._failure))
            return entry
        if info.address not in self._planted:
            return entry
        try:
            reply = call_worker(self.client, info.address, "wavebeans_job_status", timeout=5.0, job_id=self.job_id)
        except JobNotFoundError as error:
            entry.update(state="job_missing", error=str(error))
            return entry
        except Exception as error:
            entry.update(state="unreachable", error=f"{type(error).__name__}: {error}")
            return entry
        status = reply["status"]
        for bush in status["bushes"]:
            entry["bushes"].append({"bush": bush["bush"], "pods": [pod["key"] for pod in bush["pods"]]})
            for pod in bush["pods"]:
                pods_by_key[pod["key"]] = {**pod, "facilitator": info.address}
        entry["remote_bushes"] = status["remote_bushes"]
        return entry

    def _output_status(self, index: int, pods_by_key: dict[str, dict]) -> dict:
        key = self._output_pods[index]
        address = self._pod_address.get(key)
        pod = pods_by_key.get(str(key), {})
        state = pod.get("state", "planted")
        error = pod.get("error")
        future = self._futures[index] if index < len(self._futures) else None
        if address in self._lost:
            state, error = "lost", str(self._failure)
        elif future is not None and future.done():
            result = future.result()
            if result.finished:
                state = "done"
            elif isinstance(result.exception, FacilitatorLostError):
                state, error = "lost", str(result.exception)
            elif isinstance(result.exception, JobCancelledError):
                state, error = "cancelled", str(result.exception).split("\n", 1)[0]
            else:
                state, error = "failed", str(result.exception).split("\n", 1)[0]
        elif not pod and self._planted:
            state, error = "lost", f"the facilitator {address} does not report pod {key}"
        return {"label": self.outputs[index].label(), "pod": str(key), "state": state,
                "elements_written": pod.get("elements_written", 0), "elements_expected": self._expected[index],
                "error": error, "summary": pod.get("summary"), "facilitator": address}

    def _job_state(self) -> str:
        state = job_state(self._futures)
        # A lost worker cancels the rest of the job, but the job failed rather than being cancelled.
        return "failed" if state == "cancelled" and self._failure is not None else state


def _check_retries(retries: Any) -> int:
    if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
        raise InvalidParameterError(
            f"retries {retries!r} is invalid; pass a whole number >= 0 (0 fails the job when a worker is lost)"
        )
    return retries


def _partial_pattern(output: Output) -> "tuple[str, re.Pattern[str]] | None":
    """Return the directory and the name pattern of the temporary files ``output`` writes, or None.

    :class:`~wavebeans_nb.beans.outputs.base.AtomicFile` writes a local target
    ``<dir>/<name>`` through ``<dir>/.<name>.<8 hex digits>.partial``, and a
    managed output writes ``<root><suffix><ext>`` files. Outputs without a
    ``uri`` and targets on other filesystems give None, because their
    temporary files (if any) are in the writing worker's temporary directory.
    """
    uri = output.params.get("uri")
    if not isinstance(uri, (str, os.PathLike)):
        return None
    try:
        fs, path = fsspec.core.url_to_fs(os.fspath(uri))
    except (ValueError, ImportError) as error:
        logger.debug("cannot resolve the target %s: %s", uri, error)
        return None
    protocols = fs.protocol if isinstance(fs.protocol, tuple) else (fs.protocol,)
    if "file" not in protocols:
        return None
    directory = os.path.dirname(os.path.abspath(path)) or "."
    name = os.path.basename(path)
    if isinstance(output, (ManagedWavOutput, ManagedCsvOutput)):
        root, extension = os.path.splitext(name)
        body = f"{re.escape(root)}.*{re.escape(extension)}"
    else:
        body = re.escape(name)
    return directory, re.compile(rf"\.{body}\.[0-9a-f]{{8}}\.partial")


def _partial_files(directory: str, pattern: "re.Pattern[str]") -> set[str]:
    try:
        names = os.listdir(directory)
    except OSError:
        return set()
    return {name for name in names if pattern.fullmatch(name)}


def _close_owned(client, cluster) -> None:
    if client is not None:
        try:
            client.close()
        except Exception:  # closing at interpreter exit may find the loop gone
            logger.debug("closing the client failed", exc_info=True)
    if cluster is not None:
        try:
            cluster.close()
        except Exception:
            logger.debug("closing the embedded cluster failed", exc_info=True)
