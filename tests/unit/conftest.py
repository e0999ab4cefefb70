"""Fixtures shared by unit tests that run the real `keepalived -t` on rendered configs."""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator

import pytest


@pytest.fixture
def netns() -> Iterator[str]:
    """A namespace with an eth0 holding node1's addresses (IPv4 and IPv6), so keepalived -t
    sees a real NIC."""
    if os.geteuid() != 0 or not shutil.which("keepalived"):
        pytest.fail("keepalived -t tests need root and keepalived (run scripts/test.sh)")
    name = f"svt-{uuid.uuid4().hex[:8]}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        for cmd in (
            ["link", "add", "eth0", "type", "veth", "peer", "name", "peer0"],
            ["link", "set", "eth0", "up"],
            ["addr", "add", "10.213.0.11/24", "dev", "eth0"],
            ["addr", "add", "fd00::11/64", "dev", "eth0", "nodad"],
        ):
            subprocess.run(["ip", "-n", name, *cmd], check=True)
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False)
