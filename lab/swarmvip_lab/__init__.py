"""A local multi-node Docker Swarm lab (docker-in-docker nodes) and the images it needs.

Python API: `Lab` (see `swarmvip_lab.lab`); CLI: `swarmvip lab up|env|status|down|...`.
"""

from __future__ import annotations

from swarmvip_lab.clients import Client
from swarmvip_lab.engine import Engine, LabError
from swarmvip_lab.lab import Lab, NodeStatus
from swarmvip_lab.layout import NETWORK, SUBNET, SUBNET6, Node, vip, vip6

__all__ = [
    "NETWORK",
    "SUBNET",
    "SUBNET6",
    "Client",
    "Engine",
    "Lab",
    "LabError",
    "Node",
    "NodeStatus",
    "vip",
    "vip6",
]
