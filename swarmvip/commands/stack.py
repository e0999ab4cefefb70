"""Stack subcommands: validate, plan, render, deploy, rm (an _add_x/_cmd_x pair each)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from swarmvip.errors import ExitCode


def _print(text: str) -> None:
    print(text, flush=True)


def _warn(text: str) -> None:
    print(f"swarmvip: warning: {text}", file=sys.stderr, flush=True)


def _add_validate(sub: Any) -> None:
    p = sub.add_parser("validate", help="check a stack file and report every problem at once")
    p.add_argument("file")
    p.set_defaults(func=_cmd_validate)


def _cmd_validate(args: argparse.Namespace) -> int:
    from swarmvip.spec.stackfile import read_stack

    spec = read_stack(args.file)
    _print(
        f"{args.file}: ok: {len(spec.groups)} VIP group(s): "
        + ", ".join(f"{g.name} ({', '.join(map(str, g.addresses))})" for g in spec.groups)
    )
    return ExitCode.OK


def _stack_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", help="compose stack file with an x-swarmvip: block")
    p.add_argument("--stack", help="stack name (default: the file name without extension)")


def _prepare(args: argparse.Namespace) -> Any:
    spec, stack, cluster = _load(args)
    prepared, source = _prepare_on(args, spec, stack, cluster)
    return cluster, prepared, source


def _load(args: argparse.Namespace) -> Any:
    """The stack file, the stack name and the engine: everything before planning."""
    from swarmvip.commands import wiring
    from swarmvip.ops.deploy import stack_name
    from swarmvip.spec.stackfile import read_stack

    spec = read_stack(args.file)
    stack = stack_name(args.file, args.stack)
    return spec, stack, wiring.connect(args.host)


def _prepare_on(args: argparse.Namespace, spec: Any, stack: str, cluster: Any) -> Any:
    """Observe, plan (VRIDs included) and diff: under the lease when it is to be applied."""
    from swarmvip.ops.deploy import prepare

    source = None
    holders: dict[str, str] = {}
    if cluster.observe(stack).services:  # a re-deploy: who holds what decides the order
        from swarmvip.commands import wiring
        from swarmvip.ops.converge import holders_of, snapshot

        source = wiring.status_source(args.host, stack, follow=True)
        holders = holders_of(snapshot(source), stack)
    prepared = prepare(spec, stack, cluster, holders)
    for warning in prepared.plan.warnings:
        _warn(warning)
    return prepared, source


def _add_plan(sub: Any) -> None:
    p = sub.add_parser("plan", help="show what deploy would do, per node")
    _stack_args(p)
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=_cmd_plan)


def _cmd_plan(args: argparse.Namespace) -> int:
    from swarmvip.present.planview import plan_document, plan_table

    _, prepared, _ = _prepare(args)
    doc = plan_document(prepared)
    _print(json.dumps(doc, indent=2) if args.json else plan_table(doc))
    return ExitCode.OK


def _add_render(sub: Any) -> None:
    p = sub.add_parser("render", help="write the VIP layer as a plain compose stack + configs")
    _stack_args(p)
    p.add_argument("-o", "--output", required=True, help="directory to write into")
    p.set_defaults(func=_cmd_render)


def _cmd_render(args: argparse.Namespace) -> int:
    from swarmvip.present.compose import write_compose

    _, prepared, _ = _prepare(args)
    path = write_compose(prepared, args.output)
    _print(f"wrote {path}; deploy it with: docker stack deploy -c {path} {prepared.plan.stack}")
    return ExitCode.OK


def _add_deploy(sub: Any) -> None:
    p = sub.add_parser("deploy", help="deploy the VIP layer (and the file's services)")
    _stack_args(p)
    p.add_argument("--vip-only", action="store_true", help="skip the file's ordinary services")
    p.add_argument("--dry-run", action="store_true", help="print the actions, change nothing")
    p.add_argument("--timeout", type=float, default=120.0, help="seconds to wait for tasks")
    p.set_defaults(func=_cmd_deploy)


def _cmd_deploy(args: argparse.Namespace) -> int:
    from swarmvip.ops.deploy import deploy_services, require_docker_cli

    spec, stack, cluster = _load(args)
    cli = require_docker_cli(spec, args.vip_only)
    if args.dry_run:  # decides nothing for real: no lease
        prepared, _ = _prepare_on(args, spec, stack, cluster)
        for action in prepared.actions:
            _print(f"would {action.describe()}")
        _print(f"{len(prepared.actions)} action(s); nothing changed (--dry-run)")
        return ExitCode.OK
    from swarmvip.ops.controller import default_identity

    # plan (VRIDs, holders, diff) only once the lease is ours: nobody changes the swarm
    # between that decision and its apply
    with cluster.exclusive(f"deploy@{default_identity()}"):
        prepared, source = _prepare_on(args, spec, stack, cluster)
        changes = _apply_deploy(args, cluster, prepared, source)
    if cli is not None:
        _print(f"  docker stack deploy {stack} (services of {args.file})")
        deploy_services(cli, args.file, stack, args.host)
    cluster.wait_running(stack, args.timeout, _progress_printer())
    _print(
        f"stack {stack}: {len(prepared.plan.nodes)} keepalived task(s) running, {changes} change(s)"
    )
    return ExitCode.OK


def _apply_deploy(args: argparse.Namespace, cluster: Any, prepared: Any, source: Any) -> int:
    """Hitless steps on a re-deploy (the VIP already has a holder), a plain apply otherwise."""
    from swarmvip.ops.converge import converge
    from swarmvip.ops.deploy import apply

    say = lambda line: _print(f"  {line}")  # noqa: E731
    if source is not None and prepared.actions:
        return converge(prepared.spec, prepared.plan.stack, cluster, source, say, args.timeout)
    apply(prepared, cluster, say, args.timeout)
    return len(prepared.actions)


def _progress_printer() -> Any:
    last: list[tuple[int, int]] = []

    def show(running: int, total: int, problems: list[str]) -> None:
        if not last or last[-1] != (running, total):
            _print(
                f"  {running}/{total} keepalived tasks running"
                + (f" (waiting: {'; '.join(problems)})" if problems else "")
            )
            last.append((running, total))

    return show


def _add_rm(sub: Any) -> None:
    p = sub.add_parser("rm", help="remove a stack's VIP layer (and its services)")
    p.add_argument("stack")
    p.set_defaults(func=_cmd_rm)


def _cmd_rm(args: argparse.Namespace) -> int:
    import shutil
    import subprocess

    from swarmvip.commands import wiring
    from swarmvip.ops.deploy import remove

    cluster = wiring.connect(args.host)
    from swarmvip.ops.controller import default_identity

    count = remove(
        args.stack, cluster, lambda line: _print(f"  {line}"), f"rm@{default_identity()}"
    )
    cli = shutil.which("docker")
    if cli:
        argv = [cli] + (["-H", args.host] if args.host else []) + ["stack", "rm", args.stack]
        subprocess.run(argv, capture_output=True, text=True, check=False)
    _print(f"stack {args.stack}: removed {count} swarmvip object(s)")
    return ExitCode.OK


def register(sub: Any) -> None:
    for add in (_add_validate, _add_plan, _add_render, _add_deploy, _add_rm):
        add(sub)
