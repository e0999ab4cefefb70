"""Read what status needs from a manager: deployed keepalived services and the agents' reports.

Reports travel as JSON lines on each task's stdout, read with the manager's service-logs API:
no new port. A log stream for a task on an unreachable node can hang, so every stream runs in
its own daemon thread and callers wait with a timeout.
"""

from __future__ import annotations

import base64
import json
import queue
import threading
import time
from collections.abc import Iterable, Iterator
from typing import Any

import docker
import docker.errors

from swarmvip import agentspec, paths
from swarmvip.agent.report import Report, parse_report
from swarmvip.model import OWNER_LABEL, STACK_LABEL
from swarmvip.status.model import DeployedNode


def _lines(chunks: Iterable[bytes]) -> Iterator[str]:
    buffer = b""
    for chunk in chunks:
        buffer += chunk
        *complete, buffer = buffer.split(b"\n")
        for line in complete:
            yield line.decode("utf-8", "replace")
    if buffer:
        yield buffer.decode("utf-8", "replace")


class ServiceReader:
    """Deployed services (with their plans) and task states, for one engine."""

    def __init__(self, api: docker.APIClient) -> None:
        self.api = api
        self._plans: dict[str, agentspec.AgentSpec] = {}  # config id -> spec (immutable)

    def services(self, stack: str | None = None) -> list[dict[str, Any]]:
        labels = [f"{OWNER_LABEL}=swarmvip", "swarmvip.kind=keepalived"]
        labels += [f"{STACK_LABEL}={stack}"] if stack else []
        return list(self.api.services(filters={"label": labels}))

    def _spec(self, service: dict[str, Any]) -> agentspec.AgentSpec | None:
        configs = service["Spec"]["TaskTemplate"]["ContainerSpec"].get("Configs") or []
        ref = next((c for c in configs if c.get("File", {}).get("Name") == paths.AGENT_SPEC), None)
        if ref is None:
            return None
        if ref["ConfigID"] not in self._plans:
            data = self.api.inspect_config(ref["ConfigID"])["Spec"]["Data"]
            self._plans[ref["ConfigID"]] = agentspec.from_json(base64.b64decode(data).decode())
        return self._plans[ref["ConfigID"]]

    def _task(self, service_id: str) -> tuple[str, str]:
        tasks = self.api.tasks(filters={"service": service_id})
        if not tasks:
            return "pending", ""
        newest = max(tasks, key=lambda t: t.get("Status", {}).get("Timestamp", ""))
        status = newest.get("Status", {})
        return str(status.get("State", "unknown")), str(status.get("Err", ""))

    def deployed(self, stack: str | None = None) -> tuple[tuple[DeployedNode, ...], list[str]]:
        """The deployed nodes and the ids of their services."""
        found, ids = [], []
        for svc in self.services(stack):
            spec = self._spec(svc)
            if spec is None:
                continue
            state, err = self._task(svc["ID"])
            found.append(DeployedNode(spec.stack, svc["Spec"]["Name"], spec.node, state, err))
            ids.append(svc["ID"])
        return tuple(found), ids


def controller_line(api: docker.APIClient, timeout: float = 3.0) -> dict[str, Any] | None:
    """The newest report of a controller service (label swarmvip.kind=controller), if any."""
    services = api.services(
        filters={"label": [f"{OWNER_LABEL}=swarmvip", "swarmvip.kind=controller"]}
    )
    if not services:
        return None
    found: queue.Queue[dict[str, Any] | None] = queue.Queue()

    def tail() -> None:
        try:
            chunks = api.service_logs(services[0]["ID"], stdout=True, tail="20", is_tty=False)
            lines = [line for line in _lines(chunks) if '"swarmvip_controller"' in line]
            found.put(json.loads(lines[-1][lines[-1].index("{") :]) if lines else None)
        except (docker.errors.DockerException, ValueError):
            found.put(None)

    threading.Thread(target=tail, daemon=True).start()
    try:
        return found.get(timeout=timeout)
    except queue.Empty:
        return None


def _read(
    api: docker.APIClient,
    service_id: str,
    since: float,
    follow: bool,
    sink: queue.Queue[Report | None],
) -> None:
    try:
        chunks = api.service_logs(
            service_id,
            stdout=True,
            stderr=False,
            follow=follow,
            since=int(since),
            tail="all" if since else "200",
            is_tty=False,
        )
        for line in _lines(chunks):
            report = parse_report(line)
            if report is not None:
                sink.put(report)
    except docker.errors.DockerException:
        pass
    finally:
        sink.put(None)


def read_reports(
    api: docker.APIClient, service_ids: list[str], since: float = 0.0, timeout: float = 5.0
) -> list[Report]:
    """Reports logged since `since` by each service, waiting at most `timeout` in all."""
    sink: queue.Queue[Report | None] = queue.Queue()
    for sid in service_ids:
        threading.Thread(target=_read, args=(api, sid, since, False, sink), daemon=True).start()
    reports, done, deadline = [], 0, time.monotonic() + timeout
    while done < len(service_ids):
        try:
            item = sink.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            break  # a stream hangs (node unreachable): its node will show as stale
        if item is None:
            done += 1
        else:
            reports.append(item)
    return reports


class ReportFeed:
    """Follow every service's reports as they are written (one daemon thread per service)."""

    def __init__(self, api: docker.APIClient) -> None:
        self.api = api
        self.queue: queue.Queue[Report | None] = queue.Queue()
        self._following: dict[str, threading.Thread] = {}

    def follow(self, service_ids: Iterable[str]) -> None:
        """Start following new services; a stream that ended (task gone) is restarted."""
        for sid in service_ids:
            thread = self._following.get(sid)
            if thread is None or not thread.is_alive():
                since = time.time() - 1 if thread is not None else 0.0
                thread = threading.Thread(
                    target=_read, args=(self.api, sid, since, True, self.queue), daemon=True
                )
                thread.start()
                self._following[sid] = thread

    def drain(self) -> list[Report]:
        items: list[Report] = []
        while True:
            try:
                item = self.queue.get_nowait()
            except queue.Empty:
                return items
            if item is not None:
                items.append(item)
