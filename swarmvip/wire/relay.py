"""What the CLI hands the relay: a planned move as ordered steps of priority commands.

The CLI (on a laptop over ssh://, or on a manager) never holds the channel key. It computes the
steps (ops.runtime), then runs `swarmvip-agent send` by `docker exec` in the relay task on the
manager it talks to, with this plan as JSON on stdin. The relay signs each command with the key
mounted from the swarm secret, sends it to the agents, waits for their replies, and prints one
JSON result. Pure and stdlib-only: it runs in the agent image.

Step n (1-based) of a plan sends commands with seq (index, n). A step is done when every target
replied `applied` and, if `until` is set, that node reports `until.state` for `until.group`
(the relay re-sends the same command to ask again: an identical repeat is answered, not
re-applied). A step that is not done within `timeout` stops the plan (ok false).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from swarmvip.wire.command import CommandError, parse_priorities, parse_release


@dataclass(frozen=True, slots=True)
class Target:
    """One node's command within a step."""

    node_id: str
    address: str  # the agent's listener address (its VRRP source address)
    port: int
    spec: str  # the spec hash the node's agent reports
    priorities: Mapping[str, int]
    release: Mapping[str, str] = field(default_factory=dict)  # wire.command.Command.release
    hold: Mapping[str, str] = field(default_factory=dict)  # wire.command.Command.hold
    switch: bool = False  # wire.command.Command.switch


@dataclass(frozen=True, slots=True)
class Until:
    """A step waits until this node's agent reports this VRRP state for this group."""

    node_id: str
    group: str
    state: str = "MASTER"


@dataclass(frozen=True, slots=True)
class Step:
    targets: tuple[Target, ...]
    until: Until | None = None


@dataclass(frozen=True, slots=True)
class MovePlan:
    stack: str
    index: int  # the raft index the seqs are made of
    steps: tuple[Step, ...]
    timeout: float = 5.0  # per step, seconds


@dataclass(frozen=True, slots=True)
class StepResult:
    done: bool
    elapsed: float
    replies: Mapping[str, dict[str, Any]] = field(default_factory=dict)  # node_id -> reply body
    errors: Mapping[str, str] = field(default_factory=dict)  # node_id -> why it did not apply


@dataclass(frozen=True, slots=True)
class MoveResult:
    ok: bool
    steps: tuple[StepResult, ...]
    error: str | None = None


def plan_to_json(plan: MovePlan) -> str:
    return json.dumps(
        {
            "stack": plan.stack,
            "index": plan.index,
            "timeout": plan.timeout,
            "steps": [
                {
                    "targets": [
                        {
                            "node_id": t.node_id,
                            "address": t.address,
                            "port": t.port,
                            "spec": t.spec,
                            "priorities": dict(t.priorities),
                            "release": dict(t.release),
                        }
                        | ({"hold": dict(t.hold)} if t.hold else {})
                        | ({"switch": True} if t.switch else {})
                        for t in step.targets
                    ],
                    "until": None
                    if step.until is None
                    else {
                        "node_id": step.until.node_id,
                        "group": step.until.group,
                        "state": step.until.state,
                    },
                }
                for step in plan.steps
            ],
        },
        sort_keys=True,
    )


def plan_from_json(text: str) -> MovePlan:
    """Parse a plan; CommandError for anything malformed."""
    try:
        doc = json.loads(text)
        steps = []
        for raw in doc["steps"]:
            until = raw.get("until")
            steps.append(
                Step(
                    targets=tuple(
                        Target(
                            node_id=str(t["node_id"]),
                            address=str(t["address"]),
                            port=int(t["port"]),
                            spec=str(t["spec"]),
                            priorities=parse_priorities(t["priorities"]),
                            release=parse_release(t.get("release")),
                            hold=parse_release(t.get("hold"), "hold"),
                            switch=t.get("switch") is True,
                        )
                        for t in raw["targets"]
                    ),
                    until=None
                    if until is None
                    else Until(str(until["node_id"]), str(until["group"]), str(until["state"])),
                )
            )
        return MovePlan(
            stack=str(doc["stack"]),
            index=int(doc["index"]),
            steps=tuple(steps),
            timeout=float(doc.get("timeout", 5.0)),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise CommandError(f"bad move plan: {exc}") from None


def result_to_json(result: MoveResult) -> str:
    return json.dumps(
        {
            "ok": result.ok,
            "error": result.error,
            "steps": [
                {
                    "done": s.done,
                    "elapsed": round(s.elapsed, 4),
                    "replies": dict(s.replies),
                    "errors": dict(s.errors),
                }
                for s in result.steps
            ],
        },
        sort_keys=True,
    )


def result_from_json(text: str) -> MoveResult:
    try:
        doc = json.loads(text)
        return MoveResult(
            ok=bool(doc["ok"]),
            error=doc.get("error"),
            steps=tuple(
                StepResult(
                    done=bool(s["done"]),
                    elapsed=float(s["elapsed"]),
                    replies=dict(s.get("replies", {})),
                    errors=dict(s.get("errors", {})),
                )
                for s in doc["steps"]
            ),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise CommandError(f"bad relay result: {exc}") from None
