"""Fault campaign, control-plane scenarios (issue 12): 3 manager loss, 4 quorum loss, 8
controller chaos. Called by bench/faults.py's Campaign (one run each call); results go into
the same faults.json.

Three managers: the campaign promotes the top two VIP members of the plan (the holder and its
first backup) next to node1, which is the topology `swarmvip lab up --managers 3` makes
(nodes 1-3 managers) with the roles put where the scenarios need them: the holder can be the
raft leader (scenario 3, second case) and a worker member remains to take the VIP over when
every manager is gone (scenario 4). `ManagedLab.via` names the manager every docker and
swarmvip command of the campaign goes to; scenarios point it at a manager that survives.
Raft leadership is moved with a demote + promote of the leader (the engine hands leadership
over before it demotes; measured: instant).
"""

from __future__ import annotations

import datetime
import json
import logging
import random
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import TYPE_CHECKING, Any

from swarmvip_lab import Lab
from swarmvip_lab import nodes as containers
from swarmvip_lab.clients import Client
from swarmvip_lab.layout import (
    CONTAINER_PREFIX,
    DROP_DEFAULT_ROUTES,
    NETWORK,
    Node,
    client_ip,
    client_ip6,
    label_args,
)
from swarmvip_lab.recipes import NODE_IMAGE
from swarmvip_lab.runner import ROOT, CommandFailed, docker, swarmvip

from bench.failover_lab import wait_until
from bench.failover_metrics import rfc_bound
from bench.failover_scenarios import NODES

if TYPE_CHECKING:
    from bench.faults import Campaign, Window

log = logging.getLogger("faults")
CONTROLLER = "swarmvip_controller"
CONTROLLER_FILE = ROOT / "stacks" / "controller.yml"
CHAOS_KILLS = 20
CHAOS_PER_CHANGE = 2  # kills per label change: one in the apply, one in the re-run's apply
CHAOS_BASELINE = 2  # the first label changes are applied without a kill: the clean apply
CHAOS_MAX_DELAY = 4.0  # a kill lands uniformly in [0, this] s after the change / the restart
CHAOS_SEED = 12


def campaign_client(lab: Lab, slot: int = 49) -> Client:
    """The campaign's client container: like `Lab.run_client` (lab labels, so `lab down`
    removes it; no default route) but without the `swarmvip.lab.client` label, at the last
    client slot. tests/e2e/conftest.py removes every container carrying that label, of any lab
    (`label=swarmvip.lab.client`, no lab id): an e2e run on lab 1 killed this campaign's
    probe twice."""
    name = f"{CONTAINER_PREFIX}faults-client"
    lab.host.run("rm", "-f", name, check=False)
    lab.host.run(
        "run", "-d", "--name", name, "--hostname", "faults-client", *label_args(),
        "--network", NETWORK, "--ip", str(client_ip(slot)), "--ip6", str(client_ip6(slot)),
        "--cap-add", "NET_ADMIN", "--cap-add", "NET_RAW", "--entrypoint", "sleep", NODE_IMAGE,
        "infinity",
    )  # fmt: skip
    client = Client(name, str(client_ip(slot)), lab.host, str(client_ip6(slot)))
    client.exec("sh", "-c", DROP_DEFAULT_ROUTES)
    return client


class ManagedLab(Lab):
    """A Lab whose `manager` (and so every docker()/swarmvip() call) is the node `via`."""

    via = "node1"

    @property
    def manager(self) -> Node:
        return self.node(self.via)


# -- managers ----------------------------------------------------------------------------------
def manager_roles(lab: Lab, via: str | None = None) -> dict[str, str]:
    """{hostname: Leader / Reachable / Unreachable} of the managers, read on `via`."""
    host = lab.node(via).docker_host if via else lab.manager_host
    done = subprocess.run(
        ["docker", "-H", host, "node", "ls", "--format", "{{.Hostname}} {{.ManagerStatus}}"],
        capture_output=True, text=True, timeout=15, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        return {}
    rows = [line.split() for line in done.stdout.splitlines()]
    return {r[0]: r[1] for r in rows if len(r) == 2}


def leader(lab: Lab) -> str | None:
    return next((n for n, role in manager_roles(lab).items() if role == "Leader"), None)


def control_plane(host: str, timeout: float = 5) -> tuple[bool, str]:
    """`docker node ls` on that engine: (answered, its error's last line)."""
    try:
        done = subprocess.run(
            ["docker", "-H", host, "node", "ls", "-q"],
            capture_output=True, text=True, timeout=timeout, check=False,
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        return False, f"no answer within {timeout:g}s"
    err = done.stderr.strip().splitlines()
    return done.returncode == 0, err[-1] if err else ""


def ensure_managers(c: Campaign) -> list[str]:
    """Three managers: node1 and the top two members of the plan (promoted if needed)."""
    wanted = ["node1", *c.order[:2]]
    roles = manager_roles(c.lab)
    promote = [n for n in wanted if n not in roles]
    for attempt in range(5):  # "update out of sequence": a concurrent node update won; retry
        promote = [n for n in wanted if n not in manager_roles(c.lab)]
        if not promote:
            break
        try:
            docker(c.lab, "node", "promote", *promote)
        except CommandFailed as exc:
            if "out of sequence" not in str(exc) or attempt == 4:
                raise
            time.sleep(1)
    c.lab.managers = 3
    wait_until("three reachable managers", lambda: _managers_ok(c.lab, wanted), 60, 0.5)
    return wanted


def _managers_ok(lab: Lab, wanted: list[str]) -> bool:
    roles = manager_roles(lab)
    return sorted(roles) == sorted(wanted) and all(
        r in ("Leader", "Reachable") for r in roles.values()
    )


def demote_extra(lab: ManagedLab) -> None:
    """Back to node1 as the only manager (the other scenarios' topology)."""
    lab.via = "node1"
    extra = [n for n in manager_roles(lab) if n != "node1"]
    if extra:
        docker(lab, "node", "demote", *extra, check=False)
    lab.managers = 1


def move_leadership(lab: ManagedLab, to: str | None = None, away: str | None = None) -> str:
    """Demote + promote the leader until it is `to` (or not `away`); the leader (bounded)."""
    for _ in range(8):
        now = leader(lab)
        if now is not None and (now == to if to else now != away):
            return now
        if now is None:
            time.sleep(1.0)
            continue
        lab.via = next(n for n in manager_roles(lab) if n != now)
        _bounce(lab, now)
    raise RuntimeError(f"leadership did not move ({to=}, {away=})")


def _bounce(lab: ManagedLab, now: str) -> None:
    """Demote the leader `now` (it hands leadership over first) and promote it again."""
    docker(lab, "node", "demote", now)
    wait_until("a new leader", lambda: leader(lab) not in (None, now), 30, 0.3)
    docker(lab, "node", "promote", now)
    wait_until("the manager back", lambda: manager_roles(lab).get(now) == "Reachable", 60, 0.3)


# -- the controller ----------------------------------------------------------------------------
def deploy_controller(lab: Lab) -> None:
    docker(lab, "stack", "deploy", "--resolve-image", "never", "-c", str(CONTROLLER_FILE),
           "swarmvip")  # fmt: skip
    wait_until("controller running", lambda: controller_node(lab) is not None, 90, 0.5)


def remove_controller(lab: Lab) -> None:
    docker(lab, "stack", "rm", "swarmvip", check=False)
    wait_until("controller gone", lambda: controller_node(lab) is None, 60, 0.5)


def controller_node(lab: Lab) -> str | None:
    """The node whose controller task is running (None: none is)."""
    out = docker(lab, "service", "ps", CONTROLLER, "--filter", "desired-state=running",
                 "--format", "{{.Node}} {{.CurrentState}}", check=False)  # fmt: skip
    for line in out.splitlines():
        node, _, state = line.partition(" ")
        if state.startswith("Running"):
            return node
    return None


def controller_healthy(lab: Lab) -> bool:
    doc = status_json(lab)[1]
    ctl = (doc or {}).get("controller") or {}
    return bool(ctl.get("healthy")) and not ctl.get("last_error")


def controller_container(lab: Lab) -> tuple[str, str] | None:
    """(node, container id) of a running controller container, looked for on every node."""
    flt = f"label=com.docker.swarm.service.name={CONTROLLER}"
    for node in lab.nodes:
        done = subprocess.run(["docker", "-H", node.docker_host, "ps", "-q", "--filter", flt],
                              capture_output=True, text=True, timeout=10, check=False)  # fmt: skip
        if done.returncode == 0 and done.stdout.split():
            return node.hostname, done.stdout.split()[0]
    return None


def kill_controller(lab: Lab) -> tuple[str, str] | None:
    """SIGKILL the controller's container; (node, container id) (None: none was running)."""
    found = controller_container(lab)
    if found is not None:
        subprocess.run(["docker", "-H", lab.node(found[0]).docker_host, "kill", found[1]],
                       capture_output=True, check=False)  # fmt: skip
    return found


# -- status, drain, TUI through one engine ------------------------------------------------------
def status_json(
    lab: Lab, host: str | None = None, timeout: float = 30
) -> tuple[int, dict[str, Any] | None, str]:
    """`swarmvip status --json` against `host` (default: the lab's manager): (exit code,
    document or None, the error's last line)."""
    env = {"DOCKER_HOST": host} if host else None
    try:
        done = _swarmvip(lab, env, timeout, "status", "--json", "--stack", "faults")
    except subprocess.TimeoutExpired:
        return -1, None, f"no answer within {timeout:g}s"
    try:
        doc = json.loads(done.stdout) if done.stdout.strip() else None
    except ValueError:
        doc = None
    err = (done.stderr.strip().splitlines() or [""])[-1]
    if doc is not None and doc.get("error"):  # --json prints a document on error too
        return done.returncode, None, str(doc["error"]).splitlines()[0] if doc["error"] else err
    return done.returncode, doc, err


def _swarmvip(
    lab: Lab, env: dict[str, str] | None, timeout: float, *argv: str
) -> subprocess.CompletedProcess[str]:
    if not env:
        return swarmvip(lab, *argv, timeout=timeout)
    import os

    return subprocess.run(
        [sys.executable, "-m", "swarmvip", *argv], capture_output=True, text=True,
        env={**os.environ, **env}, cwd=ROOT, timeout=timeout, check=False,
    )  # fmt: skip


def status_summary(code: int, doc: dict[str, Any] | None, err: str) -> dict[str, Any]:
    """What status said, in short: its exit code, holders, alarm kinds, error, controller."""
    if doc is None:
        return {"rc": code, "error": err}
    vips = doc.get("vips") or [{}]
    ctl = doc.get("controller") or {}
    return {
        "rc": code,
        "holders": vips[0].get("holders"),
        "alarms": sorted(
            {f"{a['kind']}:{a['subject'].split('/')[-1]}" for a in doc.get("alarms", [])}
        ),
        "controller_healthy": ctl.get("healthy"),
    }


def tui_probe(host: str, seconds: float = 5.0, stack: str = "faults") -> dict[str, Any]:
    """bench.faults_tui against `host`: does the TUI show the swarm, how fast it refreshes."""
    import os

    try:
        done = subprocess.run(
            [sys.executable, "-m", "bench.faults_tui", "--seconds", f"{seconds:g}", "--stack",
             stack], capture_output=True, text=True, cwd=ROOT, timeout=seconds + 40,
            env={**os.environ, "DOCKER_HOST": host}, check=False,
        )  # fmt: skip
        return dict(json.loads(done.stdout.strip().splitlines()[-1]))
    except (subprocess.TimeoutExpired, ValueError, IndexError) as exc:
        return {"error": f"tui probe failed: {exc}"}


def drain_cycle(lab: Lab, host: str, node: str) -> dict[str, Any]:
    """`swarmvip drain NODE` then `undrain NODE` against `host`: exit codes and seconds."""
    out: dict[str, Any] = {"node": node}
    for verb in ("drain", "undrain"):
        started = time.monotonic()
        try:
            done = _swarmvip(lab, {"DOCKER_HOST": host}, 120, verb, node, "--timeout", "60")
            out[verb] = {"rc": done.returncode, "seconds": round(time.monotonic() - started, 1),
                         "said": (done.stdout.strip().splitlines() or [""])[-1][:160]}  # fmt: skip
        except subprocess.TimeoutExpired:
            out[verb] = {"rc": -1, "seconds": 120.0, "said": "timed out"}
    return out


def _since(t0: float) -> float:
    return round(time.time() - t0, 3)


def _poll(what: str, check: Any, timeout: float, interval: float = 0.5) -> float | None:
    try:
        wait_until(what, check, timeout, interval)
        return time.time()
    except TimeoutError:
        log.warning("timed out waiting for %s", what)
        return None


def follow_status(
    lab: Lab, host: str, t0: float, w: Window, timeout: float = 75
) -> tuple[list[dict[str, Any]], float | None, float | None]:
    """`status --json` against `host` again and again from the fault: each change of what it
    says (with its time), when it first answered, and when it first told the truth (the
    holders the ip monitors see, no alarm)."""
    said: list[dict[str, Any]] = []
    first_ok = right = None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and right is None:
        code, doc, err = status_json(lab, host, timeout=20)
        now = {"t": _since(t0), **status_summary(code, doc, err)}
        if not said or {k: v for k, v in now.items() if k != "t"} != {
            k: v for k, v in said[-1].items() if k != "t"
        }:
            said.append(now)
        if doc is not None:
            first_ok = first_ok if first_ok is not None else now["t"]
            if now["holders"] == w.watch.holders() and not now["alarms"]:
                right = now["t"]
        time.sleep(0.5)
    return said[:10], first_ok, right


# -- scenario 3: manager loss --------------------------------------------------------------------
def manager_loss(c: Campaign, holder_is_leader: bool) -> dict[str, Any]:
    """Kill the raft leader's node: elsewhere than the VIP holder, or the holder itself. Then:
    control plane, `status`, the TUI and drain against a surviving manager, the controller
    back on a surviving manager; the node started again; the final state."""
    lab = c.lab
    assert isinstance(lab, ManagedLab)
    managers = ensure_managers(c)
    holder = c.steady()
    if holder_is_leader:
        lead = move_leadership(lab, to=holder)
    else:
        lead = move_leadership(lab, away=holder)
    survivor = (
        next(m for m in managers if m != lead and m != holder)
        if holder_is_leader
        else next(m for m in managers if m != lead)
    )
    lab.via = survivor
    host = lab.node(survivor).docker_host
    ctl_before = controller_node(lab)
    case = "leader = holder" if holder_is_leader else "leader elsewhere"
    extra = {"case": case, "killed": lead, "via": survivor, "controller_before": ctl_before}

    def act(_: str, w: Window) -> dict[str, Any]:
        t0 = w.mark("fault")
        lab.kill(lead)
        if lead in NODES:
            w.node_died(lead)
        said, first_ok, right = follow_status(lab, host, t0, w)
        up = _poll("the control plane", lambda: control_plane(host)[0], 60)
        moved = ctl_before != lead or _poll(
            "the controller on a surviving manager",
            lambda: controller_node(lab) not in (None, lead), 90,
        )  # fmt: skip
        healthy = _poll("a healthy controller", lambda: controller_healthy(lab), 45, 1.0)
        w.mark("end")
        return {
            "control_plane_after": None if up is None else round(up - t0, 3),
            "status_first_ok": first_ok,
            "status_said": said,
            "status_right_after": right,
            "controller_after": None if healthy is None else round(healthy - t0, 3),
            "controller_moved": bool(moved),
        }

    run = c.window(act, final=False)
    run.update(extra)
    run["controller_now"] = controller_node(lab)
    run["tui"] = tui_probe(host)
    target = next(n for n in NODES if n not in (lead, *c.holders()))
    run["drain"] = drain_cycle(lab, host, target)
    lab.start(lead)
    run["final"] = c.clean_final()
    run["rfc_bound"] = c.bound
    return run


# -- scenario 4: quorum loss ----------------------------------------------------------------------
def quorum_loss(c: Campaign) -> dict[str, Any]:
    """Kill two of the three managers (not the holder's node): the VIP keeps serving; status
    against the last manager. Then kill the holder (the last manager): the worker member takes
    the VIP over with no control plane at all; status against it. All three started again."""
    lab = c.lab
    assert isinstance(lab, ManagedLab)
    managers = ensure_managers(c)
    holder = c.steady()
    others = [m for m in managers if m != holder]
    worker = next(n for n in NODES if n not in managers)
    if holder not in managers:
        raise RuntimeError(f"the holder {holder} is not a manager")
    lab.via = holder
    hhost, whost = lab.node(holder).docker_host, lab.node(worker).docker_host

    def act(_: str, w: Window) -> dict[str, Any]:
        t0 = w.mark("fault")
        with ThreadPoolExecutor(2) as pool:
            list(pool.map(lab.kill, others))
        for n in others:
            if n in NODES:
                w.node_died(n)
        time.sleep(4.0)
        with ThreadPoolExecutor(1) as pool:
            node_ls = pool.submit(timed_node_ls, hhost, t0)
            quorumless = {"t": _since(t0), **status_summary(*status_json(lab, hhost, timeout=45))}
            quorumless["node_ls"] = node_ls.result()
        quorumless["info"] = swarm_info(hhost)
        time.sleep(max(0.0, 8.0 - (time.time() - t0)))
        t1 = w.mark("holder_killed")
        lab.kill(holder)
        w.node_died(holder)
        took = _poll(f"{worker} holds", lambda: w.watch.holders() == [worker], 15, 0.02)
        died = finished_at(lab, holder)  # _poll's `took` is wall-clock time, as this
        time.sleep(1.0)
        alone = {"t": _since(t0), **status_summary(*status_json(lab, whost, timeout=25))}
        w.mark("end")
        time.sleep(2.0)
        return {
            "killed": others,
            "holder_killed": holder,
            "took_over": worker,
            "takeover_after": None if took is None else round(took - t1, 3),
            # from the node container's death (State.FinishedAt), not from before `docker kill`
            # (which takes 0.3-0.4 s to return): what the RFC bound is about
            "takeover_after_death": None if took is None or died is None else round(took - died, 3),
            "takeover_bound": rfc_bound(0.25, c.priorities[worker], 3),
            "status_quorumless": quorumless,
            "status_no_manager": alone,
        }

    run = c.window(act, final=False)
    started = time.monotonic()
    restart_all(lab, [*others, holder])
    run["recovered_after"] = round(time.monotonic() - started, 1)
    lab.via = "node1"
    run["final"] = c.clean_final()
    return run


def finished_at(lab: ManagedLab, name: str) -> float | None:
    """When the node's container died (the outer engine's State.FinishedAt), unix time."""
    done = lab.host.run(
        "inspect", "--format", "{{.State.FinishedAt}}", lab.node(name).container, check=False
    )
    text = done.stdout.strip()
    if done.returncode != 0 or not text or text.startswith("0001"):
        return None
    head, _, frac = text.rstrip("Z").partition(".")
    stamp = datetime.datetime.fromisoformat(head).replace(tzinfo=datetime.UTC)
    return stamp.timestamp() + float(f"0.{frac or 0}")


def timed_node_ls(host: str, t0: float) -> dict[str, Any]:
    """`docker node ls` on a manager without quorum: how long until it answers, and what."""
    ok, said = control_plane(host, timeout=40)
    return {"t": _since(t0), "ok": ok, "said": said[:240]}


def swarm_info(host: str) -> dict[str, Any]:
    """What the engine itself knows of its swarm. docker info waits on the swarm too: for
    about 30 s after quorum is lost it hangs the engine's 20 s (then says so), measured."""
    fmt = "{{json .Swarm}}"
    try:
        done = subprocess.run(["docker", "-H", host, "info", "--format", fmt],
                              capture_output=True, text=True, timeout=25, check=False)  # fmt: skip
    except subprocess.TimeoutExpired:
        return {"error": "docker info: no answer within 25s"}
    try:
        doc = json.loads(done.stdout)
    except ValueError:
        return {"error": done.stderr.strip()[:200]}
    keys = ("LocalNodeState", "ControlAvailable", "Error", "Managers", "Nodes")
    return {k: doc.get(k) for k in keys}


def restart_all(lab: ManagedLab, names: list[str]) -> None:
    """Start stopped manager nodes together (one alone has no quorum to wait on), then wait
    for a control plane and every node Ready."""
    targets = [lab.node(n) for n in names]
    for node in targets:
        lab.host.run("start", node.container)
    for node in targets:
        containers.wait_engine(lab.host, node, timeout=90)
        containers.drop_default_route(lab.host, node)
    lab.via = "node1"

    def all_ready() -> bool:
        out = docker(lab, "node", "ls", "--format", "{{.Status}}", check=False, timeout=15)
        return bool(out) and all(s == "Ready" for s in out.split())

    wait_until("quorum and every node Ready", all_ready, 120, 1.0)


# -- scenario 8: controller chaos -----------------------------------------------------------------
CHANGES = ("unlabel backup", "label back", "drain backup", "activate back", "unlabel holder",
           "label back")  # fmt: skip


def chaos_change(c: Campaign, index: int, state: dict[str, Any]) -> tuple[str, str]:
    """The index-th label change of the cycle; `state` remembers which node to put back."""
    kind = CHANGES[index % len(CHANGES)]
    holder = c.holders()[0]
    if kind in ("unlabel backup", "drain backup"):
        node = next(n for n in reversed(c.order) if n != holder)
    elif kind == "unlabel holder":
        node = holder
    else:
        node = state["node"]
    state["node"] = node
    if kind.startswith("unlabel"):
        docker(c.lab, "node", "update", "--label-rm", "web", node)
    elif kind == "label back":
        docker(c.lab, "node", "update", "--label-add", "web=true", node)
    elif kind == "drain backup":
        docker(c.lab, "node", "update", "--availability", "drain", node)
    else:
        docker(c.lab, "node", "update", "--availability", "active", node)
    return kind, node


def drained(lab: Lab) -> set[str]:
    out = docker(lab, "node", "ls", "--format", "{{.Hostname}} {{.Availability}}")
    return {n for n, _, a in (line.partition(" ") for line in out.splitlines()) if a == "Drain"}


def tasks_ok(lab: Lab, skip: set[str]) -> bool:
    """Every service of the stack runs all its replicas, but the VIP service of a node in
    `skip` (swarm-drained: its task cannot run there, and swarmvip keeps the node planned)."""
    flt = "label=swarmvip.stack=faults"
    out = docker(lab, "service", "ls", "--filter", flt, "--format", "{{.Name}} {{.Replicas}}")
    rows = [line.split() for line in out.splitlines() if line.strip()]
    for name, replicas in rows:
        running, want = replicas.split("/")[:2]
        if running != want and not any(f"_vip-{n}-" in name for n in skip):
            return False
    return bool(rows)


def converged(c: Campaign) -> bool:
    """The plan has no action left, every task that can run runs, a controller, and one
    holder: the plan's expected one. (Without that last point a run once ended while the
    controller still waited for a lifted node to take over: the plan had nothing left to
    write, and the move came after the window.)"""
    return not unconverged(c)


def unconverged(c: Campaign) -> str:
    """Why the run is not converged yet ("" once it is): kept in the run's record."""
    plan = swarmvip(c.lab, "plan", "--json", str(c.file), env=c.env(), timeout=60)
    if plan.returncode != 0:
        return f"plan exited {plan.returncode}"
    doc = json.loads(plan.stdout)
    if doc["actions"]:
        return f"plan: {doc['actions']}"
    if not tasks_ok(c.lab, drained(c.lab)):
        return "a task is not running"
    expected, holders = [g["expected_holder"] for g in doc["groups"]], c.holders()
    if holders != expected:
        return f"holders {holders}, expected {expected}"
    return "" if controller_node(c.lab) is not None else "no controller task running"


def controller_said(lab: Lab, since: float, limit: int = 40) -> list[str]:
    """The controller's action lines since `since` ("HH:MM:SS.mmm text"), every task's."""
    argv = ["docker", "-H", lab.manager_host, "service", "logs", "-t", "--raw", "--since",
            f"{since:.3f}", CONTROLLER]  # fmt: skip
    done = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)
    out = done.stdout + done.stderr  # its action lines are its stderr
    lines = []
    for line in out.splitlines():
        stamp, _, text = line.partition(" ")
        if text.startswith("controller: "):
            lines.append(f"{stamp[11:23]} {text[12:]}")
    return sorted(lines)[:limit]


def _restarted(lab: Lab, killed: tuple[str, str] | None) -> bool:
    now = controller_container(lab)
    return now is not None and now != killed


def controller_chaos(
    c: Campaign, index: int, rng: random.Random, state: dict[str, Any]
) -> dict[str, Any]:
    """One label change, the controller killed at a random point of its apply, then again at
    a random point of its restarted task's apply (CHAOS_PER_CHANGE kills), converging after
    the last restart (swarm's restart policy); measured like every run."""
    delays = [round(rng.uniform(0.0, CHAOS_MAX_DELAY), 2) for _ in range(CHAOS_PER_CHANGE)]
    if index < CHAOS_BASELINE:
        delays = []  # a clean apply, the baseline of the client's failures

    def act(_: str, w: Window) -> dict[str, Any]:
        t0 = w.mark("fault")
        kind, node = chaos_change(c, index, state)
        kills: list[dict[str, Any]] = []
        killed: tuple[str, str] | None = None
        if not delays:
            time.sleep(2.0)  # the controller wakes on the node event
        for i, delay in enumerate(delays):
            if i:  # the restarted task: from when its new container runs
                _poll("the controller restarted", partial(_restarted, c.lab, killed), 60, 0.2)
            time.sleep(delay)
            killed = kill_controller(c.lab)
            kills.append({"t": _since(t0), "delay": delay, "on": killed and killed[0]})
        w.mark("last_kill")
        done = _poll("convergence after the kills", lambda: converged(c), 120, 0.5)
        w.mark("end")
        why = "" if done is not None else unconverged(c)
        time.sleep(1.0)
        return {
            "change": kind,
            "node": node,
            "kills": kills,
            "converged_after": None if done is None else round(done - t0, 2),
            **({"unconverged": why} if why else {}),
        }

    started = time.time()
    run = c.window(act, final=False, wait_steady=False)
    run["controller_said"] = controller_said(c.lab, started - 3.0)
    from bench.faults import final_state

    run["final"] = {**final_state(c.lab, c.timers), "clean_after": 0.0}
    run["drained"] = sorted(drained(c.lab))
    return run
