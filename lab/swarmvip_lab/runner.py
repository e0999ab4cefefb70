"""Run the real CLIs against a lab's manager: what e2e tests and benchmarks both do.

`docker(lab, …)` is the docker CLI with `-H` the lab manager (never $DOCKER_HOST);
`swarmvip(lab, …)` runs this checkout's `python -m swarmvip` with DOCKER_HOST set to it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from swarmvip_lab.lab import Lab

ROOT = Path(__file__).resolve().parents[2]  # the checkout: lab/swarmvip_lab/runner.py


class CommandFailed(AssertionError):
    """A docker command the caller needed failed (an assertion failure in a test)."""


def docker(lab: Lab, *argv: str, timeout: float = 120, check: bool = True) -> str:
    """The docker CLI against the lab's manager; its stdout."""
    done = subprocess.run(
        ["docker", "-H", lab.manager_host, *argv],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if check and done.returncode != 0:
        raise CommandFailed(f"docker {' '.join(argv)}: {done.stderr.strip()}")
    return done.stdout


def swarmvip(
    lab: Lab, *argv: str, timeout: float = 300, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`swarmvip ARGV` from this checkout against the lab's manager (exit code not checked);
    `env`: variables added to this process's environment (e.g. for ${VAR} in stack files)."""
    return subprocess.run(
        [sys.executable, "-m", "swarmvip", *argv],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {}), "DOCKER_HOST": lab.manager_host},
        cwd=ROOT,
        timeout=timeout,
        check=False,
    )
