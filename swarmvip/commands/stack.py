"""Stack subcommands: validate, plan, render, deploy, rm (an _add_x/_cmd_x pair each)."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from swarmvip.errors import ExitCode

if TYPE_CHECKING:  # imported lazily at run time: `swarmvip --help` loads no docker
    from swarmvip.cluster.port import Cluster
    from swarmvip.model import StackSpec
    from swarmvip.ops.deploy import Prepared
    from swarmvip.status.model import StatusSource


def _print(text: str) -> None:
    print(text, flush=True)


def _warn(text: str) -> None:
    print(f"swarmvip: warning: {text}", file=sys.stderr, flush=True)


def _add_validate(sub: Any) -> None:
    p = sub.add_parser("validate", help="check a stack file and report every problem at once")
    _stack_file_args(p)
    p.set_defaults(func=_cmd_validate)


def _cmd_validate(args: argparse.Namespace) -> int:
    spec = _read_stack_args(args)
    _print(
        f"{' + '.join(_stack_files(args))}: ok: {len(spec.groups)} VIP group(s): "
        + ", ".join(f"{g.name} ({', '.join(map(str, g.addresses))})" for g in spec.groups)
    )
    return ExitCode.OK


def _stack_args(p: argparse.ArgumentParser) -> None:
    _stack_file_args(p)
    p.add_argument("--stack", help="stack name (default: the first file's name without extension)")


@dataclass(frozen=True, slots=True)
class _Ready:
    """A deploy decided: what it will do, and where who-holds-what is read (a re-deploy)."""

    prepared: Prepared
    source: StatusSource | None


def _prepare(args: argparse.Namespace) -> _Ready:
    spec, stack, cluster = _load(args)
    return _prepare_on(args, spec, stack, cluster)


def _load(args: argparse.Namespace) -> tuple[StackSpec, str, Cluster]:
    """The stack file, the stack name and the engine: everything before planning."""
    from swarmvip.commands import wiring
    from swarmvip.ops.deploy import stack_name

    spec = _read_stack_args(args)
    stack = stack_name(args.file, args.stack)
    return spec, stack, wiring.connect(wiring.endpoint(args))


def _prepare_on(args: argparse.Namespace, spec: StackSpec, stack: str, cluster: Cluster) -> _Ready:
    """Observe, plan (VRIDs included) and diff: under the lease when it is to be applied."""
    from swarmvip.ops.deploy import log_driver_warning, prepare

    source = None
    holders: dict[str, str] = {}
    agents = {}
    if cluster.observe(stack).services:  # a re-deploy: who holds what decides the order
        from swarmvip.commands import wiring
        from swarmvip.ops.converge import holders_of, snapshot
        from swarmvip.ops.runtime import agents_of

        source = wiring.status_source(wiring.endpoint(args), stack, follow=True)
        snap = snapshot(source)
        holders, agents = holders_of(snap, stack), agents_of(snap, stack)
    prepared = prepare(spec, stack, cluster, holders, agents)
    for warning in prepared.plan.warnings:
        _warn(warning)
    logs = log_driver_warning(cluster.logging_driver())  # the tasks keep the daemon's driver
    if logs is not None:
        _warn(logs)
    return _Ready(prepared, source)


def _add_plan(sub: Any) -> None:
    p = sub.add_parser("plan", help="show what deploy would do, per node")
    _stack_args(p)
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=_cmd_plan)


def _cmd_plan(args: argparse.Namespace) -> int:
    from swarmvip.present.planview import plan_document, plan_table

    doc = plan_document(_prepare(args).prepared)
    _print(json.dumps(doc, indent=2) if args.json else plan_table(doc))
    return ExitCode.OK


def _add_render(sub: Any) -> None:
    p = sub.add_parser("render", help="write the VIP layer as a plain compose stack + configs")
    _stack_args(p)
    p.add_argument("-o", "--output", required=True, help="directory to write into")
    p.set_defaults(func=_cmd_render)


def _cmd_render(args: argparse.Namespace) -> int:
    from swarmvip.present.compose import write_compose
    from swarmvip.wire.keys import vip_namespace

    prepared = _prepare(args).prepared
    path = write_compose(prepared, args.output)
    namespace = vip_namespace(prepared.plan.stack)
    _print(f"wrote {path}; deploy it with: docker stack deploy -c {path} {namespace}")
    return ExitCode.OK


def _add_deploy(sub: Any) -> None:
    p = sub.add_parser("deploy", help="deploy the VIP layer (and the file's services)")
    _stack_args(p)
    p.add_argument("--vip-only", action="store_true", help="skip the file's ordinary services")
    p.add_argument("--dry-run", action="store_true", help="print the actions, change nothing")
    p.add_argument("--timeout", type=float, default=120.0, help="seconds to wait for tasks")
    p.add_argument(
        "--resolve-image",
        choices=("always", "changed", "never"),
        help="passed to docker stack deploy for the file's services (default: docker's own,"
        " always: pin each image to its registry digest); never where no registry answers",
    )
    p.set_defaults(func=_cmd_deploy)


def _cmd_deploy(args: argparse.Namespace) -> int:
    from swarmvip.ops.deploy import deploy_services, require_docker_cli

    spec, stack, cluster = _load(args)
    cli = require_docker_cli(spec, args.vip_only)
    if args.dry_run:  # decides nothing for real: no lease
        prepared = _prepare_on(args, spec, stack, cluster).prepared
        for action in prepared.actions:
            _print(f"would {action.describe()}")
        _print(f"{len(prepared.actions)} action(s); nothing changed (--dry-run)")
        return ExitCode.OK
    from swarmvip.ops.controller import default_identity

    # plan (VRIDs, holders, diff) only once the lease is ours: nobody changes the swarm
    # between that decision and its apply
    with cluster.exclusive(f"deploy@{default_identity()}"):
        ready = _prepare_on(args, spec, stack, cluster)
        changes = _apply_deploy(args, cluster, ready)
    if cli is not None:
        from swarmvip.cluster.connection import cli_flags
        from swarmvip.commands import wiring

        files = _stack_files(args)
        _print(f"  docker stack deploy {stack} (services of {' + '.join(files)})")
        deploy_services(
            cli,
            files,
            stack,
            None,  # the engine: the same one, with the same settings (connection)
            _services_environment(args),
            args.stdin_text,
            connection=cli_flags(wiring.endpoint(args)),
            resolve_image=args.resolve_image,
        )
    cluster.wait_running(stack, args.timeout, _progress_printer())
    _print(
        f"stack {stack}: {len(ready.prepared.plan.nodes)} keepalived task(s) running,"
        f" {changes} change(s)"
    )
    return ExitCode.OK


def _apply_deploy(args: argparse.Namespace, cluster: Cluster, ready: _Ready) -> int:
    """Hitless steps on a re-deploy (the VIP already has a holder), a plain apply otherwise. A
    re-deploy converges even with no swarm change: new priorities go over the runtime channel,
    and on the restart path what earlier runtime changes left is reset (ops.converge)."""
    from swarmvip.ops.converge import converge
    from swarmvip.ops.deploy import apply_phases

    say = lambda line: _print(f"  {line}")  # noqa: E731
    prepared, source = ready.prepared, ready.source
    if source is not None:
        return converge(prepared.spec, prepared.plan.stack, cluster, source, say, args.timeout)
    apply_phases(prepared, cluster, say, args.timeout)
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

    from swarmvip.cluster.connection import cli_flags
    from swarmvip.commands import wiring
    from swarmvip.ops.deploy import remove

    target = wiring.endpoint(args)
    cluster = wiring.connect(target)
    from swarmvip.ops.controller import default_identity

    count = remove(
        args.stack, cluster, lambda line: _print(f"  {line}"), f"rm@{default_identity()}"
    )
    cli = shutil.which("docker")
    if cli:
        argv = [cli, *cli_flags(target), "stack", "rm", args.stack]
        subprocess.run(argv, capture_output=True, text=True, check=False)
    _print(f"stack {args.stack}: removed {count} swarmvip object(s)")
    return ExitCode.OK


def register(sub: Any) -> None:
    for add in (_add_validate, _add_plan, _add_render, _add_deploy, _add_rm):
        add(sub)


# Stack files and interpolation options, shared by validate, plan, render and deploy.


class _ComposeFile(argparse.Action):
    """-c FILE (repeatable): the files in order; the first is `file` when none is positional."""

    def __call__(self, parser: Any, ns: argparse.Namespace, value: Any, opt: Any = None) -> None:
        ns.compose_files = [*(ns.compose_files or []), value]
        if ns.file is None:
            ns.file = value


class _PositionalFile(argparse.Action):
    def __call__(self, parser: Any, ns: argparse.Namespace, value: Any, opt: Any = None) -> None:
        if value is not None:  # argparse calls it with None when absent: keep a -c FILE
            ns.file = ns.positional_file = value


def _stack_file_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "file",
        nargs="?",
        action=_PositionalFile,
        help="compose stack file with an x-swarmvip: block (- reads standard input)",
    )
    p.add_argument(
        "-c",
        "--compose-file",
        metavar="FILE",
        dest="compose_files",
        action=_ComposeFile,
        help="a further stack file, merged over the ones before it as compose merges files"
        " (repeatable, like docker stack deploy -c; - reads standard input)",
    )
    p.add_argument(
        "--env-file",
        metavar="FILE",
        action="append",
        default=[],
        help="KEY=VALUE lines for ${VAR} interpolation, used where the environment lacks the"
        " name (the environment wins, as with docker compose; repeatable, a later file wins)",
    )
    p.set_defaults(positional_file=None)


def _stack_files(args: argparse.Namespace) -> list[str]:
    """The positional FILE first, then every -c FILE in order."""
    first = [args.positional_file] if getattr(args, "positional_file", None) else []
    return first + list(getattr(args, "compose_files", None) or [])


def _read_stack_args(args: argparse.Namespace) -> StackSpec:
    """read_stack with every file and --env-file of the command line. Standard input (`-`)
    is read once and kept in args.stdin_text, for `docker stack deploy` to get it too."""
    import io

    from swarmvip.spec.stackfile import STDIN, read_stack

    files = _stack_files(args)
    args.stdin_text = sys.stdin.read() if STDIN in files else None
    stdin = io.StringIO(args.stdin_text) if args.stdin_text is not None else None
    return read_stack(files, env_files=getattr(args, "env_file", None) or (), stdin=stdin)


def _services_environment(args: argparse.Namespace) -> dict[str, str]:
    """The environment `docker stack deploy` interpolates the file's services from: this
    process's, plus what the --env-file files define for names it lacks (as swarmvip did)."""
    import os
    from pathlib import Path

    from swarmvip.spec.envfile import read_env_files

    files = [(Path(f).read_text(), f) for f in getattr(args, "env_file", None) or ()]
    return read_env_files(files, os.environ) | dict(os.environ)
