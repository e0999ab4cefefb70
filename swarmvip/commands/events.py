"""`swarmvip events`: a stream of VIP transitions and alarm changes, one line each, for scripts.

Built on ops/watch.py (the same following status source and fold as `status --watch` and the
TUI); status/events.py decides what is an event. On start every active alarm is reported once;
transitions from before the start are not. A manager that cannot be reached is an event too
(`unreachable`, later `reachable`), and the stream goes on. It ends with exit 0 on Ctrl-C or
SIGTERM (a second Ctrl-C interrupts a poll that hangs) and when stdout is closed (`| head`).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

from swarmvip.errors import ExitCode


def _add_events(sub: Any) -> None:
    p = sub.add_parser("events", help="stream VIP transitions and alarms as they happen")
    p.add_argument("--stack", help="only this stack")
    p.add_argument("--json", action="store_true", help="one JSON object per line")
    p.add_argument("--interval", type=float, default=1.0, help="seconds between polls")
    p.set_defaults(func=_cmd_events)


@contextmanager
def _stop_on_signals(stop: threading.Event) -> Iterator[None]:
    """SIGTERM and SIGINT set `stop`; a second SIGINT raises KeyboardInterrupt. Restored after."""

    def on_signal(signum: int, frame: FrameType | None) -> None:
        if signum == signal.SIGINT and stop.is_set():
            raise KeyboardInterrupt
        stop.set()

    before = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, handler in before.items():
            signal.signal(sig, handler)


def _write(text: str) -> bool:
    """Print one line; False when stdout is closed (then it points at /dev/null, so the
    interpreter's final flush does not fail either)."""
    try:
        print(text, flush=True)
    except BrokenPipeError:
        try:
            fd = sys.stdout.fileno()
        except (OSError, ValueError):
            return False  # stdout has no descriptor (replaced in-process): nothing to flush
        os.dup2(os.open(os.devnull, os.O_WRONLY), fd)
        return False
    return True


def _cmd_events(args: argparse.Namespace) -> int:
    from swarmvip.commands import wiring
    from swarmvip.ops.watch import polls
    from swarmvip.present.event_view import line, to_json

    source = wiring.status_source(wiring.endpoint(args), args.stack, follow=True)
    stop = threading.Event()
    try:
        with _stop_on_signals(stop):
            for poll in polls(source, args.interval, stop):
                for event in poll.events:
                    text = json.dumps(to_json(event)) if args.json else line(event)
                    if not _write(text):
                        return ExitCode.OK
    finally:
        close = getattr(source, "close", None)
        if callable(close):
            close()
    return ExitCode.OK


def register(sub: Any) -> None:
    _add_events(sub)
