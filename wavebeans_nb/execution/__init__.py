"""Execution: topology, partitioning, pods, bushes, gardener and the overseers.

The single-threaded overseer evaluates outputs in turn. The multi-threaded
overseer builds a :class:`Topology`, partitions it, groups it into pods and
runs them on threads. The distributed layer plants the same pods on Dask
workers.
"""

from .bush import Bush, LocalBush
from .config import ExecutionConfig
from .context import ComputeSlots, JobContext
from .discovery import PodDiscovery
from .gardener import Gardener
from .multi_threaded import MultiThreadedOverseer
from .podref import ConsumerRef, Group, PodRef, ProxyRef, build_pods, group_beans
from .pods import OutputPod, Pod, SplittingPod, StreamingPod, instantiate_pod
from .protocol import (
    PROTOCOL_VERSION, Chunk, ConsumerKey, ErrorEnvelope, PodCall, PodCallResult, PodFailure, PodKey,
)
from .proxies import MergingPodProxy, PodProxy, StreamingPodProxy
from .result import ExecutionResult
from .single_threaded import Overseer, SingleThreadedOverseer
from .topology import BeanLink, BeanRef, Topology, build_topology

__all__ = [
    "Bush", "LocalBush", "ExecutionConfig", "ComputeSlots", "JobContext", "PodDiscovery", "Gardener",
    "MultiThreadedOverseer", "ConsumerRef", "Group", "PodRef", "ProxyRef", "build_pods", "group_beans",
    "OutputPod", "Pod", "SplittingPod", "StreamingPod", "instantiate_pod",
    "PROTOCOL_VERSION", "Chunk", "ConsumerKey", "ErrorEnvelope", "PodCall", "PodCallResult", "PodFailure",
    "PodKey", "MergingPodProxy", "PodProxy", "StreamingPodProxy", "ExecutionResult", "Overseer",
    "SingleThreadedOverseer", "BeanLink", "BeanRef", "Topology", "build_topology",
]
