"""converge.snapshot refuses to decide on an unreachable manager's empty view."""

from __future__ import annotations

import pytest

from swarmvip.converge import snapshot
from swarmvip.errors import UnavailableError
from swarmvip.status.model import Observation


class Unreachable:
    def observe(self) -> Observation:
        return Observation(now=1.0, error="ConnectionError: refused")


class Empty:
    def observe(self) -> Observation:
        return Observation(now=1.0)


def test_unreachable_manager_is_an_error_not_an_empty_swarm() -> None:
    with pytest.raises(UnavailableError, match="manager unreachable: ConnectionError"):
        snapshot(Unreachable())


def test_a_reachable_empty_swarm_is_a_snapshot() -> None:
    assert snapshot(Empty()).vips == ()
