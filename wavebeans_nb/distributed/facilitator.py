"""The Facilitator: a Dask ``WorkerPlugin`` that turns a worker into a WaveBeans Facilitator.

The plugin keeps one :class:`~wavebeans_nb.execution.gardener.Gardener` per
worker and installs these comm handlers on the worker (each takes keyword
arguments; the overseer calls them in this order):

==============================  =============================================================
handler                         what it does
==============================  =============================================================
``wavebeans_plant``             unpickle a job's pods and plant them as a new local bush
                                (with the key of the job's guard task)
``wavebeans_register_bushes``   make other workers' bushes of the job reachable (RemoteBush)
``wavebeans_start_job``         mark the job's bushes started; outputs run as Dask tasks
                                (their keys come along, see "Jobs whose client has gone")
``wavebeans_job_status``        plain-data status of the job on this worker
``wavebeans_cancel_job``        ask every pod and output of the job to stop
``wavebeans_stop_job``          stop the job, commit or abort outputs, forget all its state
``wavebeans_pod_call``          run one pod call for a pod of a local bush (from another worker)
``wavebeans_describe``          the jobs this worker keeps, with their bushes and pods
==============================  =============================================================

Handlers run on the worker's event loop, so every handler that computes,
unpickles or may wait (planting, pod calls, stopping) runs on a thread of the
plugin's own ``ThreadPoolExecutor``. Handlers that take a job id raise
:class:`~wavebeans_nb.distributed.errors.JobNotFoundError` for a job this
worker does not keep. ``wavebeans_pod_call`` puts that error in its reply instead.

Start Facilitators on the workers of a running cluster with
:func:`wavebeans_nb.distributed.cluster.install_facilitators`, which leaves
workers that run one alone, or with
``dask worker <scheduler> --preload wavebeans_nb.distributed.facilitator``
(see :func:`dask_setup`). ``client.register_plugin(Facilitator())`` suits only
a new cluster: a worker replaces a plugin of the same name, and the
Facilitator it replaces stops its jobs.

Jobs whose client has gone
--------------------------
A job keeps pods, threads and buffers on its workers until its overseer stops
it. When the client dies first (a killed kernel, for example), the scheduler
forgets the client's tasks. The overseer submits a small guard task
(:func:`job_guard_key`) before it plants the job and holds it until the job
is stopped, so the job's tasks are known to the scheduler from its planting
on, not only once its output tasks are submitted. Every
:data:`ORPHAN_CHECK_INTERVAL` seconds, the Facilitator asks the scheduler about
the guard and output tasks of each job it keeps. When two checks in a row find
all of them gone, the job is stopped: outputs that have not committed are
aborted, and its state is dropped. A job planted without a guard is watched
from its start on, through its output tasks only.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable

import cloudpickle
from distributed import WorkerPlugin, get_worker, secede
from distributed.protocol import to_serialize
from tornado.ioloop import PeriodicCallback

from ..execution.gardener import Gardener
from ..execution.protocol import ErrorEnvelope, PodCall, PodCallResult, PodKey
from ..execution.result import ExecutionResult
from .allocator import raise_malloc_thresholds
from .errors import JobNotFoundError
from .remote_bush import RemoteBush
from .shared_memory import MappedBuffers, remove_stale_files

__all__ = ["Facilitator", "PLUGIN_NAME", "HANDLERS", "ORPHAN_CHECK_INTERVAL", "output_task_key", "job_guard_key",
           "run_output", "dask_setup", "dask_teardown"]

logger = logging.getLogger(__name__)

#: Name the plugin is registered under; re-registering with the same name replaces the instance.
PLUGIN_NAME = "wavebeans-facilitator"

#: Seconds between two checks for jobs whose guard and output tasks are gone from the scheduler.
ORPHAN_CHECK_INTERVAL = 5.0

#: Comm handlers the plugin installs on its worker.
HANDLERS = (
    "wavebeans_plant", "wavebeans_register_bushes", "wavebeans_start_job", "wavebeans_job_status",
    "wavebeans_cancel_job", "wavebeans_stop_job", "wavebeans_pod_call", "wavebeans_describe",
)


@dataclass
class _JobState:
    """Per-job state of a Facilitator besides the gardener's bushes."""

    remote_bushes: dict[str, RemoteBush] = field(default_factory=dict)
    calls_served: Counter = field(default_factory=Counter)  # remote pod calls served, per "id.partition"
    call_timeout: float = 60.0
    shared_bytes: int | None = None  # size of the shared memory buffers this worker offers, None for none
    mapped: MappedBuffers = field(default_factory=MappedBuffers)  # callers' buffers mapped here
    guard_task: str | None = None  # Dask key of the task the client keeps from planting on
    output_tasks: list[str] = field(default_factory=list)  # Dask keys of the job's output tasks
    unknown_checks: int = 0  # checks in a row that found every watched task gone from the scheduler

    def watched_tasks(self) -> list[str]:
        """Return the Dask keys whose presence on the scheduler shows that the job's client is alive."""
        return ([self.guard_task] if self.guard_task else []) + self.output_tasks

    def close(self) -> None:
        """Release the shared memory of the job on this worker."""
        for remote in self.remote_bushes.values():
            remote.close()
        self.mapped.close()


class Facilitator(WorkerPlugin):
    """Worker plugin that runs the pods of WaveBeans jobs on its worker.

    Parameters
    ----------
    call_threads : int, default 64
        Threads of the plugin's executor. Remote pod calls, planting and
        stopping run there. A call waits at most ``poll_interval`` seconds
        for data, so a few threads per pod of the job are plenty.
    tune_allocator : bool, default True
        Raise glibc's mmap and trim thresholds of the worker process (see
        :mod:`wavebeans_nb.distributed.allocator`). Dask's default worker
        environment makes every block of more than 128 KiB a fresh memory
        mapping, which slows pods down about threefold. The worker then keeps
        up to 32 MiB of freed memory per heap for reuse.

    Notes
    -----
    The plugin runs whatever code the client sends in a job (user functions
    travel pickled). Run Facilitators only for trusted clients.
    """

    name = PLUGIN_NAME
    # Registering again while jobs run would tear this instance and its jobs down; skip it instead.
    idempotent = True

    def __init__(self, call_threads: int = 64, tune_allocator: bool = True) -> None:
        self.call_threads = call_threads
        self.tune_allocator = tune_allocator
        self.allocator: dict | None = None
        self.worker = None
        self.gardener: Gardener | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._jobs: dict[str, _JobState] = {}
        self._lock: threading.Lock | None = None  # created in setup(): the instance is pickled to the worker
        self._orphan_watch: PeriodicCallback | None = None

    # -- plugin lifecycle ------------------------------------------------------------------

    def setup(self, worker) -> None:
        self.worker = worker
        self.gardener = Gardener()
        self._executor = ThreadPoolExecutor(self.call_threads, thread_name_prefix="wavebeans-facilitator")
        self._jobs = {}
        self._lock = threading.Lock()
        if self.tune_allocator:
            self.allocator = raise_malloc_thresholds()
        remove_stale_files()
        for name in HANDLERS:
            worker.handlers[name] = getattr(self, name)
        self._orphan_watch = PeriodicCallback(self._stop_orphans, ORPHAN_CHECK_INTERVAL * 1000)
        self._orphan_watch.start()
        logger.info("wavebeans facilitator started on %s (allocator settings %s)", worker.address, self.allocator)

    async def teardown(self, worker) -> None:
        if self._orphan_watch is not None:
            self._orphan_watch.stop()
        for name in HANDLERS:
            if getattr(worker.handlers.get(name), "__self__", None) is self:
                del worker.handlers[name]
        if self.gardener is not None and self._executor is not None:
            jobs = self.gardener.jobs()
            if jobs:
                logger.warning("wavebeans facilitator on %s: stopping running jobs %s", worker.address, jobs)
            await self._run(self.gardener.stop_all, 2.0)
            self._executor.shutdown(wait=False)
        for state in self._jobs.values():
            state.close()
        self._jobs = {}
        logger.info("wavebeans facilitator stopped on %s", worker.address)

    async def _run(self, fn: Callable[..., Any], *args: Any) -> Any:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, functools.partial(fn, *args))

    def _state(self, job_id: str) -> _JobState:
        with self._lock:
            state = self._jobs.get(job_id)
        if state is None:
            raise JobNotFoundError(
                f"job {job_id!r} is not known to the facilitator on {self.worker.address}; "
                "it was never planted here or it has been stopped"
            )
        return state

    # -- handlers: job lifecycle -------------------------------------------------------------

    async def wavebeans_plant(self, job_id: str, bush: str, payload: bytes, sample_rate: float,
                              guard_task: str | None = None) -> dict:
        """Unpickle ``payload`` (``{"pods": [PodRef], "config": ExecutionConfig}``) and plant it as bush ``bush``.

        ``guard_task`` is the Dask key of a task the job's client keeps until
        it stops the job. The job is stopped here once that key and the
        job's output tasks are gone from the scheduler (see "Jobs whose client has gone").
        """
        return await self._run(self._plant, job_id, bush, payload, sample_rate, guard_task)

    def _plant(self, job_id: str, bush_key: str, payload: bytes, sample_rate: float, guard_task: str | None) -> dict:
        job = cloudpickle.loads(payload)
        with self._lock:
            state = self._jobs.setdefault(job_id, _JobState())
            if guard_task is not None:
                state.guard_task = guard_task
        config = job["config"]
        state.call_timeout = config.stall_timeout
        # Room for one reply: prefetch_buckets chunks of at most chunk_bytes, and one more for slack.
        state.shared_bytes = (config.prefetch_buckets + 1) * config.chunk_bytes if config.shared_memory else None
        try:
            bush = self.gardener.plant(job_id, job["pods"], sample_rate, config, bush_key=bush_key)
        except BaseException:
            if job_id not in self.gardener.jobs():
                with self._lock:
                    self._jobs.pop(job_id, None)
            raise
        return {"bush": bush.key, "pods": [str(key) for key in bush.pods]}

    async def wavebeans_register_bushes(self, job_id: str, endpoints: list) -> dict:
        """Register the job's bushes on other workers: ``endpoints`` items are ``{bush, address, pods}``.

        ``pods`` lists ``[id, partition]`` pairs.
        """
        state = self._state(job_id)
        discovery = self.gardener.context(job_id).discovery
        for endpoint in endpoints:
            remote = RemoteBush(endpoint["bush"], endpoint["address"], job_id, self.worker, state.call_timeout,
                                state.shared_bytes)
            discovery.register_bush(remote)
            state.remote_bushes[remote.key] = remote
            for pod_id, partition in endpoint["pods"]:
                discovery.register_pod(PodKey(pod_id, partition), remote.key)
        return {"registered": len(endpoints)}

    async def wavebeans_start_job(self, job_id: str, output_tasks: list[str] | None = None) -> dict:
        """Mark the job started. Its outputs run when their Dask tasks call :func:`run_output`.

        ``output_tasks`` are the Dask keys of those tasks, on every worker of
        the job. Without them, the job is kept until stopped even if its client has gone.
        """
        state = self._state(job_id)
        state.output_tasks = list(output_tasks or [])
        self.gardener.start(job_id, drive_outputs=False)
        return {"started": True}

    async def wavebeans_cancel_job(self, job_id: str) -> dict:
        """Ask every pod and output of the job to stop; outputs resolve as cancelled and are aborted."""
        self._state(job_id)
        self.gardener.cancel(job_id)
        return {"cancelled": True}

    async def wavebeans_stop_job(self, job_id: str, wait: float = 5.0) -> dict:
        """Stop the job: cancel what runs, close bushes (outputs are aborted unless committed), drop all state.

        Returns ``{"clean": bool}``: False when some thread was still running after ``wait`` seconds.
        """
        self._state(job_id)
        clean = await self._run(self.gardener.stop, job_id, wait)
        with self._lock:
            state = self._jobs.pop(job_id, None)
        if state is not None:
            state.close()
        logger.info("job %s: stopped on %s (clean=%s)", job_id, self.worker.address, clean)
        return {"clean": clean}

    async def _stop_orphans(self) -> None:
        """Stop each job whose guard and output tasks two checks in a row found gone from the scheduler."""
        with self._lock:
            watched = {job_id: state for job_id, state in self._jobs.items() if state.watched_tasks()}
        if not watched:
            return
        keys = [key for state in watched.values() for key in state.watched_tasks()]
        try:
            known = await self.worker.scheduler.get_task_status(keys=keys)
        except Exception as error:  # the next check tries again
            logger.info("facilitator on %s: cannot ask the scheduler about the tasks of jobs %s: %s",
                        self.worker.address, sorted(watched), error)
            return
        for job_id, state in watched.items():
            if any(known.get(key) is not None for key in state.watched_tasks()):
                state.unknown_checks = 0
                continue
            # One check may fall before the scheduler learns of the guard task, or, for a job
            # without one, between the start of the job and the submission of its output tasks.
            state.unknown_checks += 1
            if state.unknown_checks < 2:
                continue
            logger.warning("job %s: its tasks %s are gone from the scheduler, so its client has gone; "
                           "stopping the job on %s", job_id, state.watched_tasks(), self.worker.address)
            try:
                await self.wavebeans_stop_job(job_id)
            except JobNotFoundError:
                logger.info("job %s: already stopped on %s", job_id, self.worker.address)

    # -- handlers: data and introspection -----------------------------------------------------

    async def wavebeans_pod_call(self, job_id: str, bush: str, pod: list, call: PodCall,
                                 shared: dict | None = None) -> dict:
        """Run ``call`` on a pod of local bush ``bush``.

        The reply's ``result`` is a PodCallResult. When the caller offers a
        shared memory buffer (``shared``: ``{"path", "size"}``) and the result
        is large, the reply is ``{"shared": {"pickle", "layout"}}`` instead,
        with the arrays in the buffer. A true ``shared_rejected`` in a
        comms reply means that this worker cannot open the caller's buffers.
        """
        key = PodKey(*pod)
        try:
            state = self._state(job_id)
        except JobNotFoundError as error:
            # Pods on other workers may still call while this worker stops the job. An error reply,
            # unlike a raise, keeps Dask from logging the handler's traceback as an error.
            logger.info("job %s: pod call to %s after the job left this worker: %s", job_id, key, error)
            return {"result": to_serialize(PodCallResult(error=ErrorEnvelope.from_exception(error, pod=key)))}
        state.calls_served[str(key)] += 1
        if shared is not None and not MappedBuffers.valid_offer(shared):
            # Checked before the call runs, because the chunks it takes from the pod cannot go back.
            logger.warning("job %s: pod call to %s with an invalid shared memory offer %r; replying over the comms",
                           job_id, key, shared)
            shared = None
        return await self._run(self._pod_call_reply, state, job_id, bush, key, call, shared)

    def _pod_call_reply(self, state: _JobState, job_id: str, bush_key: str, pod: PodKey, call: PodCall,
                        shared: dict | None) -> dict:
        result = self._pod_call(job_id, bush_key, pod, call)
        # An empty reply has no arrays, and pickling it for the buffer first would pickle it twice.
        if shared is None or not result.value:
            return {"result": to_serialize(result)}
        try:
            written = state.mapped.write_reply(result, shared)
        except Exception as error:  # the chunks are taken from the pod, so they must go back over the comms
            logger.warning("job %s: shared memory reply of pod %s into %s failed, replying over the comms: %s",
                           job_id, pod, shared["path"], error)
            written = None
        if written is not None:
            return {"shared": written}
        return {"result": to_serialize(result), "shared_rejected": state.mapped.rejected(shared["path"])}

    def _pod_call(self, job_id: str, bush_key: str, pod: PodKey, call: PodCall) -> PodCallResult:
        for local in self.gardener.bushes(job_id):
            if local.key == bush_key:
                return local.call(pod, call)
        error = JobNotFoundError(f"bush {bush_key} of job {job_id} is not on worker {self.worker.address}")
        return PodCallResult(error=ErrorEnvelope.from_exception(error, pod=pod))

    async def wavebeans_job_status(self, job_id: str) -> dict:
        """Return the job's status on this worker; see :meth:`job_status`."""
        self._state(job_id)
        return {"status": to_serialize(await self._run(self.job_status, job_id))}

    def job_status(self, job_id: str) -> dict:
        """Return ``address``, ``job_id``, ``started``, ``cancelled``, ``bushes`` and ``remote_bushes``.

        Every pod entry of ``bushes[*]["pods"]`` gets ``remote_calls_served``:
        the pod calls that arrived from other workers.
        """
        state = self._state(job_id)
        status = self.gardener.status(job_id)
        for bush in status["bushes"]:
            for pod in bush["pods"]:
                pod["remote_calls_served"] = state.calls_served.get(pod["key"], 0)
        status["address"] = self.worker.address
        status["remote_bushes"] = [remote.status() for remote in state.remote_bushes.values()]
        return status

    async def wavebeans_describe(self, job_id: str | None = None) -> dict:
        """Return ``{"address", "threads", "allocator", "jobs": {job id: {"bushes", "remote_bushes"}}}``.

        ``allocator`` holds the glibc thresholds the plugin set, or None. With
        ``job_id``, only that job is listed, and an unknown job raises.
        """
        if job_id is not None:
            self._state(job_id)
        jobs = {}
        for known in self.gardener.jobs():
            if job_id is not None and known != job_id:
                continue
            state = self._jobs.get(known, _JobState())
            jobs[known] = {
                "bushes": [{"bush": bush.key, "pods": [str(key) for key in bush.pods]}
                           for bush in self.gardener.bushes(known)],
                "remote_bushes": [remote.status() for remote in state.remote_bushes.values()],
            }
        return {"address": self.worker.address, "threads": self.worker.state.nthreads,
                "allocator": self.allocator, "jobs": jobs, "job_states": sorted(self._jobs)}

    # -- task side -------------------------------------------------------------------------

    def drive(self, job_id: str, pod: PodKey) -> ExecutionResult:
        """Run one output pod of the job to its end on the calling (task) thread."""
        self._state(job_id)
        return self.gardener.drive(job_id, pod)


def output_task_key(job_id: str, pod: PodKey) -> str:
    """Return the Dask key of the task that runs output pod ``pod`` of job ``job_id``."""
    return f"wavebeans-output-{job_id}-{pod.id}.{pod.partition}"


def job_guard_key(job_id: str) -> str:
    """Return the Dask key of the guard task that the client of job ``job_id`` keeps while the job exists."""
    return f"wavebeans-job-{job_id}"


def run_output(job_id: str, pod: tuple[int, int]) -> ExecutionResult:
    """Dask task: run output pod ``pod`` of job ``job_id`` on this worker and return its result.

    The task leaves the worker's thread pool first (``secede``), because it
    runs as long as the output and must not keep other tasks waiting.

    Raises
    ------
    JobNotFoundError
        If the worker has no Facilitator or does not keep the job.
    """
    worker = get_worker()
    plugin = worker.plugins.get(PLUGIN_NAME)
    if not isinstance(plugin, Facilitator):
        raise JobNotFoundError(
            f"worker {worker.address} has no wavebeans facilitator, so job {job_id} cannot run there"
        )
    secede()
    return plugin.drive(job_id, PodKey(*pod))


async def dask_setup(worker) -> None:
    """Install the Facilitator on a worker started with ``--preload wavebeans_nb.distributed.facilitator``."""
    await worker.plugin_add(plugin=Facilitator(), name=PLUGIN_NAME)


async def dask_teardown(worker) -> None:
    """Remove the Facilitator when the worker stops."""
    if PLUGIN_NAME in worker.plugins:
        await worker.plugin_remove(name=PLUGIN_NAME)
