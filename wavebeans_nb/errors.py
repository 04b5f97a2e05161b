"""Exception hierarchy of wavebeans-nb.

Every error the library raises on purpose derives from :class:`WaveBeansError`.
Subclasses also derive from the built-in exception that fits, so callers can
catch either ``WaveBeansError`` or the usual ``ValueError`` / ``OSError``.
"""

from __future__ import annotations

__all__ = [
    "WaveBeansError",
    "InvalidParameterError",
    "SampleRateMismatchError",
    "AudioFileError",
    "AudioFormatError",
    "OutputError",
    "ExecutionError",
    "JobCancelledError",
]


class WaveBeansError(Exception):
    """Base class of all errors raised by wavebeans-nb."""


class InvalidParameterError(WaveBeansError, ValueError):
    """A parameter of a bean, an output or an overseer is out of its valid range."""


class SampleRateMismatchError(WaveBeansError, ValueError):
    """Inputs with fixed sample rates disagree, or differ from the evaluation rate."""


class AudioFileError(WaveBeansError, OSError):
    """An audio file is missing, unreadable or truncated."""


class AudioFormatError(WaveBeansError, ValueError):
    """A file exists but is not audio in a format libsndfile can decode."""


class OutputError(WaveBeansError, OSError):
    """An output could not be written or committed to its target."""


class ExecutionError(WaveBeansError, RuntimeError):
    """A bean or pod failed while a job was running.

    Attributes
    ----------
    bean : str or None
        Label of the bean that raised, when known.
    pod : str or None
        Key of the pod that ran the bean, when the job ran in pods.
    remote_traceback : str or None
        Formatted traceback of the original error, kept as text so that it
        survives crossing thread and process boundaries.
    """

    def __init__(
        self,
        message: str,
        *,
        bean: str | None = None,
        pod: str | None = None,
        remote_traceback: str | None = None,
    ) -> None:
        super().__init__(message)
        self.bean = bean
        self.pod = pod
        self.remote_traceback = remote_traceback

    def __reduce__(self):
        return (
            _rebuild_execution_error,
            (type(self), super().__str__(), self.bean, self.pod, self.remote_traceback),
        )

    def __str__(self) -> str:
        text = super().__str__()
        if self.remote_traceback:
            text += "\n\nOriginal traceback:\n" + self.remote_traceback.rstrip()
        return text


def _rebuild_execution_error(cls, message, bean, pod, remote_traceback):
    return cls(message, bean=bean, pod=pod, remote_traceback=remote_traceback)


class JobCancelledError(ExecutionError):
    """The job was cancelled before this output finished."""
