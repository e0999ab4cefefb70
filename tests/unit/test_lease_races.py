"""The four ways AUDIT-2 #2 proved the write lease was not exclusive, each as a regression test.

(a) TOCTOU between the holder check and the write; (b) a lease lost while working; (c) clock
skew between writers; (d) `controller --once` without the lease. All on the CAS fake.
"""

from __future__ import annotations

import threading
import time
from types import SimpleNamespace
from typing import Any

import pytest

import swarmvip.commands.controller as controller_cmd
import swarmvip.ops.controller as ctl
from swarmvip import cli
from swarmvip.cluster import Cluster, DockerCluster
from swarmvip.cluster.lease import Lease
from swarmvip.errors import LeaseLost
from swarmvip.plan.desired import DesiredObject
from swarmvip.plan.diff import CreateConfig, Observed
from swarmvip.wire.keys import LEASE_LEADER as LEADER

from .test_lease import FakeClock, FakeSwarm, lease_of

ACTION = CreateConfig(DesiredObject("web_vip-conf-1", b"x", ()))


class FakeApi(FakeSwarm):
    """The swarm spec (lease) plus the writes a converge does, recorded."""

    def __init__(self) -> None:
        super().__init__()
        self.created: list[str] = []

    def create_config(self, name: str, data: bytes, labels: dict[str, str]) -> None:
        self.created.append(name)


def cluster_on(api: FakeSwarm) -> DockerCluster:
    return DockerCluster(SimpleNamespace(api=api))  # type: ignore[arg-type]


# --- (a) ---------------------------------------------------------------------------------
def test_a_writer_between_our_check_and_our_write_wins_and_we_lose() -> None:
    api = FakeSwarm()
    a, b = lease_of(api, "deploy-A"), lease_of(api, "controller-B")
    results: dict[str, bool] = {}

    # A has read "no holder"; B runs its whole acquire before A writes
    def b_acquires() -> None:
        results["B"] = b.acquire()

    api.after_read = b_acquires
    results["A"] = a.acquire()
    assert results == {"B": True, "A": False}
    assert api.labels[LEADER] == "controller-B"


def test_many_concurrent_candidates_exactly_one_wins() -> None:
    api = FakeSwarm()
    start, wins = threading.Barrier(8), []

    def candidate(i: int) -> None:
        start.wait()
        if lease_of(api, f"w{i}").acquire():
            wins.append(f"w{i}")

    threads = [threading.Thread(target=candidate, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(wins) == 1 and api.labels[LEADER] == wins[0]


# --- (b) ---------------------------------------------------------------------------------
def test_the_next_write_after_losing_the_lease_is_refused_and_nothing_is_written() -> None:
    api = FakeApi()
    cluster = cluster_on(api)
    with cluster.exclusive("deploy-A", ttl=0.3, wait=0):
        cluster.apply(ACTION)  # ours: goes out
        api.take("controller-B")  # the lease went to B (e.g. A's renewals were late)
        deadline = time.monotonic() + 2
        while not cluster._held.lost.is_set() and time.monotonic() < deadline:  # type: ignore[union-attr]
            time.sleep(0.02)  # A's renewal thread notices
        with pytest.raises(LeaseLost) as lost:
            cluster.apply(CreateConfig(DesiredObject("web_vip-conf-2", b"y", ())))
        with pytest.raises(LeaseLost):
            cluster.update_node("node1", labels={"x": "y"})
    assert str(lost.value) == (
        "lost the swarmvip write lease to controller-B; stopped before create config web_vip-conf-2"
    )
    assert api.created == ["web_vip-conf-1"]
    assert api.labels[LEADER] == "controller-B"  # A's release left B's lease alone


def test_a_holder_whose_renewals_fail_stops_before_a_candidate_may_take_over() -> None:
    api, clock_a, clock_b = FakeApi(), FakeClock(), FakeClock()
    a, b = lease_of(api, "deploy-A", ttl=15, clock=clock_a), lease_of(api, "ctl-B", clock=clock_b)
    assert a.acquire()
    assert not b.acquire()  # B starts watching right after A's last renewal
    clock_a.sleep(12.5)  # A's renewals fail (manager slow): A stops with a margin
    clock_b.sleep(12.5)
    assert not b.acquire()
    with pytest.raises(LeaseLost, match=r"to expiry \(not renewed within 15s\); stopped before x"):
        a.check("x")


def test_renewal_notices_a_new_holder_and_a_cleared_lease() -> None:
    api = FakeSwarm()
    a = lease_of(api, "deploy-A")
    assert a.acquire() and a.renew() and not a.lost.is_set()
    api.take("ctl-B")
    assert not a.renew() and a.lost_to == "ctl-B"
    c = lease_of(api, "deploy-C")
    api.labels, api.version = {}, api.version + 1
    assert c.acquire()
    api.labels, api.version = {}, api.version + 1  # someone cleared it (an old swarmvip rm)
    assert not c.renew() and c.lost_to.startswith("nobody")


# --- (c) ---------------------------------------------------------------------------------
@pytest.mark.parametrize("skew", [-30.0, +30.0])
def test_a_writer_clock_off_by_30s_does_not_break_exclusion(
    monkeypatch: pytest.MonkeyPatch, skew: float
) -> None:
    api, laptop_clock, ctl_clock = FakeSwarm(), FakeClock(), FakeClock()
    real = time.time
    monkeypatch.setattr(time, "time", lambda: real() + skew)
    laptop = lease_of(api, "deploy@laptop", clock=laptop_clock)
    assert laptop.acquire()
    monkeypatch.setattr(time, "time", real)
    controller = lease_of(api, "controller-B", clock=ctl_clock)
    for _ in range(6):  # 30 s of the controller trying while the laptop renews every 5 s
        assert not controller.acquire()
        ctl_clock.sleep(5)
        monkeypatch.setattr(time, "time", lambda: real() + skew)
        assert laptop.renew()
        monkeypatch.setattr(time, "time", real)
    # the other direction: the controller holds, the skewed laptop must wait
    laptop.release()
    assert controller.acquire()
    monkeypatch.setattr(time, "time", lambda: real() + skew)
    for _ in range(6):
        assert not laptop.acquire()
        laptop_clock.sleep(5)
        assert controller.renew()
    assert api.labels[LEADER] == "controller-B"


# --- (d) ---------------------------------------------------------------------------------
class OnceCluster(DockerCluster):
    def __init__(self, api: FakeSwarm) -> None:
        super().__init__(SimpleNamespace(api=api))  # type: ignore[arg-type]

    def stored_specs(self, stack: str | None = None) -> dict[str, tuple[str, str]]:
        return {
            "web": (
                "web_vip-spec-x",
                "x-swarmvip:\n  vips:\n    web: {addresses: [10.0.0.100/24]}\n",
            )
        }

    def observe(self, stack: str) -> Observed:
        return Observed()


def _once_setup(monkeypatch: pytest.MonkeyPatch, api: FakeSwarm) -> list[tuple[str, str | None]]:
    converged: list[tuple[str, str | None]] = []
    cluster = OnceCluster(api)

    def fake_cluster(self: ctl.Controller) -> Cluster:
        self._source = object()  # type: ignore[assignment]
        return cluster

    def fake_converge(spec: Any, stack: str, cluster: Cluster, *_: Any) -> int:
        converged.append((stack, api.labels.get(LEADER)))
        return 3

    monkeypatch.setattr(ctl.Controller, "cluster", fake_cluster)
    monkeypatch.setattr(ctl, "converge", fake_converge)
    monkeypatch.setattr(ctl.VanishGuard, "hold", lambda *_: False)
    monkeypatch.setattr(controller_cmd, "ONCE_WAIT", 0.3)
    return converged


def test_controller_once_refuses_while_another_writer_holds_the_lease(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    api = FakeSwarm()
    api.take("deploy@laptop")
    api.renewing = "deploy@laptop"
    converged = _once_setup(monkeypatch, api)
    assert cli.main(["controller", "--once", "--identity", "ctl-once"]) == 1
    assert converged == []
    assert "another swarmvip (deploy@laptop) is changing this swarm" in capsys.readouterr().err


def test_controller_once_waits_for_the_lease_then_converges_holding_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    api = FakeSwarm()
    api.take("deploy@laptop")
    converged = _once_setup(monkeypatch, api)
    threading.Timer(0.1, lambda: Lease(api, "deploy@laptop").release()).start()  # type: ignore[arg-type]
    assert cli.main(["controller", "--once", "--identity", "ctl-once"]) == 0
    assert converged == [("web", "ctl-once")]
    assert LEADER not in api.labels  # released afterwards


# --- AUDIT-2 #17: deploy decides only once it holds the lease ---------------------------
class DeployCluster(OnceCluster):
    def wait_running(self, *_: Any, **__: Any) -> None:  # type: ignore[override]
        pass


@pytest.mark.parametrize("dry_run", [False, True])
def test_deploy_plans_only_while_holding_the_lease(
    monkeypatch: pytest.MonkeyPatch, dry_run: bool
) -> None:
    import swarmvip.commands.stack as stack_cmd
    import swarmvip.ops.deploy as deploy_mod

    from .builders import spec

    api, planned_under = FakeSwarm(), []
    cluster = DeployCluster(api)
    web = spec("web: {addresses: [10.0.0.100/24]}\n")

    def prepare(*_: Any, **__: Any) -> Any:
        planned_under.append(api.labels.get(LEADER))
        plan = SimpleNamespace(warnings=(), nodes=(), stack="web")
        return SimpleNamespace(plan=plan, actions=(), spec=web)

    monkeypatch.setattr(stack_cmd, "_load", lambda args: (web, "web", cluster))
    monkeypatch.setattr(deploy_mod, "prepare", prepare)
    monkeypatch.setattr(stack_cmd, "_apply_deploy", lambda *_: 0)
    argv = ["deploy", "web.yml", "--vip-only"] + (["--dry-run"] if dry_run else [])
    assert cli.main(argv) == 0
    assert len(planned_under) == 1
    if dry_run:  # changes nothing: takes no lease
        assert planned_under == [None] and api.writes == 0
    else:
        assert planned_under[0] is not None and planned_under[0].startswith("deploy@")
        assert LEADER not in api.labels
