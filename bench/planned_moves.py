"""Planned moves (issue 13): drain + undrain cycles, the restart and runtime paths in one run.

Each cycle drains the VIP holder with `swarmvip drain` and brings it back with `swarmvip
undrain`, while a client sends a request every 10 ms and `ip monitor` in every member times the
VIP. The two paths differ in how a writer changes priorities: `restart` (SWARMVIP_MOVE=restart:
new configs, tasks restarted make-before-break, as before) and `runtime` (the default: the
agents get the new priorities over the runtime channel, no task restarts). The paths are
interleaved in each layout, so both see the same machine load.

Two layouts, each with a web server beside the VIP on every member (bench/stacks/planned.yml:
`default` timers, a server whose accept queue holds 128 connections; `--setup default` for
default.yml's, which holds 5): the manager (node1) not a member (nodes 2-4), and the manager a
member too (nodes 1-4). Runs on lab 2 (SWARMVIP_LAB_ID=2), 4 nodes. Writes
bench/results/planned.{json,md}.
    SWARMVIP_LAB_ID=2 .venv/bin/python -m bench.planned_moves [--runtime 20] [--restart 6]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from swarmvip_lab import Lab
from swarmvip_lab.clients import Client
from swarmvip_lab.runner import docker, swarmvip

from bench.failover_lab import Watch, client, wait_until
from bench.failover_scenarios import SETUPS, STACKS, Bench, Run, Setup
from swarmvip.ops.runtime import AHEAD_ENV, MOVE_ENV

RESULTS = Path(__file__).parent / "results"
PATHS = ("restart", "runtime", "cold")  # cold: runtime, the relay's sender started late
LAYOUTS = {
    "manager not a member": ("node2", "node3", "node4"),
    "manager a member": ("node1", "node2", "node3", "node4"),
}
CHECK_RISE = 2.0  # seconds: the stack's http check (interval 0.5 s, rise 2), with a margin
ADVERT = 0.25  # `default` timers: the goal allows at most one advert interval of two holders
# default.yml with a web server whose accept queue holds 128 connections (python's http.server
# keeps 5: runs 13d-e lost requests to its full queue, not to the moves); `--setup default`
# measures with that server
PLANNED = Setup("planned", STACKS / "planned.yml", "planned", "10.213.2.103", 0.25, 3, 240)
SETUP_BY_NAME = {s.name: s for s in (*SETUPS, PLANNED)}
log = logging.getLogger("bench")


def cycle(bench: Bench, path: str, layout: str) -> Run:
    """One drain + undrain of the holder on `path`, measured in one window."""
    env = {MOVE_ENV: path} if path != "cold" else {MOVE_ENV: "runtime", AHEAD_ENV: "0"}

    def act(holder: str, watch: Watch) -> dict[str, Any]:
        t0 = time.time()
        drained = swarmvip(bench.lab, "drain", holder, timeout=120, env=env)
        t_drain = time.time() - t0
        moved = watch.wait_holder(holder, 10)
        t1 = time.time()
        undrained = swarmvip(bench.lab, "undrain", holder, timeout=120, env=env)
        t_undrain = time.time() - t1
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and watch.holders() != [holder]:
            time.sleep(0.02)
        time.sleep(1.0)
        return {
            "path": path,
            "layout": layout,
            "drain_rc": drained.returncode,
            "undrain_rc": undrained.returncode,
            "t_drain_command": t_drain,
            "t_undrain_command": t_undrain,
            "back_since": t1,  # measure(): t_back from the holder's ip monitor
            "moved_to": moved,
            "restarted": "update service" in drained.stdout + undrained.stdout,
            "drain_out": drained.stdout[-1500:],  # what the command said: why a cycle did not move
            "undrain_out": undrained.stdout[-1500:],
        }

    # read outside the measured window (its times count from before `act`): SYNs the members'
    # web servers dropped during the cycle (accept queue full, ...)
    drops = _listen_drops(bench.lab, bench.members)
    run = bench.measure(act)
    after = _listen_drops(bench.lab, bench.members)
    run["listen_drops"] = {n: after[n] - drops[n] for n in drops if after[n] >= drops[n]}
    return run


def listen_drops(netstat: str) -> int:
    """TcpExt ListenDrops in /proc/net/netstat's text: handshakes a listening socket dropped,
    most often because its accept queue was full (ListenOverflows): the client's SYN goes
    unanswered and is sent again only after 1 s."""
    rows = [line.split() for line in netstat.splitlines() if line.startswith("TcpExt:")]
    if len(rows) < 2:
        return 0
    return int(dict(zip(rows[0], rows[1], strict=False)).get("ListenDrops", "0"))


def _listen_drops(lab: Lab, members: tuple[str, ...]) -> dict[str, int]:
    """ListenDrops in each member's network namespace (its web server's, host network)."""

    def read(node: str) -> int:
        return listen_drops(lab.exec(node, "cat", "/proc/net/netstat", check=False).stdout)

    with ThreadPoolExecutor(len(members)) as pool:
        return dict(zip(members, pool.map(read, members), strict=True))


def schedule(runtime: int, restart: int, cold: int = 0) -> list[str]:
    """The paths in order, the restart cycles spread evenly among the runtime ones, and each
    of the first `cold` runtime cycles followed by a cold one (the same path with the relay's
    sender started only when the plan is known: an A/B in one run)."""
    total = runtime + restart
    marks = {round((i + 0.5) * total / restart) for i in range(restart)} if restart else set()
    out: list[str] = []
    for path in ["restart" if i in marks else "runtime" for i in range(total)]:
        out.append(path)
        if path == "runtime" and out.count("cold") < cold:
            out.append("cold")
    return out


def _stat(values: list[float]) -> str:
    if not values:
        return "-"
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, max(0, round(0.95 * len(ordered)) - 1))]
    median, low, high = statistics.median(ordered), ordered[0], ordered[-1]
    return f"{median:.2f} s (p95 {p95:.2f}, {low:.2f}..{high:.2f})"


def _per_move(runs: list[Run]) -> float:
    """The longest two-holder overlap of one move (a cycle has two: the drain's, the
    undrain's). Runs from before overlaps were recorded count their cycle's total."""
    return max(
        (o[1] for r in runs for o in r.get("overlaps", [(0, r["two_holders"])])), default=0.0
    )


def _per_cycle(runs: list[Run]) -> float:
    return max((r["two_holders"] for r in runs), default=0.0)


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(0.95 * len(ordered)) - 1))]


def table(runs: list[Run]) -> str:
    lines = [
        "| layout | path | cycles | drain → new holder on its NIC | undrain → VIP back"
        " | drain command | undrain command | failed requests (total) | handshakes the servers"
        " dropped | largest gap | moves per cycle | two holders (max) | tasks restarted"
        " | commands failed |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for layout in LAYOUTS:
        for path in PATHS:
            mine = [r for r in runs if r["path"] == path and r.get("layout") == layout]
            if not mine:
                continue
            moves = sorted({r["moves"] for r in mine})
            lines.append(
                f"| {layout} | {path} | {len(mine)} "
                f"| {_stat([r['t_vip'] for r in mine if r['t_vip'] is not None])} "
                f"| {_stat([r['t_back'] for r in mine if r['t_back'] is not None])} "
                f"| {_stat([r['t_drain_command'] for r in mine])} "
                f"| {_stat([r['t_undrain_command'] for r in mine])} "
                f"| {sum(r['failed'] for r in mine)} "
                f"| {sum(sum(r.get('listen_drops', {}).values()) for r in mine)} "
                f"| {max((r['gap'] for r in mine), default=0) * 1000:.0f} ms "
                f"| {', '.join(map(str, moves))} "
                f"| {max((r['two_holders'] for r in mine), default=0) * 1000:.0f} ms "
                f"| {sum(1 for r in mine if r.get('restarted'))} "
                f"| {sum(1 for r in mine if r['drain_rc'] or r['undrain_rc'])} |"
            )
    return "\n".join(lines)


def goals(runs: list[Run]) -> str:
    """The issue's goals for the runtime path, per layout: met or missed, with the figures."""
    out = []
    for layout in LAYOUTS:
        mine = [r for r in runs if r["path"] == "runtime" and r.get("layout") == layout]
        if not mine:
            continue
        moved = [r["t_vip"] for r in mine if r["t_vip"] is not None]
        back = [r["t_back"] for r in mine if r["t_back"] is not None]
        checks = [
            ("drain → new holder median ≤ 1 s", bool(moved) and statistics.median(moved) <= 1.0,
             f"{statistics.median(moved):.2f} s" if moved else "-"),
            ("drain → new holder p95 ≤ 2 s", bool(moved) and _p95(moved) <= 2.0,
             f"{_p95(moved):.2f} s" if moved else "-"),
            ("undrain → VIP back median ≤ 1 s", bool(back) and statistics.median(back) <= 1.0,
             f"{statistics.median(back):.2f} s" if back else "-"),
            ("0 failed requests", sum(r["failed"] for r in mine) == 0,
             str(sum(r["failed"] for r in mine))),
            ("two holders ≤ 1 advert interval at each move", _per_move(mine) <= ADVERT,
             f"{_per_move(mine) * 1000:.0f} ms at one move; {_per_cycle(mine) * 1000:.0f} ms"
             " in one cycle of two moves"),
            ("exactly 2 moves per cycle", all(r["moves"] == 2 for r in mine),
             ", ".join(str(r["moves"]) for r in mine)),
            ("no task restarted", not any(r.get("restarted") for r in mine),
             str(sum(1 for r in mine if r.get("restarted")))),
        ]  # fmt: skip
        out.append(f"**{layout}** ({len(mine)} cycles):")
        out += [f"- {'met' if ok else 'MISSED'}: {name} ({value})" for name, ok, value in checks]
        out.append("")
    return "\n".join(out)


HELD = re.compile(
    r"web: (yielded \(\w+\)|the clients were switched here): hold lifted \((\d+) held"
)


def agent_lines(lab: Lab, stack: str, members: tuple[str, ...]) -> list[str]:
    """The agents' switch and hold lines of `stack` (`docker service logs` of every task,
    restarted ones too), each with its node and the time Docker logged it: what the holds
    defused, per move, and when (to line up with planned.json's failed requests)."""
    logs: list[tuple[str, str]] = []  # (node, task id): each task's log on its own
    for node in members:
        name = f"{stack}_vip-{node}"
        done = subprocess.run(
            ["docker", "-H", lab.manager_host, "service", "ls", "-q", "--filter", f"name={name}"],
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        for sid in done.stdout.split():
            logs += [(node, task) for task in _tasks(lab, sid)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        texts = list(pool.map(lambda nt: _service_log(lab, nt[1]), logs))
    out = []
    for (node, _), text in zip(logs, texts, strict=True):
        for stamped in text.splitlines():
            at, _, line = stamped.partition(" ")
            if line.startswith("swarmvip agent:") and ("switch" in line or "hold" in line):
                out.append(f"{at} {node}: {line}")
    return sorted(out)


def _tasks(lab: Lab, sid: str) -> list[str]:
    """Every task of a service, replaced ones too. Read per task, not per service: a service's
    log stream stalls on a shut-down task's, and a cut stream lost the lines of the tasks
    after it (run 9: 19 of node2's switch lines where its moves had 40)."""
    done = subprocess.run(
        ["docker", "-H", lab.manager_host, "service", "ps", "-q", "--no-trunc", sid],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    return done.stdout.split()


def _service_log(lab: Lab, sid: str, timeout: float = 30.0) -> str:
    """A service's (or a task's) stderr log; a stream that never ends (one of a shut-down
    task, after its lines) is cut after `timeout` with what it gave."""
    argv = ["docker", "-H", lab.manager_host, "service", "logs", "--raw", "--timestamps", sid]
    try:
        return subprocess.run(
            argv, capture_output=True, timeout=timeout, check=False
        ).stderr.decode(errors="replace")
    except subprocess.TimeoutExpired as cut:
        got = cut.stderr or b""
        return got.decode(errors="replace") if isinstance(got, bytes) else got


def held_summary(lines: list[str]) -> str:
    """How many holds of each kind ended having defused at least one announcement."""
    kinds: dict[str, list[int]] = {"old holder (until it yielded)": [], "new holder": []}
    for line in lines:
        found = HELD.search(line)
        if found:
            kind = "new holder" if "switched here" in found[1] else "old holder (until it yielded)"
            kinds[kind].append(int(found[2]))
    return "; ".join(
        f"{kind}: {sum(1 for n in counts if n)} of {len(counts)} holds defused some"
        f" ({sum(counts)} announcements)"
        for kind, counts in kinds.items()
    )


def report(runs: list[Run], seconds: float, load: str, stack: str) -> str:
    return "\n".join(
        [
            "# Planned moves: drain + undrain, restart path vs runtime path (issue 13)",
            "",
            "Generated by `bench/planned_moves.py` on lab 2 (4 nodes, node1 the manager; a web",
            f"server beside the VIP on every member, `bench/stacks/{stack}`; `default` timers,",
            "advert 0.25 s). Each cycle",
            "drains the holder and undrains it while a client sends a request every 10 ms (200 ms",
            "timeout). `restart` = SWARMVIP_MOVE=restart (new configs, tasks restarted",
            "make-before-break: the path before the runtime channel); `runtime` = the default",
            "(priorities sent to the running agents). The paths are interleaved within a layout.",
            "Times: median (p95, min..max). 'drain → new holder' is when the VIP appeared on",
            "another node's interface (ip monitor), from the start of the drain command;",
            "'undrain → VIP back' is when the drained node's own interface got the VIP again (its",
            "ip monitor), from the start of the undrain command (an earlier version of this file",
            "timed the command's return instead). 'Handshakes the servers dropped': TcpExt",
            "ListenDrops in the members' namespaces during the cycles (a full accept queue",
            "drops the client's SYN, which it sends again only after 1 s).",
            f"Load average during the run: {load}.",
            "",
            table(runs),
            "",
            "Goals of the runtime path:",
            "",
            goals(runs),
            f"Total time {seconds:.0f} s.",
        ]
    )


def _layout(lab: Lab, members: tuple[str, ...]) -> None:
    for node in ("node1", "node2", "node3", "node4"):
        flag = "--label-add" if node in members else "--label-rm"
        value = "web=true" if node in members else "web"
        docker(lab, "node", "update", flag, value, "--availability", "active", node, check=False)


def _keep_task_history(lab: Lab) -> None:
    """Keep every replaced task's container (Swarm keeps 5 per slot): `docker service logs`
    reads a task's lines from its container, and the restart path replaces a node's task at
    each of its moves, so the old holder's line of an early move was gone by the end."""
    argv = ["docker", "-H", lab.manager_host, "swarm", "update", "--task-history-limit", "1000"]
    subprocess.run(argv, capture_output=True, timeout=60, check=True)


def _serving(lab: Lab, c: Client, members: tuple[str, ...]) -> None:
    """Before the first cycle: every member's web server answers on its own address, and
    its health check has had time to rise (interval 0.5 s x rise 2). A drain right after the
    deploy otherwise moves the VIP to a node whose server does not answer yet (the 32 failed
    requests of the first cycle in an earlier run)."""
    urls = [f"http://{lab.node(n).ip}:8080/" for n in members]
    code = f"import urllib.request as u\nfor x in {urls!r}: u.urlopen(x, timeout=1).read()"

    def answering() -> bool:
        return c.exec("python3", "-c", code, check=False, timeout=15).returncode == 0

    wait_until("every member's web server answers", answering, 120, interval=0.5)
    time.sleep(CHECK_RISE)
    wait_until("the plan's first node holds the VIP", lambda: _at_planned_holder(lab), 60, 0.5)


def _at_planned_holder(lab: Lab) -> bool:
    """`status` says the stack is where the plan puts it for good: every member reports, with
    no failing check (effective priority = priority), and the VIP is on the member the plan
    ranks first. A fresh deploy's first MASTER may be another member until the first node's
    check rises and it preempts; a cycle that starts before then drains a node that is about
    to lose the VIP anyway (1 move, not 2), or lifts a node whose check is still down, so the
    VIP goes to a third node first (the first cycle of a layout, in earlier runs). The
    expected holder alone is not enough: it follows the members that report now."""
    done = swarmvip(lab, "status", "--json", timeout=60)
    try:
        vips = json.loads(done.stdout)["vips"]
    except (ValueError, KeyError):
        return False
    return bool(vips) and all(_planned(v) for v in vips)


def _planned(vip: dict[str, Any]) -> bool:
    members = vip["members"]
    if not members or any(m["effective_priority"] != m["priority"] for m in members):
        return False
    top = max(members, key=lambda m: m["priority"])["hostname"]
    return bool(vip["holders"] == [top] == [vip["expected_holder"]])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runtime", type=int, default=20, help="runtime cycles per layout")
    parser.add_argument("--restart", type=int, default=6, help="restart cycles per layout")
    parser.add_argument(
        "--cold", type=int, default=0,
        help="cold cycles per layout, each after a runtime one: the runtime path with the"
        " relay's sender started only when the plan is known (SWARMVIP_SENDER_AHEAD=0)",
    )  # fmt: skip
    parser.add_argument("--setup", default=PLANNED.name, choices=list(SETUP_BY_NAME))
    parser.add_argument("--layout", choices=list(LAYOUTS), action="append")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    if not os.environ.get("SWARMVIP_LAB_ID"):
        parser.error("set SWARMVIP_LAB_ID (the benchmark never uses the default lab)")
    lab = Lab(nodes=4)
    setup = SETUP_BY_NAME[args.setup]
    started = time.monotonic()
    runs: list[Run] = []
    loads: list[float] = []
    held: dict[str, str] = {}  # layout -> what its holds defused (the log's first layout: "w")
    with client(lab) as c:
        _keep_task_history(lab)
        for layout in args.layout or list(LAYOUTS):
            _layout(lab, LAYOUTS[layout])
            bench = Bench(lab, c, setup, LAYOUTS[layout])
            bench.deploy()
            try:
                _serving(lab, c, LAYOUTS[layout])
                for path in schedule(args.runtime, args.restart, args.cold):
                    run = cycle(bench, path, layout)
                    loads.append(os.getloadavg()[0])
                    log.info(
                        "%s/%s: drain→moved %.2fs, back %.2fs, drain %.1fs, undrain %.1fs,"
                        " moves %d, failed %d",
                        layout,
                        path,
                        run["t_vip"] or -1,
                        run["t_back"] or -1,
                        run["t_drain_command"],
                        run["t_undrain_command"],
                        run["moves"],
                        run["failed"],
                    )
                    runs.append(run)
                    (RESULTS / "planned.json").write_text(json.dumps(runs, indent=1))
            finally:
                lines = agent_lines(lab, bench.setup.stack, LAYOUTS[layout])
                with (RESULTS / "planned-agents.log").open("a" if held else "w") as f:
                    f.write(f"# {layout}\n" + "\n".join(lines) + "\n")
                held[layout] = held_summary(lines)
                bench.remove()
    load = (
        f"{statistics.median(loads):.1f} median ({min(loads):.1f}..{max(loads):.1f})"
        if loads
        else "-"
    )
    holds = "\n".join(f"- {layout}: {said}" for layout, said in held.items())
    text = report(runs, time.monotonic() - started, load, setup.file.name)
    text += f"\n\nWhat the agents' holds defused (planned-agents.log):\n\n{holds}\n"
    (RESULTS / "planned.md").write_text(text)
    print(table(runs))
    print(goals(runs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
