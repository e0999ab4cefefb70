"""Lab wiring for the failover benchmark: the client probe, per-node VIP monitors, stacks.

Everything runs on the relocated lab (SWARMVIP_LAB_ID=2, subnet 10.213.2.0/24) through
`swarmvip_lab.Lab`. Helpers started with `docker exec -i` stop on stdin EOF (a killed exec
client would leave them running, see LAB-NOTES).
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from swarmvip_lab import Lab
from swarmvip_lab.clients import Client
from swarmvip_lab.probe import Probe
from swarmvip_lab.runner import docker
from swarmvip_lab.vipwatch import ClientArp, Monitor, NeighEvent

from bench.failover_metrics import Event, Request


def monitor(lab: Lab, node: str, vip: str) -> Monitor:
    """The VIP's adds and deletes on the node's eth0 (swarmvip_lab.vipwatch); a node that
    cannot run one yet simply shows no event."""
    return Monitor(lab, node, vip, device="eth0", strict=False, start_timeout=10)


class Watch:
    """A probe plus a monitor on every VIP node, for one measured window. After `stop`:
    `failed_why` (why each failed request failed) and `client_arp` (the client's ARP entry for
    the VIP: which MAC its requests went to), to line a failure up with its cause."""

    def __init__(self, lab: Lab, client: Client, vip: str, nodes: Sequence[str]) -> None:
        self.monitors = {n: monitor(lab, n, vip) for n in nodes}
        self.arp = ClientArp(lab, client.name, vip)
        self.probe = Probe(client, f"http://{vip}:8080/", seconds=120, open_loop=True)
        self.started = time.time()
        self.client_arp: list[NeighEvent] = []

    def holders(self, skip: Sequence[str] = ()) -> list[str]:
        return [n for n, m in self.monitors.items() if n not in skip and m.holds]

    def wait_holder(
        self, not_on: str | None, timeout: float, skip: Sequence[str] = ()
    ) -> str | None:
        """Wait (bounded) until exactly one node other than `not_on` holds the VIP."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            now = self.holders(skip)
            if len(now) == 1 and now[0] != not_on:
                return now[0]
            time.sleep(0.02)
        return None

    def stop(self) -> tuple[list[Request], dict[str, list[Event]], float]:
        ended = time.time()
        requests = self.probe.stop()
        self.client_arp = self.arp.stop()
        return requests, {n: m.stop() for n, m in self.monitors.items()}, ended

    def failures(self, t0: float) -> dict[str, list[list[Any]]]:
        """The run's record of what failed and what the client's ARP did (s after t0)."""
        return {
            "failed_why": [[round(t - t0, 3), why] for t, why in sorted(self.probe.errors.items())],
            "client_arp": [[round(t - t0, 3), mac, state] for t, mac, state in self.client_arp],
        }


def holders_now(lab: Lab, vip: str, nodes: Sequence[str]) -> list[str]:
    found = []
    for node in nodes:
        out = lab.exec(node, "ip", "-o", "-4", "addr", "show", "dev", "eth0", check=False)
        if out.returncode == 0 and f" {vip}/" in out.stdout:
            found.append(node)
    return found


def _stack_services(lab: Lab, stack: str, fmt: str, check: bool = True) -> list[str]:
    """`fmt` of every service of the stack and of its VIP layer, which swarmvip deploys as
    the docker stack `<stack>-vip`."""
    lines = []
    for namespace in (stack, f"{stack}-vip"):
        flt = f"label=com.docker.stack.namespace={namespace}"
        out = docker(lab, "service", "ls", "--filter", flt, "--format", fmt, check=check)
        lines += [line for line in out.split("\n") if line.strip()]
    return lines


def stack_tasks(lab: Lab, stack: str) -> dict[str, list[str]]:
    """{service: sorted running task ids} of a stack (its VIP layer included)."""
    names = _stack_services(lab, stack, "{{.Name}}")
    found = {}
    for name in names:
        out = docker(lab, "service", "ps", name, "--filter", "desired-state=running", "-q")
        found[name] = sorted(out.split())
    return found


def stack_converged(lab: Lab, stack: str) -> bool:
    """Every service of the stack (its VIP layer included) shows all its replicas running."""
    reps = [r.split()[0] for r in _stack_services(lab, stack, "{{.Replicas}}", check=False)]
    return bool(reps) and all(a == b and a != "0" for a, b in (r.split("/") for r in reps))


def wait_until(what: str, check: object, timeout: float, interval: float = 0.25) -> float:
    """Poll `check()` until truthy; returns the seconds it took; raises after `timeout`."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if check():  # type: ignore[operator]
            return time.monotonic() - started
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")


@contextmanager
def client(lab: Lab) -> Iterator[Client]:
    c = lab.run_client()
    try:
        yield c
    finally:
        c.remove()
