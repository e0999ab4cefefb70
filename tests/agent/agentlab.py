"""Helpers for agent tests in network namespaces: namespaces, veth links, plans, agents."""

from __future__ import annotations

import contextlib
import ipaddress
import itertools
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from swarmvip.model import HealthCheck, InstancePlan, NodePlan, NotifyHooks, Preemption, Timers
from swarmvip.render import render_keepalived
from swarmvip.wire.agentspec import AgentSpec, to_json
from swarmvip.wire.relay import MovePlan, plan_to_json
from swarmvip.wire.report import Report, parse_report

_counter = itertools.count()
REPO = Path(__file__).resolve().parents[2]


def sh(*argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, check=check, capture_output=True, text=True)


def send_plan(ns: str, key: bytes, plan: MovePlan, tmp: Path) -> subprocess.CompletedProcess[str]:
    """Run the relay (`swarmvip agent send`) in namespace `ns` with `plan` on its stdin, signing
    with `key` (written to a file in `tmp`, as the relay task reads its secret)."""
    key_file = tmp / "relay.key"
    key_file.write_bytes(key)
    argv = ["ip", "netns", "exec", ns, sys.executable, "-m", "swarmvip", "agent", "send"]
    return subprocess.run(
        [*argv, "--key-file", str(key_file)],
        input=plan_to_json(plan),
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=30,
    )


def unique_ns(tag: str) -> str:
    return f"svt{os.getpid() % 100000}{tag}{next(_counter)}"


def add_ns(name: str) -> None:
    sh("ip", "netns", "add", name)
    sh("ip", "-n", name, "link", "set", "lo", "up")


def del_ns(name: str) -> None:
    for pid in sh("ip", "netns", "pids", name, check=False).stdout.split():
        with contextlib.suppress(ProcessLookupError):
            os.kill(int(pid), signal.SIGKILL)
    sh("ip", "netns", "del", name, check=False)


def veth(ns_a: str, name_a: str, ns_b: str, name_b: str) -> None:
    """A veth pair with one end in each namespace, renamed and up."""
    tmp_a, tmp_b = f"va{next(_counter)}", f"vb{next(_counter)}"
    sh("ip", "-n", ns_a, "link", "add", tmp_a, "type", "veth", "peer", "name", tmp_b)
    sh("ip", "-n", ns_a, "link", "set", tmp_b, "netns", ns_b)
    sh("ip", "-n", ns_a, "link", "set", tmp_a, "name", name_a)
    sh("ip", "-n", ns_b, "link", "set", tmp_b, "name", name_b)
    sh("ip", "-n", ns_a, "link", "set", name_a, "up")
    sh("ip", "-n", ns_b, "link", "set", name_b, "up")


def addrs(ns: str, dev: str) -> set[str]:
    out = sh("ip", "-n", ns, "-o", "addr", "show", "dev", dev, check=False).stdout
    return {line.split()[3].split("/")[0] for line in out.splitlines() if " inet" in line}


def instance(
    src: str,
    peers: tuple[str, ...],
    priority: int,
    vip: str = "10.77.0.100/24",
    checks: tuple[HealthCheck, ...] = (),
    advert: float = 0.1,
    notify: NotifyHooks | None = None,
    auth_secret: str | None = None,
) -> InstancePlan:
    return InstancePlan(
        group="web",
        vrid=51,
        priority=priority,
        preemption=Preemption.PREFERRED,
        preempt_delay=0.0,
        timers=Timers(advert_int=advert, version=3),
        unicast_src=src,
        peers=peers,
        addresses=(ipaddress.ip_interface(vip),),
        checks=checks,
        notify=notify or NotifyHooks(),
        auth_secret=auth_secret,
    )


@dataclass
class AgentProc:
    """A real `swarmvip agent` process in a namespace, its report lines collected."""

    ns: str
    proc: subprocess.Popen[str]
    reports: list[Report] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line)
            report = parse_report(line)
            if report is not None:
                self.reports.append(report)

    def wait_for(self, pred: object, timeout: float = 10.0, start: int = 0) -> Report:
        """The first report (from index `start`) matching pred, waiting up to timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for report in list(self.reports)[start:]:
                if pred(report):  # type: ignore[operator]
                    return report
            time.sleep(0.02)
        raise AssertionError(f"no matching report in {timeout}s; last: {self.reports[-1:]}")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 10.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        return self.proc.wait(timeout)


def start_agent(
    ns: str,
    workdir: Path,
    node: NodePlan,
    *extra: str,
    stack: str = "t",
    wrap: tuple[str, ...] = (),
    env: dict[str, str] | None = None,
) -> AgentProc:
    """env: added to this process's environment (e.g. SWARMVIP_SPEC); the runtime priorities
    are kept in workdir/state."""
    run_dir = workdir / "run"
    run_dir.mkdir(parents=True, exist_ok=True)
    spec, conf = workdir / "agent.json", workdir / "keepalived.conf"
    spec.write_text(to_json(AgentSpec(stack=stack, node=node)))
    conf.write_text(
        render_keepalived(
            node, stack, notify_fifo=str(run_dir / "notify.fifo"), track_dir=str(run_dir / "track")
        )
    )
    argv = [*wrap, "ip", "netns", "exec", ns, sys.executable, "-m", "swarmvip", "agent"]
    argv += ["--spec", str(spec), "--conf", str(conf), "--run-dir", str(run_dir)]
    argv += ["--secrets-dir", str(workdir / "secrets"), "--heartbeat", "0.5"]
    argv += ["--state-dir", str(workdir / "state"), *extra]
    with open(workdir / "stderr.log", "a") as err:
        proc = subprocess.Popen(
            argv,
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
            cwd=REPO,
            env={**os.environ, **(env or {})},
        )
    agent = AgentProc(ns, proc)
    threading.Thread(target=agent._read, daemon=True).start()
    return agent


class Sampler(threading.Thread):
    """Samples which namespaces hold an address every `period` seconds (netlink, no fork)."""

    def __init__(self, namespaces: tuple[str, ...], address: str, period: float = 0.01) -> None:
        super().__init__(daemon=True)
        self.namespaces, self.address, self.period = namespaces, address, period
        self.samples: list[tuple[float, tuple[bool, ...]]] = []
        self._halt = threading.Event()

    def run(self) -> None:
        from pyroute2 import IPRoute

        sockets = [IPRoute(netns=ns) for ns in self.namespaces]
        try:
            while not self._halt.is_set():
                held = tuple(
                    any(a.get_attr("IFA_ADDRESS") == self.address for a in s.get_addr())
                    for s in sockets
                )
                self.samples.append((time.monotonic(), held))
                time.sleep(self.period)
        finally:
            for s in sockets:
                s.close()

    def stop(self) -> None:
        self._halt.set()
        self.join(5)

    def handover_gap(self, since: float, src: int, dst: int) -> float:
        """Seconds between src's last sample holding and dst's first holding, after since."""
        after = [(t, h) for t, h in self.samples if t >= since]
        last_src = max((t for t, h in after if h[src]), default=since)
        first_dst = min(t for t, h in after if h[dst] and t >= last_src)
        return first_dst - last_src

    def max_holders(self, since: float = 0.0) -> int:
        return max((sum(h) for t, h in self.samples if t >= since), default=0)
