"""cluster/errors.py: one classifier for engine errors, one retry loop for conflicts."""

from __future__ import annotations

import docker.errors
import pytest
import requests
import requests.exceptions

from swarmvip.cluster.errors import (
    ConflictError,
    ExistsError,
    InUseError,
    NotFoundError,
    is_a,
    retry_on_conflict,
    translate,
    translated,
)
from swarmvip.errors import ClusterError, NoLeaderError, SwarmvipError, UnavailableError


def api_error(status: int | None, text: str) -> docker.errors.APIError:
    if status is None:
        return docker.errors.APIError(text)
    response = requests.Response()
    response.status_code = status
    return docker.errors.APIError(f"{status} Server Error", response, explanation=text)


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (api_error(500, "rpc error: code = Unknown desc = update out of sequence"), ConflictError),
        (api_error(None, "rpc error: update out of sequence"), ConflictError),
        (api_error(404, "service sid-1 not found"), NotFoundError),
        (docker.errors.NotFound("no such config"), NotFoundError),
        (api_error(400, "config web_vip-conf-1 is in use by the following service"), InUseError),
        (
            api_error(409, "rpc error: name conflicts with an existing object: already exists"),
            ExistsError,
        ),
        (api_error(503, "The swarm does not have a leader"), NoLeaderError),
        (api_error(None, "500 Server Error: The swarm does not have a leader"), NoLeaderError),
        (api_error(503, "service unavailable"), UnavailableError),
        (api_error(400, "invalid name"), ClusterError),
        (
            docker.errors.DockerException("Error while fetching server API version"),
            UnavailableError,
        ),
        (requests.exceptions.ConnectionError("Connection refused"), UnavailableError),
        (requests.exceptions.ReadTimeout("read timed out"), UnavailableError),
    ],
)
def test_each_engine_error_has_one_kind(error: Exception, kind: type[SwarmvipError]) -> None:
    ours = translate(error, "doing x")
    assert type(ours) is kind
    if kind is NoLeaderError:  # the cause first, then what it means, the engine's words last
        assert str(ours).startswith("the swarm has no leader (quorum lost")
        assert "(engine: doing x: " in str(ours)
    else:
        assert str(ours).startswith("doing x: ")
    assert is_a(error, kind) and is_a(ours, kind)


def test_no_leader_says_what_it_means_and_what_to_do() -> None:
    """Issue 12, defect 1: a manager without quorum answers every swarm call with "The swarm
    does not have a leader" (a 500): exit 3, with the cause and the way out in one line."""
    engine = (
        "rpc error: code = Unknown desc = The swarm does not have a leader. It's possible that"
        " too few managers are online. Make sure more than half of the managers are online."
    )
    ours = translate(api_error(500, engine), "reading the swarmvip write lease")
    assert isinstance(ours, NoLeaderError) and isinstance(ours, UnavailableError)
    assert ours.exit_code == 3 and ours.reason == "no-leader"
    text = str(ours)
    assert "\n" not in text
    for said in ("quorum lost", "VRRP alone", "majority of the managers", "force-new-cluster"):
        assert said in text


def test_the_message_is_the_engines_explanation_and_the_cause_is_chained() -> None:
    error = api_error(400, "invalid name")
    with pytest.raises(ClusterError) as caught, translated("creating config c"):
        raise error
    assert str(caught.value) == "creating config c: invalid name"
    assert caught.value.__cause__ is error
    unanswered = requests.exceptions.ConnectionError("refused")
    assert str(translate(unanswered, "listing nodes")) == (
        "listing nodes: the Docker engine did not answer: refused"
    )


def test_ours_pass_through_and_a_bug_is_never_engine_trouble() -> None:
    ours = ClusterError("x")
    assert translate(ours, "y") is ours
    with pytest.raises(TypeError):
        translate(KeyError("Spec"), "y")
    with pytest.raises(KeyError), translated("y"):
        raise KeyError("Spec")
    assert not is_a(KeyError("x"), ConflictError)


def test_retry_on_conflict_retries_with_a_growing_backoff_then_succeeds() -> None:
    calls, slept = [0], list[float]()

    def write() -> str:
        calls[0] += 1
        if calls[0] < 3:
            raise api_error(500, "update out of sequence")
        return "ok"

    assert retry_on_conflict(write, attempts=5, backoff=0.2, sleep=slept.append) == "ok"
    assert calls == [3] and slept == [0.2, 0.4]


def test_retry_on_conflict_gives_up_after_its_attempts_with_the_last_error() -> None:
    slept: list[float] = []
    error = api_error(500, "update out of sequence")

    def write() -> None:
        raise error

    with pytest.raises(docker.errors.APIError) as caught:
        retry_on_conflict(write, attempts=3, backoff=0.1, sleep=slept.append)
    assert caught.value is error and len(slept) == 2


@pytest.mark.parametrize(
    "error", [api_error(400, "invalid name"), requests.exceptions.ConnectionError("x")]
)
def test_retry_on_conflict_never_retries_anything_else(error: Exception) -> None:
    calls: list[int] = []

    def write() -> None:
        calls.append(1)
        raise error

    with pytest.raises(type(error)):
        retry_on_conflict(write, sleep=lambda _: None)
    assert calls == [1]


def test_retry_on_conflict_also_retries_our_conflict_error() -> None:
    calls: list[int] = []

    def write() -> int:
        calls.append(1)
        if len(calls) == 1:
            raise ConflictError("updating node n: update out of sequence")
        return 7

    assert retry_on_conflict(write, sleep=lambda _: None) == 7
