"""The lab's fixed layout (pure): names, addresses and the `docker run` arguments of a node.

Addressing on the `swarmvip-lab` bridge, created `--internal` with subnet 10.213.0.0/24 and the
IPv6 subnet fd00:213::/64 (a ULA; `--ipv6`, which Docker 20.10 takes for a user-defined bridge
without the daemon's `ipv6` setting). Each IPv4 address has an IPv6 twin whose interface id is
written with the same digits as the last octet (10.213.0.11 <-> fd00:213::11):

- 10.213.0.1        fd00:213::1        the bridge (host side); nodes have no default route
- 10.213.0.11 ...   fd00:213::11 ...   node1, node2, ... (node N at .10+N, static `--ip`/`--ip6`)
- 10.213.0.50-99    fd00:213::50-99    client containers started by tests (`Lab.run_client`)
- 10.213.0.100-199  fd00:213::100-199  reserved for VIPs that stacks under test may claim

`SWARMVIP_LAB_ID` (read at import; default empty = the lab above) relocates a second lab beside
it: with `SWARMVIP_LAB_ID=2` names start `swarmvip-lab2-`, the subnets are 10.213.2.0/24 and
fd00:213:2::/64, the state dir /run/swarmvip-lab2, and its objects carry `swarmvip.lab=2` plus
`swarmvip.lab.id=2` (filtered on). They never carry `swarmvip.lab=1`, so no other lab's `down`
or repair sees them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address
from pathlib import Path

from swarmvip_lab.recipes import NODE_SOCKET_DIR

LAB_ID = os.environ.get("SWARMVIP_LAB_ID", "").strip()
if LAB_ID and not (LAB_ID.isdigit() and 1 <= int(LAB_ID) <= 255):
    raise ValueError(f"SWARMVIP_LAB_ID must be a number in 1..255, not {LAB_ID!r}")
LABEL = "swarmvip.lab"
ID_LABEL = f"{LABEL}.id"
# (key, value) pairs every lab object carries; the default lab's are unchanged.
LAB_LABELS = ((LABEL, LAB_ID), (ID_LABEL, LAB_ID)) if LAB_ID else ((LABEL, "1"),)
LABEL_FILTER = f"label={ID_LABEL}={LAB_ID}" if LAB_ID else f"label={LABEL}=1"
NETWORK = f"swarmvip-lab{LAB_ID}"
SUBNET = IPv4Network(f"10.213.{LAB_ID or 0}.0/24")
GATEWAY = SUBNET.network_address + 1
# The lab id's digits read as a hex group: lab 2 -> fd00:213:2::/64, lab 255 -> fd00:213:255::/64.
SUBNET6 = IPv6Network(f"fd00:213:{LAB_ID or 0}::/64")
NODE_BASE = 10
CLIENT_RANGE = range(50, 100)
VIP_RANGE = range(100, 200)
MAX_NODES = 39
CONTAINER_PREFIX = f"{NETWORK}-"
# Shell run in nodes and clients: Docker gives containers of an `--internal` network default
# routes (IPv4 and IPv6) through the bridge; nothing in the lab may leave the machine.
DROP_DEFAULT_ROUTES = (
    "ip route del default 2>/dev/null || true; ip -6 route del default 2>/dev/null || true"
)
CLIENT_PREFIX = f"{CONTAINER_PREFIX}client-"

# Emulates --privileged where the VM's bounding set lacks CAP_SYS_RESOURCE (see LAB-NOTES).
EMULATED_PRIVILEGED = (
    "--cap-add",
    "ALL",
    "--cap-drop",
    "SYS_RESOURCE",
    "--security-opt",
    "seccomp=unconfined",
    "--security-opt",
    "apparmor=unconfined",
    "--security-opt",
    "systempaths=unconfined",
    "--device-cgroup-rule",
    "a *:* rwm",
)


def state_dir() -> Path:
    """Where node sockets live on the host ($SWARMVIP_LAB_DIR, default /run/swarmvip-lab<ID>)."""
    return Path(os.environ.get("SWARMVIP_LAB_DIR", f"/run/{NETWORK}"))


def label_args() -> list[str]:
    """`--label k=v` arguments for every object of this lab."""
    return [arg for key, value in LAB_LABELS for arg in ("--label", f"{key}={value}")]


@dataclass(frozen=True, slots=True)
class Node:
    """One lab node: container `swarmvip-lab-nodeN`, hostname `nodeN`, addresses
    10.213.0.(10+N) and fd00:213::(10+N)."""

    index: int
    socket_dir: Path

    @property
    def hostname(self) -> str:
        return f"node{self.index}"

    @property
    def name(self) -> str:
        return self.hostname

    @property
    def container(self) -> str:
        return f"{CONTAINER_PREFIX}{self.hostname}"

    @property
    def volume(self) -> str:
        return f"{self.container}-docker"

    @property
    def ip(self) -> str:
        return str(node_ip(self.index))

    @property
    def ip6(self) -> str:
        return str(node_ip6(self.index))

    @property
    def socket(self) -> Path:
        return self.socket_dir / "docker.sock"

    @property
    def docker_host(self) -> str:
        return f"unix://{self.socket}"


def node_ip(index: int) -> IPv4Address:
    if not 1 <= index <= MAX_NODES:
        raise ValueError(f"node index {index} out of 1..{MAX_NODES}")
    return SUBNET.network_address + NODE_BASE + index


def twin6(address: IPv4Address) -> IPv6Address:
    """The IPv6 twin of a lab IPv4 address: 10.213.0.N -> fd00:213::N (N's decimal digits)."""
    if address not in SUBNET:
        raise ValueError(f"{address} is not in the lab subnet {SUBNET}")
    return SUBNET6.network_address + int(str(int(address) - int(SUBNET.network_address)), 16)


GATEWAY6 = twin6(GATEWAY)


def node_ip6(index: int) -> IPv6Address:
    """Node N's IPv6 address (fd00:213::(10+N), the twin of node_ip)."""
    return twin6(node_ip(index))


def client_ip(slot: int) -> IPv4Address:
    """The address of client slot 0..49 (10.213.0.50 + slot)."""
    if not 0 <= slot < len(CLIENT_RANGE):
        raise ValueError(f"client slot {slot} out of 0..{len(CLIENT_RANGE) - 1}")
    return SUBNET.network_address + CLIENT_RANGE.start + slot


def vip(offset: int = 0) -> str:
    """A VIP address from the reserved range (10.213.0.100 + offset)."""
    if not 0 <= offset < len(VIP_RANGE):
        raise ValueError(f"VIP offset {offset} out of 0..{len(VIP_RANGE) - 1}")
    return str(SUBNET.network_address + VIP_RANGE.start + offset)


def client_ip6(slot: int) -> IPv6Address:
    """The IPv6 address of client slot 0..49 (fd00:213::50 + slot's digits)."""
    return twin6(client_ip(slot))


def vip6(offset: int = 0) -> str:
    """An IPv6 VIP address from the reserved range (fd00:213::100 + offset's digits)."""
    return str(twin6(IPv4Address(vip(offset))))


def vip_offset(address: str) -> int | None:
    """The offset in the VIP range of a lab address of either family, None for any other."""
    found = ip_address(address)
    for offset in range(len(VIP_RANGE)):
        if found in (IPv4Address(vip(offset)), IPv6Address(vip6(offset))):
            return offset
    return None


NETWORK_FORMAT = "{{.Internal}} {{.EnableIPv6}} {{range .IPAM.Config}}{{.Subnet}} {{end}}"


def network_problem(inspected: str) -> str | None:
    """What is wrong with an existing lab network, given `docker network inspect --format
    NETWORK_FORMAT` of it (None: as layout wants it). A network made before the lab had IPv6
    has neither `EnableIPv6` nor the IPv6 subnet."""
    internal, ipv6, *subnets = inspected.split()
    if internal != "true":
        return "is not --internal"
    if ipv6 != "true" or str(SUBNET6) not in subnets:
        return f"has no IPv6 subnet {SUBNET6}"
    if str(SUBNET) not in subnets:
        return f"has no subnet {SUBNET}"
    return None


def make_nodes(count: int, root: Path | None = None) -> tuple[Node, ...]:
    base = root or state_dir()
    return tuple(Node(i, base / f"node{i}") for i in range(1, count + 1))


def network_create_args() -> list[str]:
    return [
        "network",
        "create",
        "--driver",
        "bridge",
        "--internal",
        "--subnet",
        str(SUBNET),
        "--gateway",
        str(GATEWAY),
        "--ipv6",
        "--subnet",
        str(SUBNET6),
        "--gateway",
        str(GATEWAY6),
        *label_args(),
        NETWORK,
    ]


def node_run_args(node: Node, image: str, privileged: bool) -> list[str]:
    """`docker run` arguments that create and start one node."""
    mode = ["--privileged"] if privileged else list(EMULATED_PRIVILEGED)
    return [
        "run",
        "-d",
        "--name",
        node.container,
        "--hostname",
        node.hostname,
        *label_args(),
        "--label",
        f"{LABEL}.node={node.hostname}",
        *mode,
        "--network",
        NETWORK,
        "--ip",
        node.ip,
        "--ip6",
        node.ip6,
        "--tmpfs",
        "/run",
        "--tmpfs",
        "/tmp",
        "-v",
        f"{node.volume}:/var/lib/docker",
        "-v",
        f"{node.socket_dir}:{NODE_SOCKET_DIR}",
        "--restart",
        "no",
        image,
    ]


def volume_create_args(node: Node) -> list[str]:
    return ["volume", "create", *label_args(), node.volume]
