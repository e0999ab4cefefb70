"""Status subcommands: status (table, --json, --watch), drain, undrain."""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

from swarmvip.errors import ExitCode, NoLeaderError, UnavailableError


def _add_status(sub: Any) -> None:
    p = sub.add_parser("status", help="who holds each VIP, node by node, with alarms")
    p.add_argument("--json", action="store_true", help="versioned JSON document (schema 1)")
    p.add_argument("--watch", action="store_true", help="refresh until interrupted")
    p.add_argument("--stack", help="only this stack")
    p.add_argument("--interval", type=float, default=1.0, help="--watch refresh, seconds")
    p.set_defaults(func=_cmd_status)


def _cmd_status(args: argparse.Namespace) -> int:
    from swarmvip.commands import wiring
    from swarmvip.present.planview import printable
    from swarmvip.present.status_view import table, to_json
    from swarmvip.status.fold import fold

    source = wiring.status_source(
        wiring.endpoint(args), args.stack, follow=args.watch, deadline=wiring.STATUS_DEADLINE
    )
    while True:
        snap = fold(source.observe())
        if snap.error and not args.watch:
            if args.json:  # the document says why too ("reason"), for scripts
                print(json.dumps(to_json(snap), indent=2))
            kind = NoLeaderError if snap.reason == NoLeaderError.reason else UnavailableError
            raise kind(printable(snap.error))
        text = json.dumps(to_json(snap), indent=2) if args.json else table(snap)
        if not args.watch:
            print(text)
            return (
                ExitCode.FAILURE
                if any(a.severity == "critical" for a in snap.alarms)
                else ExitCode.OK
            )
        print("\033[H\033[J" + text, flush=True)
        time.sleep(args.interval)


def _add_drain(sub: Any) -> None:
    p = sub.add_parser("drain", help="move a node's VIPs away (make-before-break) and wait")
    p.add_argument("node", help="hostname or node id")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument(
        "--vip-only",
        dest="mode",
        action="store_const",
        const="vip-only",
        help="only the VIPs leave; other workloads stay (default)",
    )
    mode.add_argument(
        "--swarm",
        dest="mode",
        action="store_const",
        const="swarm",
        help="also set the node's swarm availability to drain",
    )
    p.add_argument("--timeout", type=float, default=60.0, help="seconds to wait (default 60)")
    p.add_argument("--force", action="store_true", help="drain even if no healthy backup remains")
    p.set_defaults(func=_cmd_drain, mode="vip-only")


def _cmd_drain(args: argparse.Namespace) -> int:
    from swarmvip.commands import wiring

    actions = wiring.drain_actions(wiring.endpoint(args), args.timeout)
    outcome = actions.drain(args.node, args.mode, _say, force=args.force)
    print(outcome.message, flush=True)
    return ExitCode.OK if outcome.ok else ExitCode.FAILURE


def _add_undrain(sub: Any) -> None:
    p = sub.add_parser("undrain", help="bring a drained node back into its VIP groups")
    p.add_argument("node", help="hostname or node id")
    p.add_argument("--timeout", type=float, default=60.0, help="seconds to wait (default 60)")
    p.set_defaults(func=_cmd_undrain)


def _cmd_undrain(args: argparse.Namespace) -> int:
    from swarmvip.commands import wiring

    actions = wiring.drain_actions(wiring.endpoint(args), args.timeout)
    outcome = actions.undrain(args.node, _say)
    print(outcome.message, flush=True)
    return ExitCode.OK if outcome.ok else ExitCode.FAILURE


def _say(line: str) -> None:
    print(f"  {line}", flush=True)


def register(sub: Any) -> None:
    for add in (_add_status, _add_drain, _add_undrain):
        add(sub)
