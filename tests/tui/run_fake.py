"""Run the TUI on a fake world in a real terminal (used by the tmux smoke test; handy by hand).

.venv/bin/python tests/tui/run_fake.py
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from swarmvip_tui.app import SwarmvipApp

from tests.tui.fakes import FakeActions, FakeSource, World


def main() -> int:
    world = World(hostnames=("node1", "node2", "node3"), groups=("web",))
    world.tick({"web": ("node1",)})
    app = SwarmvipApp(
        FakeSource(world.tick({"web": ("node1",)})), FakeActions(), label="swarmvip · fake world"
    )
    app.run()
    return int(app.return_code or 0)


if __name__ == "__main__":
    sys.exit(main())
