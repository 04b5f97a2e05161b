"""Grouping into pods, pod references, the pod call protocol, bushes, discovery and the gardener."""

from __future__ import annotations

import json
import pickle
import threading

import cloudpickle
import numpy as np
import pytest

import wavebeans_nb as wb
from wavebeans_nb.data import ARCTIC_A0007
from wavebeans_nb.errors import ExecutionError, InvalidParameterError
from wavebeans_nb.execution import (
    Chunk, ComputeSlots, ConsumerKey, ErrorEnvelope, ExecutionConfig, Gardener, PodCall, PodCallResult,
    PodDiscovery, PodFailure, PodKey, build_pods, build_topology, group_beans,
)

from execution_support import as_samples


def describe(pods) -> list[tuple]:
    """(key, kind, sequenced, bean ids, proxies (slot, targets, split partition), consumers (pod, slot, partition))."""
    return [
        (tuple(pod.key), pod.kind, pod.sequenced, [ref.id for ref in pod.beans],
         [(proxy.slot, [tuple(target) for target in proxy.targets], proxy.partition) for proxy in pod.proxies],
         [(tuple(item.consumer.pod), item.consumer.slot, item.partition) for item in pod.consumers])
        for pod in pods
    ]


def pods_of(outputs, partitions: int, group: bool = True) -> list[tuple]:
    return describe(build_pods(build_topology(outputs).partition(partitions), group=group))


# Bean ids in the comments: depth-first from the outputs, in input order.

def one_line():
    # output 1 <- trim 2 <- div 3 <- sine 4
    return [(wb.sine(440) / 2.0).trim(100).to_dev_null()]


def split():
    # output 1 <- trim 2 <- div 3 <- sine 4; output 5 <- trim 6 <- div 3
    shared = wb.sine(440) / 2.0
    return [shared.trim(3).to_dev_null(), shared.trim(5).to_dev_null()]


def merge():
    # output 1 <- trim 2 <- plus 3 <- (div 4 <- sine 5, div 6 <- sine 7)
    return [((wb.sine(440) / 2.0) + (wb.sine(880) / 4.0)).trim(10).to_dev_null()]


def split_merge():
    # output 1 <- trim 2 <- plus 3 <- (div 4 <- sine 5, div 6 <- sine 7); output 8 <- trim 9 <- plus 3
    plus = (wb.sine(440) / 2.0) + (wb.sine(880) / 4.0)
    return [plus.trim(6).to_dev_null(), plus.trim(8).to_dev_null()]


def shared_by_split_and_whole():
    # output 1 <- trim 2 <- sine 3; output 4 <- times 5 <- trim 2
    source = wb.sine(440).trim(10)
    return [source.to_dev_null(), (source * 2.0).to_dev_null()]


def test_one_line_is_one_pod():
    assert pods_of(one_line(), 1) == [((5, 0), "output", False, [1, 2, 3, 4], [], [])]


def test_one_line_in_two_partitions():
    assert pods_of(one_line(), 2) == [
        ((5, 0), "output", False, [1, 2], [(0, [(3, 0), (3, 1)], None)], []),
        ((3, 0), "streaming", True, [3], [(0, [(4, 0)], 0)], [((5, 0), 0, None)]),
        ((4, 0), "splitting", False, [4], [], [((3, 0), 0, 0), ((3, 1), 0, 1)]),
        ((3, 1), "streaming", True, [3], [(0, [(4, 0)], 1)], [((5, 0), 0, None)]),
    ]


def test_split_makes_shared_bean_a_pod():
    assert pods_of(split(), 1) == [
        ((7, 0), "output", False, [1, 2], [(0, [(8, 0)], None)], []),
        ((8, 0), "streaming", False, [3, 4], [], [((7, 0), 0, None), ((9, 0), 0, None)]),
        ((9, 0), "output", False, [5, 6], [(0, [(8, 0)], None)], []),
    ]


def test_split_in_two_partitions():
    assert pods_of(split(), 2) == [
        ((7, 0), "output", False, [1, 2], [(0, [(3, 0), (3, 1)], None)], []),
        ((3, 0), "streaming", True, [3], [(0, [(4, 0)], 0)], [((7, 0), 0, None), ((8, 0), 0, None)]),
        ((4, 0), "splitting", False, [4], [], [((3, 0), 0, 0), ((3, 1), 0, 1)]),
        ((3, 1), "streaming", True, [3], [(0, [(4, 0)], 1)], [((7, 0), 0, None), ((8, 0), 0, None)]),
        ((8, 0), "output", False, [5, 6], [(0, [(3, 0), (3, 1)], None)], []),
    ]


def test_merge_ends_the_chain():
    assert pods_of(merge(), 1) == [
        ((8, 0), "output", False, [1, 2, 3], [(0, [(9, 0)], None), (1, [(10, 0)], None)], []),
        ((9, 0), "streaming", False, [4, 5], [], [((8, 0), 0, None)]),
        ((10, 0), "streaming", False, [6, 7], [], [((8, 0), 1, None)]),
    ]


def test_merge_in_two_partitions():
    assert pods_of(merge(), 2) == [
        ((8, 0), "output", False, [1, 2, 3], [(0, [(4, 0), (4, 1)], None), (1, [(6, 0), (6, 1)], None)], []),
        ((4, 0), "streaming", True, [4], [(0, [(5, 0)], 0)], [((8, 0), 0, None)]),
        ((5, 0), "splitting", False, [5], [], [((4, 0), 0, 0), ((4, 1), 0, 1)]),
        ((4, 1), "streaming", True, [4], [(0, [(5, 0)], 1)], [((8, 0), 0, None)]),
        ((6, 0), "streaming", True, [6], [(0, [(7, 0)], 0)], [((8, 0), 1, None)]),
        ((7, 0), "splitting", False, [7], [], [((6, 0), 0, 0), ((6, 1), 0, 1)]),
        ((6, 1), "streaming", True, [6], [(0, [(7, 0)], 1)], [((8, 0), 1, None)]),
    ]


def test_split_merge_bean_is_alone():
    assert pods_of(split_merge(), 1) == [
        ((10, 0), "output", False, [1, 2], [(0, [(3, 0)], None)], []),
        ((3, 0), "streaming", False, [3], [(0, [(11, 0)], None), (1, [(12, 0)], None)],
         [((10, 0), 0, None), ((13, 0), 0, None)]),
        ((11, 0), "streaming", False, [4, 5], [], [((3, 0), 0, None)]),
        ((12, 0), "streaming", False, [6, 7], [], [((3, 0), 1, None)]),
        ((13, 0), "output", False, [8, 9], [(0, [(3, 0)], None)], []),
    ]


def test_split_merge_in_two_partitions():
    assert pods_of(split_merge(), 2) == [
        ((10, 0), "output", False, [1, 2], [(0, [(3, 0)], None)], []),
        ((3, 0), "streaming", False, [3], [(0, [(4, 0), (4, 1)], None), (1, [(6, 0), (6, 1)], None)],
         [((10, 0), 0, None), ((11, 0), 0, None)]),
        ((4, 0), "streaming", True, [4], [(0, [(5, 0)], 0)], [((3, 0), 0, None)]),
        ((5, 0), "splitting", False, [5], [], [((4, 0), 0, 0), ((4, 1), 0, 1)]),
        ((4, 1), "streaming", True, [4], [(0, [(5, 0)], 1)], [((3, 0), 0, None)]),
        ((6, 0), "streaming", True, [6], [(0, [(7, 0)], 0)], [((3, 0), 1, None)]),
        ((7, 0), "splitting", False, [7], [], [((6, 0), 0, 0), ((6, 1), 0, 1)]),
        ((6, 1), "streaming", True, [6], [(0, [(7, 0)], 1)], [((3, 0), 1, None)]),
        ((11, 0), "output", False, [8, 9], [(0, [(3, 0)], None)], []),
    ]


def test_one_pod_serves_whole_and_split_readers():
    # The trimmed sine is read whole by output 1 and dealt out to the two copies of the product.
    assert pods_of(shared_by_split_and_whole(), 2) == [
        ((1, 0), "output", False, [1], [(0, [(6, 0)], None)], []),
        ((6, 0), "splitting", False, [2, 3], [], [((1, 0), 0, None), ((5, 0), 0, 0), ((5, 1), 0, 1)]),
        ((4, 0), "output", False, [4], [(0, [(5, 0), (5, 1)], None)], []),
        ((5, 0), "streaming", True, [5], [(0, [(6, 0)], 0)], [((4, 0), 0, None)]),
        ((5, 1), "streaming", True, [5], [(0, [(6, 0)], 1)], [((4, 0), 0, None)]),
    ]


def test_bean_read_twice_gets_two_cursors():
    source = wb.sine(440).trim(10)
    assert pods_of([(source + source).to_dev_null()], 1) == [
        ((5, 0), "output", False, [1, 2], [(0, [(6, 0)], None), (1, [(6, 0)], None)], []),
        ((6, 0), "streaming", False, [3, 4], [], [((5, 0), 0, None), ((5, 0), 1, None)]),
    ]


def test_without_grouping_every_bean_is_a_pod():
    assert pods_of(one_line(), 2, group=False) == [
        ((1, 0), "output", False, [1], [(0, [(2, 0)], None)], []),
        ((2, 0), "streaming", False, [2], [(0, [(3, 0), (3, 1)], None)], [((1, 0), 0, None)]),
        ((3, 0), "streaming", True, [3], [(0, [(4, 0)], 0)], [((2, 0), 0, None)]),
        ((3, 1), "streaming", True, [3], [(0, [(4, 0)], 1)], [((2, 0), 0, None)]),
        ((4, 0), "splitting", False, [4], [], [((3, 0), 0, 0), ((3, 1), 0, 1)]),
    ]


def test_group_members_and_internal_links():
    topology = build_topology(one_line())
    assert [(g.id, g.partition, g.members) for g in group_beans(topology)] == [(5, 0, (1, 2, 3, 4))]
    pod = build_pods(topology)[0]
    assert [(l.consumer, l.producer) for l in pod.links] == [(1, 2), (2, 3), (3, 4)]
    assert pod.label == " <- ".join(topology.bean(bean_id).label() for bean_id in (1, 2, 3, 4))
    assert pod.label.startswith("to_dev_null <- trim(100ms) <- x / 2 <- ")


def test_proxy_carries_producer_metadata():
    pods = build_pods(build_topology([(wb.wave(ARCTIC_A0007, resample=False) * 2.0).to_dev_null()]).partition(2))
    proxy = pods[0].proxies[0]
    assert proxy.producer == 2
    assert proxy.label == "x * 2"
    assert proxy.element_type is float
    assert proxy.is_finite
    assert proxy.desired_sample_rate == 16000.0
    assert proxy.rate_error is None
    assert proxy.partitions == 2


# -- protocol values -------------------------------------------------------------------


def test_calls_validate_arguments():
    PodCall.iterator_start(8000.0, 1, ConsumerKey(PodKey(1, 0), 0)).validate()
    PodCall.iterator_next(0, 4, 0.5).validate()
    with pytest.raises(InvalidParameterError, match="unknown"):
        PodCall("iteratorNext", {}).validate()
    with pytest.raises(InvalidParameterError, match="version"):
        PodCall("status", {}, version=99).validate()
    with pytest.raises(InvalidParameterError, match="missing argument 'buckets'"):
        PodCall("iterator_next", {"key": 1}).validate()
    with pytest.raises(InvalidParameterError, match="buckets=0 is invalid"):
        PodCall.iterator_next(1, 0).validate()
    with pytest.raises(InvalidParameterError, match="sample_rate=-1"):
        PodCall("iterator_start", {"sample_rate": -1}).validate()
    with pytest.raises(InvalidParameterError, match="unknown arguments"):
        PodCall("status", {"verbose": True}).validate()


def test_error_envelope_keeps_traceback_text():
    try:
        raise KeyError("missing thing")
    except KeyError as error:
        envelope = ErrorEnvelope.from_exception(error, bean="map(f)", pod=PodKey(3, 1))
    assert envelope.type_name == "builtins.KeyError"
    assert envelope.pod == "3.1"
    assert "raise KeyError" in envelope.traceback
    failure = envelope.to_error()
    assert isinstance(failure, ExecutionError)
    assert failure.bean == "map(f)"
    assert failure.pod == "3.1"
    assert str(failure).startswith("map(f) in pod 3.1 failed with KeyError: 'missing thing'")
    with pytest.raises(PodFailure) as raised:
        PodCallResult(error=envelope).unwrap()
    assert raised.value.envelope == envelope


@pytest.mark.parametrize("dumps", [pickle.dumps, cloudpickle.dumps])
def test_protocol_values_pickle(dumps):
    envelope = ErrorEnvelope("x.Error", "message", "Traceback ...", "bean", "1.0")
    values = [
        PodKey(3, 1), ConsumerKey(PodKey(3, 1), 1), Chunk(7, np.arange(4.0)), Chunk(8, ([1], [2])),
        PodCall.iterator_next(2, 8, 0.1), PodCallResult([Chunk(0, np.ones(2))]), PodCallResult(error=envelope),
        PodFailure(envelope), envelope.to_error(),
    ]
    for value in values:
        again = pickle.loads(dumps(value))
        assert type(again) is type(value)
        assert repr(again) == repr(value)
    failure = pickle.loads(dumps(PodFailure(envelope)))
    assert failure.envelope == envelope
    assert failure.remote_traceback == "Traceback ..."


def test_pod_refs_cloudpickle_with_functions():
    offset = 0.5
    outputs = [wb.list_input([1.0, 2.0]).map(lambda x: x + offset).map_blocks(np.abs).to_dev_null()]
    pods = build_pods(build_topology(outputs).partition(2))
    again = cloudpickle.loads(cloudpickle.dumps(pods))
    assert describe(again) == describe(pods)
    fn = again[1].beans[0].params["fn"]
    assert fn(np.array([-2.0])).tolist() == [2.0]


def test_chunk_length_counts_all_parts():
    assert len(Chunk(0, np.arange(5.0))) == 5
    assert len(Chunk(1, ([1, 2], [3]))) == 3
    assert Chunk(1, ([1, 2], [3])).blocks() == [[1, 2], [3]]


# -- bushes, pods and calls -------------------------------------------------------------


def _plant(outputs, partitions: int, config: ExecutionConfig):
    gardener = Gardener()
    pods = build_pods(build_topology(outputs).partition(partitions))
    bush = gardener.plant("job-1", pods, 8000, config)
    return gardener, bush


def _read_all(bush, pod: PodKey, consumer: ConsumerKey, partition):
    key = bush.call(pod, PodCall.iterator_start(8000, partition, consumer)).unwrap()
    chunks = []
    while True:
        batch = bush.call(pod, PodCall.iterator_next(key, 3, 0.05)).unwrap()
        if batch is None:
            return chunks
        chunks.extend(batch)


def test_pod_routes_each_consumer_from_start():
    source = wb.list_input(np.arange(95.0))
    outputs = [source.to_dev_null(), (source * 2.0).to_dev_null()]  # source is pod 2.0 here
    gardener, bush = _plant(outputs, 2, ExecutionConfig(chunk_size=10, buffer_chunks=20))
    pod = PodKey(2, 0)
    assert [(str(c.consumer), c.partition) for c in bush.pods[pod].ref.consumers] == \
        [("1.0[0]", None), ("4.0[0]", 0), ("4.1[0]", 1)]
    whole = _read_all(bush, pod, ConsumerKey(PodKey(1, 0), 0), None)
    # The split readers attach only after the whole stream was produced and still get every chunk.
    even = _read_all(bush, pod, ConsumerKey(PodKey(4, 0), 0), 0)
    odd = _read_all(bush, pod, ConsumerKey(PodKey(4, 1), 0), 1)
    assert [chunk.seq for chunk in whole] == list(range(10))
    assert [chunk.seq for chunk in even] == [0, 2, 4, 6, 8]
    assert [chunk.seq for chunk in odd] == [1, 3, 5, 7, 9]
    assert as_samples([c.data for c in whole]).tolist() == list(np.arange(95.0))
    assert as_samples([c.data for c in even]).tolist() == [x for x in range(95) if (x // 10) % 2 == 0]
    status = bush.pods[pod].status()
    assert status["kind"] == "splitting"
    assert status["state"] == "done"
    assert status["chunks_produced"] == 10
    json.dumps(status)
    gardener.stop("job-1")


def test_pod_rejects_invalid_readers():
    source = wb.list_input(np.arange(30.0))
    gardener, bush = _plant([source.to_dev_null(), (source * 2.0).to_dev_null()], 2,
                            ExecutionConfig(chunk_size=10))
    pod = PodKey(2, 0)
    planned = ConsumerKey(PodKey(4, 0), 0)
    wrong_partition = bush.call(pod, PodCall.iterator_start(8000, 1, planned))
    assert "planned to read partition 0, not 1" in wrong_partition.error.message
    assert bush.call(pod, PodCall.iterator_start(8000, 0, planned)).error is None
    again = bush.call(pod, PodCall.iterator_start(8000, 0, planned))
    assert "already read pod 2.0" in again.error.message
    stranger = bush.call(pod, PodCall.iterator_start(8000, None, ConsumerKey(PodKey(99, 0), 0)))
    assert "not in the plan" in stranger.error.message
    other_rate = bush.call(pod, PodCall.iterator_start(16000, None, ConsumerKey(PodKey(1, 0), 0)))
    assert "runs at 8000 Hz" in other_rate.error.message
    unknown_key = bush.call(pod, PodCall.iterator_next(7, 1))
    assert "iterator key 7" in unknown_key.error.message
    bad_call = bush.call(pod, PodCall("iterator_next", {"key": "x", "buckets": 1}))
    assert bad_call.error.type_name.endswith("InvalidParameterError")
    missing = bush.call(PodKey(42, 0), PodCall.status())
    assert "pod 42.0 is not found on bush" in missing.error.message
    output = bush.call(PodKey(1, 0), PodCall.iterator_start(8000, None, None))
    assert "is an output" in output.error.message
    gardener.stop("job-1")


def test_pod_stops_when_every_reader_released():
    source = wb.sine(440)  # infinite
    gardener, bush = _plant([source.to_dev_null(), (source * 2.0).to_dev_null()], 2,
                            ExecutionConfig(chunk_size=10, buffer_chunks=2))
    pod = PodKey(2, 0)
    key = bush.call(pod, PodCall.iterator_start(8000, None, ConsumerKey(PodKey(1, 0), 0))).unwrap()
    assert bush.call(pod, PodCall.iterator_next(key, 1, 1.0)).unwrap()
    for consumer in [ConsumerKey(PodKey(1, 0), 0), ConsumerKey(PodKey(4, 0), 0), ConsumerKey(PodKey(4, 1), 0)]:
        bush.call(pod, PodCall.iterator_close(consumer)).unwrap()
    assert bush.pods[pod].join(5.0)
    assert bush.pods[pod].status()["state"] == "done"
    assert bush.pods[pod].status()["chunks_buffered"] == 0
    gardener.stop("job-1")


def test_samples_count_call_follows_partitions():
    source = wb.list_input(np.arange(95.0))
    gardener, bush = _plant([source.map_blocks(np.abs).to_dev_null()], 2, ExecutionConfig(chunk_size=10))
    assert bush.call(PodKey(3, 0), PodCall.samples_count(8000)).unwrap() == 95
    assert bush.call(PodKey(2, 0), PodCall.samples_count(8000)).unwrap() == 50
    assert bush.call(PodKey(2, 1), PodCall.samples_count(8000)).unwrap() == 45
    assert bush.pods[PodKey(1, 0)].tail.samples_count(8000) == 95
    gardener.stop("job-1")


# -- discovery, gardener, compute slots ------------------------------------------------------


class _NamedBush:
    local = True

    def __init__(self, key):
        self.key = key


def test_discovery_is_per_job_and_checks_duplicates():
    discovery = PodDiscovery("job-a")
    bush = _NamedBush("b1")
    discovery.register_bush(bush)
    discovery.register_bush(bush)
    discovery.register_pod(PodKey(1, 0), "b1")
    discovery.register_pod(PodKey(1, 0), "b1")
    assert discovery.bush_for(PodKey(1, 0)) is bush
    with pytest.raises(ExecutionError, match="already registered on bush b1"):
        discovery.register_pod(PodKey(1, 0), "b2")
    with pytest.raises(ExecutionError, match="bush b1 is already registered"):
        discovery.register_bush(_NamedBush("b1"))
    with pytest.raises(ExecutionError, match="job job-a: pod 2.0 is not registered"):
        discovery.bush_for(PodKey(2, 0))
    assert discovery.snapshot() == {"1.0": "b1"}
    discovery.unregister_bush("b1")
    assert discovery.snapshot() == {}
    assert PodDiscovery("job-b").snapshot() == {}


def test_gardener_reports_unknown_jobs():
    gardener = Gardener()
    for method in (gardener.start, gardener.futures, gardener.status, gardener.cancel, gardener.context):
        with pytest.raises(ExecutionError, match="job nope is not known"):
            method("nope")
    assert gardener.stop("nope")
    assert gardener.jobs() == []


def test_gardener_runs_a_job_on_two_bushes():
    sink: dict = {}
    from execution_support import collect

    outputs = [collect((wb.list_input(np.arange(50.0)) * 2.0), sink, "out")]
    pods = build_pods(build_topology(outputs).partition(2))
    gardener = Gardener()
    config = ExecutionConfig(chunk_size=7)
    first = gardener.plant("job-2", pods[:2], 8000, config)
    second = gardener.plant("job-2", pods[2:], 8000, config)
    assert first.context is second.context
    gardener.start("job-2")
    futures = gardener.futures("job-2")
    assert [str(key) for key in futures] == ["1.0"]
    assert all(future.result(timeout=10).finished for future in futures.values())
    assert as_samples(sink["out"]).tolist() == list(np.arange(50.0) * 2.0)
    status = gardener.status("job-2")
    assert len(status["bushes"]) == 2
    json.dumps(status)
    assert gardener.stop("job-2")
    assert gardener.jobs() == []


def test_compute_slots_limit_and_release():
    slots = ComputeSlots(1, threading.Event(), 0.01)
    entered = threading.Event()
    release = threading.Event()

    def other():
        with slots.hold():
            entered.set()

    with slots.hold():
        assert slots.holding()
        thread = threading.Thread(target=other)
        thread.start()
        assert not entered.wait(0.1)
        with slots.released():
            assert not slots.holding()
            assert entered.wait(5.0)
        assert slots.holding()
    thread.join(5.0)
    release.set()
    assert not slots.holding()


def test_chunk_of_vectors_pickles_as_one_array():
    rows = list(np.arange(12.0).reshape(4, 3))
    buffers = []
    payload = pickle.dumps(Chunk(7, rows), protocol=5, buffer_callback=buffers.append)
    assert len(buffers) == 1
    copy = pickle.loads(payload, buffers=buffers)
    assert copy.seq == 7 and isinstance(copy.data, list)
    assert all(type(row) is np.ndarray for row in copy.data)
    assert np.array_equal(np.array(copy.data), np.arange(12.0).reshape(4, 3))


@pytest.mark.parametrize("data", [
    [np.arange(3.0), np.arange(4.0)],  # different lengths
    [np.arange(3), np.arange(3)],  # integers stay integers
    [np.arange(3.0), [0.0, 1.0, 2.0]],  # a list among arrays
    [1.0, 2.0, 3.0],
    np.arange(5.0),
], ids=["lengths", "integers", "mixed", "floats", "samples"])
def test_other_chunks_pickle_unchanged(data):
    copy = pickle.loads(pickle.dumps(Chunk(1, data)))
    assert type(copy.data) is type(data)
    for got, sent in zip(copy.data, data):
        assert type(got) is type(sent)
        assert np.array_equal(got, sent)


def test_iterator_next_waits_for_least_chunks():
    source = wb.list_input(np.arange(100.0))
    gardener, bush = _plant([source.to_dev_null(), (source * 2.0).to_dev_null()], 2,
                            ExecutionConfig(chunk_size=10, buffer_chunks=20))
    pod = PodKey(2, 0)
    key = bush.call(pod, PodCall.iterator_start(8000, None, ConsumerKey(PodKey(1, 0), 0))).unwrap()
    first = bush.call(pod, PodCall.iterator_next(key, 8, 5.0, least=6)).unwrap()
    assert len(first) >= 6
    rest = []
    while True:
        # At the end of the stream fewer than ``least`` chunks come back, then None.
        batch = bush.call(pod, PodCall.iterator_next(key, 8, 5.0, least=6)).unwrap()
        if batch is None:
            break
        rest.extend(batch)
    assert [chunk.seq for chunk in first + rest] == list(range(10))
    gardener.stop("job-1")


def test_iterator_next_returns_what_is_there_after_wait():
    source = wb.sine(440)  # infinite, but held back by the buffer bound
    gardener, bush = _plant([source.to_dev_null(), (source * 2.0).to_dev_null()], 2,
                            ExecutionConfig(chunk_size=10, buffer_chunks=3))
    pod = PodKey(2, 0)
    key = bush.call(pod, PodCall.iterator_start(8000, None, ConsumerKey(PodKey(1, 0), 0))).unwrap()
    # The pod stops at 3 unread chunks for the other consumers, so 10 never become ready.
    batch = bush.call(pod, PodCall.iterator_next(key, 16, 0.3, least=10)).unwrap()
    assert 1 <= len(batch) <= 3
    assert PodCall.iterator_next(key, 4, least=2).args["least"] == 2
    with pytest.raises(InvalidParameterError):
        PodCall("iterator_next", {"key": 0, "buckets": 4, "least": 0}).validate()
    gardener.stop("job-1")
