"""`swarmvip controller`: run the reconcile loop (as a service on a manager, or by hand).

While it runs (not with --once) it serves Prometheus metrics on --metrics-address:--metrics-port
(default 0.0.0.0:9815; port 0: off), see ops/metrics.py. Metrics that cannot start (the port is
taken, prometheus-client is missing) are reported on stderr and the loop runs without them: the
VIP layer matters more than its metrics.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from swarmvip.errors import ExitCode

if TYPE_CHECKING:
    from swarmvip.ops.controller import Controller

ONCE_WAIT = 60.0  # seconds `--once` waits for another writer (a deploy, the controller)
METRICS_PORT = 9815  # ops.metrics.PORT (not imported here: prometheus-client loads with it)


def _add_controller(sub: Any) -> None:
    p = sub.add_parser("controller", help="keep every swarmvip stack in step with the swarm")
    p.add_argument("--interval", type=float, default=30.0, help="full resync, seconds")
    p.add_argument("--ttl", type=float, default=15.0, help="leader lease, seconds")
    p.add_argument("--once", action="store_true", help="one reconcile pass, then exit")
    p.add_argument("--identity", help="leader identity (default: hostname-pid)")
    p.add_argument(
        "--metrics-port",
        type=_port,
        default=METRICS_PORT,
        help=f"serve Prometheus metrics on this port (default {METRICS_PORT}; 0: off)",
    )
    p.add_argument(
        "--metrics-address",
        default="0.0.0.0",
        help="address the metrics endpoint listens on (default 0.0.0.0: all IPv4)",
    )
    p.set_defaults(func=_cmd_controller)


def _port(text: str) -> int:
    port = int(text)
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{port} is not a port (0..65535; 0: off)")
    return port


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
    close = _start_metrics(controller, args.metrics_address, args.metrics_port, stop)
    try:
        controller.run(stop)
    finally:
        stop.set()
        close()
    return ExitCode.OK


def _start_metrics(
    controller: Controller, address: str, port: int, stop: threading.Event
) -> Callable[[], None]:
    """Start the metrics poller and endpoint; returns what stops the endpoint."""
    if port <= 0:
        return lambda: None
    try:
        from swarmvip.ops.metrics import StatusMetrics, facts, serve

        metrics = StatusMetrics(controller.source, lambda: facts(controller))
        close = serve(metrics, port, address)
    except (ImportError, OSError) as exc:
        print(f"controller: metrics disabled: {exc}", file=sys.stderr, flush=True)
        return lambda: None
    metrics.start(stop)
    print(f"controller: metrics on http://{address}:{port}/metrics", file=sys.stderr, flush=True)
    return close


def register(sub: Any) -> None:
    _add_controller(sub)
