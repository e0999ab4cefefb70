"""Where the commands connect to the engine and wire the use cases: the only caller of
DockerCluster.connect. Imported by the command functions only (docker loads when they run)."""

from __future__ import annotations

from functools import partial

from swarmvip.cluster import Connect, DockerCluster
from swarmvip.cluster.status_source import ClusterSource
from swarmvip.ops.controller import Controller
from swarmvip.ops.drain import ClusterActions

SOURCE_TIMEOUT = 10  # seconds: the engine client's timeout for a status source's reads


def connect(host: str | None) -> DockerCluster:
    """The engine at host (-H), else DOCKER_HOST: connected now."""
    return DockerCluster.connect(host)


def connector(host: str | None, timeout: int = 30) -> Connect:
    """Connects when called (first use, and again after an engine error)."""
    return partial(DockerCluster.connect, host, timeout=timeout)


def status_source(
    host: str | None, stack: str | None = None, follow: bool = False
) -> ClusterSource:
    import swarmvip.cluster.status_source as module  # looked up now: tests replace the class

    return module.ClusterSource(connector(host, SOURCE_TIMEOUT), stack, follow)


def drain_actions(host: str | None, timeout: float = 60.0) -> ClusterActions:
    """Drain/undrain, each with a new connection and a new following status source."""
    return ClusterActions(connector(host), lambda: status_source(host, follow=True), timeout)


def controller(host: str | None, identity: str | None, interval: float, ttl: float) -> Controller:
    """The controller, with its own following status source for its whole life."""
    return Controller(connector(host), status_source(host, follow=True), identity, interval, ttl)
