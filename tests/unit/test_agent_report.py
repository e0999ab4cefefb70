"""The report line: round trip and tolerant parsing of `docker service logs` output."""

from __future__ import annotations

import json

import pytest

from swarmvip.wire.report import InstanceReport, Report, parse_report, to_line

REPORT = Report(
    kind="state",
    ts=1763762400.5,
    seq=3,
    stack="web",
    node="n1",
    node_id="abc",
    interface="eth0",
    keepalived="running",
    instances=(
        InstanceReport(
            group="web",
            vrid=51,
            priority=150,
            vrrp_state="MASTER",
            vips=("10.0.0.100/24",),
            vips_present=("10.0.0.100/24",),
            holds_vip=True,
            checks=(("http", "ok"),),
        ),
    ),
    reason=None,
    interval=2.0,
    version="0.1.0",
)


def test_round_trip() -> None:
    line = to_line(REPORT)
    assert "\n" not in line
    assert json.loads(line)["swarmvip_report"] == 1
    assert parse_report(line) == REPORT


@pytest.mark.parametrize(
    "prefix",
    [
        "",
        "2026-11-21T22:00:00.123456789Z ",
        "svc_web_n1.1.xyz123@node1    | ",
        "2026-11-21T22:00:00.123Z svc_web_n1.1.xyz123@node1    | ",
    ],
)
def test_docker_prefixes(prefix: str) -> None:
    assert parse_report(prefix + to_line(REPORT) + "\r\n") == REPORT


@pytest.mark.parametrize(
    "line",
    [
        "",
        "Sat Nov 21 21:59:16 2026: (web) Entering MASTER STATE",
        '{"other": 1}',
        to_line(REPORT)[:-10],  # truncated
        to_line(REPORT).replace('"swarmvip_report":1', '"swarmvip_report":2'),
        to_line(REPORT).replace('"kind":"state"', '"kind":"bogus"'),
    ],
)
def test_non_reports(line: str) -> None:
    assert parse_report(line) is None


def test_spaced_json_is_accepted() -> None:
    doc = json.loads(to_line(REPORT))
    assert parse_report("x | " + json.dumps(doc)) == REPORT
