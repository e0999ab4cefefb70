"""Status subcommands: status (table, --json, --watch)."""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

from swarmvip.errors import ExitCode, UnavailableError


def _add_status(sub: Any) -> None:
    p = sub.add_parser("status", help="who holds each VIP, node by node, with alarms")
    p.add_argument("--json", action="store_true", help="versioned JSON document (schema 1)")
    p.add_argument("--watch", action="store_true", help="refresh until interrupted")
    p.add_argument("--stack", help="only this stack")
    p.add_argument("--interval", type=float, default=1.0, help="--watch refresh, seconds")
    p.set_defaults(func=_cmd_status)


def _cmd_status(args: argparse.Namespace) -> int:
    from swarmvip.status.fold import fold
    from swarmvip.status.source import ClusterSource
    from swarmvip.status.view import table, to_json

    source = ClusterSource(args.host, args.stack, follow=args.watch)
    while True:
        snap = fold(source.observe())
        if snap.error and not args.watch:
            raise UnavailableError(snap.error)
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


def register(sub: Any) -> None:
    _add_status(sub)
