"""A log stream the engine ends with its own error ("Error grabbing logs: … node X is not
available", seen for a worker after a partition from the manager in the fault campaign)
did not answer for that node: one-shot status counts it silent (a stale-report alarm that
says what to do), not a node that simply has not reported yet (no-report)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from swarmvip.cluster.observe import ENGINE_LOG_ERROR, read_reports

REPORT = {
    "swarmvip_report": 1, "kind": "heartbeat", "ts": 1.0, "seq": 1, "interval": 10.0,
    "version": "0.1.0", "stack": "web", "node": "node1", "node_id": "id1", "interface": "eth0",
    "keepalived": "running", "instances": [], "reason": None, "spec": "x",
}  # fmt: skip
UNREADABLE = (
    f"{ENGINE_LOG_ERROR} rpc error: code = Unknown desc = warning: incomplete log stream. some "
    "logs could not be retrieved for the following reasons: node id2 is not available\n"
)


class Api:
    """service_logs as docker-py yields it: the frames' bytes, the engine's error included."""

    def __init__(self, streams: dict[str, list[str]]) -> None:
        self.streams = streams

    def service_logs(self, service_id: str, **_: Any) -> Iterator[bytes]:
        return iter([line.encode() for line in self.streams[service_id]])


def test_a_stream_the_engine_could_not_read_is_silent_the_others_answer() -> None:
    api = Api({"sid1": [json.dumps(REPORT) + "\n"], "sid2": [UNREADABLE]})
    received, silent = read_reports(api, ["sid1", "sid2"], budget=1.0)  # type: ignore[arg-type]
    assert silent == {"sid2"}
    assert [r.report.node for r in received] == ["node1"]


def test_an_empty_stream_that_ends_normally_answered() -> None:
    received, silent = read_reports(Api({"sid1": []}), ["sid1"], budget=1.0)  # type: ignore[arg-type]
    assert (received, silent) == ([], set())


def test_an_old_tasks_error_beside_fresh_reports_is_no_reason_to_distrust_them() -> None:
    """After a node was down, the engine also writes its error for the old task's logs; the
    new task's reports in the same stream answer for the node (tests/e2e/test_hardening.py)."""
    api = Api({"sid1": [UNREADABLE, json.dumps(REPORT) + "\n"]})
    received, silent = read_reports(api, ["sid1"], budget=1.0)  # type: ignore[arg-type]
    assert silent == set() and [r.report.node for r in received] == ["node1"]
