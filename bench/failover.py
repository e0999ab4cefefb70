"""Failover benchmark (issue 7): baseline keepalived vs swarmvip's default and fast presets.

Runs on lab 2 (SWARMVIP_LAB_ID=2; scripts/bench.sh brings it up and down). Raw results go to
bench/results/failover.json after every scenario, then bench/failover_report.py writes
failover.md and failover.png. Usage:
    SWARMVIP_LAB_ID=2 .venv/bin/python -m bench.failover [--runs 5] [--setups baseline,fast]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from pathlib import Path
from typing import Any

from swarmvip_lab import Lab
from swarmvip_lab.runner import docker

from bench import failover_report
from bench.failover_lab import client
from bench.failover_scenarios import (
    NODES,
    SETUPS,
    Bench,
    Run,
    deploy_controller,
    remove_controller,
)

RESULTS = Path(__file__).parent / "results" / "failover.json"
log = logging.getLogger("bench")


def repeat(what: str, runs: int, one: Any, budget: float) -> list[Run]:
    """`runs` runs of `one()` (a run or a list of runs), stopping early past `budget` s."""
    out: list[Run] = []
    started = time.monotonic()
    for i in range(runs):
        if time.monotonic() - started > budget:
            log.warning("%s: time budget spent after %d run(s)", what, i)
            break
        try:
            got = one()
        except Exception as exc:  # a failed run is recorded, the benchmark goes on
            log.warning("%s run %d failed: %s", what, i + 1, exc)
            got = {"error": str(exc)}
        for run in got if isinstance(got, list) else [got]:
            log.info("%s %d: %s", what, i + 1, _short(run))
            out.append(run)
    return out


def _short(run: Run) -> str:
    keys = ("gap", "failed", "t_vip", "t_report", "two_holders", "moves", "deploy_answering")
    return " ".join(
        f"{k}={run[k]:.3f}" if isinstance(run.get(k), float) else f"{k}={run.get(k)}"
        for k in keys
        if k in run
    )


def save(results: dict[str, Any]) -> None:
    RESULTS.write_text(json.dumps(results, indent=1) + "\n")


class Saved(dict):  # type: ignore[type-arg]
    """A setup's results that are written to failover.json after every scenario."""

    def __init__(self, results: dict[str, Any], name: str, **first: Any) -> None:
        super().__init__(**first)
        self.results = results
        results[name] = self

    def __setitem__(self, key: str, value: Any) -> None:
        super().__setitem__(key, value)
        save(self.results)


def bench_setup(
    lab: Lab, results: dict[str, Any], name: str, runs: int, deploy_runs: int, controller: bool
) -> None:
    setup = next(s for s in SETUPS if s.name == name)
    out = Saved(results, name, bound=setup.bound, advert_int=setup.advert_int)
    with client(lab) as c:
        b = Bench(lab, c, setup)
        out["deploy"] = repeat(f"{name} deploy", deploy_runs, b.deploy_run, 150)
        out["kill"] = repeat(f"{name} kill", runs, b.kill, 300)
        out["pause"] = repeat(f"{name} pause", runs, b.pause, 150)
        out["planned"] = repeat(f"{name} planned", runs, b.planned, 200)
        out["swarm_drain"] = repeat(f"{name} swarm drain", runs, b.swarm_drain, 200)
        if not setup.baseline:
            out["swarm_drain_cli"] = repeat(
                f"{name} drain --swarm", runs, lambda: b.swarm_drain(via_cli=True), 200
            )
        if controller:
            deploy_controller(lab)
            try:
                out["relabel"] = repeat(f"{name} relabel", runs, b.relabel, 300)
            finally:
                remove_controller(lab)
        b.remove()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--deploy-runs", type=int, default=3)
    parser.add_argument("--setups", default="baseline,default,fast")
    parser.add_argument("--controller", default="default", help="setups with the relabel runs")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    if not os.environ.get("SWARMVIP_LAB_ID"):
        parser.error("set SWARMVIP_LAB_ID (the benchmark never uses the default lab)")
    lab = Lab(nodes=4)
    for node in NODES:
        docker(lab, "node", "update", "--label-add", "web=true", "--availability", "active", node)
    results: dict[str, Any] = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    for name in args.setups.split(","):
        started = time.monotonic()
        bench_setup(
            lab, results, name, args.runs, args.deploy_runs, name in args.controller.split(",")
        )
        results[name]["seconds"] = time.monotonic() - started
        log.info("%s done in %.0fs", name, results[name]["seconds"])
    failover_report.main()
    return 0


if __name__ == "__main__":
    sys.exit(main())
