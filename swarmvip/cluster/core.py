"""The Docker adapter: the only module that imports docker. Converts to and from our types.

Engine errors become ours through cluster/errors.py (`translated`); writes send the full
spec with its Version and retry on "update out of sequence".
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from functools import partial
from typing import Any

import docker

from swarmvip.cluster import control, lease, nodes, observe
from swarmvip.cluster.connection import Endpoint, Options, client_kwargs, resolve
from swarmvip.cluster.errors import (
    ENGINE_ERRORS,
    NO_LEADER_TEXT,
    ExistsError,
    InUseError,
    NotFoundError,
    is_a,
    quorum_lost,
    retry_on_conflict,
    translated,
)
from swarmvip.cluster.events import EventWatcher
from swarmvip.cluster.observe import ReportFeed, ServiceReader
from swarmvip.cluster.port import Feed, Watcher
from swarmvip.cluster.service_spec import service_spec
from swarmvip.cluster.tasks import tally_tasks
from swarmvip.errors import ClusterError, SwarmvipError, UnavailableError
from swarmvip.model import Node, NodePlan, Role
from swarmvip.plan.desired import (
    DesiredService,
)
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
from swarmvip.status.rules import TASK_ENDED
from swarmvip.wire.keys import (
    HASH_LABEL,
    NODE_LABEL,
    OWNED,
    SERVICE_TOP_PRIORITY,
    SHAPE_LABEL,
    STACK_LABEL,
    STACK_NAMESPACE_LABEL,
    VRIDS_LABEL,
    label_filter,
)

MIN_API = (1, 41)


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(p) for p in text.split(".") if p.isdigit())


class DockerCluster:
    """The Cluster port (cluster/port.py) over one swarm manager's engine."""

    _held: lease.Lease | None = None  # the write lease, while inside exclusive()
    _warm: control.WarmSender | None = None  # a sender started ahead, inside warm_relay()

    def __init__(self, client: docker.DockerClient) -> None:
        self._client = client
        self._api = client.api

    @classmethod
    def connect(cls, target: Endpoint | str | None = None, timeout: int = 30) -> DockerCluster:
        """The engine of `target` (an Endpoint, a -H url, or None: resolved from the environment
        like the docker CLI, see cluster/connection.py), checked to be a swarm manager."""
        endpoint = target if isinstance(target, Endpoint) else resolve(Options(host=target))
        with translated(f"cannot reach the Docker engine at {endpoint.describe()}"):
            client = docker.DockerClient(timeout=timeout, **client_kwargs(endpoint))
            cluster = cls(client)
            cluster.require_manager()
        return cluster

    @staticmethod
    def ping(target: Endpoint, timeout: int = 2) -> str:
        """The engine at `target` answers its own API (`/version`, `/_ping`: no swarm call, so no
        raft leader needed) within `timeout` s: its description; else UnavailableError."""
        where = target.describe()
        with translated(f"cannot reach the Docker engine at {where}"):
            api = docker.APIClient(timeout=timeout, **client_kwargs(target))  # asks /version
            try:
                api.ping()
            finally:
                api.close()
        return where

    def require_manager(self) -> None:
        version = self._api.version()
        api = str(version.get("ApiVersion", "0"))
        if _version(api) < MIN_API:
            raise UnavailableError(
                f"Docker Engine {version.get('Version')} speaks API {api}; swarmvip needs"
                " Engine >= 20.10 (API >= 1.41) for cap_add on services: upgrade the engine"
            )
        swarm = self._api.info().get("Swarm", {})
        if swarm.get("LocalNodeState") != "active":
            raise UnavailableError(
                "this engine is not in a swarm: run `docker swarm init` or"
                " point -H, --context or DOCKER_HOST at a manager"
            )
        if not swarm.get("ControlAvailable"):
            raise UnavailableError(
                "this engine is a swarm worker: point -H, --context or DOCKER_HOST at a manager"
            )
        error = str(swarm.get("Error") or "")
        if NO_LEADER_TEXT in error:  # the manager has been without a leader for a while
            raise quorum_lost(f"docker info: {error}")

    # --- reading -------------------------------------------------------------------------
    def nodes(self) -> tuple[Node, ...]:
        with translated("listing nodes"):
            return tuple(_node(n) for n in self._api.nodes())

    def _services(self, filters: dict[str, Any]) -> list[dict[str, Any]]:
        with translated("listing services"):
            return list(self._api.services(filters=filters))

    def observe(self, stack: str) -> Observed:
        labels = [OWNED, label_filter(STACK_LABEL, stack)]
        services = self._services({"label": labels})
        with translated("listing configs and secrets"):
            configs = self._api.configs(filters={"label": labels})
            secrets = self._api.secrets(filters={"label": labels})
        return Observed(
            services=tuple(_observed_service(s) for s in services),
            configs=tuple(_observed_object(c) for c in configs),
            secrets=tuple(_observed_object(s) for s in secrets),
        )

    def vrids(self) -> dict[str, dict[str, int]]:
        """{stack: {group: vrid}} of every swarmvip stack deployed in this swarm."""
        result: dict[str, dict[str, int]] = {}
        for svc in self._services({"label": [OWNED, VRIDS_LABEL]}):
            labels = svc["Spec"].get("Labels", {})
            for pair in filter(None, labels.get(VRIDS_LABEL, "").split(",")):
                group, _, vrid = pair.partition("=")
                if vrid.isdigit():
                    result.setdefault(labels.get(STACK_LABEL, "?"), {})[group] = int(vrid)
        return result

    def secret_names(self) -> set[str]:
        with translated("listing secrets"):
            return {s["Spec"]["Name"] for s in self._api.secrets()}

    def config_names(self) -> set[str]:
        with translated("listing configs"):
            return {c["Spec"]["Name"] for c in self._api.configs()}

    def logging_driver(self) -> str:
        with translated("reading the engine's info"):
            return str(self._api.info().get("LoggingDriver") or "")

    def stacks(self) -> set[str]:
        return {
            s["Spec"]["Labels"].get(STACK_LABEL, "?") for s in self._services({"label": [OWNED]})
        }

    def running_plans(self, stack: str) -> dict[str, NodePlan]:
        """{node id: the plan its keepalived task runs now} (from each task's agent.json)."""
        with translated("reading running plans"):
            deployed, _ = ServiceReader(self._api).deployed(stack)
        return {d.plan.node_id: d.plan for d in deployed if d.stack == stack}

    def deployed(
        self, stack: str | None = None, incompatible: bool = False
    ) -> tuple[tuple[DeployedNode, ...], list[str]]:
        """The deployed keepalived services (plans and task states) and their ids. Engine
        errors leave as they are: the status source shows them (it reconnects next time)."""
        reader = self.__dict__.get("_reader")
        if not isinstance(reader, ServiceReader):  # one per connection: it caches the plans
            reader = self.__dict__["_reader"] = ServiceReader(self._api)
        return reader.deployed(stack, incompatible)

    def read_reports(
        self, service_ids: list[str], budget: float
    ) -> tuple[list[Received], set[str], dict[str, str]]:
        return observe.read_reports(self._api, service_ids, budget)

    def feed(self, reuse: Feed | None = None) -> Feed:
        if isinstance(reuse, ReportFeed):
            reuse.rebind(self._api)
            return reuse
        return ReportFeed(self._api)

    def raft_index(self) -> int:
        with translated("reading the swarm's raft index"):
            return control.raft_index(self._api)

    @contextmanager
    def warm_relay(self) -> Iterator[None]:
        try:
            self._warm = control.WarmSender(self._api)
        except Exception:  # best effort: run_relay then starts its sender as before
            self._warm = None
        try:
            yield
        finally:
            warm, self._warm = self._warm, None
            if warm is not None:
                warm.close()

    def run_relay(self, plan_json: str) -> str:
        warm, self._warm = self._warm, None
        with translated("running the relay (swarmvip agent send)"):
            return control.run_relay(self._api, plan_json, warm)

    def lease_labels(self) -> dict[str, str]:
        with translated("reading the swarmvip write lease"):
            return lease.lease_labels(self._api.inspect_swarm())

    def controller_line(self, timeout: float) -> dict[str, Any] | None:
        return observe.controller_line(self._api, timeout)

    def watch(self, wake: threading.Event) -> Watcher:
        return EventWatcher(self._api, wake).start()

    def stored_specs(self, stack: str | None = None) -> dict[str, tuple[str, str]]:
        with translated("reading stored stack specs"):
            return nodes.stored_specs(self._api, stack)

    def update_node(
        self,
        name: str,
        labels: dict[str, str | None] | None = None,
        availability: str | None = None,
    ) -> None:
        self._fence(f"updating node {name}")
        with translated(f"updating node {name}"):
            nodes.update_node(self._api, name, labels, availability)

    # --- writing -------------------------------------------------------------------------
    def apply(self, action: Action) -> None:
        self._fence(action.describe())
        with translated(action.describe()):
            self._apply(action)

    def _fence(self, before: str) -> None:
        """Every write goes through here: inside exclusive(), only while the lease is ours."""
        if self._held is not None:
            self._held.check(before)

    def _apply(self, action: Action) -> None:
        match action:
            case EnsureControl(image):
                control.ensure_control(self._api, image)
            case RemoveControl():
                self._remove_when_unused(lambda _: control.remove_control(self._api), "")
            case CreateConfig(obj):
                self._api.create_config(obj.name, obj.data, labels=dict(obj.labels))
            case CreateSecret(obj):
                self._api.create_secret(obj.name, obj.data, labels=dict(obj.labels))
            case CreateService(service):
                self._create_service(service)
            case UpdateService(current, service):
                self._update_service(current.id, service)
            case RelabelObject(kind, current, labels):
                self._relabel_object(kind, current.id, dict(labels))
            case RemoveService(current):
                self._api.remove_service(current.id)
            case RemoveConfig(current):
                self._remove_when_unused(self._api.remove_config, current.id)
            case RemoveSecret(current):
                self._remove_when_unused(self._api.remove_secret, current.id)

    @staticmethod
    def _remove_when_unused(
        remove: Callable[[str], Any], object_id: str, timeout: float = 60.0
    ) -> None:
        """Configs and secrets stay "in use" until the old tasks are gone: retry until then."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                remove(object_id)
                return
            except ENGINE_ERRORS as exc:
                if is_a(exc, NotFoundError):
                    return
                if not is_a(exc, InUseError) or time.monotonic() > deadline:
                    raise
                time.sleep(0.5)

    def _create_service(self, service: DesiredService) -> None:
        """Create, or take over a same-named service someone created meanwhile (a race)."""
        try:
            self._api.create_service(**self._service_spec(service))
        except ENGINE_ERRORS as exc:
            if not is_a(exc, ExistsError):
                raise
            self._update_service(self._api.inspect_service(service.name)["ID"], service)

    @contextmanager
    def exclusive(
        self, identity: str, ttl: float = 15.0, wait: float = 60.0
    ) -> Iterator[lease.Lease]:
        """Hold the swarm-wide swarmvip write lease for the body (every other writer stands
        by), renewed meanwhile; apply/update_node raise LeaseLost once it is lost. Waits up to
        `wait` seconds (0: one try), else LeaseBusy. One Lease per identity and connection, so
        what it observed of another holder counts across tries (lease.py: expiry)."""
        leases: dict[str, lease.Lease] = self.__dict__.setdefault("_leases", {})
        held = leases.setdefault(
            identity,
            lease.Lease(self._api, identity, ttl, ended=partial(lease.ended_controller, self._api)),
        )
        held.ttl = ttl
        with translated("taking the swarmvip write lease"):
            lease.take(held, wait)
        self._held = held
        try:
            with held.renewing():
                yield held
        finally:
            self._held = None
            # not released (engine trouble): it expires after ttl by itself
            with suppress(SwarmvipError), translated("releasing the swarmvip write lease"):
                held.release()

    def _update_service(self, service_id: str, service: DesiredService) -> None:
        """Update in place under the service's current name: swarmkit refuses any rename."""

        def once() -> None:
            current = self._api.inspect_service(service_id)
            if current["Spec"].get("Labels", {}).get(HASH_LABEL) == service.spec_hash:
                spec = _relabelled(current["Spec"], dict(service.labels))
            else:
                spec = self._service_spec(service) | {"name": current["Spec"]["Name"]}
            self._api.update_service(service_id, current["Version"]["Index"], **spec)

        retry_on_conflict(once)

    def _relabel_object(self, kind: str, object_id: str, labels: dict[str, str]) -> None:
        """New labels on a config or secret (the engine lets only those change; docker-py has
        no call for it). A secret's inspect carries no data, which the engine accepts."""

        api: Any = self._api  # the update endpoints through docker-py's own request helpers

        def once() -> None:
            current = (api.inspect_config if kind == "config" else api.inspect_secret)(object_id)
            spec = dict(current["Spec"]) | {"Labels": labels}
            url = api._url(f"/{kind}s/{{0}}/update", object_id)
            params = {"version": current["Version"]["Index"]}
            api._raise_for_status(api._post_json(url, params=params, data=spec))

        retry_on_conflict(once)

    def _ids(self, kind: str, names: list[str]) -> dict[str, str]:
        if not names:
            return {}
        listing = self._api.configs if kind == "config" else self._api.secrets
        found = {o["Spec"]["Name"]: o["ID"] for o in listing(filters={"name": names})}
        missing = [n for n in names if n not in found]
        if missing:
            raise ClusterError(f"{kind} {', '.join(missing)} does not exist in the swarm")
        return found

    def _service_spec(self, service: DesiredService) -> dict[str, Any]:
        config_ids = self._ids("config", [m.source for m in service.configs])
        secret_ids = self._ids("secret", [m.source for m in service.secrets])
        return service_spec(service, config_ids, secret_ids)

    # --- waiting -------------------------------------------------------------------------
    def wait_running(
        self,
        stack: str,
        timeout: float,
        progress: Callable[[int, int, list[str]], None] | None = None,
    ) -> tuple[str, ...]:
        """Until every swarmvip service of the stack that can run has its one task running at
        its spec. A service that cannot (its node Down, paused or drained, or only a pending
        "no suitable node" task) is skipped: named once in `progress`'s problems as
        "<service> skipped: <why>", and returned, so one dead node blocks nothing."""
        deadline = time.monotonic() + timeout
        problems: list[str] = []
        told: list[str] = []
        while time.monotonic() < deadline:
            services = self._services({"label": [OWNED, label_filter(STACK_LABEL, stack)]})
            running, problems, skipped = self._running(services)
            new = [line for line in skipped if line not in told]
            told += new
            if progress:
                progress(running, len(services), new + problems)
            if running + len(skipped) == len(services):
                return tuple(told)
            time.sleep(0.5)
        raise ClusterError(
            f"tasks of stack {stack} not running after {timeout:g}s: "
            + ("; ".join(problems) or "no task started")
        )

    def wait_gone(self, services: Sequence[ObservedService], timeout: float) -> tuple[str, ...]:
        """Until no task of these removed services runs: the engine lists a removed service's
        task (desired state "remove") until its node has stopped it. Tasks on a node that is
        not Ready are not waited for (it cannot tell)."""
        named = {s.id: s.name for s in services}
        deadline = time.monotonic() + timeout
        while True:
            ready = {n.id for n in self.nodes() if n.state == "ready"}
            nodes = sorted({s.node_id for s in services if s.node_id in ready})
            if not nodes:
                return ()
            with translated("listing tasks"):
                tasks = self._api.tasks(filters={"node": nodes})
            left = sorted(
                {
                    t["ServiceID"]
                    for t in tasks
                    if t.get("ServiceID") in named
                    and t.get("Status", {}).get("State") not in TASK_ENDED
                }
            )
            if not left:
                return ()
            if time.monotonic() > deadline:
                return tuple(f"{named[i]}: its task still runs after {timeout:g}s" for i in left)
            time.sleep(0.2)

    def wait_running_all(self, stacks: list[str], timeout: float) -> tuple[str, ...]:
        """wait_running for each stack; the skipped services of all of them."""
        return tuple(line for stack in stacks for line in self.wait_running(stack, timeout))

    def _running(self, services: list[dict[str, Any]]) -> tuple[int, list[str], list[str]]:
        """(services running their spec, problems of the others, skipped ones): tally_tasks
        over the services' tasks and the swarm's nodes, read now."""
        tasks = {}
        for svc in services:
            with translated("listing tasks"):
                tasks[svc["ID"]] = list(
                    self._api.tasks(filters={"service": svc["ID"], "desired-state": "running"})
                )
        nodes_by_id = {n.id: n for n in self.nodes()} if services else {}
        return tally_tasks(services, tasks, nodes_by_id)


def _node(raw: dict[str, Any]) -> Node:
    spec, status, desc = raw["Spec"], raw.get("Status", {}), raw.get("Description", {})
    addr = status.get("Addr", "")
    manager = raw.get("ManagerStatus", {})
    if addr in ("", "0.0.0.0") and manager.get("Addr"):
        addr = manager["Addr"].rsplit(":", 1)[0].strip("[]")
    return Node(
        id=raw["ID"],
        hostname=desc.get("Hostname", ""),
        role=Role(spec.get("Role", "worker")),
        availability=spec.get("Availability", "active"),
        state=status.get("State", "unknown"),
        addr=addr,
        labels=tuple(sorted((spec.get("Labels") or {}).items())),
        engine_labels=tuple(sorted((desc.get("Engine", {}).get("Labels") or {}).items())),
        os=str(desc.get("Platform", {}).get("OS", "")),
        arch=str(desc.get("Platform", {}).get("Architecture", "")),
    )


def _observed_service(raw: dict[str, Any]) -> ObservedService:
    labels = raw["Spec"].get("Labels") or {}
    return ObservedService(
        id=raw["ID"],
        name=raw["Spec"]["Name"],
        node_id=labels.get(NODE_LABEL, ""),
        spec_hash=labels.get(HASH_LABEL, ""),
        top_priority=int(labels.get(SERVICE_TOP_PRIORITY, "0") or 0),
        namespace=labels.get(STACK_NAMESPACE_LABEL, ""),
        shape_hash=labels.get(SHAPE_LABEL, ""),
        mounts=tuple(
            ref.get("ConfigName") or ref.get("SecretName") or ""
            for key in ("Configs", "Secrets")
            for ref in raw["Spec"]["TaskTemplate"]["ContainerSpec"].get(key) or []
        ),
    )


def _observed_object(raw: dict[str, Any]) -> ObservedObject:
    labels = raw["Spec"].get("Labels") or {}
    return ObservedObject(raw["ID"], raw["Spec"]["Name"], labels.get(STACK_NAMESPACE_LABEL, ""))


def _relabelled(spec: dict[str, Any], labels: dict[str, str]) -> dict[str, Any]:
    """update_service arguments that keep the service's spec as it is but for its labels:
    the task template is untouched, so no task restarts (its container keeps the labels it was
    started with)."""
    return {
        "task_template": spec["TaskTemplate"],
        "name": spec["Name"],
        "labels": labels,
        "mode": spec.get("Mode"),
        "update_config": spec.get("UpdateConfig"),
        "rollback_config": spec.get("RollbackConfig"),
        "endpoint_spec": spec.get("EndpointSpec"),
    }


__all__ = ["DockerCluster"]
