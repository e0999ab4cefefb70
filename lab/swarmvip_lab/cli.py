"""`swarmvip lab ...`: build the images, bring the multi-node swarm lab up or down, inspect it."""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from dataclasses import asdict

from swarmvip.errors import ExitCode


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    lab = subparsers.add_parser("lab", help="local multi-node swarm lab (docker-in-docker)")
    sub = lab.add_subparsers(dest="lab_command", metavar="LAB_COMMAND", required=True)
    _add_up(sub)
    env = sub.add_parser("env", help="print `export DOCKER_HOST=...` for the lab manager")
    env.add_argument(
        "--ssh",
        action="store_true",
        help="reach the manager over ssh (DOCKER_HOST=ssh://root@…, the lab's ssh first on PATH)",
    )
    env.set_defaults(func=_cmd_env)
    status = sub.add_parser("status", help="show the lab's nodes")
    status.add_argument("--json", action="store_true", help="machine-readable output")
    status.set_defaults(func=_cmd_status)
    sub.add_parser("down", help="remove this lab's containers, volumes and network").set_defaults(
        func=_cmd_down
    )
    load = sub.add_parser("load-image", help="copy host images into every lab node")
    load.add_argument("images", nargs="+", metavar="IMAGE")
    load.set_defaults(func=_cmd_load)
    images = sub.add_parser("images", help="build the base, node and agent images if needed")
    images.add_argument("--no-agent", action="store_true", help="skip the agent image")
    images.set_defaults(func=_cmd_images)


def _add_up(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from swarmvip_lab.recipes import NODE_IMAGE

    up = sub.add_parser("up", help="create (or reuse) the lab and its swarm")
    up.add_argument("--nodes", type=int, default=3, help="number of nodes (default 3)")
    up.add_argument("--managers", type=int, choices=(1, 3), default=1, help="swarm managers")
    up.add_argument("--node-image", default=NODE_IMAGE, help=f"default {NODE_IMAGE}")
    up.add_argument("--no-build", action="store_true", help="do not build missing images")
    up.set_defaults(func=_cmd_up)


def _verbose() -> None:
    logging.basicConfig(level=logging.INFO, format="lab: %(message)s", stream=sys.stderr)


def _cmd_up(args: argparse.Namespace) -> int:
    from swarmvip_lab import Lab

    _verbose()
    started = time.monotonic()
    lab = Lab(nodes=args.nodes, managers=args.managers, node_image=args.node_image)
    changed = lab.up(build=not args.no_build)
    verdict = "ready" if changed else "already up"
    print(
        f'lab {verdict} in {time.monotonic() - started:.1f}s; eval "$(swarmvip lab env)" to use it',
        file=sys.stderr,
    )
    return int(ExitCode.OK)


def _cmd_env(args: argparse.Namespace) -> int:
    from swarmvip_lab import Lab

    lab = Lab.discover()
    if not args.ssh:
        print(f"export DOCKER_HOST={lab.manager_host}")
        return int(ExitCode.OK)
    import shlex

    from swarmvip_lab import ssh

    lab.ssh_environment()  # the lab's ssh is set up (else: run `swarmvip lab up`)
    print(f"export DOCKER_HOST={lab.manager_ssh_host}")
    print(f'export PATH={shlex.quote(str(ssh.bin_dir()))}:"$PATH"')
    return int(ExitCode.OK)


def _cmd_status(args: argparse.Namespace) -> int:
    from swarmvip_lab import Lab

    rows = Lab.discover().status()
    if args.json:
        print(json.dumps([asdict(r) for r in rows], indent=2))
    else:
        print(f"{'NODE':<8}{'IP':<14}{'IPV6':<18}{'ROLE':<9}{'CONTAINER':<10}{'ENGINE':<8}SWARM")
        for r in rows:
            engine = "up" if r.engine else "down"
            print(f"{r.name:<8}{r.ip:<14}{r.ip6:<18}{r.role:<9}{r.state:<10}{engine:<8}{r.swarm}")
    healthy = all(r.engine and r.swarm == "Ready" for r in rows)
    return int(ExitCode.OK if healthy else ExitCode.FAILURE)


def _cmd_down(args: argparse.Namespace) -> int:
    from swarmvip_lab.lab import teardown

    _verbose()
    started = time.monotonic()
    removed = teardown()
    counts = ", ".join(f"{len(v)} {k}(s)" for k, v in removed.items())
    print(f"removed {counts} in {time.monotonic() - started:.1f}s", file=sys.stderr)
    return int(ExitCode.OK)


def _cmd_load(args: argparse.Namespace) -> int:
    from swarmvip_lab import Lab

    _verbose()
    loaded = Lab.discover().load_images(args.images)
    print(f"loaded into {loaded} node(s)", file=sys.stderr)
    return int(ExitCode.OK)


def _cmd_images(args: argparse.Namespace) -> int:
    from swarmvip_lab.build import ensure_images

    _verbose()
    built = ensure_images(agent=not args.no_agent)
    print("built: " + (", ".join(built) if built else "nothing (all up to date)"), file=sys.stderr)
    return int(ExitCode.OK)
