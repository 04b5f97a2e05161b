"""The single-threaded overseer: evaluates each output in turn on one thread."""

from __future__ import annotations

import logging
import os
import sys
import threading
import uuid
import warnings
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Callable, Iterable, Sequence

from ..beans.base import check_block_size, check_sample_rate
from ..beans.outputs.base import Output, Writer
from ..errors import InvalidParameterError, JobCancelledError
from .result import ExecutionResult
from .summary import OutputSummary

__all__ = ["Overseer", "SingleThreadedOverseer", "check_outputs"]

logger = logging.getLogger(__name__)


def check_outputs(outputs: "Output | Iterable[Output]") -> list[Output]:
    """Return ``outputs`` as a non-empty list of outputs, or raise a clear error."""
    if isinstance(outputs, Output):
        outputs = [outputs]
    try:
        result = list(outputs)
    except TypeError:
        raise InvalidParameterError(
            f"outputs {outputs!r} is not an output or a list of outputs; pass stream.to_wav(...) or similar"
        ) from None
    if not result:
        raise InvalidParameterError("no outputs given; pass at least one output such as stream.to_dev_null()")
    for item in result:
        if not isinstance(item, Output):
            raise InvalidParameterError(
                f"{item!r} is not an output; end the stream with to_wav(), to_csv(), to_dev_null() or out()"
            )
        if item.commits_at_end and not item.input.is_finite:
            warnings.warn(
                f"output {item.label()} never ends: its input {item.input.label()} is infinite (a generator "
                "such as sine, or a mix with one), so the job writes until it is cancelled; "
                "end the input with .trim(...)", UserWarning, stacklevel=_user_stacklevel())
    return result


def _user_stacklevel() -> int:
    """Return the ``warnings.warn`` stack level, seen from its caller, of the first frame outside wavebeans_nb.

    Python shows a warning once per source line. Attributed to the user's
    line, it appears for each line that builds such a job, not once per session.
    """
    package = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    frame, level = sys._getframe(2), 2
    while frame is not None and frame.f_code.co_filename.startswith(package):
        frame, level = frame.f_back, level + 1
    return level


class Overseer:
    """Common interface of the overseers: ``eval``, ``cancel``, ``close`` and the context protocol."""

    def __init__(self, outputs: "Output | Iterable[Output]") -> None:
        self.outputs: list[Output] = check_outputs(outputs)
        self.job_id: str | None = None
        self._futures: list[Future] = []
        self._cancel = threading.Event()
        self._closed = False

    def eval(self, sample_rate: float) -> list[Future]:
        """Start evaluating every output at ``sample_rate`` Hz.

        Returns
        -------
        list of concurrent.futures.Future
            One future per output, in output order, each resolving to an
            :class:`ExecutionResult`. The call itself does not wait.
        """
        raise NotImplementedError

    def cancel(self) -> None:
        """Stop the running job; unfinished outputs resolve with ``finished=False``."""
        self._cancel.set()

    def close(self) -> None:
        """Cancel what still runs, wait for it and release resources."""
        self._closed = True

    def __enter__(self):
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def _check_open(self) -> None:
        if self._closed:
            raise InvalidParameterError(f"{type(self).__name__} is closed; create a new overseer")


class SingleThreadedOverseer(Overseer):
    """Evaluate the outputs one after another on a single background thread.

    Parameters
    ----------
    outputs : Output or list of Output
        What to evaluate.
    block_size : int, optional
        Elements per block the sources produce.

    Examples
    --------
    >>> import wavebeans_nb as wb
    >>> out = wb.sine(440).trim(10).to_dev_null()
    >>> with wb.SingleThreadedOverseer([out]) as overseer:
    ...     [f.result().finished for f in overseer.eval(8000)]
    [True]
    """

    def __init__(self, outputs: "Output | Iterable[Output]", block_size: int | None = None) -> None:
        super().__init__(outputs)
        self.block_size = check_block_size(block_size)
        self._executor: ThreadPoolExecutor | None = None
        self._writers: list[Writer | None] = []
        self._summaries: list[OutputSummary] = []
        self._expected: list[int | None] = []

    def eval(self, sample_rate: float) -> list[Future]:
        self._check_open()
        rate = check_sample_rate(sample_rate)
        self.job_id = uuid.uuid4().hex[:12]
        self._cancel.clear()
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="wavebeans-single")
        logger.info("job %s: evaluating %d outputs single-threaded at %g Hz", self.job_id, len(self.outputs), rate)
        self._writers = [None] * len(self.outputs)
        self._summaries = [OutputSummary() for _ in self.outputs]
        self._expected = [output.samples_count(rate) for output in self.outputs]
        self._futures = [self._executor.submit(self._run, index, rate) for index in range(len(self.outputs))]
        return list(self._futures)

    def _run(self, index: int, sample_rate: float) -> ExecutionResult:
        def watch(writer: Writer) -> None:
            writer.observer = self._summaries[index]
            self._writers[index] = writer

        return run_writer(self.outputs[index], sample_rate, self.block_size, self._cancel, self.job_id, watch)

    def status(self) -> dict:
        """Return a plain-data snapshot of the current job, shaped like the multi-threaded overseer's.

        Returns
        -------
        dict
            ``job_id``, ``state`` (idle, running, done, failed, cancelled),
            ``partitions`` and ``threads`` (both 1), ``outputs`` (per output:
            ``label``, ``state`` (planted, running, done, failed, cancelled),
            ``elements_written``, ``elements_expected`` (None when unknown),
            ``error`` and ``summary``) and ``pods`` (always empty).
        """
        outputs = []
        for index, future in enumerate(self._futures):
            writer = self._writers[index]
            state, error = _output_state(future, writer)
            outputs.append({"label": self.outputs[index].label(), "state": state,
                            "elements_written": 0 if writer is None else writer.elements_written,
                            "elements_expected": self._expected[index], "error": error,
                            "summary": self._summaries[index].snapshot()})
        return {"job_id": self.job_id, "state": job_state(self._futures), "partitions": 1, "threads": 1,
                "outputs": outputs, "pods": []}

    def close(self) -> None:
        if self._closed:
            return
        super().close()
        if self._executor is not None:
            self.cancel()
            self._executor.shutdown(wait=True)
            self._executor = None


def _output_state(future: Future, writer: Writer | None) -> tuple[str, str | None]:
    if not future.done():
        return ("planted" if writer is None else "running"), None
    result = future.result()
    if result.finished:
        return "done", None
    if isinstance(result.exception, JobCancelledError):
        return "cancelled", str(result.exception)
    return "failed", f"{type(result.exception).__name__}: {result.exception}"


def job_state(futures: Sequence[Future]) -> str:
    """Return the state of a job from its output futures: idle, running, done, cancelled or failed."""
    if not futures:
        return "idle"
    if not all(future.done() for future in futures):
        return "running"
    results = [future.result() for future in futures]
    if all(result.finished for result in results):
        return "done"
    if any(isinstance(result.exception, JobCancelledError) for result in results):
        return "cancelled"
    return "failed"


def run_writer(output: Output, sample_rate: float, block_size: int | None,
               cancel: threading.Event, job_id: str | None,
               on_writer: Callable[[Writer], None] | None = None) -> ExecutionResult:
    """Run one output's writer to the end, commit it, and report the outcome.

    A failed or cancelled run aborts the writer, so the target keeps its old
    content. ``on_writer``, when given, gets the writer before the first block.
    """
    if cancel.is_set():
        return ExecutionResult.error(JobCancelledError(f"job {job_id} was cancelled before {output.label()} started"))
    writer = None
    try:
        writer = output.writer(sample_rate, block_size)
        if on_writer is not None:
            on_writer(writer)
        while writer.write():
            if cancel.is_set():
                writer.abort()
                logger.info("job %s: %s cancelled", job_id, output.label())
                return ExecutionResult.error(JobCancelledError(f"job {job_id} was cancelled while writing {output.label()}"))
        writer.close()
    except Exception as error:
        logger.info("job %s: %s failed: %r", job_id, output.label(), error)
        if writer is not None:
            writer.abort()
        return ExecutionResult.error(error)
    logger.info("job %s: %s finished, %d elements", job_id, output.label(), writer.elements_written)
    return ExecutionResult.success()
