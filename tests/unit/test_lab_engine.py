"""The docker CLI wrapper, against a fake `docker` binary: errors, timeouts, labels."""

from __future__ import annotations

from pathlib import Path

import pytest
from swarmvip_lab.engine import DockerError, Engine

from swarmvip.errors import UnavailableError

FAKE = """#!/bin/sh
case "$*" in
  *sleep*) sleep 5 ;;
  *"image inspect"*missing*) echo "Error: No such image" >&2; exit 1 ;;
  *"image inspect"*) echo "abc123" ;;
  *fail*) echo "boom: it broke" >&2; exit 3 ;;
  *) echo "args: $*" ;;
esac
"""


@pytest.fixture
def fake(tmp_path: Path) -> Engine:
    binary = tmp_path / "docker"
    binary.write_text(FAKE)
    binary.chmod(0o755)
    return Engine(host="unix:///tmp/x.sock", binary=str(binary))


def test_host_is_passed_with_dash_h(fake: Engine) -> None:
    assert fake.out("ps") == "args: -H unix:///tmp/x.sock ps"


def test_failure_carries_command_and_stderr(fake: Engine) -> None:
    with pytest.raises(DockerError, match=r"fail.*failed \(3\): boom: it broke") as info:
        fake.run("fail")
    assert info.value.returncode == 3
    assert not fake.ok("fail")


def test_timeout_is_an_error(fake: Engine) -> None:
    with pytest.raises(DockerError, match=r"timed out after 0\.2s"):
        fake.run("sleep", timeout=0.2)


def test_image_label(fake: Engine) -> None:
    assert fake.image_label("img", "swarmvip.recipe") == "abc123"
    assert fake.image_label("missing", "swarmvip.recipe") is None


def test_missing_cli_is_unavailable() -> None:
    with pytest.raises(UnavailableError):
        Engine(binary="/nonexistent/docker").run("ps")
