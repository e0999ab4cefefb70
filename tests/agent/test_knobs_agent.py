"""The VIP-group knobs with real keepalived in namespaces: the VIPs on the group's own NIC
(found by network), a tracked interface going down moves the VIP, and a node without the NIC
or the tracked interface reports a clear fault."""

from __future__ import annotations

import dataclasses
import ipaddress
from collections.abc import Callable
from pathlib import Path

import pytest

from swarmvip.agent import netlink
from swarmvip.model import InstanceOptions, NodePlan, TrackedInterface, VipInterface
from swarmvip.wire.report import Report
from tests.agent import agentlab as lab
from tests.agent.conftest import needs_root

pytestmark = [pytest.mark.netns, needs_root]
VIP = "10.88.0.100"
LAN = VipInterface(network=ipaddress.ip_network("10.88.0.0/24"))


@pytest.fixture
def node(make_ns: Callable[[str], str]) -> str:
    """eth0 10.77.0.1/24, eth1 10.88.0.1/24, eth2 and eth3 without addresses."""
    ns, peer = make_ns("n"), make_ns("p")
    for i, name in enumerate(("eth0", "eth1", "eth2", "eth3")):
        lab.veth(ns, name, peer, f"peer{i}")
    lab.sh("ip", "-n", ns, "addr", "add", "10.77.0.1/24", "dev", "eth0")
    lab.sh("ip", "-n", ns, "addr", "add", "10.88.0.1/24", "dev", "eth1")
    return ns


def test_the_vip_nic_by_name_and_by_network(node: str) -> None:
    assert netlink.vip_interface("web", VipInterface(name="eth2"), netns=node) == "eth2"
    assert netlink.vip_interface("web", LAN, netns=node) == "eth1"
    six = VipInterface(network=ipaddress.ip_network("fd00:88::/64"))
    lab.sh("ip", "-n", node, "addr", "add", "fd00:88::1/64", "dev", "eth3", "nodad")
    assert netlink.vip_interface("web", six, netns=node) == "eth3"


def test_a_missing_vip_nic_is_a_clear_fault(node: str) -> None:
    with pytest.raises(netlink.InterfaceNotFound, match=r"group web: interface 'eth9'"):
        netlink.vip_interface("web", VipInterface(name="eth9"), netns=node)
    other = VipInterface(network=ipaddress.ip_network("10.99.0.0/24"))
    with pytest.raises(netlink.InterfaceNotFound, match=r"no interface .* in 10\.99\.0\.0/24"):
        netlink.vip_interface("web", other, netns=node)


def test_two_nics_in_the_network_is_ambiguous(node: str) -> None:
    lab.sh("ip", "-n", node, "addr", "add", "10.88.0.2/24", "dev", "eth2")
    with pytest.raises(netlink.InterfaceNotFound, match=r"'eth1', 'eth2' all have"):
        netlink.vip_interface("web", LAN, netns=node)


def test_missing_interfaces(node: str) -> None:
    assert netlink.missing_interfaces(["eth1", "nope0", "eth3"], netns=node) == ("nope0",)


def test_the_watcher_follows_several_interfaces(node: str) -> None:
    seen: list[frozenset[str]] = []
    watcher = netlink.AddressWatcher(("eth0", "eth1"), seen.append, netns=node, poll=0.05)
    watcher.start()
    try:
        lab.sh("ip", "-n", node, "addr", "add", f"{VIP}/24", "dev", "eth1")
        lab.sh("ip", "-n", node, "addr", "add", "10.66.0.1/24", "dev", "eth2")  # not watched
        _until(lambda: bool(seen) and VIP in seen[-1])
        assert "10.77.0.1" in seen[-1] and "10.66.0.1" not in seen[-1]
        lab.sh("ip", "-n", node, "addr", "del", f"{VIP}/24", "dev", "eth1")
        _until(lambda: VIP not in seen[-1])
    finally:
        watcher.stop()
        watcher.join(5)


def _until(pred: Callable[[], bool], timeout: float = 5.0) -> None:
    import time

    deadline = time.monotonic() + timeout
    while not pred():
        assert time.monotonic() < deadline
        time.sleep(0.02)


# --- two real agents ---------------------------------------------------------------------------
@pytest.fixture
def lan_pair(pair: tuple[str, str]) -> tuple[str, str]:
    """`pair` plus eth1 between them (10.88.0.1/.2) and trk0 in each (a veth to trkp0, up)."""
    a, b = pair
    lab.veth(a, "eth1", b, "eth1")
    lab.sh("ip", "-n", a, "addr", "add", "10.88.0.1/24", "dev", "eth1")
    lab.sh("ip", "-n", b, "addr", "add", "10.88.0.2/24", "dev", "eth1")
    for ns in pair:
        lab.sh("ip", "-n", ns, "link", "add", "trk0", "type", "veth", "peer", "name", "trkp0")
        lab.sh("ip", "-n", ns, "link", "set", "trkp0", "up")
        lab.sh("ip", "-n", ns, "link", "set", "trk0", "up")
    return pair


def _plans(options: InstanceOptions) -> tuple[NodePlan, NodePlan]:
    def plan(src: str, peer: str, prio: int, name: str) -> NodePlan:
        inst = lab.instance(src, (peer,), prio, vip=f"{VIP}/24")
        inst = dataclasses.replace(inst, options=options)
        return NodePlan(f"id-{name}", f"node-{name}", None, src, (inst,))

    return plan("10.77.0.1", "10.77.0.2", 150, "a"), plan("10.77.0.2", "10.77.0.1", 100, "b")


def _holder(r: Report) -> bool:
    return r.instances[0].vrrp_state == "MASTER" and r.instances[0].holds_vip


def test_the_vip_goes_on_the_group_nic_and_leaves_when_a_tracked_interface_drops(
    lan_pair: tuple[str, str], tmp_path: Path, agents: list[lab.AgentProc]
) -> None:
    a_ns, b_ns = lan_pair
    options = InstanceOptions(interface=LAN, track_interfaces=(TrackedInterface("trk0"),))
    a_plan, b_plan = _plans(options)
    a = lab.start_agent(a_ns, tmp_path / "a", a_plan)
    b = lab.start_agent(b_ns, tmp_path / "b", b_plan)
    agents += [a, b]
    first = a.wait_for(_holder)
    assert first.interface == "eth0"  # VRRP stays on the unicast NIC
    _until(lambda: VIP in lab.addrs(a_ns, "eth1") and VIP not in lab.addrs(a_ns, "eth0"))
    wrapper = (tmp_path / "a" / "run" / "keepalived.conf").read_text()
    assert "$SWARMVIP_VIPIF_WEB=eth1" in wrapper
    lab.sh("ip", "-n", a_ns, "link", "set", "trk0", "down")
    b.wait_for(_holder, timeout=5)
    a.wait_for(lambda r: r.instances[0].vrrp_state == "FAULT", timeout=5)
    _until(lambda: VIP in lab.addrs(b_ns, "eth1") and VIP not in lab.addrs(a_ns, "eth1"))
    assert a.stop() == 0 and b.stop() == 0
    assert VIP not in lab.addrs(a_ns, "eth1") | lab.addrs(b_ns, "eth1")  # removed on stop


@pytest.mark.parametrize(
    ("options", "reason"),
    [
        (
            InstanceOptions(interface=VipInterface(network=ipaddress.ip_network("10.99.0.0/24"))),
            "group web: no interface on this node has an address in 10.99.0.0/24",
        ),
        (
            InstanceOptions(track_interfaces=(TrackedInterface("nope0"),)),
            "group web: tracked interface 'nope0' (its track_interfaces:) does not exist",
        ),
    ],
    ids=["no-vip-nic", "no-tracked-interface"],
)
def test_a_node_without_the_interface_reports_a_fault_and_keeps_running(
    pair: tuple[str, str], tmp_path: Path, options: InstanceOptions, reason: str
) -> None:
    a_plan, _ = _plans(options)
    agent = lab.start_agent(pair[0], tmp_path, a_plan, "--retry", "0.2")
    try:
        fault = agent.wait_for(lambda r: r.kind == "fault" and r.reason is not None)
        assert fault.reason is not None and reason in fault.reason
        assert fault.keepalived == "starting"
        agent.wait_for(lambda r: r.kind == "fault" and r.seq >= fault.seq + 2, timeout=5)
        assert agent.proc.poll() is None
    finally:
        assert agent.stop() == 0
