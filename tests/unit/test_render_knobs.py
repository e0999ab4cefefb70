"""Rendering the VIP-group knobs (garp, track_interfaces, interface): golden configs, and the
real `keepalived -t` on each with the parameters the agent defines."""

from __future__ import annotations

import dataclasses
import os
import subprocess
from pathlib import Path

import pytest

from swarmvip.model import Garp, InstanceOptions, TrackedInterface, VipInterface
from swarmvip.plan.build import build_plan
from swarmvip.render import garp_lines, render_keepalived, vip_dev

from .knobs_plan import NODES, knobs_spec, planned

GOLDEN = Path(__file__).with_name("golden_knobs")
HOSTS = ("node1", "node3")


def rendered() -> dict[str, str]:
    plan = planned(knobs_spec())
    return {n.hostname: render_keepalived(n, plan.stack) for n in plan.nodes}


@pytest.mark.parametrize("host", HOSTS)
def test_knobs_render_matches_golden(host: str) -> None:
    text = rendered()[host]
    golden = GOLDEN / f"knobs.{host}.conf"
    if os.environ.get("SWARMVIP_UPDATE_GOLDEN"):
        golden.parent.mkdir(exist_ok=True)
        golden.write_text(text)
    assert text == golden.read_text()


def _instance_block(conf: str, group: str) -> str:
    start = conf.index(f"vrrp_instance {group} {{")
    return conf[start : conf.index("\n}\n", start)]


def test_garp_tracked_interfaces_and_vip_nic_land_in_their_instance() -> None:
    conf = rendered()["node1"]
    web, lan, dmz = (_instance_block(conf, g) for g in ("web", "lan", "dmz-b"))
    assert "    garp_master_delay 2\n    garp_master_repeat 3\n" in web
    assert "    garp_master_refresh 60\n    garp_master_refresh_repeat 2\n" in web
    assert "track_interface {\n        eth1\n        eth2 weight -20\n    }" in web
    assert "10.213.0.100/24 dev $SWARMVIP_IFACE\n" in web
    # VRRP stays on the unicast NIC; the VIPs go on the group's own
    assert "interface $SWARMVIP_IFACE\n" in lan and "interface $SWARMVIP_IFACE\n" in dmz
    assert "10.1.0.100/24 dev $SWARMVIP_VIPIF_LAN\n" in lan
    assert "fd00:1::100/64 dev $SWARMVIP_VIPIF_DMZ_B\n" in dmz
    assert "garp_master_delay 0\n" in dmz and "garp_master_repeat" not in dmz
    assert "garp" not in lan and "track_interface" not in dmz


def test_defaults_render_nothing_new() -> None:
    plain = knobs_spec("x-swarmvip: {vips: {w: {addresses: [10.213.0.100/24]}}}\n")
    conf = render_keepalived(build_plan(plain, "s", NODES).nodes[0], "s")
    assert "garp" not in conf and "track_interface" not in conf and "VIPIF" not in conf


def test_helpers() -> None:
    [inst] = [i for i in planned(knobs_spec()).nodes[0].instances if i.group == "web"]
    assert vip_dev(inst) == "$SWARMVIP_IFACE"
    own = InstanceOptions(interface=VipInterface(name="eth1"))
    assert vip_dev(dataclasses.replace(inst, options=own)) == "$SWARMVIP_VIPIF_WEB"
    assert garp_lines(inst) == [
        ("garp_master_delay", 2),
        ("garp_master_repeat", 3),
        ("garp_master_refresh", 60),
        ("garp_master_refresh_repeat", 2),
    ]
    assert garp_lines(dataclasses.replace(inst, options=InstanceOptions(garp=Garp()))) == []
    assert TrackedInterface("eth1").weight == 0


def test_build_plan_carries_the_options() -> None:
    spec = knobs_spec()
    plan = build_plan(spec, "knobs", NODES)
    options = {g.name: g.options for g in spec.groups}
    assert all(i.options == options[i.group] for n in plan.nodes for i in n.instances)


@pytest.fixture
def knobs_netns(netns: str) -> str:
    """The conftest namespace plus eth1 (10.1.0.11/24) and eth2 (fd00:1::11/64)."""
    for cmd in (
        ["link", "add", "eth1", "type", "veth", "peer", "name", "peer1"],
        ["link", "add", "eth2", "type", "veth", "peer", "name", "peer2"],
        ["link", "set", "eth1", "up"],
        ["link", "set", "eth2", "up"],
        ["addr", "add", "10.1.0.11/24", "dev", "eth1"],
        ["addr", "add", "fd00:1::11/64", "dev", "eth2", "nodad"],
    ):
        subprocess.run(["ip", "-n", netns, *cmd], check=True)
    return netns


@pytest.mark.netns
@pytest.mark.parametrize("host", HOSTS)
def test_keepalived_accepts_the_knobs_goldens(host: str, knobs_netns: str, tmp_path: Path) -> None:
    wrapper = tmp_path / "wrapper.conf"
    wrapper.write_text(
        "$SWARMVIP_IFACE=eth0\n$SWARMVIP_VIPIF_LAN=eth1\n$SWARMVIP_VIPIF_DMZ_B=eth2\n"
        f"include {GOLDEN / f'knobs.{host}.conf'}\n"
    )
    result = subprocess.run(
        ["ip", "netns", "exec", knobs_netns, "keepalived", "-t", "-f", str(wrapper)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr + result.stdout
    assert "WARNING" not in result.stderr
