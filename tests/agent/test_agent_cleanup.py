"""No VIP left behind (audit 11), with real agents and keepalived in network namespaces.

* a keepalived that dies: its VIP is removed at once, not after the restart back-off;
* a stop with a keepalived that ignores it: the agent kills it in time and removes the VIP;
* two agents of one stack on one host (one namespace): the second waits for the first and
  never takes its VIP nor runs a second keepalived with the same VRID.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from swarmvip.model import NodePlan
from swarmvip.wire.report import Report
from tests.agent import agentlab as lab
from tests.agent.conftest import needs_root

pytestmark = [pytest.mark.netns, needs_root]
VIP = "10.77.0.100"


def _plans() -> tuple[NodePlan, NodePlan]:
    a = lab.instance("10.77.0.1", ("10.77.0.2",), 150)
    b = lab.instance("10.77.0.2", ("10.77.0.1",), 100)
    return NodePlan("id-a", "node-a", None, "10.77.0.1", (a,)), NodePlan(
        "id-b", "node-b", None, "10.77.0.2", (b,)
    )


def _holder(r: Report) -> bool:
    return r.instances[0].vrrp_state == "MASTER" and r.instances[0].holds_vip


def _pid(path: Path) -> int:
    return int(path.read_text().split()[0])


def _keepalived_pids(workdir: Path) -> tuple[int, int]:
    """(parent, VRRP child) of the agent's keepalived, from its pid files."""
    run = workdir / "run"
    deadline = time.monotonic() + 5
    while not (run / "vrrp.pid").exists() or not (run / "keepalived.pid").exists():
        assert time.monotonic() < deadline, "no keepalived pid files"
        time.sleep(0.05)
    return _pid(run / "keepalived.pid"), _pid(run / "vrrp.pid")


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_a_crashed_keepalived_loses_its_vip_before_the_restart(
    pair: tuple[str, str], tmp_path: Path, agents: list[lab.AgentProc]
) -> None:
    a_plan, b_plan = _plans()
    a = lab.start_agent(pair[0], tmp_path / "a", a_plan)
    b = lab.start_agent(pair[1], tmp_path / "b", b_plan)
    agents += [a, b]
    a.wait_for(_holder)
    parent, child = _keepalived_pids(tmp_path / "a")
    seen = len(a.reports)
    os.kill(child, signal.SIGSTOP)  # so that it cannot clean up when its parent dies
    os.kill(parent, signal.SIGKILL)
    os.kill(child, signal.SIGKILL)  # a crash: nobody but the agent removes the VIP now
    a.wait_for(lambda r: r.keepalived == "exited", start=seen)
    assert VIP not in lab.addrs(pair[0], "eth0"), "the VIP must go before the back-off ends"
    b.wait_for(_holder, timeout=5)
    assert "removed stale VIPs 10.77.0.100/24" in (tmp_path / "a" / "stderr.log").read_text()
    a.wait_for(lambda r: r.keepalived == "running", start=seen)
    a.wait_for(_holder, start=seen, timeout=10)  # restarted, takes it back (preferred)
    assert a.stop() == 0 and b.stop() == 0


def test_a_stop_removes_the_vip_even_if_keepalived_ignores_it(
    pair: tuple[str, str], tmp_path: Path, agents: list[lab.AgentProc]
) -> None:
    a_plan, b_plan = _plans()
    a = lab.start_agent(pair[0], tmp_path / "a", a_plan, "--stop-grace", "2")  # bound: 1 s
    b = lab.start_agent(pair[1], tmp_path / "b", b_plan)
    agents += [a, b]
    a.wait_for(_holder)
    parent, child = _keepalived_pids(tmp_path / "a")
    for pid in (child, parent):
        os.kill(pid, signal.SIGSTOP)  # a keepalived that never acts on SIGTERM
    b.wait_for(_holder, timeout=5)
    assert VIP in lab.addrs(pair[0], "eth0")  # a stopped keepalived removes nothing
    t0 = time.monotonic()
    assert a.stop(signal.SIGTERM, timeout=5) == 0
    took = time.monotonic() - t0
    print(f"\nstop with a stuck keepalived: {took:.2f} s (grace 2 s)")
    assert took < 2.0, "the agent must finish inside the stop grace period"
    assert VIP not in lab.addrs(pair[0], "eth0")
    assert not _alive(parent) and not _alive(child)
    assert "did not stop within 1s" in (tmp_path / "a" / "stderr.log").read_text()
    assert a.reports[-1].keepalived == "stopped"
    assert b.stop() == 0


def test_two_agents_on_one_host_never_take_each_others_vip(
    pair: tuple[str, str], tmp_path: Path, agents: list[lab.AgentProc]
) -> None:
    a_plan, b_plan = _plans()
    first = lab.start_agent(pair[0], tmp_path / "a1", a_plan)
    b = lab.start_agent(pair[1], tmp_path / "b", b_plan)
    agents += [first, b]
    first.wait_for(_holder)
    sampler = lab.Sampler(pair, VIP)
    sampler.start()
    t0 = time.monotonic()

    # An orchestrator restart while the old container still runs: same stack, same host.
    second = lab.start_agent(pair[0], tmp_path / "a2", a_plan)
    agents.append(second)
    fault = second.wait_for(lambda r: r.kind == "fault")
    assert fault.reason is not None and "waiting for the previous agent" in fault.reason
    assert fault.keepalived == "starting"
    time.sleep(1.5)
    assert not (tmp_path / "a2" / "run" / "keepalived.pid").exists(), "a second keepalived ran"
    held = [h for t, h in sampler.samples if t >= t0]
    assert held and all(h == (True, False) for h in held), "the VIP left the live MASTER"
    assert (tmp_path / "a2" / "run" / "waiting").exists()  # healthy while it waits

    # A waiting agent told to stop exits cleanly and touches nothing.
    assert second.stop() == 0
    assert VIP in lab.addrs(pair[0], "eth0")

    # The next one takes over once the previous agent is gone.
    third = lab.start_agent(pair[0], tmp_path / "a3", a_plan)
    agents.append(third)
    third.wait_for(lambda r: r.kind == "fault")
    assert first.stop() == 0
    third.wait_for(lambda r: r.keepalived == "running", timeout=10)
    third.wait_for(_holder, timeout=10)
    sampler.stop()
    assert third.stop() == 0 and b.stop() == 0
