"""Why a backup took over, for real: a master that let go (priority 0) or one that went silent.

Two agents with real keepalived in namespaces. When the holder A's agent stops (SIGTERM, as
Docker stops a task), keepalived on A sends a priority-0 advert and B's report names A's
address in `after_release` (agent.adverts): status believes B over A's last report when A's
release cannot reach the manager. When A's keepalived freezes instead (SIGSTOP: silent, as in a
partition), B takes over after Master_Down_Interval and names nobody: both may hold, a real
split brain.
"""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path

import pytest

from swarmvip.model import NodePlan
from swarmvip.wire.report import Report
from tests.agent import agentlab as lab
from tests.agent.conftest import needs_root

pytestmark = [pytest.mark.netns, needs_root]
A_ADDR, B_ADDR = "10.77.0.1", "10.77.0.2"


def _pair(pair: tuple[str, str], tmp: Path, agents: list[lab.AgentProc]) -> list[lab.AgentProc]:
    a_plan = NodePlan("id-a", "node-a", None, A_ADDR, (lab.instance(A_ADDR, (B_ADDR,), 150),))
    b_plan = NodePlan("id-b", "node-b", None, B_ADDR, (lab.instance(B_ADDR, (A_ADDR,), 100),))
    started = [
        lab.start_agent(ns, tmp / n, p)
        for ns, n, p in zip(pair, "ab", (a_plan, b_plan), strict=True)
    ]
    agents += started
    started[0].wait_for(_holder, timeout=15)
    started[1].wait_for(lambda r: r.instances[0].vrrp_state == "BACKUP", timeout=15)
    return started


def _holder(r: Report) -> bool:
    return r.instances[0].vrrp_state == "MASTER" and r.instances[0].holds_vip


def _keepalived_pids(ns: str) -> list[int]:
    pids = subprocess.run(["ip", "netns", "pids", ns], capture_output=True, text=True).stdout
    return [
        int(p) for p in pids.split() if Path(f"/proc/{p}/comm").read_text().strip() == "keepalived"
    ]


def test_a_master_that_stops_is_named_by_the_backup_that_took_over(
    pair: tuple[str, str], tmp_path: Path, agents: list[lab.AgentProc]
) -> None:
    a, b = _pair(pair, tmp_path, agents)
    seen = len(b.reports)
    assert a.stop() == 0  # keepalived leaves MASTER with a priority-0 advert
    took = b.wait_for(_holder, start=seen, timeout=5)
    assert took.instances[0].after_release is not None, took
    assert took.instances[0].after_release[0] == A_ADDR


def test_a_master_that_goes_silent_is_not_named(
    pair: tuple[str, str], tmp_path: Path, agents: list[lab.AgentProc]
) -> None:
    a, b = _pair(pair, tmp_path, agents)
    frozen = _keepalived_pids(pair[0])
    assert frozen
    seen = len(b.reports)
    try:
        for pid in frozen:
            subprocess.run(["kill", "-STOP", str(pid)], check=True)
        took = b.wait_for(_holder, start=seen, timeout=5)
    finally:
        for pid in frozen:
            subprocess.run(["kill", "-CONT", str(pid)], check=False)
    assert took.instances[0].after_release is None, took
    a.stop(signal.SIGTERM)
