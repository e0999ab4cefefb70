"""The controller's metrics: the pure rendering of a status view into metric families
(present/metrics.py), the poller's view (advance), the controller's counters, the endpoint."""

from __future__ import annotations

import socket
import threading
import urllib.request
from dataclasses import replace

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

import swarmvip.commands.controller as controller_cmd
from swarmvip.ops.metrics import StatusMetrics, facts, serve
from swarmvip.ops.watch import Poll, Serialized
from swarmvip.present.metrics import (
    ALARM_KINDS,
    NAMES,
    ControllerFacts,
    MetricsView,
    SnapshotCollector,
    advance,
    check_results,
    families,
)
from swarmvip.status.events import diff
from swarmvip.status.fold import fold
from swarmvip.status.model import Observation
from swarmvip.wire.report import InstanceReport, Report

from .builders import THREE
from .test_status import deployed, report, steady

BASE = tuple(steady(100, 110))
MOVED = (*BASE, report("node1", 110.5, False, seq=20), report("node2", 110.58, True, seq=20))
CTL = ControllerFacts("mgr-1", leader=True, reconciles=4, errors=1, actions=7, pending=0)


def observe(now: float, *reports: Report) -> Observation:
    return Observation(now=now, nodes=THREE, deployed=deployed(), reports=reports)


def view_after(*observations: Observation) -> MetricsView:
    """The view the poller would hold after these polls (as ops/watch yields them)."""
    view, prev = MetricsView(controller=CTL), None
    for obs in observations:
        snap = fold(obs)
        view = advance(view, snap, obs, diff(prev, snap, obs.now))
        prev = snap
    return view


def samples(
    view: MetricsView, now: float = 112.0
) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """The exposition a scrape returns, parsed back: {(sample name, labels): value}."""
    registry = CollectorRegistry()
    registry.register(SnapshotCollector(lambda: view, lambda: now))
    text = generate_latest(registry).decode()
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(
    found: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str
) -> float:
    hits = [v for (n, ls), v in found.items() if n == name and set(labels.items()) <= ls]
    assert len(hits) == 1, (name, labels, hits)
    return hits[0]


VIP = {"stack": "s", "group": "web", "vip": "10.213.0.100/24"}


def test_holders_expected_holder_and_a_counted_handover() -> None:
    found = samples(view_after(observe(110.2, *BASE), observe(111, *MOVED)))
    assert value(found, "swarmvip_status_up") == 1
    assert value(found, "swarmvip_vip_holder", **VIP, node="node2", node_id="id-node2") == 1
    assert value(found, "swarmvip_vip_holder", **VIP, node="node1") == 0
    assert value(found, "swarmvip_vip_expected_holder", **VIP, node="node1") == 1
    assert value(found, "swarmvip_vip_holders", **VIP) == 1
    assert value(found, "swarmvip_vip_verdict", **VIP, verdict="unexpected-holder") == 1
    assert value(found, "swarmvip_vip_verdict", **VIP, verdict="ok") == 0
    assert value(found, "swarmvip_vip_transitions_total", **VIP) == 1
    assert value(found, "swarmvip_vip_handover_gap_seconds_count", **VIP) == 1
    assert value(found, "swarmvip_vip_handover_gap_seconds_bucket", **VIP, le="0.05") == 0
    assert value(found, "swarmvip_vip_handover_gap_seconds_bucket", **VIP, le="0.1") == 1
    assert value(found, "swarmvip_vip_handover_gap_seconds_bucket", **VIP, le="+Inf") == 1
    assert value(found, "swarmvip_vip_last_transition_timestamp_seconds", **VIP) == 110.58
    since = value(found, "swarmvip_vip_seconds_since_transition", **VIP)
    assert abs(since - (112.0 - 110.58)) < 1e-9
    assert value(found, "swarmvip_vip_info", **VIP, vrid="51", preemption="preferred") == 1


def test_nodes_alarms_and_the_controller() -> None:
    found = samples(view_after(observe(110.2, *BASE), observe(111, *MOVED)))
    node2 = {"node": "node2", "node_id": "id-node2"}
    assert value(found, "swarmvip_node_vrrp_state", **node2, stack="s", state="MASTER") == 1
    assert value(found, "swarmvip_node_vrrp_state", **node2, stack="s", state="BACKUP") == 0
    assert value(found, "swarmvip_node_report_age_seconds", **node2) == pytest.approx(112 - 110.58)
    assert value(found, "swarmvip_node_info", **node2, role="worker", state="ready") == 1
    assert value(found, "swarmvip_alarms", kind="unexpected-holder") == 1
    assert all(value(found, "swarmvip_alarms", kind=k) == 0 for k in ALARM_KINDS[:3])
    assert value(found, "swarmvip_alarm", kind="unexpected-holder", subject="s/web") == 1
    assert value(found, "swarmvip_controller_leader", identity="mgr-1") == 1
    assert value(found, "swarmvip_controller_reconciles_total") == 4
    assert value(found, "swarmvip_controller_errors_total") == 1
    assert value(found, "swarmvip_controller_actions_total") == 7
    assert value(found, "swarmvip_status_polls_total") == 2
    assert value(found, "swarmvip_status_last_success_timestamp_seconds") == 111


def test_check_results_come_from_fresh_reports_only() -> None:
    inst = InstanceReport(
        "web", 51, 250, "MASTER", ("10.213.0.100/24",), (), False, (("http", "failing"),)
    )
    fresh = Report("state", 110, 30, "s", "node1", "id-node1", "eth0", "running", (inst,))
    checks = check_results(observe(111, fresh))
    assert [(c.node, c.check, c.state) for c in checks] == [("node1", "http", "failing")]
    assert check_results(observe(130, fresh)) == ()  # stale: it says nothing now
    found = samples(view_after(observe(111, fresh)))
    labels = {"node": "node1", "check": "http"}
    assert value(found, "swarmvip_node_check", **labels, state="failing") == 1
    assert value(found, "swarmvip_node_check", **labels, state="ok") == 0


def test_every_family_is_documented_and_documented_names_exist() -> None:
    inst = InstanceReport(
        "web",
        51,
        250,
        "MASTER",
        ("10.213.0.100/24",),
        ("10.213.0.100/24",),
        True,
        (("http", "ok"),),
    )
    checked = Report("state", 110.9, 40, "s", "node1", "id-node1", "eth0", "running", (inst,))
    view = replace(
        view_after(observe(110.2, *BASE), observe(111, *MOVED, checked)),
        controller=replace(CTL, last_reconcile=100.0),
    )
    found = {name for name, _ in samples(view)}
    base = {n.removesuffix("_bucket").removesuffix("_count").removesuffix("_sum") for n in found}
    assert base == set(NAMES)


def test_an_unreachable_manager_exports_no_stale_holders() -> None:
    good = view_after(observe(110.2, *BASE))
    assert good.snapshot is not None
    away = replace(good.snapshot, stale=True, error="connection refused")
    failed = Observation(now=112, error="connection refused")
    view = advance(good, away, failed, diff(good.snapshot, away, 112))
    found = samples(view)
    assert value(found, "swarmvip_status_up") == 0
    assert value(found, "swarmvip_status_poll_errors_total") == 1
    assert value(found, "swarmvip_status_last_success_timestamp_seconds") == 110.2
    assert not [n for n, _ in found if n.startswith(("swarmvip_vip_", "swarmvip_node_"))]
    assert value(found, "swarmvip_controller_leader", identity="mgr-1") == 1
    assert families(MetricsView(), 1.0)[0].samples[0].value == 0  # nothing polled yet


# --- the controller side -------------------------------------------------------------------
class FakeSource:
    def __init__(self, *observations: Observation) -> None:
        self.observations = list(observations)

    def observe(self) -> Observation:
        return self.observations.pop(0) if len(self.observations) > 1 else self.observations[0]


def test_the_controller_counts_and_shares_its_source_safely() -> None:
    from swarmvip.ops.controller import Controller

    source = FakeSource(observe(110.2, *BASE))
    controller = Controller(lambda: None, source, identity="c1")  # type: ignore[arg-type,return-value]
    assert isinstance(controller.source, Serialized) and controller.source.inner is source
    controller.state.leader, controller.state.pending = True, 2
    controller.counters.reconciles, controller.counters.actions = 3, 5
    got = facts(controller)
    assert (got.identity, got.leader, got.reconciles, got.actions, got.pending) == (
        "c1",
        True,
        3,
        5,
        2,
    )


def test_the_poller_and_the_endpoint_serve_the_latest_view() -> None:
    metrics = StatusMetrics(
        FakeSource(observe(110.2, *BASE), observe(111, *MOVED)), lambda: CTL, 0.01
    )
    stop = threading.Event()
    thread = metrics.start(stop)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    close = serve(metrics, port, "127.0.0.1")
    try:
        deadline = threading.Event()
        for _ in range(100):
            if metrics.view().polls >= 2:
                break
            deadline.wait(0.05)
        body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    finally:
        stop.set()
        close()
        thread.join(timeout=2)
    labels = 'group="web",node="node2",node_id="id-node2",stack="s",vip="10.213.0.100/24"'
    assert f"swarmvip_vip_holder{{{labels}}} 1.0" in body
    assert 'swarmvip_controller_leader{identity="mgr-1"} 1.0' in body


def test_poll_carries_the_last_good_snapshot_when_the_source_fails() -> None:
    from swarmvip.ops.watch import step

    first = step(FakeSource(observe(110.2, *BASE)), None)
    failing = FakeSource(Observation(now=112, error="boom"))
    second: Poll = step(failing, first.snapshot)
    assert second.snapshot.error == "boom" and second.snapshot.stale
    assert second.snapshot.vips == first.snapshot.vips
    assert [e.kind for e in second.events] == ["unreachable"]

    class Raising:
        def observe(self) -> Observation:
            raise RuntimeError("bug")

    third = step(Raising(), second.snapshot)
    assert third.snapshot.error == "RuntimeError: bug" and third.events == ()


def test_metrics_options_and_a_port_that_cannot_be_bound(
    capsys: pytest.CaptureFixture[str],
) -> None:
    import argparse

    parser = argparse.ArgumentParser()
    controller_cmd.register(parser.add_subparsers())
    args = parser.parse_args(["controller"])
    assert (args.metrics_port, args.metrics_address) == (9815, "0.0.0.0")
    assert parser.parse_args(["controller", "--metrics-port", "0"]).metrics_port == 0
    with pytest.raises(SystemExit):
        parser.parse_args(["controller", "--metrics-port", "70000"])
    from swarmvip.ops.controller import Controller

    controller = Controller(lambda: None, FakeSource(observe(1)), identity="c")  # type: ignore[arg-type,return-value]
    stop = threading.Event()
    assert controller_cmd._start_metrics(controller, "127.0.0.1", 0, stop)() is None
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        controller_cmd._start_metrics(controller, "127.0.0.1", port, stop)()
    assert "controller: metrics disabled:" in capsys.readouterr().err
