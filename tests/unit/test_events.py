"""Consecutive snapshots diffed into events (status/events.py) and the running tally of
transitions and gaps (status/tally.py): a handover counts once however the polls cut it."""

from __future__ import annotations

from dataclasses import replace

from swarmvip.status.events import RECENT, diff
from swarmvip.status.fold import fold
from swarmvip.status.model import Observation, Snapshot
from swarmvip.status.tally import GAP_BUCKETS, Tally
from swarmvip.wire.keys import VipKey
from swarmvip.wire.report import Report

from .builders import THREE
from .test_status import deployed, report, steady

KEY = VipKey("s", "web")


def snap(now: float, *reports: Report) -> Snapshot:
    return fold(Observation(now=now, nodes=THREE, deployed=deployed(), reports=reports))


BASE = tuple(steady(100, 110))  # node1 holds, every node heartbeats every 2 s


def kinds(events: tuple[object, ...]) -> list[str]:
    return [e.kind for e in events]  # type: ignore[attr-defined]


def test_the_first_snapshot_reports_active_alarms_but_no_old_transition() -> None:
    first = snap(111, *BASE, report("node2", 110.5, True, seq=20))  # split brain now
    events = diff(None, first)
    assert kinds(events) == ["alarm"]
    assert events[0].alarm is not None and events[0].alarm.kind == "split-brain"
    assert events[0].at == first.generated_at
    assert diff(first, first) == ()  # nothing changed, nothing to say


def test_a_handover_seen_in_one_poll_is_one_transition_with_its_gap() -> None:
    before = snap(110.2, *BASE)
    after = snap(
        111, *BASE, report("node1", 110.5, False, seq=20), report("node2", 110.58, True, seq=20)
    )
    events = diff(before, after)
    assert kinds(events) == ["transition", "alarm"]  # node1 is still preferred: unexpected
    assert events[1].alarm is not None and events[1].alarm.kind == "unexpected-holder"
    t = events[0].transition
    assert t is not None and (t.before, t.after) == (("node1",), ("node2",))
    assert t.gap is not None and abs(t.gap - 0.08) < 1e-6 and events[0].completes is None
    assert events[0].subject == "s/web" and events[0].at == t.at
    tally = Tally().add(events).get(KEY)
    assert tally.transitions == 1 and tally.gap_count == 1
    assert tally.cumulative()[GAP_BUCKETS.index(0.05)] == 0
    assert tally.cumulative()[GAP_BUCKETS.index(0.1)] == 1


def test_a_handover_cut_by_a_poll_counts_once_and_its_gap_is_observed_when_complete() -> None:
    start = snap(110.2, *BASE)
    left = (*BASE, report("node1", 110.5, False, seq=20))
    hole = snap(110.55, *left)
    done = snap(111, *left, report("node2", 110.58, True, seq=20))
    first, second = diff(start, hole), diff(hole, done)
    assert kinds(first) == ["transition", "alarm"]  # node1 -> nobody, then no-holder
    assert first[0].transition is not None and first[0].transition.after == ()
    assert kinds(second) == ["transition", "alarm", "cleared"]  # unexpected; no-holder gone
    assert second[0].completes == first[0].transition
    t = second[0].transition
    assert t is not None and (t.before, t.after) == (("node1",), ("node2",))
    tally = Tally().add(first).add(second).get(KEY)
    assert tally.transitions == 1 and tally.gap_count == 1
    assert abs(tally.gap_sum - 0.08) < 1e-6


def test_make_before_break_cut_by_a_poll_observes_one_zero_gap() -> None:
    start = snap(110.2, *BASE)
    both = (*BASE, report("node2", 110.5, True, seq=20))
    overlap = snap(110.6, *both)
    done = snap(111, *both, report("node1", 110.7, False, seq=20))
    first, second = diff(start, overlap), diff(overlap, done)
    assert first[0].transition is not None and first[0].transition.after == ("node1", "node2")
    assert second[0].completes is not None
    t = second[0].transition
    assert t is not None and t.gap == 0.0 and abs(t.overlap - 0.2) < 1e-6
    tally = Tally().add(first).add(second).get(KEY)
    assert (tally.transitions, tally.gap_count, tally.cumulative()[0]) == (1, 1, 1)


def test_an_unknown_gap_is_not_observed() -> None:
    start = snap(110.2, *BASE)  # node1 dies silently; node2 takes over 5 s later
    after = snap(115.5, *steady(100, 110), report("node2", 115, True, seq=20))
    events = diff(start, after)
    t = events[0].transition
    assert t is not None and t.after == ("node2",) and t.gap is None
    tally = Tally().add(events).get(KEY)
    assert tally.transitions == 1 and tally.gap_count == 0


def test_a_backlog_read_late_is_not_news_but_a_recent_transition_is() -> None:
    empty = snap(1000)  # the VIP is deployed, no report read yet
    assert empty.vips[0].history == ()
    late = snap(1001, *steady(100, 110))  # a backlog from long ago
    assert [e for e in diff(empty, late) if e.kind == "transition"] == []
    fresh = snap(1001, *steady(1000 - RECENT + 1, 1000))
    moved = [e for e in diff(empty, fresh) if e.kind == "transition"]
    assert len(moved) == 1 and moved[0].transition is not None
    assert moved[0].transition.after == ("node1",)


def test_an_unreachable_manager_changes_nothing_but_reachability() -> None:
    good = snap(110.2, *BASE)
    away = replace(good, stale=True, error="connection refused")  # what ops/watch carries
    down = diff(good, away, now=112.0)
    assert kinds(down) == ["unreachable"] and down[0].error == "connection refused"
    assert down[0].at == 112.0 and down[0].subject == "manager"
    assert diff(away, away) == ()
    assert kinds(diff(away, snap(113, *BASE))) == ["reachable"]


def test_alarms_raised_and_cleared() -> None:
    ok = snap(110.2, *BASE)
    stale = snap(130, *BASE)  # every report is old now
    raised = diff(ok, stale)
    assert sorted({e.alarm.kind for e in raised if e.alarm}) == ["no-holder", "stale-report"]
    assert set(kinds(raised)) == {"alarm"}
    cleared = diff(stale, ok)
    assert set(kinds(cleared)) == {"cleared"} and len(cleared) == len(raised)


def test_gap_buckets_are_inclusive_upper_bounds() -> None:
    tally = Tally().get(KEY)
    for gap in (0.0, 0.05, 0.051, 31.0):
        tally = tally.observe(gap)
    cumulative = tally.cumulative()
    assert cumulative[GAP_BUCKETS.index(0.0)] == 1
    assert cumulative[GAP_BUCKETS.index(0.05)] == 2
    assert cumulative[GAP_BUCKETS.index(0.1)] == 3
    assert cumulative[-2] == 3 and cumulative[-1] == 4 == tally.gap_count
