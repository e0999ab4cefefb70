"""The e2e fixture: one real 3-node swarm lab (1 manager) for the whole session.

Images are built when missing (same code as `swarmvip lab images`); the lab is reused when a
healthy one exists and removed at the end unless SWARMVIP_KEEP_LAB=1. Tests reach the lab
manager with `lab.manager_host` (a DOCKER_HOST url) or the `lab_docker_host` fixture; nothing
here changes the test process's environment.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Iterator

import pytest
from swarmvip_lab import Lab
from swarmvip_lab.clients import Client
from swarmvip_lab.engine import host_engine
from swarmvip_lab.layout import LABEL, LABEL_FILTER, vip_offset
from swarmvip_lab.runner import docker


def _skip_reason() -> str | None:
    if os.geteuid() != 0:
        return "the lab needs root"
    if shutil.which("docker") is None:
        return "no docker CLI (run scripts/ensure-engine.sh)"
    if not host_engine().answers():
        return "no Docker Engine answers (run scripts/ensure-engine.sh)"
    return None


@pytest.fixture(scope="session")
def lab() -> Iterator[Lab]:
    reason = _skip_reason()
    if reason:  # a skipped e2e test must never pass for a real one
        pytest.fail(f"the e2e lab cannot run: {reason}")
    the_lab = Lab(nodes=3, managers=1)
    the_lab.up(build=True)
    _start_clean(the_lab)
    yield the_lab
    if os.environ.get("SWARMVIP_KEEP_LAB") != "1":
        the_lab.down()


def _start_clean(lab: Lab) -> None:
    """A reused lab may hold what an interrupted run left (services, configs, secrets, node
    labels, a drained node): the lab's swarm is the tests' alone, so wipe it. A writer's lease
    left in the swarm's labels expires by itself (taken over TTL after it is first seen)."""
    deadline = time.monotonic() + 60
    for kind in ("service", "config", "secret"):  # configs stay "in use" until tasks are gone
        while ids := docker(lab, kind, "ls", "-q", check=False).split():
            docker(lab, kind, "rm", *ids, check=False)
            if time.monotonic() > deadline:
                raise AssertionError(f"cannot clean the lab: {kind}s {ids} stay")
            time.sleep(1)
    for node in lab.nodes:
        labels = docker(
            lab, "node", "inspect", node.hostname, "--format", "{{json .Spec.Labels}}", check=False
        )
        args = [f"--label-rm={k}" for k in json.loads(labels or "{}") or {}]
        docker(lab, "node", "update", *args, "--availability", "active", node.hostname)
        _drop_stale_vips(lab, node.hostname)
    # this lab's clients only: another lab (a benchmark on lab 2) may run beside it
    stale_clients = lab.host.out(
        "ps", "-aq", "--filter", LABEL_FILTER, "--filter", f"label={LABEL}.client"
    ).split()
    if stale_clients:  # clients of an interrupted run (their probes may still be running)
        lab.host.run("rm", "-f", *stale_clients, check=False)


def _drop_stale_vips(lab: Lab, node: str) -> None:
    """A VIP an interrupted run left on a node's interface (its agent was killed) would answer
    ARP (or IPv6 neighbour solicitations) beside the real holder: remove every address of the
    VIP range, IPv4 (10.213.0.100-199) and IPv6 (fd00:213::100-199), from the node."""
    out = lab.exec(node, "ip", "-o", "addr", "show", check=False).stdout
    for line in out.splitlines():
        fields = line.split()
        if len(fields) < 4 or fields[2] not in ("inet", "inet6"):
            continue
        iface, cidr = fields[1], fields[3]
        if vip_offset(cidr.split("/")[0]) is not None:
            lab.exec(node, "ip", "addr", "del", cidr, "dev", iface, check=False)


@pytest.fixture(scope="session")
def lab_docker_host(lab: Lab) -> str:
    """DOCKER_HOST url of the lab manager, to pass to swarmvip / docker explicitly."""
    return lab.manager_host


@pytest.fixture(scope="module")
def client(lab: Lab) -> Iterator[Client]:
    """A client container on the lab network (probes VIPs), one per test module."""
    c = lab.run_client()
    yield c
    c.remove()
