"""End to end: `interface: <network>` puts a group's VIP on each member's NIC in that network.

A second network (10.219.0.0/24, --internal, created for this module and removed after it) is
attached to every lab node, where it shows up as a second NIC with its own name. One group
names it by CIDR: its VIP must go on that NIC of the holder (never on eth0, which still carries
VRRP), and move to another node's NIC in the same network when the holder's task is killed.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from swarmvip_lab import Lab

from .vip import holders, owned_objects, swarmvip, vip_service, wait_for

pytestmark = pytest.mark.lab
STACK = "second-nic"
NETWORK = "swarmvip-e2e-second-nic"
SUBNET = "10.219.0"
VIP = f"{SUBNET}.100"

STACK_FILE = f"""\
version: "3.8"

x-swarmvip:
  vips:
    web:
      addresses: [{VIP}/24]
      interface: {SUBNET}.0/24
"""


def nic_with(lab: Lab, node: str, address: str) -> str | None:
    """The name of the node's interface that carries `address`, if any."""
    out = lab.exec(node, "ip", "-o", "-4", "addr", "show", check=False).stdout
    for line in out.splitlines():
        fields = line.split()
        if fields[3].split("/")[0] == address:
            return fields[1]
    return None


@pytest.fixture(scope="module")
def second_network(lab: Lab) -> Iterator[dict[str, str]]:
    """{hostname: its address in the second network}, attached to every node."""
    _remove_network(lab)  # one an interrupted run left, still attached to the nodes
    lab.host.run("network", "create", "--internal", "--subnet", f"{SUBNET}.0/24", NETWORK)
    addresses = {}
    try:
        for i, node in enumerate(lab.nodes, start=11):
            addresses[node.hostname] = f"{SUBNET}.{i}"
            lab.host.run("network", "connect", "--ip", f"{SUBNET}.{i}", NETWORK, node.container)
        yield addresses
    finally:
        _remove_network(lab)


def _remove_network(lab: Lab) -> None:
    for node in lab.nodes:
        lab.host.run("network", "disconnect", "-f", NETWORK, node.container, check=False)
    lab.host.run("network", "rm", NETWORK, check=False)


@pytest.fixture
def deployed(lab: Lab, second_network: dict[str, str], tmp_path: Path) -> Iterator[None]:
    file = tmp_path / f"{STACK}.yml"
    file.write_text(STACK_FILE)
    result = swarmvip(lab, "deploy", "--vip-only", str(file))
    try:
        assert result.returncode == 0, result.stdout + result.stderr
        yield
    finally:
        removed = swarmvip(lab, "rm", STACK)
        assert removed.returncode == 0, removed.stdout + removed.stderr
        wait_for("every object of the stack gone", lambda: not owned_objects(lab, STACK), 60)


def one_holder(lab: Lab, other_than: str = "") -> str:
    found = wait_for(
        "one holder" + (f" other than {other_than}" if other_than else ""),
        lambda: (h := holders(lab, VIP)) and len(h) == 1 and h[0] != other_than and h,
        60,
    )
    assert isinstance(found, list)
    return str(found[0])


def test_the_vip_goes_on_the_nic_in_the_named_network_and_moves_with_it(
    lab: Lab, second_network: dict[str, str], deployed: None
) -> None:
    holder = one_holder(lab)
    second_nic = nic_with(lab, holder, second_network[holder])
    assert second_nic is not None and second_nic != "eth0", second_nic
    assert nic_with(lab, holder, VIP) == second_nic  # the VIP sits beside the node's own address
    vrrp_nic = nic_with(lab, holder, lab.node(holder).ip)
    assert vrrp_nic is not None and vrrp_nic != second_nic  # VRRP stays on the swarm NIC

    service = vip_service(lab, STACK, holder)
    task = lab.engine(holder).out(
        "ps", "-q", "--filter", f"label=com.docker.swarm.service.name={service}"
    )
    assert task.strip(), f"no task of {service} on {holder}"
    subprocess.run(
        ["docker", "-H", lab.node(holder).docker_host, "kill", task.split()[0]],
        capture_output=True,
        check=False,
    )
    new = one_holder(lab, other_than=holder)
    assert nic_with(lab, new, VIP) == nic_with(lab, new, second_network[new])
