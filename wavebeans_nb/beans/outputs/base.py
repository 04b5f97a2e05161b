"""Outputs (sinks) and writers, and the atomic file target they write through."""

from __future__ import annotations

import logging
import os
import tempfile
import uuid
from typing import IO, Any, Callable, Iterator

import fsspec

from ...errors import OutputError, SampleRateMismatchError
from ..base import Bean, BeanKind, Stream, check_block_size, check_sample_rate, rates_equal
from ..blocks import Block

__all__ = ["Output", "Writer", "AtomicFile"]

logger = logging.getLogger(__name__)


class Writer:
    """Drives one output: each :meth:`write` pulls and writes one block.

    Call :meth:`write` until it returns False, then :meth:`close` to flush and
    commit. Call :meth:`abort` instead when the run failed, so nothing
    half-written stays at the target.

    Attributes
    ----------
    elements_written : int
        Elements written so far.
    observer : callable or None
        Called with every block after it was written, on the writing thread;
        status code sets it to watch progress (a live thumbnail, for example).
        It must be quick and must not change the block.
    """

    def __init__(self, output: "Output", blocks: Iterator[Block], sample_rate: float) -> None:
        self.output = output
        self.sample_rate = sample_rate
        self.elements_written = 0
        self.observer: Callable[[Block], None] | None = None
        self._blocks = blocks
        self._finished = False
        self._closed = False

    def write(self) -> bool:
        """Write the next block; return False once the input has ended."""
        if self._finished or self._closed:
            return False
        block = next(self._blocks, None)
        if block is None:
            self._finished = True
            self._end()
            return False
        keep_going = self._write_block(block)
        self.elements_written += len(block)
        if self.observer is not None:
            self.observer(block)
        if keep_going is False:
            self._finished = True
            return False
        return True

    def close(self) -> None:
        """Flush and commit the output. Calling it again does nothing."""
        if self._closed:
            return
        self._closed = True
        self._close_input()
        self._commit()

    def abort(self) -> None:
        """Discard what was written; the target keeps its previous content."""
        if self._closed:
            return
        self._closed = True
        self._close_input()
        self._discard()

    def _close_input(self) -> None:
        close = getattr(self._blocks, "close", None)
        if close is not None:
            close()

    # Hooks for subclasses.
    def _write_block(self, block: Block) -> bool | None:
        raise NotImplementedError

    def _end(self) -> None:
        """Called once when the input ends."""

    def _commit(self) -> None:
        """Flush and move the result into place."""

    def _discard(self) -> None:
        """Drop partial results."""


class Output(Bean):
    """A sink: reads one stream and writes it somewhere. Outputs are single partition."""

    kind = BeanKind.OUTPUT
    #: True for outputs that commit their target only when the input ends (files written whole).
    commits_at_end = False

    def writer(self, sample_rate: float, block_size: int | None = None) -> Writer:
        """Create a writer that evaluates the input at ``sample_rate`` Hz.

        Raises
        ------
        SampleRateMismatchError
            If the input must run at another rate (a file input, a fixed-rate function input).
        """
        rate = check_sample_rate(sample_rate)
        size = check_block_size(block_size)
        desired = self.input.desired_sample_rate
        if desired is not None and not rates_equal(desired, rate):
            raise SampleRateMismatchError(
                f"the input of {self.label()} runs at {desired:g} Hz but the output is evaluated at "
                f"{rate:g} Hz; add .resample() before the output or evaluate at {desired:g} Hz"
            )
        return self._make_writer(self.input.iter_blocks(rate, size), rate)

    def _make_writer(self, blocks: Iterator[Block], sample_rate: float) -> Writer:
        raise NotImplementedError

    def samples_count(self, sample_rate: float) -> int | None:
        """Number of elements this output will write, or None when unknown."""
        try:
            return self.input.samples_count(sample_rate)
        except Exception:  # metadata is a hint for progress bars only
            logger.debug("samples count of %s is unknown", self.label(), exc_info=True)
            return None


class AtomicFile:
    """A file written under a temporary name and moved to its target on :meth:`commit`.

    Local targets get the temporary file next to them, so the move is an
    atomic ``os.replace``. Other fsspec targets (``memory://``, ``s3://``) are
    written to a local temporary file and uploaded on commit.
    """

    def __init__(self, uri: str, mode: str = "wb", **open_kwargs: Any) -> None:
        self.uri = str(uri)
        self.fs, self.path = fsspec.core.url_to_fs(self.uri)
        self._local = "file" in _protocols(self.fs)
        if self._local:
            directory = os.path.dirname(os.path.abspath(self.path)) or "."
            if not os.path.isdir(directory):
                raise OutputError(f"cannot write {self.uri}: directory {directory} does not exist; create it first")
            base = os.path.basename(self.path)
            self.temp_path = os.path.join(directory, f".{base}.{uuid.uuid4().hex[:8]}.partial")
        else:
            handle, self.temp_path = tempfile.mkstemp(prefix="wavebeans-", suffix=".partial")
            os.close(handle)
        try:
            self.file: IO = open(self.temp_path, mode, **open_kwargs)
        except OSError as error:
            raise OutputError(f"cannot write {self.uri}: {error.strerror or error}") from error

    def commit(self) -> None:
        """Close the temporary file and move it to the target."""
        self.file.close()
        try:
            if self._local:
                os.replace(self.temp_path, self.path)
            else:
                self.fs.put_file(self.temp_path, self.path)
                os.unlink(self.temp_path)
        except OSError as error:
            self.discard()
            raise OutputError(f"cannot commit {self.uri}: {error}") from error
        logger.debug("committed %s", self.uri)

    def discard(self) -> None:
        """Close and delete the temporary file; the target is left as it was."""
        if not self.file.closed:
            self.file.close()
        try:
            os.unlink(self.temp_path)
        except FileNotFoundError:
            pass


def _protocols(fs) -> tuple:
    protocol = fs.protocol
    return protocol if isinstance(protocol, tuple) else (protocol,)
