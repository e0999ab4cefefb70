"""The fault campaign's pure parts for scenarios 3, 4, 8 and 10: the goal verdicts
(bench.faults_report), what status said in short (bench.faults_control) and the scale
measures (bench.faults_scale)."""

from __future__ import annotations

import pytest

from bench import faults_report as report
from bench.faults_control import status_summary
from bench.faults_scale import (
    GROUPS,
    _parse_ts,
    groups_of,
    memory_verdict,
    slope,
    soak_summary,
    thirds,
)


def test_the_leader_elsewhere_must_cost_no_request_the_holder_only_its_rfc_bound() -> None:
    elsewhere = {"case": "leader elsewhere", "failed": 0, "gap": 0.05}
    holder = {"case": "leader = holder", "failed": 63, "gap": 0.64}
    assert report.keeps_serving(elsewhere, 0.766)
    assert not report.keeps_serving({**elsewhere, "failed": 1}, 0.766)
    assert report.keeps_serving(holder, 0.766)
    assert not report.keeps_serving({**holder, "gap": 0.9}, 0.766)


def test_failures_before_a_mark_are_counted_from_the_runs_send_times() -> None:
    run = {"failed_at": [1.0, 19.9, 20.1, 20.2], "marks": {"holder_killed": 20.0}}
    assert report.before_mark(run, "holder_killed") == 2
    assert report.before_mark(run, "absent") == 4


def test_status_says_why_only_when_it_failed_and_named_the_cause() -> None:
    no_leader = {"rc": 3, "error": "swarmvip: error: the swarm has no leader (quorum lost?)"}
    timeout = {"rc": 3, "error": "cannot reach the Docker engine: Read timed out."}
    assert report.says_why(no_leader, "leader", "quorum")
    assert not report.says_why(timeout, "leader", "quorum")
    assert not report.says_why({"rc": 0, "holders": ["node3"]}, "leader")


def test_a_drained_member_is_the_only_alarm_scenario_8_forgives() -> None:
    drained = {"final": {"status_alarms": ["member-drained"]}, "drained": ["node2"]}
    assert report.quiet_alarms(drained) == []
    assert report.quiet_alarms({**drained, "drained": []}) == ["member-drained"]
    starting = {"final": {"status_alarms": ["task-starting"]}, "drained": ["node2"]}
    assert report.quiet_alarms(starting) == ["task-starting"]
    stale = {"final": {"status_alarms": ["controller", "member-drained"]}, "drained": ["node2"]}
    assert report.quiet_alarms(stale) == ["controller"]


def test_status_without_quorum_is_honest_when_it_names_no_leader_or_flags_the_dead() -> None:
    run = {"holder_killed": "node3", "killed": ["node1", "node2"]}
    no_leader = {"rc": 3, "error": "the swarm has no leader (its swarm API did not answer)"}
    assert report.honest_without_quorum({**run, "status_quorumless": no_leader})
    flagged = {"rc": 0, "holders": ["node3"],
               "alarms": ["report-unreadable:node1", "stale-report:node2"]}  # fmt: skip
    assert report.honest_without_quorum({**run, "status_quorumless": flagged})
    silent = {**flagged, "alarms": ["report-unreadable:node1"]}  # node2 shown as if alive
    assert not report.honest_without_quorum({**run, "status_quorumless": silent})
    wrong = {**flagged, "holders": ["node4"]}
    assert not report.honest_without_quorum({**run, "status_quorumless": wrong})
    # node1, the manager outside the group, has no reports to flag
    outside = {"holder_killed": "node4", "killed": ["node1", "node3"]}
    said = {"rc": 0, "holders": ["node4"], "alarms": ["report-unreadable:node3"]}
    assert report.honest_without_quorum({**outside, "status_quorumless": said})


def test_a_takeover_is_timed_from_the_death_when_it_is_known() -> None:
    assert report.takeover({"takeover_after": 0.84, "takeover_after_death": 0.52}) == 0.52
    assert report.takeover({"takeover_after": 0.84}) == 0.84


def test_every_needs_a_run_and_skips_none_of_them() -> None:
    assert not report.every([], lambda r: True)
    assert not report.every([{"error": "boom"}], lambda r: True)
    assert report.every([{"a": 1}, {"error": "x"}], lambda r: r["a"] == 1)


def test_status_summary_keeps_holders_alarms_by_node_and_the_error() -> None:
    doc = {
        "vips": [{"holders": ["node4"]}],
        "alarms": [{"kind": "no-report", "subject": "faults/node2"}],
        "controller": {"healthy": True},
    }
    assert status_summary(1, doc, "") == {
        "rc": 1,
        "holders": ["node4"],
        "alarms": ["no-report:node2"],
        "controller_healthy": True,
    }
    assert status_summary(3, None, "no leader") == {"rc": 3, "error": "no leader"}


def test_twenty_nodes_make_five_groups_of_eight_each_node_in_two() -> None:
    members = {g: [i for i in range(20) if g in groups_of(i)] for g in range(1, GROUPS + 1)}
    assert all(len(m) == 8 for m in members.values())
    assert all(len(groups_of(i)) == 2 for i in range(20))


def test_slope_is_per_minute_and_needs_three_points() -> None:
    assert slope([(0, 10.0), (60, 11.0), (120, 12.0)]) == pytest.approx(1.0)
    assert slope([(0, 10.0), (60, 10.0), (120, 10.0)]) == pytest.approx(0.0)
    assert slope([(0, 1.0), (60, 2.0)]) is None


def test_soak_summary_gives_cpu_percent_over_the_span_and_memory_trend() -> None:
    samples = [
        {"t": 0.0, "watch_cpu": 1.0, "watch_rss": 50.0},
        {"t": 60.0, "watch_cpu": 4.0, "watch_rss": 50.0},
        {"t": 120.0, "watch_cpu": 7.0, "watch_rss": 50.0},
    ]
    got = soak_summary(samples, warmup=0)["watch"]
    assert soak_summary(samples)["watch"]["mem_slope_per_min"] is None  # t=0: warm-up
    assert got["cpu_percent"] == pytest.approx(5.0)
    assert got["mem_first"] == got["mem_last"] == got["mem_max"] == 50.0
    assert got["mem_slope_per_min"] == pytest.approx(0.0)


def test_the_memory_slope_of_each_third_shows_a_cache_that_stopped_growing() -> None:
    """1 MiB/min for 40 minutes, then flat: the last third's slope is about 0."""
    rows = [{"t": m * 60.0, "rss": 50.0 + min(m, 40)} for m in range(61)]
    first, second, last = thirds(rows, "rss")
    assert first == pytest.approx(1.0) and second == pytest.approx(1.0)
    assert last == pytest.approx(0.0)


def test_memory_is_flat_only_when_it_stopped_growing_in_the_last_third() -> None:
    filled = [{"t": m * 60.0, "rss": 50.0 + min(m, 40)} for m in range(61)]
    growing = [{"t": m * 60.0, "rss": 50.0 + 0.2 * m} for m in range(31)]
    assert memory_verdict({"mem_slope_thirds": thirds(filled, "rss")}) == "met"
    assert memory_verdict({"mem_slope_thirds": thirds(growing, "rss")}) == "MISSED"
    assert memory_verdict({}) == "MISSED"  # no samples: nothing shown


def test_engine_log_timestamps_keep_microseconds() -> None:
    got = _parse_ts("2026-11-30T17:40:24.123456789Z")
    assert got is not None and got % 1 == pytest.approx(0.123456, abs=1e-5)
    assert _parse_ts("garbage") is None


def test_a_killed_apply_may_fail_as_many_requests_as_the_worst_clean_one() -> None:
    clean = [{"failed": 3, "moves": 0}, {"failed": 1, "moves": 1}]
    killed = {"failed": 3, "moves": 0, "kills": [{"t": 1.0}]}
    assert report.as_clean_apply([*clean, killed])
    assert not report.as_clean_apply([*clean, {**killed, "failed": 4}])
    assert report.as_clean_apply([*clean, {**killed, "failed": 4, "moves": 4}])
    assert not report.as_clean_apply(clean)  # no run with a kill: nothing measured
