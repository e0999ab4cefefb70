"""`swarmvip status` right after a raft leader election (issue 12, defect 3).

Measured on a 3-manager lab, the leader's node killed (bench/results/faults-analysis.md, 3):
once the survivors answer again, every keepalived service's log stream ends at once with the
engine's "Error grabbing logs: … node X is not available" and no report, for 5-9 s, until
each node's agent reconnects to the new leader; meanwhile Swarm shows those nodes `unknown`
("Node moved to "unknown" state due to leadership change"). status used to read that as "no
report yet" from every node and, with no holder among them, a critical `no-holder` while a
node served the VIP.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

from swarmvip.cluster.observe import read_reports
from swarmvip.model import Node, Role
from swarmvip.present.status_view import table, to_json
from swarmvip.status.fold import fold
from swarmvip.status.model import Snapshot

from .test_status_truth import FakeAPI, _source, _three_node_api, _top, key

ERROR = (
    "Error grabbing logs: rpc error: code = Unknown desc = warning: incomplete log stream. some"
    " logs could not be retrieved for the following reasons: node {} is not available"
)


def _nodes(state: str, **states: str) -> tuple[Node, ...]:
    return tuple(
        Node(f"id{i}", f"node{i}", Role.MANAGER, "active", states.get(f"node{i}", state), "x")
        for i in (1, 2, 3)
    )


def _unreadable(api: FakeAPI, *hosts: str) -> None:
    """The engine cannot read these nodes' logs: their streams carry only its error."""
    for host in hosts:
        api.lines[f"sid-id{host[-1]}"] = [ERROR.format(f"id{host[-1]}")]


def _status(api: FakeAPI, nodes: tuple[Node, ...]) -> Snapshot:
    return fold(_source(api, nodes).observe())


def _kinds(snap: Snapshot) -> list[tuple[str, str, str]]:
    return sorted((a.kind, a.subject, a.severity) for a in snap.alarms)


def test_the_engine_error_line_is_told_from_reports() -> None:
    from swarmvip.cluster.observe import engine_log_error

    assert engine_log_error(ERROR.format("bgwmlyvz5s62")) == "node bgwmlyvz5s62 is not available"
    assert engine_log_error("Error grabbing logs: something else") == "something else"
    assert engine_log_error('2026-11-30T10:00:00Z {"kind": "heartbeat"}') is None


def test_a_stream_with_only_the_engine_error_is_unreadable_not_empty() -> None:
    api, _ = _three_node_api(skew=0.0, hang=set())
    _unreadable(api, "node2")
    api.lines["sid-id3"].append(ERROR.format("id-old"))  # beside reports: they still count
    ids = [key("sid-id1"), key("sid-id2"), key("sid-id3")]
    received, silent, unreadable = read_reports(api, ids)  # type: ignore[arg-type]
    assert silent == set()
    assert unreadable == {key("sid-id2"): "node id2 is not available"}
    assert {r.report.node for r in received} == {"node1", "node3"}


def test_right_after_an_election_status_says_unknown_not_no_holder() -> None:
    api, _ = _three_node_api(skew=0.0, hang=set())
    _unreadable(api, "node1", "node2", "node3")
    snap = _status(api, _nodes("unknown"))
    assert {a.kind for a in snap.alarms} & {"no-holder", "no-report"} == set()
    assert not [a for a in snap.alarms if a.severity == "critical"]  # exit 0: nothing known bad
    vip = snap.vips[0]
    assert vip.holders == () and vip.unknown == ("node1", "node2", "node3")
    assert _kinds(snap) == [
        ("holder-unknown", "web/web", "warning"),
        ("report-unreadable", "web/node1", "warning"),
        ("report-unreadable", "web/node2", "warning"),
        ("report-unreadable", "web/node3", "warning"),
    ]
    unreadable = next(a for a in snap.alarms if a.kind == "report-unreadable")
    assert "node id1 is not available" in unreadable.message
    assert "raft leader change" in unreadable.message
    assert "cannot be read now" in snap.alarms[0].message
    assert "unknown" in table(snap).splitlines()[1]  # the HOLDER column
    assert to_json(snap)["vips"][0]["unknown"] == ["node1", "node2", "node3"]


def test_a_partial_read_shows_the_readable_holder_and_names_the_others_unknown() -> None:
    api, plan = _three_node_api(skew=0.0, hang=set())
    top = _top(plan)
    others = [n.hostname for n in plan.nodes if n.hostname != top]
    _unreadable(api, *others)
    snap = _status(api, _nodes("unknown", **{top: "ready"}))
    assert snap.vips[0].holders == (top,)
    assert _kinds(snap) == [("report-unreadable", f"web/{h}", "warning") for h in sorted(others)]


def test_the_holder_unreadable_and_the_backups_readable_is_unknown_not_no_holder() -> None:
    api, plan = _three_node_api(skew=0.0, hang=set())
    top = _top(plan)
    _unreadable(api, top)
    snap = _status(api, _nodes("ready", **{top: "unknown"}))
    assert snap.vips[0].holders == () and snap.vips[0].unknown == (top,)
    assert ("holder-unknown", "web/web", "warning") in _kinds(snap)
    assert "no-holder" not in {a.kind for a in snap.alarms}


def test_members_swarm_calls_down_do_not_hide_a_real_outage() -> None:
    """Unreadable nodes that Swarm says are down cannot hold the VIP for anyone: no holder."""
    api, _ = _three_node_api(skew=0.0, hang=set())
    _unreadable(api, "node1", "node2", "node3")
    snap = _status(api, _nodes("down"))
    assert snap.vips[0].unknown == ()
    kinds = _kinds(snap)
    assert ("no-holder", "web/web", "critical") in kinds
    assert ("report-unreadable", "web/node1", "warning") in kinds
    assert "the node is down" in next(a.message for a in snap.alarms if a.subject == "web/node1")


def test_a_node_that_never_reported_is_still_no_report() -> None:
    api, _ = _three_node_api(skew=0.0, hang=set())
    api.lines["sid-id2"] = []  # a new task: its stream ends without a word, and without error
    snap = _status(api, _nodes("ready"))
    assert ("no-report", "web/node2", "warning") in _kinds(snap)


class SlowAPI(FakeAPI):
    """Log streams that deliver their backlog 0.2 s after they start (a real manager: tens to
    hundreds of ms), as the streams a following source starts on its first refresh."""

    def _stream(self, service_id: str) -> Iterator[bytes]:
        time.sleep(0.2)
        yield from super()._stream(service_id)


def test_a_watch_waits_for_new_streams_instead_of_calling_every_node_silent() -> None:
    """The first refresh of `status --watch` (and of the TUI) after the streams started, e.g.
    the first one that answers after an election, used to fold nothing: `no-holder`."""
    api, plan = _three_node_api(skew=0.0, hang=set())
    slow = SlowAPI(api.plans, api.lines, api.hang)
    source = _source(slow, _nodes("ready"), follow=True)  # type: ignore[arg-type]
    try:
        snap = fold(source.observe())
    finally:
        source.close()
    assert snap.vips[0].holders == (_top(plan),)
    assert [a.kind for a in snap.alarms] == []
