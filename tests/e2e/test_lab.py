"""The lab itself: a real 3-node swarm, images present, idempotent, sealed off from outside."""

from __future__ import annotations

import json

import pytest
from swarmvip_lab import Lab
from swarmvip_lab.engine import Engine
from swarmvip_lab.layout import NETWORK, SUBNET
from swarmvip_lab.swarm import list_nodes

import swarmvip

pytestmark = pytest.mark.lab


def test_swarm_has_three_ready_nodes(lab: Lab, lab_docker_host: str) -> None:
    listed = list_nodes(Engine(lab_docker_host))
    assert sorted(n.hostname for n in listed) == ["node1", "node2", "node3"]
    assert all(n.status == "Ready" for n in listed)
    assert [n.hostname for n in listed if n.manager] == ["node1"]


def test_agent_image_is_in_every_node(lab: Lab) -> None:
    for node in lab.nodes:
        assert lab.engine(node).image_exists(swarmvip.DEFAULT_IMAGE), node.name


def test_up_twice_is_a_noop(lab: Lab) -> None:
    before = [lab.host.out("inspect", "--format", "{{.Id}}", n.container) for n in lab.nodes]
    assert lab.up() is False
    after = [lab.host.out("inspect", "--format", "{{.Id}}", n.container) for n in lab.nodes]
    assert before == after


def test_network_is_internal_with_the_fixed_subnet(lab: Lab) -> None:
    info = json.loads(lab.host.out("network", "inspect", NETWORK))[0]
    assert info["Internal"] is True
    assert info["IPAM"]["Config"][0]["Subnet"] == str(SUBNET)


def test_nodes_have_no_default_route(lab: Lab) -> None:
    for node in lab.nodes:
        assert lab.exec(node, "ip", "route", "show", "default").stdout.strip() == "", node.name


def test_status_reports_every_node_ready(lab: Lab) -> None:
    rows = lab.status()
    assert [(r.name, r.ip, r.engine, r.swarm) for r in rows] == [
        (n.name, n.ip, True, "Ready") for n in lab.nodes
    ]


def test_client_reaches_nodes_but_has_no_way_out(lab: Lab) -> None:
    client = lab.run_client()
    try:
        assert client.ip.startswith("10.213.0.")
        assert client.exec("ip", "route", "show", "default").stdout.strip() == ""
        assert client.exec("ping", "-c1", "-W2", lab.nodes[1].ip, check=False).returncode == 0
    finally:
        client.remove()


def test_killed_node_comes_back_into_the_swarm(lab: Lab) -> None:
    node = lab.node("node2")
    lab.kill(node)
    assert lab.host.out("inspect", "--format", "{{.State.Status}}", node.container) == "exited"
    lab.start(node)
    assert lab.engine(node).answers()
    assert lab.exec(node, "ip", "route", "show", "default").stdout.strip() == ""
    assert lab.healthy()


def test_renamed_nic_keeps_the_swarm_working(lab: Lab) -> None:
    node = lab.node("node3")
    lab.rename_interface(node, "eth0", "p5p1")
    try:
        assert node.ip in lab.exec(node, "ip", "-4", "addr", "show", "dev", "p5p1").stdout
        manager = Engine(lab.manager_host)
        service = manager.out(
            "service", "create", "-q", "--detach=false", "--no-resolve-image",
            "--constraint", "node.hostname==node3", "--name", "swarmvip-lab-probe",
            "swarmvip/base:bookworm", "sleep", "infinity",
            timeout=90,
        )  # fmt: skip
        assert service
        assert manager.out("service", "ps", "-q", "--filter", "desired-state=running",
                           "swarmvip-lab-probe")  # fmt: skip
    finally:
        Engine(lab.manager_host).run("service", "rm", "swarmvip-lab-probe", check=False)
        lab.rename_interface(node, "p5p1", "eth0")
