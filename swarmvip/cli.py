"""The `swarmvip` command line: argparse, one error boundary, exit codes; heavy imports deferred.

Each subcommand lives in its own module that exposes `register(subparsers)`; this module only
assembles them, so `swarmvip --help` and `swarmvip agent` load neither Docker nor Textual.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from swarmvip import __version__
from swarmvip.errors import ExitCode, SwarmvipError

COMMAND_MODULES = (
    "swarmvip.commands.stack",  # validate, plan, render, deploy, rm
    "swarmvip.commands.status",  # status, drain, undrain
    "swarmvip.commands.events",  # events
    "swarmvip.commands.tui",  # tui
    "swarmvip.commands.controller",  # controller
    "swarmvip.commands.completion",  # completion
    "swarmvip.agent.cli",  # agent
    "swarmvip_lab.cli",  # lab
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="swarmvip",
        description="Highly available virtual IPs for Docker Swarm, with keepalived and node labels.",  # noqa: E501
    )
    parser.add_argument("--version", action="version", version=f"swarmvip {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    _connection_options(parser)
    parser.set_defaults(root_parser=parser)  # for `completion`, which walks the whole tree
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            # not installed (the lab lives only in a checkout): skip; a missing dependency of
            # an installed module is a real error
            if exc.name is None or not (name == exc.name or name.startswith(exc.name + ".")):
                raise
            continue
        module.register(sub)
    return parser


def _connection_options(parser: argparse.ArgumentParser) -> None:
    """The docker CLI's connection options, with its meaning (swarmvip.cluster.connection)."""
    group = parser.add_argument_group(
        "connection (like the docker CLI)",
        "-H or --context > $DOCKER_HOST > $DOCKER_CONTEXT > `docker context use` > the local"
        " socket; ssh:// uses the system ssh",
    )
    group.add_argument(
        "-H", "--host", help="engine to talk to, like docker -H (default: $DOCKER_HOST)"
    )
    group.add_argument(
        "--context", help="docker context to use (default: $DOCKER_CONTEXT, `docker context use`)"
    )
    group.add_argument(
        "--tls", action="store_true", help="use TLS (implied by --tlsverify; env $DOCKER_TLS)"
    )
    group.add_argument(
        "--tlsverify",
        action="store_true",
        help="use TLS and verify the engine (env $DOCKER_TLS_VERIFY)",
    )
    group.add_argument(
        "--tlscacert", metavar="FILE", help="CA to trust (default: $DOCKER_CERT_PATH/ca.pem)"
    )
    group.add_argument(
        "--tlscert", metavar="FILE", help="client certificate (default: $DOCKER_CERT_PATH/cert.pem)"
    )
    group.add_argument(
        "--tlskey", metavar="FILE", help="client key (default: $DOCKER_CERT_PATH/key.pem)"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return int(ExitCode.USAGE)
    try:
        return int(args.func(args))
    except SwarmvipError as exc:
        if args.debug:
            raise
        print(f"swarmvip: error: {exc}", file=sys.stderr)
        return int(exc.exit_code)
    except KeyboardInterrupt:
        print("swarmvip: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        if args.debug or not _from_engine(exc):
            raise
        # the adapter translates engine errors; one that slipped past it is still exit 3
        print(f"swarmvip: error: the Docker engine did not answer: {exc}", file=sys.stderr)
        return int(ExitCode.UNAVAILABLE)


def _from_engine(exc: BaseException) -> bool:
    """An error of the Docker client or its HTTP stack (judged without importing them)."""
    return any(
        cls.__module__.split(".")[0] in ("docker", "requests", "urllib3")
        for cls in type(exc).__mro__
    )
