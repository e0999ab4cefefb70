"""Write bench/results/faults.md and faults.png from bench/results/faults.json (issue 12).

One table of measures per scenario (median (min..max) over the runs), one line per run (what
status said and when, the final state), each goal with its verdict, then the hand-written
bench/results/faults-analysis.md (why a goal was met or missed, what an operator should do).
matplotlib is imported here only. Usage: .venv/bin/python -m bench.faults_report
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.failover_metrics import Stats, stats
from bench.failover_scenarios import NODES  # the VIP members

RESULTS = Path(__file__).parent / "results"
Runs = list[dict[str, Any]]

TITLES = {
    "partition_holder": "1. holder partitioned from the other members, healed",
    "partition_backup": "2. a backup partitioned from everyone, healed",
    "manager_loss": "3. the raft leader's node killed (3 managers): elsewhere / the VIP holder",
    "quorum_loss": "4. two of three managers killed, then the holder (no control plane)",
    "dockerd_restart": "5. dockerd restart on the holder's node",
    "reboot": "6. the holder's node rebooted (crash + boot)",
    "link_flap": "7. the holder's link down/up every 2 s for 30 s",
    "link_flap_delay": "7b. the same flapping link, with `preempt_delay: 5s`",
    "controller_chaos": "8. the controller killed at a random point of a label change (x20)",
    "cpu_pressure": "9. the holder's node CPU-saturated for 60 s (`fast`)",
}
NOT_MEASURED = ("10. scale",)


def ok_runs(runs: Runs) -> Runs:
    return [r for r in runs if "error" not in r]


def col(runs: Runs, key: str) -> Stats:
    return stats(r.get(key) for r in ok_runs(runs))


def num(s: Stats) -> str:
    return "-" if s.n == 0 else f"{s.median:g} ({s.min:g}..{s.max:g})"


def worst(runs: Runs, key: str) -> float | None:
    got = [float(r[key]) for r in ok_runs(runs) if r.get(key) is not None]
    return max(got) if got else None


def settle_bound(data: dict[str, Any]) -> float:
    """2 x advert_int + Skew_Time (the bound's skew part: bound - 3 x advert_int)."""
    adv, bound = float(data["advert_int"]), float(data["bound"])
    return 2 * adv + (bound - 3 * adv)


def every(runs: Runs, check: Callable[[dict[str, Any]], bool]) -> bool:
    """`check` holds for every run that ran (and there is one)."""
    return bool(ok_runs(runs)) and all(check(r) for r in ok_runs(runs))


def keeps_serving(run: dict[str, Any], bound: float) -> bool:
    """Scenario 3: no failed request while the leader is elsewhere; a gap within the RFC
    bound (+ one probe interval) when the holder's node is the one killed."""
    if run["case"] == "leader elsewhere":
        return bool(run["failed"] == 0)
    return bool(run["gap"] <= bound + 0.05)


def before_mark(run: dict[str, Any], mark: str) -> int:
    """Failed requests sent before the run's `mark` (seconds from t0)."""
    at = run["marks"].get(mark, float("inf"))
    return sum(1 for t in run.get("failed_at", []) if t < at)


def says_why(said: dict[str, Any], *words: str) -> bool:
    """A status that failed and named what it could not do (one of `words`)."""
    text = str(said.get("error", "")).lower()
    return said.get("rc") not in (0, 1) and any(w in text for w in words)


def takeover(run: dict[str, Any]) -> float | None:
    """Scenario 4: from the holder's death to the new holder (runs before the death was read
    from the container: from the mark taken before `docker kill`)."""
    found = run.get("takeover_after_death")
    return run.get("takeover_after") if found is None else found


UNREAD = ("report-unreadable", "stale-report", "no-report")


def honest_without_quorum(run: dict[str, Any]) -> bool:
    """Scenario 4, status on the last manager once two of three are dead: it says the swarm
    has no leader; or, while the engine has not noticed yet and still answers, it names the
    true holder (it has not moved: the goal before) and flags the reports of each dead VIP
    member (a manager outside the group has none) as unreadable or stale. Either way it claims
    nothing it cannot know."""
    said = run["status_quorumless"]
    if says_why(said, "leader", "quorum"):
        return True
    flagged = {a.split(":", 1)[1] for a in said.get("alarms", []) if a.split(":")[0] in UNREAD}
    return (
        said.get("rc") in (0, 1)
        and said.get("holders") == [run["holder_killed"]]
        and set(run["killed"]) & set(NODES) <= flagged
    )


def as_clean_apply(runs: Runs) -> bool:
    """Scenario 8: every run with kills failed no more requests than the worst clean apply
    (the runs without a kill), or than its VIP moves (make-before-break: at most the request
    in flight at a move)."""
    clean = [r["failed"] for r in ok_runs(runs) if not r.get("kills")]
    killed = [r for r in ok_runs(runs) if r.get("kills")]
    limit = max(clean, default=0)
    return bool(killed) and all(r["failed"] <= max(limit, r["moves"]) for r in killed)


def quiet_alarms(run: dict[str, Any]) -> list[str]:
    """Scenario 8: the alarms status still showed at the end, but `member-drained` while a
    node is swarm-drained (its VIP task cannot run there: a warning by design)."""
    alarms = run["final"]["status_alarms"]
    return [a for a in alarms if not (a == "member-drained" and run.get("drained"))]


def all_clean(runs: Runs) -> bool:
    return bool(ok_runs(runs)) and all(r["final"]["clean"] for r in ok_runs(runs))


def _le(value: float | None, limit: float) -> bool:
    return value is not None and value <= limit


Goal = tuple[str, Callable[[Runs, dict[str, Any]], bool]]
# A fault on the holder's node (its dockerd, or the node itself): the same three goals.
MOVES_AND_RETURNS: list[Goal] = [
    (
        "the VIP moves and returns (preferred)",
        lambda r, d: (
            all(
                len(x["answered_by"]) >= 2 and x["answered_by"][-1] == x["holder"]
                for x in ok_runs(r)
            )
            and bool(ok_runs(r))
        ),
    ),
    (
        "no stale VIP: two holders only for a handover (<= advert_int)",
        lambda r, d: _le(worst(r, "two_holders"), d["advert_int"]),
    ),
    ("final state clean", lambda r, d: all_clean(r)),
]
GOALS: dict[str, list[Goal]] = {
    "partition_holder": [
        ("split-brain alarm within 3 s", lambda r, d: _le(worst(r, "alarm_after"), 3.0)
         and all(x.get("alarm_after") is not None for x in ok_runs(r))),
        ("one holder within 2 x advert_int + skew of the heal",
         lambda r, d: _le(worst(r, "one_holder_after"), settle_bound(d))
         and all(x.get("one_holder_after") is not None for x in ok_runs(r))),
        ("no flapping after the heal", lambda r, d: worst(r, "adds_after_settled") == 0),
        ("final state clean", lambda r, d: all_clean(r)),
    ],
    "partition_backup": [
        ("no client-visible gap (no failed request)", lambda r, d: worst(r, "failed") == 0),
        ("the holder keeps the VIP", lambda r, d: worst(r, "moves") == 0),
        ("final state clean", lambda r, d: all_clean(r)),
    ],
    "dockerd_restart": MOVES_AND_RETURNS,
    "reboot": MOVES_AND_RETURNS,
    "link_flap": [
        ("bounded moves (at most 2 per flap: 30)", lambda r, d: _le(worst(r, "moves"), 30)),
        ("two holders after the flapping <= one advert_int",
         lambda r, d: _le(worst(r, "two_holders_after"), d["advert_int"])),
        ("final state clean", lambda r, d: all_clean(r)),
    ],
    "link_flap_delay": [
        ("bounded moves (at most 2 per flap: 30)", lambda r, d: _le(worst(r, "moves"), 30)),
        ("two holders after the flapping <= one advert_int",
         lambda r, d: _le(worst(r, "two_holders_after"), d["advert_int"])),
        ("final state clean", lambda r, d: all_clean(r)),
    ],
    "manager_loss": [
        ("the VIP keeps serving (leader elsewhere: 0 failed; holder: gap <= RFC bound)",
         lambda r, d: every(r, lambda x: keeps_serving(x, d["bound"]))),
        ("`status` answers against another manager",
         lambda r, d: every(r, lambda x: x.get("status_first_ok") is not None)),
        ("the TUI shows the swarm against another manager",
         lambda r, d: every(r, lambda x: x["tui"].get("ok_polls", 0) > 0
                            and x["tui"].get("nodes", 0) > 0)),
        ("drain and undrain work against another manager",
         lambda r, d: every(r, lambda x: x["drain"]["drain"]["rc"] == 0
                            and x["drain"]["undrain"]["rc"] == 0)),
        ("the controller runs (healthy) on a surviving manager",
         lambda r, d: every(r, lambda x: x.get("controller_after") is not None
                            and x.get("controller_now") != x["killed"])),
        ("final state clean (the node back)", lambda r, d: all_clean(r)),
    ],
    "quorum_loss": [
        ("the VIP keeps serving with two managers down (0 failed)",
         lambda r, d: every(r, lambda x: before_mark(x, "holder_killed") == 0)),
        ("fails over on a holder kill with no control plane, within the RFC bound",
         lambda r, d: every(r, lambda x: _le(takeover(x), x["takeover_bound"] + 0.05))),
        ("`status` says what it cannot know (no leader / not a manager)",
         lambda r, d: every(r, lambda x: honest_without_quorum(x)
                            and says_why(x["status_no_manager"], "manager", "worker"))),
        ("final state clean after the managers return", lambda r, d: all_clean(r)),
    ],
    "controller_chaos": [
        ("converges after every kill", lambda r, d: every(
            r, lambda x: x.get("converged_after") is not None) and len(ok_runs(r)) == len(r)),
        ("0 orphan configs, secrets or services",
         lambda r, d: every(r, lambda x: not x["final"]["orphans"])),
        ("never two holders (beyond a handover overlap <= advert_int)",
         lambda r, d: _le(worst(r, "two_holders"), d["advert_int"])),
        ("client failures as in a clean apply (the runs without a kill)",
         lambda r, d: as_clean_apply(r)),
        ("`status` without alarm afterwards (a drained node's pending task aside)",
         lambda r, d: every(r, lambda x: not quiet_alarms(x))),
    ],
    "cpu_pressure": [
        ("no false failover", lambda r, d: worst(r, "moves") == 0
         and worst(r, "vip_adds") == 0),
        ("final state clean", lambda r, d: all_clean(r)),
    ],
}  # fmt: skip


def measures_table(data: dict[str, Any]) -> list[str]:
    lines = [
        "| scenario | preset | runs | client gap | failed req | two holders | no holder "
        "| client moves | VIP adds | one holder after heal/end | final clean |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for key, title in TITLES.items():
        d = data.get(key)
        if not d:
            continue
        runs = d["runs"]
        clean = sum(1 for r in ok_runs(runs) if r["final"]["clean"])
        lines.append(
            f"| {title} | {d['timers']} | {len(ok_runs(runs))}/{len(runs)} "
            f"| {col(runs, 'gap').fmt()} | {num(col(runs, 'failed'))} "
            f"| {col(runs, 'two_holders').fmt()} | {col(runs, 'no_holder').fmt()} "
            f"| {num(col(runs, 'moves'))} | {num(col(runs, 'vip_adds'))} "
            f"| {col(runs, 'one_holder_after').fmt()} | {clean}/{len(ok_runs(runs))} |"
        )
    return lines


def goals_table(data: dict[str, Any]) -> list[str]:
    lines = ["| scenario | goal | verdict |", "|---|---|---|"]
    for key in (k for k in TITLES if k in GOALS):
        goals, d = GOALS[key], data.get(key)
        for text, check in goals:
            verdict = "not measured" if not d else ("met" if check(d["runs"], d) else "MISSED")
            lines.append(f"| {TITLES[key].split('.')[0]} | {text} | {verdict} |")
    for name in NOT_MEASURED:
        where = "see [scale.md](scale.md)" if (RESULTS / "scale.md").exists() else "not measured"
        lines.append(f"| {name.split('.')[0]} | {name.split('. ')[1]} | {where} |")
    return lines


def alarms_text(run: dict[str, Any]) -> str:
    shown = [f"{a['event']} {a['kind']} @{a['t']:+.1f}s" for a in run.get("alarms", [])]
    return "; ".join(shown[:8]) + (f"; … {len(shown) - 8} more" if len(shown) > 8 else "") or "-"


def final_text(final: dict[str, Any]) -> str:
    if final["clean"]:
        return f"clean after {final['clean_after']:g} s (holder {','.join(final['vip_on'])})"
    parts = [f"VIP on {final['vip_on']}", f"status holders {final['status_holders']}"]
    parts += [f"alarms {final['status_alarms']}"] if final["status_alarms"] else []
    parts += [f"{len(final['pending_actions'])} pending action(s)"] * bool(final["pending_actions"])
    parts += [] if final["tasks_running"] else ["tasks not all running"]
    parts += [f"orphans {final['orphans']}"] if final["orphans"] else []
    return "NOT CLEAN: " + ", ".join(parts)


def repair_text(run: dict[str, Any]) -> str:
    """The campaign's repair after a run whose node's logs could not be read any more."""
    if not run.get("repaired"):
        return ""
    after = run.get("after_repair") or {}
    state = f"clean after {after['clean_after']:g} s" if after.get("clean") else "still not clean"
    return f"; repaired: dockerd restarted on {', '.join(run['repaired'])}, then {state}"


def extra_text(key: str, run: dict[str, Any]) -> str:
    if key == "partition_holder":
        return f"alarm after {run.get('alarm_after')} s, cleared {run.get('cleared_after')} s"
    if key == "manager_loss":
        return manager_text(run)
    if key == "quorum_loss":
        return quorum_text(run)
    if key == "controller_chaos":
        kills = ", ".join(f"@{k['t']:g}s" for k in run.get("kills", [])) or "never (clean apply)"
        drained = f", drained {run['drained']}" if run.get("drained") else ""
        return (
            f"{run['change']} ({run['node']}), controller killed {kills}, converged after "
            f"{run['converged_after']} s{drained}"
        )
    if key == "cpu_pressure":
        return (
            f"worst scheduling delay {run['worst_delay'] * 1000:.0f} ms, "
            f"margin {run['margin'] * 1000:.0f} ms"
        )
    marks = run.get("marks", {})
    return ", ".join(f"{k} @{v:+.1f}s" for k, v in marks.items() if k != "fault")


def said_text(said: dict[str, Any]) -> str:
    if "error" in said:
        return f"exit {said['rc']}: {said['error'][:140]}"
    alarms = ", ".join(said.get("alarms") or []) or "no alarm"
    return f"exit {said['rc']}, holders {said.get('holders')}, {alarms}"


def manager_text(run: dict[str, Any]) -> str:
    tui, drain = run["tui"], run["drain"]
    return (
        f"{run['case']}: killed {run['killed']}, via {run['via']}; control plane after "
        f"{run['control_plane_after']} s; status answered after {run['status_first_ok']} s "
        f"(first: {said_text(run['status_said'][0])}); controller {run['controller_before']} "
        f"-> {run['controller_now']}, healthy after {run['controller_after']} s; TUI "
        f"{tui.get('ok_polls')}/{tui.get('polls')} polls, {tui.get('nodes')} nodes; drain/undrain "
        f"{drain['node']}: exit {drain['drain']['rc']}/{drain['undrain']['rc']} in "
        f"{drain['drain']['seconds']}/{drain['undrain']['seconds']} s"
    )


def quorum_text(run: dict[str, Any]) -> str:
    return (
        f"killed {', '.join(run['killed'])}; status on {run['holder_killed']} (no quorum): "
        f"{said_text(run['status_quorumless'])}; then {run['holder_killed']} killed: "
        f"{run['took_over']} took over {takeover(run)} s after "
        f"{'the death' if run.get('takeover_after_death') is not None else 'the kill mark'} (bound "
        f"{run['takeover_bound']:.3f} s); status on {run['took_over']}: "
        f"{said_text(run['status_no_manager'])}; managers back, quorum after "
        f"{run['recovered_after']} s"
    )


def runs_section(data: dict[str, Any]) -> list[str]:
    lines = []
    for key, title in TITLES.items():
        d = data.get(key)
        if not d:
            continue
        lines += [f"### {title}", "", "| run | holder | gap | failed | two holders | no holder "
                  "| moves | timing | status said (alarm / cleared, s from the fault) | final |",
                  "|---|---|---|---|---|---|---|---|---|---|"]  # fmt: skip
        for i, run in enumerate(d["runs"], 1):
            if "error" in run:
                lines.append(f"| {i} | error: {run['error'][:120]} |||||||||")
                continue
            lines.append(
                f"| {i} | {run['holder']} | {run['gap']:.3f} s | {run['failed']} "
                f"| {run['two_holders']:.3f} s | {run['no_holder']:.3f} s | {run['moves']} "
                f"| {extra_text(key, run)} | {alarms_text(run)} | {final_text(run['final'])}"
                f"{repair_text(run)} |"
            )
        lines.append("")
    return lines


def plot(data: dict[str, Any], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys = [k for k in TITLES if data.get(k)]
    panels = (("gap", "client-visible gap"), ("two_holders", "two holders"),
              ("no_holder", "no holder"))  # fmt: skip
    fig, axes = plt.subplots(1, len(panels), figsize=(13, 4.2), sharey=True)
    for ax, (field, title) in zip(axes, panels, strict=True):
        for i, key in enumerate(keys):
            vals = [max(r[field], 0.005) for r in ok_runs(data[key]["runs"])]
            ax.scatter([i] * len(vals), vals, alpha=0.7, s=22)
        ax.set_xticks(range(len(keys)), [TITLES[k].split(".")[0] for k in keys])
        ax.set_xlabel("scenario")
        ax.set_title(title, fontsize=10)
        ax.set_yscale("log")
        ax.grid(axis="y", alpha=0.3)
    axes[0].set_ylabel("seconds per run (log; 5 ms = none)")
    fig.suptitle("Fault campaign, lab 3: per run (probe 100 req/s, 200 ms timeout)", fontsize=10)
    fig.tight_layout()
    fig.savefig(out, dpi=110)


def main() -> None:
    doc = json.loads((RESULTS / "faults.json").read_text())
    data = doc.get("scenarios", {})
    analysis = RESULTS / "faults-analysis.md"
    minutes = f"{sum(d['seconds'] for d in data.values()) / 60:.1f} min"
    lines = [
        "# Fault campaign (issue 12)",
        "",
        "Generated by `make faults` (bench/faults.py, bench/faults_report.py) on lab 3: four",
        "docker-in-docker nodes, node1 the manager (no VIP), nodes 2-4 serving one VIP with the",
        "`default` preset (advert 0.25 s, VRRPv3; scenario 9: `fast`, 0.1 s) and a web server that",
        "answers its hostname. A client sends 100 requests/s (open loop, 200 ms timeout) through",
        "the VIP. Values: median (min..max) over the runs. 'two holders' / 'no holder': time with",
        "two or more / no node holding the VIP (ip monitor in every member). 'client moves':",
        "changes of the answering host. 'status said': `swarmvip events --json` (the fold behind",
        "`status --json`), arrival time. 'final clean': exactly one node has the VIP and status",
        "agrees, no alarm, `swarmvip plan` has no action left, every service 1/1, no orphan",
        "config or service. Scenarios 3 and 4 run with three managers (node1 and the two top",
        "members of the plan, promoted by the campaign), 3, 4 and 8 with the controller",
        "(stacks/controller.yml) deployed. Load average over each of 3, 4, 8 is in faults.json",
        f"(`load`). Scenarios' wall time: {minutes} ({doc.get('cpus', '?')} CPUs; lab up, deploys",
        "and lab down add about 2 min). Scenario 10 (scale) has its own lab and page: scale.md.",
        "",
        *measures_table(data),
        "",
        "## Goals",
        "",
        *goals_table(data),
        "",
        "![faults](faults.png)",
        "",
        "## Runs",
        "",
        *runs_section(data),
    ]
    if analysis.exists():
        lines += [analysis.read_text()]
    (RESULTS / "faults.md").write_text("\n".join(lines))
    plot(data, RESULTS / "faults.png")


if __name__ == "__main__":
    main()
