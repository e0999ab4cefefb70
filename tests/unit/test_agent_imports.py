"""The agent image ships only swarmvip + pyroute2: the agent must run without the rest."""

from __future__ import annotations

import subprocess
import sys

BLOCK = "import sys\nfor m in ('yaml', 'jinja2', 'docker', 'textual'): sys.modules[m] = None\n"


def _run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", BLOCK + code], capture_output=True, text=True, timeout=30
    )


def test_agent_help_without_heavy_dependencies() -> None:
    done = _run("from swarmvip.cli import main\nraise SystemExit(main(['agent', '--help']))")
    assert done.returncode == 0, done.stderr
    assert "--run-dir" in done.stdout


def test_agent_modules_import_only_stdlib_and_pyroute2() -> None:
    code = (
        "import swarmvip.agent.run, swarmvip.agent.cli\n"
        "bad = [m for m in ('yaml', 'jinja2', 'docker', 'textual') if sys.modules.get(m)]\n"
        "assert not bad, bad\n"
    )
    done = _run(code)
    assert done.returncode == 0, done.stderr


def test_only_netlink_imports_pyroute2() -> None:
    code = (
        "import swarmvip.agent.state, swarmvip.wire.report, swarmvip.agent.checks\n"
        "import swarmvip.agent.keepalived, swarmvip.agent.hooks, swarmvip.agent.cli\n"
        "assert 'pyroute2' not in sys.modules\n"
    )
    done = _run(code)
    assert done.returncode == 0, done.stderr
