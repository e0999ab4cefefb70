"""Measure the agent: RSS of agent + keepalived per node, and the SIGTERM handover gap.

Runs two real agents in two network namespaces (root), like tests/agent/test_failover.py,
and writes bench/results/agent.md. Usage: .venv/bin/python bench/agent_memory.py [RUNS]
"""

from __future__ import annotations

import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

from swarmvip.model import NodePlan
from tests.agent import agentlab as lab

VIP = "10.77.0.100"
OUT = Path(__file__).parent / "results" / "agent.md"


def rss_kib(ns: str) -> dict[str, int]:
    """VmRSS (KiB) of each process in ns, keyed by 'pid comm'."""
    found = {}
    for pid in lab.sh("ip", "netns", "pids", ns).stdout.split():
        status = Path(f"/proc/{pid}/status").read_text()
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        found[f"{pid} {fields['Name'].strip()}"] = int(fields["VmRSS"].split()[0])
    return found


def one_run(workdir: Path) -> tuple[float, dict[str, int]]:
    a, b = lab.unique_ns("a"), lab.unique_ns("b")
    lab.add_ns(a), lab.add_ns(b)
    try:
        lab.veth(a, "eth0", b, "eth0")
        lab.sh("ip", "-n", a, "addr", "add", "10.77.0.1/24", "dev", "eth0")
        lab.sh("ip", "-n", b, "addr", "add", "10.77.0.2/24", "dev", "eth0")
        ia = lab.instance("10.77.0.1", ("10.77.0.2",), 150)
        ib = lab.instance("10.77.0.2", ("10.77.0.1",), 100)
        ga = lab.start_agent(a, workdir / "a", NodePlan("a", "a", None, "10.77.0.1", (ia,)))
        gb = lab.start_agent(b, workdir / "b", NodePlan("b", "b", None, "10.77.0.2", (ib,)))
        ga.wait_for(lambda r: r.instances[0].holds_vip)
        time.sleep(2.0)  # settle: heartbeats, a few adverts
        memory = rss_kib(a)
        sampler = lab.Sampler((a, b), VIP)
        sampler.start()
        time.sleep(0.3)
        t0 = time.monotonic()
        ga.stop(signal.SIGTERM)
        gb.wait_for(lambda r: r.instances[0].holds_vip, timeout=5)
        time.sleep(0.2)
        sampler.stop()
        gb.stop()
        return sampler.handover_gap(t0, 0, 1), memory
    finally:
        lab.del_ns(a), lab.del_ns(b)


def main(runs: int) -> int:
    gaps, mems = [], []
    for i in range(runs):
        with tempfile.TemporaryDirectory() as tmp:
            gap, memory = one_run(Path(tmp))
        gaps.append(gap * 1000)
        mems.append(memory)
        print(f"run {i + 1}: gap {gap * 1000:.0f} ms, rss {memory}")
    totals = [sum(m.values()) for m in mems]
    per_proc = "; ".join(f"{k.split()[1]} {v / 1024:.1f} MiB" for k, v in mems[-1].items())
    OUT.write_text(
        "# Agent measurements\n\n"
        f"Measured {time.strftime('%Y-%m-%d')} by `bench/agent_memory.py` ({runs} runs): two "
        "namespaces joined by a veth pair, real agents, keepalived 2.2.7, VRRPv3, advert_int "
        "0.1 s, priorities 150/100, one VIP.\n\n"
        "| figure | median | max |\n|---|---|---|\n"
        f"| SIGTERM handover gap (10 ms netlink sampling) | {statistics.median(gaps):.0f} ms "
        f"| {max(gaps):.0f} ms |\n"
        f"| RSS agent + keepalived (parent + VRRP child), one node | "
        f"{statistics.median(totals) / 1024:.1f} MiB | {max(totals) / 1024:.1f} MiB |\n\n"
        f"Per process (last run): {per_proc}.\n"
    )
    print(OUT.read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1]) if len(sys.argv) > 1 else 5))
