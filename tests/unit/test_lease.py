"""The write lease: compare-and-swap on the swarm spec's version, so two writers never act.

FakeSwarm (tests/contract/fake.py: FakeSwarmSpec, the swarm spec of FakeCluster) is the
engine's optimistic concurrency (a CAS) on the swarm spec; test_lease_races and test_controller
reuse it. FakeClock is a writer's own monotonic clock.
"""

from __future__ import annotations

import docker.errors
import pytest

from swarmvip.cluster import lease
from swarmvip.cluster.lease import Lease, LeaseBusy
from swarmvip.wire.keys import LEASE_EXPIRES as EXPIRES
from swarmvip.wire.keys import LEASE_LEADER as LEADER
from swarmvip.wire.keys import LEASE_RENEW as RENEW
from swarmvip.wire.keys import LEASE_TTL as TTL
from tests.contract.fake import FakeSwarmSpec as FakeSwarm


class FakeClock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def lease_of(
    api: FakeSwarm, identity: str, ttl: float = 15, clock: FakeClock | None = None
) -> Lease:
    return Lease(api, identity, ttl, clock or FakeClock())  # type: ignore[arg-type]


def test_one_holder_at_a_time_until_release() -> None:
    api = FakeSwarm()
    a, b = lease_of(api, "ctl-a"), lease_of(api, "ctl-b")
    assert a.acquire()
    assert not b.acquire()
    assert a.acquire()  # renewal
    a.release()
    assert lease.holder(api) is None  # type: ignore[arg-type]
    assert b.acquire()  # released: taken at once, no waiting
    assert lease.holder(api) == "ctl-b"  # type: ignore[arg-type]


def test_a_crashed_holder_expires_after_ttl_watched_on_the_candidates_own_clock() -> None:
    api, clock = FakeSwarm(), FakeClock()
    assert lease_of(api, "ctl-b").acquire()  # then ctl-b crashes: no more renewals
    a = lease_of(api, "ctl-a", clock=clock)
    assert not a.acquire()  # first sight: the lease may be fresh, watch it for ttl
    clock.sleep(14.9)
    assert not a.acquire()
    clock.sleep(0.1)
    assert a.acquire()
    assert lease.holder(api) == "ctl-a"  # type: ignore[arg-type]


def test_a_holder_known_dead_is_taken_over_at_once_any_other_after_ttl() -> None:
    api, clock = FakeSwarm(), FakeClock()
    assert lease_of(api, "0123456789ab-7").acquire()  # a controller task, then it is killed
    dead = Lease(api, "ctl-a", 15, clock, ended={"0123456789ab-7"}.__contains__)  # type: ignore[arg-type]
    assert dead.acquire()  # its task ended: no TTL to wait
    assert lease.holder(api) == "ctl-a"  # type: ignore[arg-type]
    alive = Lease(api, "ctl-b", 15, clock, ended={"0123456789ab-7"}.__contains__)  # type: ignore[arg-type]
    assert not alive.acquire()  # ctl-a is not known dead: the TTL rule


class TasksAPI:
    """The two calls ended_controller makes: the controller services and their tasks."""

    def __init__(self, tasks: list[tuple[str, str]]) -> None:
        self.listed = [
            {"Status": {"State": state, "ContainerStatus": {"ContainerID": cid}}}
            for cid, state in tasks
        ]

    def services(self, filters: dict[str, object]) -> list[dict[str, str]]:
        assert filters["label"] == ["swarmvip.owner=swarmvip", "swarmvip.kind=controller"]
        return [{"ID": "ctl"}]

    def tasks(self, filters: dict[str, str]) -> list[dict[str, object]]:
        assert filters == {"service": "ctl"}
        return self.listed


def test_a_controller_task_is_dead_when_swarm_shows_its_container_ended() -> None:
    old, new = "0123456789ab" + "c" * 52, "fedcba987654" + "d" * 52
    api = TasksAPI([(old, "failed"), (new, "running")])
    assert lease.ended_controller(api, "0123456789ab-7")  # type: ignore[arg-type]
    assert not lease.ended_controller(api, "fedcba987654-7")  # type: ignore[arg-type]
    assert not lease.ended_controller(api, "aaaaaaaaaaaa-7")  # type: ignore[arg-type]  # no task
    assert not lease.ended_controller(api, "deploy@laptop-42")  # type: ignore[arg-type]  # a CLI


def test_a_renewing_holder_never_expires_for_a_candidate() -> None:
    api, clock = FakeSwarm(), FakeClock()
    api.take("ctl-b")
    api.renewing = "ctl-b"
    a = lease_of(api, "ctl-a", clock=clock)
    for _ in range(10):
        assert not a.acquire()
        clock.sleep(16)


def test_the_holders_ttl_label_sets_how_long_candidates_wait() -> None:
    api, clock = FakeSwarm(), FakeClock()
    assert lease_of(api, "slow-holder", ttl=40).acquire()
    a = lease_of(api, "ctl-a", ttl=15, clock=clock)
    assert not a.acquire()
    clock.sleep(20)
    assert not a.acquire()  # 20 s > our ttl, but the holder promised only to renew within 40
    clock.sleep(20)
    assert a.acquire()


@pytest.mark.parametrize(
    "labels",
    [
        {LEADER: "old-ctl", EXPIRES: "not-a-number"},
        {LEADER: "old-ctl", RENEW: "x", TTL: "nan", EXPIRES: ""},
        {LEADER: "old-ctl", TTL: "-5"},
        {LEADER: "old-ctl", TTL: "inf"},
    ],
)
def test_old_or_damaged_labels_are_a_held_lease_of_unknown_age_not_a_crash(
    labels: dict[str, str],
) -> None:
    api, clock = FakeSwarm(), FakeClock()
    api.labels = dict(labels)
    a = lease_of(api, "ctl-a", clock=clock)
    assert not a.acquire()  # no ValueError
    clock.sleep(15)  # our own ttl, as the holder's is unknown
    assert a.acquire()
    assert api.labels[RENEW] == "1" and api.labels[TTL] == "15"


def test_a_concurrent_write_loses_the_race() -> None:
    api = FakeSwarm()
    seen = api.inspect_swarm()
    assert lease_of(api, "ctl-a").acquire()
    with pytest.raises(docker.errors.APIError):
        api.update_swarm(seen["Version"]["Index"], {"Labels": {LEADER: "ctl-b"}})
    assert lease.holder(api) == "ctl-a"  # type: ignore[arg-type]


def test_release_leaves_someone_elses_lease_alone() -> None:
    api = FakeSwarm()
    api.take("ctl-b")
    lease_of(api, "ctl-a").release()
    assert lease.holder(api) == "ctl-b"  # type: ignore[arg-type]


def test_exclusive_gives_up_with_a_clear_error() -> None:
    api = FakeSwarm()
    api.take("controller", ttl=60)
    api.renewing = "controller"
    busy = lease.exclusive(api, "deploy", ttl=15, wait=0.2)  # type: ignore[arg-type]
    with pytest.raises(LeaseBusy, match=r"another swarmvip \(controller\)"), busy:
        pass


def test_exclusive_releases_at_the_end() -> None:
    api = FakeSwarm()
    with lease.exclusive(api, "deploy", ttl=15, wait=0) as held:  # type: ignore[arg-type]
        assert lease.holder(api) == "deploy" and not held.lost.is_set()  # type: ignore[arg-type]
    assert lease.holder(api) is None  # type: ignore[arg-type]
