"""Shared memory replies between workers of one machine, and the allocator settings of workers.

Both sides of a shared memory reply run in this process here; the
distributed tests run them on two worker processes.
"""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from wavebeans_nb.distributed import shared_memory
from wavebeans_nb.distributed.allocator import MMAP_THRESHOLD, TRIM_THRESHOLD
from wavebeans_nb.distributed.remote_bush import RemoteBush
from wavebeans_nb.distributed.shared_memory import (
    MIN_SHARED_BYTES, MappedBuffers, SharedBuffer, SharedBufferPool, decode_reply, remove_stale_files,
)
from wavebeans_nb.execution import Chunk, PodCallResult

pytestmark = pytest.mark.skipif(not shared_memory.shared_memory_available(), reason="no /dev/shm here")


def _our_files() -> set[str]:
    prefix = f"wavebeans-{os.getpid()}-"
    return {name for name in os.listdir(shared_memory.SHM_DIRECTORY) if name.startswith(prefix)}


def _result(rows: int = 64, width: int = 1024) -> PodCallResult:
    rng = np.random.default_rng(rows)
    chunks = [Chunk(0, rng.standard_normal(rows * width)), Chunk(1, list(rng.standard_normal((rows, width)))),
              Chunk(2, [1, "two", 3.0])]
    return PodCallResult(value=chunks)


def _assert_same(a: PodCallResult, b: PodCallResult) -> None:
    assert [chunk.seq for chunk in a.value] == [chunk.seq for chunk in b.value]
    assert np.array_equal(a.value[0].data, b.value[0].data)
    assert np.array_equal(np.array(a.value[1].data), np.array(b.value[1].data))
    assert a.value[2].data == b.value[2].data


def test_reply_through_shared_buffer():
    before = _our_files()
    buffer = SharedBuffer(4 << 20)
    mapped = MappedBuffers()
    try:
        sent = _result()
        reply = mapped.write_reply(sent, buffer.offer())
        assert reply is not None and mapped.mapped(buffer.path)
        assert len(reply["pickle"]) < 4096, "the arrays must travel in the buffer, not in the pickle"
        _assert_same(decode_reply(buffer, reply), sent)
        # The buffer is reused: a second reply overwrites the first.
        again = _result(rows=32)
        _assert_same(decode_reply(buffer, mapped.write_reply(again, buffer.offer())), again)
        buffer.unlink()
        assert not os.path.exists(buffer.path)
        third = _result(rows=16)
        _assert_same(decode_reply(buffer, mapped.write_reply(third, buffer.offer())), third)
    finally:
        mapped.close()
        buffer.close()
    assert _our_files() == before


def test_small_or_large_replies_use_the_comms():
    buffer = SharedBuffer(1 << 20)
    mapped = MappedBuffers()
    try:
        small = PodCallResult(value=[Chunk(0, np.zeros(MIN_SHARED_BYTES // 16))])
        assert mapped.write_reply(small, buffer.offer()) is None
        large = PodCallResult(value=[Chunk(0, np.zeros(2 << 17))])  # 2 MiB of samples
        assert mapped.write_reply(large, buffer.offer()) is None
        assert not mapped.rejected(buffer.path)
    finally:
        mapped.close()
        buffer.close()


def test_offers_of_other_files_rejected(tmp_path):
    mapped = MappedBuffers()
    elsewhere = tmp_path / f"wavebeans-{os.getpid()}-{'0' * 32}"
    elsewhere.write_bytes(bytes(1 << 20))
    buffer = SharedBuffer(1 << 20)
    link = os.path.join(shared_memory.SHM_DIRECTORY, f"wavebeans-{os.getpid()}-{'1' * 32}")
    os.symlink(buffer.path, link)
    try:
        offers = [
            {"path": str(elsewhere), "size": 1 << 20},  # not in /dev/shm
            {"path": os.path.join(shared_memory.SHM_DIRECTORY, "wavebeans-x"), "size": 1 << 20},  # not our name
            {"path": os.path.join(shared_memory.SHM_DIRECTORY, f"wavebeans-1-{'2' * 32}"), "size": 1 << 20},
            {"path": link, "size": 1 << 20},  # a symbolic link
            {"path": buffer.path, "size": 2 << 20},  # the wrong size
        ]
        for offer in offers:
            assert mapped.write_reply(_result(), offer) is None, offer
            assert mapped.rejected(offer["path"]), offer
    finally:
        os.unlink(link)
        mapped.close()
        buffer.close()


def test_layout_outside_the_buffer_is_an_error():
    buffer = SharedBuffer(1 << 20)
    try:
        with pytest.raises(Exception, match="outside"):
            decode_reply(buffer, {"pickle": b"", "layout": [[(1 << 20) - 8, 16]]})
    finally:
        buffer.close()


def test_pool_lends_reuses_and_closes():
    before = _our_files()
    pool = SharedBufferPool(1 << 20)
    first = pool.acquire()
    second = pool.acquire()
    assert first is not second
    assert len(_our_files() - before) == 2
    pool.release(first)
    assert pool.acquire() is first
    pool.discard(second)
    assert not os.path.exists(second.path)
    pool.close()
    assert _our_files() == before
    assert pool.acquire() is None
    pool.release(first)  # a call that ends after close() unmaps its buffer


def test_remote_bush_stops_offering_after_rejection():
    remote = RemoteBush("job-0", "tcp://127.0.0.1:1", "job", worker=None, shared_bytes=1 << 20)
    buffer = remote._shared.acquire()
    result = PodCallResult(value=[])
    assert remote._take_reply({"result": result, "shared_rejected": True}, buffer) is result
    remote._shared.release(buffer)
    assert remote._shared.acquire() is None
    remote.close()
    assert not os.path.exists(buffer.path)


def test_stale_files_without_owner_are_removed():
    # A file nobody holds a lock on stands for a process that died before unlinking it.
    stale = os.path.join(shared_memory.SHM_DIRECTORY, f"wavebeans-{os.getpid()}-{'a' * 32}")
    with open(stale, "wb") as file:
        file.write(b"x")
    live = SharedBuffer(1 << 16)
    try:
        assert remove_stale_files() >= 1
        assert not os.path.exists(stale)
        assert os.path.exists(live.path), "a file whose owner holds its lock must stay"
    finally:
        live.close()
        if os.path.exists(stale):
            os.unlink(stale)


def test_stale_sweep_keeps_empty_files():
    # A SharedBuffer's file is empty and unlocked for a moment between its creation and its lock.
    fresh = os.path.join(shared_memory.SHM_DIRECTORY, f"wavebeans-{os.getpid()}-{'b' * 32}")
    open(fresh, "wb").close()
    try:
        remove_stale_files()
        assert os.path.exists(fresh)
    finally:
        os.unlink(fresh)


def test_full_shm_falls_back_to_comms(monkeypatch):
    def no_space(fd, offset, length):
        raise OSError(28, "No space left on device")

    before = _our_files()
    monkeypatch.setattr(shared_memory.os, "posix_fallocate", no_space)
    pool = SharedBufferPool(1 << 20)
    assert pool.acquire() is None
    assert not pool.enabled
    assert _our_files() == before


@pytest.mark.parametrize("layout", [[[0, -1]], [["0", 8]], [[0]], [[1 << 20, 1]]], ids=["negative", "text", "short",
                                                                                       "outside"])
def test_malformed_layout_leaves_buffer_closable(layout):
    buffer = SharedBuffer(1 << 20)
    with pytest.raises(Exception, match="layout"):
        decode_reply(buffer, {"pickle": b"", "layout": layout})
    buffer.close()
    assert not os.path.exists(buffer.path)


@pytest.mark.parametrize("offer", [None, 5, {"path": 5, "size": 1}, {"path": "/dev/shm/x"}, {"path": "/x", "size": "big"},
                                   {"path": "/x", "size": 0}, {"path": "/x", "size": True}])
def test_malformed_offers_are_invalid(offer):
    assert not MappedBuffers.valid_offer(offer)


def test_offer_of_mapped_file_with_other_size_rejected():
    buffer = SharedBuffer(1 << 20)
    mapped = MappedBuffers()
    try:
        assert mapped.write_reply(_result(), buffer.offer()) is not None
        assert mapped.write_reply(_result(), {"path": buffer.path, "size": 2 << 20}) is None
    finally:
        mapped.close()
        buffer.close()


def test_hard_linked_file_rejected():
    buffer = SharedBuffer(1 << 20)
    link = os.path.join(shared_memory.SHM_DIRECTORY, f"wavebeans-{os.getpid()}-{'3' * 32}")
    os.link(buffer.path, link)
    mapped = MappedBuffers()
    try:
        assert mapped.write_reply(_result(), {"path": link, "size": 1 << 20}) is None
        assert mapped.rejected(link)
    finally:
        os.unlink(link)
        mapped.close()
        buffer.close()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt is Linux only")
def test_allocator_thresholds_are_applied():
    # In a child process, so that this one keeps its allocator settings. mallopt has no getter;
    # the check is that glibc accepted both values.
    code = "from wavebeans_nb.distributed.allocator import raise_malloc_thresholds as r; print(r())"
    printed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert printed.strip() == str({"mmap_threshold": MMAP_THRESHOLD, "trim_threshold": TRIM_THRESHOLD})
