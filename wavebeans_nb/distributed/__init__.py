"""Distributed execution on Dask: Facilitator worker plugin, remote bushes, overseer and planners.

Every Dask worker with the :class:`Facilitator` plugin runs WaveBeans pods.
:class:`DistributedOverseer` plants a job's pods on those workers, and pods
on different workers read each other over Dask's comms.
"""

from .cluster import connect, start_local_cluster
from .errors import FacilitatorLostError, FacilitatorNotFoundError, JobNotFoundError
from .facilitator import PLUGIN_NAME, Facilitator
from .overseer import DistributedOverseer
from .planner import (
    DistributionPlanner, EvenDistributionPlanner, FacilitatorInfo, PartitionAffinityPlanner, check_plan,
)
from .remote_bush import RemoteBush

__all__ = [
    "DistributedOverseer", "Facilitator", "PLUGIN_NAME", "RemoteBush", "DistributionPlanner",
    "EvenDistributionPlanner", "PartitionAffinityPlanner", "FacilitatorInfo", "check_plan",
    "connect", "start_local_cluster", "JobNotFoundError", "FacilitatorLostError", "FacilitatorNotFoundError",
]
