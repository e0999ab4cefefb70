"""The adapter moves a VIP layer written under the app's docker stack namespace by labels only:
a service keeps its task template (no task restarts), a config or secret its data."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from swarmvip.cluster import DockerCluster
from swarmvip.plan.desired import DesiredService
from swarmvip.plan.diff import ObservedObject, ObservedService, RelabelObject, UpdateService
from swarmvip.wire.keys import HASH_LABEL, STACK_NAMESPACE_LABEL

TEMPLATE = {"ContainerSpec": {"Image": "swarmvip/agent:0.1.0", "Labels": {"x": "y"}}}


class RecordingApi:
    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []

    def inspect_service(self, service_id: str) -> dict[str, Any]:
        labels = {STACK_NAMESPACE_LABEL: "web", HASH_LABEL: "abc"}
        spec = {"Name": "web_vip-node1-aaaaaaaa", "Labels": labels, "TaskTemplate": TEMPLATE}
        return {"ID": service_id, "Version": {"Index": 7}, "Spec": spec | {"Mode": {"R": 1}}}

    def update_service(self, service_id: str, version: int, **spec: Any) -> None:
        self.calls.append(("update_service", (service_id, version, spec)))

    def inspect_config(self, config_id: str) -> dict[str, Any]:
        spec = {"Name": "web_vip-kc-1", "Labels": {STACK_NAMESPACE_LABEL: "web"}, "Data": "eA=="}
        return {"ID": config_id, "Version": {"Index": 3}, "Spec": spec}

    def _url(self, template: str, *args: str) -> str:
        return template.format(*args)

    def _post_json(self, url: str, params: dict[str, Any], data: dict[str, Any]) -> str:
        self.calls.append(("post", (url, params, data)))
        return "response"

    def _raise_for_status(self, response: str) -> None:
        self.calls.append(("raise_for_status", response))


def _cluster(api: RecordingApi) -> DockerCluster:
    return DockerCluster(SimpleNamespace(api=api))  # type: ignore[arg-type]


def test_a_service_whose_hash_is_unchanged_gets_its_labels_only() -> None:
    api = RecordingApi()
    labels = ((STACK_NAMESPACE_LABEL, "web-vip"), (HASH_LABEL, "abc"))
    wanted = DesiredService("web_vip-node1-aaaaaaaa", "n1", "node1", "img", (), (), 10, labels, 250)
    current = ObservedService("sid", "web_vip-node1-aaaaaaaa", "n1", "abc", 250, "web")
    _cluster(api).apply(UpdateService(current, wanted))
    [(call, (service_id, version, spec))] = api.calls
    assert (call, service_id, version) == ("update_service", "sid", 7)
    assert spec["task_template"] is TEMPLATE  # the task spec as it is: no restart
    assert spec["labels"] == dict(labels) and spec["mode"] == {"R": 1}
    assert spec["name"] == "web_vip-node1-aaaaaaaa"


def test_a_config_is_relabelled_with_its_spec_and_version() -> None:
    api = RecordingApi()
    labels = ((STACK_NAMESPACE_LABEL, "web-vip"),)
    _cluster(api).apply(RelabelObject("config", ObservedObject("cid", "web_vip-kc-1"), labels))
    (_, (url, params, data)), raised = api.calls
    assert (url, params) == ("/configs/cid/update", {"version": 3})
    assert data == {"Name": "web_vip-kc-1", "Labels": dict(labels), "Data": "eA=="}
    assert raised == ("raise_for_status", "response")
