"""A planned change in progress: the write lease's holder is the Observation's writer, and the
alarms that are its own phases (the VIP still on the node it leaves, a task restarting) become
progress lines; every other alarm stays one. Recorded reports, as in test_status.py."""

from __future__ import annotations

import json
from dataclasses import replace

from swarmvip.cluster.lease import LeaseView, Observer
from swarmvip.cluster.status_source import ClusterSource
from swarmvip.present.status_view import table, to_json
from swarmvip.status.fold import fold
from swarmvip.status.model import DeployedNode, Observation, Snapshot
from swarmvip.status.rules import planned
from swarmvip.wire.keys import LEASE_LEADER as LEADER
from swarmvip.wire.keys import LEASE_RENEW as RENEW
from swarmvip.wire.keys import LEASE_TTL as TTL
from swarmvip.wire.report import Report
from tests.contract.fake import FakeCluster

from .builders import THREE
from .test_lease import FakeClock
from .test_status import deployed, report, steady

WRITER = "drain@laptop"


def _moved_to_node2() -> tuple[Report, ...]:
    """node2 took the VIP; node1 (the plan still prefers it) backs up: unexpected holder."""
    return (report("node1", 100, False), report("node2", 100, True), report("node3", 100, False))


def _fold(
    reports: tuple[Report, ...], writer: str | None, deps: tuple[DeployedNode, ...] | None = None
) -> Snapshot:
    return fold(
        Observation(
            now=101,
            nodes=THREE,
            deployed=deployed() if deps is None else deps,
            reports=reports,
            writer=writer,
        )
    )


def _restarting(host: str, state: str = "starting") -> tuple[DeployedNode, ...]:
    return tuple(replace(d, task_state=state) if d.plan.hostname == host else d for d in deployed())


# --- the fold ---------------------------------------------------------------------------------
def test_without_a_writer_an_unexpected_holder_is_an_alarm_as_before() -> None:
    snap = _fold(_moved_to_node2(), None)
    assert [a.kind for a in snap.alarms] == ["unexpected-holder"]
    assert snap.writer is None and snap.progress == ()


def test_while_a_writer_applies_the_move_is_progress_not_an_alarm() -> None:
    snap = _fold(_moved_to_node2(), WRITER)
    assert snap.alarms == ()
    assert snap.writer == WRITER
    assert snap.progress == ("s/web: moving node2 → node1 (drain@laptop applying)",)
    assert snap.vips[0].expected_holder == "node1"  # the plan being applied decides


def test_a_restarting_task_is_progress_while_a_writer_applies() -> None:
    reports = tuple(steady(100))
    before = _fold(reports, None, _restarting("node2"))
    assert [(a.kind, a.subject) for a in before.alarms] == [("task-starting", "s/node2")]
    during = _fold(reports, WRITER, _restarting("node2", "preparing"))
    assert during.alarms == ()
    assert during.progress == (
        "s/node2: keepalived task restarting, preparing (drain@laptop applying)",
    )


def test_a_new_task_without_a_report_yet_is_progress_while_a_writer_applies() -> None:
    reports = (report("node1", 100, True), report("node2", 100, False))
    assert [a.kind for a in _fold(reports, None).alarms] == ["no-report"]
    snap = _fold(reports, WRITER)
    assert snap.alarms == ()
    assert snap.progress == (
        "s/node3: new keepalived task, waiting for its first report (drain@laptop applying)",
    )


def test_a_move_never_hides_a_real_outage() -> None:
    split = (*steady(100), report("node2", 100.5, True, seq=2))
    assert [a.kind for a in _fold(split, WRITER).alarms] == ["split-brain"]
    stale = fold(
        Observation(
            now=120, nodes=THREE, deployed=deployed(), reports=tuple(steady(100)), writer=WRITER
        )
    )
    assert sorted({a.kind for a in stale.alarms}) == ["no-holder", "stale-report"]
    assert stale.progress == ()
    down = _fold(tuple(steady(100)), WRITER, _restarting("node3", "rejected"))
    assert [a.kind for a in down.alarms] == ["task-not-running"]


def test_only_the_planned_kinds_are_progress_and_only_with_a_writer() -> None:
    for kind in ("unexpected-holder", "task-starting", "no-report"):
        assert planned(kind, WRITER) and not planned(kind, None)
    for kind in ("split-brain", "no-holder", "stale-report", "task-not-running", "agent-fault"):
        assert not planned(kind, WRITER)


# --- what status prints -----------------------------------------------------------------------
def test_status_json_and_table_show_the_writer_and_progress() -> None:
    quiet, busy = _fold(_moved_to_node2(), None), _fold(_moved_to_node2(), WRITER)
    before, after = to_json(quiet), to_json(busy)
    assert before["writer"] is None and before["progress"] == []
    assert after["writer"] == WRITER and after["progress"] == list(busy.progress)
    assert after["alarms"] == [] and set(before) == set(after)
    json.dumps(after)
    text = table(busy)
    assert "applying: a planned change by drain@laptop" in text
    assert "PROGRESS s/web: moving node2 → node1 (drain@laptop applying)" in text
    assert "ALARM" not in text
    assert "applying" not in table(quiet) and "ALARM warning: unexpected-holder" in table(quiet)


def test_the_exit_code_rule_sees_no_progress_line() -> None:
    """`status` fails on a critical alarm; progress lines are never alarms."""
    busy = _fold(_moved_to_node2(), WRITER, _restarting("node3"))
    assert busy.progress and not any(a.severity == "critical" for a in busy.alarms)


# --- the lease, as an observer sees it --------------------------------------------------------
def test_lease_view_reads_holder_counter_and_ttl() -> None:
    view = LeaseView.of({LEADER: WRITER, RENEW: "7", TTL: "9"})
    assert (view.holder, view.renew, view.ttl) == (WRITER, 7, 9.0)
    assert LeaseView.of({}) == LeaseView(None, 0, 15.0)
    assert LeaseView.of({LEADER: "x", RENEW: "junk", TTL: "nan"}).ttl == 15.0


def test_observer_counts_a_lease_held_until_it_stayed_unchanged_for_its_ttl() -> None:
    clock = FakeClock()
    seen = Observer(clock)
    labels = {LEADER: WRITER, RENEW: "1", TTL: "15"}
    assert seen.writer(labels) == WRITER  # first sighting: held
    clock.sleep(14.9)
    assert seen.writer(labels) == WRITER
    clock.sleep(0.1)
    assert seen.writer(labels) is None  # unchanged for TTL on our clock: a crashed writer
    assert seen.writer({**labels, RENEW: "2"}) == WRITER  # renewed: alive again
    clock.sleep(10)
    assert seen.writer({**labels, RENEW: "3"}) == WRITER
    assert seen.writer({}) is None  # released


def test_cluster_source_reports_the_lease_holder_as_writer() -> None:
    cluster, clock = FakeCluster(), FakeClock()
    source = ClusterSource(lambda: cluster, clock=clock)
    assert source.observe().writer is None
    cluster.swarm.take(WRITER, ttl=5)
    assert source.observe().writer == WRITER
    clock.sleep(4.9)
    assert source.observe().writer == WRITER
    cluster.swarm.bump()  # a live writer renews: watched afresh from here
    assert source.observe().writer == WRITER
    clock.sleep(4.9)
    assert source.observe().writer == WRITER
    clock.sleep(0.1)
    assert source.observe().writer is None  # not renewed for its TTL: it crashed
    cluster.swarm.labels.clear()  # (another writer took the expired lease and released it)
    with cluster.exclusive("deploy@host", ttl=15, wait=0):
        assert source.observe().writer == "deploy@host"
    assert source.observe().writer is None  # released


def test_a_one_shot_observer_ignores_the_labels_of_a_writer_that_crashed_long_ago() -> None:
    """A first sighting cannot wait TTL: a crashed drain's labels must not hide alarms from a
    one-shot `status` forever, so a wall-clock EXPIRES well past (TTL + a minute) is expired."""
    from swarmvip.wire.keys import LEASE_EXPIRES

    labels = {LEADER: WRITER, RENEW: "1", TTL: "15", LEASE_EXPIRES: "1000.0"}
    assert Observer(FakeClock(), wall=lambda: 1000.0 + 15 + 59).writer(labels) == WRITER
    assert Observer(FakeClock(), wall=lambda: 1000.0 + 15 + 61).writer(labels) is None
    assert Observer(FakeClock(), wall=lambda: 5000.0).writer({**labels, LEASE_EXPIRES: "x"})
