"""The e2e fixture: one real 3-node swarm lab (1 manager) for the whole session.

Images are built when missing (same code as `swarmvip lab images`); the lab is reused when a
healthy one exists and removed at the end unless SWARMVIP_KEEP_LAB=1. Tests reach the lab
manager with `lab.manager_host` (a DOCKER_HOST url) or the `lab_docker_host` fixture; nothing
here changes the test process's environment.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator

import pytest
from swarmvip_lab import Lab
from swarmvip_lab.clients import Client
from swarmvip_lab.engine import host_engine


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
    yield the_lab
    if os.environ.get("SWARMVIP_KEEP_LAB") != "1":
        the_lab.down()


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
