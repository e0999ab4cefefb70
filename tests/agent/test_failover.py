"""Two real agents + keepalived in two namespaces joined by a veth pair (VRRPv3, 0.1 s adverts)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from swarmvip.model import CheckKind, HealthCheck, NodePlan
from swarmvip.wire.report import Report
from tests.agent import agentlab as lab
from tests.agent.conftest import needs_root

pytestmark = [pytest.mark.netns, needs_root]
VIP = "10.77.0.100"
ADVERT = 0.1
# RFC 5798 unplanned bound (3 x advert + skew) plus scheduling slack; a planned stop is faster.
BOUND = 3 * ADVERT + 0.5


def _plans(checks: tuple[HealthCheck, ...] = ()) -> tuple[NodePlan, NodePlan]:
    a = lab.instance("10.77.0.1", ("10.77.0.2",), 150, checks=checks, advert=ADVERT)
    b = lab.instance("10.77.0.2", ("10.77.0.1",), 100, advert=ADVERT)
    return NodePlan("id-a", "node-a", None, "10.77.0.1", (a,)), NodePlan(
        "id-b", "node-b", None, "10.77.0.2", (b,)
    )


def _holder(r: Report) -> bool:
    return r.instances[0].vrrp_state == "MASTER" and r.instances[0].holds_vip


def _backup(r: Report) -> bool:
    return r.instances[0].vrrp_state == "BACKUP" and not r.instances[0].holds_vip


def _wait_single_holder(ns: str, other: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not (VIP in lab.addrs(ns, "eth0") and VIP not in lab.addrs(other, "eth0")):
        assert time.monotonic() < deadline, "no single holder"
        time.sleep(0.02)


def test_elect_then_sigterm_hands_over(
    pair: tuple[str, str], tmp_path: Path, agents: list[lab.AgentProc]
) -> None:
    a_plan, b_plan = _plans()
    a = lab.start_agent(pair[0], tmp_path / "a", a_plan)
    b = lab.start_agent(pair[1], tmp_path / "b", b_plan)
    agents += [a, b]
    a.wait_for(_holder)
    b.wait_for(_backup)
    _wait_single_holder(pair[0], pair[1])
    sampler = lab.Sampler(pair, VIP)
    sampler.start()
    time.sleep(0.3)
    t0 = time.monotonic()
    assert a.stop(signal.SIGTERM) == 0  # the agent exits with keepalived's status
    b.wait_for(_holder, timeout=5)
    time.sleep(0.2)
    sampler.stop()
    gap = sampler.handover_gap(t0, 0, 1)
    print(f"\nSIGTERM handover gap: {gap * 1000:.0f} ms (10 ms sampling)")
    assert gap < BOUND
    assert sampler.max_holders(t0) == 1
    assert a.reports[-1].keepalived == "stopped"
    assert VIP not in lab.addrs(pair[0], "eth0")
    assert b.stop() == 0


def test_sigkill_leaves_a_stale_vip_that_restart_removes(
    pair: tuple[str, str], tmp_path: Path, agents: list[lab.AgentProc]
) -> None:
    a_plan, b_plan = _plans()
    a = lab.start_agent(pair[0], tmp_path / "a", a_plan)
    b = lab.start_agent(pair[1], tmp_path / "b", b_plan)
    agents += [a, b]
    a.wait_for(_holder)
    _wait_single_holder(pair[0], pair[1])
    pids = [int(pid) for pid in lab.sh("ip", "netns", "pids", pair[0]).stdout.split()]
    # Freeze all first: keepalived's children have PR_SET_PDEATHSIG=SIGTERM, so killing
    # the parent before the VRRP child lets the child clean up the VIP (a race under load).
    for pid in pids:
        os.kill(pid, signal.SIGSTOP)
    for pid in pids:
        os.kill(pid, signal.SIGKILL)  # agent and keepalived, like a killed container
    a.proc.wait(5)
    b.wait_for(_holder, timeout=5)
    assert VIP in lab.addrs(pair[0], "eth0"), "SIGKILL should leave the VIP behind"
    a2 = lab.start_agent(pair[0], tmp_path / "a", a_plan)
    agents.append(a2)
    a2.wait_for(lambda r: r.keepalived == "running")
    assert "removed stale VIPs 10.77.0.100/24" in (tmp_path / "a" / "stderr.log").read_text()
    a2.wait_for(_holder, timeout=10)  # preferred: the higher priority takes it back
    _wait_single_holder(pair[0], pair[1])
    b.wait_for(_backup)
    assert a2.stop() == 0 and b.stop() == 0


def _listener(ns: str, port: int) -> subprocess.Popen[str]:
    code = (
        "import socket,sys;s=socket.socket();"
        "s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1);"
        f"s.bind(('127.0.0.1',{port}));s.listen();print('up',flush=True);sys.stdin.read()"
    )
    proc = subprocess.Popen(
        ["ip", "netns", "exec", ns, sys.executable, "-c", code],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "up"
    return proc


def test_failing_check_moves_the_vip_and_recovery_returns_it(
    pair: tuple[str, str], tmp_path: Path, agents: list[lab.AgentProc]
) -> None:
    check = HealthCheck(
        "svc",
        CheckKind.TCP,
        target="127.0.0.1:8081",
        interval=0.1,
        timeout=0.2,
        fall=2,
        rise=2,
        weight=-100,
    )
    a_plan, b_plan = _plans((check,))
    listener = _listener(pair[0], 8081)
    try:
        a = lab.start_agent(pair[0], tmp_path / "a", a_plan)
        b = lab.start_agent(pair[1], tmp_path / "b", b_plan)
        agents += [a, b]
        a.wait_for(lambda r: _holder(r) and dict(r.instances[0].checks) == {"svc": "ok"})
        _wait_single_holder(pair[0], pair[1])
        t0 = time.monotonic()
        listener.kill()
        listener.wait()
        a.wait_for(lambda r: dict(r.instances[0].checks) == {"svc": "failing"})
        b.wait_for(_holder, timeout=5)
        _wait_single_holder(pair[1], pair[0])
        print(f"\ncheck failure -> VIP moved in {time.monotonic() - t0:.2f} s")
        assert (tmp_path / "a" / "run" / "track" / "web.svc").read_text() == "1\n"
        listener = _listener(pair[0], 8081)
        t1, seen = time.monotonic(), len(a.reports)
        a.wait_for(_holder, start=seen)
        _wait_single_holder(pair[0], pair[1])
        print(f"check recovery -> VIP back in {time.monotonic() - t1:.2f} s")
        assert a.stop() == 0 and b.stop() == 0
    finally:
        listener.kill()
        listener.wait()
