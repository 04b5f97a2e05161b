"""Drawings of topologies, pods and distribution plans: DOT structure, SVG rendering, text fallback."""

from __future__ import annotations

import os
import re
import stat
import sys
import textwrap
import xml.etree.ElementTree as ET

import numpy as np
import pygraphviz
import pytest

import wavebeans_nb as wb
from wavebeans_nb.beans.base import BeanKind
from wavebeans_nb.errors import InvalidParameterError
from wavebeans_nb.execution import BeanLink, BeanRef, Topology, build_pods, build_topology
from wavebeans_nb.notebook.drawing import (
    Drawing, RenderError, RendererNotFoundError, draw, draw_plan, draw_pods, draw_topology, mimebundle, render,
)
from wavebeans_nb.notebook.drawing.dot import CROSS_LINK_COLOUR, PARTITION_COLOURS, quote, wrap_label

SVG = "{http://www.w3.org/2000/svg}"
XLINK_TITLE = "{http://www.w3.org/1999/xlink}title"
KIND_SHAPES = {BeanKind.SOURCE: "cds", BeanKind.OPERATION: "box", BeanKind.OUTPUT: "cylinder"}


def make_outputs(tmp_dir: str) -> list:
    """A graph of 14 beans: two sources, a shared sum, three outputs, five partitionable operations."""
    first = wb.sine(440.0) * 0.5
    second = wb.sine(220.0)
    mixed = (first + second).map_blocks(np.tanh)
    quiet = mixed * 0.25
    return [
        quiet.trim(1000).to_wav(os.path.join(tmp_dir, "quiet.wav")),
        (mixed - second).trim(1000).to_dev_null(),
        (quiet * 2.0).trim(500).to_csv(os.path.join(tmp_dir, "loud.csv")),
    ]


@pytest.fixture
def topology(tmp_dir) -> Topology:
    return build_topology(make_outputs(tmp_dir))


@pytest.fixture
def partitioned(topology) -> Topology:
    return topology.partition(8)


def parse_svg(drawing: Drawing) -> ET.Element:
    return ET.fromstring(drawing.svg())


def svg_groups(root: ET.Element, css_class: str) -> dict[str, ET.Element]:
    return {group.get("id"): group for group in root.iter(f"{SVG}g") if group.get("class") == css_class}


def group_text(group: ET.Element) -> list[str]:
    return [text.text or "" for text in group.iter(f"{SVG}text")]


def tooltip(group: ET.Element) -> str | None:
    for link in group.iter(f"{SVG}a"):
        return link.get(XLINK_TITLE)
    return None


def check_bean_nodes(root: ET.Element, refs: list[BeanRef]) -> None:
    nodes = svg_groups(root, "node")
    for ref in refs:
        node = nodes[f"bean-{ref.id}-{ref.partition}"]
        lines = group_text(node)
        assert tooltip(node) == ref.label
        assert " ".join(lines[:-1]) == ref.label
        assert lines[-1].startswith(f"#{ref.id}")


def dot_graph(drawing: Drawing) -> pygraphviz.AGraph:
    """Parse the drawing's DOT text with Graphviz, independently of the writer."""
    return pygraphviz.AGraph(string=drawing.dot)


# -- DOT writer ---------------------------------------------------------------------------


def test_quote_escapes_dot_specials():
    assert quote('say "hi"') == '"say \\"hi\\""'
    assert quote("a\\Nb") == '"a\\\\Nb"'
    assert quote("two\nlines") == '"two\\nlines"'


def test_wrap_label_breaks_after_commas_only():
    label = "sine_input(frequency=440.0, amplitude=1.0, time_offset=0.0)"
    lines = wrap_label(label, width=30)
    assert lines == ["sine_input(frequency=440.0,", "amplitude=1.0,", "time_offset=0.0)"]
    assert " ".join(lines) == label
    assert wrap_label("a_single_part_that_is_much_longer_than_the_width", 10) == [
        "a_single_part_that_is_much_longer_than_the_width"
    ]


def test_palette_has_eight_distinct_colours():
    fills = {colour.fill.lower() for colour in PARTITION_COLOURS}
    lines = {colour.line.lower() for colour in PARTITION_COLOURS}
    assert len(fills) == len(PARTITION_COLOURS) >= 8
    assert len(lines) == len(PARTITION_COLOURS)
    assert CROSS_LINK_COLOUR.lower() not in lines


# -- topology -------------------------------------------------------------------------------


def test_topology_svg_carries_every_bean(topology):
    root = parse_svg(draw_topology(topology))
    assert root.tag == f"{SVG}svg"
    check_bean_nodes(root, topology.beans)
    assert len(svg_groups(root, "edge")) == len(topology.links)


def test_topology_nodes_shaped_by_kind(topology):
    graph = dot_graph(draw_topology(topology))
    assert len(graph.nodes()) == len(topology.beans)
    for ref in topology.beans:
        node = graph.get_node(f"b{ref.id}.{ref.partition}")
        assert node.attr["shape"] == KIND_SHAPES[ref.kind]
    fills = {kind: {graph.get_node(f"b{r.id}.0").attr["fillcolor"] for r in topology.beans if r.kind is kind}
             for kind in BeanKind}
    assert all(len(colours) == 1 for colours in fills.values())
    assert len(set.union(*fills.values())) == 3


def test_topology_links_follow_data_flow(topology):
    graph = dot_graph(draw_topology(topology))
    expected = sorted((f"b{link.producer}.0", f"b{link.consumer}.0") for link in topology.links)
    assert sorted(graph.edges()) == expected


def test_topology_labels_input_order_of_multi_input_beans(topology):
    graph = dot_graph(draw_topology(topology))
    multi_input = {bean_id for bean_id in topology.ids()
                   if len({link.order for link in topology.links if link.consumer == bean_id}) > 1}
    assert len(multi_input) == 2  # a + b and a - b
    for link in topology.links:
        edge = graph.get_edge(f"b{link.producer}.0", f"b{link.consumer}.0")
        if link.consumer in multi_input:
            assert edge.attr["headlabel"] == str(link.order)
        else:
            assert not edge.attr.get("headlabel")


def test_partitioned_topology_colours_partitions(partitioned):
    drawing = draw_topology(partitioned)
    root = parse_svg(drawing)
    check_bean_nodes(root, partitioned.beans)
    nodes = svg_groups(root, "node")
    fills_by_partition: dict[int, set[str]] = {}
    for ref in partitioned.beans:
        if partitioned.copies(ref.id) > 1:
            shape = next(e for e in nodes[f"bean-{ref.id}-{ref.partition}"].iter() if e.get("fill"))
            fills_by_partition.setdefault(ref.partition, set()).add(shape.get("fill").lower())
    assert sorted(fills_by_partition) == list(range(8))
    assert all(len(fills) == 1 for fills in fills_by_partition.values())
    assert len(set.union(*fills_by_partition.values())) == 8
    assert "8 partitions" in drawing.summary


def test_partitioned_topology_marks_splits_dashed(partitioned):
    graph = dot_graph(draw_topology(partitioned))
    splits = 0
    for link in partitioned.links:
        edge = graph.get_edge(f"b{link.producer}.{link.producer_partition}", f"b{link.consumer}.{link.consumer_partition}")
        dashed = edge.attr.get("style") == "dashed"
        assert dashed == partitioned.is_split(link)
        splits += dashed
    assert splits == 16  # the first sine into 8 copies of x * 0.5, a + b into 8 copies of map_blocks


def test_partitioned_merge_labels_slot_once(partitioned):
    graph = dot_graph(draw_topology(partitioned))
    sum_id = next(ref.id for ref in partitioned.beans if ref.label == "a + b")
    labels = [graph.get_edge(f"b{l.producer}.{l.producer_partition}", f"b{sum_id}.0").attr.get("headlabel")
              for l in partitioned.links if l.consumer == sum_id]
    assert len(labels) == 9
    assert sorted(label for label in labels if label) == ["0", "1"]


def test_topology_dot_is_deterministic(tmp_dir):
    first = draw_topology(build_topology(make_outputs(tmp_dir)).partition(8))
    second = draw_topology(build_topology(make_outputs(tmp_dir)).partition(8))
    assert first.dot == second.dot
    assert first.svg() == second.svg()


def rankdir_of(drawing: Drawing) -> str:
    graph = dot_graph(drawing)  # keep the graph alive while its attributes are read
    return graph.graph_attr["rankdir"]


def test_topology_rankdir_choice(topology, partitioned):
    assert rankdir_of(draw_topology(partitioned)) == "LR"
    assert rankdir_of(draw_topology(topology, rankdir="LR")) == "LR"
    assert rankdir_of(draw_topology(topology, rankdir="TB")) == "TB"
    with pytest.raises(InvalidParameterError, match="rankdir"):
        draw_topology(topology, rankdir="sideways")


def test_topology_labels_are_shown_literally():
    label = 'say "hi" \\N <b> & more'
    beans = [BeanRef(1, object, {}, kind=BeanKind.OUTPUT, label="sink"),
             BeanRef(2, object, {}, kind=BeanKind.SOURCE, label=label)]
    topology = Topology(beans, [BeanLink(1, 2)], outputs=[1])
    root = parse_svg(draw_topology(topology))
    node = svg_groups(root, "node")["bean-2-0"]
    assert group_text(node)[0] == label
    assert tooltip(node) == label


def test_draw_topology_rejects_other_objects():
    with pytest.raises(InvalidParameterError, match="not a Topology"):
        draw_topology([1, 2])


# -- pods -----------------------------------------------------------------------------------


def test_pods_svg_carries_every_pod_and_bean(partitioned):
    pods = build_pods(partitioned)
    root = parse_svg(draw_pods(pods))
    clusters = svg_groups(root, "cluster")
    for pod in pods:
        cluster = clusters[f"pod-{pod.key.id}-{pod.key.partition}"]
        assert group_text(cluster) == [f"pod {pod.key} ({pod.kind})"]
    check_bean_nodes(root, [ref for pod in pods for ref in pod.beans])


def test_pods_draw_proxies_and_links(partitioned):
    pods = build_pods(partitioned)
    graph = dot_graph(draw_pods(pods))
    proxies = [(pod, proxy) for pod in pods for proxy in pod.proxies]
    assert proxies
    for pod, proxy in proxies:
        node = f"x{pod.key}/{proxy.slot}"
        assert graph.has_node(node)
        head = pod.beans[-1]
        assert graph.has_edge(node, f"b{head.id}.{head.partition}")
        tails = sorted(tail for tail, _ in graph.in_edges(node))
        by_key = {p.key: p for p in pods}
        expected = sorted(f"b{by_key[t].beans[0].id}.{by_key[t].beans[0].partition}" for t in proxy.targets)
        assert tails == expected
        label = graph.get_node(node).attr["label"]
        assert ("merge 8" in label) == (len(proxy.targets) == 8)
        assert ("split" in label) == (proxy.partition is not None)


def test_pods_clusters_coloured_by_partition(partitioned):
    pods = build_pods(partitioned)
    graph = dot_graph(draw_pods(pods))
    for pod in pods:
        cluster = graph.get_subgraph(f"cluster_pod_{pod.key.id}_{pod.key.partition}")
        fill = cluster.graph_attr["fillcolor"]
        if pod.sequenced:
            assert fill == PARTITION_COLOURS[pod.key.partition].fill
        else:
            assert fill not in {colour.fill for colour in PARTITION_COLOURS}


def test_pods_subset_draws_missing_pods_as_placeholders(partitioned):
    pods = build_pods(partitioned)
    outputs = [pod for pod in pods if pod.kind == "output"]
    root = parse_svg(draw_pods(outputs))
    missing = [group for key, group in svg_groups(root, "node").items() if key.startswith("missing-")]
    read = {target for pod in outputs for proxy in pod.proxies for target in proxy.targets}
    assert len(missing) == len(read)


def test_draw_pods_rejects_other_items(topology):
    with pytest.raises(InvalidParameterError, match="not a PodRef"):
        draw_pods([topology])


# -- distribution plan --------------------------------------------------------------------


def make_plan(pods, addresses=("tcp://127.0.0.1:40001", "tcp://127.0.0.1:40002", "tcp://127.0.0.1:40003")):
    """Deal the pods round-robin to the addresses."""
    return {address: pods[index::len(addresses)] for index, address in enumerate(addresses)}


def test_plan_svg_carries_facilitators_bushes_and_pods(partitioned):
    pods = build_pods(partitioned)
    plan = make_plan(pods)
    root = parse_svg(draw_plan(plan))
    clusters = svg_groups(root, "cluster")
    for index, (address, planned) in enumerate(plan.items()):
        assert group_text(clusters[f"facilitator-{index}"]) == [f"facilitator {address}"]
        assert group_text(clusters[f"bush-{index}"]) == [f"bush: {len(planned)} pod(s)"]
    for pod in pods:
        assert group_text(clusters[f"pod-{pod.key.id}-{pod.key.partition}"]) == [f"pod {pod.key} ({pod.kind})"]
    check_bean_nodes(root, [ref for pod in pods for ref in pod.beans])


def test_plan_highlights_links_between_facilitators(partitioned):
    pods = build_pods(partitioned)
    plan = make_plan(pods)
    where = {pod.key: address for address, planned in plan.items() for pod in planned}
    expected_cross = expected_local = 0
    for pod in pods:
        for proxy in pod.proxies:
            for target in proxy.targets:
                if where[target] != where[pod.key]:
                    expected_cross += 1
                else:
                    expected_local += 1
    graph = dot_graph(draw_plan(plan))
    proxy_links = [edge for edge in graph.edges() if edge[1].startswith("x") and edge[0].startswith("b")]
    red = [edge for edge in proxy_links if edge.attr.get("color") == CROSS_LINK_COLOUR]
    assert len(red) == expected_cross > 0
    assert len(proxy_links) - len(red) == expected_local > 0
    assert all(edge.attr["style"] == "bold" and float(edge.attr["penwidth"]) >= 2 for edge in red)
    assert f"{expected_cross} link(s) between facilitators" in draw_plan(plan).summary


def test_plan_on_one_facilitator_has_no_red_links(partitioned):
    pods = build_pods(partitioned)
    graph = dot_graph(draw_plan({"tcp://127.0.0.1:40001": pods}))
    assert not [edge for edge in graph.edges() if edge.attr.get("color") == CROSS_LINK_COLOUR]


def test_plan_shows_facilitator_without_pods(topology):
    pods = build_pods(topology)
    root = parse_svg(draw_plan({"tcp://a:1": pods, "tcp://b:2": []}))
    clusters = svg_groups(root, "cluster")
    assert group_text(clusters["facilitator-1"]) == ["facilitator tcp://b:2"]
    assert group_text(svg_groups(root, "node")["empty-1"]) == ["no pods"]


def test_plan_rejects_pod_planned_twice(topology):
    pods = build_pods(topology)
    with pytest.raises(InvalidParameterError, match="planned on both"):
        draw_plan({"tcp://a:1": pods, "tcp://b:2": pods[:1]})


def test_plan_rejects_non_mapping(topology):
    with pytest.raises(InvalidParameterError, match="mapping"):
        draw_plan(build_pods(topology))


def test_plan_dot_is_deterministic(tmp_dir):
    plans = [make_plan(build_pods(build_topology(make_outputs(tmp_dir)).partition(4))) for _ in range(2)]
    assert draw_plan(plans[0]).dot == draw_plan(plans[1]).dot


# -- display and fallback -----------------------------------------------------------------


def test_mimebundle_holds_svg_and_summary(topology):
    bundle = draw_topology(topology)._repr_mimebundle_()
    assert set(bundle) == {"image/svg+xml", "text/plain"}
    ET.fromstring(bundle["image/svg+xml"])
    assert bundle["text/plain"] == "topology: 14 beans, 3 output(s)"


def test_mimebundle_include_and_exclude(topology):
    drawing = draw_topology(topology)
    assert set(drawing._repr_mimebundle_(include=["text/plain"])) == {"text/plain"}
    assert set(drawing._repr_mimebundle_(exclude=["text/plain"])) == {"image/svg+xml"}


@pytest.fixture
def no_renderer(monkeypatch):
    monkeypatch.setattr(render, "_load_pygraphviz", lambda: None)
    monkeypatch.setattr(render, "_dot_executable", lambda: None)


def test_fallback_without_renderer_shows_dot_text(topology, no_renderer):
    drawing = draw_topology(topology)
    bundle = drawing._repr_mimebundle_()
    assert set(bundle) == {"text/plain"}
    assert drawing.dot in bundle["text/plain"]
    assert "pip install pygraphviz" in bundle["text/plain"]
    assert render.renderer_name() is None
    with pytest.raises(RendererNotFoundError, match="pygraphviz"):
        drawing.svg()


def test_fallback_for_every_drawing(partitioned, no_renderer):
    pods = build_pods(partitioned)
    for graph in (partitioned, pods, make_plan(pods)):
        bundle = mimebundle(graph)
        assert set(bundle) == {"text/plain"}
        assert bundle["text/plain"].rstrip().endswith("}")


def write_fake_dot(directory, body: str) -> str:
    """Write an executable called ``dot`` that runs ``body`` with the Python running the tests."""
    path = os.path.join(directory, "dot")
    with open(path, "w") as file:
        file.write(f"#!{sys.executable}\n" + textwrap.dedent(body))
    os.chmod(path, os.stat(path).st_mode | stat.S_IXUSR)
    return path


def test_dot_executable_renders_when_pygraphviz_is_missing(topology, tmp_dir, monkeypatch):
    write_fake_dot(tmp_dir, """
        import sys, pygraphviz
        fmt = [arg[2:] for arg in sys.argv[1:] if arg.startswith("-T")][0]
        sys.stdout.buffer.write(pygraphviz.AGraph(string=sys.stdin.read()).draw(format=fmt, prog="dot"))
    """)
    monkeypatch.setattr(render, "_load_pygraphviz", lambda: None)
    monkeypatch.setenv("PATH", tmp_dir + os.pathsep + os.environ.get("PATH", ""))
    assert render.renderer_name() == os.path.join(tmp_dir, "dot")
    root = parse_svg(draw_topology(topology))
    check_bean_nodes(root, topology.beans)


def test_failing_dot_executable_gives_text(topology, tmp_dir, monkeypatch):
    write_fake_dot(tmp_dir, """
        import sys
        sys.stderr.write("Error: something broke\\n")
        sys.exit(3)
    """)
    monkeypatch.setattr(render, "_load_pygraphviz", lambda: None)
    monkeypatch.setenv("PATH", tmp_dir)
    drawing = draw_topology(topology)
    bundle = drawing._repr_mimebundle_()
    assert set(bundle) == {"text/plain"}
    assert "exit code 3" in bundle["text/plain"]
    assert "something broke" in bundle["text/plain"]
    with pytest.raises(RenderError, match="exit code 3"):
        drawing.svg()


def test_invalid_dot_gives_text_not_exception():
    drawing = Drawing("digraph { a -> }", "broken")
    bundle = drawing._repr_mimebundle_()
    assert set(bundle) == {"text/plain"}
    assert bundle["text/plain"].startswith("broken\nRendering failed:")
    assert "syntax error" in bundle["text/plain"]
    with pytest.raises(RenderError):
        drawing.svg()


def test_mimebundle_of_unknown_object_is_text():
    bundle = mimebundle(42)
    assert set(bundle) == {"text/plain"}
    assert "cannot draw a int" in bundle["text/plain"]


def test_draw_dispatches_on_type(partitioned):
    pods = build_pods(partitioned)
    assert draw(partitioned).summary.startswith("topology:")
    assert draw(pods).summary.startswith("pods:")
    assert draw(make_plan(pods)).summary.startswith("distribution plan:")


def test_native_stderr_is_captured(capfd):
    with render._NativeStderrCapture() as capture:
        os.write(2, b"Fontconfig warning: something\n")
    assert capture.text == "Fontconfig warning: something"
    assert capfd.readouterr().err == ""


def test_save_by_extension(topology, tmp_dir):
    drawing = draw_topology(topology)
    for name in ("t.svg", "t.dot", "t.png"):
        drawing.save(os.path.join(tmp_dir, name))
    with open(os.path.join(tmp_dir, "t.dot")) as file:
        assert file.read() == drawing.dot
    ET.parse(os.path.join(tmp_dir, "t.svg"))
    with open(os.path.join(tmp_dir, "t.png"), "rb") as file:
        assert file.read(8) == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(InvalidParameterError, match=r"\.svg, \.png"):
        drawing.save(os.path.join(tmp_dir, "t.pdf"))


def test_svg_has_no_stray_graph_title(partitioned):
    # The root graph's label must not leak into clusters, which set their own.
    root = parse_svg(draw_pods(build_pods(partitioned)))
    texts = [text for group in svg_groups(root, "cluster").values() for text in group_text(group)]
    assert not [text for text in texts if re.match(r"pods: \d+ pods", text)]
