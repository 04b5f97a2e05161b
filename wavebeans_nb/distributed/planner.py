"""Distribution planners: which pods of a job go to which Facilitator.

A planner is any object with a ``distribute(pods, facilitators)`` method.
It receives the job's pods in build order and the Facilitators as
:class:`FacilitatorInfo` values, and returns a mapping of Facilitator address
to the pods planned there. :func:`check_plan` validates what a planner
returns: every pod exactly once, only known addresses.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Mapping, Protocol, Sequence

from ..errors import InvalidParameterError
from ..execution.podref import PodRef
from ..execution.protocol import PodKey

__all__ = [
    "FacilitatorInfo", "DistributionPlanner", "EvenDistributionPlanner", "PartitionAffinityPlanner",
    "check_plan",
]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class FacilitatorInfo:
    """A worker that runs pods.

    Attributes
    ----------
    address : str
        The worker's Dask address, for example ``tcp://127.0.0.1:40123``.
    threads : int
        The worker's thread count (``nthreads``).
    name : str
        The worker's name in the cluster, for display.
    """

    address: str
    threads: int = 1
    name: str = ""


class DistributionPlanner(Protocol):
    """Interface of planners: spread ``pods`` over ``facilitators``."""

    def distribute(self, pods: Sequence[PodRef],
                   facilitators: Sequence[FacilitatorInfo]) -> Mapping[str, list[PodRef]]:
        ...


def _check_facilitators(facilitators: Sequence[FacilitatorInfo]) -> None:
    if not facilitators:
        raise InvalidParameterError("no facilitators to plan on; start or connect to a cluster with workers")


class EvenDistributionPlanner:
    """Hand out the pods as contiguous slices of the pod list, as evenly as possible.

    With P pods and F Facilitators, the first ``P mod F`` Facilitators get
    ``P div F + 1`` pods and the others ``P div F``. Every Facilitator
    appears in the plan, possibly with no pods. The plan ignores threads and
    links, so neighbouring pods often land on different workers.
    """

    def distribute(self, pods: Sequence[PodRef],
                   facilitators: Sequence[FacilitatorInfo]) -> dict[str, list[PodRef]]:
        _check_facilitators(facilitators)
        base, extra = divmod(len(pods), len(facilitators))
        plan: dict[str, list[PodRef]] = {}
        start = 0
        for index, facilitator in enumerate(facilitators):
            count = base + (1 if index < extra else 0)
            plan[facilitator.address] = list(pods[start:start + count])
            start += count
        return plan


class PartitionAffinityPlanner:
    """Keep each partition's chain on one worker, and give workers partitions in proportion to their threads.

    1. Partition copies (pods of partitionable beans) of partition ``p`` all
       go to the worker that partition ``p`` is dealt to. Partitions are dealt
       so that each worker's share is proportional to its thread count.
    2. Every other pod (sources, outputs, merges, shared beans) goes to the
       worker of an already placed neighbour (a pod it reads or a pod that
       reads it), preferring the neighbour with the most links to it.
       A pod with no placed neighbour goes to the worker with the fewest
       pods per thread.

    Data then crosses the network only where a partition's chain meets an
    unpartitioned bean, instead of between every pair of pipeline neighbours.
    """

    def distribute(self, pods: Sequence[PodRef],
                   facilitators: Sequence[FacilitatorInfo]) -> dict[str, list[PodRef]]:
        _check_facilitators(facilitators)
        placed: dict[PodKey, str] = {}
        load = {info.address: 0 for info in facilitators}
        threads = {info.address: max(1, info.threads) for info in facilitators}
        partitions = max((pod.key.partition for pod in pods), default=0) + 1
        owner = self._deal_partitions(partitions, facilitators)
        for pod in pods:
            if pod.sequenced:
                placed[pod.key] = owner[pod.key.partition]
                load[placed[pod.key]] += 1
        neighbours = _neighbours(pods)
        pending = [pod for pod in pods if pod.key not in placed]
        while pending:
            # Place first the pod with the most placed neighbours, so chains grow from placed pods.
            pod = max(pending, key=lambda item: sum(1 for key in neighbours[item.key] if key in placed))
            pending.remove(pod)
            votes: dict[str, int] = {}
            for key in neighbours[pod.key]:
                if key in placed:
                    votes[placed[key]] = votes.get(placed[key], 0) + 1
            if votes:
                address = max(votes, key=lambda item: (votes[item], -load[item] / threads[item]))
            else:
                address = min(load, key=lambda item: load[item] / threads[item])
            placed[pod.key] = address
            load[address] += 1
        plan: dict[str, list[PodRef]] = {info.address: [] for info in facilitators}
        for pod in pods:
            plan[placed[pod.key]].append(pod)
        return plan

    @staticmethod
    def _deal_partitions(partitions: int, facilitators: Sequence[FacilitatorInfo]) -> dict[int, str]:
        # Deal each partition to the worker whose share stays furthest below its thread share.
        total = sum(max(1, info.threads) for info in facilitators)
        given = {info.address: 0 for info in facilitators}
        owner = {}
        for partition in range(partitions):
            info = min(facilitators,
                       key=lambda item: (given[item.address] + 1) / (max(1, item.threads) / total))
            owner[partition] = info.address
            given[info.address] += 1
        return owner


def _neighbours(pods: Sequence[PodRef]) -> dict[PodKey, list[PodKey]]:
    neighbours: dict[PodKey, list[PodKey]] = {pod.key: [] for pod in pods}
    for pod in pods:
        for proxy in pod.proxies:
            for target in proxy.targets:
                neighbours[pod.key].append(target)
                neighbours.setdefault(target, []).append(pod.key)
    return neighbours


def check_plan(plan: object, pods: Sequence[PodRef],
               facilitators: Sequence[FacilitatorInfo]) -> dict[str, list[PodRef]]:
    """Return ``plan`` as a dict after checking it places every pod once, on known Facilitators.

    Raises
    ------
    InvalidParameterError
        Naming the unknown address, or the pod that is missing or planned twice.
    """
    if not isinstance(plan, Mapping):
        raise InvalidParameterError(
            f"the planner returned {type(plan).__name__}; distribute() must return a mapping of address to pods"
        )
    known = {info.address for info in facilitators}
    wanted = {pod.key for pod in pods}
    seen: dict[PodKey, str] = {}
    result: dict[str, list[PodRef]] = {}
    for address, planned in plan.items():
        if address not in known:
            raise InvalidParameterError(
                f"the plan names {address!r}, which is not one of the facilitators {sorted(known)}"
            )
        result[address] = list(planned)
        for pod in result[address]:
            if pod.key not in wanted:
                raise InvalidParameterError(f"the plan contains pod {pod.key}, which is not a pod of this job")
            if pod.key in seen:
                raise InvalidParameterError(f"pod {pod.key} is planned on both {seen[pod.key]} and {address}")
            seen[pod.key] = address
    missing = sorted(str(key) for key in wanted - set(seen))
    if missing:
        raise InvalidParameterError(f"the plan leaves out pods {missing}; plan every pod on one facilitator")
    return result
