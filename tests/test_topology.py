"""Topology building, ids, links and the JSON round trip."""

from __future__ import annotations

import json

import numpy as np
import pytest

import wavebeans_nb as wb
from wavebeans_nb.beans.base import BeanKind, Stream
from wavebeans_nb.beans.inputs import SineInput
from wavebeans_nb.beans.operations import ScalarOperation, TrimStream
from wavebeans_nb.beans.outputs.devnull import DevNullOutput
from wavebeans_nb.errors import InvalidParameterError
from wavebeans_nb.execution import BeanLink, Topology, build_topology

from execution_support import as_samples, collect


def _links(topology: Topology) -> list[tuple]:
    return [(l.consumer, l.producer, l.consumer_partition, l.producer_partition, l.order) for l in topology.links]


def _ids(topology: Topology) -> list[tuple]:
    return [(ref.id, ref.cls.__name__, ref.partition) for ref in topology.beans]


def test_one_line_ids_are_depth_first():
    out = (wb.sine(440) * 2.0).trim(100).to_dev_null()
    topology = build_topology([out])
    assert _ids(topology) == [(1, "DevNullOutput", 0), (2, "TrimStream", 0), (3, "ScalarOperation", 0),
                              (4, "SineInput", 0)]
    assert _links(topology) == [(1, 2, 0, 0, 0), (2, 3, 0, 0, 0), (3, 4, 0, 0, 0)]
    assert topology.outputs == [1]
    assert topology.partitions == 1


def test_same_graph_gets_same_ids_every_time():
    def graph():
        a = wb.sine(440).trim(50)
        b = wb.sine(880).trim(70)
        return [(a + b).to_dev_null(), (b * 3.0).to_dev_null()]

    first, second = build_topology(graph()), build_topology(graph())
    assert _ids(first) == _ids(second)
    assert _links(first) == _links(second)
    assert first.to_json() == second.to_json()


def test_inputs_are_numbered_in_input_order():
    a = wb.sine(440)
    b = wb.sine(880)
    topology = build_topology([(a - b).to_dev_null()])
    assert _ids(topology) == [(1, "DevNullOutput", 0), (2, "StreamOperation", 0), (3, "SineInput", 0),
                              (4, "SineInput", 0)]
    assert topology.ref(3).params["frequency"] == 440.0
    assert _links(topology) == [(1, 2, 0, 0, 0), (2, 3, 0, 0, 0), (2, 4, 0, 0, 1)]


def test_shared_bean_is_one_node():
    shared = wb.sine(440) * 2.0
    first = shared.trim(10).to_dev_null()
    second = (shared + shared.map_blocks(np.abs)).to_dev_null()
    topology = build_topology([first, second])
    assert _ids(topology) == [(1, "DevNullOutput", 0), (2, "TrimStream", 0), (3, "ScalarOperation", 0),
                              (4, "SineInput", 0), (5, "DevNullOutput", 0), (6, "StreamOperation", 0),
                              (7, "MapBlocksStream", 0)]
    assert _links(topology) == [(1, 2, 0, 0, 0), (2, 3, 0, 0, 0), (3, 4, 0, 0, 0), (5, 6, 0, 0, 0),
                                (6, 3, 0, 0, 0), (6, 7, 0, 0, 1), (7, 3, 0, 0, 0)]
    assert topology.outputs == [1, 5]


def test_bean_read_twice_has_two_links():
    a = wb.sine(440)
    topology = build_topology([(a + a).to_dev_null()])
    assert _links(topology) == [(1, 2, 0, 0, 0), (2, 3, 0, 0, 0), (2, 3, 0, 0, 1)]


def test_unreached_beans_are_left_out():
    source = wb.sine(440)
    _unused = source * 5.0
    topology = build_topology(source.trim(5).to_dev_null())
    assert [ref.cls.__name__ for ref in topology.beans] == ["DevNullOutput", "TrimStream", "SineInput"]


def test_metadata_of_refs():
    topology = build_topology([(wb.sine(440) * 2.0).trim(100).to_dev_null()])
    assert [ref.kind for ref in topology.beans] == [BeanKind.OUTPUT, BeanKind.OPERATION, BeanKind.OPERATION,
                                                   BeanKind.SOURCE]
    assert [ref.partitionable for ref in topology.beans] == [False, False, True, False]
    assert topology.ref(2).label == "trim(100ms)"


def test_rejects_non_outputs():
    with pytest.raises(InvalidParameterError, match="not an output"):
        build_topology([wb.sine(440)])
    with pytest.raises(InvalidParameterError, match="no outputs"):
        build_topology([])


def test_json_document_of_simple_graph():
    sine = wb.sine(440)
    topology = build_topology([sine.trim(1000).to_dev_null()])
    assert json.loads(topology.to_json()) == {
        "format": "wavebeans-nb-topology",
        "version": 1,
        "partitions": 1,
        "outputs": [1],
        "beans": [
            {"id": 1, "type": "wavebeans_nb.beans.outputs.devnull:DevNullOutput", "partition": 0,
             "kind": "output", "partitionable": False, "label": "to_dev_null", "params": {}},
            {"id": 2, "type": "wavebeans_nb.beans.operations:TrimStream", "partition": 0,
             "kind": "operation", "partitionable": False, "label": "trim(1s)",
             "params": {"nanos": 1_000_000_000}},
            {"id": 3, "type": "wavebeans_nb.beans.inputs:SineInput", "partition": 0,
             "kind": "source", "partitionable": False,
             "label": sine.label(),
             "params": {"frequency": 440.0, "amplitude": 1.0, "time_offset": 0.0}},
        ],
        "links": [
            {"consumer": 1, "producer": 2, "consumer_partition": 0, "producer_partition": 0, "order": 0},
            {"consumer": 2, "producer": 3, "consumer_partition": 0, "producer_partition": 0, "order": 0},
        ],
    }


def test_json_round_trip_keeps_structure():
    shared = wb.sine(440) * 2.0
    outputs = [shared.trim(10).to_dev_null(), (shared + wb.sine(100)).trim(20).to_dev_null()]
    topology = build_topology(outputs).partition(3)
    again = Topology.from_json(topology.to_json())
    assert _ids(again) == _ids(topology)
    assert _links(again) == _links(topology)
    assert again.partitions == 3
    assert again.outputs == topology.outputs
    assert again.to_json() == topology.to_json()


def test_json_embeds_non_json_params():
    values = np.linspace(0.0, 1.0, 7)
    scale = 3.0

    def triple(x):
        return x * scale

    out = wb.list_input(values).map(triple).map_blocks(lambda b: b + 1.0).to_dev_null()
    document = json.loads(build_topology([out]).to_json())
    params = {entry["type"].rsplit(":", 1)[1]: entry["params"] for entry in document["beans"]}
    assert set(params["ListInput"]["values"]) == {"$pickle"}
    assert set(params["MapStream"]["fn"]) == {"$pickle"}
    assert params["MapStream"]["element_type"] is None


def _rebuild_output(topology: Topology, output_id: int):
    return topology.bean(output_id)


def test_rebuilt_graph_computes_same_samples():
    values = np.linspace(-1.0, 1.0, 300)
    offset = 0.125
    sink: dict = {}
    stream = (wb.list_input(values).map(lambda x: x * x + offset) + wb.sine(50).trim(30)).range_projection(5, 30)
    original = collect(stream, sink, "original")
    topology = Topology.from_json(build_topology([original]).to_json())
    rebuilt = _rebuild_output(topology, topology.outputs[0])
    assert type(rebuilt) is type(original)
    expected = np.concatenate(list(stream.iter_blocks(8000)))
    actual = np.concatenate(list(rebuilt.input.iter_blocks(8000)))
    assert np.array_equal(expected, actual)
    x = values[40:240]
    sine = np.sin(2 * np.pi * 50 * np.arange(40, 240) / 8000)
    assert np.allclose(actual, x * x + offset + sine)


def test_non_json_values_survive_round_trip():
    out = wb.list_input([(1, 2), (3, 4)], element_type=object).map(lambda t: t[0], element_type=float)
    topology = Topology.from_json(build_topology([out.to_dev_null()]).to_json())
    source = topology.ref(3)
    assert source.params["values"] == [(1, 2), (3, 4)]
    assert source.params["element_type"] is object
    assert topology.ref(2).params["element_type"] is float


def test_class_defined_in_function_travels_by_value():
    class Negate(Stream):
        partitionable = True

        def __init__(self, input):
            super().__init__(input)

        def _blocks(self, sample_rate, block_size):
            for block in self.input.iter_blocks(sample_rate, block_size):
                yield -block

    out = Negate(wb.list_input([1.0, -2.0, 3.0])).to_dev_null()
    document = json.loads(build_topology([out]).to_json())
    entry = document["beans"][1]
    assert entry["type"].endswith("Negate")
    assert "class_pickle" in entry
    rebuilt = Topology.from_dict(document).bean(2)
    assert as_samples(list(rebuilt.iter_blocks(8000))).tolist() == [-1.0, 2.0, -3.0]


def test_importable_classes_travel_by_name():
    document = json.loads(build_topology([wb.sine(1).trim(1).to_dev_null()]).to_json())
    assert all("class_pickle" not in entry for entry in document["beans"])


def test_from_json_rejects_other_documents():
    with pytest.raises(InvalidParameterError, match="not a wavebeans-nb-topology"):
        Topology.from_json('{"format": "something-else", "version": 1}')
    document = json.loads(build_topology([wb.sine(1).trim(1).to_dev_null()]).to_json())
    document["beans"][0]["type"] = "wavebeans_nb.no_such_module:Nothing"
    with pytest.raises(InvalidParameterError, match="cannot be imported"):
        Topology.from_dict(document)


def test_ref_lookup_errors_name_the_bean():
    topology = build_topology([wb.sine(1).trim(1).to_dev_null()])
    with pytest.raises(InvalidParameterError, match="bean 9.0"):
        topology.ref(9)


def test_links_are_plain_values():
    link = BeanLink(1, 2, order=1)
    assert link == BeanLink(1, 2, 0, 0, 1)
    assert isinstance(build_topology([DevNullOutput(TrimStream(ScalarOperation(SineInput(frequency=1.0),
                                                                              operation="mul", scalar=2.0),
                                                              nanos=5))]).links[0], BeanLink)
