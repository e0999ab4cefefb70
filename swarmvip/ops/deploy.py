"""Deploy orchestration in four steps, one kind of work each:

* `observe_stack`: every read of the swarm a deploy decides on (I/O);
* `plan_stack`: the stack's plan from the spec and those reads (pure);
* `materialize`: render, the desired objects and the diff against the swarm (pure but for
  Jinja); the stored spec document (`stored_spec`) is rendered once and passed in;
* `apply_phases`: the actions, phase by phase (I/O).

`prepare` runs the first three for one plain deploy; converge runs them once per handover step.
Everything that can fail on input (stack file, labels, VRIDs, secrets, missing CLI) fails
before the first write, so a refused deploy leaves the swarm untouched.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from secrets import token_hex
from typing import Any

from swarmvip.cluster.port import Cluster
from swarmvip.errors import ClusterError, ConfigError, Problem
from swarmvip.model import Node, NodePlan, Plan, StackSpec
from swarmvip.ops.agentwait import wait_for_agents, waits_on_reports
from swarmvip.ops.running import as_configured, as_reported
from swarmvip.ops.runtime import runtime_moves
from swarmvip.plan.build import build_plan
from swarmvip.plan.desired import (
    STACK_NAME,
    DesiredState,
    SecretNaming,
    config_objects,
    desired_state,
    secret_objects,
)
from swarmvip.plan.diff import (
    Action,
    CreateService,
    EnsureControl,
    Observed,
    RemoveControl,
    UpdateService,
    departures,
    diff,
    phases,
    teardown,
)
from swarmvip.plan.handover import final_plan
from swarmvip.plan.moves import AgentRuntime
from swarmvip.render import render_keepalived
from swarmvip.spec.specdoc import spec_document
from swarmvip.spec.stackfile import dump_document
from swarmvip.status.model import StatusSource
from swarmvip.wire import agentspec
from swarmvip.wire.command import KEY_SECRET

Progress = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class Prepared:
    spec: StackSpec
    plan: Plan
    desired: DesiredState
    actions: tuple[Action, ...]
    keepalived_confs: dict[str, str]
    holders: tuple[str, ...] = ()
    # the stack's plan by its labels, before a running holder is kept as it runs (whose
    # configured priority can differ from the one it runs): the groups' order and expected
    # holder (`swarmvip plan`); None: `plan` is that plan
    ranked: Plan | None = None


def prefixed(progress: Progress, prefix: str) -> Progress:
    """A progress callback that puts `prefix: ` before every line."""
    return lambda line: progress(f"{prefix}: {line}")


def stack_name(file: str, given: str | None) -> str:
    """--stack, else the file's name without extension, in Docker's stack-name rules."""
    name = given or re.sub(
        r"[^a-z0-9_-]+", "-", os.path.splitext(os.path.basename(file))[0].lower()
    )
    if not STACK_NAME.fullmatch(name):
        raise ConfigError(
            [
                Problem(
                    file=file,
                    key="--stack",
                    message=f"{name!r} is not a stack name",
                    fix="use --stack with lowercase letters, digits, - and _",
                )
            ]
        )
    return name


@dataclass(frozen=True, slots=True)
class ObservedStack:
    """What a deploy of `stack` reads of the swarm before it decides anything."""

    stack: str
    nodes: tuple[Node, ...]
    vrids: Mapping[str, Mapping[str, int]]  # {stack: {group: vrid}} of every deployed stack
    addresses: Mapping[str, Mapping[str, tuple[str, ...]]]  # {other stack: {group: addresses}}
    running: Mapping[str, NodePlan] = field(default_factory=dict)  # {node id: plan it runs}
    objects: Observed = field(default_factory=Observed)  # this stack's swarmvip objects
    secret_names: frozenset[str] = frozenset()  # every secret in the swarm
    config_names: frozenset[str] | None = None  # every config in the swarm; None: not read


def _placement(cluster: Cluster, stack: str) -> ObservedStack:
    """The reads planning needs: nodes, every stack's VRIDs, the other stacks' addresses."""
    vrids = cluster.vrids()  # every deployed stack (each keepalived service carries its VRIDs)
    others = {other: _addresses(cluster.running_plans(other)) for other in vrids if other != stack}
    return ObservedStack(stack, tuple(cluster.nodes()), vrids, others)


def observe_stack(cluster: Cluster, stack: str) -> ObservedStack:
    """Every read a deploy of `stack` decides on."""
    return replace(
        _placement(cluster, stack),
        running=cluster.running_plans(stack),
        objects=cluster.observe(stack),
        secret_names=frozenset(cluster.secret_names()),
        config_names=frozenset(cluster.config_names()),
    )


def refreshed(observed: ObservedStack, cluster: Cluster) -> ObservedStack:
    """The same observation with the stack's objects read again (after an apply)."""
    return replace(observed, objects=cluster.observe(observed.stack))


def plan_stack(spec: StackSpec, stack: str, observed: ObservedStack) -> Plan:
    """The stack's plan; refused when a VIP address is another deployed stack's (audit 9)."""
    problems = cross_stack_addresses(spec, stack, observed.addresses)
    if problems:
        raise ConfigError(problems)
    used = {
        v: other
        for other, groups in observed.vrids.items()
        if other != stack
        for v in groups.values()
    }
    return build_plan(spec, stack, observed.nodes, used, observed.vrids.get(stack))


def plan_for(spec: StackSpec, stack: str, cluster: Cluster) -> Plan:
    """The stack's plan, reading only what planning needs."""
    return plan_stack(spec, stack, _placement(cluster, stack))


def _addresses(plans: Mapping[str, NodePlan]) -> dict[str, tuple[str, ...]]:
    """{group: addresses} of a stack's running plans ({node id: plan})."""
    return {
        i.group: tuple(a.with_prefixlen for a in i.addresses)
        for plan in plans.values()
        for i in plan.instances
    }


def cross_stack_addresses(
    spec: StackSpec, stack: str, deployed: Mapping[str, Mapping[str, tuple[str, ...]]]
) -> list[Problem]:
    """A VIP address another stack already declares (deployed: {stack: {group: addresses}}):
    two VRRP instances would own one IP, so both would be MASTER and the ARP flaps."""
    taken: dict[str, tuple[str, str]] = {}
    for other, groups in sorted(deployed.items()):
        if other == stack:
            continue
        for name, addresses in sorted(groups.items()):
            for text in addresses:
                taken.setdefault(text.split("/", 1)[0].lower(), (other, name))
    problems = []
    for group in spec.groups:
        for address in group.addresses:
            owner = taken.get(str(address.ip).lower())
            if owner is not None:
                problems.append(
                    Problem(
                        file=spec.path,
                        key=f"x-swarmvip.vips.{group.name}.addresses",
                        message=f"{address.ip} is already a VIP of stack {owner[0]!r}"
                        f" (group {owner[1]})",
                        fix=f"use another address, or first remove it from stack {owner[0]}"
                        f" (redeploy {owner[0]} without it, or `swarmvip rm {owner[0]}`)",
                    )
                )
    return problems


def render_all(plan: Plan) -> tuple[dict[str, str], dict[str, str]]:
    confs = {n.node_id: render_keepalived(n, plan.stack) for n in plan.nodes}
    specs = {n.node_id: agentspec.to_json(agentspec.AgentSpec(plan.stack, n)) for n in plan.nodes}
    return confs, specs


@dataclass(frozen=True, slots=True)
class StoredSpec:
    """The stack spec document stored in the swarm, and the secret naming it was written with:
    made once per deploy or converge, shared by every step."""

    naming: SecretNaming
    text: str


def stored_spec(spec: StackSpec, stack: str, objects: Observed) -> StoredSpec:
    naming = secret_naming(objects)
    secrets = secret_objects(stack, spec.secrets, naming)
    configs = config_objects(stack, spec.agent.config_sources)
    text = dump_document(spec_document(spec, secrets, configs))
    return StoredSpec(naming, text)


def materialize(
    spec: StackSpec,
    plan: Plan,
    observed: ObservedStack,
    holders: Mapping[str, str],
    stored: StoredSpec,
    runtime: bool | None = None,
) -> Prepared:
    """Everything one apply of `plan` will do: render, the desired objects, the diff against
    `observed.objects`. holders ({group: node id} holding it now) are updated last. runtime:
    leave priority-only changes to the runtime channel (default: ops.runtime.runtime_moves)."""
    confs, specs = render_all(plan)
    desired = desired_state(
        plan, confs, specs, spec.secrets, stored.text, stored.naming, agent=spec.agent
    )
    problems = _missing(spec, desired, observed)
    if problems:
        raise ConfigError(problems)
    holder_ids = tuple(sorted(set(holders.values())))
    runtime = runtime_moves() if runtime is None else runtime
    actions = diff(desired, observed.objects, holder_ids, runtime=runtime)
    if KEY_SECRET not in observed.secret_names:
        actions = (EnsureControl(plan.image), *actions)
    return Prepared(spec, plan, desired, actions, confs, holder_ids)


def _missing(spec: StackSpec, desired: DesiredState, observed: ObservedStack) -> list[Problem]:
    """The external secrets and configs the stack mounts that the swarm lacks: refused before
    any write. An auth secret's fix asks for a VRRP password; x-swarmvip.agent's for a file."""
    keys = {g.auth_secret for g in spec.groups}
    auth = {s.object or s.name for s in spec.secrets if s.data is None and s.name in keys}
    missing = [
        Problem(
            file=spec.path,
            key="auth_secret" if name in auth else "secrets",
            message=f"swarm secret {name!r} does not exist",
            fix=f"printf PASSWORD | docker secret create {name} -"
            if name in auth
            else f"docker secret create {name} FILE",
        )
        for name in sorted(set(desired.external_secrets) - observed.secret_names - {KEY_SECRET})
    ]
    if observed.config_names is not None:
        missing += [
            Problem(
                file=spec.path,
                key="configs",
                message=f"swarm config {name!r} does not exist",
                fix=f"docker config create {name} FILE, or declare it with file: FILE",
            )
            for name in sorted(set(desired.external_configs) - observed.config_names)
        ]
    return missing


READABLE_LOG_DRIVERS = ("json-file", "local", "journald")  # `docker service logs` reads them


def log_driver_warning(driver: str) -> str | None:
    """A warning when the engine's default log driver is not one `docker service logs` reads:
    the keepalived tasks keep the operator's default driver (the service spec sets none), and
    status, the TUI and the controller read the agents' reports through service logs."""
    if not driver or driver in READABLE_LOG_DRIVERS:
        return None
    fix = (
        "set the daemons' default to local, json-file or journald (daemon.json log-driver)"
        " on the swarm's nodes"
    )
    if driver == "none":
        return (
            "the engine's default log driver is none: the keepalived tasks' state reports"
            " cannot be read, so status, the TUI and the controller see every node as"
            f" unknown; {fix}"
        )
    return (
        f"the engine's default log driver is {driver}, which `docker service logs` cannot read:"
        " the keepalived tasks' state reports are then read from Docker's dual-logging cache"
        f" (Engine 20.10+, unless cache-disabled is set) and are unknown without it; {fix}"
    )


def prepare(
    spec: StackSpec,
    stack: str,
    cluster: Cluster,
    holders: Mapping[str, str] | None = None,
    agents: Mapping[str, AgentRuntime] | None = None,
) -> Prepared:
    """Everything one plain deploy will do: observe, plan, materialize. With holders, a holder
    running a tolerated variant of its plan is left alone (plan.handover.final_plan), weighed
    with the priorities its agent reports (`agents`: a runtime change), as converge does."""
    holders = holders or {}
    observed = observe_stack(cluster, stack)
    ranked = plan_stack(spec, stack, observed)
    plan = ranked
    if holders:
        reported = as_reported(observed.running, agents or {})
        plan = as_configured(final_plan(plan, reported, holders), reported, observed.running)
    stored = stored_spec(spec, stack, observed.objects)
    return replace(materialize(spec, plan, observed, holders, stored), ranked=ranked)


def secret_naming(observed: Observed) -> SecretNaming:
    """A fresh random salt for new file secrets; the stack's secrets in the swarm keep theirs
    (plan.desired: same password, same name)."""
    return SecretNaming(token_hex(4), frozenset(s.name for s in observed.secrets))


def require_docker_cli(spec: StackSpec, vip_only: bool) -> str | None:
    if not spec.has_services or vip_only:
        return None
    cli = shutil.which("docker")
    if cli is None:
        raise ConfigError(
            [
                Problem(
                    file=spec.path,
                    key="services",
                    message="the file has services but the docker CLI is missing",
                    fix="install the docker CLI, or deploy with --vip-only",
                )
            ]
        )
    return cli


GONE_MARGIN = 10.0  # seconds past a task's stop grace period to wait for its end


def apply_phases(
    prepared: Prepared,
    cluster: Cluster,
    progress: Progress,
    timeout: float = 120.0,
    source: StatusSource | None = None,
) -> None:
    """Apply phase by phase (see plan.diff.phases), waiting until every task runs its new spec
    between phases. First of all, the departing members that hold no VIP are removed and
    waited for until their tasks have stopped (plan.diff.departures). A task that cannot run
    (its node Down, paused or drained) is not waited for: it is reported once and gets its
    new spec when the node returns.

    With a status `source`, the wait is on the agents' own reports of the new spec
    (ops.agentwait), after the last phase too; without one (a first deploy), on Docker's
    task state."""
    told: set[str] = set()
    stack = prepared.plan.stack
    restarted: dict[str, str] = {}
    if not waits_on_reports():
        source = None
    holders = set(prepared.holders)
    leaving = departures(prepared.actions, holders)
    if leaving:
        for departing in leaving:
            progress(departing.describe())
            cluster.apply(departing)
        progress("waiting until the departing keepalived tasks have stopped")
        grace = prepared.plan.stop_grace_period + GONE_MARGIN
        for line in cluster.wait_gone([a.current for a in leaving], min(timeout, grace)):
            progress(line)
    rest = tuple(a for a in prepared.actions if a not in leaving)
    for i, step in enumerate(phases(rest, holders)):
        if i:
            progress("waiting until every task runs its new config")
            if source is not None:
                wait_for_agents(source, cluster, stack, restarted, timeout, progress)
            else:
                for line in cluster.wait_running(stack, timeout):
                    if line not in told:
                        told.add(line)
                        progress(line)
        for action in step:
            progress(action.describe())
            cluster.apply(action)
            restarted |= _restarts(action)
    if source is not None and restarted:
        wait_for_agents(source, cluster, stack, restarted, timeout, progress)


def _restarts(action: Action) -> dict[str, str]:
    """{node id: new spec hash} when `action` starts a task with a new spec (a relabel does
    not restart anything)."""
    if isinstance(action, CreateService) or (
        isinstance(action, UpdateService) and action.current.spec_hash != action.service.spec_hash
    ):
        return {action.service.node_id: action.service.spec_hash}
    return {}


RESOLVE_IMAGE = ("always", "changed", "never")  # docker stack deploy --resolve-image


def deploy_services(
    cli: str,
    files: Sequence[str],
    stack: str,
    host: str | None,
    environ: Mapping[str, str] | None = None,
    stdin_text: str | None = None,
    resolve_image: str | None = None,
    connection: Sequence[str] = (),
) -> None:
    """Ordinary services: the Docker CLI's own stack deploy (no compose re-implementation),
    with every file (`-` fed the standard input swarmvip read) and the same variables, as an
    operator's `docker stack deploy` would run them:

    * `--with-registry-auth` always: it forwards this client's credentials for the images'
      registries to the nodes (nothing when there are none), so private images pull;
    * `--resolve-image` only when given (resolve_image, one of RESOLVE_IMAGE): docker's own
      default (`always`, pin each image to its registry digest) otherwise;
    * docker's own output (created/updated services, its warnings) goes straight to the user.

    connection: the docker CLI's global flags for the engine (`--context`, `-H`, `--tls*`),
    before `-H host` if both are given. A non-zero exit of docker is a ClusterError (exit 1)
    after docker said why."""
    if resolve_image is not None and resolve_image not in RESOLVE_IMAGE:
        raise ValueError(f"resolve_image must be one of {RESOLVE_IMAGE}")
    compose = [arg for f in files for arg in ("-c", f)]
    resolve = ["--resolve-image", resolve_image] if resolve_image else []
    argv = (
        [cli, *connection]
        + (["-H", host] if host else [])
        + ["stack", "deploy", "--with-registry-auth", *resolve, *compose, stack]
    )
    stdin: dict[str, Any] = (
        {"input": stdin_text} if stdin_text is not None else {"stdin": subprocess.DEVNULL}
    )
    result = subprocess.run(
        argv,
        text=True,
        check=False,
        env=dict(environ) if environ is not None else None,
        **stdin,
    )
    if result.returncode != 0:
        raise ClusterError(
            f"docker stack deploy {stack} failed (exit {result.returncode}; its output is"
            " above); the VIP layer is deployed: fix the services and deploy again"
        )


def remove(stack: str, cluster: Cluster, progress: Progress, identity: str = "rm") -> int:
    """Remove the stack's objects, holding the write lease so no controller re-creates them."""
    with cluster.exclusive(identity):
        actions = teardown(cluster.observe(stack))
        for action in actions:
            progress(action.describe())
            cluster.apply(action)
        if actions and not cluster.stored_specs():  # the last swarmvip stack is gone
            progress(RemoveControl().describe())
            cluster.apply(RemoveControl())
    return len(actions)
