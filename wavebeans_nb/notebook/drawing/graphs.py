"""Drawings of a topology, of its pods and of a distribution plan.

The functions only read the graph objects of :mod:`wavebeans_nb.execution`.
Every element is emitted in the order of the given beans, links and pods,
so the same graph always gives the same DOT text.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from typing import Hashable, Iterable, Mapping

from ...beans.base import BeanKind
from ...errors import InvalidParameterError
from ...execution.podref import PodRef, ProxyRef
from ...execution.protocol import PodKey
from ...execution.topology import BeanRef, Topology
from .dot import (
    CROSS_LINK_COLOUR, KIND_STYLES, DotGraph, choose_rankdir, partition_colour, tooltip_text, wrap_label,
)
from .render import Drawing

__all__ = ["draw_topology", "draw_pods", "draw_plan", "draw", "mimebundle"]

logger = logging.getLogger(__name__)

_RANKDIRS = ("LR", "TB", "RL", "BT")
_LINK_COLOUR = "#555555"
_NEUTRAL_POD = {"fillcolor": "#f4f4f4", "color": "#8a8a8a"}


def _check_rankdir(rankdir: str | None) -> None:
    if rankdir is not None and rankdir not in _RANKDIRS:
        raise InvalidParameterError(f"rankdir {rankdir!r} is invalid; use one of {_RANKDIRS} or None to choose")


def _new_graph(name: str, title: str) -> DotGraph:
    graph = DotGraph(name)
    graph.graph_attrs.update(
        label=title, labelloc="t", labeljust="l", fontname="Helvetica", fontsize="11", bgcolor="white",
        nodesep="0.18", ranksep="0.35", newrank="true",
    )
    graph.node_attrs.update(fontname="Helvetica", fontsize="10", height="0.3", margin="0.08,0.03")
    graph.edge_attrs.update(color=_LINK_COLOUR, arrowsize="0.6", fontname="Helvetica", fontsize="8")
    return graph


def _finish(graph: DotGraph, rankdir: str | None, summary: str) -> Drawing:
    graph.graph_attrs["rankdir"] = rankdir or choose_rankdir(graph.nodes, graph.edges)
    return Drawing(graph.source, summary)


# -- beans ----------------------------------------------------------------------------


def _bean_node(bean_id: int, partition: int) -> str:
    return f"b{bean_id}.{partition}"


def _bean_attrs(ref: BeanRef, show_partition: bool, partition_fill: bool) -> dict[str, object]:
    """Return the node attributes of one bean copy: kind style, wrapped label, id line."""
    text = ref.label or ref.cls.__name__
    number = f"#{ref.id} p{ref.partition}" if show_partition else f"#{ref.id}"
    attrs: dict[str, object] = dict(KIND_STYLES[ref.kind])
    attrs.update(label="\n".join([*wrap_label(text), number]), tooltip=tooltip_text(text),
                 id=f"bean-{ref.id}-{ref.partition}")
    if partition_fill:
        colour = partition_colour(ref.partition)
        # Nodes of one group are kept in a straight line, so each partition reads as a lane.
        attrs.update(fillcolor=colour.fill, color=colour.line, penwidth="1.5", group=f"p{ref.partition}")
    return attrs


def _input_slots(links: Iterable) -> dict[int, set[int]]:
    slots: dict[int, set[int]] = defaultdict(set)
    for link in links:
        slots[link.consumer].add(link.order)
    return slots


def _summary_of_topology(topology: Topology) -> str:
    count = len(topology.ids())
    text = f"topology: {count} bean{'s' if count != 1 else ''}, {len(topology.outputs)} output(s)"
    if topology.partitions > 1:
        text += f", {len(topology.beans)} copies in {topology.partitions} partitions"
    return text


def draw_topology(topology: Topology, rankdir: str | None = None) -> Drawing:
    """Draw the beans of a topology and their links.

    Sources are green arrow-shaped boxes, operations rounded boxes, outputs orange
    cylinders. Partition copies are filled with their partition's colour, and
    so are the links into and out of them. Links run in the direction data
    flows. Where a bean has several inputs, the number at the arrow head is
    the input slot (0 for the first input). A dashed link is a split: each
    copy reads every N-th chunk of the producer.

    Parameters
    ----------
    topology : Topology
        As built by :func:`~wavebeans_nb.execution.build_topology`, partitioned or not.
    rankdir : {"LR", "TB", "RL", "BT"}, optional
        Direction of the layout; by default the one that fits a notebook better.

    Returns
    -------
    Drawing

    Raises
    ------
    InvalidParameterError
        If ``topology`` is not a Topology or ``rankdir`` is invalid.
    """
    if not isinstance(topology, Topology):
        raise InvalidParameterError(f"{type(topology).__name__} is not a Topology; pass build_topology(outputs)")
    _check_rankdir(rankdir)
    summary = _summary_of_topology(topology)
    graph = _new_graph("topology", summary)
    partitioned = topology.partitions > 1
    for ref in topology.beans:
        copied = topology.copies(ref.id) > 1
        graph.node(_bean_node(ref.id, ref.partition), **_bean_attrs(ref, partitioned and copied, copied))
    slots = _input_slots(topology.links)
    labelled: set[tuple[int, int, int]] = set()
    for link in topology.links:
        attrs: dict[str, object] = {}
        slot = (link.consumer, link.consumer_partition, link.order)
        # A merge brings N links into one slot, and one number at their common head is enough.
        if len(slots[link.consumer]) > 1 and slot not in labelled:
            labelled.add(slot)
            attrs.update(headlabel=str(link.order), labelfontsize="9", labeldistance="1.8", labelangle="-40")
        if topology.is_split(link):
            attrs["style"] = "dashed"
        if topology.copies(link.consumer) > 1:
            attrs["color"] = partition_colour(link.consumer_partition).line
        elif topology.copies(link.producer) > 1:
            attrs["color"] = partition_colour(link.producer_partition).line
        graph.edge(_bean_node(link.producer, link.producer_partition),
                   _bean_node(link.consumer, link.consumer_partition), **attrs)
    return _finish(graph, rankdir, summary)


# -- pods -------------------------------------------------------------------------------


def _check_pods(pods: Iterable[PodRef], description: str) -> list[PodRef]:
    try:
        items = list(pods)
    except TypeError:
        raise InvalidParameterError(
            f"{description} {pods!r} is not a list of PodRef; pass build_pods(topology)"
        ) from None
    for item in items:
        if not isinstance(item, PodRef):
            raise InvalidParameterError(
                f"{description} contains a {type(item).__name__}, not a PodRef; pass build_pods(topology)"
            )
    return items


def _proxy_node(pod: PodRef, proxy: ProxyRef) -> str:
    return f"x{pod.key}/{proxy.slot}"


def _proxy_attrs(pod: PodRef, proxy: ProxyRef) -> dict[str, object]:
    lines = [f"in {proxy.slot}" if len(pod.proxies) > 1 else "in"]
    if proxy.merging:
        lines.append(f"merge {len(proxy.targets)}")
    if proxy.partition is not None:
        lines.append(f"split {proxy.partition}/{proxy.partitions}")
    targets = ", ".join(str(key) for key in proxy.targets)
    return {
        "shape": "box", "style": "rounded,filled", "fillcolor": "white", "color": "#777777",
        "fontsize": "7", "height": "0.15", "width": "0.3", "margin": "0.03,0.01",
        "label": "\n".join(lines),
        "tooltip": tooltip_text(f"proxy of input {proxy.slot}: reads pod {targets} ({proxy.label})"),
        "id": f"proxy-{pod.key.id}-{pod.key.partition}-{proxy.slot}",
    }


def _pod_cluster(graph: DotGraph, pod: PodRef) -> None:
    """Add one pod as a cluster holding its beans, its internal links and its proxies."""
    style = dict(_NEUTRAL_POD)
    if pod.sequenced:
        colour = partition_colour(pod.key.partition)
        style = {"fillcolor": colour.fill, "color": colour.line}
    with graph.cluster(f"pod_{pod.key.id}_{pod.key.partition}", label=f"pod {pod.key} ({pod.kind})",
                       style="rounded,filled", penwidth="1.2", fontsize="9", id=f"pod-{pod.key.id}-{pod.key.partition}",
                       **style):
        for ref in pod.beans:
            graph.node(_bean_node(ref.id, ref.partition), **_bean_attrs(ref, pod.sequenced, False))
        for link in pod.links:
            graph.edge(_bean_node(link.producer, link.producer_partition),
                       _bean_node(link.consumer, link.consumer_partition))
        head = pod.beans[-1]
        for proxy in pod.proxies:
            graph.node(_proxy_node(pod, proxy), **_proxy_attrs(pod, proxy))
            graph.edge(_proxy_node(pod, proxy), _bean_node(head.id, head.partition), arrowsize="0.4")


def _pod_links(graph: DotGraph, pods: list[PodRef], location: Mapping[PodKey, int] | None = None) -> None:
    """Link every proxy to the pods it reads, in red and bold where they join two facilitators.

    A pod that is read but not in ``pods`` is drawn as a dashed placeholder.
    """
    by_key = {pod.key: pod for pod in pods}
    missing: set[PodKey] = set()
    for pod in pods:
        for proxy in pod.proxies:
            for target in proxy.targets:
                producer = by_key.get(target)
                if producer is None:
                    tail = f"missing {target}"
                    if target not in missing:
                        missing.add(target)
                        graph.node(tail, label=f"pod {target}\n(not shown)", shape="box", style="dashed",
                                   fontsize="8", id=f"missing-{target.id}-{target.partition}")
                else:
                    tail = _bean_node(producer.beans[0].id, producer.beans[0].partition)
                attrs: dict[str, object] = {}
                if proxy.partition is not None:
                    attrs["style"] = "dashed"
                if producer is not None and producer.sequenced:
                    attrs["color"] = partition_colour(target.partition).line
                elif pod.sequenced:
                    attrs["color"] = partition_colour(pod.key.partition).line
                if location is not None and target in location and location[target] != location[pod.key]:
                    attrs.update(color=CROSS_LINK_COLOUR, penwidth="2.2", style="bold")
                graph.edge(tail, _proxy_node(pod, proxy), **attrs)


def _summary_of_pods(pods: list[PodRef]) -> str:
    outputs = sum(1 for pod in pods if pod.kind == "output")
    partitions = max((proxy.partitions for pod in pods for proxy in pod.proxies), default=1)
    text = f"pods: {len(pods)} pod{'s' if len(pods) != 1 else ''}, {outputs} output pod(s)"
    return text + (f", {partitions} partitions" if partitions > 1 else "")


def draw_pods(pods: Iterable[PodRef], rankdir: str | None = None) -> Drawing:
    """Draw pods as boxed clusters with their beans and proxies, linked to the pods they read.

    A pod's box is filled with its partition's colour when it runs one
    partition copy of a chain, and grey otherwise. Its title gives the pod
    key (bean or group id, then partition) and kind. Each input of the pod is
    a small ``in`` node (its proxy), marked ``merge N`` when it reads the N
    partition pods in turn and ``split p/N`` when it receives every N-th
    chunk only (those links are dashed).

    Parameters
    ----------
    pods : iterable of PodRef
        As built by :func:`~wavebeans_nb.execution.build_pods`.
    rankdir : {"LR", "TB", "RL", "BT"}, optional
        Direction of the layout; by default the one that fits a notebook better.

    Returns
    -------
    Drawing

    Raises
    ------
    InvalidParameterError
        If ``pods`` contains something that is not a PodRef, or ``rankdir`` is invalid.
    """
    items = _check_pods(pods, "pods")
    _check_rankdir(rankdir)
    summary = _summary_of_pods(items)
    graph = _new_graph("pods", summary)
    for pod in items:
        _pod_cluster(graph, pod)
    _pod_links(graph, items)
    return _finish(graph, rankdir, summary)


# -- distribution plan --------------------------------------------------------------


def _check_plan(plan: Mapping[Hashable, Iterable[PodRef]]) -> list[tuple[str, list[PodRef]]]:
    if not isinstance(plan, Mapping):
        raise InvalidParameterError(
            f"plan {type(plan).__name__} is not a mapping of facilitator address to pods"
        )
    facilitators = [(str(address), _check_pods(pods, f"pods of {address}")) for address, pods in plan.items()]
    seen: dict[PodKey, str] = {}
    for address, pods in facilitators:
        for pod in pods:
            if pod.key in seen:
                raise InvalidParameterError(
                    f"pod {pod.key} is planned on both {seen[pod.key]} and {address}; plan each pod once"
                )
            seen[pod.key] = address
    return facilitators


def draw_plan(plan: Mapping[Hashable, Iterable[PodRef]], rankdir: str | None = None) -> Drawing:
    """Draw a distribution plan: each facilitator box contains the job's bush, which contains its pods.

    Pods are drawn as in :func:`draw_pods`. Links between pods on different
    facilitators, which travel over the network, are red and bold.

    Parameters
    ----------
    plan : mapping of str to list of PodRef
        Facilitator (worker) address to the pods planned on it, in display order.
    rankdir : {"LR", "TB", "RL", "BT"}, optional
        Direction of the layout; by default the one that fits a notebook better.

    Returns
    -------
    Drawing

    Raises
    ------
    InvalidParameterError
        If ``plan`` is not such a mapping, plans a pod twice, or ``rankdir`` is invalid.
    """
    facilitators = _check_plan(plan)
    _check_rankdir(rankdir)
    every_pod = [pod for _, pods in facilitators for pod in pods]
    location = {pod.key: index for index, (_, pods) in enumerate(facilitators) for pod in pods}
    crossing = sum(
        1 for pod in every_pod for proxy in pod.proxies for target in proxy.targets
        if target in location and location[target] != location[pod.key]
    )
    summary = (f"distribution plan: {len(every_pod)} pods on {len(facilitators)} facilitator(s), "
               f"{crossing} link(s) between facilitators")
    graph = _new_graph("plan", summary)
    for index, (address, pods) in enumerate(facilitators):
        with graph.cluster(f"facilitator_{index}", label=f"facilitator {address}", style="filled",
                           fillcolor="#fbfbfb", color="#303030", penwidth="1.6", fontsize="10",
                           id=f"facilitator-{index}"):
            with graph.cluster(f"bush_{index}", label=f"bush: {len(pods)} pod(s)", style="dashed,rounded",
                               color="#8a8a8a", fontsize="9", id=f"bush-{index}"):
                if not pods:
                    graph.node(f"empty {index}", label="no pods", shape="plaintext", fontsize="8", id=f"empty-{index}")
                for pod in pods:
                    _pod_cluster(graph, pod)
    _pod_links(graph, every_pod, location)
    return _finish(graph, rankdir, summary)


# -- dispatch for display hooks ---------------------------------------------------------


def draw(graph: object, rankdir: str | None = None) -> Drawing:
    """Draw ``graph`` with the function for its type: Topology, list of PodRef or plan mapping.

    Raises
    ------
    InvalidParameterError
        If ``graph`` is not one of these types.
    """
    if isinstance(graph, Topology):
        return draw_topology(graph, rankdir)
    if isinstance(graph, Mapping):
        return draw_plan(graph, rankdir)
    if isinstance(graph, Iterable) and not isinstance(graph, (str, bytes)):
        return draw_pods(graph, rankdir)
    raise InvalidParameterError(
        f"cannot draw a {type(graph).__name__}; pass a Topology, a list of PodRef or a plan mapping"
    )


def mimebundle(graph: object, include: Iterable[str] | None = None,
               exclude: Iterable[str] | None = None) -> dict[str, str]:
    """Return the Jupyter display data of ``graph``'s drawing, for ``_repr_mimebundle_`` methods.

    Never raises: when the drawing cannot be built, the bundle contains the
    error as ``text/plain``, because IPython shows an exception raised by a
    display method as a failed cell.
    """
    try:
        drawing = draw(graph)
    except Exception as error:  # a display hook must not raise (see the docstring)
        logger.warning("failed to draw a %s: %s", type(graph).__name__, error)
        return {"text/plain": f"<{type(graph).__name__}: drawing failed: {error}>"}
    return drawing._repr_mimebundle_(include, exclude)
