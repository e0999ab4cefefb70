"""Read what status needs from a manager: deployed keepalived services and the agents' reports.

Reports travel as JSON lines on each task's stdout, read with the manager's task-logs API (each
service's current task: current_task_logs): no new port. A log stream for a task on an
unreachable or paused node can hang, so every stream runs in its own daemon thread, callers
wait with a short budget, and a stream that did not answer in time is named (its node shows as
stale, not the others). A stream that ends at once with the engine's own error and no report
("Error grabbing logs: … node X is not available") is named too, with that error: the manager
could not read that node's logs, which says nothing of its VRRP state (right after a raft
leader election every node's logs are unreadable like this until its agent reconnects to the
new leader, for several seconds; status.fold). Every line is stamped with its arrival on the
READER's clock (Received): freshness never compares clocks.
"""

from __future__ import annotations

import base64
import binascii
import json
import queue
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import docker
import docker.errors
import requests

from swarmvip.model import NodePlan
from swarmvip.status.model import DeployedNode, Received
from swarmvip.wire import agentspec, paths
from swarmvip.wire.keys import (
    HASH_LABEL,
    KIND_CONTROLLER,
    KIND_KEEPALIVED,
    KIND_LABEL,
    NODE_LABEL,
    OWNED,
    STACK_LABEL,
    label_filter,
)
from swarmvip.wire.report import parse_report

STREAM_ERRORS = (docker.errors.DockerException, requests.exceptions.RequestException, OSError)
READ_BUDGET = 1.0  # seconds a one-shot read waits for every stream's backlog
# What the engine (moby's WriteLogStream) writes into a service's log stream when its manager
# cannot get the logs of a task's node: "Error grabbing logs: rpc error: … warning: incomplete
# log stream. some logs could not be retrieved for the following reasons: node X is not
# available" (a node not connected to the leader's log broker: after a leader election, down,
# or cut off).
ENGINE_LOG_ERROR = "Error grabbing logs:"
_REASONS = "for the following reasons: "


def engine_log_error(line: str) -> str | None:
    """The engine's reason when `line` is its "cannot read the logs" error, shortened to the
    reasons it lists ("node X is not available"); None for any other line."""
    if not line.startswith(ENGINE_LOG_ERROR):
        return None
    text = line[len(ENGINE_LOG_ERROR) :].strip()
    return (text.split(_REASONS, 1)[1] if _REASONS in text else text).strip() or "no reason given"


def _lines(chunks: Iterable[bytes]) -> Iterator[str]:
    buffer = b""
    for chunk in chunks:
        buffer += chunk
        *complete, buffer = buffer.split(b"\n")
        for line in complete:
            yield line.decode("utf-8", "replace")
    if buffer:
        yield buffer.decode("utf-8", "replace")


def _current(tasks: list[dict[str, Any]]) -> dict[str, Any] | None:
    """A service's current task: the newest one Swarm wants running, else the newest one."""
    if not tasks:
        return None
    wanted = [t for t in tasks if t.get("DesiredState") == "running"] or tasks
    return max(wanted, key=lambda t: t.get("Status", {}).get("Timestamp", ""))


def task_state(tasks: list[dict[str, Any]]) -> tuple[str, str]:
    """(state, error) of a service's current task: the newest one Swarm wants running. During
    an update the old task's "shutdown" is often newer than the new task's "preparing": it is
    history, not the service's state. Without a wanted task, the newest one says why."""
    newest = _current(tasks)
    if newest is None:
        return "pending", ""
    status = newest.get("Status", {})
    return str(status.get("State", "unknown")), str(status.get("Err", ""))


def stream_key(service_id: str, tasks: list[dict[str, Any]]) -> str:
    """What a report stream reads: "<service id>/<its current task's id>". A new task is a new
    key, so a following feed drops the old task's stream and starts the new one's."""
    current = _current(tasks)
    return f"{service_id}/{current.get('ID', '') if current else ''}"


class ServiceReader:
    """Deployed services (with their plans) and task states, for one engine."""

    def __init__(self, api: docker.APIClient) -> None:
        self.api = api
        self._plans: dict[str, agentspec.AgentSpec] = {}  # config id -> spec (immutable)

    def services(self, stack: str | None = None) -> list[dict[str, Any]]:
        labels = [OWNED, label_filter(KIND_LABEL, KIND_KEEPALIVED)]
        labels += [label_filter(STACK_LABEL, stack)] if stack else []
        return list(self.api.services(filters={"label": labels}))

    def _spec(self, service: dict[str, Any]) -> agentspec.AgentSpec | None:
        """Its agent.json; ValueError when this version cannot read it (newer schema)."""
        configs = service["Spec"]["TaskTemplate"]["ContainerSpec"].get("Configs") or []
        ref = next((c for c in configs if c.get("File", {}).get("Name") == paths.AGENT_SPEC), None)
        if ref is None:
            return None
        if ref["ConfigID"] not in self._plans:
            data = self.api.inspect_config(ref["ConfigID"])["Spec"]["Data"]
            try:
                spec = agentspec.from_json(base64.b64decode(data).decode())
            except (ValueError, KeyError, TypeError, binascii.Error) as exc:
                raise ValueError(str(exc) or type(exc).__name__) from exc
            self._plans[ref["ConfigID"]] = spec
        return self._plans[ref["ConfigID"]]

    @staticmethod
    def _incompatible(service: dict[str, Any], why: str, state: str, err: str) -> DeployedNode:
        """A service whose plan this version cannot read: shown with a note, no instances."""
        labels = service["Spec"].get("Labels") or {}
        name = service["Spec"]["Name"]
        note = (
            f"cannot read the agent.json of {name} ({why}): deployed by another swarmvip"
            " version? upgrade this swarmvip, or redeploy the stack with it"
        )
        plan = NodePlan(labels.get(NODE_LABEL, ""), "", None, "", ())
        return DeployedNode(labels.get(STACK_LABEL, "?"), name, plan, state, err, note=note)

    def _task(self, service_id: str) -> tuple[str, str, str]:
        """(state, error, stream key) of the service's current task."""
        tasks = self.api.tasks(filters={"service": service_id})
        return (*task_state(tasks), stream_key(service_id, tasks))

    def deployed(
        self, stack: str | None = None, incompatible: bool = False
    ) -> tuple[tuple[DeployedNode, ...], list[str]]:
        """The deployed nodes and the keys of their report streams (same order: stream_key,
        the service and its current task). A service whose agent.json this version cannot read
        is skipped, or with `incompatible` listed with a note and no instances, so one such
        service never hides the others."""
        found, ids = [], []
        for svc in self.services(stack):
            try:
                spec, why = self._spec(svc), ""
            except ValueError as exc:
                spec, why = None, str(exc)
            if spec is None and not (why and incompatible):
                continue
            state, err, key = self._task(svc["ID"])
            if spec is None:
                found.append(self._incompatible(svc, why, state, err))
            else:
                spec_hash = (svc["Spec"].get("Labels") or {}).get(HASH_LABEL, "")
                found.append(
                    DeployedNode(
                        spec.stack, svc["Spec"]["Name"], spec.node, state, err, spec=spec_hash
                    )
                )
            ids.append(key)
        return tuple(found), ids


def newest_controller_line(lines: Iterable[str]) -> dict[str, Any] | None:
    """The controller report with the greatest `ts`. A service's log tail interleaves its
    tasks (a killed controller's last lines and its successor's) in no time order, so the last
    line may be the dead one's (issue 12, scenario 3: status kept showing it unhealthy)."""
    docs = []
    for line in lines:
        try:
            doc = json.loads(line[line.index("{") :])
        except ValueError:
            continue
        if isinstance(doc, dict):
            docs.append(doc)
    return max(docs, key=lambda d: float(d.get("ts") or 0), default=None)


def controller_line(api: docker.APIClient, timeout: float = 3.0) -> dict[str, Any] | None:
    """The newest report of a controller service (label swarmvip.kind=controller), if any."""
    services = api.services(filters={"label": [OWNED, label_filter(KIND_LABEL, KIND_CONTROLLER)]})
    if not services:
        return None
    found: queue.Queue[dict[str, Any] | None] = queue.Queue()

    def tail() -> None:
        try:
            chunks = api.service_logs(services[0]["ID"], stdout=True, tail="20", is_tty=False)
            lines = [line for line in _lines(chunks) if '"swarmvip_controller"' in line]
            found.put(newest_controller_line(lines))
        except (*STREAM_ERRORS, ValueError, IndexError):
            found.put(None)

    threading.Thread(target=tail, daemon=True).start()
    try:
        return found.get(timeout=timeout)
    except queue.Empty:
        return None


def current_task_logs(api: docker.APIClient, key: str, **params: Any) -> Iterator[bytes]:
    """The log of the task a stream key names (stream_key; no task: an empty log). Not the
    service's log: the engine assembles that from every task it keeps (five per slot), and a
    stream that has to fetch a shut-down task's logs from a worker can stall near its end and
    never end (seen after restarts: 5 reads of 10 with tail 200; 0 of 10 for the task). The
    node's state is its current task's; older tasks' lines are history. docker-py has
    service_logs but no task call: the same request on /tasks/{id}/logs."""
    task_id = key.partition("/")[2]
    if not task_id:
        return iter(())
    client: Any = api  # docker-py's own request helpers, as its service_logs uses them
    res = client._get(client._url("/tasks/{0}/logs", task_id), params=params, stream=True)
    return iter(client._get_result_tty(True, res, False))


@dataclass(frozen=True, slots=True)
class StreamEnd:
    """A stream (key: stream_key) ended, normally or on an error. `unreadable`: the engine's error
    when the stream carried it and not one report (an error about an old task beside the
    current task's reports is no reason to distrust them)."""

    key: str
    unreadable: str = ""


Item = Received | StreamEnd


def _read(
    api: docker.APIClient,
    key: str,
    since: float,
    follow: bool,
    sink: queue.Queue[Item],
    stop: threading.Event | None = None,
    newest: dict[str, float] | None = None,
) -> None:
    """Put each report of one service's log stream in `sink`, stamped with its arrival;
    `newest[key]` follows the newest report's ts (the node's clock)."""
    error, delivered = "", False
    try:
        chunks = current_task_logs(
            api,
            key,
            stdout=True,
            stderr=False,
            follow=follow,
            since=int(since),
            tail="all" if since else "200",
        )
        for line in _lines(chunks):
            if stop is not None and stop.is_set():
                return
            report = parse_report(line)
            if report is not None:
                delivered = True
                sink.put(Received(report, time.time()))
                if newest is not None:
                    newest[key] = max(report.ts, newest.get(key, 0.0))
            else:
                error = error or engine_log_error(line) or ""
    except STREAM_ERRORS:
        pass
    finally:
        sink.put(StreamEnd(key, "" if delivered else error))


def read_reports(
    api: docker.APIClient, keys: list[str], budget: float = READ_BUDGET
) -> tuple[list[Received], set[str], dict[str, str]]:
    """Each service's recent reports; the services whose stream did not end within `budget`
    seconds (a node paused, down or cut off): never waits longer than that; and {service:
    the engine's error} of those whose stream ended with the engine's error and no report."""
    sink: queue.Queue[Item] = queue.Queue()
    for key in keys:
        threading.Thread(target=_read, args=(api, key, 0.0, False, sink), daemon=True).start()
    received: list[Received] = []
    unreadable: dict[str, str] = {}
    pending, deadline = set(keys), time.monotonic() + budget
    while pending:
        try:
            item = sink.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            break  # the rest hang: their nodes show as stale, the others do not wait
        if isinstance(item, StreamEnd):
            pending.discard(item.key)
            if item.unreadable:
                unreadable[item.key] = item.unreadable
        else:
            received.append(item)
    return received, pending, unreadable


@dataclass
class _Stream:
    thread: threading.Thread
    stop: threading.Event


class ReportFeed:
    """Follow every service's reports as they are written: one daemon thread per stream key
    (stream_key: the service and its current task; a new task is a new stream).

    At most one stream per key: a live stream is kept across reconnects (`rebind`), an ended
    one is restarted from the newest line it delivered (`since` on the node's own clock, as
    docker filters on it), and streams of keys that went away are stopped. A new stream
    reads the backlog to its end before it follows (`backlog_read`): a backlog arrives oldest
    line first, and its first lines alone would pass for the node's current state.
    """

    def __init__(self, api: docker.APIClient) -> None:
        self.api = api
        self.queue: queue.Queue[Item] = queue.Queue()
        self._following: dict[str, _Stream] = {}
        self._newest: dict[str, float] = {}  # stream key -> newest report ts (node's clock)
        self._backlogs: set[str] = set()  # keys whose backlog was read to its end

    def rebind(self, api: docker.APIClient) -> None:
        """Use a new connection for streams (re)started from now on."""
        self.api = api

    def follow(self, keys: Iterable[str]) -> None:
        """Start following new services; a stream that ended (task gone) is restarted."""
        wanted = set(keys)
        for key in wanted:
            stream = self._following.get(key)
            if stream is None or not stream.thread.is_alive():
                since = max(0.0, self._newest[key] - 1) if key in self._newest else 0.0
                stop = threading.Event()
                thread = threading.Thread(
                    target=self._stream, args=(self.api, key, since, stop), daemon=True
                )
                thread.start()
                self._following[key] = _Stream(thread, stop)
        for key in set(self._following) - wanted:
            self._following.pop(key).stop.set()
            self._newest.pop(key, None)
            self._backlogs.discard(key)

    def _stream(self, api: docker.APIClient, key: str, since: float, stop: threading.Event) -> None:
        """A new stream reads the service's backlog to its end first (a stream that ends), so
        that `backlog_read` can tell a complete backlog from the first lines of one; then it
        follows from the newest line it got. A restarted stream only follows."""
        if not since:
            _read(api, key, 0.0, False, self.queue, stop, self._newest)
            self._backlogs.add(key)
            if stop.is_set():
                return
            since = max(0.0, self._newest[key] - 1) if key in self._newest else 0.0
        _read(api, key, since, True, self.queue, stop, self._newest)

    def backlog_read(self, key: str) -> bool:
        """The service's backlog has been delivered to its end (or its stream ended): its
        newest report is in the queue. Before that, the reports so far may be its oldest."""
        return key in self._backlogs

    @property
    def streams(self) -> int:
        """Threads still reading (stopped ones end at their next line or error)."""
        return sum(1 for s in self._following.values() if s.thread.is_alive())

    def close(self) -> None:
        """Stop every stream (each thread ends at its next line, or when its stream ends)."""
        for stream in self._following.values():
            stream.stop.set()
        self._following.clear()

    def drain(self) -> list[Received]:
        items: list[Received] = []
        while True:
            try:
                item = self.queue.get_nowait()
            except queue.Empty:
                return items
            if isinstance(item, Received):
                items.append(item)
