"""A smoke subset of the fault campaign (bench/faults.py, `make faults`) on the e2e lab: the
holder partitioned from the other member and healed, then the holder's dockerd restarted.

node2 and node3 serve the VIP (node1, the manager, is never cut off). What must hold, not how
fast (the campaign measures that): during the partition both sides hold the VIP and `status`
raises `split-brain`; after the heal exactly one node holds it; a daemon restart moves the VIP
away and back (preferred) and leaves no stale VIP, every task running, no alarm.
"""

from __future__ import annotations

import json

import pytest
from swarmvip_lab import Lab, faults
from swarmvip_lab.layout import vip

from .vip import ROOT, docker, holders, planned_order, swarmvip, wait_for

pytestmark = pytest.mark.lab
FILE = str(ROOT / "bench" / "stacks" / "faults.yml")
STACK = "faults"
VIP = vip(85)  # 10.213.0.185: no other e2e test uses it
ENV = {"FAULTS_VIP": f"{VIP}/24", "FAULTS_TIMERS": "default"}
MEMBERS = ("node2", "node3")


def _status(lab: Lab) -> dict:  # type: ignore[type-arg]
    done = swarmvip(lab, "status", "--json", "--stack", STACK, timeout=30)
    return json.loads(done.stdout) if done.stdout.strip() else {}


def _alarms(lab: Lab) -> set[str]:
    return {a["kind"] for a in _status(lab).get("alarms", [])}


def _deploy(lab: Lab) -> list[str]:
    """Deploy on the members; the group's nodes by planned priority (the first holds)."""
    for node in MEMBERS:
        docker(lab, "node", "update", "--label-add", "web=true", node)
    done = swarmvip(lab, "deploy", "--resolve-image", "never", FILE, env=ENV)
    assert done.returncode == 0, done.stdout + done.stderr
    order = planned_order(lab, FILE, env=ENV)["web"]
    wait_for(f"{order[0]} holds", lambda: holders(lab, VIP) == [order[0]], timeout=30)
    return order


def test_a_partition_is_split_brain_then_one_holder_and_a_dockerd_restart_leaves_no_stale_vip(
    lab: Lab,
) -> None:
    top = ""
    try:
        top, *others = _deploy(lab)
        faults.partition(lab, top, others)
        try:
            wait_for("two hold", lambda: len(on := holders(lab, VIP)) == 2 and top in on, 10)
            wait_for("split-brain raised", lambda: "split-brain" in _alarms(lab), 10, 0.5)
        finally:
            faults.heal(lab, top)
        wait_for("one holder", lambda: holders(lab, VIP) == [top], 10)

        faults.stop_dockerd(lab, top)
        wait_for("a backup took over", lambda: holders(lab, VIP) == [others[0]], 20)
        lab.start(top)
        wait_for(f"{top} back", lambda: holders(lab, VIP) == [top], 60)
        wait_for(
            "status clean",
            lambda: (
                (s := _status(lab)).get("vips", [{}])[0].get("holders") == [top]
                and not s.get("alarms")
            ),
            30,
            0.5,
        )
        assert holders(lab, VIP) == [top]  # no stale VIP on any node
    finally:
        if top:
            faults.heal(lab, top)
        swarmvip(lab, "rm", STACK)
        for node in MEMBERS:
            docker(lab, "node", "update", "--label-rm", "web", node, check=False)
