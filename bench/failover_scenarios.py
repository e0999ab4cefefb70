"""Failover scenarios on lab 2: one measured window per run, then back to steady state.

A Setup is one way of running the VIP (the hand-written baseline stack, or swarmvip with a timer
preset). Each scenario function returns one dict per run with the raw measures; every wait is
bounded in time and every loop in count.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from swarmvip_lab import Lab
from swarmvip_lab.clients import Client
from swarmvip_lab.runner import ROOT, docker, swarmvip

from bench.failover_lab import (
    Watch,
    holders_now,
    stack_converged,
    stack_tasks,
    wait_until,
)
from bench.failover_metrics import (
    first_hold,
    intervals,
    probe_measures,
    rfc_bound,
    switches,
    two_holder_spans,
    two_holder_time,
)

NODES = ("node2", "node3", "node4")  # VIP members; node1 is the manager and never disturbed
Run = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Setup:
    name: str
    file: Path
    stack: str
    vip: str
    advert_int: float
    version: int
    backup_priority: int  # priority of the node that takes over from the top node
    baseline: bool = False

    @property
    def bound(self) -> float:
        return rfc_bound(self.advert_int, self.backup_priority, self.version)


STACKS = ROOT / "bench" / "stacks"
SETUPS = (
    Setup("baseline", STACKS / "baseline.yml", "base", "10.213.2.100", 1.0, 2, 80, True),
    Setup("default", STACKS / "default.yml", "default", "10.213.2.101", 0.25, 3, 240),
    Setup("fast", STACKS / "fast.yml", "fast", "10.213.2.102", 0.1, 3, 240),
)


class Bench:
    """Runs the scenarios of one setup on the lab, through one client container."""

    def __init__(
        self, lab: Lab, client: Client, setup: Setup, members: tuple[str, ...] = NODES
    ) -> None:
        self.lab, self.client, self.setup = lab, client, setup
        self.members = members  # the nodes whose interfaces are watched for the VIP

    # -- stack lifecycle ---------------------------------------------------------------------
    def deploy(self) -> float:
        """Deploy the stack; returns the command's own duration."""
        started = time.monotonic()
        if self.setup.baseline:
            docker(self.lab, "stack", "deploy", "--resolve-image", "never", "-c",
                   str(self.setup.file), self.setup.stack)  # fmt: skip
        else:
            done = swarmvip(self.lab, "deploy", "--resolve-image", "never", str(self.setup.file))
            if done.returncode != 0:
                raise RuntimeError(f"swarmvip deploy: {done.stdout}{done.stderr}")
        return time.monotonic() - started

    def remove(self) -> None:
        if self.setup.baseline:
            docker(self.lab, "stack", "rm", self.setup.stack, check=False)
        else:
            swarmvip(self.lab, "rm", self.setup.stack)
        wait_until("stack removed", lambda: not stack_tasks(self.lab, self.setup.stack), 60)
        wait_until("VIP released", lambda: not self.holders(), 30)
        wait_until("the stack's containers gone", self._containers_gone, 60, interval=0.5)

    def _containers_gone(self) -> bool:
        """No node runs a container of the stack any more. Its services are gone at once, but
        a task's container lingers until it stops: the web server (PID 1, deaf to SIGTERM)
        for the whole stop grace period, keeping :8080 bound, so the next deploy's server on
        that node cannot bind and its check fails 10 s later (the VIP then moved before a
        layout's first cycle began, in earlier runs)."""
        flt = f"label=com.docker.stack.namespace={self.setup.stack}"
        for node in self.lab.nodes:
            out = self.lab.exec(node, "docker", "ps", "-q", "--filter", flt, check=False)
            if out.returncode != 0 or out.stdout.strip():
                return False
        return True

    def holders(self) -> list[str]:
        return holders_now(self.lab, self.setup.vip, self.members)

    def steady(self, timeout: float = 120) -> str:
        """Wait until the stack has all tasks running and one holder, stable for 1 s."""

        def one_stable_holder() -> bool:
            if not stack_converged(self.lab, self.setup.stack) or len(self.holders()) != 1:
                return False
            time.sleep(1.0)
            return len(self.holders()) == 1

        wait_until("steady state", one_stable_holder, timeout, interval=0.5)
        return self.holders()[0]

    # -- one measured window -----------------------------------------------------------------
    def measure(
        self, action: Callable[[str, Watch], dict[str, Any]], out_of_service: str = ""
    ) -> Run:
        """Run `action(holder, watch)` inside a probe+monitor window and compute the measures.

        `action` may return `blind: (from, to)`: a span during which the old holder's interface
        does not count (killed, or frozen: its kernel keeps the address but nobody runs), and
        `back_since` (a time.time()): `t_back` is then when the old holder's interface got the
        VIP again after it, from its ip monitor.
        """
        holder = self.steady()
        watch = Watch(self.lab, self.client, self.setup.vip, self.members)
        time.sleep(0.5)
        t0 = time.time()
        extra = action(holder, watch)
        requests, events, t_end = watch.stop()
        blind = extra.pop("blind", None)
        back_since = extra.pop("back_since", None)
        if back_since is not None:  # when the old holder got the VIP again (its ip monitor)
            back = first_hold(events.get(holder, []), back_since)
            extra["t_back"] = None if back is None else back - back_since
        spans = {}
        for node, evs in events.items():
            got = intervals(evs, t0, t_end)
            if node == holder and blind:
                got = [s for a, b in got for s in ((a, min(b, blind[0])), (max(a, blind[1]), b))]
                got = [(a, b) for a, b in got if b > a]
            spans[node] = got
        takeovers = [first_hold(evs, t0) for n, evs in events.items() if n != holder]
        took = min((t for t in takeovers if t is not None), default=None)
        window = [r for r in requests if r[0] >= t0]
        probe = probe_measures(window)
        gone = holder if blind and blind[1] == float("inf") else out_of_service
        final = [n for n, evs in events.items() if evs and evs[-1][1] and n != gone]
        return {
            "holder": holder,
            "gap": probe.gap,
            "failed": probe.failed,
            "requests": probe.requests,
            "moves": probe.moves,
            "answered_by": list(probe.answered_by),
            # when (s after t0) requests failed and the answering node changed: what a failure
            # lines up with (a move, or something else)
            "failed_at": [round(t - t0, 3) for t, who in sorted(window) if who is None],
            "switched_at": switches(window, t0),
            "t_vip": None if took is None else took - t0,
            "two_holders": two_holder_time(spans, t0, t_end),
            # each overlap (s after t0, length): which move of a cycle had it
            "overlaps": [
                (round(a - t0, 3), round(b - a, 3)) for a, b in two_holder_spans(spans, t0, t_end)
            ],
            "final_holders": len(final),
            "window": t_end - t0,
            "t0": t0,  # time.time(): to line the run up with logs (planned-agents.log)
            **watch.failures(t0),
            **extra,
        }

    def report_time(self, new: str, since: float, timeout: float = 10) -> dict[str, Any]:
        """swarmvip only: when the agents' reports (status --json) name `new` as the holder."""
        if self.setup.baseline:
            return {}
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            done = swarmvip(self.lab, "status", "--json", "--stack", self.setup.stack, timeout=15)
            if done.returncode == 0:
                vip = json.loads(done.stdout)["vips"][0]
                if vip["holders"] == [new]:
                    ats = [h["at"] for h in vip["history"] if h["to"] == [new] and h["at"] >= since]
                    return {
                        "t_report": (min(ats) - since) if ats else None,
                        "t_status_seen": time.time() - since,
                    }
            time.sleep(0.1)
        return {"t_report": None, "t_status_seen": None}

    # -- scenarios -----------------------------------------------------------------------------
    def kill(self) -> Run:
        def act(holder: str, w: Watch) -> dict[str, Any]:
            t0 = time.time()
            self.lab.kill(holder)
            new = w.wait_holder(holder, self.setup.bound * 2 + 3, skip=[holder])
            extra = self.report_time(new, t0) if new else {}
            time.sleep(1.0)
            return {"blind": (t0, float("inf")), **extra}

        run = self.measure(act)
        self.lab.start(run["holder"])
        return run

    def pause(self) -> Run:
        def act(holder: str, w: Watch) -> dict[str, Any]:
            t0 = time.time()
            container = self.lab.node(holder).container
            self.lab.host.run("pause", container)
            try:
                new = w.wait_holder(holder, self.setup.bound * 2 + 3, skip=[holder])
                extra = self.report_time(new, t0) if new else {}
                time.sleep(1.0)
            finally:
                self.lab.host.run("unpause", container)
            t1 = time.time()
            time.sleep(3.0)
            return {"blind": (t0, t1), "paused": t1 - t0, **extra}

        return self.measure(act)

    def planned(self) -> Run:
        """swarmvip drain + undrain; baseline: scale the holder's keepalived to 0 and back."""

        def act(holder: str, w: Watch) -> dict[str, Any]:
            t0 = time.time()
            if self.setup.baseline:
                service = f"{self.setup.stack}_keepalived-{holder}"
                docker(self.lab, "service", "scale", "-d", f"{service}=0")
                new = w.wait_holder(holder, 20)
                extra: dict[str, Any] = {"t_command": time.time() - t0}
                time.sleep(1.0)
                docker(self.lab, "service", "scale", "-d", f"{service}=1")
                wait_until("scaled back", lambda: stack_converged(self.lab, self.setup.stack), 60)
            else:
                done = swarmvip(self.lab, "drain", holder, timeout=90)
                extra = {"t_command": time.time() - t0, "drain_rc": done.returncode}
                new = w.wait_holder(holder, 10)
                extra |= self.report_time(new, t0) if new else {}
                swarmvip(self.lab, "undrain", holder, timeout=90)
                w.wait_holder(None, 20)
            time.sleep(1.0)
            return extra

        return self.measure(act)

    def swarm_drain(self, via_cli: bool = False) -> Run:
        """`docker node update --availability drain` (or `swarmvip drain --swarm`) the holder."""

        def act(holder: str, w: Watch) -> dict[str, Any]:
            t0 = time.time()
            if via_cli:
                done = swarmvip(self.lab, "drain", "--swarm", holder, timeout=90)
                extra: dict[str, Any] = {"drain_rc": done.returncode}
            else:
                docker(self.lab, "node", "update", "--availability", "drain", holder)
                extra = {}
            new = w.wait_holder(holder, 20)
            extra |= {"t_command": time.time() - t0}
            extra |= self.report_time(new, t0) if new else {}
            time.sleep(1.0)
            return extra

        run = self.measure(act)
        if via_cli:
            swarmvip(self.lab, "undrain", run["holder"], timeout=90)
        docker(self.lab, "node", "update", "--availability", "active", run["holder"])
        return run

    def relabel(self, node: str = "node4") -> list[Run]:
        """Controller: label a backup out of the VIP group and back in; two windows."""
        runs = []
        for verb, want in (("--label-rm", False), ("--label-add", True)):

            def act(holder: str, w: Watch, verb: str = verb, want: bool = want) -> dict[str, Any]:
                arg = "web" if verb == "--label-rm" else "web=true"
                docker(self.lab, "node", "update", verb, arg, node)
                name = f"{self.setup.stack}_vip-{node}"

                def applied() -> bool:
                    tasks = stack_tasks(self.lab, self.setup.stack)
                    present = any(n.startswith(name) for n in tasks)
                    return present == want and stack_converged(self.lab, self.setup.stack)

                took = wait_until("controller applied", applied, 90, interval=0.5)
                time.sleep(2.0)
                return {"t_applied": took, "change": f"{verb} {node}"}

            runs.append(self.measure(act, out_of_service=""))
        return runs

    def deploy_run(self) -> Run:
        """From no stack to the VIP answering, then an unchanged re-deploy (task restarts)."""
        self.remove()
        watch = Watch(self.lab, self.client, self.setup.vip, NODES)
        time.sleep(0.5)
        t0 = time.time()
        command = self.deploy()
        watch.wait_holder(None, 60)
        wait_until("web up", lambda: stack_converged(self.lab, self.setup.stack), 60)
        time.sleep(1.5)
        requests, _, _ = watch.stop()
        first = next((t for t, who in sorted(requests) if who and t >= t0), None)
        self.steady()
        before = stack_tasks(self.lab, self.setup.stack)
        redeploy = self.deploy()
        time.sleep(3.0)
        after = stack_tasks(self.lab, self.setup.stack)
        restarts = sum(len(set(before.get(s, [])) - set(ids)) for s, ids in after.items())
        return {
            "deploy_answering": None if first is None else first - t0,
            "deploy_command": command,
            "redeploy_command": redeploy,
            "restarts": restarts,
            "tasks": sum(len(v) for v in before.values()),
        }


def deploy_controller(lab: Lab) -> None:
    docker(lab, "stack", "deploy", "--resolve-image", "never", "-c",
           str(ROOT / "stacks" / "controller.yml"), "swarmvip")  # fmt: skip
    wait_until("controller running", lambda: stack_converged(lab, "swarmvip"), 60)


def remove_controller(lab: Lab) -> None:
    docker(lab, "stack", "rm", "swarmvip", check=False)
    wait_until("controller gone", lambda: not stack_tasks(lab, "swarmvip"), 60)
