"""Node writes (labels, availability) and the stored stack specs, through the Docker API.

Node updates send the full spec with its Version and retry on "update out of sequence".
"""

from __future__ import annotations

import base64
from typing import Any

import docker

from swarmvip.cluster.errors import retry_on_conflict, translated
from swarmvip.errors import ConfigError, Problem
from swarmvip.wire.keys import KIND_LABEL, KIND_SPEC, OWNED, STACK_LABEL, label_filter


def find_node(api: docker.APIClient, name: str) -> dict[str, Any]:
    """A node by id, else by its hostname when exactly one node has it; a clear error naming the
    known nodes otherwise."""
    nodes = api.nodes()
    by_id = [n for n in nodes if n["ID"] == name]
    found = by_id or [n for n in nodes if _hostname(n) == name]
    if len(found) == 1:
        return dict(found[0])
    if found:
        ids = ", ".join(sorted(n["ID"] for n in found))
        message, fix = f"{len(found)} nodes are named {name!r}", f"use one of the ids {ids}"
    else:
        known = ", ".join(sorted(f"{_hostname(n)} ({n['ID'][:12]})" for n in nodes))
        message, fix = f"no node {name!r}", f"use a hostname or id: {known}"
    raise ConfigError([Problem(file="(command line)", key="NODE", message=message, fix=fix)])


def _hostname(node: dict[str, Any]) -> str:
    return str(node.get("Description", {}).get("Hostname", "?"))


def update_node(
    api: docker.APIClient,
    name: str,
    labels: dict[str, str | None] | None = None,
    availability: str | None = None,
) -> None:
    """Set (value) or remove (None) labels and/or availability, read-modify-write."""

    def once() -> None:
        node = find_node(api, name)
        spec = dict(node["Spec"])
        current = dict(spec.get("Labels") or {})
        for key, value in (labels or {}).items():
            if value is None:
                current.pop(key, None)
            else:
                current[key] = value
        spec["Labels"] = current
        if availability:
            spec["Availability"] = availability
        api.update_node(node["ID"], node["Version"]["Index"], spec)  # type: ignore[arg-type]

    with translated(f"updating node {name}"):
        retry_on_conflict(once)


def stored_specs(api: docker.APIClient, stack: str | None = None) -> dict[str, tuple[str, str]]:
    """{stack: (config name, stack document text)} of every deployed swarmvip stack."""
    labels = [OWNED, label_filter(KIND_LABEL, KIND_SPEC)]
    labels += [label_filter(STACK_LABEL, stack)] if stack else []
    newest: dict[str, dict[str, Any]] = {}
    for config in api.configs(filters={"label": labels}):
        owner = config["Spec"]["Labels"].get(STACK_LABEL, "")
        if owner not in newest or config["CreatedAt"] > newest[owner]["CreatedAt"]:
            newest[owner] = config
    result = {}
    for owner, config in newest.items():
        full = api.inspect_config(config["ID"])
        result[owner] = (config["Spec"]["Name"], base64.b64decode(full["Spec"]["Data"]).decode())
    return result
