"""Engine trouble is an error of ours with exit 3 and one line, never a traceback (AUDIT-2 #12)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import docker.errors
import pytest
import requests
import requests.exceptions

from swarmvip import cli
from swarmvip.cluster import DockerCluster
from swarmvip.errors import ClusterError, ExitCode, UnavailableError

NO_LEADER = "rpc error: code = Unknown desc = The swarm does not have a leader"


def _api_error(status: int, text: str) -> docker.errors.APIError:
    response = requests.Response()
    response.status_code = status
    return docker.errors.APIError(f"{status} Server Error", response, explanation=text)


class BrokenApi:
    """A manager that answers nothing useful: every call raises `error`."""

    def __init__(self, error: Exception) -> None:
        self.error = error

    def __getattr__(self, name: str) -> Any:
        def fail(*_: Any, **__: Any) -> Any:
            raise self.error

        return fail


def cluster_on(api: Any) -> DockerCluster:
    return DockerCluster(SimpleNamespace(api=api))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "error",
    [
        _api_error(503, NO_LEADER),
        docker.errors.APIError(f"503 Server Error: {NO_LEADER}"),  # no response attached
        requests.exceptions.ConnectionError("Connection aborted: FileNotFoundError"),
        requests.exceptions.ReadTimeout("read timed out"),
    ],
)
def test_the_lease_and_a_lost_manager_are_unavailable(error: Exception) -> None:
    cluster = cluster_on(BrokenApi(error))
    with pytest.raises(UnavailableError, match="write lease"), cluster.exclusive("deploy@x"):
        pass
    with pytest.raises(UnavailableError, match="listing nodes"):
        cluster.nodes()


def test_a_refusal_stays_a_cluster_error() -> None:
    cluster = cluster_on(BrokenApi(_api_error(400, "invalid name")))
    with pytest.raises(ClusterError) as refused:
        cluster.nodes()
    assert not isinstance(refused.value, UnavailableError)
    assert str(refused.value) == "listing nodes: invalid name"


@pytest.mark.parametrize(
    "error",
    [
        docker.errors.APIError(f"503 Server Error: {NO_LEADER}"),
        requests.exceptions.ConnectionError("Connection aborted: FileNotFoundError"),
    ],
)
def test_cli_prints_one_line_and_exits_3(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], error: Exception
) -> None:
    monkeypatch.setattr(
        DockerCluster, "connect", classmethod(lambda *_a, **_k: cluster_on(BrokenApi(error)))
    )
    assert cli.main(["rm", "web"]) == ExitCode.UNAVAILABLE
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("swarmvip: error: ")
    assert "Traceback" not in err


def test_an_engine_error_that_slipped_past_the_adapter_is_still_exit_3(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def connect(*_: Any, **__: Any) -> DockerCluster:
        raise requests.exceptions.ConnectionError("Connection refused")

    monkeypatch.setattr(DockerCluster, "connect", classmethod(connect))
    assert cli.main(["rm", "web"]) == 3
    err = capsys.readouterr().err
    assert err == "swarmvip: error: the Docker engine did not answer: Connection refused\n"
    with pytest.raises(requests.exceptions.ConnectionError):  # --debug: the traceback
        cli.main(["--debug", "rm", "web"])


def test_a_bug_is_not_disguised_as_engine_trouble(monkeypatch: pytest.MonkeyPatch) -> None:
    def connect(*_: Any, **__: Any) -> DockerCluster:
        raise KeyError("Spec")

    monkeypatch.setattr(DockerCluster, "connect", classmethod(connect))
    with pytest.raises(KeyError):
        cli.main(["rm", "web"])
