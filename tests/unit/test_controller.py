"""Controller pieces that need no engine: its report line, event filter, status of it."""

from __future__ import annotations

import json

from swarmvip.cluster.events import relevant
from swarmvip.controller import ControllerState
from swarmvip.status.fold import controller_status


def test_report_line_is_one_json_object_with_the_marker() -> None:
    state = ControllerState("mgr-1", leader=True, last_reconcile=99.0, pending=0)
    doc = json.loads(state.line(100.0))
    assert doc["swarmvip_controller"] == 1 and doc["identity"] == "mgr-1" and doc["leader"]


def test_node_and_service_changes_wake_the_controller() -> None:
    assert relevant({"Type": "node", "Action": "update"})
    assert relevant({"Type": "service", "Action": "remove"})
    assert not relevant({"Type": "container", "Action": "start"})
    assert not relevant({"Type": "node", "Action": "exec_start"})


def test_controller_health_from_its_reports() -> None:
    line = json.loads(ControllerState("m", leader=True, last_reconcile=90.0).line(100.0))
    assert controller_status(line, 101.0).healthy  # type: ignore[union-attr]
    stale = controller_status(line, 200.0)
    assert stale is not None and not stale.healthy
    failing = dict(line, last_error="s: bad label")
    assert not controller_status(failing, 101.0).healthy  # type: ignore[union-attr]
    assert controller_status(None, 1.0) is None
