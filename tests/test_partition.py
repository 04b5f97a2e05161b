"""Partitioning: which beans are copied, how links are rewired, and how partitions merge back."""

from __future__ import annotations

from collections import deque

import numpy as np
import pytest

import wavebeans_nb as wb
from wavebeans_nb.beans.base import Stream
from wavebeans_nb.errors import ExecutionError, InvalidParameterError
from wavebeans_nb.execution import Chunk, ExecutionConfig, MultiThreadedOverseer, build_topology
from wavebeans_nb.execution.proxies import _Merger, _partition_share

from execution_support import as_samples, collect


def _copies(topology) -> list[tuple[int, int]]:
    return [(ref.id, ref.partition) for ref in topology.beans]


def _links(topology) -> list[tuple]:
    return [(l.consumer, l.producer, l.consumer_partition, l.producer_partition, l.order) for l in topology.links]


def _one_line():
    # ids: output 1, trim 2, scalar 3, sine 4
    return build_topology([(wb.sine(440) / 2.0).trim(100).to_dev_null()])


def test_one_line_in_two_partitions():
    topology = _one_line().partition(2)
    assert topology.partitions == 2
    assert _copies(topology) == [(1, 0), (2, 0), (3, 0), (3, 1), (4, 0)]
    assert _links(topology) == [
        (1, 2, 0, 0, 0),
        (2, 3, 0, 0, 0), (2, 3, 0, 1, 0),  # trim merges both copies of the division
        (3, 4, 0, 0, 0), (3, 4, 1, 0, 0),  # both copies read (split) the one sine
    ]


def test_one_line_in_five_partitions():
    topology = _one_line().partition(5)
    assert _copies(topology) == [(1, 0), (2, 0)] + [(3, p) for p in range(5)] + [(4, 0)]
    assert _links(topology) == [(1, 2, 0, 0, 0)] + [(2, 3, 0, p, 0) for p in range(5)] + \
        [(3, 4, p, 0, 0) for p in range(5)]


def test_merge_keeps_input_slots():
    # ids: output 1, trim 2, plus 3, div 4, sine 5, div 6, sine 7
    plus = (wb.sine(440) / 2.0) + (wb.sine(880) / 4.0)
    topology = build_topology([plus.trim(10).to_dev_null()]).partition(2)
    assert _copies(topology) == [(1, 0), (2, 0), (3, 0), (4, 0), (4, 1), (5, 0), (6, 0), (6, 1), (7, 0)]
    assert _links(topology) == [
        (1, 2, 0, 0, 0), (2, 3, 0, 0, 0),
        (3, 4, 0, 0, 0), (3, 4, 0, 1, 0),
        (4, 5, 0, 0, 0), (4, 5, 1, 0, 0),
        (3, 6, 0, 0, 1), (3, 6, 0, 1, 1),
        (6, 7, 0, 0, 0), (6, 7, 1, 0, 0),
    ]


def test_partitioned_chain_links_copy_to_copy():
    # ids: output 1, abs 2, scalar 3, list input 4
    topology = build_topology([(wb.list_input([1.0, 2.0]) * 3.0).map_blocks(np.abs).to_dev_null()]).partition(3)
    assert _links(topology) == [(1, 2, 0, p, 0) for p in range(3)] + [(2, 3, p, p, 0) for p in range(3)] + \
        [(3, 4, p, 0, 0) for p in range(3)]
    split, merge = topology.links[-1], topology.links[0]
    assert topology.is_split(split)
    assert not topology.is_merge(split)
    assert topology.is_merge(merge)
    assert not topology.is_split(merge)


def test_sources_and_counting_beans_are_never_copied():
    source = wb.list_input(np.arange(10.0))  # a source is read once, never replayed per partition
    stream = source.window(4).hann().fft(4).magnitude()
    counting = (source * 2.0).trim(5).range_projection(1, 4).after_filling(0.0).trim(6)
    topology = build_topology([stream.to_dev_null(), counting.to_dev_null()]).partition(4)
    copies: dict[str, int] = {}
    for ref in topology.beans:
        copies[ref.cls.__name__] = copies.get(ref.cls.__name__, 0) + 1
    assert copies["ListInput"] == 1
    assert copies["DevNullOutput"] == 2
    assert copies["WindowStream"] == 1
    assert copies["TrimStream"] == 2
    assert copies["ProjectionStream"] == 1
    assert copies["AfterFillingStream"] == 1
    assert copies["ScalarOperation"] == 4
    assert copies["WindowFunctionStream"] == 4
    assert copies["SpectrumValuesStream"] == 4
    fft = next(ref for ref in topology.beans if ref.cls.__name__ == "FftStream")
    assert copies["FftStream"] == (4 if fft.partitionable else 1)


def test_one_partition_keeps_structure():
    topology = _one_line()
    again = topology.partition(1)
    assert again.partitions == 1
    assert _copies(again) == _copies(topology)
    assert _links(again) == _links(topology)


@pytest.mark.parametrize("count", [0, -1, 1.5, "2", True])
def test_invalid_partition_count(count):
    with pytest.raises(InvalidParameterError, match="partition count"):
        _one_line().partition(count)


def test_partitioning_twice_is_rejected():
    with pytest.raises(InvalidParameterError, match="already partitioned"):
        _one_line().partition(2).partition(2)


class _DropOdd(Stream):
    """Claims to be partitionable but drops every element with an odd value."""

    partitionable = True

    def __init__(self, input):
        super().__init__(input)

    def _blocks(self, sample_rate, block_size):
        for block in self.input.iter_blocks(sample_rate, block_size):
            yield block[block % 2 == 0]


def test_bean_breaking_one_to_one_promise_fails_clearly():
    sink: dict = {}
    out = collect(_DropOdd(wb.list_input(np.arange(100.0))), sink, "dropped")
    with MultiThreadedOverseer([out], partitions=2, config=ExecutionConfig(chunk_size=10)) as overseer:
        result = overseer.eval(8000)[0].result(timeout=10)
    assert not result.finished
    assert isinstance(result.exception, ExecutionError)
    assert "partitionable" in str(result.exception)
    assert result.exception.bean == "__drop_odd"
    assert sink["aborted"] == ["dropped"]


def test_same_bean_without_partitions_works():
    sink: dict = {}
    out = collect(_DropOdd(wb.list_input(np.arange(100.0))), sink, "dropped")
    with MultiThreadedOverseer([out], partitions=1, config=ExecutionConfig(chunk_size=10)) as overseer:
        assert overseer.eval(8000)[0].result(timeout=10).finished
    assert as_samples(sink["dropped"]).tolist() == list(np.arange(0.0, 100.0, 2.0))


@pytest.mark.parametrize("total", [0, 1, 9, 10, 11, 39, 40, 41, 123])
@pytest.mark.parametrize("partitions", [1, 2, 3, 4])
def test_partition_share_counts_dealt_elements(total, partitions):
    chunk = 10
    dealt = [0] * partitions
    for seq, start in enumerate(range(0, total, chunk)):
        dealt[seq % partitions] += min(chunk, total - start)
    assert [_partition_share(total, chunk, partitions, p) for p in range(partitions)] == dealt


class _FakeReader:
    def __init__(self, batches):
        self.batches = deque(batches)

    def fetch(self):
        return self.batches.popleft() if self.batches else None


def _chunk(seq):
    return Chunk(seq, np.full(2, float(seq)))


def test_merger_restores_sequence_order():
    readers = [_FakeReader([[_chunk(0), _chunk(2)], [_chunk(4)]]), _FakeReader([[_chunk(1)], [_chunk(3)]])]
    merger = _Merger(readers, "bean")
    parts = []
    while True:
        run = merger.take_run(block_size=100, max_chunks=8)
        if not run:
            break
        parts.extend(run)
    assert as_samples(parts).tolist() == [0, 0, 1, 1, 2, 2, 3, 3, 4, 4]


def test_merger_reports_missing_chunk():
    readers = [_FakeReader([[_chunk(0), _chunk(4)]]), _FakeReader([[_chunk(1)]])]
    merger = _Merger(readers, "bean")
    with pytest.raises(ExecutionError, match="expected chunk 2 from partition 0, got chunk 4"):
        while merger.take_run(block_size=100, max_chunks=8):
            pass


def test_merger_reports_partition_with_extra_chunks():
    readers = [_FakeReader([[_chunk(0)]]), _FakeReader([[_chunk(1), _chunk(3)]])]
    merger = _Merger(readers, "bean")
    with pytest.raises(ExecutionError, match="partition 0 ended at chunk 2 but partition 1 still has chunk 3"):
        while merger.take_run(block_size=100, max_chunks=8):
            pass
