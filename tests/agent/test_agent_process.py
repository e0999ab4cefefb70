"""The real agent process in a namespace: faults without keepalived, exit codes."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from swarmvip.model import NodePlan, NotifyHooks
from tests.agent import agentlab as lab
from tests.agent.conftest import needs_root

pytestmark = [pytest.mark.netns, needs_root]


def _node(src: str, vip: str, auth: str | None = None) -> NodePlan:
    inst = lab.instance(src, ("10.77.0.2",), 150, vip=vip, auth_secret=auth)
    return NodePlan("id-a", "node-a", None, src, (inst,))


def test_no_interface_is_a_fault_then_a_clean_exit(pair: tuple[str, str], tmp_path: Path) -> None:
    agent = lab.start_agent(pair[0], tmp_path, _node("192.0.2.9", "172.16.0.100/24"))
    try:
        fault = agent.wait_for(lambda r: r.kind == "fault")
        assert fault.reason is not None and "swarmvip.interface" in fault.reason
        assert fault.interface is None and fault.keepalived == "starting"
        agent.wait_for(lambda r: r.kind == "fault" and r.seq >= fault.seq + 2, timeout=5)
        assert (tmp_path / "run" / "waiting").exists()
    finally:
        assert agent.stop(signal.SIGTERM) == 0


def test_bad_secret_is_a_fault_that_never_shows_the_secret(
    pair: tuple[str, str], tmp_path: Path
) -> None:
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "s1").write_text("too long secret\n")
    agent = lab.start_agent(pair[0], tmp_path, _node("10.77.0.1", "10.77.0.100/24", "s1"))
    try:
        fault = agent.wait_for(lambda r: r.kind == "fault")
        assert fault.reason is not None and "auth secret" in fault.reason
    finally:
        assert agent.stop(signal.SIGINT) == 0
    assert all("too long" not in line for line in agent.lines)
    assert "too long" not in (tmp_path / "stderr.log").read_text()


def test_good_secret_reaches_keepalived(pair: tuple[str, str], tmp_path: Path) -> None:
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "s1").write_text("pw1\n")
    agent = lab.start_agent(pair[0], tmp_path, _node("10.77.0.1", "10.77.0.100/24", "s1"))
    try:
        agent.wait_for(lambda r: r.keepalived == "running" and r.interface == "eth0")
        wrapper = (tmp_path / "run" / "keepalived.conf").read_text()
        assert "$SWARMVIP_AUTH_WEB=pw1" in wrapper
        health = (tmp_path / "run" / "health.json").read_text()
        assert '"keepalived": "running"' in health
    finally:
        assert agent.stop() == 0
    assert all("pw1" not in line for line in agent.lines)


def _zombies_of(ppid: int) -> list[str]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if fields[0] == "Z" and int(fields[1]) == ppid:
            found.append(stat.parent.name)
    return found


def test_as_pid1_it_reaps_orphans_and_exits_on_sigterm(
    pair: tuple[str, str], tmp_path: Path
) -> None:
    """Like a container: a new PID namespace where the agent is PID 1 and a hook leaves orphans."""
    hook = ("/bin/sh", "-c", "sleep 0.2 & sleep 0.2 & exit 0")
    inst = lab.instance("10.77.0.1", ("10.77.0.2",), 150, notify=NotifyHooks(backup=hook))
    node = NodePlan("id-a", "node-a", None, "10.77.0.1", (inst,))
    wrap = ("unshare", "--pid", "--fork", "--mount-proc")
    agent = lab.start_agent(pair[0], tmp_path, node, wrap=wrap)
    try:
        agent.wait_for(lambda r: r.instances[0].vrrp_state in ("BACKUP", "MASTER"))
        children = Path(f"/proc/{agent.proc.pid}/task/{agent.proc.pid}/children").read_text()
        pid1 = int(children.split()[0])  # the agent, PID 1 inside
        time.sleep(1.5)
        assert _zombies_of(pid1) == []
        os.kill(pid1, signal.SIGTERM)
        assert agent.proc.wait(10) == 0
        assert agent.reports[-1].keepalived == "stopped"
    finally:
        if agent.proc.poll() is None:
            agent.proc.kill()
