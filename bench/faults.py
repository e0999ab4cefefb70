"""Fault campaign (issue 12): partitions, a daemon restart, a reboot, a flapping link and CPU
pressure on a real swarm, with a client counting every failed request.

Runs on lab 3 (SWARMVIP_LAB_ID=3; scripts/faults.sh brings it up and down): node1 is the
manager and never disturbed, nodes 2-4 serve one VIP (bench/stacks/faults.yml) with the
`default` preset (scenario 9: `fast`). Each run is one measured window: the client probe
(100 requests/s, 200 ms timeout, open loop) and `ip monitor` on every member (both from
bench.failover_lab), `swarmvip events --json` for what status said and when, then the final
state. Raw results go to bench/results/faults.json after every run; bench/faults_report.py
writes faults.md and faults.png. Usage:
    SWARMVIP_LAB_ID=3 .venv/bin/python -m bench.faults [--runs 3] [--scenarios partition,...]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from swarmvip_lab import Lab, faults
from swarmvip_lab.clients import Client
from swarmvip_lab.layout import vip as lab_vip
from swarmvip_lab.runner import ROOT, docker, swarmvip

from bench import faults_control, faults_report
from bench.failover import repeat
from bench.failover_lab import Watch, holders_now, monitor, stack_converged, wait_until
from bench.failover_metrics import (
    Event,
    intervals,
    no_holder_time,
    probe_measures,
    rfc_bound,
    settled_at,
    two_holder_time,
)
from bench.failover_scenarios import NODES, Run

RESULTS = Path(__file__).parent / "results" / "faults.json"
FILE = ROOT / "bench" / "stacks" / "faults.yml"
STACK = "faults"
VIP = lab_vip(3)  # 10.213.3.103 on lab 3
# timer presets the scenarios run with: the stack file's variables and the advert interval
PRESETS: dict[str, dict[str, str]] = {
    "default": {"FAULTS_TIMERS": "default"},
    "default+preempt_delay": {"FAULTS_TIMERS": "default", "FAULTS_PREEMPT_DELAY": "5s"},
    "fast": {"FAULTS_TIMERS": "fast"},
}
ADVERT = {"default": 0.25, "default+preempt_delay": 0.25, "fast": 0.1}
PARTITION_S = 8.0  # how long a partition lasts
SETTLE_S = 6.0  # observed after a heal / the end of a fault
FLAP_S = 30.0
HOG_S = 60.0
log = logging.getLogger("faults")


# -- what status said: `swarmvip events --json` in the background ------------------------------
class Alarms:
    """Follows `swarmvip events --json --stack faults`; each event with its arrival time."""

    def __init__(self, lab: Lab) -> None:
        argv = [sys.executable, "-m", "swarmvip", "events", "--json", "--stack", STACK]
        self.proc = subprocess.Popen(
            [*argv, "--interval", "0.25"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            text=True, cwd=ROOT, env={**os.environ, "DOCKER_HOST": lab.manager_host},
        )  # fmt: skip
        self.events: list[tuple[float, dict[str, Any]]] = []
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            try:
                self.events.append((time.time(), json.loads(line)))
            except ValueError:
                continue

    def stop(self) -> list[tuple[float, dict[str, Any]]]:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self._thread.join(5)
        return list(self.events)


def alarm_timeline(events: list[tuple[float, dict[str, Any]]], t0: float) -> list[dict[str, Any]]:
    """Alarm raised/cleared events (arrival time relative to t0), oldest first."""
    return [
        {"t": round(at - t0, 3), "event": e["event"], "kind": e.get("kind"),
         "subject": e.get("subject")}
        for at, e in events
        if e.get("event") in ("alarm", "cleared")
    ]  # fmt: skip


def first_alarm(
    timeline: list[dict[str, Any]], event: str, kind: str, after: float
) -> float | None:
    """Seconds from `after` (relative to t0) to the first `event` of `kind` at or after it."""
    return next(
        (round(a["t"] - after, 3) for a in timeline
         if a["event"] == event and a["kind"] == kind and a["t"] >= after),
        None,
    )  # fmt: skip


# -- one measured window ---------------------------------------------------------------------
class Gone:
    """The monitor of a node that is down: it holds nothing, and has nothing more to say."""

    node = ""
    events: list[Event] = []  # noqa: RUF012 (never appended to)
    holds = False

    def stop(self) -> list[Event]:
        return []


@dataclass
class Window:
    """A probe, VIP monitors on every member and the events follower, with named marks."""

    lab: Lab
    client: Client
    watch: Watch = field(init=False)
    alarms: Alarms = field(init=False)
    t0: float = 0.0
    marks: dict[str, float] = field(default_factory=dict)
    dead: dict[str, list[Event]] = field(default_factory=dict)  # events of restarted monitors

    def __post_init__(self) -> None:
        self.alarms = Alarms(self.lab)
        try:
            self.watch = Watch(self.lab, self.client, VIP, NODES)
        except BaseException:
            self.alarms.stop()  # and the monitors Watch started end on their stdin's EOF
            raise
        time.sleep(2.5)  # the events follower's first poll: alarms already active come first
        self.t0 = time.time()

    def mark(self, name: str) -> float:
        self.marks[name] = time.time()
        return self.marks[name]

    def node_died(self, node: str) -> None:
        """The node's container stopped: its monitor ended with it (the VIP went with its
        network namespace); a stand-in holds nothing until `node_back`."""
        old = self.watch.monitors[node]
        self.dead.setdefault(node, []).extend([*old.stop(), (time.time(), False)])
        self.watch.monitors[node] = Gone()  # type: ignore[assignment]

    def node_back(self, node: str) -> None:
        self.watch.monitors[node] = monitor(self.lab, node, VIP)

    def stop(self) -> Run:
        requests, events, t_end = self.watch.stop()
        for node, evs in self.dead.items():
            events[node] = sorted(evs + events[node])
        timeline = alarm_timeline(self.alarms.stop(), self.t0)
        run = measures(self.t0, t_end, requests, events, timeline, self.marks)
        return run | self.watch.failures(self.t0)


def measures(
    t0: float,
    t_end: float,
    requests: list[tuple[float, str | None]],
    events: dict[str, list[Event]],
    timeline: list[dict[str, Any]],
    marks: dict[str, float],
) -> Run:
    """Client gap and failures, two-holder and no-holder time, moves, settle time after the
    mark `heal` (or `end`), what status said (alarm timeline), all relative to t0."""
    spans = {n: intervals(evs, t0, t_end) for n, evs in events.items()}
    probe = probe_measures([r for r in requests if r[0] >= t0])
    after = marks.get("heal", marks.get("end", t0))
    settled = settled_at(spans, after, t_end)
    adds = sorted(at for evs in events.values() for at, holds in evs if holds and at >= t0)
    return {
        "gap": probe.gap,
        "failed": probe.failed,
        "failed_at": [round(t - t0, 2) for t, who in sorted(requests) if who is None and t >= t0],
        "requests": probe.requests,
        "moves": probe.moves,
        "answered_by": list(probe.answered_by),
        "vip_adds": len(adds),
        "two_holders": two_holder_time(spans, t0, t_end),
        "no_holder": no_holder_time(spans, t0, t_end),
        "two_holders_after": two_holder_time(spans, after, t_end),
        "one_holder_after": None if settled is None else settled - after,
        "adds_after_settled": sum(1 for at in adds if settled is not None and at > settled),
        "marks": {k: round(v - t0, 3) for k, v in marks.items()},
        "held": {
            n: [[round(a - t0, 3), round(b - t0, 3)] for a, b in got] for n, got in spans.items()
        },
        "alarms": timeline,
        "window": t_end - t0,
    }


# -- final state -------------------------------------------------------------------------------
def orphan_objects(lab: Lab) -> list[str]:
    """Configs and secrets of the stack no service uses (the stored spec aside) and services
    pinned to a node the swarm no longer has."""
    flt = f"label=swarmvip.stack={STACK}"
    services = docker(lab, "service", "ls", "--filter", flt, "-q").split()
    used: set[str] = set()
    pinned: list[tuple[str, str]] = []
    spec = "{{json .Spec.TaskTemplate.ContainerSpec.Configs}}|{{json .Spec.TaskTemplate.Placement}}"
    fmt = spec + "|{{json .Spec.TaskTemplate.ContainerSpec.Secrets}}"
    for sid in services:
        configs, placement, secrets = docker(lab, "service", "inspect", "-f", fmt, sid).split(
            "|", 2
        )
        used |= {c["ConfigID"] for c in json.loads(configs) or []}
        used |= {c["SecretID"] for c in json.loads(secrets) or []}
        pinned += [(sid, c) for c in (json.loads(placement) or {}).get("Constraints") or []]
    cfmt = '{{.ID}} {{index .Spec.Labels "swarmvip.kind"}}'
    orphans = []
    for what in ("config", "secret"):
        for line in docker(lab, what, "ls", "--filter", flt, "-q").split():
            cid, kind = [*docker(lab, what, "inspect", "-f", cfmt, line).split(), ""][:2]
            if kind != "spec" and cid not in used:
                orphans.append(f"{what} {cid[:12]}")
    nodes = set(docker(lab, "node", "ls", "-q").split())
    for sid, constraint in pinned:
        if constraint.startswith("node.id==") and constraint.split("==")[1].strip() not in nodes:
            orphans.append(f"service {sid[:12]} on a departed node")
    return orphans


def final_state(lab: Lab, timers: str) -> dict[str, Any]:
    """Exactly one holder, no stale VIP on any node, every task on its current config (plan has
    no action left, every service 1/1), no orphan, and what `status --json` says."""
    on = holders_now(lab, VIP, [n.name for n in lab.nodes])
    plan = swarmvip(lab, "plan", "--json", str(FILE), env=_env(timers), timeout=60)
    actions = json.loads(plan.stdout)["actions"] if plan.returncode == 0 else ["plan failed"]
    status = swarmvip(lab, "status", "--json", "--stack", STACK, timeout=30)
    doc = json.loads(status.stdout) if status.stdout.strip() else {}
    vips = doc.get("vips") or [{}]
    drained = faults_control.drained(lab)  # their VIP tasks cannot run: by the operator's will
    state = {
        "vip_on": on,
        "pending_actions": actions,
        "tasks_running": faults_control.tasks_ok(lab, drained),
        "orphans": orphan_objects(lab),
        "status_holders": vips[0].get("holders"),
        "status_alarms": sorted({a["kind"] for a in doc.get("alarms", [])}),
        "drained_alarms": sorted(
            a["subject"].split("/")[-1]
            for a in doc.get("alarms", [])
            if a["kind"] == "member-drained"
        ),
        "unreported": sorted(
            a["subject"].split("/")[-1]
            for a in doc.get("alarms", [])
            if a["kind"] in ("no-report", "stale-report")
        ),
    }
    state["clean"] = (
        len(on) == 1
        and not actions
        and state["tasks_running"]
        and not state["orphans"]
        and state["status_holders"] == on
        and set(state["status_alarms"]) <= {"member-drained"}
        and set(state["drained_alarms"]) <= drained
    )
    return state


def wait_clean(lab: Lab, timers: str, timeout: float = 30) -> dict[str, Any]:
    """Poll the final state until clean (bounded); the last state with the seconds it took."""
    started = time.monotonic()
    while True:
        state = final_state(lab, timers)
        spent = time.monotonic() - started
        if state["clean"] or spent > timeout:
            return {**state, "clean_after": round(spent, 1)}
        time.sleep(1.0)


def _env(timers: str) -> dict[str, str]:
    return {"FAULTS_VIP": f"{VIP}/24", **PRESETS[timers]}


# -- the campaign ------------------------------------------------------------------------------
@dataclass
class Campaign:
    """Runs the scenarios on the lab through one client container, one timer preset at a time."""

    lab: Lab
    client: Client
    timers: str = "default"
    order: list[str] = field(default_factory=list)  # members by planned priority
    priorities: dict[str, int] = field(default_factory=dict)
    _chaos: dict[str, Any] = field(default_factory=lambda: {"index": 0})
    _rng: random.Random = field(default_factory=lambda: random.Random(faults_control.CHAOS_SEED))

    def deploy(self, timers: str) -> None:
        self.timers = timers
        done = swarmvip(self.lab, "deploy", "--resolve-image", "never", str(FILE),
                        env=_env(timers), timeout=300)  # fmt: skip
        if done.returncode != 0:
            raise RuntimeError(f"swarmvip deploy: {done.stdout}{done.stderr}")
        plan = swarmvip(self.lab, "plan", "--json", str(FILE), env=_env(timers))
        order = json.loads(plan.stdout)["groups"][0]["order"]
        self.order = [m["hostname"] for m in order]
        self.priorities = {m["hostname"]: m["priority"] for m in order}
        self.steady()

    @property
    def bound(self) -> float:
        """Master_Down_Interval of the node that takes over from the top one."""
        return rfc_bound(ADVERT[self.timers], self.priorities[self.order[1]], 3)

    def holders(self) -> list[str]:
        return holders_now(self.lab, VIP, NODES)

    def steady(self, timeout: float = 120) -> str:
        """Wait for the final state to be clean and the holder stable for 1 s; the holder."""

        def stable() -> bool:
            if not stack_converged(self.lab, STACK) or len(self.holders()) != 1:
                return False
            time.sleep(1.0)
            return len(self.holders()) == 1

        wait_until("steady state", stable, timeout, interval=0.5)
        return self.holders()[0]

    def window(
        self,
        act: Callable[[str, Window], dict[str, Any]],
        final: bool = True,
        wait_steady: bool = True,
    ) -> Run:
        """One run: steady state (`wait_steady`; else the one holder now), a measured window
        around `act(holder, window)`, then the final state unless `final` is False (the
        caller restores the lab first and calls `clean_final`)."""
        holder = self.steady() if wait_steady else self.holders()[0]
        self.ensure_client()
        w = Window(self.lab, self.client)
        try:
            extra = act(holder, w)
        finally:
            run = w.stop()
        if not final:
            return {"holder": holder, **run, **extra}
        state = wait_clean(self.lab, self.timers)
        return {"holder": holder, **run, **extra, "final": state, **self.repair(state)}

    def client_arp(self) -> str:
        """The node whose MAC the client's neighbour entry for the VIP names ('-': none): who
        the client sends to, whoever holds the address (issue 12, scenario 2)."""
        out = self.client.exec("ip", "neigh", "show", VIP, check=False).stdout.split()
        mac = out[out.index("lladdr") + 1] if "lladdr" in out else ""
        for node in NODES:
            got = self.lab.exec(node, "cat", "/sys/class/net/eth0/address", check=False)
            if mac and got.stdout.strip() == mac:
                return node
        return mac or "-"

    def ensure_client(self) -> None:
        """A new client container if ours is gone (it was once removed under a campaign)."""
        state = self.lab.host.run("inspect", "-f", "{{.State.Running}}", self.client.name,
                                  check=False)  # fmt: skip
        if state.stdout.strip() != "true":
            log.warning("the client container %s is gone: starting a new one", self.client.name)
            self.client = faults_control.campaign_client(self.lab)

    def clean_final(self, timeout: float = 60) -> dict[str, Any]:
        return wait_clean(self.lab, self.timers, timeout)

    @property
    def file(self) -> Path:
        return FILE

    @property
    def advert(self) -> float:
        return ADVERT[self.timers]

    def env(self) -> dict[str, str]:
        return _env(self.timers)

    def converged_tasks(self) -> bool:
        return stack_converged(self.lab, STACK)

    def repair(self, final: dict[str, Any]) -> dict[str, Any]:
        """A node whose reports cannot be read (the engine's log stream from it stays broken
        after it was cut off from the manager) gets its dockerd restarted, so the next run
        starts clean; recorded in the run."""
        nodes = [n for n in final.get("unreported", []) if n in NODES]
        for node in nodes:
            log.warning("%s: no report can be read: restarting its dockerd", node)
            faults.restart_dockerd(self.lab, node)
        if nodes:
            return {"repaired": nodes, "after_repair": wait_clean(self.lab, self.timers, 60)}
        return {}

    # -- scenarios --------------------------------------------------------------------------
    def partition_holder(self) -> Run:
        """1: the holder cut off from the other members (all IP and ARP), then healed."""

        def act(holder: str, w: Window) -> dict[str, Any]:
            others = [n for n in NODES if n != holder]
            w.mark("fault")
            try:
                faults.partition(self.lab, holder, others)
                time.sleep(PARTITION_S)
            finally:
                w.mark("heal")
                faults.heal(self.lab, holder)
                w.mark("healed")  # the heal's docker exec returned
            time.sleep(SETTLE_S)
            return {"partitioned": others, "client_arp": self.client_arp()}

        return self._with_alarm_times(self.window(act), "split-brain")

    def partition_backup(self) -> Run:
        """2: the first backup cut off from everyone (its eth0: IP and ARP), then healed."""

        def act(holder: str, w: Window) -> dict[str, Any]:
            backup = next(n for n in self.order if n != holder)
            arp_before = self.client_arp()
            w.mark("fault")
            try:
                faults.partition(self.lab, backup)
                time.sleep(PARTITION_S)
            finally:
                w.mark("heal")
                faults.heal(self.lab, backup)
                w.mark("healed")  # the heal's docker exec returned
            time.sleep(SETTLE_S)
            return {
                "partitioned": [backup],
                "client_arp_before": arp_before,
                "client_arp": self.client_arp(),
            }

        return self.window(act)

    def _node_down_and_back(self, how: Callable[[str], object], w: Window, holder: str) -> None:
        w.mark("fault")
        how(holder)
        w.node_died(holder)
        w.mark("down")
        self.lab.start(holder)
        w.mark("node_up")
        w.node_back(holder)
        wait_until("holder back", lambda: w.watch.holders() == [holder], 90, interval=0.1)
        w.mark("end")
        time.sleep(SETTLE_S / 2)

    def dockerd_restart(self) -> Run:
        """5: the holder's dockerd stopped (orderly daemon shutdown) and started again."""

        def act(holder: str, w: Window) -> dict[str, Any]:
            self._node_down_and_back(lambda n: faults.stop_dockerd(self.lab, n), w, holder)
            return {}

        return self.window(act)

    def reboot(self) -> Run:
        """6: the holder's node crashed (container SIGKILLed) and booted again."""

        def act(holder: str, w: Window) -> dict[str, Any]:
            self._node_down_and_back(self.lab.kill, w, holder)
            return {}

        return self.window(act)

    def link_flap(self) -> Run:
        """7: the holder's eth0 down/up every 2 s for 30 s."""

        def act(holder: str, w: Window) -> dict[str, Any]:
            w.mark("fault")
            faults.flap_link(self.lab, holder, FLAP_S)
            w.mark("end")
            time.sleep(SETTLE_S)
            return {"advert_int": ADVERT[self.timers]}

        return self.window(act)

    def cpu_pressure(self) -> Run:
        """9: a busy loop pinned to each CPU of the holder's node for 60 s (`fast` preset)."""

        def act(holder: str, w: Window) -> dict[str, Any]:
            w.mark("fault")
            worst = faults.hog_cpu(self.lab, holder, HOG_S)
            w.mark("end")
            time.sleep(2.0)
            return {"worst_delay": worst, "bound": self.bound, "margin": self.bound - worst}

        return self.window(act)

    def controller_chaos(self) -> Run:
        """8: a label change, the controller killed at a random point of its apply, converged
        by its restart (one of CHAOS_KILLS)."""
        index = self._chaos["index"]
        self._chaos["index"] = index + 1
        return faults_control.controller_chaos(self, index, self._rng, self._chaos)

    def manager_loss(self) -> Run:
        """3: the raft leader's node killed; every other run the leader is the VIP holder."""
        index = self._chaos.setdefault("manager_runs", 0)
        self._chaos["manager_runs"] = index + 1
        return faults_control.manager_loss(self, holder_is_leader=index % 2 == 1)

    def quorum_loss(self) -> Run:
        """4: two of three managers killed, then the holder (the last manager) too."""
        return faults_control.quorum_loss(self)

    @staticmethod
    def _with_alarm_times(run: Run, kind: str) -> Run:
        marks = run["marks"]
        run["alarm_after"] = first_alarm(run["alarms"], "alarm", kind, marks["fault"])
        run["cleared_after"] = first_alarm(run["alarms"], "cleared", kind, marks["heal"])
        return run


# scenario key -> (Campaign method, timer preset, time budget in s)
SCENARIOS: dict[str, tuple[str, str, float]] = {
    "partition_holder": ("partition_holder", "default", 150),
    "partition_backup": ("partition_backup", "default", 120),
    "dockerd_restart": ("dockerd_restart", "default", 300),
    "reboot": ("reboot", "default", 300),
    "link_flap": ("link_flap", "default", 240),
    "link_flap_delay": ("link_flap", "default+preempt_delay", 240),
    "cpu_pressure": ("cpu_pressure", "fast", 300),
    "controller_chaos": ("controller_chaos", "default", 540),
    "manager_loss": ("manager_loss", "default", 660),
    "quorum_loss": ("quorum_loss", "default", 420),
}
NEEDS_CONTROLLER = ("controller_chaos", "manager_loss", "quorum_loss")
NEEDS_MANAGERS = ("manager_loss", "quorum_loss")


def save(results: dict[str, Any]) -> None:
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=1) + "\n")


def run_campaign(
    lab: faults_control.ManagedLab,
    names: list[str],
    runs: int,
    results: dict[str, Any],
    kills: int = faults_control.CHAOS_KILLS,
) -> None:
    campaign = Campaign(lab, faults_control.campaign_client(lab))
    try:
        _scenarios(campaign, names, runs, results, kills)
    finally:
        _restore(lab, names)
        campaign.client.remove()


def _scenarios(
    campaign: Campaign, names: list[str], runs: int, results: dict[str, Any], kills: int
) -> None:
    lab = campaign.lab
    for name in names:
        method, timers, budget = SCENARIOS[name]
        if campaign.timers != timers or not campaign.order:
            campaign.deploy(timers)
        if name in NEEDS_CONTROLLER and faults_control.controller_node(lab) is None:
            faults_control.deploy_controller(lab)
        started = time.monotonic()
        count = runs
        if name == "controller_chaos":
            count = faults_control.CHAOS_BASELINE - (-kills // faults_control.CHAOS_PER_CHANGE)
        got = repeat(name, count, getattr(campaign, method), budget)
        if name == "controller_chaos":
            _relabel(lab)
        results["scenarios"][name] = {
            "timers": timers,
            "advert_int": ADVERT[timers],
            "bound": campaign.bound,
            "runs": got,
            "seconds": round(time.monotonic() - started, 1),
            "load": os.getloadavg(),
        }
        save(results)


def _relabel(lab: Lab) -> None:
    for name in NODES:
        docker(lab, "node", "update", "--label-add", "web=true", "--availability", "active", name,
               check=False)  # fmt: skip


def _restore(lab: faults_control.ManagedLab, names: list[str]) -> None:
    """The lab as the other scenarios expect it: no controller, node1 the only manager, no
    stack (scripts/faults.sh removes the lab after a full campaign anyway)."""
    if any(n in NEEDS_CONTROLLER for n in names):
        try:
            faults_control.demote_extra(lab)
            faults_control.remove_controller(lab)
        except Exception as exc:  # the lab may be broken by now: say so, go on
            log.warning("restoring the lab failed: %s", exc)
    swarmvip(lab, "rm", STACK, timeout=120)


def prepare(lab: Lab) -> None:
    """Label the members and leave nothing of an earlier run (controller, extra managers,
    stack, stale VIPs, rules)."""
    assert isinstance(lab, faults_control.ManagedLab)
    faults_control.demote_extra(lab)
    if faults_control.controller_node(lab) is not None:
        faults_control.remove_controller(lab)
    swarmvip(lab, "rm", STACK, timeout=120)
    for node in lab.nodes:
        faults.heal(lab, node.name)
        lab.exec(node, "ip", "addr", "del", f"{VIP}/24", "dev", "eth0", check=False)
    for name in NODES:
        docker(lab, "node", "update", "--label-add", "web=true", "--availability", "active", name)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--scenarios", default=",".join(SCENARIOS))
    parser.add_argument("--kills", type=int, default=faults_control.CHAOS_KILLS,
                        help="controller kills in scenario 8")  # fmt: skip
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    if not os.environ.get("SWARMVIP_LAB_ID"):
        parser.error("set SWARMVIP_LAB_ID (the campaign never uses the default lab)")
    lab = faults_control.ManagedLab(nodes=4)
    prepare(lab)
    results: dict[str, Any] = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    results.setdefault("scenarios", {})
    started = time.monotonic()
    run_campaign(lab, args.scenarios.split(","), args.runs, results, args.kills)
    results["seconds"] = round(time.monotonic() - started, 1)
    results["cpus"] = os.cpu_count()
    save(results)
    faults_report.main()
    return 0


if __name__ == "__main__":
    sys.exit(main())
