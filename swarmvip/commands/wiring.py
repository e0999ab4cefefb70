"""Where the commands connect to the engine and wire the use cases: the only caller of
DockerCluster.connect. Imported by the command functions only (docker loads when they run).

`endpoint(args)` resolves the command line's connection options (-H, --context, --tls*) with
the environment once, like the docker CLI (swarmvip.cluster.connection); everything else here
takes that Endpoint.
"""

from __future__ import annotations

import argparse
from functools import partial

from swarmvip.cluster import Connect, DockerCluster
from swarmvip.cluster.connection import Endpoint, Options, resolve
from swarmvip.cluster.status_source import ClusterSource
from swarmvip.ops.controller import Controller
from swarmvip.ops.drain import ClusterActions

SOURCE_TIMEOUT = 10  # seconds: the engine client's timeout for a status source's reads
# seconds `swarmvip status` waits for the swarm at most: a swarm without a raft leader leaves
# its managers' swarm calls hanging for 20 s; status says so after this (ClusterSource)
STATUS_DEADLINE = 5.0
PING_TIMEOUT = 2  # seconds: does the engine itself answer (when the swarm did not)


def endpoint(args: argparse.Namespace) -> Endpoint:
    """The engine the command line names (resolved once per command; an unknown context is
    an UnavailableError, exit 3)."""
    resolved = getattr(args, "endpoint", None)
    if not isinstance(resolved, Endpoint):
        resolved = resolve(
            Options(
                host=getattr(args, "host", None),
                context=getattr(args, "context", None),
                tls=bool(getattr(args, "tls", False)),
                tlsverify=bool(getattr(args, "tlsverify", False)),
                tlscacert=getattr(args, "tlscacert", None),
                tlscert=getattr(args, "tlscert", None),
                tlskey=getattr(args, "tlskey", None),
            )
        )
        args.endpoint = resolved
    return resolved


def connect(target: Endpoint) -> DockerCluster:
    """The engine at target: connected now."""
    return DockerCluster.connect(target)


def connector(target: Endpoint, timeout: int = 30) -> Connect:
    """Connects when called (first use, and again after an engine error)."""
    return partial(DockerCluster.connect, target, timeout=timeout)


def status_source(
    target: Endpoint,
    stack: str | None = None,
    follow: bool = False,
    deadline: float | None = None,
) -> ClusterSource:
    """A status source for `target`; with `deadline`, each observe answers within it (and
    tells a swarm without a leader from an engine that does not answer)."""
    import swarmvip.cluster.status_source as module  # looked up now: tests replace the class

    connect = connector(target, SOURCE_TIMEOUT)
    if deadline is None:
        return module.ClusterSource(connect, stack, follow)
    ping = partial(DockerCluster.ping, target, PING_TIMEOUT)
    return module.ClusterSource(connect, stack, follow, deadline=deadline, ping=ping)


def drain_actions(target: Endpoint, timeout: float = 60.0) -> ClusterActions:
    """Drain/undrain, each with a new connection and a new following status source."""
    return ClusterActions(connector(target), lambda: status_source(target, follow=True), timeout)


def controller(target: Endpoint, identity: str | None, interval: float, ttl: float) -> Controller:
    """The controller, with its own following status source for its whole life."""
    return Controller(
        connector(target), status_source(target, follow=True), identity, interval, ttl
    )
