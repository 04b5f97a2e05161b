"""The values that travel between pods: keys, chunks, calls, results and error envelopes.

Everything here is a small immutable value that pickles (and cloudpickles)
without the engine's live objects, so a bush on another process can forward
calls and results unchanged.

The pod call protocol (version :data:`PROTOCOL_VERSION`) has these methods:

``iterator_start(sample_rate, partition, consumer) -> int``
    Attach the consumer's cursor and return its key. The first call fixes the
    rate the pod runs at and starts it.
``iterator_next(key, buckets, wait, least) -> list[Chunk] | None``
    Return up to ``buckets`` chunks once ``least`` (default 1) are ready;
    after ``wait`` seconds, what is there, possibly an empty list (call
    again); None at the end of the stream.
``iterator_close(consumer) -> None``
    Release the consumer's cursor, read or not; the pod stops computing when
    every consumer has released its cursor.
``samples_count(sample_rate) -> int | None``
    Number of elements the pod's stream yields at that rate, when known.
``status() -> dict``
    A plain-data snapshot of the pod.
"""

from __future__ import annotations

import traceback
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np

from ..errors import ExecutionError, InvalidParameterError

__all__ = [
    "PROTOCOL_VERSION", "PodKey", "ConsumerKey", "Chunk", "ErrorEnvelope", "PodFailure",
    "PodCall", "PodCallResult",
]

#: Version of the pod call protocol; a pod rejects calls with another version.
PROTOCOL_VERSION = 1


class PodKey(NamedTuple):
    """Identity of a pod in a job: the bean or group id, and the partition."""

    id: int
    partition: int

    def __str__(self) -> str:
        return f"{self.id}.{self.partition}"


class ConsumerKey(NamedTuple):
    """Identity of one reader of a pod: the reading pod and its input slot (0 = first input)."""

    pod: PodKey
    slot: int

    def __str__(self) -> str:
        return f"{self.pod}[{self.slot}]"


@dataclass(frozen=True)
class Chunk:
    """A run of consecutive stream elements with its sequence number.

    Attributes
    ----------
    seq : int
        Index of the chunk in the stream it was cut from (0, 1, …). A pod in
        partition p of N receives the chunks with ``seq % N == p``, and keeps
        their numbers on its own output so that they can be merged back in order.
    data : block or tuple of blocks
        The elements: a 1-D float64 array for samples, a list or a batched
        block otherwise. Batched blocks (windows, FFT frames) may come as a
        tuple of consecutive blocks, because joining them would copy their arrays.
    """

    seq: int
    data: Any

    def blocks(self) -> list:
        """Return the chunk's elements as a list of one or more consecutive blocks."""
        return list(self.data) if isinstance(self.data, tuple) else [self.data]

    def __len__(self) -> int:
        if isinstance(self.data, tuple):
            return sum(len(block) for block in self.data)
        return len(self.data)

    def __reduce__(self) -> tuple:
        # A stream of sample vectors (FFT magnitudes, for example) is a list of 1-D arrays.
        # Pickled one by one, each row becomes its own out-of-band frame in Dask's comms, and
        # the per-frame cost outweighs copying the rows into one 2-D array here.
        rows = _stack_rows(self.data)
        if rows is None:
            return Chunk, (self.seq, self.data)
        return _chunk_of_rows, (self.seq, rows)


def _stack_rows(data: Any) -> np.ndarray | None:
    """Return a list of equal-length float64 vectors as one 2-D array (a copy), or None for any other data."""
    if not isinstance(data, list) or len(data) < 2:
        return None
    first = data[0]
    if type(first) is not np.ndarray or first.ndim != 1 or first.dtype != np.float64:
        return None
    shape = first.shape
    if not all(type(row) is np.ndarray and row.shape == shape and row.dtype == np.float64 for row in data):
        return None
    return np.array(data)


def _chunk_of_rows(seq: int, rows: np.ndarray) -> Chunk:
    """Rebuild a chunk pickled by ``Chunk.__reduce__`` from its stacked rows."""
    return Chunk(seq, list(rows))


@dataclass(frozen=True)
class ErrorEnvelope:
    """An exception turned into plain text, so that it crosses threads and processes.

    The receiver never needs the exception's class to be importable.

    Attributes
    ----------
    type_name : str
        Qualified class name of the original exception.
    message : str
        ``str()`` of the original exception.
    traceback : str
        The formatted traceback of the original exception.
    bean : str or None
        Label of the bean that raised, when known.
    pod : str or None
        Key of the pod the bean ran in, as ``"id.partition"``.
    """

    type_name: str
    message: str
    traceback: str
    bean: str | None = None
    pod: str | None = None

    @classmethod
    def from_exception(cls, error: BaseException, bean: str | None = None,
                       pod: "PodKey | str | None" = None) -> "ErrorEnvelope":
        """Capture ``error`` with its traceback."""
        kind = type(error)
        text = "".join(traceback.format_exception(kind, error, error.__traceback__))
        return cls(
            type_name=f"{kind.__module__}.{kind.__qualname__}",
            message=str(error),
            traceback=text,
            bean=bean,
            pod=None if pod is None else str(pod),
        )

    def to_error(self) -> ExecutionError:
        """Return the :class:`ExecutionError` an overseer reports for this failure."""
        where = self.bean or "a bean"
        if self.pod is not None:
            where += f" in pod {self.pod}"
        short_type = self.type_name.rsplit(".", 1)[-1]
        return ExecutionError(
            f"{where} failed with {short_type}: {self.message}",
            bean=self.bean,
            pod=self.pod,
            remote_traceback=self.traceback,
        )


class PodFailure(ExecutionError):
    """Raised inside a consumer when the pod it reads from failed; carries the upstream envelope.

    Pods pass the envelope on unchanged, so the overseer reports the bean and
    pod where the failure started, not every pod it travelled through.
    """

    def __init__(self, envelope: ErrorEnvelope) -> None:
        error = envelope.to_error()
        super().__init__(str(error.args[0]), bean=envelope.bean, pod=envelope.pod,
                         remote_traceback=envelope.traceback)
        self.envelope = envelope

    def __reduce__(self):
        return (PodFailure, (self.envelope,))


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_rate(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0


def _is_consumer(value: Any) -> bool:
    return isinstance(value, tuple) and len(value) == 2 and _is_int(value[1])


# Argument checks per method: name -> (predicate, description, required).
_SCHEMA: dict[str, dict[str, tuple[Any, str, bool]]] = {
    "iterator_start": {
        "sample_rate": (_is_rate, "a positive rate in Hz", True),
        "partition": (lambda v: v is None or (_is_int(v) and v >= 0), "None or a partition index", False),
        "consumer": (lambda v: v is None or _is_consumer(v), "None or a ConsumerKey", False),
    },
    "iterator_next": {
        "key": (lambda v: _is_int(v) and v >= 0, "a key from iterator_start", True),
        "buckets": (lambda v: _is_int(v) and v >= 1, "a whole number >= 1", True),
        "wait": (lambda v: isinstance(v, (int, float)) and not isinstance(v, bool) and v >= 0,
                 "a number of seconds >= 0", False),
        "least": (lambda v: _is_int(v) and v >= 1, "a whole number >= 1", False),
    },
    "iterator_close": {
        "consumer": (_is_consumer, "a ConsumerKey", True),
    },
    "samples_count": {
        "sample_rate": (_is_rate, "a positive rate in Hz", True),
    },
    "status": {},
}


@dataclass(frozen=True)
class PodCall:
    """One request to a pod: a method name of the protocol and its arguments.

    Build calls with the class methods (``PodCall.iterator_next(key, 8)``);
    :meth:`validate` checks a call that arrived from elsewhere.
    """

    method: str
    args: dict = field(default_factory=dict)
    version: int = PROTOCOL_VERSION

    @classmethod
    def iterator_start(cls, sample_rate: float, partition: int | None = None,
                       consumer: ConsumerKey | None = None) -> "PodCall":
        return cls("iterator_start", {"sample_rate": float(sample_rate), "partition": partition,
                                      "consumer": consumer})

    @classmethod
    def iterator_next(cls, key: int, buckets: int, wait: float = 0.0, least: int = 1) -> "PodCall":
        return cls("iterator_next", {"key": key, "buckets": buckets, "wait": float(wait), "least": least})

    @classmethod
    def iterator_close(cls, consumer: ConsumerKey) -> "PodCall":
        return cls("iterator_close", {"consumer": consumer})

    @classmethod
    def samples_count(cls, sample_rate: float) -> "PodCall":
        return cls("samples_count", {"sample_rate": float(sample_rate)})

    @classmethod
    def status(cls) -> "PodCall":
        return cls("status", {})

    def validate(self) -> None:
        """Check the version, the method name and every argument.

        Raises
        ------
        InvalidParameterError
            Naming the method and the invalid or missing argument.
        """
        if self.version != PROTOCOL_VERSION:
            raise InvalidParameterError(
                f"pod call version {self.version!r} is not supported; this engine speaks version "
                f"{PROTOCOL_VERSION}; run the same wavebeans-nb version everywhere"
            )
        schema = _SCHEMA.get(self.method)
        if schema is None:
            raise InvalidParameterError(
                f"pod call method {self.method!r} is unknown; use one of {sorted(_SCHEMA)}"
            )
        unknown = set(self.args) - set(schema)
        if unknown:
            raise InvalidParameterError(f"pod call {self.method} got unknown arguments {sorted(unknown)}")
        for name, (check, description, required) in schema.items():
            if name not in self.args:
                if required:
                    raise InvalidParameterError(f"pod call {self.method} is missing argument {name!r}")
                continue
            if not check(self.args[name]):
                raise InvalidParameterError(
                    f"pod call {self.method}: {name}={self.args[name]!r} is invalid; pass {description}"
                )

    def __str__(self) -> str:
        arguments = ", ".join(f"{name}={value}" for name, value in self.args.items())
        return f"{self.method}({arguments})"


@dataclass(frozen=True)
class PodCallResult:
    """Result of a :class:`PodCall`: a value, or an error envelope in place of an exception."""

    value: Any = None
    error: ErrorEnvelope | None = None

    def unwrap(self) -> Any:
        """Return the value, or raise :class:`PodFailure` carrying the error envelope."""
        if self.error is not None:
            raise PodFailure(self.error)
        return self.value
