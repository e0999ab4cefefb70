"""cluster.sdk: docker loads without paramiko only when no ssh:// engine can be in play."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from swarmvip.cluster.sdk import ssh_possible


def test_ssh_is_possible_from_argv_host_context_or_a_contexts_dir(tmp_path: Path) -> None:
    home = {"HOME": str(tmp_path)}
    assert not ssh_possible(["swarmvip", "drain", "node2"], home)
    assert ssh_possible(["swarmvip", "-H", "ssh://root@m", "status"], home)
    assert ssh_possible(["swarmvip"], {**home, "DOCKER_HOST": "ssh://m"})
    assert not ssh_possible(["swarmvip"], {**home, "DOCKER_HOST": "unix:///run/d.sock"})
    assert ssh_possible(["swarmvip"], {**home, "DOCKER_CONTEXT": "prod"})
    (tmp_path / ".docker" / "contexts").mkdir(parents=True)
    assert ssh_possible(["swarmvip"], home)  # a context may be ssh: load it
    assert ssh_possible(
        ["swarmvip"], {"HOME": "/nonexistent", "DOCKER_CONFIG": str(tmp_path / ".docker")}
    )


def _loaded(tmp_path: Path, *argv: str) -> str:
    code = "import sys, swarmvip.cluster; print('paramiko' in sys.modules)"
    env = {"HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [sys.executable, "-c", code, *argv], capture_output=True, text=True, env=env, check=True
    )
    return done.stdout.strip()


def test_paramiko_is_loaded_only_when_ssh_is_possible(tmp_path: Path) -> None:
    assert _loaded(tmp_path, "drain", "node2") == "False"
    assert _loaded(tmp_path, "-H", "ssh://m", "status") == "True"
