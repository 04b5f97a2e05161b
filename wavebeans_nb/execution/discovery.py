"""PodDiscovery: where each pod of one job lives."""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING

from ..errors import ExecutionError

if TYPE_CHECKING:
    from .bush import Bush
    from .protocol import PodKey

__all__ = ["PodDiscovery"]

logger = logging.getLogger(__name__)


class PodDiscovery:
    """Maps the pods of one job to the bushes that run them.

    There is one discovery per job (and per worker in distributed mode), never
    one per process, so jobs cannot see or collide with each other's pods.
    Registering the same entry twice is allowed; registering a pod or bush
    key with a different target is an error.
    """

    def __init__(self, job_id: str) -> None:
        self.job_id = job_id
        self._lock = threading.Lock()
        self._bushes: dict[str, Bush] = {}
        self._pods: dict[PodKey, str] = {}

    def register_bush(self, bush: "Bush") -> None:
        """Make ``bush`` reachable by its key (a local bush, or a handle to a remote one)."""
        with self._lock:
            known = self._bushes.setdefault(bush.key, bush)
        if known is not bush:
            raise ExecutionError(f"job {self.job_id}: bush {bush.key} is already registered as {known!r}")

    def register_pod(self, pod: "PodKey", bush_key: str) -> None:
        """Record that ``pod`` runs on bush ``bush_key``."""
        with self._lock:
            known = self._pods.setdefault(pod, bush_key)
        if known != bush_key:
            raise ExecutionError(
                f"job {self.job_id}: pod {pod} is already registered on bush {known}, not {bush_key}"
            )

    def bush_for(self, pod: "PodKey") -> "Bush":
        """Return the bush that runs ``pod``.

        Raises
        ------
        ExecutionError
            If the pod or its bush is not registered in this job.
        """
        with self._lock:
            bush_key = self._pods.get(pod)
            bush = self._bushes.get(bush_key) if bush_key is not None else None
        if bush is None:
            raise ExecutionError(
                f"job {self.job_id}: pod {pod} is not registered"
                + ("" if bush_key is None else f" (its bush {bush_key} is gone)")
            )
        return bush

    def unregister_bush(self, bush_key: str) -> None:
        """Forget a bush and every pod registered on it."""
        with self._lock:
            self._bushes.pop(bush_key, None)
            for pod in [pod for pod, key in self._pods.items() if key == bush_key]:
                del self._pods[pod]

    def clear(self) -> None:
        """Forget everything (at the end of the job)."""
        with self._lock:
            self._bushes.clear()
            self._pods.clear()

    def snapshot(self) -> dict[str, str]:
        """Return ``{"id.partition": bush key}`` for every registered pod."""
        with self._lock:
            return {str(pod): bush for pod, bush in self._pods.items()}

    def __repr__(self) -> str:
        return f"<PodDiscovery job={self.job_id} pods={len(self._pods)} bushes={len(self._bushes)}>"
