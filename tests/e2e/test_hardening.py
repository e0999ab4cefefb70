"""End to end: the audit's findings tried again on the real lab, as a user would.

- drain/undrain work on every example in stacks/ (one with an auth secret from a file used to
  fail: drain removed the secret its services still mounted), and so does a controller pass
  (`controller --once`) after a member leaves;
- a member whose node is down never blocks a deploy: the others converge, exit 0;
- a paused node never makes the others' reports stale: status answers fast, one holder.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest
from swarmvip_lab import Lab

from .test_examples import serve, stop
from .vip import EXAMPLE_VIPS, ROOT, docker, holders, owned_objects, swarmvip, wait_for

pytestmark = pytest.mark.lab
NODES = ("node1", "node2", "node3")

# example -> (node label that places it, VIP, ports a check needs a listener on)
EXAMPLES = {
    "edge-dns": ("edge", "10.213.0.100", ()),
    "lab-web": ("web", "10.213.0.100", (8080,)),
    "proxy-http": ("proxy", "10.213.0.110", (8080,)),
    "database-tcp": ("db", "10.213.0.120", (5432,)),
    "sticky-notify": ("", "10.213.0.130", ()),
}


def _label(lab: Lab, key: str, nodes: tuple[str, ...]) -> None:
    if not key:
        return
    for node in NODES:
        if node in nodes:
            docker(lab, "node", "update", "--label-add", f"{key}=true", node)
        else:
            docker(lab, "node", "update", "--label-rm", key, node, check=False)


def _one_holder(lab: Lab, vip: str) -> str | None:
    found = holders(lab, vip)
    return found[0] if len(found) == 1 else None


def _status(lab: Lab, stack: str, alarmed: bool = False) -> dict:  # type: ignore[type-arg]
    """status --json; exit 1 (a critical alarm) is expected when `alarmed`."""
    result = swarmvip(lab, "status", "--json", "--stack", stack, timeout=60)
    assert result.returncode == (1 if alarmed else 0), result.stdout + result.stderr
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def test_every_example_is_in_the_drain_test() -> None:
    examples = {p.stem for p in (ROOT / "stacks").glob("*.yml")} - {"controller"}
    assert examples == set(EXAMPLES)


@pytest.mark.parametrize("example", sorted(EXAMPLES))
def test_drain_and_undrain_work_on_every_example(lab: Lab, example: str) -> None:
    key, vip, ports = EXAMPLES[example]
    _label(lab, key, NODES)
    holder = ""
    try:
        for node in NODES:
            for port in ports:
                serve(lab, node, port)
        file = str(ROOT / "stacks" / f"{example}.yml")
        result = swarmvip(lab, "deploy", "--vip-only", file, env=EXAMPLE_VIPS)
        assert result.returncode == 0, result.stdout + result.stderr
        holder = str(wait_for(f"{example}: one holder", lambda: _one_holder(lab, vip), 60))

        drained = swarmvip(lab, "drain", holder, timeout=180)
        assert drained.returncode == 0, drained.stdout + drained.stderr
        after = str(wait_for("one other holder", lambda: _one_holder(lab, vip), 30))
        assert after != holder

        back = swarmvip(lab, "undrain", holder, timeout=180)
        assert back.returncode == 0, back.stdout + back.stderr
        assert wait_for("still exactly one holder", lambda: _one_holder(lab, vip), 60)
        assert "vrrp_pass" not in drained.stderr + back.stderr

        # the controller's pass on this example: a member leaves the group (its label goes),
        # one `controller --once` converges the stack to the plan with one holder
        if key:
            leaving = next(n for n in reversed(NODES) if n != _one_holder(lab, vip))
            docker(lab, "node", "update", "--label-rm", key, leaving)
        once = swarmvip(lab, "controller", "--once", timeout=240)
        assert once.returncode == 0, once.stdout + once.stderr
        plan = swarmvip(lab, "plan", "--json", file, env=EXAMPLE_VIPS)
        assert plan.returncode == 0 and json.loads(plan.stdout)["actions"] == [], (
            plan.stdout + once.stdout + once.stderr
        )
        assert wait_for("one holder after the controller", lambda: _one_holder(lab, vip), 60)
    finally:
        if holder:  # whichever node held (the planner's choice), never a fixed one
            swarmvip(lab, "undrain", holder, timeout=120)
        swarmvip(lab, "rm", example)
        for node in NODES:
            for port in ports:
                stop(lab, node, port)
        _label(lab, key, ())
    wait_for(f"{example} removed", lambda: owned_objects(lab, example) == [], 60)


@pytest.fixture
def down_stack(lab: Lab) -> Iterator[str]:
    yield "down-web"
    swarmvip(lab, "rm", "down-web")
    _label(lab, "vip", ())
    wait_for("down-web removed", lambda: owned_objects(lab, "down-web") == [], 60)


def _node_state(lab: Lab, node: str) -> str:
    return docker(lab, "node", "inspect", node, "--format", "{{.Status.State}}").strip()


def test_a_down_member_never_blocks_a_deploy(lab: Lab, down_stack: str) -> None:
    """Stop a member's node, label a new node into its group: deploy exits 0 within 90 s with
    exactly one holder; the stopped node comes back as a backup."""
    file = str(ROOT / "tests" / "e2e" / "stacks" / "ctl-web.yml")
    vip = "10.213.0.101"
    _label(lab, "vip", ("node2", "node3"))
    first = swarmvip(lab, "deploy", "--vip-only", "--stack", down_stack, file)
    assert first.returncode == 0, first.stdout + first.stderr
    holder = str(wait_for("one holder", lambda: _one_holder(lab, vip), 60))
    backup = "node3" if holder == "node2" else "node2"
    lab.kill(backup)
    try:
        wait_for(f"swarm sees {backup} down", lambda: _node_state(lab, backup) == "down", 60)
        _label(lab, "vip", ("node1", "node2", "node3"))
        started = time.monotonic()
        result = swarmvip(lab, "deploy", "--vip-only", "--stack", down_stack, file, timeout=150)
        took = time.monotonic() - started
        assert result.returncode == 0, result.stdout + result.stderr
        assert took <= 90, f"deploy took {took:.1f}s"
        print(f"\ndeploy with {backup} down: {took:.1f}s")
        assert wait_for("exactly one holder", lambda: _one_holder(lab, vip), 30)
    finally:
        lab.start(backup)
    wait_for(
        f"{backup} back as a backup",
        lambda: (
            {
                n["hostname"]: n["vrrp_state"].get(f"{down_stack}/web")
                for n in _status(lab, down_stack)["nodes"]
            }.get(backup)
            == "BACKUP"
        ),
        120,
    )
    assert len(holders(lab, vip)) == 1


def test_a_paused_node_is_the_only_one_marked_stale(lab: Lab, down_stack: str) -> None:
    file = str(ROOT / "tests" / "e2e" / "stacks" / "ctl-web.yml")
    vip = "10.213.0.101"
    _label(lab, "vip", NODES)
    result = swarmvip(lab, "deploy", "--vip-only", "--stack", down_stack, file)
    assert result.returncode == 0, result.stdout + result.stderr
    holder = str(wait_for("one holder", lambda: _one_holder(lab, vip), 60))
    paused = next(n for n in ("node3", "node2") if n != holder)
    lab.host.run("pause", lab.node(paused).container)
    try:
        time.sleep(8)  # longer than the stale window (3 heartbeats)
        started = time.monotonic()
        doc = _status(lab, down_stack, alarmed=True)  # node3's stale report is critical
        took = time.monotonic() - started
    finally:
        lab.host.run("unpause", lab.node(paused).container)
    print(f"\nstatus with {paused} paused: {took:.2f}s")
    assert took <= 2.0, f"status took {took:.2f}s"
    kinds = {a["kind"] for a in doc["alarms"]}
    assert "no-holder" not in kinds, doc["alarms"]
    assert doc["vips"][0]["holders"] == [holder]
    stale = {
        a["subject"]
        for a in doc["alarms"]
        if a["kind"] in ("stale-report", "no-report", "report-unreadable")
    }
    assert len(stale) == 1 and paused in next(iter(stale)), doc["alarms"]
