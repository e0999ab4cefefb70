"""Fixtures for agent tests in network namespaces (root only); every namespace is deleted."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator

import pytest

from tests.agent import agentlab as lab

needs_root = pytest.mark.skipif(
    os.geteuid() != 0 or not shutil.which("ip"), reason="needs root and iproute2"
)


@pytest.fixture
def make_ns() -> Iterator[Callable[[str], str]]:
    created: list[str] = []

    def make(tag: str) -> str:
        name = lab.unique_ns(tag)
        lab.add_ns(name)
        created.append(name)
        return name

    yield make
    for name in created:
        lab.del_ns(name)


@pytest.fixture
def pair(make_ns: Callable[[str], str]) -> tuple[str, str]:
    """Two namespaces joined by a veth pair named eth0 on both sides: 10.77.0.1/.2 /24."""
    a, b = make_ns("a"), make_ns("b")
    lab.veth(a, "eth0", b, "eth0")
    lab.sh("ip", "-n", a, "addr", "add", "10.77.0.1/24", "dev", "eth0")
    lab.sh("ip", "-n", b, "addr", "add", "10.77.0.2/24", "dev", "eth0")
    return a, b


@pytest.fixture
def agents(make_ns: Callable[[str], str]) -> Iterator[list[lab.AgentProc]]:
    """Agents a test started: killed at the end if still running (before the namespaces go)."""
    started: list[lab.AgentProc] = []
    yield started
    for agent in started:
        if agent.proc.poll() is None:
            agent.proc.kill()
            agent.proc.wait(5)
