"""Bounded buffers: a pod computes ahead only as far as its slowest consumer allows."""

from __future__ import annotations

import threading

import numpy as np
import pytest

import wavebeans_nb as wb
from wavebeans_nb.beans.blocks import Block
from wavebeans_nb.beans.outputs.base import Output, Writer
from wavebeans_nb.errors import ExecutionError
from wavebeans_nb.execution import ExecutionConfig, MultiThreadedOverseer

from execution_support import as_samples, collect

RATE = 8000


class _CountWriter(Writer):
    def _write_block(self, block: Block) -> None:
        self.output.params["sums"].append(float(np.sum(block)))


class CountOutput(Output):
    """Keeps only the sum of each block, so a long stream costs no memory in the test."""

    def __init__(self, input, *, sums: list):
        super().__init__(input, sums=sums)

    def _make_writer(self, blocks, sample_rate):
        return _CountWriter(self, blocks, sample_rate)


class _Stutter:
    """A block function that pauses now and then, so its branch falls behind the other."""

    def __init__(self):
        self.blocks = 0

    def __call__(self, block):
        self.blocks += 1
        if self.blocks % 500 == 0:
            threading.Event().wait(0.01)
        return np.abs(block)


def test_half_hour_stream_keeps_buffers_bounded():
    bound = 6
    config = ExecutionConfig(chunk_size=512, buffer_chunks=bound, prefetch_buckets=3)
    shared = wb.sine(440).trim(30 * 60 * 1000) * 0.5  # 14.4 million samples, read by two consumers
    fast, slow = [], []
    outputs = [CountOutput(shared + 1.0, sums=fast), CountOutput(shared.map_blocks(_Stutter()), sums=slow)]
    with MultiThreadedOverseer(outputs, threads=2, partitions=1, config=config) as overseer:
        assert all(future.result(timeout=120).finished for future in overseer.eval(RATE))
        status = overseer.status()
    assert [entry["elements_written"] for entry in status["outputs"]] == [14_400_000, 14_400_000]
    shared_pod = [pod for pod in status["pods"] if len(pod.get("cursors", [])) == 2]
    assert len(shared_pod) == 1
    assert shared_pod[0]["chunks_produced"] == 14_400_000 // 512
    for pod in status["pods"]:
        if "cursors" in pod:
            assert pod["max_chunks_buffered"] <= bound, pod["key"]
            for cursor in pod["cursors"]:
                assert cursor["max_chunks_buffered"] <= bound
    # Whole periods of the 440 Hz sine sum to about zero, so the sums are about 1.0 per sample.
    assert sum(fast) == pytest.approx(14_400_000, rel=1e-6)
    assert sum(slow) == pytest.approx(14_400_000 * np.mean(np.abs(0.5 * np.sin(np.linspace(0, 2 * np.pi, 100001)))),
                                      rel=1e-3)


@pytest.mark.parametrize("partitions", [1, 3])
def test_reader_lagging_too_far_fails(partitions):
    source = wb.sine(100) * 1.0
    # The concatenation reads the first part to its end before the second: the second
    # part's reader must keep 16 chunks that a buffer of 4 cannot hold.
    joined = source.trim(1000).concat(source.trim(1000))
    config = ExecutionConfig(chunk_size=512, buffer_chunks=4, stall_timeout=0.3)
    with MultiThreadedOverseer([joined.to_dev_null()], partitions=partitions, config=config) as overseer:
        result = overseer.eval(RATE)[0].result(timeout=30)
    assert not result.finished
    assert isinstance(result.exception, ExecutionError)
    assert "stalled" in str(result.exception)
    assert "raise ExecutionConfig.buffer_chunks" in str(result.exception)


def test_lagging_reader_works_with_large_enough_buffer():
    sink: dict = {}
    source = wb.sine(100) * 1.0
    joined = source.trim(1000).concat(source.trim(1000))
    config = ExecutionConfig(chunk_size=512, buffer_chunks=20, stall_timeout=5)
    with MultiThreadedOverseer([collect(joined, sink, "joined")], partitions=2, config=config) as overseer:
        assert overseer.eval(RATE)[0].result(timeout=30).finished
    one_second = np.sin(2 * np.pi * 100 * np.arange(RATE) / RATE)
    assert np.allclose(as_samples(sink["joined"]), np.concatenate([one_second, one_second]))


def test_finished_reader_no_longer_holds_back_others():
    sink: dict = {}
    shared = wb.sine(200) * 2.0  # infinite
    outputs = [collect(shared.trim(100), sink, "short"), collect(shared.trim(3000), sink, "long")]
    config = ExecutionConfig(chunk_size=64, buffer_chunks=2, prefetch_buckets=1)
    with MultiThreadedOverseer(outputs, threads=2, partitions=2, config=config) as overseer:
        assert all(future.result(timeout=30).finished for future in overseer.eval(RATE))
    assert len(as_samples(sink["short"])) == 800
    long = as_samples(sink["long"])
    assert np.allclose(long, 2.0 * np.sin(2 * np.pi * 200 * np.arange(24000) / RATE))


def test_unread_input_is_released_when_reader_ends():
    sink: dict = {}
    shared = wb.sine(300)

    def first_only(a, b):
        return a

    # The merge reads its second input only as far as its first, trimmed input goes.
    # Its unread cursor is released when it ends, so the other output still finishes.
    merged = shared.trim(50).merge(shared * 3.0, first_only)
    outputs = [collect(merged, sink, "merged"), collect(shared.trim(2000), sink, "other")]
    config = ExecutionConfig(chunk_size=32, buffer_chunks=2, prefetch_buckets=1)
    with MultiThreadedOverseer(outputs, threads=2, partitions=2, config=config) as overseer:
        assert all(future.result(timeout=30).finished for future in overseer.eval(RATE))
    assert len(as_samples(sink["merged"])) == 400
    assert len(as_samples(sink["other"])) == 16000
