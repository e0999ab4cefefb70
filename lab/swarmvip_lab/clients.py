"""Client containers on the lab network (for probing VIPs) and the NIC-rename script."""

from __future__ import annotations

import shlex
import subprocess
from dataclasses import dataclass

from swarmvip_lab.engine import Engine, LabError
from swarmvip_lab.layout import (
    CLIENT_PREFIX,
    CLIENT_RANGE,
    DROP_DEFAULT_ROUTES,
    LABEL,
    LABEL_FILTER,
    NETWORK,
    client_ip,
    client_ip6,
    label_args,
)


@dataclass(frozen=True, slots=True)
class Client:
    """A long-running container on the lab bridge with no default route (IPv4 nor IPv6)."""

    name: str
    ip: str
    host: Engine
    ip6: str = ""

    def exec(
        self, *argv: str, timeout: float = 60.0, check: bool = True, input: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        flags = ["-i"] if input is not None else []
        return self.host.run(
            "exec", *flags, self.name, *argv, timeout=timeout, check=check, input=input
        )

    def get(self, url: str, timeout: float = 1.0) -> str:
        """One HTTP GET from the client: the answer's text, stripped, or "" on any failure."""
        out = self.exec(
            "python3",
            "-c",
            "import sys,urllib.request;"
            f"print(urllib.request.urlopen({url!r}, timeout={timeout})"
            ".read().decode().strip())",
            check=False,
            timeout=10,
        )
        return out.stdout.strip() if out.returncode == 0 else ""

    def remove(self) -> None:
        self.host.run("rm", "-f", self.name, check=False)


def used_slots(host: Engine) -> set[int]:
    out = host.out(
        "ps",
        "-a",
        "--filter",
        LABEL_FILTER,
        "--filter",
        f"label={LABEL}.client",
        "--format",
        f'{{{{.Label "{LABEL}.client"}}}}',
    )
    return {int(s) for s in out.split() if s.isdigit()}


def free_slot(host: Engine) -> int:
    used = used_slots(host)
    for slot in range(len(CLIENT_RANGE)):
        if slot not in used:
            return slot
    raise LabError(f"all client addresses {client_ip(0)}-{client_ip(49)} are in use")


def start_client(host: Engine, image: str, slot: int | None = None) -> Client:
    """`docker run` a sleeping client at the subnet's .50+slot (and its IPv6 twin) and drop
    its default routes."""
    slot = free_slot(host) if slot is None else slot
    ip, ip6, name = str(client_ip(slot)), str(client_ip6(slot)), f"{CLIENT_PREFIX}{slot}"
    host.run(
        "run",
        "-d",
        "--name",
        name,
        "--hostname",
        f"client{slot}",
        *label_args(),
        "--label",
        f"{LABEL}.client={slot}",
        "--network",
        NETWORK,
        "--ip",
        ip,
        "--ip6",
        ip6,
        "--cap-add",
        "NET_ADMIN",
        "--cap-add",
        "NET_RAW",
        "--entrypoint",
        "sleep",
        image,
        "infinity",
    )
    client = Client(name, ip, host, ip6)
    client.exec("sh", "-c", DROP_DEFAULT_ROUTES)
    return client


def rename_script(old: str, new: str) -> str:
    """Shell that renames a NIC and restores its IPv4 and global IPv6 addresses (a no-op when
    already done). The link goes down for the rename, and the kernel drops IPv6 addresses on
    down (keep_addr_on_down is 0): they come back without DAD (`nodad`), as Docker set them."""
    o, n = shlex.quote(old), shlex.quote(new)
    return (
        "set -e\n"
        f"if ! ip link show dev {o} >/dev/null 2>&1 && ip link show dev {n} >/dev/null 2>&1;"
        " then exit 0; fi\n"  # already renamed
        f"addrs=$(ip -o -4 addr show dev {o} | awk '{{print $4}}')\n"
        f"addrs6=$(ip -o -6 addr show dev {o} scope global | awk '{{print $4}}')\n"
        f"ip link set {o} down\n"
        f"ip link set {o} name {n}\n"
        f"ip link set {n} up\n"
        f'for a in $addrs; do ip addr replace "$a" dev {n}; done\n'
        f'for a in $addrs6; do ip -6 addr replace "$a" dev {n} nodad; done\n'
        f"{DROP_DEFAULT_ROUTES}\n"
    )
