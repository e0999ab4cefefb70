"""The TUI, headless, against the engine $DOCKER_HOST names, for a few seconds (fault campaign).

Runs the real `swarmvip tui` app (swarmvip_tui.SwarmvipApp with the same status source and
drain actions as the command) under Textual's headless driver and prints one JSON line: how
many polls ended, how many brought a snapshot, the seconds from start to the first snapshot,
the largest time between two screen refreshes, the node rows shown and the last error.
Used by bench/faults_control.py (scenario 3: does the TUI work against another manager) and
the scale measures (refresh time). Usage:
    DOCKER_HOST=unix:///… .venv/bin/python -m bench.faults_tui [--seconds 6] [--stack faults]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import time
from typing import Any


async def run(seconds: float, stack: str | None, interval: float) -> dict[str, Any]:
    from swarmvip_tui.app import SwarmvipApp

    from swarmvip.cluster.connection import resolve
    from swarmvip.commands import wiring
    from swarmvip.commands.tui import real_actions

    target = resolve()
    source = wiring.status_source(target, stack, follow=True)
    actions, unavailable = real_actions(target)
    app = SwarmvipApp(source, actions, interval=interval, unavailable=unavailable)
    started = time.monotonic()
    applied: list[tuple[float, bool]] = []
    apply = app.apply

    def recorded(snap: Any, error: str | None) -> None:
        applied.append((time.monotonic() - started, snap is not None))
        apply(snap, error)

    app.apply = recorded  # type: ignore[method-assign]
    async with app.run_test(headless=True, size=(160, 50)) as pilot:
        while time.monotonic() - started < seconds:
            await pilot.pause(0.2)
        snap = app.snapshot
        rows = len(snap.nodes) if snap is not None else 0
    source.close()
    ok = [t for t, good in applied if good]
    gaps = [b - a for a, b in itertools.pairwise(ok)]
    return {
        "polls": len(applied),
        "ok_polls": len(ok),
        "first_ok": round(ok[0], 3) if ok else None,
        "max_refresh": round(max(gaps), 3) if gaps else None,
        "nodes": rows,
        "error": app.last_error or None,
        "poll_seconds": round(app.last_poll_seconds, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--stack")
    parser.add_argument("--interval", type=float, default=0.5)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(run(args.seconds, args.stack, args.interval))), flush=True)


if __name__ == "__main__":
    main()
