"""Faults injected into lab nodes: network partitions, a daemon restart, a reboot, a flapping
link and CPU pressure. Used by the fault campaign (bench/faults.py) and its e2e smoke test.

Everything runs inside a node container's own network namespace through `docker exec` on the
host engine (a unix socket: a partitioned or link-down node can still be reached). The scripts
are pure text (unit-tested) and bounded in time: a busy loop or a flapping loop ends by itself
even when the exec client dies (LAB-NOTES: `docker exec` children outlive their client).

- partition from peers: iptables rules in two chains of their own (`SWARMVIP-FAULT-IN` /
  `-OUT`) and arptables rules (INPUT/OUTPUT, which the node's dockerd never uses).
- partition from everyone: layer 2, every frame of eth0 redirected by tc to a down ifb device
  (see `isolate_lines`: netfilter misses keepalived's gratuitous ARPs). `heal` removes both.
- dockerd restart: dockerd is the node container's PID 1 (the entrypoint `exec`s it), so a
  SIGTERM is the daemon's orderly shutdown (its containers get their stop signal, as with
  `systemctl stop docker`) and the container exits with it; `Lab.start` starts it again.
"""

from __future__ import annotations

import shlex
import time
from collections.abc import Sequence

from swarmvip_lab.engine import LabError
from swarmvip_lab.lab import Lab

CHAIN_IN = "SWARMVIP-FAULT-IN"
CHAIN_OUT = "SWARMVIP-FAULT-OUT"
VRRP = "112"  # IP protocol number of VRRP
SINK = "svfault0"  # an ifb device, kept down: frames redirected to it are dropped


def partition_script(peers: Sequence[str] = (), vrrp_only: bool = False, dev: str = "eth0") -> str:
    """Shell that cuts this node off from `peers` (addresses) in both directions: every IP
    packet and ARP, or only VRRP (`vrrp_only`), with iptables/arptables. No peers: everything
    on `dev` (`isolate_lines`)."""
    if not peers:
        return isolate_lines(dev)
    lines = ["set -e"]
    for chain, hook in ((CHAIN_IN, "INPUT"), (CHAIN_OUT, "OUTPUT")):
        lines += [
            f"iptables -N {chain} 2>/dev/null || iptables -F {chain}",
            f"iptables -C {hook} -j {chain} 2>/dev/null || iptables -I {hook} 1 -j {chain}",
        ]
    proto = f" -p {VRRP}" if vrrp_only else ""
    for peer in peers:
        p = shlex.quote(peer)
        lines += [
            f"iptables -A {CHAIN_IN} -s {p}{proto} -j DROP",
            f"iptables -A {CHAIN_OUT} -d {p}{proto} -j DROP",
        ]
        if not vrrp_only:
            lines += [f"arptables -A INPUT -s {p} -j DROP", f"arptables -A OUTPUT -d {p} -j DROP"]
    return "\n".join(lines) + "\n"


def isolate_lines(dev: str = "eth0") -> str:
    """Shell that drops every frame `dev` sends or receives, at layer 2: tc filters on a
    `clsact` qdisc redirect all of them to an ifb device that stays down (this kernel has no
    gact/matchall; mirred and u32 are there). Netfilter would not do: keepalived sends its
    gratuitous ARPs on a packet socket, which arptables never sees, so an "isolated" node
    that took the VIP would still steal the clients' ARP entries."""
    d = shlex.quote(dev)
    redirect = f"u32 match u32 0 0 action mirred egress redirect dev {SINK}"
    return (
        "set -e\n"
        f"ip link add {SINK} type ifb 2>/dev/null || true\n"
        f"ip link set {SINK} down\n"
        f"tc qdisc replace dev {d} clsact\n"
        f"tc filter add dev {d} egress protocol all prio 1 {redirect}\n"
        f"tc filter add dev {d} ingress protocol all prio 1 {redirect}\n"
    )


def heal_script(dev: str = "eth0") -> str:
    """Shell that removes what `partition_script` added (idempotent)."""
    lines = []
    for chain, hook in ((CHAIN_IN, "INPUT"), (CHAIN_OUT, "OUTPUT")):
        lines += [
            f"while iptables -D {hook} -j {chain} 2>/dev/null; do :; done",
            f"iptables -F {chain} 2>/dev/null || true",
            f"iptables -X {chain} 2>/dev/null || true",
        ]
    lines += [
        "arptables -F INPUT",
        "arptables -F OUTPUT",
        f"tc qdisc del dev {shlex.quote(dev)} clsact 2>/dev/null || true",
        f"ip link del {SINK} 2>/dev/null || true",
    ]
    return "\n".join(lines) + "\n"


def flap_script(cycles: int, down: float, up: float, dev: str = "eth0") -> str:
    """Shell that takes `dev` down for `down` s and up for `up` s, `cycles` times, keeping its
    IPv6 addresses across the downs (keep_addr_on_down), then restores that setting."""
    d = shlex.quote(dev)
    sysctl = f"/proc/sys/net/ipv6/conf/{dev}/keep_addr_on_down"
    return (
        f"old=$(cat {sysctl} 2>/dev/null || echo 0)\n"
        f"echo 1 > {sysctl} 2>/dev/null || true\n"
        f"i=0; while [ $i -lt {int(cycles)} ]; do\n"
        f"  ip link set {d} down; sleep {down:g}; ip link set {d} up; sleep {up:g}\n"
        "  i=$((i+1))\n"
        "done\n"
        f"ip link set {d} up\n"
        f'echo "$old" > {sysctl} 2>/dev/null || true\n'
    )


# Prints the largest scheduling delay (s) a 10 ms sleep loop saw: the CPU-pressure margin.
LATENCY = (
    "import sys, time\n"
    "end, worst = time.monotonic() + float(sys.argv[1]), 0.0\n"
    "while time.monotonic() < end:\n"
    "    t = time.monotonic(); time.sleep(0.01); worst = max(worst, time.monotonic() - t - 0.01)\n"
    "print(worst)\n"
)


def hog_script(seconds: float, cpus: int) -> str:
    """Shell that runs one busy loop pinned to each of CPUs 0..cpus-1 for `seconds` (bounded
    by `timeout`, so the loops end even if nobody waits for them), while a 10 ms sleep loop
    measures the worst scheduling delay, which it prints."""
    s = f"{seconds:g}"
    loops = "".join(
        f"timeout {s} taskset -c {c} sh -c 'while :; do :; done' &\n" for c in range(cpus)
    )
    return f"{loops}python3 -c {shlex.quote(LATENCY)} {s}\nwait\n"


def partition(lab: Lab, node: str, peers: Sequence[str] = (), vrrp_only: bool = False) -> None:
    """Cut `node` off from `peers` (lab node names or addresses; empty: from everyone)."""
    addresses = [lab.node(p).ip for p in peers]
    lab.exec(node, "sh", "-c", partition_script(addresses, vrrp_only), timeout=30)


def heal(lab: Lab, node: str) -> None:
    lab.exec(node, "sh", "-c", heal_script(), timeout=30, check=False)


def flap_link(lab: Lab, node: str, seconds: float, period: float = 2.0) -> None:
    """Down/up the node's eth0 once every `period` s for `seconds` (blocks meanwhile)."""
    cycles = max(1, round(seconds / period))
    script = flap_script(cycles, period / 2, period / 2)
    lab.exec(node, "sh", "-c", script, timeout=seconds + 30)


def hog_cpu(lab: Lab, node: str, seconds: float, cpus: int | None = None) -> float:
    """Saturate the node's CPUs for `seconds` (blocks); returns the worst scheduling delay a
    10 ms sleep loop saw on that node meanwhile."""
    count = cpus or int(lab.exec(node, "nproc").stdout.strip() or "1")
    done = lab.exec(node, "sh", "-c", hog_script(seconds, count), timeout=seconds + 60)
    lines = done.stdout.split()
    return float(lines[-1]) if lines else float("nan")


def stop_dockerd(lab: Lab, node: str, timeout: float = 60.0) -> float:
    """SIGTERM the node's dockerd (its PID 1: an orderly daemon shutdown) and wait until the
    node container has exited; returns how long that took. Killed after `timeout`."""
    container = lab.node(node).container
    started = time.monotonic()
    lab.exec(node, "kill", "-TERM", "1", check=False)
    while time.monotonic() - started < timeout:
        state = lab.host.run("inspect", "-f", "{{.State.Running}}", container, check=False)
        if state.stdout.strip() == "false":
            return time.monotonic() - started
        time.sleep(0.2)
    lab.kill(node)
    raise LabError(f"{node}: dockerd did not stop within {timeout:.0f}s (killed)")


def restart_dockerd(lab: Lab, node: str) -> float:
    """Stop the node's dockerd (see `stop_dockerd`) and start it again; returns the seconds
    the daemon took to stop."""
    took = stop_dockerd(lab, node)
    lab.start(node)
    return took


def reboot(lab: Lab, node: str) -> None:
    """Crash the node (SIGKILL its container: no shutdown at all) and boot it again."""
    lab.kill(node)
    lab.start(node)
