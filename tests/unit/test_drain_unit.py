"""drain/undrain by node id or hostname; undrain undoes only what drain changed (audit 21)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from swarmvip.ops import drain
from swarmvip.ops.drain import (
    SWARM_DRAINED,
    VIP_DRAINED,
    ClusterActions,
    DrainRefused,
    drain_change,
    undrain_availability,
)
from swarmvip.status.drainplan import preview_drain
from swarmvip.status.model import Member, NodeStatus, Snapshot, VipStatus
from swarmvip.wire.keys import NODE_DRAIN as DRAIN

IDS = {"node1": "p9x2kq0w1abc", "node2": "q8y3lr1x2bcd", "node3": "r7z4ms2y3cde"}


def node_status(host: str, availability: str = "active", drained: str | None = None) -> NodeStatus:
    return NodeStatus(
        hostname=host,
        node_id=IDS.get(host, f"id-{host}"),
        addr="10.0.0.1",
        role="worker",
        availability=availability,
        state="ready",
        labels=((DRAIN, drained),) if drained is not None else (),
        task_state="running",
        vrrp_states=(),
        holds=(),
        report_age=1.0,
        interface="eth0",
    )


def snap(holder: str = "node1", **nodes: NodeStatus) -> Snapshot:
    members = tuple(
        Member(h, IDS[h], prio, prio, "MASTER" if h == holder else "BACKUP")
        for h, prio in (("node1", 250), ("node2", 240), ("node3", 230))
    )
    vip = VipStatus(
        "s", "web", ("10.0.0.100/24",), 51, "preferred", members, (holder,), holder, 0.0, None
    )
    statuses = tuple(nodes.get(h, node_status(h)) for h in IDS)
    return Snapshot(generated_at=100.0, vips=(vip,), nodes=statuses)


# --- the preflight ---------------------------------------------------------------------------


def test_drain_preview_accepts_a_node_id() -> None:
    """repro r18_drain_id.py: `no node named 'p9x2kq0w1abc' (nodes: node1)`."""
    by_id, by_name = preview_drain(snap(), IDS["node1"]), preview_drain(snap(), "node1")
    assert by_id.refusal is None and by_id == by_name
    assert by_id.node == "node1" and by_id.node_id == IDS["node1"]
    assert "node1 → node2" in by_id.summary


def test_an_unknown_or_shared_name_is_refused() -> None:
    assert "no node named 'nodeX'" in (preview_drain(snap(), "nodeX").refusal or "")
    twin = snap(node3=NodeStatus(**{**_fields(node_status("node3")), "hostname": "node2"}))
    refusal = preview_drain(twin, "node2").refusal or ""
    assert "2 nodes are named 'node2'" in refusal and IDS["node3"] in refusal
    assert preview_drain(twin, IDS["node2"]).node_id == IDS["node2"]  # the id still works


def _fields(status: NodeStatus) -> dict[str, Any]:
    return {f: getattr(status, f) for f in status.__slots__}


# --- what the label records ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("mode", "availability", "label", "expected"),
    [
        ("vip-only", "active", None, (VIP_DRAINED, None)),
        ("swarm", "active", None, (SWARM_DRAINED, "drain")),
        ("swarm", "active", VIP_DRAINED, (SWARM_DRAINED, "drain")),
        ("swarm", "drain", None, (VIP_DRAINED, None)),  # an operator drained it: not ours
        ("swarm", "pause", None, (VIP_DRAINED, "drain")),  # not ours to undo to active
        ("swarm", "drain", SWARM_DRAINED, (SWARM_DRAINED, None)),  # drained twice: still ours
        ("vip-only", "drain", SWARM_DRAINED, (SWARM_DRAINED, None)),
    ],
)
def test_drain_records_whether_it_changed_the_availability(
    mode: Any, availability: str, label: str | None, expected: tuple[str, str | None]
) -> None:
    assert drain_change(mode, availability, label) == expected


def test_undrain_restores_active_only_after_its_own_swarm_drain() -> None:
    assert undrain_availability(SWARM_DRAINED, "drain") == "active"
    assert undrain_availability(VIP_DRAINED, "drain") is None  # drained for another reason
    assert undrain_availability(None, "pause") is None
    assert undrain_availability(SWARM_DRAINED, "pause") is None  # changed since: leave it


def test_both_drain_values_mean_drained_to_the_label_parser() -> None:
    from swarmvip.model import Node, Role
    from swarmvip.plan.node_labels import node_settings

    for value in (VIP_DRAINED, SWARM_DRAINED):
        n = Node("id", "n", Role.WORKER, "active", "ready", "10.0.0.1", ((DRAIN, value),))
        settings, problems = node_settings(n)
        assert settings.drain and not problems


# --- the actions, against a fake cluster ----------------------------------------------------


class FakeCluster:
    def __init__(self) -> None:
        self.writes: list[tuple[str, dict[str, str | None] | None, str | None]] = []
        self.relay: list[str] = []  # the relay's sender started ahead (warm_relay), and ended

    def update_node(
        self,
        name: str,
        labels: dict[str, str | None] | None = None,
        availability: str | None = None,
    ) -> None:
        self.writes.append((name, labels, availability))

    @contextmanager
    def exclusive(self, identity: str) -> Iterator[None]:
        yield

    def stored_specs(self) -> dict[str, tuple[str, str]]:
        return {}

    def wait_running_all(self, stacks: list[str], timeout: float) -> None:
        pass

    @contextmanager
    def warm_relay(self) -> Iterator[None]:
        self.relay.append("started")
        try:
            yield
        finally:
            self.relay.append("ended")


def actions(cluster: FakeCluster) -> ClusterActions:
    return ClusterActions(lambda: cluster, lambda: None)  # type: ignore[arg-type,return-value]


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Any:
    """Returns (the fake cluster, a list the test fills with the snapshots to observe)."""
    cluster, snaps = FakeCluster(), list[Snapshot]()
    monkeypatch.setattr(drain, "snapshot", lambda source, until=None, timeout=0: snaps.pop(0))
    return cluster, snaps


def test_drain_by_id_labels_that_node_and_records_the_swarm_drain(fake: Any) -> None:
    cluster, snaps = fake
    snaps += [snap("node1"), snap("node2")]
    outcome = actions(cluster).drain(IDS["node1"], "swarm", lambda line: None)
    assert outcome.ok and "s/web: node1 → node2" in outcome.message
    assert cluster.writes == [
        (IDS["node1"], {DRAIN: SWARM_DRAINED}, None),
        (IDS["node1"], None, "drain"),
    ]


def test_drain_and_undrain_start_the_relays_sender_before_they_read_the_swarm(
    fake: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its Python start then overlaps the drain's reads, not the move; it ends with the
    command, a refused one too; the restart path needs no sender."""
    cluster, snaps = fake
    seen: list[list[str]] = []
    monkeypatch.setattr(
        drain, "snapshot", lambda source, until=None, timeout=0: seen.append(list(cluster.relay))
        or snaps.pop(0),
    )  # fmt: skip
    snaps += [snap("node1"), snap("node2")]
    actions(cluster).drain("node1", "vip-only", lambda line: None)
    assert seen[0] == ["started"] and cluster.relay == ["started", "ended"]
    snaps += [snap("node2", node1=node_status("node1", "active", VIP_DRAINED)), snap("node1")]
    actions(cluster).undrain("node1", lambda line: None)
    assert seen[2] == ["started", "ended", "started"] and cluster.relay[-1] == "ended"
    snaps += [snap("node1")]
    with pytest.raises(drain.DrainRefused):
        actions(cluster).drain("nodeX", "vip-only", lambda line: None)
    assert cluster.relay[-2:] == ["started", "ended"]
    for env, value in (("SWARMVIP_SENDER_AHEAD", "0"), ("SWARMVIP_MOVE", "restart")):
        monkeypatch.setenv(env, value)
        cluster.relay.clear()
        snaps += [snap("node1"), snap("node2")]
        actions(cluster).drain("node1", "vip-only", lambda line: None)
        assert cluster.relay == []


def test_undrain_by_id_reactivates_only_its_own_swarm_drain(fake: Any) -> None:
    cluster, snaps = fake
    ours = node_status("node1", "drain", SWARM_DRAINED)
    operators = node_status("node1", "drain", VIP_DRAINED)
    snaps += [snap("node2", node1=ours), snap("node1"), snap("node2", node1=operators), snap()]
    progress: list[str] = []
    assert actions(cluster).undrain(IDS["node1"], progress.append).ok
    assert actions(cluster).undrain(IDS["node1"], progress.append).ok
    assert cluster.writes == [
        (IDS["node1"], {DRAIN: None}, "active"),
        (IDS["node1"], {DRAIN: None}, None),
    ]
    assert f"removed {DRAIN} from node1; availability active" in progress
    assert f"removed {DRAIN} from node1; availability unchanged" in progress


def test_undrain_of_an_unknown_node_is_refused_before_any_write(fake: Any) -> None:
    cluster, snaps = fake
    snaps.append(snap())
    with pytest.raises(DrainRefused, match="no node named 'nodeX'"):
        actions(cluster).undrain("nodeX", lambda line: None)
    assert cluster.writes == []


def test_undrain_converges_every_stored_stack_when_no_vip_lists_the_node() -> None:
    from swarmvip.ops.drain import undrain_stacks

    listed = snap("node2")
    unasked = lambda: pytest.fail("stored specs read although a VIP lists the node")  # noqa: E731
    assert undrain_stacks(listed, "node1", unasked) == ["s"]  # node1 is a member of s
    unlisted = dataclasses.replace(listed, vips=())  # no report read yet: no member known
    assert undrain_stacks(unlisted, "node1", lambda: ["s", "other"]) == ["other", "s"]
