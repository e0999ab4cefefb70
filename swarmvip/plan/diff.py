"""Compare desired swarm objects with observed ones into an ordered tuple of actions. Pure.

Order: secrets and configs first (nothing references them yet), updates of lower-priority
nodes before higher ones (the VIP holder last), then new services (once every running node
lists them as a peer), removals of services, and last the configs and secrets no service uses
any more. An unchanged stack yields no action. Nothing a desired service mounts, nor an
external secret of the stack, is ever removed; an update never renames a service.

Priorities: a service whose spec differs from the desired one only in VRRP priorities (same
`swarmvip.shape`) is not updated when `runtime` is on: the runtime channel (ops.runtime) gives
its running task the new priorities without a restart. Off (or a service written before shape
labels), every difference restarts the task, as before.

An object written under another docker stack namespace (swarmvip before 0.2 labelled the VIP
layer `<stack>`, now `<stack>-vip`) is moved by a label-only write: an UpdateService whose
spec hash is unchanged (the adapter changes the service's labels only, so no task restarts)
or a RelabelObject for a config or secret (the engine allows changing only their labels).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, replace

from swarmvip.plan.desired import SPEC_MARK, DesiredObject, DesiredService, DesiredState
from swarmvip.wire.keys import STACK_NAMESPACE_LABEL


@dataclass(frozen=True, slots=True)
class ObservedService:
    id: str
    name: str
    node_id: str
    spec_hash: str
    top_priority: int = 0
    namespace: str | None = None  # its docker stack namespace label; None: not compared
    shape_hash: str = ""  # its swarmvip.shape label ("" on services written before it)
    mounts: tuple[str, ...] = ()  # names of the configs and secrets its spec mounts


@dataclass(frozen=True, slots=True)
class ObservedObject:
    id: str
    name: str
    namespace: str | None = None  # its docker stack namespace label; None: not compared


@dataclass(frozen=True, slots=True)
class Observed:
    """This stack's swarmvip objects as the cluster adapter found them."""

    services: tuple[ObservedService, ...] = ()
    configs: tuple[ObservedObject, ...] = ()
    secrets: tuple[ObservedObject, ...] = ()


@dataclass(frozen=True, slots=True)
class CreateConfig:
    obj: DesiredObject

    def describe(self) -> str:
        return f"create config {self.obj.name}"


@dataclass(frozen=True, slots=True)
class CreateSecret:
    obj: DesiredObject

    def describe(self) -> str:
        return f"create secret {self.obj.name}"


@dataclass(frozen=True, slots=True)
class EnsureControl:
    """The swarm-wide runtime channel: the key secret (random, made by the adapter) and the
    relay service on the managers (wire.relay), created when missing. Never removed here."""

    image: str

    def describe(self) -> str:
        return "create the runtime channel (secret swarmvip_control_key, service swarmvip_relay)"


@dataclass(frozen=True, slots=True)
class RemoveControl:
    """The runtime channel's key and relay, once the swarm has no swarmvip stack left."""

    def describe(self) -> str:
        return "remove the runtime channel (service swarmvip_relay, secret swarmvip_control_key)"


@dataclass(frozen=True, slots=True)
class CreateService:
    service: DesiredService

    def describe(self) -> str:
        return f"create service {self.service.name} on {self.service.hostname}"


@dataclass(frozen=True, slots=True)
class UpdateService:
    current: ObservedService
    service: DesiredService

    def describe(self) -> str:
        if self.current.spec_hash == self.service.spec_hash:
            return (
                f"relabel service {self.current.name} on {self.service.hostname}"
                f" (docker stack {namespace_of(self.service.labels)})"
            )
        return f"update service {self.service.name} on {self.service.hostname}"


@dataclass(frozen=True, slots=True)
class RelabelObject:
    """A config or secret whose labels only change (its name and data stay)."""

    kind: str  # "config" | "secret"
    current: ObservedObject
    labels: tuple[tuple[str, str], ...]

    def describe(self) -> str:
        return f"relabel {self.kind} {self.current.name} (docker stack {namespace_of(self.labels)})"


@dataclass(frozen=True, slots=True)
class RemoveService:
    current: ObservedService

    def describe(self) -> str:
        return f"remove service {self.current.name}"


@dataclass(frozen=True, slots=True)
class RemoveConfig:
    current: ObservedObject

    def describe(self) -> str:
        return f"remove config {self.current.name}"


@dataclass(frozen=True, slots=True)
class RemoveSecret:
    current: ObservedObject

    def describe(self) -> str:
        return f"remove secret {self.current.name}"


Action = (
    EnsureControl
    | RemoveControl
    | CreateConfig
    | CreateSecret
    | CreateService
    | UpdateService
    | RelabelObject
    | RemoveService
    | RemoveConfig
    | RemoveSecret
)


def diff(
    desired: DesiredState, observed: Observed, holders: Collection[str] = (), runtime: bool = False
) -> tuple[Action, ...]:
    """holders: node ids observed holding a VIP, updated last whatever their priority.
    runtime: priority-only differences are left to the runtime channel (module docstring)."""
    have_configs = {c.name for c in observed.configs}
    have_secrets = {s.name for s in observed.secrets}
    by_node = {s.node_id: s for s in observed.services}
    wanted_nodes = {s.node_id for s in desired.services}
    updates = [
        s
        for s in desired.services
        if s.node_id in by_node
        and (
            _changed(by_node[s.node_id], s, runtime)
            or _moved(by_node[s.node_id].namespace, s.labels)
        )
    ]
    updates.sort(key=lambda s: (s.node_id in holders, s.top_priority, s.name))
    updated = {s.node_id for s in updates}
    # the configs of a service left with its priorities (runtime) are not made: nothing uses them
    left = {
        s.node_id
        for s in desired.services
        if s.node_id in by_node
        and s.node_id not in updated
        and s.spec_hash != by_node[s.node_id].spec_hash
    }
    used = {m.source for s in desired.services if s.node_id not in left for m in s.configs}
    unused = {m.source for s in desired.services if s.node_id in left for m in s.configs} - used
    actions: list[Action] = [CreateSecret(s) for s in desired.secrets if s.name not in have_secrets]
    actions += [
        CreateConfig(c)
        for c in desired.configs
        if c.name not in have_configs and c.name not in unused
    ]
    actions += _relabels("secret", desired.secrets, observed.secrets)
    actions += _relabels("config", desired.configs, observed.configs)
    actions += [UpdateService(by_node[s.node_id], _named(s, by_node[s.node_id])) for s in updates]
    actions += [CreateService(s) for s in desired.services if s.node_id not in by_node]
    actions += [RemoveService(s) for s in observed.services if s.node_id not in wanted_nodes]
    # a service left as it is (a priority-only difference) keeps mounting what it mounts
    kept = {
        name
        for s in desired.services
        if s.node_id in by_node and s.node_id not in updated
        for name in by_node[s.node_id].mounts
    }
    keep_configs = {c.name for c in desired.configs} | _mounted(desired, "configs") | kept
    keep_secrets = (
        {s.name for s in desired.secrets}
        | _mounted(desired, "secrets")
        | set(desired.external_secrets)
        | kept
    )
    actions += [RemoveConfig(c) for c in observed.configs if c.name not in keep_configs]
    actions += [RemoveSecret(s) for s in observed.secrets if s.name not in keep_secrets]
    return tuple(actions)


def _changed(current: ObservedService, service: DesiredService, runtime: bool) -> bool:
    if current.spec_hash == service.spec_hash:
        return False
    return not (runtime and current.shape_hash and current.shape_hash == service.shape_hash)


def priority_only(current: ObservedService, service: DesiredService) -> bool:
    """The running service differs from the desired one in priorities only."""
    return bool(current.shape_hash) and current.shape_hash == service.shape_hash


def namespace_of(labels: tuple[tuple[str, str], ...]) -> str:
    return dict(labels).get(STACK_NAMESPACE_LABEL, "")


def _moved(observed: str | None, labels: tuple[tuple[str, str], ...]) -> bool:
    """An observed namespace (None: unknown) other than the desired one."""
    return observed is not None and observed != namespace_of(labels)


def _relabels(
    kind: str, desired: tuple[DesiredObject, ...], observed: tuple[ObservedObject, ...]
) -> list[Action]:
    wanted = {o.name: o for o in desired}
    return [
        RelabelObject(kind, o, wanted[o.name].labels)
        for o in observed
        if o.name in wanted and _moved(o.namespace, wanted[o.name].labels)
    ]


def _named(service: DesiredService, current: ObservedService) -> DesiredService:
    """The update keeps the observed name: swarmkit refuses to rename a service."""
    return replace(service, name=current.name)


def _mounted(desired: DesiredState, kind: str) -> set[str]:
    """Every config or secret (kind) a desired service mounts: never removed, whoever made it.
    A state re-planned from the stored spec lists the stack's own secrets only as mounts."""
    return {
        m.source for s in desired.services for m in (s.configs if kind == "configs" else s.secrets)
    }


def teardown(observed: Observed) -> tuple[Action, ...]:
    """Everything swarmvip made for a stack: first the stored spec (so no controller re-plans
    the stack meanwhile), then services, then what they referenced."""
    specs = [c for c in observed.configs if SPEC_MARK in c.name]
    return (
        *(RemoveConfig(c) for c in specs),
        *(RemoveService(s) for s in observed.services),
        *(RemoveConfig(c) for c in observed.configs if c not in specs),
        *(RemoveSecret(s) for s in observed.secrets),
    )


def departures(actions: tuple[Action, ...], holders: Collection[str]) -> tuple[RemoveService, ...]:
    """The services of members that leave the plan and hold no VIP: removed before anything
    else changes, and waited for until their tasks are gone (ops.deploy.apply_phases). Left
    running while the others drop it from their peer lists, a departing backup hears no
    master once the master changes (a lift, a holder's restart) and makes itself a second
    MASTER until its task stops (fault campaign, scenario 8: 1.6 s of two holders)."""
    return tuple(
        a for a in actions if isinstance(a, RemoveService) and a.current.node_id not in holders
    )


def phases(actions: tuple[Action, ...], holders: Collection[str]) -> tuple[tuple[Action, ...], ...]:
    """Split an ordered diff into phases; the caller waits for running tasks between them.

    1. new configs/secrets and the backups' updates (a backup restarting is harmless);
    2. the holders' updates (now every backup runs the new peer list);
    3. new services (they start when every running node already lists them as a peer, so a
       newcomer never sits alone as a second MASTER), then removals.
    """

    def phase(action: Action) -> int:
        if isinstance(action, UpdateService):
            return 2 if action.service.node_id in holders else 1
        if isinstance(action, EnsureControl | CreateConfig | CreateSecret | RelabelObject):
            return 1
        return 3

    split = tuple(tuple(a for a in actions if phase(a) == n) for n in (1, 2, 3))
    return tuple(p for p in split if p)
