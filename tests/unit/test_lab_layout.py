"""The lab's fixed layout: addresses, names and the docker arguments of a node."""

from __future__ import annotations

from pathlib import Path

import pytest
from swarmvip_lab import nodes as containers
from swarmvip_lab.clients import rename_script
from swarmvip_lab.engine import Engine, LabError
from swarmvip_lab.lab import Lab
from swarmvip_lab.layout import (
    DROP_DEFAULT_ROUTES,
    EMULATED_PRIVILEGED,
    GATEWAY6,
    NETWORK,
    SUBNET6,
    client_ip,
    client_ip6,
    make_nodes,
    network_create_args,
    network_problem,
    node_ip,
    node_ip6,
    node_run_args,
    vip,
    vip6,
    vip_offset,
)


def test_nodes_have_fixed_names_and_addresses() -> None:
    nodes = make_nodes(3, Path("/x"))
    assert [n.container for n in nodes] == [f"swarmvip-lab-node{i}" for i in (1, 2, 3)]
    assert [n.ip for n in nodes] == ["10.213.0.11", "10.213.0.12", "10.213.0.13"]
    assert [n.ip6 for n in nodes] == ["fd00:213::11", "fd00:213::12", "fd00:213::13"]
    assert nodes[1].docker_host == "unix:///x/node2/docker.sock"


@pytest.mark.parametrize(
    ("func", "arg", "expected"),
    [(node_ip, 1, "10.213.0.11"), (client_ip, 0, "10.213.0.50"), (client_ip, 49, "10.213.0.99")],
)
def test_address_ranges(func: object, arg: int, expected: str) -> None:
    assert str(func(arg)) == expected  # type: ignore[operator]


def test_vip_range_and_bounds() -> None:
    assert vip() == "10.213.0.100"
    assert vip(99) == "10.213.0.199"
    with pytest.raises(ValueError):
        vip(100)
    with pytest.raises(ValueError):
        client_ip(50)
    with pytest.raises(ValueError):
        node_ip(0)


def test_network_is_internal_with_fixed_subnet_and_label() -> None:
    args = network_create_args()
    assert "--internal" in args
    assert args[args.index("--subnet") + 1] == "10.213.0.0/24"
    assert "swarmvip.lab=1" in args
    assert args[-1] == NETWORK


def test_network_has_an_ipv6_subnet_too() -> None:
    args = network_create_args()
    assert "--ipv6" in args
    subnets = [args[i + 1] for i, a in enumerate(args) if a == "--subnet"]
    gateways = [args[i + 1] for i, a in enumerate(args) if a == "--gateway"]
    assert subnets == ["10.213.0.0/24", "fd00:213::/64"]  # IPv4 first: IPAM.Config[0]
    assert gateways == ["10.213.0.1", "fd00:213::1"]
    assert str(SUBNET6) == "fd00:213::/64" and str(GATEWAY6) == "fd00:213::1"


@pytest.mark.parametrize(
    ("func", "arg", "expected"),
    [
        (node_ip6, 1, "fd00:213::11"),
        (node_ip6, 39, "fd00:213::49"),
        (client_ip6, 0, "fd00:213::50"),
        (client_ip6, 49, "fd00:213::99"),
        (vip6, 0, "fd00:213::100"),
        (vip6, 1, "fd00:213::101"),
        (vip6, 99, "fd00:213::199"),
    ],
)
def test_ipv6_twins_read_like_the_ipv4_addresses(func: object, arg: int, expected: str) -> None:
    assert str(func(arg)) == expected  # type: ignore[operator]


def test_ipv6_twins_are_distinct_and_in_the_subnet() -> None:
    import ipaddress

    addresses = (
        [node_ip6(i) for i in range(1, 40)]
        + [client_ip6(s) for s in range(50)]
        + [ipaddress.IPv6Address(vip6(o)) for o in range(100)]
    )
    assert len(set(addresses)) == len(addresses) and GATEWAY6 not in addresses
    assert all(a in SUBNET6 for a in addresses)
    with pytest.raises(ValueError):
        vip6(100)
    with pytest.raises(ValueError):
        node_ip6(40)


def test_vip_offset_knows_both_families_of_the_vip_range() -> None:
    assert vip_offset("10.213.0.101") == vip_offset("fd00:213::101") == 1
    assert vip_offset(vip6(99)) == 99 and vip_offset("FD00:213:0::100") == 0
    for other in ("10.213.0.11", "fd00:213::11", "fd00:213::a0", "fd00:214::101", "10.0.0.101"):
        assert vip_offset(other) is None, other


@pytest.mark.parametrize(
    ("inspected", "problem"),
    [
        ("true true 10.213.0.0/24 fd00:213::/64 \n", None),
        ("true true fd00:213::/64 10.213.0.0/24", None),
        ("true false 10.213.0.0/24 ", "has no IPv6 subnet fd00:213::/64"),  # made before IPv6
        ("true true 10.213.0.0/24 fd00:99::/64", "has no IPv6 subnet fd00:213::/64"),
        ("false true 10.213.0.0/24 fd00:213::/64", "is not --internal"),
        ("true true 10.9.0.0/24 fd00:213::/64", "has no subnet 10.213.0.0/24"),
    ],
)
def test_network_problem(inspected: str, problem: str | None) -> None:
    assert network_problem(inspected) == problem


FAKE_DOCKER = """#!/bin/sh
echo "$*" >> "$0.log"
case "$*" in
  *"network inspect"*) [ -n "$NET" ] || exit 1; echo "$NET" ;;
  *"network create"*) echo made ;;
  *"ps -a"*) printf 'swarmvip-lab-node1\nswarmvip-lab-node2\n' ;;
  *"inspect --format {{.State.Status}}"*) echo running ;;
  *) echo "unexpected: $*" >&2; exit 9 ;;
esac
"""


@pytest.fixture
def fake_host(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Engine:
    binary = tmp_path / "docker"
    binary.write_text(FAKE_DOCKER)
    binary.chmod(0o755)
    monkeypatch.setenv("NET", "true false 10.213.0.0/24 ")  # a lab network from before IPv6
    return Engine(binary=str(binary))


def test_a_lab_whose_network_lacks_ipv6_is_recreated(
    fake_host: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # everything else about this lab is healthy: its nodes run the current image, their
    # engines answer, the swarm is as asked
    monkeypatch.setattr(containers, "run_current_image", lambda *_: True)
    monkeypatch.setattr(Engine, "answers", lambda *_, **__: True)
    monkeypatch.setattr(Lab, "_swarm_matches", lambda _: True)
    lab = Lab(nodes=2, host=fake_host, root=tmp_path)
    assert containers.outdated_network(fake_host) == "has no IPv6 subnet fd00:213::/64"
    assert lab.healthy() is False
    assert lab._repair() is False  # starting nodes cannot give them IPv6: recreate
    with pytest.raises(LabError, match=r"has no IPv6 subnet.*lab down"):
        containers.ensure_network(fake_host)
    monkeypatch.setenv("NET", "true true 10.213.0.0/24 fd00:213::/64")
    assert containers.outdated_network(fake_host) is None
    assert lab.healthy() is True
    containers.ensure_network(fake_host)  # current: nothing created
    monkeypatch.setenv("NET", "")
    assert containers.outdated_network(fake_host) is None  # absent: nothing to recreate
    containers.ensure_network(fake_host)
    log = Path(f"{fake_host.binary}.log").read_text().splitlines()
    assert log[-1] == " ".join(network_create_args())
    assert sum(line.startswith("network create") for line in log) == 1


def test_nodes_and_clients_get_no_default_route_of_either_family() -> None:
    assert "ip route del default" in DROP_DEFAULT_ROUTES
    assert "ip -6 route del default" in DROP_DEFAULT_ROUTES


def test_renaming_a_nic_restores_its_ipv6_addresses() -> None:
    """The kernel drops IPv6 addresses when the link goes down for the rename."""
    script = rename_script("eth0", "p5p1")
    assert "addrs6=$(ip -o -6 addr show dev eth0 scope global" in script
    assert 'for a in $addrs6; do ip -6 addr replace "$a" dev p5p1 nodad; done' in script
    assert script.index("addrs6=") < script.index("ip link set eth0 down")
    assert DROP_DEFAULT_ROUTES in script


@pytest.mark.parametrize("privileged", [True, False])
def test_node_run_args(privileged: bool) -> None:
    node = make_nodes(2, Path("/s"))[1]
    args = node_run_args(node, "img", privileged)
    assert ("--privileged" in args) is privileged
    assert (EMULATED_PRIVILEGED[0] in args) is not privileged
    assert args[args.index("--ip") + 1] == "10.213.0.12"
    assert args[args.index("--ip6") + 1] == "fd00:213::12"
    assert args[args.index("--restart") + 1] == "no"
    assert "/run" in args and "swarmvip-lab-node2-docker:/var/lib/docker" in args
    assert "/s/node2:/swarmvip-lab" in args
    assert "swarmvip.lab=1" in args
    assert args[-1] == "img"


def test_lab_id_relocates_names_subnet_state_and_labels() -> None:
    import json
    import os
    import subprocess
    import sys

    code = (
        "import json; from pathlib import Path; from swarmvip_lab import layout as l;"
        "n = l.make_nodes(1)[0];"
        "print(json.dumps([l.NETWORK, str(l.SUBNET), n.container, n.ip, str(l.client_ip(0)),"
        " l.vip(), str(l.state_dir()), l.LABEL_FILTER, l.network_create_args(),"
        " l.node_run_args(n, 'img', True), str(l.SUBNET6), n.ip6, l.vip6(1)]))"
    )
    env = {k: v for k, v in os.environ.items() if k != "SWARMVIP_LAB_DIR"}
    env["SWARMVIP_LAB_ID"] = "2"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    (net, subnet, container, ip, client, vip2, state, flt, net_args, run_args, *six) = json.loads(
        out.stdout
    )
    assert six == ["fd00:213:2::/64", "fd00:213:2::11", "fd00:213:2::101"]
    assert "fd00:213:2::/64" in net_args and "fd00:213:2::11" in run_args
    assert (net, subnet, container) == ("swarmvip-lab2", "10.213.2.0/24", "swarmvip-lab2-node1")
    assert (ip, client, vip2) == ("10.213.2.11", "10.213.2.50", "10.213.2.100")
    assert state == "/run/swarmvip-lab2" and flt == "label=swarmvip.lab.id=2"
    for args in (net_args, run_args):
        assert "swarmvip.lab.id=2" in args and "swarmvip.lab=2" in args
        assert "swarmvip.lab=1" not in args  # invisible to the default lab's down/repair
    assert "swarmvip-lab2-node1-docker:/var/lib/docker" in run_args
