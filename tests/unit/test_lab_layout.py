"""The lab's fixed layout: addresses, names and the docker arguments of a node."""

from __future__ import annotations

from pathlib import Path

import pytest
from swarmvip_lab.layout import (
    EMULATED_PRIVILEGED,
    NETWORK,
    client_ip,
    make_nodes,
    network_create_args,
    node_ip,
    node_run_args,
    vip,
)


def test_nodes_have_fixed_names_and_addresses() -> None:
    nodes = make_nodes(3, Path("/x"))
    assert [n.container for n in nodes] == [f"swarmvip-lab-node{i}" for i in (1, 2, 3)]
    assert [n.ip for n in nodes] == ["10.213.0.11", "10.213.0.12", "10.213.0.13"]
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


@pytest.mark.parametrize("privileged", [True, False])
def test_node_run_args(privileged: bool) -> None:
    node = make_nodes(2, Path("/s"))[1]
    args = node_run_args(node, "img", privileged)
    assert ("--privileged" in args) is privileged
    assert (EMULATED_PRIVILEGED[0] in args) is not privileged
    assert args[args.index("--ip") + 1] == "10.213.0.12"
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
        " l.node_run_args(n, 'img', True)]))"
    )
    env = {k: v for k, v in os.environ.items() if k != "SWARMVIP_LAB_DIR"}
    env["SWARMVIP_LAB_ID"] = "2"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    net, subnet, container, ip, client, vip2, state, flt, net_args, run_args = json.loads(
        out.stdout
    )
    assert (net, subnet, container) == ("swarmvip-lab2", "10.213.2.0/24", "swarmvip-lab2-node1")
    assert (ip, client, vip2) == ("10.213.2.11", "10.213.2.50", "10.213.2.100")
    assert state == "/run/swarmvip-lab2" and flt == "label=swarmvip.lab.id=2"
    for args in (net_args, run_args):
        assert "swarmvip.lab.id=2" in args and "swarmvip.lab=2" in args
        assert "swarmvip.lab=1" not in args  # invisible to the default lab's down/repair
    assert "swarmvip-lab2-node1-docker:/var/lib/docker" in run_args
