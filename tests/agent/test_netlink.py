"""netlink.py in real namespaces: interface detection, stale-VIP removal, the address watcher."""

from __future__ import annotations

import ipaddress
import threading
import time
from collections.abc import Callable

import pytest

from swarmvip.agent import netlink
from tests.agent import agentlab as lab
from tests.agent.conftest import needs_root

pytestmark = [pytest.mark.netns, needs_root]
VIP = (ipaddress.ip_interface("10.78.0.100/32"),)


@pytest.fixture
def node(make_ns: Callable[[str], str]) -> str:
    """One namespace with eth0 (10.77.0.1/24), p5p1 (10.78.0.1/24), bond0 and enp2s0 (no IP)."""
    ns, peer = make_ns("n"), make_ns("p")
    for i, name in enumerate(("eth0", "p5p1", "bond0", "enp2s0")):
        lab.veth(ns, name, peer, f"peer{i}")
    lab.sh("ip", "-n", ns, "addr", "add", "10.77.0.1/24", "dev", "eth0")
    lab.sh("ip", "-n", ns, "addr", "add", "10.78.0.1/24", "dev", "p5p1")
    return ns


def test_by_unicast_address(node: str) -> None:
    assert netlink.detect_interface("10.78.0.1", VIP, netns=node) == "p5p1"
    assert netlink.detect_interface("10.77.0.1", VIP, netns=node) == "eth0"


def test_by_route_when_unicast_is_absent(node: str) -> None:
    lab.sh("ip", "-n", node, "addr", "add", "10.79.0.1/16", "dev", "enp2s0")
    vip = (ipaddress.ip_interface("10.79.3.100/32"),)
    assert netlink.detect_interface("192.0.2.1", vip, netns=node) == "enp2s0"
    assert netlink.detect_interface("192.0.2.1", VIP, netns=node) == "p5p1"


def test_most_specific_route_wins(node: str) -> None:
    lab.sh("ip", "-n", node, "route", "add", "10.78.0.0/28", "dev", "bond0")
    vip = (ipaddress.ip_interface("10.78.0.5/32"),)
    assert netlink.detect_interface("192.0.2.1", vip, netns=node) == "bond0"


def test_override_wins(node: str) -> None:
    assert netlink.detect_interface("10.77.0.1", VIP, override="bond0", netns=node) == "bond0"


def test_missing_override_is_a_fault(node: str) -> None:
    with pytest.raises(netlink.InterfaceNotFound, match="'eth9'"):
        netlink.detect_interface("10.77.0.1", VIP, override="eth9", netns=node)


def test_no_match_is_a_fault_with_a_reason(node: str) -> None:
    vip = (ipaddress.ip_interface("172.16.0.100/24"),)
    with pytest.raises(netlink.InterfaceNotFound, match=r"192\.0\.2\.1.*swarmvip\.interface"):
        netlink.detect_interface("192.0.2.1", vip, netns=node)


def test_default_route_is_not_a_match(node: str) -> None:
    lab.sh("ip", "-n", node, "route", "add", "default", "via", "10.77.0.254")
    vip = (ipaddress.ip_interface("172.16.0.100/24"),)
    with pytest.raises(netlink.InterfaceNotFound):
        netlink.detect_interface("192.0.2.1", vip, netns=node)


def test_remove_stale_vips(node: str) -> None:
    lab.sh("ip", "-n", node, "addr", "add", "10.77.0.100/24", "dev", "eth0")
    lab.sh("ip", "-n", node, "addr", "add", "10.77.0.101/32", "dev", "eth0")
    vips = (ipaddress.ip_interface("10.77.0.100/24"), ipaddress.ip_interface("10.77.0.101/24"))
    removed = netlink.remove_addresses("eth0", vips, netns=node)
    assert sorted(removed) == ["10.77.0.100/24", "10.77.0.101/32"]
    assert lab.addrs(node, "eth0") >= {"10.77.0.1"}
    assert not {"10.77.0.100", "10.77.0.101"} & lab.addrs(node, "eth0")
    assert netlink.remove_addresses("eth0", vips, netns=node) == ()


def test_watcher_sees_vip_appear_and_disappear(node: str) -> None:
    seen: list[frozenset[str]] = []
    changed = threading.Event()

    def on_change(addresses: frozenset[str]) -> None:
        seen.append(addresses)
        changed.set()

    watcher = netlink.AddressWatcher("eth0", on_change, netns=node, poll=0.05)
    watcher.start()
    try:
        assert changed.wait(5) and "10.77.0.1" in seen[-1]
        changed.clear()
        lab.sh("ip", "-n", node, "addr", "add", "10.77.0.100/24", "dev", "eth0")
        _wait(lambda: "10.77.0.100" in seen[-1])
        lab.sh("ip", "-n", node, "addr", "add", "10.78.0.77/24", "dev", "p5p1")  # other iface
        lab.sh("ip", "-n", node, "addr", "del", "10.77.0.100/24", "dev", "eth0")
        _wait(lambda: "10.77.0.100" not in seen[-1])
        assert all("10.78.0.77" not in s for s in seen)
    finally:
        watcher.stop()
        watcher.join(2)
    assert not watcher.is_alive()


def _wait(pred: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not pred():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)
