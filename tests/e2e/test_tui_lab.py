"""End to end: the real TUI in a real terminal (tmux) against the lab: drain from the keyboard,
the VIP moves, and the screen shows the new holder."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from swarmvip_lab import Lab

from .vip import EXAMPLE_VIPS, ROOT, docker, holders, planned_order, swarmvip, wait_for

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
        top, other = planned_order(lab, FILE, env=EXAMPLE_VIPS)["dns"]  # node1 and node2
        wait_for(f"{top} holds", lambda: holders(lab, VIP) == [top], 30)
        command = (
            f"DOCKER_HOST={lab.manager_host} TZ=UTC {sys.executable} -m swarmvip tui "
            "--stack edge-dns; sleep 30"
        )
        tmux("new-session", "-d", "-x", "140", "-y", "40", "-s", "tui", command)
        wait_for(
            f"the TUI shows {top} holding",
            lambda: tmux.holder("edge-dns/dns") == top,
            30,
        )
        for _ in range(sorted(n.hostname for n in lab.nodes).index(top)):
            tmux("send-keys", "-t", "tui", "Down")  # the node table lists nodes by hostname
        tmux("send-keys", "-t", "tui", "d")
        wait_for(
            "the confirmation naming the successor",
            lambda: f"{other} will take over" in tmux.screen(),
            15,
        )
        tmux("send-keys", "-t", "tui", "y")
        wait_for(
            "the drain outcome",
            lambda: "OK: " in (sc := tmux.screen()) and f"{top} → {other}" in sc,
            120,
        )
        assert holders(lab, VIP) == [other]
        tmux("send-keys", "-t", "tui", "Escape")
        wait_for(
            f"the VIP panel shows {other}",
            lambda: tmux.holder("edge-dns/dns") == other,
            15,
        )
    finally:
        subprocess.run(
            ["tmux", "-L", tmux.socket, "kill-server"], capture_output=True, check=False, timeout=10
        )
        for node in ("node1", "node2"):  # the drained holder is the planner's choice
            swarmvip(lab, "undrain", node)
        swarmvip(lab, "rm", "edge-dns")
        for node in ("node1", "node2"):
            docker(lab, "node", "update", "--label-rm", "edge", node, check=False)
