"""`swarmvip agent`: the entrypoint of the keepalived task image (stdlib + pyroute2 only)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from swarmvip.errors import ExitCode
from swarmvip.wire import paths
from swarmvip.wire.report import HEARTBEAT

DESCRIPTION = """Run keepalived for this node as a supervised child and report its state as
JSON lines on stdout (schema: swarmvip.wire.report). Meant to be PID 1 of a swarmvip task."""
STOP_GRACE_ENV = paths.STOP_GRACE_ENV  # set by the service spec (cluster/core.py)


def _env_grace() -> float:
    try:
        return float(os.environ.get(STOP_GRACE_ENV, "10"))
    except ValueError:
        return 10.0


def _env_spec_hash() -> str:
    """$SWARMVIP_SPEC when it looks like a spec hash (hex), else "" (nothing is reported)."""
    value = os.environ.get(paths.SPEC_ENV, "")
    return value if value.isalnum() and len(value) <= 64 else ""


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "agent",
        help="run keepalived on this node (the task image's entrypoint)",
        description=DESCRIPTION,
    )
    parser.add_argument("--spec", default=paths.AGENT_SPEC, help="agent spec JSON (%(default)s)")
    parser.add_argument(
        "--conf", default=paths.KEEPALIVED_CONF, help="rendered keepalived.conf (%(default)s)"
    )
    parser.add_argument(
        "--run-dir",
        default=paths.RUN_DIR,
        help="wrapper config, FIFO, track files, pid files (%(default)s)",
    )
    parser.add_argument(
        "--secrets-dir",
        default=paths.SECRETS_DIR,
        help="where auth secrets are mounted (%(default)s)",
    )
    parser.add_argument(
        "--heartbeat",
        type=float,
        default=HEARTBEAT,
        help="write a heartbeat report when no report was written for this many seconds; "
        "readers count the node unknown after ~3x (%(default)s)",
    )
    parser.add_argument(
        "--retry",
        type=float,
        default=5.0,
        help="seconds between attempts while in FAULT (%(default)s)",
    )
    parser.add_argument(
        "--stop-grace",
        type=float,
        default=_env_grace(),
        help="the task's stop grace period in seconds: after a stop signal keepalived gets "
        "grace-2s (half of short ones) to exit, then it is killed and the agent removes the "
        f"VIPs itself (default: ${STOP_GRACE_ENV} or 10: %(default)s)",
    )
    parser.add_argument("--keepalived", default="keepalived", help="keepalived binary")
    parser.add_argument("--hostname", default=None, help="node name in reports (uname)")
    parser.set_defaults(func=run_agent)


def run_agent(args: argparse.Namespace) -> int:
    from swarmvip.agent.keepalived import Layout
    from swarmvip.agent.run import Agent, Options, stop_timeout_for
    from swarmvip.wire.agentspec import from_json

    try:
        spec = from_json(Path(args.spec).read_text())
    except (OSError, ValueError, KeyError, TypeError) as exc:
        print(f"swarmvip agent: cannot load agent spec {args.spec}: {exc}", file=sys.stderr)
        return int(ExitCode.USAGE)
    layout = Layout(
        conf=Path(args.conf), run_dir=Path(args.run_dir), secrets_dir=Path(args.secrets_dir)
    )
    opts = Options(
        layout=layout,
        heartbeat=args.heartbeat,
        retry=args.retry,
        keepalived_bin=args.keepalived,
        stop_timeout=stop_timeout_for(args.stop_grace),
        hostname=args.hostname or os.uname().nodename,
        spec_hash=_env_spec_hash(),
    )
    return Agent(spec, opts).run()
