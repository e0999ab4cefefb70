"""The `tui` subcommand. Textual (swarmvip_tui) is imported only when the command runs."""

from __future__ import annotations

import argparse
import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # docker loads only when the command runs
    from swarmvip.cluster.connection import Endpoint


def _add_tui(sub: Any) -> None:
    p = sub.add_parser("tui", help="live terminal UI: holders, nodes, alarms, drain/undrain")
    p.add_argument("--stack", help="only this stack")
    p.add_argument(
        "--interval",
        type=float,
        default=0.5,
        help="seconds between the end of one poll and the next (default 0.5)",
    )
    p.set_defaults(func=_cmd_tui)


def real_actions(target: Endpoint) -> tuple[Any, str | None]:
    """(drain actions on the engine, None), or (None, why) when swarmvip.ops.drain is not
    available."""
    try:
        importlib.import_module("swarmvip.ops.drain")
        from swarmvip.commands import wiring
    except (ImportError, AttributeError) as exc:
        return None, f"drain unavailable ({exc})"
    return wiring.drain_actions(target), None


def _cmd_tui(args: argparse.Namespace) -> int:
    from swarmvip.commands import wiring

    app_module = importlib.import_module("swarmvip_tui.app")  # Textual loads only here
    target = wiring.endpoint(args)
    source = wiring.status_source(target, args.stack, follow=True)
    actions, unavailable = real_actions(target)
    label = f"swarmvip · {target.describe()}" + (f" · stack {args.stack}" if args.stack else "")
    app = app_module.SwarmvipApp(
        source, actions, interval=args.interval, label=label, unavailable=unavailable
    )
    app.run()
    return int(app.return_code or 0)


def register(sub: Any) -> None:
    _add_tui(sub)
