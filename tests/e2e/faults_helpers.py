"""Helpers of the fault smoke tests (test_faults_smoke.py): who holds a VIP, from `ip monitor`
inside every node container, and what `swarmvip status --json` said, and when.

Both follow the lab in background threads with their own timestamps (the node containers share
the host's clock), so a test can measure after the fact: when the VIP came and went on each
node, when an alarm first appeared. A monitor (swarmvip_lab.vipwatch) is a `docker exec -i`
helper that stops on stdin EOF (LAB-NOTES: `docker exec` children outlive their client); it ends
by itself when its node container stops, and its node then holds nothing (the VIP went with the
network namespace).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from swarmvip_lab import Lab
from swarmvip_lab.runner import swarmvip
from swarmvip_lab.vipwatch import Event, Monitor


class Watch:
    """A monitor on every lab node; `restart` one whose container was stopped and started."""

    def __init__(self, lab: Lab, vip: str) -> None:
        self.lab = lab
        self.vip = vip
        self.monitors: dict[str, Monitor] = {}
        self.past: dict[str, list[Event]] = {}  # events of ended monitors, with their end
        try:
            for node in lab.nodes:
                self.monitors[node.hostname] = Monitor(lab, node.hostname, vip)
        except BaseException:
            self.stop()
            raise

    def holders(self) -> list[str]:
        return sorted(n for n, m in self.monitors.items() if m.holds)

    def restart(self, node: str) -> None:
        old = self.monitors[node]
        old.stop()
        ended = old.ended or time.time()
        self.past.setdefault(node, []).extend([*old.events, (ended, False)])
        self.monitors[node] = Monitor(self.lab, node, self.vip)

    def events(self) -> dict[str, list[Event]]:
        """Every node's events so far, oldest first; an ended stream ends holding nothing."""
        found = {}
        for node, mon in self.monitors.items():
            tail = [(mon.ended, False)] if mon.ended is not None else []
            found[node] = sorted([*self.past.get(node, []), *mon.events, *tail])
        return found

    def wait(self, what: str, check: Callable[[list[str]], bool], timeout: float) -> float:
        """Poll the holders every 20 ms until `check(holders)`; when it held (time.time())."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if check(now := self.holders()):
                return time.time()
            time.sleep(0.02)
        raise AssertionError(f"timed out after {timeout:g}s waiting for {what} (holders {now})")

    def stop(self) -> None:
        for mon in self.monitors.values():
            mon.stop()


def holders_at(events: dict[str, list[Event]], at: float) -> list[str]:
    """Who held the VIP at `at` by the events (a node with no event by then: nothing)."""
    found = []
    for node, evs in events.items():
        state = [holds for t, holds in evs if t <= at]
        if state and state[-1]:
            found.append(node)
    return sorted(found)


def first_time(
    events: dict[str, list[Event]], after: float, check: Callable[[list[str]], bool]
) -> float | None:
    """The first moment at or after `after` when `check(holders)` is true by the events."""
    moments = [after, *sorted(t for evs in events.values() for t, _ in evs if t > after)]
    return next((t for t in moments if check(holders_at(events, t))), None)


def changes_after(events: dict[str, list[Event]], after: float) -> list[tuple[float, str, bool]]:
    """Every add/delete after `after`: (time, node, holds), oldest first."""
    return sorted((t, node, holds) for node, evs in events.items() for t, holds in evs if t > after)


def adds(events: dict[str, list[Event]], node: str, after: float) -> list[float]:
    """When `node` took the VIP after `after` (a snapshot saying it holds counts)."""
    return [t for t, holds in events.get(node, []) if holds and t > after]


# -- what status said -------------------------------------------------------------------------
@dataclass(frozen=True)
class Sample:
    """One `swarmvip status --json` answer: when the call started and ended, what it said."""

    started: float
    ended: float
    kinds: frozenset[str]
    alarms: tuple[str, ...]  # "kind(subject)", sorted
    holders: tuple[str, ...]
    doc: dict[str, Any]


def status_doc(lab: Lab, stack: str) -> dict[str, Any]:
    """`swarmvip status --json --stack STACK` (exit 1, a critical alarm, still answers)."""
    done = swarmvip(lab, "status", "--json", "--stack", stack, timeout=30)
    try:
        doc = json.loads(done.stdout)
    except ValueError:
        return {"error": f"exit {done.returncode}: {done.stderr.strip()[-300:]}"}
    return doc if isinstance(doc, dict) else {"error": "not a JSON object"}


def sample(lab: Lab, stack: str) -> Sample:
    started = time.time()
    doc = status_doc(lab, stack)
    vips = doc.get("vips") or [{}]
    alarms = doc.get("alarms") or []
    kinds = frozenset(a["kind"] for a in alarms)
    named = tuple(sorted(f"{a['kind']}({a.get('subject')})" for a in alarms))
    return Sample(started, time.time(), kinds, named, tuple(vips[0].get("holders") or ()), doc)


@dataclass
class StatusPoller:
    """`swarmvip status --json` over and over in a thread (each answer a `Sample`)."""

    lab: Lab
    stack: str
    samples: list[Sample] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def __post_init__(self) -> None:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.samples.append(sample(self.lab, self.stack))
            self._stop.wait(0.05)

    def first(self, check: Callable[[Sample], bool], after: float) -> Sample | None:
        """The first sample of a call started at or after `after` for which `check` holds."""
        return next((s for s in list(self.samples) if s.started >= after and check(s)), None)

    def wait(self, check: Callable[[Sample], bool], after: float, timeout: float) -> Sample | None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if found := self.first(check, after):
                return found
            time.sleep(0.05)
        return None

    def timeline(self, t0: float) -> list[str]:
        """The alarms and holders each time they changed, in seconds from t0 (call end)."""
        lines: list[str] = []
        last: tuple[tuple[str, ...], tuple[str, ...]] | None = None
        for s in list(self.samples):
            if (s.alarms, s.holders) != last:
                said = ", ".join(s.alarms) or s.doc.get("error") or "no alarm"
                lines.append(f"  status {s.ended - t0:+.2f}s: holders {list(s.holders)}; {said}")
                last = (s.alarms, s.holders)
        return lines

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(40)
