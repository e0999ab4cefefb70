"""Engine errors, classified once; the one retry loop for "update out of sequence".

`translate` turns what docker-py and requests raise into our errors (the cause chained by the
callers' `raise … from exc`): a refusal is a ClusterError (exit 1), one of the kinds below when
callers act on it; no answer, no leader (503) or a dropped connection is an UnavailableError
(exit 3), "the swarm does not have a leader" a NoLeaderError (one, with what the operator can
do). The engine's wording ("out of sequence", "in use", "already exists", "does not have a
leader") is matched here and nowhere else.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

import docker.errors
import requests.exceptions

from swarmvip.errors import ClusterError, NoLeaderError, SwarmvipError, UnavailableError

T = TypeVar("T")

ENGINE_ERRORS = (docker.errors.DockerException, requests.exceptions.RequestException)
EngineError = docker.errors.DockerException | requests.exceptions.RequestException


class ConflictError(ClusterError):
    """Optimistic concurrency: the object changed since it was read ("update out of sequence")."""


class NotFoundError(ClusterError):
    """The object does not exist (any more)."""


class InUseError(ClusterError):
    """A config or secret still mounted by a task (the old tasks are not gone yet)."""


class ExistsError(ClusterError):
    """An object of that name exists already (someone created it meanwhile)."""


# What an engine without a raft leader makes of every swarm call, and what to do about it.
NO_LEADER_TEXT = "does not have a leader"
NO_LEADER_HELP = (
    "nodes, tasks and the agents' reports cannot be read and nothing can be changed until it has"
    " one; the VIPs keep failing over by VRRP alone (keepalived needs no manager). Restore a"
    " majority of the managers (start the stopped ones); if they are lost for good, run"
    " `docker swarm init --force-new-cluster` on a surviving manager"
)


def no_leader(why: str, engine: str = "") -> NoLeaderError:
    """The one NoLeaderError message: the cause (`why`), what it means and what to do, and the
    engine's own words last."""
    tail = f" (engine: {engine})" if engine else ""
    return NoLeaderError(f"the swarm has no leader ({why}): {NO_LEADER_HELP}{tail}")


def quorum_lost(engine: str) -> NoLeaderError:
    """The engine's "The swarm does not have a leader": its manager went without one for a
    while (swarmkit answers so once an election has failed for ~10 s)."""
    return no_leader("quorum lost: this manager reaches fewer than half of the managers", engine)


def _kind(exc: docker.errors.APIError) -> type[SwarmvipError]:
    text = str(exc)
    if NO_LEADER_TEXT in text:
        return NoLeaderError
    if exc.status_code == 503:
        return UnavailableError
    if "out of sequence" in text:
        return ConflictError
    if isinstance(exc, docker.errors.NotFound) or exc.status_code == 404:
        return NotFoundError
    if "in use" in text:
        return InUseError
    if "already exists" in text:
        return ExistsError
    return ClusterError


def translate(exc: BaseException, what: str) -> SwarmvipError:
    """Our error for an engine error met while doing `what` (an error of ours is returned as
    it is). Raise it `from exc`. Anything else is a bug, never engine trouble: TypeError."""
    if isinstance(exc, SwarmvipError):
        return exc
    if isinstance(exc, docker.errors.APIError):
        kind = _kind(exc)
        if kind is NoLeaderError:
            return quorum_lost(f"{what}: {exc.explanation or exc}")
        return kind(f"{what}: {exc.explanation or exc}")
    if isinstance(exc, docker.errors.DockerException):
        return UnavailableError(f"{what}: {exc}")
    if isinstance(exc, requests.exceptions.RequestException):
        return UnavailableError(f"{what}: the Docker engine did not answer: {exc}")
    raise TypeError(f"not an engine error: {type(exc).__name__}: {exc}")


def is_a(exc: BaseException, kind: type[SwarmvipError]) -> bool:
    """The error is, or translates to, `kind` (e.g. ConflictError)."""
    if isinstance(exc, SwarmvipError):
        return isinstance(exc, kind)
    return isinstance(exc, ENGINE_ERRORS) and isinstance(translate(exc, ""), kind)


@contextmanager
def translated(what: str) -> Iterator[None]:
    """Engine errors raised in the body leave it as ours (`translate`), the cause chained."""
    try:
        yield
    except ENGINE_ERRORS as exc:
        raise translate(exc, what) from exc


def retry_on_conflict(
    fn: Callable[[], T],
    attempts: int = 5,
    backoff: float = 0.2,
    sleep: Callable[[float], None] | None = None,
) -> T:
    """fn() (a read-modify-write), again while the engine answers "out of sequence": up to
    `attempts` tries, waiting backoff, 2*backoff, ... in between. Every other error, and the
    last conflict, leaves as raised."""
    for attempt in range(attempts):
        try:
            return fn()
        except (ConflictError, *ENGINE_ERRORS) as exc:
            if attempt == attempts - 1 or not is_a(exc, ConflictError):
                raise
            (sleep or time.sleep)(backoff * (attempt + 1))
    raise ValueError("retry_on_conflict needs attempts >= 1")
