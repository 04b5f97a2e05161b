"""The topology: the beans of a graph and their links, as serialisable data.

:func:`build_topology` walks back from the outputs and numbers every bean in
depth-first order (outputs in the order given, inputs in input order), so the
same graph gets the same ids on every run. A bean object reached along
several paths is one node.

Links point from the **consumer** to the **producer** (the input it reads),
with ``order`` the input slot on the consumer. :meth:`Topology.partition`
copies the partitionable beans N times and rewires the links; see
``docs/execution.md`` for the rules and the JSON format.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any, Iterable

from ..beans.base import Bean, BeanKind
from ..beans.outputs.base import Output
from ..errors import InvalidParameterError
from .display import mimebundle
from .codec import class_entry, decode_value, encode_value, load_class
from .single_threaded import check_outputs

__all__ = ["BeanRef", "BeanLink", "Topology", "build_topology", "TOPOLOGY_FORMAT"]

#: Value of the ``format`` field of a topology JSON document.
TOPOLOGY_FORMAT = "wavebeans-nb-topology"
_TOPOLOGY_VERSION = 1


@dataclass(frozen=True)
class BeanRef:
    """One bean (or one partition copy of it) as data.

    Attributes
    ----------
    id : int
        Topology-unique id; partition copies share it.
    cls : type
        The bean class; ``cls(*inputs, **params)`` rebuilds the bean.
    params : dict
        Constructor keyword parameters.
    partition : int
        Partition of this copy (0 for beans that are not copied).
    kind : BeanKind
        Source, operation or output.
    partitionable : bool
        True when the bean is copied per partition: the bean declares itself
        partitionable and is an operation (sources and outputs never are).
    label : str
        Short description for drawings and error messages.
    """

    id: int
    cls: type
    params: dict = field(compare=False)
    partition: int = 0
    kind: BeanKind = BeanKind.OPERATION
    partitionable: bool = False
    label: str = ""

    def instantiate(self, inputs: Iterable[Any]) -> Bean:
        """Build the bean over ``inputs`` (streams or pod proxies)."""
        return self.cls(*inputs, **self.params)


@dataclass(frozen=True, order=True)
class BeanLink:
    """A link from a consumer bean to one of its inputs (the producer).

    Attributes
    ----------
    consumer, producer : int
        Bean ids.
    consumer_partition, producer_partition : int
        Partitions of the two copies.
    order : int
        Input slot on the consumer: 0 for the first input, 1 for the second.
    """

    consumer: int
    producer: int
    consumer_partition: int = 0
    producer_partition: int = 0
    order: int = 0


class Topology:
    """Beans and links of a graph, optionally partitioned.

    Parameters
    ----------
    beans : list of BeanRef
        Bean copies, ordered by id and then partition.
    links : list of BeanLink
    partitions : int
        Partition count given to :meth:`partition` (1 when not partitioned).
    outputs : list of int
        Ids of the outputs in the order the caller gave them.
    """

    def __init__(self, beans: list[BeanRef], links: list[BeanLink], partitions: int = 1,
                 outputs: list[int] | None = None, bean_objects: dict[int, Bean] | None = None) -> None:
        self.beans: list[BeanRef] = list(beans)
        self.links: list[BeanLink] = list(links)
        self.partitions = partitions
        self.outputs: list[int] = list(outputs or [])
        self._objects = bean_objects
        self._copies: dict[int, int] = {}
        self._refs: dict[tuple[int, int], BeanRef] = {}
        for ref in self.beans:
            self._copies[ref.id] = self._copies.get(ref.id, 0) + 1
            self._refs[(ref.id, ref.partition)] = ref

    # -- lookups ---------------------------------------------------------------

    def ref(self, bean_id: int, partition: int = 0) -> BeanRef:
        """Return the copy of bean ``bean_id`` in ``partition``."""
        try:
            return self._refs[(bean_id, partition)]
        except KeyError:
            raise InvalidParameterError(f"bean {bean_id}.{partition} is not in this topology") from None

    def ids(self) -> list[int]:
        """Return the bean ids in order."""
        return list(self._copies)

    def copies(self, bean_id: int) -> int:
        """Return how many partition copies bean ``bean_id`` has."""
        return self._copies[bean_id]

    def is_split(self, link: BeanLink) -> bool:
        """True when partitioned copies read a bean that has one copy (each reads every N-th chunk)."""
        return self.copies(link.producer) == 1 and self.copies(link.consumer) > 1

    def is_merge(self, link: BeanLink) -> bool:
        """True when a bean with one copy reads every partition of a partitioned bean."""
        return self.copies(link.producer) > 1 and self.copies(link.consumer) == 1

    def bean(self, bean_id: int) -> Bean:
        """Return the (unpartitioned) bean object for ``bean_id``, rebuilding the graph if needed."""
        if self._objects is None:
            self._objects = self._rebuild()
        return self._objects[bean_id]

    def _rebuild(self) -> dict[int, Bean]:
        inputs: dict[int, dict[int, int]] = {bean_id: {} for bean_id in self._copies}
        for link in self.links:
            inputs[link.consumer][link.order] = link.producer
        built: dict[int, Bean] = {}
        pending = list(self._copies)
        while pending:
            waiting = []
            for bean_id in pending:
                slots = inputs[bean_id]
                if all(producer in built for producer in slots.values()):
                    upstream = [built[slots[order]] for order in sorted(slots)]
                    built[bean_id] = self.ref(bean_id, 0).instantiate(upstream)
                else:
                    waiting.append(bean_id)
            if len(waiting) == len(pending):
                raise InvalidParameterError(f"topology has a cycle through beans {waiting}")
            pending = waiting
        return built

    # -- partitioning ------------------------------------------------------------

    def partition(self, partitions: int) -> "Topology":
        """Copy every partitionable bean ``partitions`` times and rewire the links.

        For each link (consumer C, producer P):

        * P has one copy: every copy of C reads P.0. When C has several
          copies this is a *split*: copy p reads the chunks whose sequence
          number is p modulo N.
        * P has N copies and C one: C.0 reads every P.p (a *merge*, by sequence number).
        * both have N copies: C.p reads P.p.

        Raises
        ------
        InvalidParameterError
            If ``partitions`` is not a whole number >= 1, or the topology is
            already partitioned.
        """
        if isinstance(partitions, bool) or not isinstance(partitions, int) or partitions < 1:
            raise InvalidParameterError(f"partition count {partitions!r} is invalid; pass a whole number >= 1")
        if self.partitions != 1:
            raise InvalidParameterError(
                f"topology is already partitioned into {self.partitions}; partition the unpartitioned one"
            )
        copies = {
            ref.id: partitions if ref.partitionable and partitions > 1 else 1
            for ref in self.beans
        }
        beans = [
            dataclasses.replace(ref, partition=p)
            for ref in self.beans
            for p in range(copies[ref.id])
        ]
        links: list[BeanLink] = []
        for link in self.links:
            consumer_copies, producer_copies = copies[link.consumer], copies[link.producer]
            for p in range(max(consumer_copies, producer_copies)):
                links.append(BeanLink(
                    link.consumer, link.producer,
                    consumer_partition=p if consumer_copies > 1 else 0,
                    producer_partition=p if producer_copies > 1 else 0,
                    order=link.order,
                ))
        return Topology(beans, links, partitions, self.outputs, self._objects)

    # -- JSON ------------------------------------------------------------------

    def to_dict(self) -> dict:
        """Return the topology as JSON-ready data (see ``docs/execution.md``)."""
        beans = []
        for ref in self.beans:
            entry = {"id": ref.id, **class_entry(ref.cls), "partition": ref.partition,
                     "kind": ref.kind.value, "partitionable": ref.partitionable, "label": ref.label,
                     "params": {name: encode_value(value) for name, value in ref.params.items()}}
            beans.append(entry)
        links = [
            {"consumer": link.consumer, "producer": link.producer,
             "consumer_partition": link.consumer_partition, "producer_partition": link.producer_partition,
             "order": link.order}
            for link in self.links
        ]
        return {"format": TOPOLOGY_FORMAT, "version": _TOPOLOGY_VERSION, "partitions": self.partitions,
                "outputs": list(self.outputs), "beans": beans, "links": links}

    def _repr_mimebundle_(self, include=None, exclude=None) -> dict:
        return mimebundle(self, include, exclude)

    def to_json(self, indent: int | None = None) -> str:
        """Return the topology as a JSON document."""
        return json.dumps(self.to_dict(), indent=indent)

    @classmethod
    def from_dict(cls, data: dict) -> "Topology":
        """Rebuild a topology from :meth:`to_dict` data.

        Raises
        ------
        InvalidParameterError
            If the document is not a topology of a supported version, or a
            bean class cannot be imported.
        """
        if data.get("format") != TOPOLOGY_FORMAT or data.get("version") != _TOPOLOGY_VERSION:
            raise InvalidParameterError(
                f"document format {data.get('format')!r} version {data.get('version')!r} is not a "
                f"{TOPOLOGY_FORMAT} version {_TOPOLOGY_VERSION} document"
            )
        beans = [
            BeanRef(
                id=entry["id"],
                cls=load_class(entry["type"], entry.get("class_pickle")),
                params={name: decode_value(value) for name, value in entry["params"].items()},
                partition=entry["partition"],
                kind=BeanKind(entry["kind"]),
                partitionable=entry["partitionable"],
                label=entry["label"],
            )
            for entry in data["beans"]
        ]
        links = [
            BeanLink(entry["consumer"], entry["producer"], entry["consumer_partition"],
                     entry["producer_partition"], entry["order"])
            for entry in data["links"]
        ]
        return cls(beans, links, data["partitions"], data["outputs"])

    @classmethod
    def from_json(cls, text: str) -> "Topology":
        """Rebuild a topology from :meth:`to_json` text."""
        return cls.from_dict(json.loads(text))

    def __repr__(self) -> str:
        return (f"<Topology {len(self._copies)} beans, {len(self.beans)} copies, "
                f"{len(self.links)} links, {self.partitions} partitions>")


def _make_ref(bean_id: int, bean: Bean) -> BeanRef:
    kind = bean.kind
    return BeanRef(
        id=bean_id,
        cls=type(bean),
        params=dict(bean.params),
        kind=kind,
        partitionable=bool(bean.partitionable) and kind is BeanKind.OPERATION,
        label=bean.label(),
    )


def build_topology(outputs: "Output | Iterable[Output]") -> Topology:
    """Return the topology of the beans the outputs read, numbered depth-first from the outputs.

    Parameters
    ----------
    outputs : Output or list of Output
        The sinks to evaluate; beans that no output reaches are left out.

    Raises
    ------
    InvalidParameterError
        If ``outputs`` is empty or contains something that is not an output.
    """
    sinks = check_outputs(outputs)
    ids: dict[int, int] = {}  # id(bean object) -> bean id
    objects: dict[int, Bean] = {}
    refs: list[BeanRef] = []
    links: list[BeanLink] = []
    # Each entry is (consumer id, input slot, bean); popping in LIFO order gives the
    # same preorder as a recursive walk, without Python's recursion limit.
    stack: list[tuple[int | None, int, Bean]] = [(None, 0, sink) for sink in reversed(sinks)]
    while stack:
        consumer, order, bean = stack.pop()
        known = ids.get(id(bean))
        if known is None:
            known = ids[id(bean)] = len(ids) + 1
            objects[known] = bean
            refs.append(_make_ref(known, bean))
            stack.extend((known, slot, upstream) for slot, upstream in reversed(list(enumerate(bean.inputs))))
        if consumer is not None:
            links.append(BeanLink(consumer, known, order=order))
    output_ids = [ids[id(sink)] for sink in sinks]
    return Topology(refs, links, 1, output_ids, objects)
