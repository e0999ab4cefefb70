"""End to end: a group with `track_interfaces` leaves a node whose tracked interface goes down.

Each lab node gets its own interface `svtrk0` (a dummy, or a veth pair where the kernel has no
dummy driver); one VIP group tracks it (no weight: down = FAULT). Setting it down on the holder
must move the VIP to another node; the interfaces are removed whatever happens.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from swarmvip_lab import Lab

from .vip import holders, owned_objects, swarmvip, wait_for

pytestmark = pytest.mark.lab
STACK = "knobs"
VIP = "10.213.0.160"
TRACKED = "svtrk0"
PEER = "svtrkp0"  # the veth fallback's other end

STACK_FILE = f"""\
version: "3.8"

x-swarmvip:
  vips:
    web:
      addresses: [{VIP}/24]
      track_interfaces: [{TRACKED}]
      garp: {{delay: 2s, repeat: 2, refresh: 30s}}
"""


def _add_tracked(lab: Lab, node: str) -> None:
    lab.exec(node, "ip", "link", "del", TRACKED, check=False)
    made = lab.exec(node, "ip", "link", "add", TRACKED, "type", "dummy", check=False)
    if made.returncode != 0:  # no dummy driver in this kernel: a veth pair, both ends up
        lab.exec(node, "ip", "link", "add", TRACKED, "type", "veth", "peer", "name", PEER)
        lab.exec(node, "ip", "link", "set", PEER, "up")
    lab.exec(node, "ip", "link", "set", TRACKED, "up")


@pytest.fixture
def tracked_interfaces(lab: Lab) -> Iterator[None]:
    def remove() -> None:
        for node in lab.nodes:
            lab.exec(node, "ip", "link", "del", TRACKED, check=False)  # a veth takes its peer

    try:
        for node in lab.nodes:
            _add_tracked(lab, node.hostname)
        yield
    finally:
        remove()


@pytest.fixture
def deployed(lab: Lab, tracked_interfaces: None, tmp_path: Path) -> Iterator[str]:
    file = tmp_path / f"{STACK}.yml"
    file.write_text(STACK_FILE)
    result = swarmvip(lab, "deploy", "--vip-only", str(file))
    try:
        assert result.returncode == 0, result.stdout + result.stderr
        yield result.stdout
    finally:
        removed = swarmvip(lab, "rm", STACK)
        assert removed.returncode == 0, removed.stdout + removed.stderr
        wait_for("every object of the stack gone", lambda: not owned_objects(lab, STACK), 60)


def test_a_tracked_interface_going_down_moves_the_vip(lab: Lab, deployed: str) -> None:
    first = wait_for("one holder", lambda: (h := holders(lab, VIP)) and len(h) == 1 and h, 60)
    assert isinstance(first, list)
    [holder] = first
    lab.exec(holder, "ip", "link", "set", TRACKED, "down")
    moved = wait_for(
        "the VIP on another node",
        lambda: (h := holders(lab, VIP)) and len(h) == 1 and h[0] != holder and h,
        30,
    )
    assert isinstance(moved, list) and holder not in moved
    assert holder not in holders(lab, VIP)  # the FAULT node holds nothing
