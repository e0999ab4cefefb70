"""An IPv6 VIP group from stack file to keepalived.conf: VRRPv3, adverts unicast from the node's
`swarmvip.unicast6` address to the other members' (the lab's e2e setup, tests/e2e/test_ipv6.py),
accepted and run by the real keepalived; and VRRPv2, which carries IPv4 only, refused."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

from swarmvip.errors import ConfigError
from swarmvip.model import Plan
from swarmvip.plan.build import build_plan
from swarmvip.render import render_keepalived
from swarmvip.spec.stackfile import parse_stack

from .builders import node

VIP = "fd00:213::101/64"
STACK = "lab-v6"
# The lab's nodes: swarm addresses IPv4, IPv6 addresses given by label (as the e2e test does).
NODES = tuple(
    node(
        f"node{i}",
        f"10.213.0.{10 + i}",
        "manager" if i == 1 else "worker",
        swarmvip__unicast6=f"fd00:213::{10 + i}",
    )
    for i in (1, 2, 3)
)
SIX = {f"node{i}": f"fd00:213::{10 + i}" for i in (1, 2, 3)}


def v6_stack(timers: str | None = None) -> str:
    extra = f"      timers: {timers}\n" if timers is not None else ""
    return f"x-swarmvip:\n  vips:\n    v6:\n      addresses: ['{VIP}']\n{extra}"


def v6_plan(timers: str | None = None) -> Plan:
    return build_plan(parse_stack(v6_stack(timers), f"{STACK}.yml"), STACK, NODES)


@pytest.mark.parametrize("timers", [None, "default", "fast", "{advert_int: 2, version: 3}"])
def test_an_ipv6_group_is_vrrpv3_unicast_between_the_nodes_ipv6_addresses(
    timers: str | None,
) -> None:
    plan = v6_plan(timers)
    assert plan.warnings == ()  # the VIP is in the members' /64
    assert [n.hostname for n in plan.nodes] == ["node1", "node2", "node3"]
    for n in plan.nodes:
        own, others = SIX[n.hostname], [a for h, a in SIX.items() if h != n.hostname]
        [inst] = n.instances
        assert inst.timers.version == 3
        assert n.unicast_src == inst.unicast_src == own  # the agent finds its NIC by it
        assert list(inst.peers) == others
        conf = render_keepalived(n, STACK)
        assert "    version 3\n" in conf
        assert f"    unicast_src_ip {own}\n" in conf
        peers = "".join(f"        {p}\n" for p in others)
        assert f"    unicast_peer {{\n{peers}    }}\n" in conf
        assert f"        {VIP} dev $SWARMVIP_IFACE\n" in conf
        assert "10.213.0." not in conf  # the swarm's IPv4 addresses play no part


@pytest.mark.parametrize("timers", ["compat", "{advert_int: 1}", "{advert_int: 3, version: 2}"])
def test_vrrpv2_is_refused_for_an_ipv6_group(timers: str) -> None:
    """keepalived silently runs an IPv6 instance as VRRPv3 (measured, 2.2.7): a `compat` group
    would render no `version 3`, plan and status would say 2, and auth would be dropped."""
    with pytest.raises(ConfigError) as caught:
        parse_stack(v6_stack(timers), f"{STACK}.yml")
    [problem] = caught.value.problems
    assert problem.key == "x-swarmvip.vips.v6.timers"
    assert "VRRPv2 carries IPv4 only" in problem.message
    assert "version: 3" in problem.fix and problem.line == 5


def test_vrrpv2_stays_allowed_for_ipv4() -> None:
    spec = parse_stack(
        "x-swarmvip: {vips: {w: {addresses: [10.0.0.5/24], timers: compat}}}\n", "s.yml"
    )
    assert spec.groups[0].timers.version == 2


@pytest.fixture
def lab_netns(netns: str) -> str:
    """The conftest namespace with node1's lab IPv6 address on eth0 and its peer up (carrier)."""
    for cmd in (
        ["addr", "add", f"{SIX['node1']}/64", "dev", "eth0", "nodad"],
        ["link", "set", "peer0", "up"],
    ):
        subprocess.run(["ip", "-n", netns, *cmd], check=True)
    return netns


def _write(conf: str, tmp_path: Path) -> Path:
    (tmp_path / "node1.conf").write_text(conf)
    wrapper = tmp_path / "wrapper.conf"
    wrapper.write_text(f"$SWARMVIP_IFACE=eth0\ninclude {tmp_path / 'node1.conf'}\n")
    return wrapper


@pytest.mark.netns
def test_keepalived_accepts_and_runs_the_ipv6_config(lab_netns: str, tmp_path: Path) -> None:
    """`keepalived -t`, then the real daemon: its VRRP socket is IPv6 unicast from node1's
    address, and with no peer answering it takes the IPv6 VIP."""
    [node1] = [n for n in v6_plan().nodes if n.hostname == "node1"]
    conf = render_keepalived(
        node1, STACK, notify_fifo=str(tmp_path / "notify.fifo"), track_dir=str(tmp_path)
    )
    wrapper = _write(conf, tmp_path)
    checked = subprocess.run(
        ["ip", "netns", "exec", lab_netns, "keepalived", "-t", "-f", str(wrapper)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert checked.returncode == 0, checked.stderr + checked.stdout
    assert "WARNING" not in checked.stderr
    files = [f"-{flag}{tmp_path / name}" for flag, name in (("p", "k"), ("r", "v"), ("c", "c"))]
    daemon = subprocess.Popen(
        [
            "ip",
            "netns",
            "exec",
            lab_netns,
            "keepalived",
            "-n",
            "-l",
            "-D",
            "-f",
            str(wrapper),
            *files,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline, held = time.monotonic() + 10, False
        while time.monotonic() < deadline and not held:
            shown = subprocess.run(
                ["ip", "-n", lab_netns, "-6", "-o", "addr", "show", "dev", "eth0"],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
            held = f" {VIP} " in shown
            time.sleep(0.1)
    finally:
        daemon.terminate()
        log, _ = daemon.communicate(timeout=15)
    assert held, log
    assert "family(IPv6), proto(112)" in log and f"unicast, address({SIX['node1']})" in log
    assert "(v6) Entering MASTER STATE" in log
    assert "version 3 does not support" not in log and "cannot use IPv6" not in log
