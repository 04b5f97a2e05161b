"""Grouping beans into pods, and the pod references a bush instantiates pods from.

A *stroke* is a chain of bean copies that can run in one pod: inside it every
bean has exactly one input and one consumer. :func:`group_beans` collects the
strokes by walking upstream from every output; :func:`build_pods` turns each
stroke into a :class:`PodRef` that lists the pod's beans, the proxies its
most upstream bean reads through, and the consumers that will read the pod.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from ..beans.base import BeanKind
from ..errors import SampleRateMismatchError
from .display import mimebundle
from .protocol import ConsumerKey, PodKey
from .topology import BeanLink, BeanRef, Topology

__all__ = ["Group", "ProxyRef", "ConsumerRef", "PodRef", "group_beans", "build_pods"]

Node = tuple[int, int]  # (bean id, partition)


@dataclass(frozen=True)
class Group:
    """Bean copies that run in one pod.

    Attributes
    ----------
    id : int
        The bean id for a single bean. A longer chain gets a group id above
        every bean id, shared by the partition copies of the chain.
    partition : int
    members : tuple of int
        Bean ids, downstream first (the last one reads the pod's inputs).
    """

    id: int
    partition: int
    members: tuple[int, ...]

    @property
    def key(self) -> PodKey:
        return PodKey(self.id, self.partition)


@dataclass(frozen=True)
class ProxyRef:
    """Plan for one input slot of a pod's most upstream bean: the pods it reads and the producer's metadata.

    Attributes
    ----------
    slot : int
        Input slot of the bean (0 = first input).
    targets : tuple of PodKey
        The pod read, or the N partition pods a merging proxy reads in
        sequence order.
    partition : int or None
        For a split, the partition whose chunks this proxy receives
        (``seq % partitions == partition``); None to receive every chunk.
    partitions : int
        Partition count of the topology.
    producer : int
        Id of the producer bean the proxy replaces.
    label : str
        Label of that bean.
    element_type : type
        Element type of that bean's stream.
    is_finite : bool
    desired_sample_rate : float or None
    rate_error : str or None
        The message when the producer's inputs disagree on the sample rate.
    """

    slot: int
    targets: tuple[PodKey, ...]
    partition: int | None
    partitions: int
    producer: int
    label: str
    element_type: Any
    is_finite: bool
    desired_sample_rate: float | None
    rate_error: str | None = None

    @property
    def merging(self) -> bool:
        return len(self.targets) > 1


@dataclass(frozen=True)
class ConsumerRef:
    """A reader a pod serves, known when the pod is planted.

    ``partition`` is None when the reader receives every chunk, or the
    partition whose chunks it receives when it is one copy of a split.
    """

    consumer: ConsumerKey
    partition: int | None
    partitions: int


@dataclass(frozen=True)
class PodRef:
    """Everything a bush needs to instantiate one pod.

    Attributes
    ----------
    key : PodKey
    beans : tuple of BeanRef
        The pod's beans, downstream first.
    links : tuple of BeanLink
        Links between the pod's beans.
    proxies : tuple of ProxyRef
        One per input slot of the most upstream bean.
    consumers : tuple of ConsumerRef
        The readers of the pod, one cursor each.
    kind : str
        ``"output"`` (a tick pod driving a writer), ``"splitting"`` (some
        reader gets every N-th chunk only) or ``"streaming"``.
    sequenced : bool
        True for a partition copy: its chunks keep the sequence numbers of the
        chunks it read, instead of being numbered 0, 1, ….
    """

    key: PodKey
    beans: tuple[BeanRef, ...]
    links: tuple[BeanLink, ...]
    proxies: tuple[ProxyRef, ...]
    consumers: tuple[ConsumerRef, ...]
    kind: str
    sequenced: bool

    @property
    def label(self) -> str:
        return " <- ".join(ref.label for ref in self.beans)


# -- grouping ---------------------------------------------------------------------


class _Graph:
    """Per-copy adjacency of a topology."""

    def __init__(self, topology: Topology) -> None:
        self.inputs: dict[Node, list[BeanLink]] = defaultdict(list)
        self.consumers: dict[Node, list[BeanLink]] = defaultdict(list)
        for link in topology.links:
            self.inputs[(link.consumer, link.consumer_partition)].append(link)
            self.consumers[(link.producer, link.producer_partition)].append(link)
        for links in self.inputs.values():
            links.sort(key=lambda link: (link.order, link.producer_partition))

    def input_nodes(self, node: Node) -> list[Node]:
        return [(link.producer, link.producer_partition) for link in self.inputs[node]]


def _strokes(topology: Topology) -> list[tuple[Node, ...]]:
    graph = _Graph(topology)
    strokes: dict[tuple[Node, ...], None] = {}
    seen: set[tuple[Node, tuple[Node, ...]]] = set()
    stack: list[tuple[Node, tuple[Node, ...]]] = [((output, 0), ()) for output in reversed(topology.outputs)]

    def close(stroke: tuple[Node, ...]) -> None:
        if stroke:
            strokes.setdefault(stroke, None)

    while stack:
        node, stroke = stack.pop()
        if (node, stroke) in seen:
            continue
        seen.add((node, stroke))
        inputs = graph.input_nodes(node)
        consumer_count = len(graph.consumers[node])
        upstream: list[tuple[Node, tuple[Node, ...]]] = []
        if len(inputs) > 1:
            # A bean with several inputs ends its chain; with several consumers it is alone.
            if consumer_count > 1:
                close(stroke)
                close((node,))
            else:
                close(stroke + (node,))
            upstream = [(source, ()) for source in inputs]
        elif consumer_count > 1:
            # A shared bean starts a new chain.
            close(stroke)
            if inputs:
                upstream = [(inputs[0], (node,))]
            else:
                close((node,))
        elif inputs:
            upstream = [(inputs[0], stroke + (node,))]
        else:
            close(stroke + (node,))
        stack.extend(reversed(upstream))
    return list(strokes)


def group_beans(topology: Topology) -> list[Group]:
    """Return the pods' groups of a (partitioned) topology, in the order the walk finds them.

    Every bean copy is in exactly one group. Chains of more than one bean
    get a group id above the largest bean id, allocated in walk order and
    shared by the partition copies of the same chain.
    """
    next_id = max(topology.ids(), default=0) + 1
    group_ids: dict[frozenset[int], int] = {}
    groups = []
    for stroke in _strokes(topology):
        members = tuple(bean_id for bean_id, _ in stroke)
        if len(members) == 1:
            group_id = members[0]
        else:
            key = frozenset(members)
            if key not in group_ids:
                group_ids[key] = next_id
                next_id += 1
            group_id = group_ids[key]
        groups.append(Group(group_id, stroke[0][1], members))
    return groups


# -- pod references -----------------------------------------------------------------


def _producer_metadata(topology: Topology, producer: int) -> dict:
    bean = topology.bean(producer)
    try:
        rate, error = bean.desired_sample_rate, None
    except SampleRateMismatchError as mismatch:
        rate, error = None, str(mismatch)
    return {
        "producer": producer,
        "label": bean.label(),
        "element_type": bean.element_type,
        "is_finite": bool(bean.is_finite),
        "desired_sample_rate": rate,
        "rate_error": error,
    }


def _proxies(topology: Topology, graph: _Graph, head: Node, pod_of: dict[Node, PodKey]) -> tuple[ProxyRef, ...]:
    by_slot: dict[int, list[BeanLink]] = defaultdict(list)
    for link in graph.inputs[head]:
        by_slot[link.order].append(link)
    proxies = []
    for slot in sorted(by_slot):
        links = by_slot[slot]
        targets = tuple(pod_of[(link.producer, link.producer_partition)] for link in links)
        split = len(links) == 1 and topology.is_split(links[0])
        proxies.append(ProxyRef(
            slot=slot,
            targets=targets,
            partition=links[0].consumer_partition if split else None,
            partitions=topology.partitions,
            **_producer_metadata(topology, links[0].producer),
        ))
    return tuple(proxies)


def _consumers(topology: Topology, graph: _Graph, tail: Node, pod_of: dict[Node, PodKey]) -> tuple[ConsumerRef, ...]:
    consumers = []
    for link in graph.consumers[tail]:
        reader = ConsumerKey(pod_of[(link.consumer, link.consumer_partition)], link.order)
        partition = link.consumer_partition if topology.is_split(link) else None
        consumers.append(ConsumerRef(reader, partition, topology.partitions))
    return tuple(consumers)


def _pod_kind(tail: BeanRef, consumers: tuple[ConsumerRef, ...]) -> str:
    if tail.kind is BeanKind.OUTPUT:
        return "output"
    if any(consumer.partition is not None for consumer in consumers):
        return "splitting"
    return "streaming"


class PodList(list):
    """The pods of a job, in build order; shown as a drawing in Jupyter."""

    def _repr_mimebundle_(self, include=None, exclude=None) -> dict:
        return mimebundle(self, include, exclude)


def build_pods(topology: Topology, group: bool = True) -> PodList:
    """Return one :class:`PodRef` per group of a (partitioned) topology.

    Parameters
    ----------
    topology : Topology
        Usually the result of :meth:`Topology.partition`.
    group : bool, default True
        Run chains of beans in one pod; False gives one pod per bean copy.
    """
    if group:
        groups = group_beans(topology)
    else:
        groups = [Group(ref.id, ref.partition, (ref.id,)) for ref in topology.beans]
    pod_of: dict[Node, PodKey] = {}
    for item in groups:
        for member in item.members:
            pod_of[(member, item.partition)] = item.key
    graph = _Graph(topology)
    pods = []
    for item in groups:
        nodes = [(member, item.partition) for member in item.members]
        refs = tuple(topology.ref(*node) for node in nodes)
        members = set(nodes)
        internal = tuple(
            link for node in nodes for link in graph.inputs[node]
            if (link.producer, link.producer_partition) in members
        )
        consumers = _consumers(topology, graph, nodes[0], pod_of)
        pods.append(PodRef(
            key=item.key,
            beans=refs,
            links=internal,
            proxies=_proxies(topology, graph, nodes[-1], pod_of),
            consumers=consumers,
            kind=_pod_kind(refs[0], consumers),
            sequenced=topology.partitions > 1 and refs[0].partitionable,
        ))
    return PodList(pods)
