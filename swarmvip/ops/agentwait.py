"""Wait until restarted keepalived tasks run their new spec, as their own agents report it.

A writer that updates a task waits before its next phase. Docker's view of that moment is the
task's state `running`, which with the image's HEALTHCHECK means *healthy*: the first check
runs one interval (5 s) after the start, so every phase used to cost 5-10 s. The agent knows
sooner: each report carries the service's spec hash (`$SWARMVIP_SPEC`, wire.report "spec")
and keepalived's state, so "node X reports spec H with keepalived running" is the moment the
new task takes part in VRRP — usually 1-2 s after the update.

A node that cannot run its task (down, paused, drained: status.rules.cannot_run) is skipped
and said once, as Docker's wait did. At the timeout Docker's own view names the cause (an
image missing on the node, no suitable node, ...) before the wait gives up.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping

from swarmvip.cluster.port import Cluster
from swarmvip.errors import ClusterError, UnavailableError
from swarmvip.status.fold import fold
from swarmvip.status.model import Snapshot, StatusSource
from swarmvip.status.rules import cannot_run

POLL = 0.1
# Which wait a writer uses between phases: "reports" (the agents', the default) or "docker"
# (Swarm's task state, as before: bench/planned_moves.py measures both paths in one run).
WAIT_ENV = "SWARMVIP_PHASE_WAIT"


def waits_on_reports() -> bool:
    """True unless $SWARMVIP_PHASE_WAIT=docker asks for Docker's task state."""
    return os.environ.get(WAIT_ENV, "reports") != "docker"


def waiting_for(
    snap: Snapshot, stack: str, expected: Mapping[str, str]
) -> tuple[list[str], list[str]]:
    """(hostnames still without a report of their new spec, lines for nodes skipped) for
    `expected` {node id: spec hash} of `stack`. Pure."""
    nodes = {n.node_id: n for n in snap.nodes}
    waiting, skipped = [], []
    for node_id, spec in sorted(expected.items()):
        node = nodes.get(node_id)
        why = cannot_run(node, node_id)
        if why is not None:
            name = node.hostname if node is not None and node.hostname else node_id
            skipped.append(f"{name} skipped: {why} (its task gets the new spec when it returns)")
        elif node is not None and (stack, spec) not in node.running_specs:
            waiting.append(node.hostname or node_id)
    return waiting, skipped


def wait_for_agents(
    source: StatusSource,
    cluster: Cluster,
    stack: str,
    expected: Mapping[str, str],
    timeout: float,
    progress: Callable[[str], None],
) -> None:
    """Return once every node in `expected` that can run reports its new spec running."""
    if not expected:
        return
    deadline = time.monotonic() + timeout
    told: set[str] = set()
    while True:
        obs = source.observe()
        if obs.error:
            raise UnavailableError(f"manager unreachable: {obs.error}")
        waiting, skipped = waiting_for(fold(obs), stack, expected)
        for line in skipped:
            if line not in told:
                told.add(line)
                progress(line)
        if not waiting:
            return
        if time.monotonic() > deadline:
            cluster.wait_running(stack, 1.0)  # raises naming Docker's reason, if it has one
            raise ClusterError(
                f"keepalived on {', '.join(waiting)} did not report its new config within"
                f" {timeout:g}s (swarmvip status shows what the agents say)"
            )
        time.sleep(POLL)
