"""The keepalived tasks keep the operator's log driver; deploy warns when `docker service logs`
cannot read it (the agents' reports travel through service logs)."""

from __future__ import annotations

import argparse

import pytest

from swarmvip.cluster.service_spec import service_spec
from swarmvip.commands import stack as stack_command
from swarmvip.ops.deploy import READABLE_LOG_DRIVERS, log_driver_warning
from swarmvip.plan.desired import DesiredService
from swarmvip.wire.keys import HASH_LABEL
from tests.contract.fake import FakeCluster

from .builders import THREE, spec


@pytest.mark.parametrize("driver", [*READABLE_LOG_DRIVERS, ""])
def test_drivers_service_logs_reads_need_no_warning(driver: str) -> None:
    assert log_driver_warning(driver) is None


@pytest.mark.parametrize("driver", ["syslog", "fluentd", "gelf", "awslogs", "loki"])
def test_other_drivers_are_named_with_the_dual_logging_caveat_and_the_fix(driver: str) -> None:
    text = log_driver_warning(driver)
    assert text is not None and f"log driver is {driver}" in text
    assert "dual-logging cache" in text and "local, json-file or journald" in text


def test_no_driver_at_all_means_every_node_unknown() -> None:
    text = log_driver_warning("none")
    assert text is not None and "unknown" in text and "daemon.json" in text


def test_the_service_spec_sets_no_log_driver_so_the_daemon_default_is_kept() -> None:
    service = DesiredService(
        "s_vip-n-1", "id1", "n", "img", (), (), 10.0, ((HASH_LABEL, "x"),), 100
    )
    template = service_spec(service, {}, {})["task_template"]
    assert "LogDriver" not in template  # was json-file with max-size 10m, forced


def _prepare(driver: str, capsys: pytest.CaptureFixture[str]) -> str:
    cluster = FakeCluster(THREE)
    cluster.log_driver = driver
    stack_spec = spec("web:\n  addresses: [10.213.0.100/24]\n")
    stack_command._prepare_on(argparse.Namespace(), stack_spec, "s", cluster)
    return capsys.readouterr().err


def test_deploy_warns_about_a_driver_service_logs_cannot_read(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert "log driver is syslog" in _prepare("syslog", capsys)
    assert "log driver" not in _prepare("journald", capsys)
