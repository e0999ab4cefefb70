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

RESULTS = Path(__file__).parent / "results"
Runs = list[dict[str, Any]]

TITLES = {
    "partition_holder": "1. holder partitioned from the other members, healed",
    "partition_backup": "2. a backup partitioned from everyone, healed",
    "dockerd_restart": "5. dockerd restart on the holder's node",
    "reboot": "6. the holder's node rebooted (crash + boot)",
    "link_flap": "7. the holder's link down/up every 2 s for 30 s",
    "link_flap_delay": "7b. the same flapping link, with `preempt_delay: 5s`",
    "cpu_pressure": "9. the holder's node CPU-saturated for 60 s (`fast`)",
}
NOT_MEASURED = (
    "3. manager loss",
    "4. quorum loss",
    "8. controller chaos",
    "10. scale",
)


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
    for key, goals in GOALS.items():
        d = data.get(key)
        for text, check in goals:
            verdict = "not measured" if not d else ("met" if check(d["runs"], d) else "MISSED")
            lines.append(f"| {TITLES[key].split('.')[0]} | {text} | {verdict} |")
    for name in NOT_MEASURED:
        lines.append(f"| {name.split('.')[0]} | {name.split('. ')[1]} | not yet measured |")
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
    if key == "cpu_pressure":
        return (
            f"worst scheduling delay {run['worst_delay'] * 1000:.0f} ms, "
            f"margin {run['margin'] * 1000:.0f} ms"
        )
    marks = run.get("marks", {})
    return ", ".join(f"{k} @{v:+.1f}s" for k, v in marks.items() if k != "fault")


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
        f"config or service. Scenarios' wall time: {minutes} ({doc.get('cpus', '?')} CPUs; lab",
        "up, deploys and lab down add about 2 min).",
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
