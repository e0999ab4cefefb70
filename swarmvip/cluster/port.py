"""The port in front of Docker: what the use cases (ops), the status source and the commands
ask of a swarm. Only swarmvip types cross it, never a docker object or a raw engine dict.

DockerCluster (cluster/core.py) implements it over a manager's engine; tests/contract/fake.py
implements it in memory, and tests/contract runs one suite against both.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractContextManager
from typing import Any, Protocol

from swarmvip.model import Node, NodePlan
from swarmvip.plan.diff import Action, Observed, ObservedService
from swarmvip.status.model import DeployedNode, Received

TaskProgress = Callable[[int, int, list[str]], None]  # (running, total, problems)


class Watcher(Protocol):
    """A running watch on the swarm's events (see Cluster.watch)."""

    @property
    def alive(self) -> bool: ...


class Feed(Protocol):
    """The agents' reports as they are written, one stream per followed service."""

    def follow(self, keys: Iterable[str]) -> None: ...

    def drain(self) -> list[Received]: ...

    def backlog_read(self, key: str) -> bool:
        """The service's backlog has been delivered to its end: until then the reports drained
        so far may be its oldest, not its newest."""
        ...

    def close(self) -> None: ...

    @property
    def streams(self) -> int: ...


class Cluster(Protocol):
    """One swarm, through a manager."""

    # --- reading -------------------------------------------------------------------------
    def nodes(self) -> tuple[Node, ...]: ...

    def vrids(self) -> dict[str, dict[str, int]]:
        """{stack: {group: vrid}} of every swarmvip stack deployed in this swarm."""
        ...

    def observe(self, stack: str) -> Observed:
        """The stack's swarmvip services, configs and secrets."""
        ...

    def running_plans(self, stack: str) -> dict[str, NodePlan]:
        """{node id: the plan its keepalived task runs now} (from each task's agent.json)."""
        ...

    def secret_names(self) -> set[str]: ...

    def config_names(self) -> set[str]: ...

    def logging_driver(self) -> str:
        """The manager engine's default logging driver (`docker info` LoggingDriver); "" when
        it does not say. A keepalived task logs with its node's default (the spec sets none)."""
        ...

    def stored_specs(self, stack: str | None = None) -> dict[str, tuple[str, str]]:
        """{stack: (config name, stack document text)} of every deployed swarmvip stack."""
        ...

    # --- writing (fenced by the lease while inside exclusive()) ---------------------------
    def apply(self, action: Action) -> None: ...

    def update_node(
        self,
        name: str,
        labels: dict[str, str | None] | None = None,
        availability: str | None = None,
    ) -> None:
        """Set (value) or remove (None) labels and/or the availability of a node (id or
        hostname)."""
        ...

    def exclusive(
        self, identity: str, ttl: float = 15.0, wait: float = 60.0
    ) -> AbstractContextManager[object]:
        """Hold the swarm-wide swarmvip write lease for the body; LeaseBusy when another
        holder keeps it beyond `wait` seconds, LeaseLost on the first write after losing it."""
        ...

    # --- waiting and watching ------------------------------------------------------------
    def wait_running(
        self, stack: str, timeout: float, progress: TaskProgress | None = None
    ) -> tuple[str, ...]:
        """Until every service of the stack that can run runs its spec; the skipped ones."""
        ...

    def wait_running_all(self, stacks: list[str], timeout: float) -> tuple[str, ...]: ...

    def wait_gone(self, services: Sequence[ObservedService], timeout: float) -> tuple[str, ...]:
        """Until no task of these removed services runs any more on a node that can tell (a
        Down node never does: not waited for); one line per service still running at the
        timeout."""
        ...

    def watch(self, wake: threading.Event) -> Watcher:
        """Set `wake` on every node or service change, until the event stream ends."""
        ...

    # --- what the agents report (the status source) --------------------------------------
    def deployed(
        self, stack: str | None = None, incompatible: bool = False
    ) -> tuple[tuple[DeployedNode, ...], list[str]]:
        """The deployed keepalived services with their plans and task states, and their ids
        (same order), for read_reports and Feed.follow."""
        ...

    def read_reports(
        self, keys: list[str], budget: float
    ) -> tuple[list[Received], set[str], dict[str, str]]:
        """Each service's recent reports, those whose stream did not end in `budget` s, and
        {service: the engine's error} of those whose logs the engine could not read (no
        report: "node X is not available")."""
        ...

    def feed(self, reuse: Feed | None = None) -> Feed:
        """A Feed through this connection; `reuse` (a feed of an earlier connection) keeps its
        live streams and starts new ones through this one."""
        ...

    def controller_line(self, timeout: float) -> dict[str, Any] | None:
        """The controller service's newest status line, if any."""
        ...

    def raft_index(self) -> int:
        """The swarm's newest raft index (every write raises it): a planned move's seq."""
        ...

    def run_relay(self, plan_json: str) -> str:
        """Run a wire.relay plan in the relay task of this manager; its JSON result line.
        cluster.control.RelayUnavailable when there is no relay to run it."""
        ...

    def warm_relay(self) -> AbstractContextManager[None]:
        """Inside it, the next run_relay finds its sender already started (a planned move does
        not wait for its Python start); best effort, and an unused one ends on exit."""
        ...

    def lease_labels(self) -> dict[str, str]:
        """The write lease's labels on the swarm spec (wire.keys.LEASE_LABELS), as written, in
        one read; {} when no writer holds it (cluster.lease.Observer tells a crashed one)."""
        ...


Connect = Callable[[], Cluster]
