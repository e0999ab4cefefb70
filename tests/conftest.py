"""Session-wide test plumbing: a per-phase (per test folder) timing summary at the end."""

from __future__ import annotations

import os
import time
from collections import defaultdict

import pytest

_PHASE_SECONDS: dict[str, float] = defaultdict(float)
_PHASE_COUNT: dict[str, int] = defaultdict(int)


def _phase(nodeid: str) -> str:
    parts = nodeid.split("/")
    return parts[1] if len(parts) > 2 and parts[0] == "tests" else parts[0]


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> object:
    started = time.monotonic()
    yield
    _PHASE_SECONDS[_phase(item.nodeid)] += time.monotonic() - started
    _PHASE_COUNT[_phase(item.nodeid)] += 1


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not _PHASE_SECONDS:
        return
    terminalreporter.section("time per test phase")
    for phase, seconds in sorted(_PHASE_SECONDS.items()):
        terminalreporter.write_line(f"{phase:<10} {_PHASE_COUNT[phase]:>4} tests {seconds:8.1f}s")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> object:
    """With SWARMVIP_NO_SKIP=1 (make test sets it) a skipped test fails: it proved nothing."""
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    if report.skipped and os.environ.get("SWARMVIP_NO_SKIP") == "1":
        report.outcome = "failed"
        report.longrepr = f"skipped, which make test counts as a failure: {report.longrepr}"
