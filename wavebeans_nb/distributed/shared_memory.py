"""Pod call replies through shared memory between two workers of one machine.

A pod call reply carries up to ``prefetch_buckets`` chunks, megabytes of
numpy data. Over TCP every byte is copied into the kernel and out again, and
the event loops of both workers handle it. Between two busy workers on a
2-CPU machine that moved about 0.7 GB/s. Two workers of one machine can
instead share a file in ``/dev/shm``:

1. The calling worker creates a :class:`SharedBuffer`: a file of
   ``buffer_bytes`` bytes, mapped and populated once, and sends its path
   with the call.
2. The called worker maps the same file once per job (:class:`MappedBuffers`),
   pickles the reply with protocol 5, copies the out-of-band buffers (the
   chunks' arrays) into the file and sends only the pickle and the layout.
3. The caller copies the buffers out into fresh memory and unpickles. The
   file is free for the next call as soon as the call returns.

A buffer serves one call at a time; :class:`SharedBufferPool` lends them out.
Once the called worker has mapped a file, the caller unlinks it, so no file
outlives its two processes. Files of processes that died before that are
removed by :func:`remove_stale_files`.

When the called worker cannot open the file (another machine, another
``/dev/shm``), it replies over the comms as usual and sets ``shared_rejected``.
The caller then stops offering shared buffers to that worker.
"""

from __future__ import annotations

import fcntl
import logging
import mmap
import os
import pickle
import re
import stat
import threading
import uuid
from typing import Any

import cloudpickle
import numpy as np

from ..errors import ExecutionError

__all__ = [
    "SHM_DIRECTORY", "MIN_SHARED_BYTES", "SharedBuffer", "SharedBufferPool", "MappedBuffers",
    "shared_memory_available", "remove_stale_files",
]

logger = logging.getLogger(__name__)

#: Directory of the shared memory files (a tmpfs on Linux).
SHM_DIRECTORY = "/dev/shm"
#: Replies whose out-of-band buffers total fewer bytes than this travel over the comms.
MIN_SHARED_BYTES = 64 << 10
#: Offsets of buffers in a file are multiples of this, so arrays rebuilt from them are aligned.
_ALIGNMENT = 64

_NAME = re.compile(r"wavebeans-(\d+)-[0-9a-f]{32}")


def shared_memory_available() -> bool:
    """True when this process can create files in :data:`SHM_DIRECTORY` and map them."""
    return hasattr(mmap, "MAP_POPULATE") and os.path.isdir(SHM_DIRECTORY) and os.access(SHM_DIRECTORY, os.W_OK)


def _aligned(offset: int) -> int:
    return -(-offset // _ALIGNMENT) * _ALIGNMENT


class SharedBuffer:
    """A file in :data:`SHM_DIRECTORY` that the calling worker owns and maps.

    Parameters
    ----------
    size : int
        Bytes of the file; replies whose buffers need more travel over the comms.

    Raises
    ------
    OSError
        If the file cannot be created or mapped (for example, ``/dev/shm`` is full).
    """

    def __init__(self, size: int) -> None:
        self.size = int(size)
        self.path = os.path.join(SHM_DIRECTORY, f"wavebeans-{os.getpid()}-{uuid.uuid4().hex}")
        self.linked = True
        self._fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_RDWR, 0o600)
        try:
            # The shared lock marks the file as in use for remove_stale_files().
            fcntl.flock(self._fd, fcntl.LOCK_SH)
            # fallocate reserves the pages now: with ftruncate, a full /dev/shm would show up
            # later as SIGBUS in the worker that writes the reply.
            os.posix_fallocate(self._fd, 0, self.size)
            # Populating now costs one pass over the pages; touching them one fault at a time
            # on the first calls would cost several times more.
            # NOTE: every page is then resident for the job's lifetime, even when replies are
            # smaller than the buffer. Sizing buffers to the replies would save that memory.
            self._map = mmap.mmap(self._fd, self.size, flags=mmap.MAP_SHARED | mmap.MAP_POPULATE)
        except BaseException:
            os.unlink(self.path)
            os.close(self._fd)
            raise

    def offer(self) -> dict:
        """Return what the call sends: ``{"path", "size"}``."""
        return {"path": self.path, "size": self.size}

    def read_buffers(self, layout: list) -> list[np.ndarray]:
        """Copy the buffers at ``layout`` (``[offset, nbytes]`` pairs) out of the file.

        Raises
        ------
        ExecutionError
            If a pair is not two whole numbers or lies outside the file.
        """
        for pair in layout:
            if not (isinstance(pair, (list, tuple)) and len(pair) == 2 and all(type(x) is int for x in pair)
                    and pair[0] >= 0 and pair[1] >= 0 and pair[0] + pair[1] <= self.size):
                raise ExecutionError(f"shared memory reply layout {pair!r} lies outside {self.path}")
        view = np.frombuffer(self._map, dtype=np.uint8)
        try:
            copies = []
            for offset, nbytes in layout:
                copy = np.empty(nbytes, dtype=np.uint8)
                copy[:] = view[offset:offset + nbytes]
                copies.append(copy)
            return copies
        finally:
            del view  # an exported view would keep close() from unmapping the file

    def unlink(self) -> None:
        """Remove the file's name; both mappings stay valid."""
        if self.linked:
            self.linked = False
            try:
                os.unlink(self.path)
            except FileNotFoundError:
                pass
            os.close(self._fd)

    def close(self) -> None:
        """Unlink the file and unmap it."""
        self.unlink()
        try:
            self._map.close()
        except BufferError as error:  # an array still views the mapping; it goes with that array
            logger.warning("shared memory buffer %s stays mapped: %s", self.path, error)


class SharedBufferPool:
    """The shared buffers of one :class:`~wavebeans_nb.distributed.remote_bush.RemoteBush`.

    Each call borrows a buffer with :meth:`acquire` and hands it back with
    :meth:`release`, or with :meth:`discard` when the call failed, because the
    other worker may still be writing into it.

    Parameters
    ----------
    size : int
        Bytes of each buffer.
    """

    def __init__(self, size: int) -> None:
        self.size = int(size)
        self.enabled = shared_memory_available()
        self._free: list[SharedBuffer] = []
        self._all: list[SharedBuffer] = []
        self._closed = False
        self._lock = threading.Lock()

    def acquire(self) -> SharedBuffer | None:
        """Return a free buffer (created on demand), or None when shared memory is off or failed."""
        with self._lock:
            if not self.enabled:
                return None
            if self._free:
                return self._free.pop()
        try:
            buffer = SharedBuffer(self.size)
        except OSError as error:
            logger.warning("shared memory buffer of %d bytes not created, using the comms: %s", self.size, error)
            self.disable()
            return None
        with self._lock:
            if not self._closed:
                self._all.append(buffer)
                return buffer
        buffer.close()
        return None

    def release(self, buffer: SharedBuffer) -> None:
        with self._lock:
            if not self._closed:
                self._free.append(buffer)
                return
        buffer.close()  # the pool closed while the call ran

    def discard(self, buffer: SharedBuffer) -> None:
        with self._lock:
            if buffer in self._all:
                self._all.remove(buffer)
        buffer.close()

    def disable(self) -> None:
        """Stop offering shared buffers (the other worker cannot open them)."""
        with self._lock:
            self.enabled = False

    def close(self) -> None:
        """Unlink every buffer and unmap the free ones; a buffer in use is unmapped when its call returns."""
        with self._lock:
            buffers, free = self._all, self._free
            self._all, self._free = [], []
            self.enabled = False
            self._closed = True
        for buffer in buffers:
            buffer.unlink()
        for buffer in free:
            buffer.close()


class MappedBuffers:
    """The called worker's mappings of its callers' shared buffers, for one job."""

    def __init__(self) -> None:
        self._maps: dict[str, mmap.mmap] = {}
        self._rejected: set[str] = set()
        self._lock = threading.Lock()

    @staticmethod
    def valid_offer(offer: Any) -> bool:
        """True when ``offer`` has the form ``{"path": str, "size": int > 0}``."""
        return (isinstance(offer, dict) and isinstance(offer.get("path"), str)
                and type(offer.get("size")) is int and offer["size"] > 0)

    def write_reply(self, result: Any, offer: dict) -> dict | None:
        """Pickle ``result`` into the offered buffer; return ``{"pickle", "layout"}``, or None to use the comms.

        None means that the reply is small, that it does not fit, or that the
        file cannot be mapped here (see :meth:`rejected`).
        """
        buffers: list[pickle.PickleBuffer] = []
        payload = cloudpickle.dumps(result, protocol=5, buffer_callback=buffers.append)
        raws = [buffer.raw() for buffer in buffers]
        total = sum(_aligned(raw.nbytes) for raw in raws)
        if total < MIN_SHARED_BYTES or total > offer["size"]:
            return None
        target = self._mapping(offer["path"], offer["size"])
        if target is None:
            return None
        layout = []
        offset = 0
        for raw in raws:
            target[offset:offset + raw.nbytes] = raw
            layout.append([offset, raw.nbytes])
            offset = _aligned(offset + raw.nbytes)
        return {"pickle": payload, "layout": layout}

    def _mapping(self, path: str, size: int) -> mmap.mmap | None:
        with self._lock:
            if path in self._maps:
                # A cached file offered with another size is not the file that was mapped.
                return self._maps[path] if len(self._maps[path]) == size else None
        try:
            mapping = _map_offered_file(path, size)
        except (OSError, ValueError) as error:
            logger.info("shared memory file %s not mapped, replying over the comms: %s", path, error)
            with self._lock:
                self._rejected.add(path)
            return None
        with self._lock:
            self._maps[path] = mapping
        return mapping

    def mapped(self, path: str) -> bool:
        """True when this worker keeps a mapping of ``path``, so the caller may unlink the file."""
        with self._lock:
            return path in self._maps

    def rejected(self, path: str) -> bool:
        """True when ``path`` could not be mapped here; the caller should stop offering buffers."""
        with self._lock:
            return path in self._rejected

    def close(self) -> None:
        with self._lock:
            maps, self._maps = self._maps, {}
        for mapping in maps.values():
            mapping.close()


def _map_offered_file(path: str, size: int) -> mmap.mmap:
    """Map a caller's file after checking that it is one of ours: name, owner, kind and size."""
    if os.path.dirname(path) != SHM_DIRECTORY or not _NAME.fullmatch(os.path.basename(path)):
        raise ValueError(f"{path!r} is not a wavebeans shared memory file")
    fd = os.open(path, os.O_RDWR | os.O_NOFOLLOW)
    try:
        info = os.fstat(fd)
        if (not stat.S_ISREG(info.st_mode) or info.st_uid != os.getuid() or info.st_size != size
                or info.st_nlink != 1):
            raise ValueError(f"{path} is not a {size}-byte regular file of this user with one link")
        return mmap.mmap(fd, size, flags=mmap.MAP_SHARED | mmap.MAP_POPULATE)
    finally:
        os.close(fd)


def decode_reply(buffer: SharedBuffer, reply: dict) -> Any:
    """Rebuild a result written by :meth:`MappedBuffers.write_reply` into ``buffer``."""
    copies = buffer.read_buffers(reply["layout"])
    return pickle.loads(reply["pickle"], buffers=copies)


def remove_stale_files() -> int:
    """Remove shared memory files that no process keeps locked; return how many were removed.

    A :class:`SharedBuffer` keeps a shared ``flock`` on its file until it
    unlinks it. So a file whose exclusive lock can be taken belongs to a
    process that died first. The lock, unlike the pid in the name, also
    works across pid namespaces that share ``/dev/shm``. An empty file stays:
    its creator may not have taken the lock yet, and it takes no memory.
    """
    if not os.path.isdir(SHM_DIRECTORY):
        return 0
    removed = 0
    for name in os.listdir(SHM_DIRECTORY):
        if _NAME.fullmatch(name) is None:
            continue
        path = os.path.join(SHM_DIRECTORY, name)
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
        except OSError:
            continue  # gone already, or not ours to open
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            if os.fstat(fd).st_size > 0:
                os.unlink(path)
                removed += 1
        except BlockingIOError:
            pass  # its owner still runs
        except OSError as error:
            logger.info("stale shared memory file %s not removed: %s", name, error)
        finally:
            os.close(fd)
    if removed:
        logger.info("removed %d shared memory files of stopped processes", removed)
    return removed
