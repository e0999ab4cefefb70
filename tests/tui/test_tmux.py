"""Smoke test in a real terminal: the app starts in tmux, shows the holder and help, quits on q."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

SCRIPT = Path(__file__).with_name("run_fake.py")

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")


class Tmux:
    """A private tmux server (its own socket), so nothing else's sessions are touched."""

    def __init__(self) -> None:
        self.socket = f"swarmvip-tui-test-{os.getpid()}"

    def __call__(self, *args: str) -> str:
        out = subprocess.run(
            ["tmux", "-L", self.socket, *args],
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        )
        return out.stdout

    def screen(self) -> str:
        return self("capture-pane", "-p", "-t", "tui")

    def kill(self) -> None:
        subprocess.run(
            ["tmux", "-L", self.socket, "kill-server"], capture_output=True, check=False, timeout=10
        )


def _wait(check: Callable[[], bool], what: str, limit: float = 20.0) -> None:
    deadline = time.monotonic() + limit
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def test_tui_in_tmux(tmp_path: Path) -> None:
    rc_file = tmp_path / "rc"
    command = f"TZ=UTC {sys.executable} {SCRIPT}; echo $? > {rc_file}; sleep 60"
    tmux = Tmux()
    try:
        tmux("new-session", "-d", "-x", "120", "-y", "36", "-s", "tui", command)
        wanted = ("HOLDER", "lab/web", "node1", "first holder", "q quit")
        _wait(lambda: all(w in tmux.screen() for w in wanted), f"the VIP panel: {wanted}")
        tmux("send-keys", "-t", "tui", "?")
        _wait(lambda: "this help" in tmux.screen(), "the help screen")
        tmux("send-keys", "-t", "tui", "q")
        _wait(rc_file.exists, "the app to exit")
        _wait(lambda: rc_file.read_text().strip() != "", "the exit code")
        assert rc_file.read_text().strip() == "0"
    finally:
        tmux.kill()
