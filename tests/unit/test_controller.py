"""The controller without an engine: report line, event filter, its status, and one pass on fakes
(stack rm race, per-stack errors, lease loss, heartbeat)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest

import swarmvip.ops.controller as ctl
from swarmvip.cluster import Cluster, DockerCluster, lease
from swarmvip.cluster.events import relevant
from swarmvip.errors import LeaseLost
from swarmvip.ops.controller import GRACE, Controller, ControllerState, VanishGuard
from swarmvip.plan.diff import Observed, ObservedService
from swarmvip.status.fold import controller_status

from .test_lease import FakeClock, FakeSwarm


def test_report_line_is_one_json_object_with_the_marker() -> None:
    state = ControllerState("mgr-1", leader=True, last_reconcile=99.0, pending=0)
    doc = json.loads(state.line(100.0))
    assert doc["swarmvip_controller"] == 1 and doc["identity"] == "mgr-1" and doc["leader"]


def test_node_and_service_changes_wake_the_controller() -> None:
    assert relevant({"Type": "node", "Action": "update"})
    assert relevant({"Type": "service", "Action": "remove"})
    assert not relevant({"Type": "container", "Action": "start"})
    assert not relevant({"Type": "node", "Action": "exec_start"})


def test_controller_health_from_its_reports() -> None:
    line = json.loads(ControllerState("m", leader=True, last_reconcile=90.0).line(100.0))
    assert controller_status(line, 101.0).healthy  # type: ignore[union-attr]
    stale = controller_status(line, 200.0)
    assert stale is not None and not stale.healthy
    failing = dict(line, last_error="s: bad label")
    assert not controller_status(failing, 101.0).healthy  # type: ignore[union-attr]
    assert controller_status(None, 1.0) is None


# --- the reconcile pass, on fakes --------------------------------------------------------
SPEC = "x-swarmvip:\n  vips:\n    web: {addresses: [10.0.0.100/24]}\n"


class PassCluster(DockerCluster):
    """Stored specs and each stack's service ids, settable by the test; the lease is real."""

    def __init__(self) -> None:
        super().__init__(SimpleNamespace(api=FakeSwarm()))  # type: ignore[arg-type]
        self.specs: dict[str, tuple[str, str]] = {}
        self.services: dict[str, tuple[str, ...]] = {}

    def stored_specs(self, stack: str | None = None) -> dict[str, tuple[str, str]]:
        return dict(self.specs)

    def observe(self, stack: str) -> Observed:
        ids = self.services.get(stack, ())
        return Observed(services=tuple(ObservedService(i, i, "n", "h") for i in ids))


def controller_on(
    monkeypatch: pytest.MonkeyPatch, converge: Callable[..., int], clock: FakeClock | None = None
) -> tuple[Controller, PassCluster]:
    cluster, emitted = PassCluster(), list[str]()
    controller = Controller(
        lambda: cluster, object(), identity="ctl", ttl=0.15, emit=emitted.append
    )  # type: ignore[arg-type]
    controller.emitted = emitted  # type: ignore[attr-defined]
    controller._cluster, controller._source = cluster, object()  # type: ignore[assignment]
    if clock is not None:
        controller.guard = VanishGuard(clock=clock)
    monkeypatch.setattr(ctl, "converge", converge)
    return controller, cluster


def test_docker_stack_rm_racing_the_controller_does_not_recreate_the_services(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock, converged = FakeClock(), list[str]()

    def converge(spec: Any, stack: str, *_: Any) -> int:
        converged.append(stack)
        return 0

    controller, cluster = controller_on(monkeypatch, converge, clock)
    say: list[str] = []
    cluster.specs = {"web": ("web_vip-spec-1", SPEC)}
    cluster.services = {"web": ("s1", "s2", "s3")}
    controller.reconcile_once(say.append)
    assert converged == ["web"]
    # docker stack rm: services go first (here: part of them so far), the spec config later
    cluster.services = {"web": ("s3",)}
    controller.reconcile_once(say.append)
    cluster.services = {"web": ()}
    clock.sleep(30)
    controller.reconcile_once(say.append)
    assert converged == ["web"] and controller.state.pending == 1
    assert "web: its services vanished (docker stack rm?)" in say[-1]
    cluster.specs = {}  # the spec config is gone too: the stack is forgotten
    controller.reconcile_once(say.append)
    assert converged == ["web"] and controller.guard.seen == {} and controller.guard.since == {}


def test_services_removed_by_hand_come_back_after_the_grace_period(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock, converged = FakeClock(), list[str]()

    def converge(spec: Any, stack: str, *_: Any) -> int:
        converged.append(stack)
        return 0

    controller, cluster = controller_on(monkeypatch, converge, clock)
    cluster.specs = {"web": ("web_vip-spec-1", SPEC)}
    cluster.services = {"web": ()}  # e.g. the controller starts after the services went
    controller.reconcile_once(lambda _: None)
    clock.sleep(GRACE - 1)
    controller.reconcile_once(lambda _: None)
    assert converged == []
    clock.sleep(1)
    controller.reconcile_once(lambda _: None)
    assert converged == ["web"]


def test_the_controllers_own_removals_do_not_hold_the_stack(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    converged: list[str] = []
    controller, cluster = controller_on(monkeypatch, lambda *_: 0)

    def converge(spec: Any, stack: str, *_: Any) -> int:
        converged.append(stack)
        cluster.services = {"web": ("s1", "s2")}  # this pass removed s3 (a node left)
        return 1

    monkeypatch.setattr(ctl, "converge", converge)
    cluster.specs = {"web": ("web_vip-spec-1", SPEC)}
    cluster.services = {"web": ("s1", "s2", "s3")}
    controller.reconcile_once(lambda _: None)
    controller.reconcile_once(lambda _: None)
    assert converged == ["web", "web"]


def test_one_broken_stack_is_reported_and_the_others_are_reconciled(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    converged: list[str] = []

    def converge(spec: Any, stack: str, *_: Any) -> int:
        if stack == "alpha":
            raise ValueError("agent.json schema 3 is newer than this swarmvip")
        converged.append(stack)
        return 2

    controller, cluster = controller_on(monkeypatch, converge)
    cluster.specs = {s: (f"{s}_vip-spec-1", SPEC) for s in ("alpha", "beta")}
    cluster.services = {"alpha": ("a1",), "beta": ("b1",)}
    assert controller.reconcile_once(lambda _: None) == 2
    assert converged == ["beta"]
    assert controller.state.last_error == (
        "alpha: unexpected ValueError: agent.json schema 3 is newer than this swarmvip"
    )
    assert controller.state.pending == 1


def test_a_lost_lease_stops_the_whole_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    converged: list[str] = []

    def converge(spec: Any, stack: str, *_: Any) -> int:
        converged.append(stack)
        raise LeaseLost("lost the swarmvip write lease to x; stopped before y")

    controller, cluster = controller_on(monkeypatch, converge)
    cluster.specs = {s: (f"{s}_vip-spec-1", SPEC) for s in ("alpha", "beta")}
    cluster.services = {"alpha": ("a1",), "beta": ("b1",)}
    with pytest.raises(LeaseLost):
        controller.reconcile_once(lambda _: None)
    assert converged == ["alpha"]


def test_a_long_pass_keeps_reporting_and_holds_the_lease(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[str | None] = []

    def slow(spec: Any, stack: str, cluster: Cluster, *_: Any) -> int:
        seen.append(lease.holder(cluster._api))  # type: ignore[attr-defined]
        time.sleep(0.4)  # ttl 0.15: a heartbeat is due every 0.05 s
        return 0

    controller, cluster = controller_on(monkeypatch, slow)
    cluster.specs = {"web": ("web_vip-spec-1", SPEC)}
    cluster.services = {"web": ("s1",)}
    assert controller._pass()
    assert seen == ["ctl"] and lease.holder(cluster._api) is None
    beats = [json.loads(line) for line in controller.emitted]  # type: ignore[attr-defined]
    assert len(beats) >= 3 and all(b["identity"] == "ctl" and b["leader"] for b in beats)


def test_the_loop_stands_by_while_another_writer_holds_the_lease(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    controller, cluster = controller_on(monkeypatch, lambda *_: 0)
    api = cluster._api
    api.take("deploy@laptop")  # type: ignore[attr-defined]
    api.renewing = "deploy@laptop"  # type: ignore[attr-defined]
    assert not controller._pass() and not controller.state.leader


class NoWatcher:
    alive = True

    def __init__(self, *_: Any) -> None:
        pass

    def start(self) -> NoWatcher:
        return self


def run_for(controller: Controller, seconds: float) -> None:
    stop = threading.Event()
    thread = threading.Thread(target=controller.run, args=(stop,), daemon=True)
    thread.start()
    time.sleep(seconds)
    stop.set()
    thread.join(timeout=5)
    assert not thread.is_alive()


def test_the_loop_survives_an_unexpected_error_and_goes_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    controller, cluster = controller_on(monkeypatch, lambda *_: 0)
    monkeypatch.setattr(cluster, "watch", NoWatcher)
    monkeypatch.setattr(Controller, "cluster", lambda self: cluster)
    calls: list[int] = []

    def stored(stack: str | None = None) -> dict[str, tuple[str, str]]:
        calls.append(1)
        if len(calls) == 1:
            raise KeyError("Spec")  # a bug or an engine answer of an unexpected shape
        return {}

    monkeypatch.setattr(cluster, "stored_specs", stored)
    run_for(controller, 1.5)  # back-off 1 s after the error, then a clean pass
    beats = [json.loads(line) for line in controller.emitted]  # type: ignore[attr-defined]
    assert beats[0]["last_error"] == "KeyError: 'Spec'" and not beats[0]["leader"]
    assert len(calls) >= 2 and beats[-1]["last_error"] is None and beats[-1]["leader"]


def test_a_busy_lease_is_retried_every_few_seconds_not_in_a_tight_loop(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    controller, cluster = controller_on(monkeypatch, lambda *_: 0)
    monkeypatch.setattr(cluster, "watch", NoWatcher)
    monkeypatch.setattr(ctl, "RETRY", 0.2)
    api = cluster._api
    api.take("deploy@laptop")  # type: ignore[attr-defined]
    api.renewing = "deploy@laptop"  # type: ignore[attr-defined]
    reads = 0
    inspect = api.inspect_swarm

    def counted() -> dict[str, Any]:
        nonlocal reads
        reads += 1
        return inspect()

    api.inspect_swarm = counted  # type: ignore[method-assign]
    controller.wake.set()  # an event arrived while the laptop deploys
    run_for(controller, 1.0)
    assert 3 <= reads <= 7 and not controller.state.leader
