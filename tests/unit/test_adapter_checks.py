"""Adapter-side refusals that need no engine: old engines, workers, a missing docker CLI."""

from __future__ import annotations

from typing import Any

import pytest

from swarmvip.cluster import DockerCluster
from swarmvip.errors import ConfigError, UnavailableError
from swarmvip.ops.deploy import require_docker_cli
from swarmvip.spec.stackfile import parse_stack


class FakeApi:
    def __init__(self, api: str, swarm: dict[str, Any]) -> None:
        self._api, self._swarm = api, swarm

    def version(self) -> dict[str, str]:
        return {"ApiVersion": self._api, "Version": "19.03.15"}

    def info(self) -> dict[str, Any]:
        return {"Swarm": self._swarm}


class FakeClient:
    def __init__(self, api: FakeApi) -> None:
        self.api = api


MANAGER = {"LocalNodeState": "active", "ControlAvailable": True}


def cluster(api: str, swarm: dict[str, Any]) -> DockerCluster:
    return DockerCluster(FakeClient(FakeApi(api, swarm)))  # type: ignore[arg-type]


def test_old_engine_is_refused_with_the_reason() -> None:
    with pytest.raises(UnavailableError, match=r"API 1\.40.*Engine >= 20\.10"):
        cluster("1.40", MANAGER).require_manager()


def test_worker_and_non_swarm_engines_are_refused() -> None:
    with pytest.raises(UnavailableError, match="swarm worker"):
        cluster("1.41", {"LocalNodeState": "active", "ControlAvailable": False}).require_manager()
    with pytest.raises(UnavailableError, match="not in a swarm"):
        cluster("1.41", {"LocalNodeState": "inactive"}).require_manager()
    cluster("1.41", MANAGER).require_manager()


def test_services_without_docker_cli_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    text = (
        "services:\n  web: {image: x}\n"
        "x-swarmvip:\n  vips:\n    web:\n      addresses: [10.0.0.5/24]\n"
    )
    spec = parse_stack(text, "s.yml")
    monkeypatch.setattr("shutil.which", lambda name: None)
    with pytest.raises(ConfigError, match=r"docker CLI is missing.*--vip-only"):
        require_docker_cli(spec, vip_only=False)
    assert require_docker_cli(spec, vip_only=True) is None
