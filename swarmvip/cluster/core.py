"""The Docker adapter: the only module that imports docker. Converts to and from our types.

Engine errors become ClusterError/UnavailableError (`raise … from e`); writes send the full
spec with its Version and retry on "update out of sequence".
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

import docker
import docker.errors
from docker.types import (
    ConfigReference,
    ContainerSpec,
    DriverConfig,
    NetworkAttachmentConfig,
    Placement,
    RestartPolicy,
    SecretReference,
    ServiceMode,
    TaskTemplate,
    UpdateConfig,
)

from swarmvip.cluster import lease, nodes
from swarmvip.errors import ClusterError, UnavailableError
from swarmvip.model import NODE_LABEL, OWNER_LABEL, STACK_LABEL, Node, NodePlan, Role
from swarmvip.plan.desired import KIND_LABEL, PRIORITY_LABEL, VRIDS_LABEL, DesiredService
from swarmvip.plan.diff import (
    Action,
    CreateConfig,
    CreateSecret,
    CreateService,
    Observed,
    ObservedObject,
    ObservedService,
    RemoveConfig,
    RemoveSecret,
    RemoveService,
    UpdateService,
)

MIN_API = (1, 41)
OUT_OF_SEQUENCE = "update out of sequence"


@contextmanager
def _translated(what: str) -> Iterator[None]:
    try:
        yield
    except docker.errors.APIError as exc:
        raise ClusterError(f"{what}: {exc.explanation or exc}") from exc
    except docker.errors.DockerException as exc:
        raise UnavailableError(f"{what}: {exc}") from exc


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(p) for p in text.split(".") if p.isdigit())


class Cluster:
    """A connection to one swarm manager's engine."""

    def __init__(self, client: docker.DockerClient) -> None:
        self.client = client
        self.api = client.api

    @classmethod
    def connect(cls, host: str | None = None, timeout: int = 30) -> Cluster:
        """Like the docker CLI: -H wins, else DOCKER_HOST / DOCKER_TLS_VERIFY / DOCKER_CERT_PATH."""
        with _translated("cannot reach the Docker engine (is DOCKER_HOST right?)"):
            if host:
                client = docker.DockerClient(base_url=host, timeout=timeout, use_ssh_client=True)
            else:
                client = docker.from_env(timeout=timeout, use_ssh_client=True)
            cluster = cls(client)
            cluster.require_manager()
        return cluster

    def require_manager(self) -> None:
        version = self.api.version()
        api = str(version.get("ApiVersion", "0"))
        if _version(api) < MIN_API:
            raise UnavailableError(
                f"Docker Engine {version.get('Version')} speaks API {api}; swarmvip needs"
                " Engine >= 20.10 (API >= 1.41) for cap_add on services: upgrade the engine"
            )
        swarm = self.api.info().get("Swarm", {})
        if swarm.get("LocalNodeState") != "active":
            raise UnavailableError(
                "this engine is not in a swarm: run `docker swarm init` or"
                " point DOCKER_HOST at a manager"
            )
        if not swarm.get("ControlAvailable"):
            raise UnavailableError("this engine is a swarm worker: point DOCKER_HOST at a manager")

    # --- reading -------------------------------------------------------------------------
    def nodes(self) -> tuple[Node, ...]:
        with _translated("listing nodes"):
            return tuple(_node(n) for n in self.api.nodes())

    def _services(self, filters: dict[str, Any]) -> list[dict[str, Any]]:
        with _translated("listing services"):
            return list(self.api.services(filters=filters))

    def observe(self, stack: str) -> Observed:
        labels = [f"{OWNER_LABEL}=swarmvip", f"{STACK_LABEL}={stack}"]
        services = self._services({"label": labels})
        with _translated("listing configs and secrets"):
            configs = self.api.configs(filters={"label": labels})
            secrets = self.api.secrets(filters={"label": labels})
        return Observed(
            services=tuple(_observed_service(s) for s in services),
            configs=tuple(ObservedObject(c["ID"], c["Spec"]["Name"]) for c in configs),
            secrets=tuple(ObservedObject(s["ID"], s["Spec"]["Name"]) for s in secrets),
        )

    def vrids(self) -> dict[str, dict[str, int]]:
        """{stack: {group: vrid}} of every swarmvip stack deployed in this swarm."""
        result: dict[str, dict[str, int]] = {}
        for svc in self._services({"label": [f"{OWNER_LABEL}=swarmvip", VRIDS_LABEL]}):
            labels = svc["Spec"].get("Labels", {})
            for pair in filter(None, labels.get(VRIDS_LABEL, "").split(",")):
                group, _, vrid = pair.partition("=")
                if vrid.isdigit():
                    result.setdefault(labels.get(STACK_LABEL, "?"), {})[group] = int(vrid)
        return result

    def secret_names(self) -> set[str]:
        with _translated("listing secrets"):
            return {s["Spec"]["Name"] for s in self.api.secrets()}

    def stacks(self) -> set[str]:
        return {
            s["Spec"]["Labels"].get(STACK_LABEL, "?")
            for s in self._services({"label": [f"{OWNER_LABEL}=swarmvip"]})
        }

    def running_plans(self, stack: str) -> dict[str, NodePlan]:
        """{node id: the plan its keepalived task runs now} (from each task's agent.json)."""
        from swarmvip.cluster.observe import ServiceReader

        with _translated("reading running plans"):
            deployed, _ = ServiceReader(self.api).deployed(stack)
        return {d.plan.node_id: d.plan for d in deployed if d.stack == stack}

    def stored_specs(self, stack: str | None = None) -> dict[str, tuple[str, str]]:
        with _translated("reading stored stack specs"):
            return nodes.stored_specs(self.api, stack)

    def update_node(
        self,
        name: str,
        labels: dict[str, str | None] | None = None,
        availability: str | None = None,
    ) -> None:
        with _translated(f"updating node {name}"):
            nodes.update_node(self.api, name, labels, availability)

    # --- writing -------------------------------------------------------------------------
    def apply(self, action: Action) -> None:
        with _translated(action.describe()):
            self._apply(action)

    def _apply(self, action: Action) -> None:
        match action:
            case CreateConfig(obj):
                self.api.create_config(obj.name, obj.data, labels=dict(obj.labels))
            case CreateSecret(obj):
                self.api.create_secret(obj.name, obj.data, labels=dict(obj.labels))
            case CreateService(service):
                self._create_service(service)
            case UpdateService(current, service):
                self._update_service(current.id, service)
            case RemoveService(current):
                self.api.remove_service(current.id)
            case RemoveConfig(current):
                self._remove_when_unused(self.api.remove_config, current.id)
            case RemoveSecret(current):
                self._remove_when_unused(self.api.remove_secret, current.id)

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
            except docker.errors.NotFound:
                return
            except docker.errors.APIError as exc:
                if "in use" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.5)

    def _create_service(self, service: DesiredService) -> None:
        """Create, or take over a same-named service someone created meanwhile (a race)."""
        try:
            self.api.create_service(**self._service_spec(service))
        except docker.errors.APIError as exc:
            if "already exists" not in str(exc):
                raise
            self._update_service(self.api.inspect_service(service.name)["ID"], service)

    def exclusive(self, identity: str) -> AbstractContextManager[None]:
        """Hold the swarm-wide swarmvip lease (the controller stands by meanwhile)."""
        return lease.exclusive(self.api, identity)

    def _update_service(self, service_id: str, service: DesiredService) -> None:
        for attempt in range(5):
            version = self.api.inspect_service(service_id)["Version"]["Index"]
            try:
                self.api.update_service(service_id, version, **self._service_spec(service))
                return
            except docker.errors.APIError as exc:
                if OUT_OF_SEQUENCE not in str(exc) or attempt == 4:
                    raise
                time.sleep(0.2 * (attempt + 1))

    def _ids(self, kind: str, names: list[str]) -> dict[str, str]:
        if not names:
            return {}
        listing = self.api.configs if kind == "config" else self.api.secrets
        found = {o["Spec"]["Name"]: o["ID"] for o in listing(filters={"name": names})}
        missing = [n for n in names if n not in found]
        if missing:
            raise ClusterError(f"{kind} {', '.join(missing)} does not exist in the swarm")
        return found

    def _service_spec(self, service: DesiredService) -> dict[str, Any]:
        config_ids = self._ids("config", [m.source for m in service.configs])
        secret_ids = self._ids("secret", [m.source for m in service.secrets])
        labels = dict(service.labels)
        spec = ContainerSpec(
            image=service.image,
            hostname=service.hostname,
            labels={k: v for k, v in labels.items() if k.startswith("com.docker.stack")},
            stop_grace_period=int(service.stop_grace_period * 1e9),
            stop_signal="SIGTERM",
            cap_add=["CAP_NET_ADMIN", "CAP_NET_RAW"],
            configs=[
                ConfigReference(config_ids[m.source], m.source, filename=m.target, mode=0o444)
                for m in service.configs
            ],
            secrets=[
                SecretReference(secret_ids[m.source], m.source, filename=m.target, mode=0o400)
                for m in service.secrets
            ],
        )
        template = TaskTemplate(
            container_spec=spec,
            placement=Placement(constraints=[f"node.id=={service.node_id}"]),
            restart_policy=RestartPolicy(condition="any", delay=1_000_000_000),
            networks=[NetworkAttachmentConfig(target="host")],
            log_driver=DriverConfig("json-file", {"max-size": "10m", "max-file": "3"}),
        )
        return {
            "task_template": template,
            "name": service.name,
            "labels": labels,
            "mode": ServiceMode("replicated", replicas=1),
            "update_config": UpdateConfig(
                parallelism=1, order="stop-first", failure_action="pause"
            ),
        }

    # --- waiting -------------------------------------------------------------------------
    def wait_running(
        self,
        stack: str,
        timeout: float,
        progress: Callable[[int, int, list[str]], None] | None = None,
    ) -> None:
        """Until every swarmvip service of the stack has its one task running at its spec."""
        deadline = time.monotonic() + timeout
        problems: list[str] = []
        while time.monotonic() < deadline:
            services = self._services(
                {"label": [f"{OWNER_LABEL}=swarmvip", f"{STACK_LABEL}={stack}"]}
            )
            running, problems = self._running(services)
            if progress:
                progress(running, len(services), problems)
            if running == len(services):
                return
            time.sleep(0.5)
        raise ClusterError(
            f"tasks of stack {stack} not running after {timeout:g}s: "
            + ("; ".join(problems) or "no task started")
        )

    def wait_running_all(self, stacks: list[str], timeout: float) -> None:
        for stack in stacks:
            self.wait_running(stack, timeout)

    def _running(self, services: list[dict[str, Any]]) -> tuple[int, list[str]]:
        running, problems = 0, []
        for svc in services:
            with _translated("listing tasks"):
                tasks = self.api.tasks(filters={"service": svc["ID"], "desired-state": "running"})
            current = [
                t
                for t in tasks
                if t.get("Version", {}).get("Index", 0) > 0
                and t.get("Spec", {})
                and t["Status"]["State"] == "running"
                and _task_is_current(t, svc)
            ]
            if current:
                running += 1
            else:
                errs = [t["Status"].get("Err") or t["Status"]["State"] for t in tasks]
                problems.append(f"{svc['Spec']['Name']}: {', '.join(errs) or 'pending'}")
        return running, problems


def _task_is_current(task: dict[str, Any], service: dict[str, Any]) -> bool:
    spec = service["Spec"]["TaskTemplate"]["ContainerSpec"]
    return bool(task["Spec"].get("ContainerSpec", {}).get("Configs") == spec.get("Configs"))


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
    )


def _observed_service(raw: dict[str, Any]) -> ObservedService:
    labels = raw["Spec"].get("Labels", {})
    return ObservedService(
        id=raw["ID"],
        name=raw["Spec"]["Name"],
        node_id=labels.get(NODE_LABEL, ""),
        spec_hash=labels.get("swarmvip.hash", ""),
        top_priority=int(labels.get(PRIORITY_LABEL, "0") or 0),
    )


__all__ = ["KIND_LABEL", "Cluster"]
