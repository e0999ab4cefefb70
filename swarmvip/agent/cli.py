"""`swarmvip agent`: the entrypoint of the keepalived task image (stdlib + pyroute2 only).

Also the relay task's: `swarmvip agent relay` (its idle PID 1) and `swarmvip agent send` (run in
it by `docker exec`, a wire.relay.MovePlan in `--plan` or on stdin, one MoveResult JSON line on
stdout).
"""

from __future__ import annotations

import argparse
import base64
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
STATE_DIR_ENV = "SWARMVIP_STATE_DIR"  # where the runtime priorities are kept (agent.control)


def _env_grace() -> float:
    try:
        return float(os.environ.get(STOP_GRACE_ENV, "10"))
    except ValueError:
        return 10.0


def _env_control_port() -> int:
    from swarmvip.wire.command import PORT, PORT_ENV, PORT_SPAN

    try:
        port = int(os.environ.get(PORT_ENV, PORT))
    except ValueError:
        return PORT
    return port if 1 <= port <= 65536 - PORT_SPAN else PORT


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
    parser.add_argument(
        "--state-dir",
        default=os.environ.get(STATE_DIR_ENV, paths.STATE_DIR),
        help="where the runtime priorities are kept across restarts "
        "(default: $SWARMVIP_STATE_DIR or %(default)s)",
    )
    parser.add_argument(
        "--control-port",
        type=int,
        default=_env_control_port(),
        help="UDP port of the runtime priority listener; the next free one up to +31 if taken "
        "(default: $SWARMVIP_CONTROL_PORT or %(default)s)",
    )
    parser.set_defaults(func=run_agent)
    sub = parser.add_subparsers(dest="agent_command", metavar="{relay,send}")
    relay = sub.add_parser(
        "relay",
        help="the relay task's PID 1: idle until SIGTERM; moves are run in it with `send`",
        description="Idle until SIGTERM/SIGINT; exists to be `docker exec`ed for `send`.",
    )
    relay.set_defaults(func=run_relay)
    send = sub.add_parser(
        "send",
        help="run a planned move (--plan, or JSON on stdin) against the agents",
        description="Read a move plan (swarmvip.wire.relay) from --plan or as JSON on stdin, "
        "send its signed commands step by step, print one result JSON line; exit 0 iff every "
        "step was done. With --plan, the end of stdin (the writer is gone) stops the plan.",
    )
    send.add_argument("--key-file", default=paths.CONTROL_KEY, help="the channel key (%(default)s)")
    send.add_argument(
        "--retry", type=float, default=0.1, help="seconds between re-sends (%(default)s)"
    )
    send.add_argument(
        "--plan",
        metavar="BASE64",
        help="the plan, base64 JSON; the standard input is then the writer's connection, and"
        " its end of file (the writer is gone) stops the plan",
    )
    send.add_argument(
        "--stdin-plan",
        action="store_true",
        help="the plan, base64 JSON, is the first line of the standard input (the writer starts"
        " this before it knows the plan, so the move does not wait for Python to start); the"
        " rest of stdin is the writer's connection, as with --plan",
    )
    send.set_defaults(func=run_send)


def run_relay(args: argparse.Namespace) -> int:
    from swarmvip.agent.sender import relay

    return relay(lambda message: print(message, file=sys.stderr, flush=True))


def run_send(args: argparse.Namespace) -> int:
    from swarmvip.agent import sender
    from swarmvip.wire.command import CommandError, read_key
    from swarmvip.wire.relay import MoveResult, plan_from_json, result_to_json

    try:
        encoded = sender.first_line(sys.stdin.fileno()) if args.stdin_plan else args.plan
        if encoded is None:
            plan, gone = plan_from_json(sys.stdin.read()), (lambda: False)
        else:
            text = base64.b64decode(encoded, validate=True).decode()
            plan, gone = plan_from_json(text), sender.writer_watch(sys.stdin.fileno())
        key = read_key(args.key_file)
    except (OSError, CommandError, ValueError) as exc:
        print(result_to_json(MoveResult(False, (), str(exc))), flush=True)
        return int(ExitCode.USAGE)
    transport = sender.UdpTransport()
    try:
        result = sender.run_plan(plan, key, transport, retry=max(0.01, args.retry), gone=gone)
    finally:
        transport.close()
    print(result_to_json(result), flush=True)
    return int(ExitCode.OK if result.ok else ExitCode.FAILURE)


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
        conf=Path(args.conf),
        run_dir=Path(args.run_dir),
        secrets_dir=Path(args.secrets_dir),
        state_dir=Path(args.state_dir),
    )
    opts = Options(
        layout=layout,
        heartbeat=args.heartbeat,
        retry=args.retry,
        keepalived_bin=args.keepalived,
        stop_timeout=stop_timeout_for(args.stop_grace),
        hostname=args.hostname or os.uname().nodename,
        spec_hash=_env_spec_hash(),
        control_port=args.control_port,
    )
    return Agent(spec, opts).run()
