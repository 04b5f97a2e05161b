"""RemoteBush: a handle to another worker's bush, reached over the worker's comm pool."""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING

from distributed.protocol import to_serialize
from distributed.utils import sync

from ..errors import ExecutionError
from ..execution.bush import Bush
from ..execution.protocol import ErrorEnvelope, PodCall, PodCallResult, PodKey
from .shared_memory import SharedBuffer, SharedBufferPool, decode_reply

if TYPE_CHECKING:
    from distributed import Worker

__all__ = ["RemoteBush"]

logger = logging.getLogger(__name__)


class RemoteBush(Bush):
    """Forwards pod calls to a bush on another worker.

    Each :meth:`call` sends one ``wavebeans_pod_call`` message through
    ``worker.rpc`` (Dask's pooled connections) and blocks the calling thread
    until the reply arrives, so it must never run on the worker's event loop.
    The :class:`~wavebeans_nb.execution.protocol.PodCall` and the reply travel
    pickled with protocol 5, so the numpy arrays inside chunks go as separate
    out-of-band frames rather than being copied into the pickle. One
    ``iterator_next`` call carries up to ``ExecutionConfig.prefetch_buckets``
    chunks. With ``shared_bytes``, each call also offers a shared memory
    buffer of that size, and a worker on the same machine puts the reply's
    arrays there instead (see :mod:`wavebeans_nb.distributed.shared_memory`).

    Parameters
    ----------
    key : str
        The remote bush's key.
    address : str
        Dask address of the worker that runs it.
    job_id : str
    worker : distributed.Worker
        The local worker, whose event loop and comm pool carry the calls.
    timeout : float
        Seconds one call may take before it fails (the remote side returns from
        ``iterator_next`` within ``poll_interval``, so only a stuck worker reaches it).
    shared_bytes : int or None
        Bytes of each shared memory buffer offered with a call; None offers none.
    """

    local = False

    def __init__(self, key: str, address: str, job_id: str, worker: "Worker", timeout: float = 60.0,
                 shared_bytes: int | None = None) -> None:
        self.key = key
        self.address = address
        self.job_id = job_id
        self.worker = worker
        self.timeout = timeout
        self.calls = 0
        self.failures = 0
        self.shared_replies = 0
        self._shared = None if shared_bytes is None else SharedBufferPool(shared_bytes)
        self._lock = threading.Lock()

    def call(self, pod: PodKey, call: PodCall) -> PodCallResult:
        """Run ``call`` on ``pod`` of the remote bush; a transport failure comes back as an error result."""
        with self._lock:
            self.calls += 1
        # Only data calls carry chunks; the other calls would hold a buffer for nothing.
        wants_buffer = self._shared is not None and call.method == "iterator_next"
        buffer = self._shared.acquire() if wants_buffer else None
        try:
            reply = sync(self.worker.loop, self._send, PodKey(*pod), call, buffer, callback_timeout=self.timeout)
            result = self._take_reply(reply, buffer)
        except Exception as error:
            if buffer is not None:
                self._shared.discard(buffer)  # the other worker may still be writing into it
            with self._lock:
                self.failures += 1
            failure = ExecutionError(
                f"pod call {call.method} to pod {pod} on worker {self.address} (bush {self.key}, job "
                f"{self.job_id}) failed: {type(error).__name__}: {error}",
                pod=str(PodKey(*pod)),
            )
            logger.info("%s", failure)
            return PodCallResult(error=ErrorEnvelope.from_exception(failure, pod=PodKey(*pod)))
        if buffer is not None:
            self._shared.release(buffer)
        return result

    async def _send(self, pod: PodKey, call: PodCall, buffer: SharedBuffer | None) -> dict:
        return await self.worker.rpc(self.address).wavebeans_pod_call(
            job_id=self.job_id, bush=self.key, pod=[pod.id, pod.partition], call=to_serialize(call),
            shared=None if buffer is None else buffer.offer(),
        )

    def _take_reply(self, reply: dict, buffer: SharedBuffer | None) -> PodCallResult:
        if "shared" in reply:
            result = decode_reply(buffer, reply["shared"])
            buffer.unlink()  # the other worker has mapped it; the name is no longer needed
            with self._lock:
                self.shared_replies += 1
            return result
        if buffer is not None and reply.get("shared_rejected"):
            logger.info("job %s: worker %s cannot open shared memory files; pod calls to bush %s use the comms",
                        self.job_id, self.address, self.key)
            self._shared.disable()
        return reply["result"]

    def close(self) -> None:
        """Remove this bush's shared memory buffers."""
        if self._shared is not None:
            self._shared.close()

    def status(self) -> dict:
        """Return ``bush``, ``address``, ``calls`` (sent so far), ``failures`` and ``shared_replies``.

        ``shared_replies`` counts the replies that came through shared memory.
        """
        return {"bush": self.key, "address": self.address, "calls": self.calls, "failures": self.failures,
                "shared_replies": self.shared_replies}

    def __repr__(self) -> str:
        return f"<RemoteBush {self.key} at {self.address} job={self.job_id}>"
