"""The status fold: holders from reports, expected holder, alarms, history with gaps."""

from __future__ import annotations

import dataclasses
import ipaddress

from swarmvip.model import InstancePlan, NodePlan, NotifyHooks, Preemption, Timers
from swarmvip.status.drainplan import preview_drain
from swarmvip.status.fold import fold
from swarmvip.status.model import DeployedNode, Observation
from swarmvip.wire.report import InstanceReport, Report

from .builders import THREE

PRIOS = {"node1": 250, "node2": 240, "node3": 230}


def deployed(
    preemption: Preemption = Preemption.PREFERRED, vrid: int = 51, stack: str = "s"
) -> tuple[DeployedNode, ...]:
    out = []
    for n in THREE:
        inst = InstancePlan(
            "web",
            vrid,
            PRIOS[n.hostname],
            preemption,
            0.0,
            Timers(),
            n.addr,
            (),
            (ipaddress.ip_interface("10.213.0.100/24"),),
            (),
            NotifyHooks(),
            None,
        )
        out.append(
            DeployedNode(
                stack,
                f"{stack}_vip-{n.hostname}",
                NodePlan(n.id, n.hostname, None, n.addr, (inst,)),
                "running",
            )
        )
    return tuple(out)


def report(
    host: str, ts: float, holds: bool, state: str | None = None, seq: int = 1, stack: str = "s"
) -> Report:
    vrrp = state or ("MASTER" if holds else "BACKUP")
    inst = InstanceReport(
        "web",
        51,
        PRIOS[host],
        vrrp,
        ("10.213.0.100/24",),
        ("10.213.0.100/24",) if holds else (),
        holds,
    )
    return Report(
        "state", ts, seq, stack, host, f"id-{host}", "eth0", "running", (inst,), interval=2.0
    )


def steady(ts: float, until: float | None = None) -> list[Report]:
    """node1 holds; every node sends a heartbeat every 2 s from ts to until."""
    out = []
    for i, t in enumerate(range(int(ts), int(until or ts) + 1, 2)):
        out += [
            report("node1", t, True, seq=i + 1),
            report("node2", t, False, seq=i + 1),
            report("node3", t, False, seq=i + 1),
        ]
    return out


def test_holder_comes_from_reports_and_matches_expected() -> None:
    snap = fold(Observation(now=101, nodes=THREE, deployed=deployed(), reports=tuple(steady(100))))
    vip = snap.vips[0]
    assert vip.holders == ("node1",) and vip.expected_holder == "node1"
    assert snap.alarms == ()
    assert snap.nodes[0].holds == ("s/web",) and snap.nodes[0].report_age == 1.0


def test_two_holders_raise_split_brain() -> None:
    reports = (*steady(100), report("node2", 100.5, True, seq=2))
    snap = fold(Observation(now=101, nodes=THREE, deployed=deployed(), reports=reports))
    assert [a.kind for a in snap.alarms] == ["split-brain"]


def test_stale_holder_is_not_believed() -> None:
    snap = fold(Observation(now=120, nodes=THREE, deployed=deployed(), reports=tuple(steady(100))))
    assert snap.vips[0].holders == ()
    kinds = sorted({a.kind for a in snap.alarms})
    assert kinds == ["no-holder", "stale-report"]


def test_unexpected_holder_under_preferred_only() -> None:
    reports = (report("node1", 100, False), report("node2", 100, True), report("node3", 100, False))
    snap = fold(Observation(now=101, nodes=THREE, deployed=deployed(), reports=reports))
    assert [a.kind for a in snap.alarms] == ["unexpected-holder"]
    sticky = fold(
        Observation(now=101, nodes=THREE, deployed=deployed(Preemption.STICKY), reports=reports)
    )
    assert sticky.alarms == () and sticky.vips[0].expected_holder == "node2"


def test_handover_history_measures_the_gap() -> None:
    reports = (
        *steady(100, 110),
        report("node1", 110.5, False, seq=20),
        report("node2", 110.58, True, seq=20),
    )
    snap = fold(Observation(now=111, nodes=THREE, deployed=deployed(), reports=reports))
    last = snap.vips[0].last_transition
    assert last is not None and last.before == ("node1",) and last.after == ("node2",)
    assert last.gap is not None and abs(last.gap - 0.08) < 1e-6


def test_make_before_break_shows_overlap_and_no_gap() -> None:
    reports = (
        *steady(100, 110),
        report("node2", 110.5, True, seq=20),
        report("node1", 110.55, False, seq=20),
    )
    last = (
        fold(Observation(now=111, nodes=THREE, deployed=deployed(), reports=reports))
        .vips[0]
        .last_transition
    )
    assert last is not None and last.gap == 0.0 and abs(last.overlap - 0.05) < 1e-6


def test_task_not_running_and_vrid_shared_alarms() -> None:
    deps = list(deployed())
    deps[2] = DeployedNode("s", "s_vip-node3", deps[2].plan, "rejected", "No such image")
    other = deployed(stack="t")
    snap = fold(
        Observation(now=101, nodes=THREE, deployed=(*deps, *other), reports=tuple(steady(100)))
    )
    kinds = {a.kind for a in snap.alarms}
    assert {"task-not-running", "vrid-shared"} <= kinds


def test_drain_preview_names_the_successor_and_refuses_the_last_node() -> None:
    snap = fold(Observation(now=101, nodes=THREE, deployed=deployed(), reports=tuple(steady(100))))
    preview = preview_drain(snap, "node1")
    assert preview.refusal is None and preview.handovers[0].successor == "node2"
    assert "node1 → node2" in preview.summary
    lonely = fold(
        Observation(
            now=101, nodes=THREE, deployed=deployed()[:1], reports=(report("node1", 100, True),)
        )
    )
    assert "no healthy backup" in (preview_drain(lonely, "node1").refusal or "")
    assert "no node named" in (preview_drain(snap, "nodeX").refusal or "")


def test_a_failed_agent_helper_is_an_agent_fault_alarm() -> None:
    import dataclasses

    reports = steady(100)
    reports[-1] = dataclasses.replace(reports[-1], faults=("check web.http thread: died",))
    snap = fold(Observation(now=101, nodes=THREE, deployed=deployed(), reports=tuple(reports)))
    faults = [a for a in snap.alarms if a.kind == "agent-fault"]
    assert [(a.subject, a.message) for a in faults] == [("s/node3", "check web.http thread: died")]


def test_the_expected_holder_follows_the_priorities_the_agents_run() -> None:
    """After a runtime move the configs keep their priorities: an agent with the runtime
    channel reports the one it runs, and status believes it (no unexpected-holder alarm)."""
    import dataclasses

    from swarmvip.wire.report import ControlReport

    def moved(r: Report) -> Report:
        inst = r.instances[0]
        prio = {"node1": 1, "node2": 240, "node3": 230}[r.node]  # node1 drained at runtime
        holds = r.node == "node2"
        inst = dataclasses.replace(
            inst,
            priority=prio,
            vrrp_state="MASTER" if holds else "BACKUP",
            vips_present=inst.vips if holds else (),
            holds_vip=holds,
        )
        control = ControlReport(9816, (7, 3))
        return dataclasses.replace(r, instances=(inst,), control=control, spec="h1")

    reports = tuple(moved(r) for r in steady(100))
    snap = fold(Observation(now=101, nodes=THREE, deployed=deployed(), reports=reports))
    [vip] = snap.vips
    assert vip.holders == ("node2",) and vip.expected_holder == "node2"
    assert {m.hostname: m.priority for m in vip.members}["node1"] == 1
    assert [n.runtime[0].priorities for n in snap.nodes if n.hostname == "node1"] == [{"web": 1}]
    # the same lines from an agent without the channel: the configs' priorities count
    old = tuple(dataclasses.replace(r, control=None) for r in reports)
    snap = fold(Observation(now=101, nodes=THREE, deployed=deployed(), reports=old))
    assert snap.vips[0].expected_holder == "node1"


def _took_over(host: str, ts: float, released_by: str | None, at: float, seq: int = 2) -> Report:
    """host reports MASTER holding; released_by: the address whose priority-0 advert it took
    over on at `at` (None: the master went silent)."""
    took = report(host, ts, True, seq=seq)
    inst = dataclasses.replace(
        took.instances[0], after_release=None if released_by is None else (released_by, at)
    )
    return dataclasses.replace(took, instances=(inst,))


def test_a_master_that_released_is_not_believed_when_its_release_never_arrived() -> None:
    """Scenario 5 of the fault campaign: node1's Docker daemon stops, its keepalived sends
    priority 0, node2 takes over; node1's last report (100) still says holding, its release
    report never reaches the manager. node2 names node1's address: one holder, no alarm."""
    reports = (*steady(100), _took_over("node2", 100.5, "10.213.0.11", at=100.4))
    snap = fold(Observation(now=101, nodes=THREE, deployed=deployed(), reports=reports))
    assert snap.vips[0].holders == ("node2",)
    # node1 let go: it is not the holder to expect (preferred) until it reports again
    assert snap.vips[0].expected_holder == "node2" and snap.alarms == ()
    assert snap.vips[0].members[0].vrrp_state == "UNKNOWN"


def test_a_master_that_went_silent_is_still_a_split_brain() -> None:
    """A partition: node2 took over because node1's adverts stopped (no release): both hold."""
    reports = (*steady(100), _took_over("node2", 100.5, None, at=100.4))
    snap = fold(Observation(now=101, nodes=THREE, deployed=deployed(), reports=reports))
    assert snap.vips[0].holders == ("node1", "node2")
    assert [a.kind for a in snap.alarms] == ["split-brain"]


def test_a_master_that_reported_after_the_release_is_believed_again() -> None:
    """node1 released at 100.4 but reported holding again at 100.8 (it came back and took the
    group; node2 has not yielded yet, or cannot hear it): both hold, a split brain."""
    reports = (
        *steady(100),
        _took_over("node2", 100.5, "10.213.0.11", at=100.4),
        report("node1", 100.8, True, seq=3),
    )
    snap = fold(Observation(now=101, nodes=THREE, deployed=deployed(), reports=reports))
    assert snap.vips[0].holders == ("node1", "node2")


def test_a_release_named_by_an_unknown_address_changes_nothing() -> None:
    reports = (*steady(100), _took_over("node2", 100.5, "10.213.0.99", at=100.4))
    snap = fold(Observation(now=101, nodes=THREE, deployed=deployed(), reports=reports))
    assert snap.vips[0].holders == ("node1", "node2")


def test_a_drained_member_is_one_warning_not_a_starting_task_without_reports() -> None:
    """node3 drained by the operator: its task is pending for good and it never reports."""
    deps = list(deployed())
    deps[2] = DeployedNode("s", "s_vip-node3", deps[2].plan, "pending")
    nodes = (*THREE[:2], dataclasses.replace(THREE[2], availability="drain"))
    reports = tuple(r for r in steady(100) if r.node != "node3")
    snap = fold(Observation(now=101, nodes=nodes, deployed=tuple(deps), reports=reports))
    assert [(a.kind, a.subject, a.severity) for a in snap.alarms] == [
        ("member-drained", "s/node3", "warning")
    ]
    # the same pending task on an active node is a task starting, with no report yet
    snap = fold(Observation(now=101, nodes=THREE, deployed=tuple(deps), reports=reports))
    assert {a.kind for a in snap.alarms} == {"task-starting", "no-report"}
