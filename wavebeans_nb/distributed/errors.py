"""Errors specific to distributed execution."""

from __future__ import annotations

from ..errors import ExecutionError

__all__ = ["JobNotFoundError", "FacilitatorLostError", "FacilitatorNotFoundError"]


class JobNotFoundError(ExecutionError, LookupError):
    """A Facilitator was asked about a job it does not keep (never planted there, or already stopped)."""


class FacilitatorLostError(ExecutionError):
    """A worker that ran pods of a job left the cluster (its process died or was shut down)."""


class FacilitatorNotFoundError(ExecutionError, LookupError):
    """No usable Facilitator: the cluster has no workers, or a given address is not a worker."""
