"""Bushes: the pods of one job on one worker.

:class:`Bush` is the interface every bush offers, so a handle to a bush in
another process (a remote bush) can stand in for a local one: it forwards
:class:`~wavebeans_nb.execution.protocol.PodCall` values and returns
:class:`~wavebeans_nb.execution.protocol.PodCallResult` values, both of which
pickle. :class:`LocalBush` runs pods: each stream pod computes on its own
thread, and each output pod is driven by a thread that resolves the output's
future when the output is committed, has failed or was cancelled.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import Future

from ..errors import ExecutionError, JobCancelledError
from .context import JobContext
from .pods import OutputPod, Pod, instantiate_pod
from .podref import PodRef
from .protocol import ErrorEnvelope, PodCall, PodCallResult, PodFailure, PodKey
from .result import ExecutionResult

__all__ = ["Bush", "LocalBush"]

logger = logging.getLogger(__name__)


class Bush:
    """Interface of every bush: a key, ``call``, ``start`` and ``close``.

    Attributes
    ----------
    key : str
        Unique key of the bush within its job.
    local : bool
        True when the pods run in this process (calls are cheap).
    """

    key: str
    local: bool = False

    def call(self, pod: PodKey, call: PodCall) -> PodCallResult:
        """Run ``call`` on ``pod`` and return its result; errors come back inside the result."""
        raise NotImplementedError

    def start(self) -> None:
        """Start driving the bush's output pods."""

    def close(self) -> None:
        """Stop the bush's pods and release them."""


class LocalBush(Bush):
    """Runs a set of pods in this process.

    Parameters
    ----------
    key : str
        The bush key.
    context : JobContext
        The job's settings, discovery, cancellation event and compute slots.
        The bush registers itself and its pods in ``context.discovery``.
    """

    local = True

    def __init__(self, key: str, context: JobContext) -> None:
        self.key = key
        self.context = context
        self._pods: dict[PodKey, Pod] = {}
        self._futures: dict[PodKey, Future] = {}
        self._states: dict[PodKey, dict] = {}
        self._threads: list[threading.Thread] = []
        self._started = False
        self._closed = False
        self._driven: set[PodKey] = set()
        self._lock = threading.Lock()
        context.discovery.register_bush(self)

    # -- planting ---------------------------------------------------------------------

    def plant(self, ref: PodRef) -> Pod:
        """Instantiate the pod ``ref`` describes and add it to the bush."""
        pod = instantiate_pod(ref, self.context)
        self.add_pod(pod)
        return pod

    def add_pod(self, pod: Pod) -> None:
        """Add a pod and register it in the job's discovery."""
        self._pods[pod.key] = pod
        self.context.discovery.register_pod(pod.key, self.key)
        if isinstance(pod, OutputPod):
            self._futures[pod.key] = Future()
            self._states[pod.key] = {"state": "planted", "error": None}

    @property
    def pods(self) -> dict[PodKey, Pod]:
        return dict(self._pods)

    # -- calls ------------------------------------------------------------------------

    def call(self, pod: PodKey, call: PodCall) -> PodCallResult:
        """Run ``call`` on a pod of this bush, on the calling thread."""
        target = self._pods.get(PodKey(*pod))
        if target is None:
            error = ExecutionError(f"pod {pod} is not found on bush {self.key} of job {self.context.job_id}")
            return PodCallResult(error=ErrorEnvelope.from_exception(error, pod=pod))
        return target.call(call)

    # -- running outputs ------------------------------------------------------------------

    def start(self, drive_outputs: bool = True) -> None:
        """Start one thread per output pod; each resolves its future when the output ends.

        With ``drive_outputs=False`` the bush only marks itself started, and
        the caller runs every output pod with :meth:`drive` on a thread of its
        own (the distributed engine runs each one as a Dask task).
        """
        if self._started:
            return
        self._started = True
        if not drive_outputs:
            return
        for key, future in self._futures.items():
            thread = threading.Thread(
                target=self._drive, args=(self._pods[key], future), daemon=True,
                name=f"wavebeans-{self.context.job_id}-output-{key}",
            )
            self._threads.append(thread)
            thread.start()

    def drive(self, pod: PodKey) -> ExecutionResult:
        """Run output pod ``pod`` to its end on the calling thread and return its result.

        Raises
        ------
        ExecutionError
            If ``pod`` is not an output pod of this bush, the bush was not
            started, or the pod is already being driven.
        """
        key = PodKey(*pod)
        future = self._futures.get(key)
        if future is None:
            raise ExecutionError(f"pod {key} is not an output pod of bush {self.key} of job {self.context.job_id}")
        if not self._started:
            raise ExecutionError(f"bush {self.key} of job {self.context.job_id} is not started; start the job first")
        with self._lock:
            if key in self._driven:
                raise ExecutionError(f"output pod {key} of job {self.context.job_id} is already running")
            self._driven.add(key)
        self._drive(self._pods[key], future)
        return future.result()

    def tick_futures(self) -> dict[PodKey, Future]:
        """Return the future of every output pod, resolving to an ExecutionResult."""
        return dict(self._futures)

    def _drive(self, pod: OutputPod, future: Future) -> None:
        state = self._states[pod.key]
        try:
            with self.context.slots.hold():
                result = self._write(pod, state)
        except BaseException as error:  # resolve the future (in finally) even for a non-Exception error
            result = ExecutionResult.error(error)
            state.update(state="failed", error=str(error))
            raise
        finally:
            if not future.done():
                future.set_result(result)

    def _write(self, pod: OutputPod, state: dict) -> ExecutionResult:
        context = self.context
        state["state"] = "running"
        try:
            if not context.cancelled:
                pod.start(context.sample_rate)
                while not context.cancelled and pod.tick():
                    pass
            if context.cancelled:
                raise JobCancelledError(f"job {context.job_id} was cancelled while writing {pod.tail.label()}")
            pod.commit()
        except Exception as error:
            try:
                pod.abort()
            except Exception:
                logger.warning("job %s: aborting output pod %s failed", context.job_id, pod.key, exc_info=True)
            failure = self._output_error(pod, error)
            state.update(state="cancelled" if isinstance(failure, JobCancelledError) else "failed",
                         error=str(failure).split("\n", 1)[0])
            logger.info("job %s: output pod %s ended: %s", context.job_id, pod.key, state["error"])
            return ExecutionResult.error(failure)
        state["state"] = "done"
        logger.info("job %s: output pod %s done, %d elements", context.job_id, pod.key, pod.elements_written)
        return ExecutionResult.success()

    def _output_error(self, pod: OutputPod, error: Exception) -> ExecutionError:
        if self.context.cancelled or isinstance(error, JobCancelledError):
            if isinstance(error, JobCancelledError):
                return error
            return JobCancelledError(f"job {self.context.job_id} was cancelled while writing {pod.tail.label()}")
        if isinstance(error, PodFailure):
            if error.envelope.type_name.endswith("JobCancelledError"):
                return JobCancelledError(error.envelope.message)
            return error.envelope.to_error()
        return pod.envelope(error).to_error()

    # -- status and shutdown -------------------------------------------------------------------

    def status(self) -> dict:
        """Return a plain-data snapshot: every pod's status, plus each output's state."""
        pods = []
        for key, pod in self._pods.items():
            entry = pod.status()
            if key in self._states:
                entry.update(self._states[key])
            pods.append(entry)
        return {"bush": self.key, "job_id": self.context.job_id, "pods": pods}

    def close(self, timeout: float = 5.0) -> bool:
        """Cancel what still runs, wait up to ``timeout`` seconds for the threads, release the pods.

        Returns
        -------
        bool
            True when every thread of the bush ended in time.
        """
        if self._closed:
            return True
        self._closed = True
        self.context.cancel.set()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        for pod in self._pods.values():
            pod.close()
        clean = all(not thread.is_alive() for thread in self._threads)
        for pod in self._pods.values():
            clean = pod.join(max(0.0, deadline - time.monotonic())) and clean
        self.context.discovery.unregister_bush(self.key)
        if not clean:
            logger.warning("job %s: bush %s closed with threads still running after %g s",
                           self.context.job_id, self.key, timeout)
        return clean

    def __repr__(self) -> str:
        return f"<LocalBush {self.key} job={self.context.job_id} pods={len(self._pods)}>"
