"""Form and watch the lab's swarm through the nodes' engines."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

from swarmvip.errors import SwarmvipError
from swarmvip_lab.engine import Engine, LabError
from swarmvip_lab.layout import Node

READY_WAIT = 90.0


@dataclass(frozen=True, slots=True)
class SwarmNode:
    """One row of `docker node ls` on a manager."""

    hostname: str
    status: str  # Ready / Down / Unknown
    availability: str  # Active / Pause / Drain
    manager: str  # "" for workers, Leader / Reachable / Unreachable for managers


def local_state(engine: Engine) -> str:
    """The engine's swarm state: inactive, active, pending, error, locked (or unreachable)."""
    done = engine.run("info", "--format", "{{.Swarm.LocalNodeState}}", check=False, timeout=15)
    return done.stdout.strip() if done.returncode == 0 else "unreachable"


def init(engine: Engine, node: Node) -> None:
    engine.run("swarm", "init", "--advertise-addr", node.ip, "--listen-addr", f"{node.ip}:2377")


def join(engine: Engine, node: Node, manager: Engine, manager_node: Node, role: str) -> None:
    token = manager.out("swarm", "join-token", "-q", role)
    engine.run(
        "swarm",
        "join",
        "--token",
        token,
        "--advertise-addr",
        node.ip,
        "--listen-addr",
        f"{node.ip}:2377",
        f"{manager_node.ip}:2377",
        timeout=60,
    )


def leave(engine: Engine) -> None:
    engine.run("swarm", "leave", "--force", check=False, timeout=30)


def list_nodes(manager: Engine) -> list[SwarmNode]:
    out = manager.out("node", "ls", "--format", "{{json .}}", timeout=20)
    rows = [json.loads(line) for line in out.splitlines() if line.strip()]
    return [
        SwarmNode(r["Hostname"], r["Status"], r["Availability"], r.get("ManagerStatus", ""))
        for r in rows
    ]


def wait_active(engine: Engine, timeout: float = READY_WAIT) -> None:
    """Wait until a (re)started engine has rejoined its swarm (LocalNodeState `active`)."""
    deadline = time.monotonic() + timeout
    while (state := local_state(engine)) != "active":
        if time.monotonic() > deadline:
            raise LabError(f"engine swarm state still {state!r} after {timeout:g}s")
        time.sleep(0.3)


def ready_hostnames(manager: Engine) -> set[str]:
    return {n.hostname for n in list_nodes(manager) if n.status == "Ready"}


def wait_ready(manager: Engine, hostnames: set[str], timeout: float = READY_WAIT) -> None:
    """Wait until every hostname is Ready in the manager's view."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            missing = hostnames - ready_hostnames(manager)
        except SwarmvipError:
            missing = hostnames
        if not missing:
            return
        if time.monotonic() > deadline:
            raise LabError(f"swarm nodes not Ready after {timeout:g}s: {sorted(missing)}")
        time.sleep(0.3)
