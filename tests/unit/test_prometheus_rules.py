"""The example alert rules (deploy/prometheus/): promtool checks them and runs their unit tests;
every swarmvip metric they use is one the controller exports.

promtool comes from Debian's `prometheus` package. Without it the tool tests skip, which
`make test` (SWARMVIP_NO_SKIP=1) counts as a failure.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from swarmvip.present.metrics import NAMES

RULES = Path(__file__).resolve().parents[2] / "deploy" / "prometheus"
needs_promtool = pytest.mark.skipif(
    shutil.which("promtool") is None, reason="promtool not installed (apt-get install prometheus)"
)


def _promtool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["promtool", *args], cwd=RULES, capture_output=True, text=True, timeout=60, check=False
    )


@needs_promtool
def test_promtool_checks_the_rules() -> None:
    result = _promtool("check", "rules", "swarmvip-rules.yml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


@needs_promtool
def test_promtool_runs_the_rules_unit_tests() -> None:
    result = _promtool("test", "rules", "swarmvip-rules.test.yml")
    assert result.returncode == 0, result.stdout + result.stderr


def _rules() -> list[dict[str, object]]:
    doc = yaml.safe_load((RULES / "swarmvip-rules.yml").read_text())
    return [rule for group in doc["groups"] for rule in group["rules"]]


def test_the_rules_use_exported_metrics_only() -> None:
    used = {
        name for rule in _rules() for name in re.findall(r"\bswarmvip_[a-z_]+", str(rule["expr"]))
    }
    assert used and used <= set(NAMES), used - set(NAMES)


def test_the_issue_s_alerts_are_there_and_have_a_severity() -> None:
    rules = {str(r["alert"]): r for r in _rules()}
    for alert in (
        "SwarmvipSplitBrain",
        "SwarmvipNoHolder",
        "SwarmvipUnexpectedHolder",
        "SwarmvipStaleReports",
        "SwarmvipControllerDown",
    ):
        labels = rules[alert]["labels"]
        assert isinstance(labels, dict) and labels["severity"] in ("critical", "warning")
    assert "absent(up{" in str(rules["SwarmvipControllerDown"]["expr"])
