"""Loads the Docker SDK without paramiko when no ssh:// engine can be in play.

docker-py imports its ssh transport (and with it paramiko, which imports invoke, asyncio and
unittest.mock) whenever paramiko is installed: about 0.1 s of every command's start-up, a tenth
of a planned move. swarmvip talks ssh through the `ssh` binary (use_ssh_client), but the
adapter class still lives in that module. So when nothing can name an ssh:// engine (no "ssh"
on the command line, DOCKER_HOST not ssh://, no DOCKER_CONTEXT and no docker contexts at all),
docker is imported with paramiko hidden; otherwise as usual. Conservative by design: any doubt
loads paramiko.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path


def ssh_possible(argv: Sequence[str], environ: Mapping[str, str]) -> bool:
    """Could this process be asked to reach an ssh:// engine?"""
    if any("ssh" in arg for arg in argv):
        return True
    if environ.get("DOCKER_HOST", "").startswith("ssh://") or environ.get("DOCKER_CONTEXT"):
        return True
    config = environ.get("DOCKER_CONFIG") or str(Path(environ.get("HOME", "/")) / ".docker")
    return (Path(config) / "contexts").exists()


def import_docker() -> None:
    """Import docker once, without paramiko unless ssh_possible."""
    if "docker" in sys.modules or "paramiko" in sys.modules:
        return
    if ssh_possible(sys.argv, os.environ):
        import docker

        return
    sys.modules["paramiko"] = None  # type: ignore[assignment]  # import paramiko: ImportError
    try:
        import docker  # noqa: F401
    finally:
        del sys.modules["paramiko"]
