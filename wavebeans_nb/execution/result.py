"""The result an overseer's future resolves to."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ExecutionResult"]


@dataclass(frozen=True)
class ExecutionResult:
    """Outcome of evaluating one output.

    Attributes
    ----------
    finished : bool
        True when the output consumed its whole input and was committed.
    exception : BaseException or None
        Why the output did not finish: the error raised while evaluating it,
        or :class:`~wavebeans_nb.errors.JobCancelledError` after ``cancel()``.
    """

    finished: bool
    exception: BaseException | None = None

    @classmethod
    def success(cls) -> "ExecutionResult":
        return cls(True, None)

    @classmethod
    def error(cls, exception: BaseException) -> "ExecutionResult":
        return cls(False, exception)
