"""The client switch of a planned move, for real (agent.arphold, agent.handoff).

Two agents with keepalived (advert 1 s) and an HTTP server each, in namespaces on one bridge,
and a client in a third that opens a connection every 10 ms (200 ms timeout, no retry), as in
bench/planned_moves. A move lifts the new holder with `hold` and releases from the old one with
`switch`: the new holder's own announcements are held back, the old one switches the clients at
its quiet instant. At most one request may fail in four moves (the rate is the benchmark's),
and the clients switch once per move. The second test
is the relay dying between lift and release: the lifted node preempts by itself and must
announce itself at once (no hold past a takeover without a release).
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from bench.switch_experiment import CLIENT_CODE, SERVER
from swarmvip.model import NodePlan
from swarmvip.wire.command import PORT
from swarmvip.wire.relay import MovePlan, Step, Target, Until, result_from_json
from swarmvip.wire.report import Report
from tests.agent import agentlab as lab
from tests.agent.conftest import needs_root

pytestmark = [pytest.mark.netns, needs_root]
NET = "10.79.0"
VIP = f"{NET}.100"
KEY = b"s" * 32
ADDR = {"a": f"{NET}.1", "b": f"{NET}.2"}
IDS = {"a": "id-a", "b": "id-b"}
CLIENT = f"{NET}.50"


@pytest.fixture
def bridged(make_ns: Callable[[str], str]) -> dict[str, str]:
    """Namespaces a, b (the nodes) and c (a client) on one bridge, eth0 in each."""
    sw = make_ns("sw")
    lab.sh("ip", "-n", sw, "link", "add", "br0", "type", "bridge")
    lab.sh("ip", "-n", sw, "link", "set", "br0", "up")
    found = {}
    for name, addr in (*ADDR.items(), ("c", CLIENT)):
        ns = make_ns(name)
        lab.veth(sw, f"p{name}", ns, "eth0")
        lab.sh("ip", "-n", sw, "link", "set", f"p{name}", "master", "br0")
        lab.sh("ip", "-n", ns, "addr", "add", f"{addr}/24", "dev", "eth0")
        found[name] = ns
    return found


@pytest.fixture
def helpers() -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for proc in started:
        proc.kill()
        proc.wait(5)


def _plan(name: str, priority: int) -> NodePlan:
    other = "b" if name == "a" else "a"
    inst = lab.instance(ADDR[name], (ADDR[other],), priority, vip=f"{VIP}/24", advert=1.0)
    return NodePlan(IDS[name], f"node-{name}", None, ADDR[name], (inst,))


def _start(ns: str, workdir: Path, plan: NodePlan) -> lab.AgentProc:
    secrets = workdir / "secrets"
    secrets.mkdir(parents=True, exist_ok=True)
    (secrets / "swarmvip_control_key").write_bytes(KEY + b"\n")
    return lab.start_agent(ns, workdir, plan, env={"SWARMVIP_SPEC": "spec1"})


def _holder(r: Report) -> bool:
    return r.instances[0].vrrp_state == "MASTER" and r.instances[0].holds_vip


def _ready(r: Report) -> bool:
    return r.instances[0].vrrp_state == "BACKUP" and r.control is not None and r.control.switch


def _target(name: str, priority: int | None = None, **kw: object) -> Target:
    prio = {} if priority is None else {"web": priority}
    return dataclasses.replace(Target(IDS[name], ADDR[name], PORT, "spec1", prio), **kw)  # type: ignore[arg-type]


def _send(ns: str, tmp: Path, index: int, *steps: Step) -> None:
    proc = lab.send_plan(ns, KEY, MovePlan("t", index, steps, timeout=10), tmp)
    result = result_from_json(proc.stdout)
    assert proc.returncode == 0 and result.ok, proc.stdout + proc.stderr


def _requests(path: Path, since: float) -> list[tuple[float, str | None]]:
    """(sent at, the host that answered or None) of the client's requests since `since`."""
    if not path.exists():
        return []
    rows = [json.loads(x) for x in path.read_text().splitlines() if x.strip()]
    return [(r["t"], r.get("host") if r["ok"] else None) for r in rows if r["t"] >= since]


def _around(rows: list[tuple[float, str | None]], t: float) -> str:
    """A failed request with the answers just before and after it, for the failure message."""
    before = [(u, w) for u, w in rows if u < t and w][-1:]
    after = [(u, w) for u, w in rows if u > t and w][:1]
    return f"{before} < failed at {t:.4f} < {after}"


def _setup(
    bridged: dict[str, str], tmp_path: Path, agents: list[lab.AgentProc],
    helpers: list[subprocess.Popen[bytes]],
) -> tuple[lab.AgentProc, lab.AgentProc, Path]:  # fmt: skip
    a = _start(bridged["a"], tmp_path / "a", _plan("a", 150))
    b = _start(bridged["b"], tmp_path / "b", _plan("b", 100))
    agents += [a, b]
    a.wait_for(_holder, timeout=15)
    b.wait_for(_ready, timeout=15)
    for name in ("a", "b"):
        helpers.append(
            subprocess.Popen(
                ["ip", "netns", "exec", bridged[name], sys.executable, "-c", SERVER, name]
            )
        )
    probe = tmp_path / "probe.jsonl"
    helpers.append(
        subprocess.Popen(
            [
                "ip",
                "netns",
                "exec",
                bridged["c"],
                sys.executable,
                "-c",
                CLIENT_CODE,
                str(probe),
                VIP,
            ]
        )
    )
    deadline = time.time() + 10
    while time.time() < deadline and not any(r[1] == "a" for r in _requests(probe, 0)):
        time.sleep(0.05)
    return a, b, probe


def test_planned_moves_switch_the_clients_between_two_connections(
    bridged: dict[str, str], tmp_path: Path, agents: list[lab.AgentProc],
    helpers: list[subprocess.Popen[bytes]],
) -> None:  # fmt: skip
    _setup(bridged, tmp_path, agents, helpers)
    probe = tmp_path / "probe.jsonl"
    since = time.time()
    holder, index = "a", 10
    moves = 4
    for _ in range(moves):
        new = "b" if holder == "a" else "a"
        lift = _target(new, 254, hold={"web": ADDR[holder]})
        _send(bridged["a"], tmp_path, index, Step((lift,)),
              Step((_target(holder, release={"web": ADDR[new]}, switch=True), _target(new, 254)),
                   Until(IDS[new], "web")),
              Step((_target(holder, 100),)), Step((_target(new, 200),)))  # fmt: skip
        index += 1
        holder = new
        time.sleep(1.0)
    rows = _requests(probe, since)
    failed = [r for r in rows if r[1] is None]
    hosts = [r[1] for r in rows if r[1] is not None]
    switches = sum(1 for x, y in itertools.pairwise(hosts) if x != y)
    print(f"\n{moves} moves: {len(failed)} failed of {len(rows)}, {switches} client switches")
    said = (tmp_path / "a" / "stderr.log").read_text() + (tmp_path / "b" / "stderr.log").read_text()
    assert said.count("switched web's clients to") == moves, said
    assert said.count("the clients were switched here") == moves, said
    # the old holder's own gratuitous ARP was held from its switch until it yielded
    assert said.count("web: yielded (BACKUP): hold lifted (") == moves, said
    for line in said.splitlines():
        if "switch" in line or "hold" in line:
            print(line)
    # 1 failed request in 140 moves of this test on this machine; the rate is for
    # bench/planned_moves to measure, on the swarm lab (today's release: 11 in 80 moves there)
    assert len(failed) <= 1, [_around(rows, t) for t, _ in failed]
    assert switches == moves


def test_a_lift_whose_release_never_comes_ends_the_hold_at_the_takeover(
    bridged: dict[str, str], tmp_path: Path, agents: list[lab.AgentProc],
    helpers: list[subprocess.Popen[bytes]],
) -> None:  # fmt: skip
    """The relay died after the lift: B preempts by itself (3 adverts later) and A yields
    without a switch, so B must announce itself at once, not at its hold's deadline."""
    _a, b, probe = _setup(bridged, tmp_path, agents, helpers)
    since = time.time()
    _send(bridged["a"], tmp_path, 10, Step((_target("b", 254, hold={"web": ADDR["a"]}),)))
    b.wait_for(_holder, timeout=10)
    time.sleep(1.0)
    rows = _requests(probe, since)
    answered = [t for t, who in rows if who is not None]
    gap = max(y - x for x, y in itertools.pairwise(answered))
    said = (tmp_path / "b" / "stderr.log").read_text()
    print(f"\nno release: largest gap {gap * 1000:.0f} ms")
    print("failed:", [t for t, who in rows if who is None], "\n", said[-600:])
    assert "took over without a release" in said and "VIPs announced" in said, said
    assert [who for _, who in rows if who][-1] == "b"
    assert gap < 0.5  # with the hold kept to its deadline: seconds
