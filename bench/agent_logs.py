"""Report lines (and bytes) one agent writes to `docker service logs` per hour, on a fake clock.

Runs the agent's own loop (`Agent._wait`, `emit`) for one simulated hour, with no keepalived:
time.time/monotonic and the event queue are a fake clock that jumps to the next deadline. Each
scenario runs with the old 2 s heartbeat and today's default (wire.report.HEARTBEAT).
Usage: .venv/bin/python bench/agent_logs.py [bench/results/logs.md]
"""

from __future__ import annotations

import io
import queue
import sys
import tempfile
from pathlib import Path

from swarmvip.agent import run, state
from swarmvip.agent.keepalived import Layout
from swarmvip.model import NodePlan
from swarmvip.status.model import STALE_AFTER
from swarmvip.wire.agentspec import AgentSpec
from swarmvip.wire.report import HEARTBEAT
from tests.agent import agentlab as lab

HOUR = 3600.0


class FakeClock:
    """time.time/time.monotonic for the agent; waiting on its queue moves the clock to the next
    event posted at a time (when, event), or by the wait's timeout (tests/unit uses it too)."""

    def __init__(self, events: list[tuple[float, object]] | None = None, now: float = 0.0) -> None:
        self.now, self.events = now, events if events is not None else []

    def time(self) -> float:
        return self.now

    def monotonic(self) -> float:
        return self.now

    def get(self, timeout: float | None = None) -> object:
        due = self.now + (timeout or 0.0)
        if self.events and self.events[0][0] <= due:
            when, event = self.events.pop(0)
            self.now = max(self.now, when)
            return event
        self.now = due
        raise queue.Empty


def one_hour(heartbeat: float, every: float | None) -> tuple[int, int]:
    """(lines, bytes) in one hour; every: seconds between state changes (None: idle)."""
    changes = [] if every is None else [i * every for i in range(1, int(HOUR / every))]
    events: list[tuple[float, object]] = [
        (t, state.CheckChanged("web", "c", bool(i % 2))) for i, t in enumerate(changes)
    ]
    clock = FakeClock(events)
    run.time = clock  # type: ignore[assignment]
    node = NodePlan("id-a", "node-a", None, "10.77.0.1", (lab.instance("10.77.0.1", (), 150),))
    with tempfile.TemporaryDirectory() as tmp:
        layout = Layout(conf=Path(tmp) / "k.conf", run_dir=Path(tmp), secrets_dir=Path(tmp))
        out = io.StringIO()
        agent = run.Agent(
            AgentSpec("web", node), run.Options(layout=layout, heartbeat=heartbeat), out
        )
        agent.state = state.fold(agent.state, state.InterfaceFound("eth0"))
        agent.events = clock  # type: ignore[assignment]
        agent.emit("state")
        while clock.now < HOUR:
            agent._wait(HOUR)
    text = out.getvalue()
    return text.count("\n"), len(text.encode())


SCENARIOS = (
    ("idle (steady state)", None),
    ("a change every 5 min", 300.0),
    ("a change every 30 s", 30.0),
)


def main(path: str | None = None) -> None:
    rows = [
        "| scenario | heartbeat | stale after | lines/node/h | KiB/node/h | KiB/node/day |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, every in SCENARIOS:
        for beat in (2.0, HEARTBEAT):
            lines, size = one_hour(beat, every)
            rows.append(
                f"| {name} | {beat:g} s | {STALE_AFTER * beat:g} s | {lines} | {size / 1024:.0f}"
                f" | {size * 24 / 1024:.0f} |"
            )
    table = "\n".join(rows)
    print(table)
    if path:
        Path(path).write_text(REPORT.format(table=table, beat=HEARTBEAT))


REPORT = """# Agent log volume: report lines per node per hour

Produced by `bench/agent_logs.py` (`.venv/bin/python bench/agent_logs.py bench/results/logs.md`):
the agent's own loop (`Agent._wait`/`emit`) for one simulated hour on a fake clock, one stack with
one VIP group on the node (a line is ~350 bytes; more groups make lines longer, not more
numerous). Per stack deployed on the node: each stack is its own agent.

{table}

Before: a heartbeat every 2 s, 1800 lines per node and hour whatever happens.
After: `wire.report.HEARTBEAT` = {beat:g} s, 360 lines per node and hour at rest (5x fewer).
A heartbeat is written only when no other line was written for a whole interval (state
changes reset the timer), so a busy node writes no more lines than before and a quiet one
writes one per interval. Unit test: tests/unit/test_agent_logs.py.

Stale detection is unchanged in kind: every line announces its `interval`, readers count a node
unknown when its newest line is older than 3 x that interval (status/model.py `Clocks.fresh`),
so a 10 s agent is stale after 30 s and an old 2 s agent still after 6 s. One-shot `swarmvip
status` marks a node whose log stream does not answer at once, whatever the interval.
"""

if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else None)
