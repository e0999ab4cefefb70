"""`swarmvip controller`: run the reconcile loop (as a service on a manager, or by hand)."""

from __future__ import annotations

import argparse
import signal
import threading
from typing import Any

from swarmvip.errors import ExitCode

ONCE_WAIT = 60.0  # seconds `--once` waits for another writer (a deploy, the controller)


def _add_controller(sub: Any) -> None:
    p = sub.add_parser("controller", help="keep every swarmvip stack in step with the swarm")
    p.add_argument("--interval", type=float, default=30.0, help="full resync, seconds")
    p.add_argument("--ttl", type=float, default=15.0, help="leader lease, seconds")
    p.add_argument("--once", action="store_true", help="one reconcile pass, then exit")
    p.add_argument("--identity", help="leader identity (default: hostname-pid)")
    p.set_defaults(func=_cmd_controller)


def _cmd_controller(args: argparse.Namespace) -> int:
    from swarmvip.commands import wiring

    target = wiring.endpoint(args)
    controller = wiring.controller(target, args.identity, args.interval, args.ttl)
    if args.once:  # holds the write lease like any writer (waits up to 60 s for it)
        applied = controller.once(ONCE_WAIT)
        print(f"{applied} action(s) applied; {controller.state.last_error or 'no error'}")
        return ExitCode.OK if controller.state.last_error is None else ExitCode.FAILURE
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    controller.run(stop)
    return ExitCode.OK


def register(sub: Any) -> None:
    _add_controller(sub)
