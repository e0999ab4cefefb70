"""End to end: the real TUI in a real terminal (tmux) against the lab: drain from the keyboard,
the VIP moves, and the screen shows the new holder."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from swarmvip_lab import Lab

from .vip import EXAMPLE_VIPS, ROOT, docker, holders, swarmvip, wait_for

pytestmark = pytest.mark.lab
VIP = "10.213.0.100"
FILE = str(ROOT / "stacks" / "edge-dns.yml")


class Tmux:
    def __init__(self) -> None:
        self.socket = f"swarmvip-tui-e2e-{os.getpid()}"

    def __call__(self, *args: str) -> str:
        return subprocess.run(
            ["tmux", "-L", self.socket, *args],
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout

    def screen(self) -> str:
        return self("capture-pane", "-p", "-t", "tui")

    def holder(self, vip: str) -> str:
        """The HOLDER column of the VIP panel's row for `vip` (VIP, ADDRESSES, VRID, HOLDER)."""
        for line in self.screen().splitlines():
            words = line.split()
            if vip in words and len(words) > words.index(vip) + 3:
                return words[words.index(vip) + 3]
        return ""


def test_drain_from_the_tui_moves_the_vip_and_shows_the_new_holder(lab: Lab) -> None:
    for node in ("node1", "node2"):
        docker(lab, "node", "update", "--label-add", "edge=true", node)
    tmux = Tmux()
    try:
        result = swarmvip(lab, "deploy", "--vip-only", FILE, env=EXAMPLE_VIPS)
        assert result.returncode == 0, result.stderr
        wait_for("node1 holds", lambda: holders(lab, VIP) == ["node1"], 30)
        command = (
            f"DOCKER_HOST={lab.manager_host} TZ=UTC {sys.executable} -m swarmvip tui "
            "--stack edge-dns; sleep 30"
        )
        tmux("new-session", "-d", "-x", "140", "-y", "40", "-s", "tui", command)
        wait_for(
            "the TUI shows node1 holding",
            lambda: tmux.holder("edge-dns/dns") == "node1",
            30,
        )
        tmux("send-keys", "-t", "tui", "d")
        wait_for(
            "the confirmation naming the successor",
            lambda: "node2 will take over" in tmux.screen(),
            15,
        )
        tmux("send-keys", "-t", "tui", "y")
        wait_for(
            "the drain outcome",
            lambda: "OK: " in (sc := tmux.screen()) and "node1 → node2" in sc,
            120,
        )
        assert holders(lab, VIP) == ["node2"]
        tmux("send-keys", "-t", "tui", "Escape")
        wait_for(
            "the VIP panel shows node2",
            lambda: tmux.holder("edge-dns/dns") == "node2",
            15,
        )
    finally:
        subprocess.run(
            ["tmux", "-L", tmux.socket, "kill-server"], capture_output=True, check=False, timeout=10
        )
        swarmvip(lab, "undrain", "node1")
        swarmvip(lab, "rm", "edge-dns")
        for node in ("node1", "node2"):
            docker(lab, "node", "update", "--label-rm", "edge", node, check=False)
