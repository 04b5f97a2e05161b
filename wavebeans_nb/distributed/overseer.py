"""The DistributedOverseer: runs a job's pods on the workers of a Dask cluster."""

from __future__ import annotations

import logging
import threading
import time
import traceback
import uuid
import weakref
from concurrent.futures import Future
from types import ModuleType
from typing import Any, Iterable

from ..beans.base import check_sample_rate
from ..beans.outputs.base import Output
from ..errors import ExecutionError, InvalidParameterError, JobCancelledError
from ..execution.config import ExecutionConfig
from ..execution.podref import PodRef, build_pods
from ..execution.protocol import PodKey
from ..execution.result import ExecutionResult
from ..execution.single_threaded import Overseer
from ..execution.topology import Topology, build_topology
from .cluster import call_worker, facilitators_of, install_facilitators, scheduler_of, start_local_cluster
from .code import pickle_job
from .errors import FacilitatorLostError, JobNotFoundError
from .facilitator import run_output
from .planner import DistributionPlanner, EvenDistributionPlanner, FacilitatorInfo, check_plan

__all__ = ["DistributedOverseer"]

logger = logging.getLogger(__name__)

#: Seconds between two checks of the scheduler's worker list while a job runs.
WATCH_INTERVAL = 0.5


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

    Attributes
    ----------
    topology, partitioned_topology : Topology
    pods : list of PodRef
    plan : dict of str to list of PodRef
        The distribution plan of the last :meth:`eval` (address to pods).
    client : distributed.Client

    Raises
    ------
    InvalidParameterError
        If ``outputs`` is empty or ``partitions`` is not a whole number >= 1.
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
                 ship_modules: Iterable[ModuleType] = ()) -> None:
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
        self._lost: dict[str, list[str]] = {}
        self._failure: ExecutionError | None = None
        self._infos: list[FacilitatorInfo] = []
        self._watch_stop = threading.Event()
        self._watcher: threading.Thread | None = None
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
            connected = Client(client, set_as_default=False, timeout=30)
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
        already removed from the workers).

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
        self.job_id = uuid.uuid4().hex[:12]
        self._cancel.clear()
        self._failure = None
        self._lost = {}
        self._expected = [output.samples_count(rate) for output in self.outputs]
        self._futures = [Future() for _ in self.outputs]
        try:
            self._plant_and_start(rate)
        except Exception as error:
            logger.info("job %s: starting failed: %s", self.job_id, error)
            failure = error if isinstance(error, ExecutionError) else ExecutionError(
                f"starting job {self.job_id} failed: {type(error).__name__}: {error}")
            self._stop_job(timeout=2.0)
            for future in self._futures:
                future.set_result(ExecutionResult.error(failure))
            return list(self._futures)
        self._submit_outputs()
        self._watch_stop.clear()
        self._watcher = threading.Thread(target=self._watch, daemon=True, name=f"wavebeans-{self.job_id}-watch")
        self._watcher.start()
        return list(self._futures)

    def _plant_and_start(self, rate: float) -> None:
        job_id = self.job_id
        self._infos = facilitators_of(self.client, self._addresses)
        install_facilitators(self.client, [info.address for info in self._infos])
        self.plan = check_plan(self.planner.distribute(list(self.pods), self._infos), self.pods, self._infos)
        self._pod_address = {pod.key: address for address, pods in self.plan.items() for pod in pods}
        logger.info("job %s: %d pods on %d facilitators at %g Hz: %s", job_id, len(self.pods), len(self._infos),
                    rate, {address: [str(pod.key) for pod in pods] for address, pods in self.plan.items()})
        endpoints = []
        for index, (address, pods) in enumerate(self.plan.items()):
            if not pods:
                continue
            payload = pickle_job(pods, self.config, self.ship_modules)
            bush = f"{job_id}-{index}"
            call_worker(self.client, address, "wavebeans_plant", timeout=120.0,
                        job_id=job_id, bush=bush, payload=payload, sample_rate=rate)
            self._planted.append(address)
            endpoints.append({"bush": bush, "address": address,
                              "pods": [[pod.key.id, pod.key.partition] for pod in pods]})
        for address in self._planted:
            others = [endpoint for endpoint in endpoints if endpoint["address"] != address]
            call_worker(self.client, address, "wavebeans_register_bushes", job_id=job_id, endpoints=others)
        for address in self._planted:
            call_worker(self.client, address, "wavebeans_start_job", job_id=job_id)

    def _submit_outputs(self) -> None:
        self._dask_futures = []
        for index, key in enumerate(self._output_pods):
            address = self._pod_address[key]
            dask_future = self.client.submit(
                run_output, self.job_id, (key.id, key.partition), workers=[address],
                allow_other_workers=False, pure=False, key=f"wavebeans-output-{self.job_id}-{key.id}.{key.partition}",
            )
            dask_future.add_done_callback(lambda done, index=index: self._resolve(index, done))
            self._dask_futures.append(dask_future)

    def _resolve(self, index: int, dask_future) -> None:
        """Resolve output ``index`` from its finished Dask task (runs on Dask's callback thread)."""
        future = self._futures[index]
        if future.done():
            return
        key = self._output_pods[index]
        try:
            if dask_future.status == "finished":
                result = dask_future.result()
            elif dask_future.status == "cancelled":
                result = ExecutionResult.error(JobCancelledError(
                    f"the task of output {self.outputs[index].label()} of job {self.job_id} was cancelled"))
            else:
                error = dask_future.exception()
                trace = "".join(traceback.format_tb(dask_future.traceback())) if dask_future.traceback() else None
                result = ExecutionResult.error(ExecutionError(
                    f"the task of output {self.outputs[index].label()} (pod {key}) on worker "
                    f"{self._pod_address.get(key)} failed: {type(error).__name__}: {error}",
                    pod=str(key), remote_traceback=trace))
        except Exception as error:  # the client lost the result, for example after a lost worker
            result = ExecutionResult.error(ExecutionError(
                f"the result of output {self.outputs[index].label()} of job {self.job_id} is unavailable: {error}"))
        if not future.done():
            future.set_result(result)

    # -- failure watch -------------------------------------------------------------------------

    def _watch(self) -> None:
        """Fail the job when a worker with pods of it leaves the cluster."""
        futures = list(self._futures)
        while not self._watch_stop.wait(WATCH_INTERVAL):
            if all(future.done() for future in futures):
                return
            try:
                workers = set(self.client.scheduler_info(n_workers=-1)["workers"])
            except Exception as error:
                logger.warning("job %s: cannot read the worker list: %s", self.job_id, error)
                continue
            lost = [address for address in self._planted if address not in workers]
            if lost:
                self._fail_lost(lost)
                return

    def _refresh_lost(self) -> FacilitatorLostError | None:
        """Record the planted workers that left the cluster; return the error naming them, or None."""
        try:
            workers = set(self.client.scheduler_info(n_workers=-1)["workers"])
        except Exception as error:
            logger.warning("job %s: cannot read the worker list: %s", self.job_id, error)
            return None
        for address in self._planted:
            if address not in workers and address not in self._lost:
                self._lost[address] = [str(pod.key) for pod in self.plan.get(address, [])]
        if not self._lost:
            return None
        names = "; ".join(f"worker {address} (pods {', '.join(pods)})" for address, pods in self._lost.items())
        self._failure = FacilitatorLostError(f"job {self.job_id} failed: {names} left the cluster")
        return self._failure

    def _fail_lost(self, lost: list[str]) -> None:
        failure = self._refresh_lost()
        if failure is None:
            return
        logger.warning("%s", failure)
        for future in self._futures:
            if not future.done():
                future.set_result(ExecutionResult.error(failure))
        for address in self._planted:
            if address not in self._lost:
                self._send_quietly(address, "wavebeans_cancel_job", timeout=5.0, job_id=self.job_id)
        try:
            self.client.cancel([f for f in self._dask_futures if not f.done()])
        except Exception as error:
            logger.debug("job %s: cancelling the tasks failed: %s", self.job_id, error)

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
            reply = self._send_quietly(address, "wavebeans_stop_job", timeout=timeout + 10.0,
                                       job_id=self.job_id, wait=timeout)
            clean = clean and bool(reply and reply.get("clean"))
        self._planted = []
        return clean

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
        if not self._futures:
            return "idle"
        if not all(future.done() for future in self._futures):
            return "running"
        results = [future.result() for future in self._futures]
        if all(result.finished for result in results):
            return "done"
        if any(isinstance(result.exception, JobCancelledError) for result in results) and self._failure is None:
            return "cancelled"
        return "failed"


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
