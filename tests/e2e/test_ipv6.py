"""End to end: an IPv6 VIP group on the lab's IPv6 subnet (fd00:213::/64 for the default lab).

The swarm knows its nodes by their IPv4 addresses only; each node is labelled
`swarmvip.unicast6=<its lab IPv6 address>` (node N: fd00:213::(10+N)), and one group with the
VIP fd00:213::101/64 over all three nodes is deployed `--vip-only`. The tests check, in file
order on that one deployment: the keepalived config of every task is VRRPv3 with the node's
IPv6 address as source and the other two as unicast peers; exactly one node holds the VIP (its
interface, and `swarmvip status --json`); the holder's adverts really travel as VRRPv3 unicast
to each backup's IPv6 address (read with a raw socket inside the backups: the node image has no
tcpdump); killing the holder's keepalived task moves the VIP to another node within seconds;
`swarmvip rm` leaves no IPv6 VIP behind. The labels are removed whatever happens.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from swarmvip_lab import Lab
from swarmvip_lab.layout import SUBNET6, vip6

from swarmvip.wire.keys import NODE_UNICAST6
from swarmvip.wire.paths import KEEPALIVED_CONF

from .vip import docker, holders, owned_objects, swarmvip, vip_service, wait_for

pytestmark = pytest.mark.lab
STACK = "lab-v6"
GROUP = "v6"
VIP = vip6(1)  # fd00:213::101 on the default lab
PREFIX = SUBNET6.prefixlen
FAILOVER = 5.0  # seconds; default timers: 3 x 0.25 s + skew, measured ~1 s on a bare pair

STACK_FILE = f"""\
version: "3.8"

x-swarmvip:
  vips:
    {GROUP}:
      addresses: ["{VIP}/{PREFIX}"]
"""

# Run inside a node (python3 in the node image; the node container has CAP_NET_RAW): every
# VRRP packet over IPv6 (next header 112) seen on any interface for SECONDS, as JSON lines.
CAPTURE = """\
import ipaddress, json, socket, sys, time
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x86DD))
s.settimeout(0.2)
end = time.monotonic() + float(sys.argv[1])
while time.monotonic() < end:
    try:
        frame = s.recv(4096)
    except socket.timeout:
        continue
    if frame[12:14] != b"\\x86\\xdd" or frame[14 + 6] != 112:
        continue
    ip6, vrrp = frame[14:54], frame[54:]
    print(json.dumps({
        "src": str(ipaddress.ip_address(ip6[8:24])),
        "dst": str(ipaddress.ip_address(ip6[24:40])),
        "version": vrrp[0] >> 4, "type": vrrp[0] & 15, "vrid": vrrp[1], "priority": vrrp[2],
    }))
"""


@pytest.fixture(scope="module")
def stack_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    file = tmp_path_factory.mktemp("ipv6") / f"{STACK}.yml"
    file.write_text(STACK_FILE)
    return file


@pytest.fixture(scope="module")
def deployed(lab: Lab, stack_file: Path) -> Iterator[str]:
    try:
        for node in lab.nodes:
            docker(
                lab, "node", "update", "--label-add", f"{NODE_UNICAST6}={node.ip6}", node.hostname
            )
        result = swarmvip(lab, "deploy", "--vip-only", "--stack", STACK, str(stack_file))
        assert result.returncode == 0, result.stdout + result.stderr
        yield result.stdout
    finally:
        swarmvip(lab, "rm", STACK)  # a no-op after test_rm_…; the exit code is not the point
        for node in lab.nodes:
            docker(lab, "node", "update", "--label-rm", NODE_UNICAST6, node.hostname, check=False)


def node_docker(lab: Lab, hostname: str, *argv: str) -> subprocess.CompletedProcess[str]:
    """The docker CLI against one node's own engine (its task containers live there)."""
    return subprocess.run(
        ["docker", "-H", lab.node(hostname).docker_host, *argv],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def task_container(lab: Lab, hostname: str) -> str:
    """The id of the stack's running keepalived task container on a node ("" if none)."""
    service = vip_service(lab, STACK, hostname)
    if not service:
        return ""
    label = f"label=com.docker.swarm.service.name={service}"
    found = node_docker(lab, hostname, "ps", "-q", "--filter", label).stdout.split()
    return found[0] if found else ""


def rendered_config(lab: Lab, hostname: str) -> str:
    """The keepalived.conf the task runs (the swarm config mounted at KEEPALIVED_CONF)."""
    task = wait_for(f"{hostname}'s keepalived task", lambda: task_container(lab, hostname), 60)
    done = node_docker(lab, hostname, "exec", str(task), "cat", KEEPALIVED_CONF)
    assert done.returncode == 0, done.stderr
    return done.stdout


def status(lab: Lab, settled: bool = True) -> dict[str, Any]:
    """status --json; while a task restarts (not `settled`) a critical alarm (exit 1) is fine."""
    result = swarmvip(lab, "status", "--json", "--stack", STACK)
    assert result.returncode in ((0,) if settled else (0, 1)), result.stderr
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def one_holder(lab: Lab) -> str:
    """The single node carrying the VIP, or "" (none, or more than one)."""
    found = holders(lab, VIP)
    return found[0] if len(found) == 1 else ""


def status_agrees(lab: Lab, holder: str, settled: bool = True) -> dict[str, Any] | None:
    doc = status(lab, settled)
    vips = [v for v in doc["vips"] if v["name"] == GROUP]
    if not vips or vips[0]["holders"] != [holder]:
        return None
    states = {n["hostname"]: n["vrrp_state"].get(f"{STACK}/{GROUP}") for n in doc["nodes"]}
    want = {n.hostname: "MASTER" if n.hostname == holder else "BACKUP" for n in lab.nodes}
    return doc if states == want else None


def capture_vrrp(lab: Lab, hostname: str, seconds: float = 2.0) -> list[dict[str, Any]]:
    done = lab.exec(hostname, "python3", "-", str(seconds), input=CAPTURE, timeout=30)
    return [json.loads(line) for line in done.stdout.splitlines() if line.strip()]


def test_the_nodes_have_their_lab_ipv6_addresses_and_no_ipv6_way_out(lab: Lab) -> None:
    for node in lab.nodes:
        shown = lab.exec(node, "ip", "-6", "-o", "addr", "show", "scope", "global").stdout
        assert f" {node.ip6}/{PREFIX} " in shown, (node.name, shown)
        assert lab.exec(node, "ip", "-6", "route", "show", "default").stdout.strip() == ""
    first, *others = lab.nodes
    for other in others:
        ping = lab.exec(first, "ping", "-6", "-c1", "-W2", other.ip6, check=False)
        assert ping.returncode == 0, ping.stdout + ping.stderr


def test_every_config_is_vrrpv3_unicast_to_the_peers_ipv6_addresses(
    lab: Lab, deployed: str, stack_file: Path
) -> None:
    assert "3/3 keepalived tasks running" in deployed
    for node in lab.nodes:
        conf = rendered_config(lab, node.hostname)
        peers = "".join(f"        {n.ip6}\n" for n in lab.nodes if n != node)
        assert "    version 3\n" in conf, conf
        assert f"    unicast_src_ip {node.ip6}\n" in conf, conf
        assert f"    unicast_peer {{\n{peers}    }}\n" in conf, conf
        assert f"        {VIP}/{PREFIX} dev $SWARMVIP_IFACE\n" in conf, conf
        assert node.ip not in conf  # the swarm's IPv4 addresses play no part
    planned = swarmvip(lab, "plan", "--json", "--stack", STACK, str(stack_file))
    assert planned.returncode == 0, planned.stdout + planned.stderr
    plan = json.loads(planned.stdout)
    assert sorted(n["hostname"] for n in plan["nodes"]) == [n.hostname for n in lab.nodes]
    for n in plan["nodes"]:
        node = lab.node(n["hostname"])
        [inst] = n["instances"]
        assert n["action"] == "unchanged" and n["unicast_src"] == node.ip6
        assert inst["vrrp_version"] == 3
        assert inst["peers"] == [o.ip6 for o in lab.nodes if o != node]


def test_exactly_one_node_holds_the_ipv6_vip(lab: Lab, deployed: str) -> None:
    holder = wait_for("one holder of the IPv6 VIP", lambda: one_holder(lab), timeout=60)
    doc = wait_for("status sees it", lambda: status_agrees(lab, str(holder)), timeout=30)
    assert isinstance(doc, dict)
    [vip] = [v for v in doc["vips"] if v["name"] == GROUP]
    assert vip["addresses"] == [f"{VIP}/{PREFIX}"]
    assert vip["expected_holder"] == holder
    assert not [a for a in doc["alarms"] if a["severity"] == "critical"]
    for _ in range(10):  # and it stays one: no second MASTER flapping in
        assert holders(lab, VIP) == [holder]
        time.sleep(0.2)


def test_adverts_are_vrrpv3_unicast_from_the_holder_to_each_backup(lab: Lab, deployed: str) -> None:
    holder = str(wait_for("one holder", lambda: one_holder(lab), timeout=60))
    source = lab.node(holder).ip6
    vrid = int(rendered_config(lab, holder).split("virtual_router_id ")[1].split()[0])
    for backup in (n for n in lab.nodes if n.hostname != holder):
        seen = capture_vrrp(lab, backup.hostname)
        adverts = [p for p in seen if p["src"] == source]
        assert len(adverts) >= 4, (backup.name, seen)  # 2 s at advert_int 0.25
        # unicast to the peers' addresses (this backup sees its own), never to ff02::12
        assert backup.ip6 in {p["dst"] for p in adverts}, seen
        assert {p["dst"] for p in adverts} <= {n.ip6 for n in lab.nodes if n.hostname != holder}
        assert all(p["version"] == 3 and p["type"] == 1 and p["vrid"] == vrid for p in adverts)
        assert all(p["priority"] > 0 for p in adverts)


def test_killing_the_holders_keepalived_task_moves_the_vip(lab: Lab, deployed: str) -> None:
    holder = str(wait_for("one holder", lambda: one_holder(lab), timeout=60))
    target = task_container(lab, holder)
    assert target, f"{holder}'s keepalived task is not running"
    killed = time.monotonic()
    done = node_docker(lab, holder, "kill", target)
    assert done.returncode == 0, done.stderr
    # SIGKILL leaves the VIP on the killed holder's NIC until its task restarts and removes it
    taker = wait_for(
        "another node takes the IPv6 VIP",
        lambda: (others := [h for h in holders(lab, VIP) if h != holder]) and others,
        timeout=FAILOVER,
        interval=0.05,
    )
    moved = time.monotonic() - killed
    assert isinstance(taker, list) and len(taker) == 1, taker
    print(f"\nIPv6 holder's task killed: {taker[0]} held {VIP} {moved:.2f}s after docker kill")
    # the task restarts, removes the stale VIP and, preferred, takes it back: one holder again
    wait_for(f"{holder} holds again, alone", lambda: one_holder(lab) == holder, timeout=120)
    assert wait_for("status agrees", lambda: status_agrees(lab, holder, False), timeout=60)


def test_rm_leaves_no_ipv6_vip_behind(lab: Lab, deployed: str) -> None:
    result = swarmvip(lab, "rm", STACK)
    assert result.returncode == 0, result.stdout + result.stderr
    wait_for("no swarmvip object left", lambda: owned_objects(lab, STACK) == [], timeout=60)
    wait_for("the IPv6 VIP is gone from every node", lambda: holders(lab, VIP) == [], timeout=30)
