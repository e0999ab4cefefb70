"""Status that tells the truth: freshness on the reader's clock, a hanging stream, partial and
cross-stack holders, bounded memory, escaped views, schema skew (audit 7-10, 18, 21)."""

from __future__ import annotations

import base64
import dataclasses
import json
import threading
import time
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
import requests

from swarmvip.cluster import Cluster, DockerCluster
from swarmvip.cluster.observe import (
    ReportFeed,
    ServiceReader,
    current_task_logs,
    read_reports,
    stream_key,
)
from swarmvip.cluster.status_source import ClusterSource, ReportLog
from swarmvip.errors import ConfigError, ExitCode
from swarmvip.model import Node, NodePlan, Plan, Role
from swarmvip.ops.deploy import plan_for
from swarmvip.plan.build import build_plan
from swarmvip.plan.diff import Action
from swarmvip.present.planview import plan_document, plan_table
from swarmvip.present.status_view import table, to_json
from swarmvip.spec.stackfile import parse_stack
from swarmvip.status.fold import fold
from swarmvip.status.model import DeployedNode, Observation, Received, Snapshot
from swarmvip.wire import agentspec, paths
from swarmvip.wire.keys import NODE_LABEL, STACK_LABEL
from swarmvip.wire.report import InstanceReport, Report, to_line

from .builders import THREE
from .test_status import deployed, report

NOW = 1_763_762_400.0
NODES = (
    Node("id1", "node1", Role.MANAGER, "active", "ready", "10.0.0.11"),
    Node("id2", "node2", Role.WORKER, "active", "ready", "10.0.0.12"),
)


def _plan(stack: str, addresses: str, nodes: tuple[Node, ...] = NODES) -> Plan:
    text = f"x-swarmvip:\n  vips:\n    web: {{addresses: [{addresses}]}}\n"
    return build_plan(parse_stack(text, f"{stack}.yml"), stack, list(nodes))


def _deployed(plan: Plan) -> tuple[DeployedNode, ...]:
    return tuple(
        DeployedNode(plan.stack, f"{plan.stack}_vip-{n.hostname}", n, "running") for n in plan.nodes
    )


def _report(
    np: NodePlan, ts: float, present: tuple[str, ...], stack: str = "web", seq: int = 1
) -> Report:
    inst = np.instances[0]
    vips = tuple(a.with_prefixlen for a in inst.addresses)
    holds = set(present) == set(vips)
    state = "MASTER" if holds else "BACKUP"
    seen = InstanceReport("web", inst.vrid, inst.priority, state, vips, present, holds)
    return Report("heartbeat", ts, seq, stack, np.hostname, np.node_id, "eth0", "running", (seen,))


def _observe(log: ReportLog, now: float, plan: Plan) -> Snapshot:
    obs = Observation(now, NODES, _deployed(plan), log.all(), heard=log.heard())
    return fold(obs)


# --- audit 7: freshness on the reader's clock ------------------------------------------------


def _top(plan: Plan) -> str:
    """The hostname of the planned holder (the highest priority)."""
    return max(plan.nodes, key=lambda n: n.instances[0].priority).hostname


def test_node_clocks_7s_behind_the_reader_still_show_the_holder() -> None:
    plan = _plan("web", "10.0.0.100/24")
    top = _top(plan)
    log = ReportLog()
    backlog = [  # one-shot read: the last 10 s of both streams arrive now, in one go
        Received(_report(n, t - 7.0, ("10.0.0.100/24",) if n.hostname == top else ()), NOW)
        for t in (NOW - 10, NOW - 8, NOW - 6, NOW - 4, NOW - 2, NOW - 0.5)
        for n in plan.nodes
    ]
    log.add(backlog)
    snap = _observe(log, NOW + 0.2, plan)
    assert snap.vips[0].holders == (top,)
    assert [a.kind for a in snap.alarms] == []
    assert all(n.report_age is not None and n.report_age < 1 for n in snap.nodes)


def test_dead_node_whose_clock_was_30s_ahead_goes_stale_without_false_split_brain() -> None:
    plan = _plan("web", "10.0.0.100/24")
    node1, node2 = plan.nodes
    log = ReportLog()
    died = NOW - 20
    t = NOW - 40
    while t <= NOW - 0.5:  # followed live: each line arrives 50 ms after it was written
        if t <= died:
            log.add([Received(_report(node1, t + 30, ("10.0.0.100/24",)), t + 0.05)])
        present = ("10.0.0.100/24",) if t > died else ()
        log.add([Received(_report(node2, t, present), t + 0.05)])
        t += 2.0
    snap = _observe(log, NOW, plan)
    assert snap.vips[0].holders == ("node2",)
    kinds = [(a.kind, a.subject) for a in snap.alarms]
    assert ("split-brain", "web/web") not in kinds
    assert ("stale-report", "web/node1") in kinds
    # within its staleness window (3 heartbeats) it still counts, after it does not
    assert _observe(log, died + 5, plan).nodes[0].vrrp_states == (("web/web", "MASTER"),)
    assert _observe(log, died + 7, plan).nodes[0].vrrp_states == (("web/web", "UNKNOWN"),)


def test_unanswered_stream_marks_only_that_node_stale() -> None:
    log = ReportLog()
    log.add([Received(r, NOW) for r in _steady_three(NOW - 1.0)])
    log.unanswered = frozenset({("s", "id-node2")})
    snap = fold(Observation(NOW, THREE, deployed(), log.all(), heard=log.heard()))
    assert snap.vips[0].holders == ("node1",)
    assert [(a.kind, a.subject) for a in snap.alarms] == [("stale-report", "s/node2")]
    assert "did not answer" in snap.alarms[0].message


def _steady_three(ts: float) -> list[Report]:
    return [report("node1", ts, True), report("node2", ts, False), report("node3", ts, False)]


# --- audit 7 / point 2: a one-shot status with one hanging stream ------------------------------


def key(sid: str) -> str:
    """The stream key of a FakeAPI service (its one task)."""
    return f"{sid}/task-of-{sid}"


class FakeAPI:
    """A manager with one keepalived service per node; some log streams hang forever."""

    def __init__(
        self, plans: list[tuple[str, NodePlan]], lines: dict[str, list[str]], hang: set[str]
    ) -> None:
        self.plans, self.lines, self.hang = plans, lines, hang
        self.released = threading.Event()
        self.since: list[tuple[str, int]] = []
        self.log_calls = 0
        self.fail_logs: Exception | None = None
        self.slow: set[str] = set()  # backlogs whose lines after the first come 0.3 s later

    def services(self, filters: dict[str, Any]) -> list[dict[str, Any]]:
        if "swarmvip.kind=controller" in filters["label"]:
            return []
        return [
            {
                "ID": f"sid-{p.node_id}",
                "Spec": {
                    "Name": f"{stack}_vip-{p.hostname}",
                    "Labels": {STACK_LABEL: stack, NODE_LABEL: p.node_id},
                    "TaskTemplate": {
                        "ContainerSpec": {
                            "Configs": [
                                {"ConfigID": f"cfg-{p.node_id}", "File": {"Name": paths.AGENT_SPEC}}
                            ]
                        }
                    },
                },
            }
            for stack, p in self.plans
        ]

    def inspect_config(self, config_id: str) -> dict[str, Any]:
        stack, plan = next((s, p) for s, p in self.plans if f"cfg-{p.node_id}" == config_id)
        text = agentspec.to_json(agentspec.AgentSpec(stack, plan))
        if plan.hostname == "future":
            text = json.dumps({**json.loads(text), "schema": 99})
        return {"Spec": {"Data": base64.b64encode(text.encode()).decode()}}

    def tasks(self, filters: dict[str, Any]) -> list[dict[str, Any]]:
        sid = filters.get("service", "")
        return [
            {
                "ID": f"task-of-{sid}",
                "DesiredState": "running",
                "Status": {"State": "running", "Timestamp": "1"},
            }
        ]

    def inspect_swarm(self) -> dict[str, Any]:
        return {"Version": {"Index": 1}, "Spec": {"Labels": {}}}  # no writer holds the lease

    # docker-py's request helpers, as observe.current_task_logs uses them on /tasks/{id}/logs
    def _url(self, path: str, task_id: str) -> str:
        assert path == "/tasks/{0}/logs"
        return task_id.removeprefix("task-of-")

    def _get(self, service_id: str, params: dict[str, Any], stream: bool) -> str:
        self.log_calls += 1
        self.since.append((service_id, params["since"]))
        if self.fail_logs is not None:
            raise self.fail_logs
        return service_id

    def _get_result_tty(self, stream: bool, service_id: str, tty: bool) -> Iterator[bytes]:
        return self._stream(service_id)

    def _stream(self, service_id: str) -> Iterator[bytes]:
        for n, line in enumerate(self.lines.get(service_id, [])):
            if n == 1 and service_id in self.slow:
                time.sleep(0.3)
            yield (line + "\n").encode()
        if service_id in self.hang:
            self.released.wait()


class FakeCluster(DockerCluster):
    def __init__(self, api: FakeAPI, nodes: tuple[Node, ...]) -> None:
        super().__init__(SimpleNamespace(api=api))  # type: ignore[arg-type]
        self._nodes = nodes

    def nodes(self) -> tuple[Node, ...]:
        return self._nodes


def _three_node_api(skew: float, hang: set[str]) -> tuple[FakeAPI, Plan]:
    nodes = tuple(
        Node(f"id{i}", f"node{i}", Role.WORKER, "active", "ready", f"10.0.0.1{i}")
        for i in (1, 2, 3)
    )
    plan = _plan("web", "10.0.0.100/24", nodes)
    now = time.time() + skew
    lines = {
        f"sid-{n.node_id}": [
            to_line(_report(n, now - age, ("10.0.0.100/24",) if n.hostname == _top(plan) else ()))
            for age in (6.0, 4.0, 2.0, 0.5)
        ]
        for n in plan.nodes
    }
    return FakeAPI([("web", n) for n in plan.nodes], lines, hang), plan


def _source(api: FakeAPI, nodes: tuple[Node, ...], follow: bool = False) -> ClusterSource:
    return ClusterSource(lambda: FakeCluster(api, nodes), follow=follow)


def test_one_shot_status_answers_fast_and_marks_only_the_paused_node() -> None:
    api, plan = _three_node_api(skew=-7.0, hang={"sid-id3"})
    nodes = tuple(
        Node(n.node_id, n.hostname, Role.WORKER, "active", "ready", "x") for n in plan.nodes
    )
    try:
        started = time.monotonic()
        snap = fold(_source(api, nodes).observe())
        elapsed = time.monotonic() - started
    finally:
        api.released.set()
    assert elapsed < 2.0
    assert _top(plan) != "node3"  # the hanging stream is a backup's
    assert snap.vips[0].holders == (_top(plan),)
    assert [(a.kind, a.subject) for a in snap.alarms] == [("stale-report", "web/node3")]


def test_read_reports_waits_at_most_its_budget() -> None:
    api, _ = _three_node_api(skew=0.0, hang={"sid-id2"})
    try:
        started = time.monotonic()
        ids = [key("sid-id1"), key("sid-id2"), key("sid-id3")]
        received, silent, unreadable = read_reports(api, ids, budget=0.3)  # type: ignore[arg-type]
        assert time.monotonic() - started < 1.0
    finally:
        api.released.set()
    assert silent == {key("sid-id2")} and unreadable == {}
    assert {r.report.node for r in received} == {"node1", "node2", "node3"}


def test_a_requests_error_on_a_stream_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    api, _ = _three_node_api(skew=0.0, hang=set())
    api.fail_logs = requests.exceptions.ConnectionError("ssh tunnel closed")
    crashed: list[BaseException | None] = []
    monkeypatch.setattr(threading, "excepthook", lambda args: crashed.append(args.exc_value))
    received, silent, unreadable = read_reports(api, [key("sid-id1")], budget=1.0)  # type: ignore[arg-type]
    assert (received, silent, unreadable, crashed) == ([], set(), {}, [])


# --- audit 10: follow threads and restarts ---------------------------------------------------


def test_feed_restarts_an_ended_stream_from_the_nodes_own_clock() -> None:
    api, _ = _three_node_api(skew=-3600.0, hang=set())  # the node's clock is an hour behind
    feed = ReportFeed(api)  # type: ignore[arg-type]
    feed.follow([key("sid-id1")])
    deadline = time.monotonic() + 2
    while feed.streams and time.monotonic() < deadline:
        time.sleep(0.01)
    newest = max(r.report.ts for r in feed.drain())
    feed.follow([key("sid-id1")])
    assert api.since[-1] == ("sid-id1", int(newest - 1))


def test_a_following_source_folds_each_backlog_to_its_end_not_its_first_lines() -> None:
    """A backlog arrives oldest line first; its first lines are a past state. A drain that
    folded them saw last minute's holder and priorities and moved nothing (issue 13 bench)."""
    nodes = tuple(
        Node(f"id{i}", f"node{i}", Role.WORKER, "active", "ready", f"10.0.0.1{i}") for i in (1, 2)
    )
    plan = _plan("web", "10.0.0.100/24", nodes)
    now = time.time()
    vip = ("10.0.0.100/24",)
    held_then = {"node1": vip, "node2": ()}  # a minute ago node1 held the VIP
    held_now = {"node1": (), "node2": vip}  # since then node2 does
    lines = {
        f"sid-{n.node_id}": [
            to_line(_report(n, now - 60, held_then[n.hostname])),
            to_line(_report(n, now - 1, held_now[n.hostname], seq=2)),
        ]
        for n in plan.nodes
    }
    api = FakeAPI([("web", n) for n in plan.nodes], lines, set())
    api.slow = set(lines)
    source = _source(api, nodes, follow=True)
    try:
        snap = fold(source.observe())
    finally:
        source.close()
    assert snap.vips[0].holders == ("node2",)


def test_reconnects_reuse_the_feed_instead_of_leaking_threads() -> None:
    api, plan = _three_node_api(skew=0.0, hang={"sid-id1", "sid-id2", "sid-id3"})
    nodes = tuple(
        Node(n.node_id, n.hostname, Role.WORKER, "active", "ready", "x") for n in plan.nodes
    )
    source = _source(api, nodes, follow=True)
    try:
        for _ in range(4):
            assert fold(source.observe()).error is None
            source._cluster = None  # what an engine error does: reconnect next time
        assert api.log_calls == 3  # one stream per service, kept across reconnects
        source.close()
    finally:
        api.released.set()


# --- audit 8: per-address split brain and partial holders ------------------------------------


def test_partial_holder_and_split_brain_per_address() -> None:
    plan = _plan("web", "10.0.0.100/24, 10.0.0.101/24")
    node1, node2 = plan.nodes
    reports = (
        _report(node1, NOW - 0.5, ("10.0.0.100/24",)),  # a leftover copy of one address
        _report(node2, NOW - 0.5, ("10.0.0.100/24", "10.0.0.101/24")),
    )
    snap = fold(Observation(NOW, NODES, _deployed(plan), reports))
    vip = snap.vips[0]
    assert vip.holders == ("node2",) and vip.partial == ("node1",)
    kinds = {a.kind: a.message for a in snap.alarms}
    assert "10.0.0.100/24 is on node1, node2" in kinds["split-brain"]
    assert "node1 has only 10.0.0.100/24" in kinds["partial-holder"]
    assert "node1(partial)" in table(snap)
    doc = to_json(snap)["vips"][0]
    assert doc["partial"] == ["node1"] and doc["presence"]["10.0.0.100/24"] == ["node1", "node2"]


def test_two_partial_holders_of_one_address_is_split_brain_with_no_full_holder() -> None:
    plan = _plan("web", "10.0.0.100/24, 10.0.0.101/24")
    reports = tuple(_report(n, NOW - 0.5, ("10.0.0.101/24",)) for n in plan.nodes)
    snap = fold(Observation(NOW, NODES, _deployed(plan), reports))
    assert {a.kind for a in snap.alarms} == {"no-holder", "split-brain", "partial-holder"}


# --- audit 9: one address in two stacks ------------------------------------------------------


def test_same_address_in_two_stacks_raises_an_alarm() -> None:
    alpha = _plan("alpha", "10.0.0.100/24", NODES[:1])
    beta = _plan("beta", "10.0.0.100/24", NODES[1:])
    snap = fold(Observation(NOW, NODES, _deployed(alpha) + _deployed(beta), ()))
    cross = [a for a in snap.alarms if a.kind == "vip-cross-stack"]
    assert len(cross) == 1 and "alpha/web" in cross[0].message and "beta/web" in cross[0].message


class _Swarm(Cluster):
    def __init__(self, deployed: dict[str, Plan]) -> None:
        self.deployed = deployed

    def nodes(self) -> tuple[Node, ...]:
        return NODES

    def vrids(self) -> dict[str, dict[str, int]]:
        return {
            s: {i.group: i.vrid for n in p.nodes for i in n.instances}
            for s, p in self.deployed.items()
        }

    def running_plans(self, stack: str) -> dict[str, NodePlan]:
        return {n.node_id: n for n in self.deployed[stack].nodes}


def test_deploy_refuses_a_vip_address_another_stack_declares() -> None:
    swarm = _Swarm({"alpha": _plan("alpha", "10.0.0.100/24")})
    spec = parse_stack("x-swarmvip:\n  vips:\n    api: {addresses: [10.0.0.100/32]}\n", "beta.yml")
    with pytest.raises(ConfigError) as caught:
        plan_for(spec, "beta", swarm)
    assert caught.value.exit_code == ExitCode.USAGE
    problem = caught.value.problems[0]
    assert problem.file == "beta.yml" and problem.key == "x-swarmvip.vips.api.addresses"
    assert "'alpha'" in problem.message and "alpha" in problem.fix
    # the stack itself redeploying, or another address, is fine
    assert plan_for(spec, "alpha", swarm).stack == "alpha"
    other = parse_stack("x-swarmvip:\n  vips:\n    api: {addresses: [10.0.0.101/24]}\n", "b.yml")
    assert plan_for(other, "beta", swarm).stack == "beta"


# --- audit 10: bounded de-duplication ----------------------------------------------------------


def test_report_log_memory_is_bounded_over_hours_of_heartbeats() -> None:
    log = ReportLog(limit=500)
    inst = (InstanceReport("web", 51, 250, "BACKUP", ("10.0.0.100/24",), (), False),)
    for hour in range(3):
        base = hour * 200
        log.add(
            [
                Received(
                    Report(
                        "heartbeat",
                        1e9 + (base + s) * 2.0,
                        base + s,
                        "web",
                        f"n{n}",
                        f"id{n}",
                        "eth0",
                        "running",
                        inst,
                    ),
                    1e9 + (base + s) * 2.0,
                )
                for s in range(200)
                for n in range(20)
            ]
        )
        assert len(log._seen) <= 500 and len(log.all()) == 500
    assert len(log.heard()) == 20
    # a line still held is not added twice
    log.add([log.all()[-1]])
    assert len(log.all()) == 500 and len(log._seen) == 500


# --- audit 18: escaping in views -------------------------------------------------------------

EVIL = "n1\x1b]0;pwned\x07\x1b[2J\r\n"


def test_status_table_escapes_swarm_provided_strings() -> None:
    deps = list(deployed())
    plan = deps[0].plan
    evil = NodePlan(plan.node_id, EVIL, None, plan.unicast_src, plan.instances)
    deps[0] = DeployedNode("s", "s_vip", evil, "failed", "err\x1b[31m")
    nodes = (Node("id-node1", EVIL, Role.MANAGER, "active", "ready", "10.0.0.1\x1b[0m"), *THREE[1:])
    text = table(fold(Observation(101, nodes, tuple(deps), ())))
    assert "\x1b" not in text and "\x07" not in text and "\r" not in text
    assert "\\x1b]0;pwned\\x07" in text
    plain = table(fold(Observation(101, THREE, deployed(), ())))
    assert len(text.splitlines()) == len(plain.splitlines()) + 1  # + task-not-running alarm


def test_plan_table_escapes_hostnames() -> None:
    plan = _plan("web", "10.0.0.100/24", NODES[:1])
    doc = plan_document(_Prepared(plan))
    doc["nodes"][0]["hostname"] = EVIL  # e.g. a plan deployed before hostnames were checked
    doc["remove"] = [EVIL]
    text = plan_table(doc)
    assert "\x1b" not in text and "\\x1b[2J" in text
    assert (
        len(text.splitlines()) == len(plan_table(plan_document(_Prepared(plan))).splitlines()) + 1
    )


class _Prepared:
    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self.actions: tuple[Action, ...] = ()
        self.ranked: Plan | None = None


# --- audit 21: schema skew -------------------------------------------------------------------


def test_a_newer_agent_json_shows_as_incompatible_and_hides_nothing_else() -> None:
    ok = _plan("web", "10.0.0.100/24", NODES[:1]).nodes[0]
    future = NodePlan("id2", "future", None, "10.0.0.12", ok.instances)
    api = FakeAPI([("web", ok), ("edge", future)], {}, set())
    reader = ServiceReader(api)  # type: ignore[arg-type]
    plain, _ = reader.deployed()
    assert [d.stack for d in plain] == ["web"]
    listed, ids = reader.deployed(incompatible=True)
    assert [(d.stack, bool(d.note)) for d in listed] == [("web", False), ("edge", True)]
    assert ids == ["sid-id1/task-of-sid-id1", "sid-id2/task-of-sid-id2"]
    snap = fold(Observation(NOW, NODES, listed, ()))
    assert [v.stack for v in snap.vips] == ["web"]
    incompatible = [a for a in snap.alarms if a.kind == "incompatible-agent"]
    assert incompatible[0].subject == "edge/edge_vip-future"
    assert "schema" in incompatible[0].message and "upgrade" in incompatible[0].message


def test_a_task_being_replaced_shows_the_new_tasks_state_not_the_old_shutdown() -> None:
    from swarmvip.cluster.observe import task_state

    old = {"DesiredState": "shutdown", "Status": {"State": "shutdown", "Timestamp": "T2"}}
    new = {"DesiredState": "running", "Status": {"State": "preparing", "Timestamp": "T1"}}
    assert task_state([old, new]) == ("preparing", "")
    failed = {"DesiredState": "shutdown", "Status": {"State": "rejected", "Err": "no image"}}
    assert task_state([failed]) == ("rejected", "no image")
    assert task_state([]) == ("pending", "")


def test_a_holder_killed_hard_is_no_holder_once_its_task_has_no_container() -> None:
    """A SIGKILLed holder writes no last line: its "MASTER" report stays fresh for 3
    heartbeats. Once Swarm shows the task failed, or its replacement not started, that report
    must not make a second holder beside the node that took over (a false split brain)."""
    plan = _plan("web", "10.0.0.100/24")
    node1, node2 = plan.nodes
    both = (
        _report(node1, NOW - 3.0, ("10.0.0.100/24",)),  # its last line before the kill
        _report(node2, NOW - 0.2, ("10.0.0.100/24",)),  # took over
    )
    running = fold(Observation(NOW, NODES, _deployed(plan), both))
    assert running.vips[0].holders == ("node1", "node2")  # both containers run: split brain
    for state in ("preparing", "pending", "failed", "shutdown"):
        restarting = tuple(
            DeployedNode(d.stack, d.service, d.plan, state if d.plan is node1 else "running")
            for d in _deployed(plan)
        )
        snap = fold(Observation(NOW, NODES, restarting, both))
        assert snap.vips[0].holders == ("node2",), state
        assert "split-brain" not in {a.kind for a in snap.alarms}, state


def test_a_restarted_task_counts_as_healthy_once_its_agent_reports_the_new_spec() -> None:
    """Docker says "starting" for 5 s after a start (the HEALTHCHECK); the task's own agent
    reporting the service's current spec with keepalived running is the better truth, so
    the expected holder follows it (undrain used to return before the VIP came back)."""
    plan = _plan("web", "10.0.0.100/24")
    node1, node2 = plan.nodes
    new = dataclasses.replace(_report(node1, NOW - 0.2, ()), spec="new")
    old = dataclasses.replace(_report(node1, NOW - 0.2, ()), spec="old")
    for seen, healthy in ((new, True), (old, False)):
        deployed = tuple(
            dataclasses.replace(d, task_state="starting", spec="new") if d.plan is node1 else d
            for d in _deployed(plan)
        )
        snap = fold(Observation(NOW, NODES, deployed, (seen, _report(node2, NOW - 0.2, ()))))
        member = next(m for m in snap.vips[0].members if m.hostname == node1.hostname)
        assert (member.effective_priority is not None) is healthy


def test_a_restarted_task_runs_its_spec_once_every_instance_joined_vrrp() -> None:
    """Writers go on when the agent reports the new spec: only once keepalived left its start
    (MASTER or BACKUP), else the next phase could restart a holder with no backup ready."""
    plan = _plan("web", "10.0.0.100/24")
    node1, _ = plan.nodes
    ready = dataclasses.replace(_report(node1, NOW - 0.2, ()), spec="h")
    inst = dataclasses.replace(ready.instances[0], vrrp_state="UNKNOWN")
    joining = dataclasses.replace(ready, instances=(inst,))
    for seen, listed in ((ready, True), (joining, False)):
        snap = fold(Observation(NOW, NODES, _deployed(plan), (seen,)))
        status = next(n for n in snap.nodes if n.node_id == node1.node_id)
        assert (("web", "h") in status.running_specs) is listed


def test_the_controller_line_is_the_newest_by_time_not_the_last_in_the_tail() -> None:
    """`docker service logs --tail` interleaves a dead controller's lines with its
    successor's: status must show the live one (fault campaign, scenario 3)."""
    from swarmvip.cluster.observe import newest_controller_line

    live = '{"swarmvip_controller":1,"ts":200.5,"healthy":true}'
    dead = '{"swarmvip_controller":1,"ts":150.0,"healthy":false}'
    prefix = "swarmvip_controller.1.abc@node2    | "
    doc = newest_controller_line([prefix + live, "not json {", prefix + dead])
    assert doc is not None and doc["ts"] == 200.5
    assert newest_controller_line([]) is None


def test_reports_are_read_from_the_current_task_not_the_whole_service() -> None:
    """A service's log includes every task Swarm keeps, and a stream that must fetch a
    shut-down task's log from a worker can stall forever: only the newest task Swarm wants
    running is read, and a new task is a new stream key (the old task's stream is dropped)."""
    old = {"ID": "old", "DesiredState": "shutdown", "Status": {"Timestamp": "2026-03"}}
    new = {"ID": "new", "DesiredState": "running", "Status": {"Timestamp": "2026-02"}}
    assert stream_key("svc", [old, new]) == "svc/new"
    assert stream_key("svc", []) == "svc/"
    asked: list[str] = []

    class Tasks:
        def _url(self, path: str, task_id: str) -> str:
            return path.format(task_id)

        def _get(self, url: str, params: dict[str, Any], stream: bool) -> str:
            asked.append(url)
            return url

        def _get_result_tty(self, stream: bool, url: str, tty: bool) -> Iterator[bytes]:
            return iter([b"line\n"])

    assert list(current_task_logs(Tasks(), "svc/new", tail="200")) == [b"line\n"]  # type: ignore[arg-type]
    assert list(current_task_logs(Tasks(), "svc/", tail="200")) == []  # type: ignore[arg-type]
    assert asked == ["/tasks/new/logs"]
