"""FakeCluster: the Cluster port (swarmvip/cluster/port.py) in memory, for tests.

Grown from the CAS fake of tests/unit/test_lease.py: every object and the swarm spec carry a
Version.Index, a write names the version it read and is refused with the engine's own
"update out of sequence" error when another write came in between (`conflicts` injects such
writes). The lease is the real one (cluster/lease.py) over FakeSwarmSpec, so exclusion and
fencing behave as on an engine. tests/contract/test_cluster_contract.py runs one suite against
this fake and a real engine, so the two cannot drift apart.
"""

from __future__ import annotations

import dataclasses
import itertools
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import docker.errors

from swarmvip.cluster import lease
from swarmvip.cluster.control import RelayUnavailable
from swarmvip.cluster.errors import retry_on_conflict, translated
from swarmvip.cluster.port import Cluster, Feed, TaskProgress, Watcher
from swarmvip.errors import ClusterError, ConfigError, Problem
from swarmvip.model import Node, NodePlan
from swarmvip.plan.desired import DesiredService
from swarmvip.plan.diff import (
    Action,
    CreateConfig,
    CreateSecret,
    CreateService,
    EnsureControl,
    Observed,
    ObservedObject,
    ObservedService,
    RelabelObject,
    RemoveConfig,
    RemoveControl,
    RemoveSecret,
    RemoveService,
    UpdateService,
)
from swarmvip.status.model import DeployedNode, Received
from swarmvip.status.rules import cannot_run
from swarmvip.wire import agentspec, paths
from swarmvip.wire.command import KEY_SECRET
from swarmvip.wire.keys import (
    HASH_LABEL,
    KIND_LABEL,
    NODE_LABEL,
    OWNER_LABEL,
    SERVICE_TOP_PRIORITY,
    SHAPE_LABEL,
    STACK_LABEL,
    STACK_NAMESPACE_LABEL,
    VRIDS_LABEL,
)
from swarmvip.wire.keys import LEASE_LEADER as LEADER
from swarmvip.wire.keys import LEASE_RENEW as RENEW
from swarmvip.wire.keys import LEASE_TTL as TTL
from swarmvip.wire.report import Report

OUT_OF_SEQUENCE = "rpc error: code = Unknown desc = update out of sequence"


class FakeSwarmSpec:
    """inspect_swarm/update_swarm with the engine's optimistic concurrency (what the lease uses).

    after_read runs right after a read was taken (another writer acting between our read and
    our write); renewing names a holder that renews on every read (a live holder)."""

    def __init__(self) -> None:
        self.version = 1
        self.labels: dict[str, str] = {}
        self.stale_writes = 0
        self.writes = 0
        self.after_read: Callable[[], None] | None = None
        self.renewing: str | None = None
        self.lock = threading.Lock()

    def info(self) -> dict[str, Any]:
        return {"LoggingDriver": "json-file"}  # what DockerCluster.logging_driver reads

    def inspect_swarm(self) -> dict[str, Any]:
        with self.lock:
            if self.renewing and self.labels.get(LEADER) == self.renewing:
                self.bump()
            seen = {"Version": {"Index": self.version}, "Spec": {"Labels": dict(self.labels)}}
        hook, self.after_read = self.after_read, None
        if hook:
            hook()
        return seen

    def update_swarm(self, version: int, swarm_spec: dict[str, Any]) -> None:
        with self.lock:
            if version != self.version:
                self.stale_writes += 1
                raise docker.errors.APIError(OUT_OF_SEQUENCE)
            self.version += 1
            self.writes += 1
            self.labels = dict(swarm_spec["Labels"])

    def bump(self) -> None:
        """The holder renews (what any live holder does every ttl/3)."""
        self.labels[RENEW] = str(int(self.labels.get(RENEW, "0") or 0) + 1)
        self.version += 1

    def take(self, identity: str, ttl: float = 15) -> None:
        """Someone else holds the lease now (written by its own, correct, acquire)."""
        with self.lock:
            self.labels.update({LEADER: identity, RENEW: "1", TTL: f"{ttl:g}"})
            self.version += 1


@dataclass
class _Object:
    id: str
    name: str
    data: bytes
    labels: dict[str, str]
    created: int


@dataclass
class _Service:
    id: str
    name: str
    labels: dict[str, str]
    desired: DesiredService
    version: int = 1


@dataclass
class _Watch:
    wake: threading.Event
    alive: bool = True


@dataclass
class FakeFeed:
    """Follows the fake's reports: what `FakeCluster.report` adds for a followed service."""

    cluster: FakeCluster
    following: set[str] = field(default_factory=set)

    def follow(self, service_ids: Iterable[str]) -> None:
        self.following = set(service_ids)

    def drain(self) -> list[Received]:
        return self.cluster._take_reports(self.following)

    def backlog_read(self, service_id: str) -> bool:
        return service_id in self.following  # the fake hands every report over at once

    def close(self) -> None:
        self.following = set()

    @property
    def streams(self) -> int:
        return len(self.following)


class FakeCluster:
    """A swarm in memory, through the Cluster port. `conflicts` = n: the next n versioned
    writes (service and node updates) each meet a write of someone else first."""

    def __init__(self, nodes: Iterable[Node] = ()) -> None:
        self.swarm = FakeSwarmSpec()
        self.conflicts = 0
        self.writes: list[str] = []  # action descriptions and node updates, in order
        self.controller: dict[str, Any] | None = None
        self.log_driver = "json-file"  # the engine's default logging driver (docker info)
        self.relay: Callable[[str], str] | None = None  # answers run_relay; None: no relay
        self.relayed: list[str] = []  # plans given to run_relay, in order
        self.gone: list[tuple[str, ...]] = []  # wait_gone's services, per call
        self.relay_image: str | None = None  # EnsureControl's image
        self._nodes = {n.id: n for n in nodes}
        self._node_versions = {n.id: 1 for n in nodes}
        self._services: dict[str, _Service] = {}
        self._configs: dict[str, _Object] = {}
        self._secrets: dict[str, _Object] = {}
        self._reports: dict[str, list[Report]] = {}
        self._watches: list[_Watch] = []
        self._ids = itertools.count(1)
        self._held: lease.Lease | None = None
        self._leases: dict[str, lease.Lease] = {}
        self._lock = threading.RLock()

    # --- test controls -------------------------------------------------------------------
    def add_node(self, node: Node) -> None:
        with self._lock:
            self._nodes[node.id] = node
            self._node_versions[node.id] = 1
        self._changed()

    def report(self, service_id: str, report: Report) -> None:
        """An agent writes a report line on its task's stdout."""
        self._reports.setdefault(service_id, []).append(report)

    # --- reading -------------------------------------------------------------------------
    def nodes(self) -> tuple[Node, ...]:
        return tuple(self._nodes.values())

    def _ours(self, stack: str | None = None, kind: str | None = None) -> list[_Service]:
        return [
            s
            for s in self._services.values()
            if s.labels.get(OWNER_LABEL) == "swarmvip"
            and (stack is None or s.labels.get(STACK_LABEL) == stack)
            and (kind is None or s.labels.get(KIND_LABEL) == kind)
        ]

    def observe(self, stack: str) -> Observed:
        def mine(objects: dict[str, _Object]) -> tuple[ObservedObject, ...]:
            return tuple(
                ObservedObject(o.id, o.name, o.labels.get(STACK_NAMESPACE_LABEL, ""))
                for o in objects.values()
                if o.labels.get(OWNER_LABEL) == "swarmvip" and o.labels.get(STACK_LABEL) == stack
            )

        with self._lock:
            return Observed(
                services=tuple(
                    ObservedService(
                        s.id,
                        s.name,
                        s.labels.get(NODE_LABEL, ""),
                        s.labels.get(HASH_LABEL, ""),
                        int(s.labels.get(SERVICE_TOP_PRIORITY, "0") or 0),
                        s.labels.get(STACK_NAMESPACE_LABEL, ""),
                        s.labels.get(SHAPE_LABEL, ""),
                        tuple(m.source for m in (*s.desired.configs, *s.desired.secrets)),
                    )
                    for s in self._ours(stack)
                ),
                configs=mine(self._configs),
                secrets=mine(self._secrets),
            )

    def vrids(self) -> dict[str, dict[str, int]]:
        result: dict[str, dict[str, int]] = {}
        for svc in self._ours():
            for pair in filter(None, svc.labels.get(VRIDS_LABEL, "").split(",")):
                group, _, vrid = pair.partition("=")
                if vrid.isdigit():
                    result.setdefault(svc.labels.get(STACK_LABEL, "?"), {})[group] = int(vrid)
        return result

    def secret_names(self) -> set[str]:
        return {s.name for s in self._secrets.values()}

    def config_names(self) -> set[str]:
        return {c.name for c in self._configs.values()}

    def logging_driver(self) -> str:
        return self.log_driver  # dockerd's default, unless a test sets another

    def _plan(self, svc: _Service) -> agentspec.AgentSpec | None:
        mount = next((m for m in svc.desired.configs if m.target == paths.AGENT_SPEC), None)
        config = next((c for c in self._configs.values() if mount and c.name == mount.source), None)
        return None if config is None else agentspec.from_json(config.data.decode())

    def running_plans(self, stack: str) -> dict[str, NodePlan]:
        found = {}
        for svc in self._ours(stack, "keepalived"):
            spec = self._plan(svc)
            if spec is not None and spec.stack == stack:
                found[spec.node.node_id] = spec.node
        return found

    def stored_specs(self, stack: str | None = None) -> dict[str, tuple[str, str]]:
        newest: dict[str, _Object] = {}
        for c in self._configs.values():
            if c.labels.get(OWNER_LABEL) != "swarmvip" or c.labels.get(KIND_LABEL) != "spec":
                continue
            owner = c.labels.get(STACK_LABEL, "")
            if (stack is None or owner == stack) and (
                owner not in newest or c.created > newest[owner].created
            ):
                newest[owner] = c
        return {owner: (c.name, c.data.decode()) for owner, c in newest.items()}

    # --- writing -------------------------------------------------------------------------
    def _fence(self, before: str) -> None:
        if self._held is not None:
            self._held.check(before)

    def apply(self, action: Action) -> None:
        self._fence(action.describe())
        with translated(action.describe()), self._lock:
            self._apply(action)
            self.writes.append(action.describe())
        self._changed()

    def _apply(self, action: Action) -> None:
        match action:
            case EnsureControl(image):
                if not any(o.name == KEY_SECRET for o in self._secrets.values()):
                    self._create(self._secrets, KEY_SECRET, b"k" * 64, {})
                self.relay_image = image
            case RemoveControl():
                for oid in [i for i, o in self._secrets.items() if o.name == KEY_SECRET]:
                    del self._secrets[oid]
                self.relay_image = None
            case CreateConfig(obj):
                self._create(self._configs, obj.name, obj.data, dict(obj.labels))
            case CreateSecret(obj):
                self._create(self._secrets, obj.name, obj.data, dict(obj.labels))
            case CreateService(service):
                if any(s.name == service.name for s in self._services.values()):
                    current = next(s for s in self._services.values() if s.name == service.name)
                    self._update(current.id, service)  # created meanwhile: take it over
                else:
                    self._check_mounts(service)
                    sid = f"svc{next(self._ids)}"
                    labels = dict(service.labels)
                    self._services[sid] = _Service(sid, service.name, labels, service)
            case UpdateService(current, service):
                self._update(current.id, service)
            case RemoveService(current):
                if self._services.pop(current.id, None) is None:  # as the engine: 404
                    raise docker.errors.NotFound(f"service {current.id} not found")
            case RemoveConfig(current):
                self._configs.pop(current.id, None)
            case RemoveSecret(current):
                self._secrets.pop(current.id, None)
            case RelabelObject(kind, current, labels):
                found = (self._configs if kind == "config" else self._secrets).get(current.id)
                if found is None:  # as the engine: 404
                    raise docker.errors.NotFound(f"{kind} {current.id} not found")
                found.labels = dict(labels)

    def _create(
        self, into: dict[str, _Object], name: str, data: bytes, labels: dict[str, str]
    ) -> None:
        if any(o.name == name for o in into.values()):
            raise docker.errors.APIError(f"rpc error: {name} already exists")
        oid = f"obj{next(self._ids)}"
        into[oid] = _Object(oid, name, data, labels, next(self._ids))

    def _check_mounts(self, service: DesiredService) -> None:
        names = {o.name for o in self._configs.values()} | {o.name for o in self._secrets.values()}
        missing = [m.source for m in (*service.configs, *service.secrets) if m.source not in names]
        if missing:
            raise ClusterError(f"{', '.join(missing)} does not exist in the swarm")

    def _someone_else_wrote(self) -> bool:
        if self.conflicts > 0:
            self.conflicts -= 1
            return True
        return False

    def _update(self, service_id: str, service: DesiredService) -> None:
        """As the engine: read, then write naming the version read; swarmkit keeps the name."""

        def once() -> None:
            current = self._services[service_id]
            read = current.version
            if self._someone_else_wrote():
                current.version += 1
            if read != current.version:
                raise docker.errors.APIError(OUT_OF_SEQUENCE)
            self._check_mounts(service)
            current.labels, current.desired = dict(service.labels), service
            current.version += 1

        if service_id not in self._services:
            raise docker.errors.NotFound(f"service {service_id} not found")
        retry_on_conflict(once, backoff=0.0)

    def update_node(
        self,
        name: str,
        labels: dict[str, str | None] | None = None,
        availability: str | None = None,
    ) -> None:
        self._fence(f"updating node {name}")

        def once() -> None:
            node = self._find_node(name)
            read = self._node_versions[node.id]
            if self._someone_else_wrote():
                self._node_versions[node.id] += 1
            if read != self._node_versions[node.id]:
                raise docker.errors.APIError(OUT_OF_SEQUENCE)
            current = dict(node.labels)
            for key, value in (labels or {}).items():
                if value is None:
                    current.pop(key, None)
                else:
                    current[key] = value
            self._nodes[node.id] = dataclasses.replace(
                node,
                labels=tuple(sorted(current.items())),
                availability=availability or node.availability,
            )
            self._node_versions[node.id] += 1

        with translated(f"updating node {name}"), self._lock:
            retry_on_conflict(once, backoff=0.0)
            self.writes.append(f"update node {name}")
        self._changed()

    def _find_node(self, name: str) -> Node:
        found = (
            [self._nodes[name]]
            if name in self._nodes
            else [n for n in self._nodes.values() if n.hostname == name]
        )
        if len(found) == 1:
            return found[0]
        message = f"{len(found)} nodes are named {name!r}" if found else f"no node {name!r}"
        raise ConfigError([Problem("(command line)", "NODE", message, "use a node id")])

    @contextmanager
    def exclusive(
        self, identity: str, ttl: float = 15.0, wait: float = 60.0
    ) -> Iterator[lease.Lease]:
        """The real lease (CAS, renewal, fencing) over this fake's swarm spec."""
        held = self._leases.setdefault(identity, lease.Lease(self.swarm, identity, ttl))  # type: ignore[arg-type]
        held.ttl = ttl
        lease.take(held, wait)
        self._held = held
        try:
            with held.renewing():
                yield held
        finally:
            self._held = None
            held.release()

    # --- waiting and watching ------------------------------------------------------------
    def _states(self, stack: str) -> tuple[int, list[str]]:
        running, skipped = 0, []
        for svc in self._ours(stack):
            node_id = svc.labels.get(NODE_LABEL, "")
            why = cannot_run(self._nodes.get(node_id), node_id) if node_id else None
            if why is None:
                running += 1
            else:
                skipped.append(f"{svc.name} skipped: {why}")
        return running, skipped

    def wait_running(
        self, stack: str, timeout: float, progress: TaskProgress | None = None
    ) -> tuple[str, ...]:
        """A task runs at once on a ready, active node; the others are skipped."""
        running, skipped = self._states(stack)
        if progress:
            progress(running, len(self._ours(stack)), skipped)
        return tuple(skipped)

    def wait_running_all(self, stacks: list[str], timeout: float) -> tuple[str, ...]:
        return tuple(line for stack in stacks for line in self.wait_running(stack, timeout))

    def wait_gone(self, services: Sequence[ObservedService], timeout: float) -> tuple[str, ...]:
        """A removed service's task is gone at once; `gone` keeps the order of the waits."""
        self.gone.append(tuple(s.name for s in services))
        return ()

    def watch(self, wake: threading.Event) -> Watcher:
        watch = _Watch(wake)
        self._watches.append(watch)
        return watch

    def _changed(self) -> None:
        for watch in self._watches:
            watch.wake.set()

    # --- what the agents report ----------------------------------------------------------
    def deployed(
        self, stack: str | None = None, incompatible: bool = False
    ) -> tuple[tuple[DeployedNode, ...], list[str]]:
        found, ids = [], []
        for svc in self._ours(stack, "keepalived"):
            spec = self._plan(svc)
            if spec is None:
                continue
            node_id = spec.node.node_id
            state = (
                "running" if cannot_run(self._nodes.get(node_id), node_id) is None else "pending"
            )
            found.append(DeployedNode(spec.stack, svc.name, spec.node, state))
            ids.append(svc.id)
        return tuple(found), ids

    def _take_reports(self, service_ids: Iterable[str]) -> list[Received]:
        now = time.time()
        return [Received(r, now) for sid in service_ids for r in self._reports.pop(sid, [])]

    def read_reports(
        self, service_ids: list[str], budget: float
    ) -> tuple[list[Received], set[str], dict[str, str]]:
        now = time.time()
        received = [Received(r, now) for sid in service_ids for r in self._reports.get(sid, [])]
        return received, set(), {}

    def feed(self, reuse: Feed | None = None) -> Feed:
        return reuse if isinstance(reuse, FakeFeed) else FakeFeed(self)

    def controller_line(self, timeout: float) -> dict[str, Any] | None:
        return self.controller

    def lease_labels(self) -> dict[str, str]:
        return lease.lease_labels(self.swarm.inspect_swarm())

    def raft_index(self) -> int:
        return next(self._ids)

    @contextmanager
    def warm_relay(self) -> Iterator[None]:
        """The fake relay answers at once: nothing to start ahead."""
        yield

    def run_relay(self, plan_json: str) -> str:
        """Records the plan; `relay` (a callable: plan JSON -> result JSON) answers it, and
        without one there is no relay, as on a swarm deployed before the runtime channel."""
        self.relayed.append(plan_json)
        if self.relay is None:
            raise RelayUnavailable("no relay task on this manager (fake)")
        return self.relay(plan_json)


def _is_a_cluster(fake: FakeCluster) -> Cluster:
    return fake  # mypy checks that FakeCluster implements the port
