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
    """Namespaces a, b (the nodes) and c (a client) on one bridge br0 (in namespace "sw", a port
    p<name> for each), eth0 in each."""
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
    found["sw"] = sw
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


ECHO = """
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], 8081))
s.listen()
print("ready", flush=True)
while True:
    c, _ = s.accept()
    c.settimeout(0.5)  # a split connection never sends here: do not wait for it
    try:
        c.sendall(sys.argv[2].encode() + b":" + c.recv(100))
    except OSError:
        pass
    c.close()
"""
SPLIT = """
import socket, subprocess, sys
vip, old, new = sys.argv[1:4]
def neigh(mac):
    subprocess.run(["ip", "neigh", "replace", vip, "lladdr", mac, "dev", "eth0"], check=True)
neigh(old)
s = socket.create_connection((vip, 8081), timeout=2)  # the handshake with the old holder
neigh(new)  # the switch lands right after it
s.sendall(b"x")
try:
    print("old:", s.recv(100).decode())
except OSError as exc:
    print("old:", type(exc).__name__)
"""
FRESH = """
import socket, sys
n = socket.create_connection((sys.argv[1], 8081), timeout=2)
n.sendall(b"y")
print("new:", n.recv(100).decode())
"""
STRAYS = """
import sys
from swarmvip.agent import arphold
vrid, vip, holder = int(sys.argv[1]), sys.argv[2], sys.argv[3]
mac = arphold.mac_of(holder)
assert mac is not None, open("/proc/net/arp").read()
macs = (arphold.own_mac("eth0"), mac)
arphold.nft(arphold.stray_ruleset(vrid, "eth0", [vip], macs, 5.0))
"""


def _mac(ns: str) -> str:
    out = lab.sh("ip", "-n", ns, "-o", "link", "show", "eth0").stdout
    return out.split("link/ether ")[1].split()[0]


def test_a_connection_split_at_the_switch_is_sent_back_to_the_old_holder(
    bridged: dict[str, str], helpers: list[subprocess.Popen[bytes]]
) -> None:
    """The switch's last race, made on purpose: the client's handshake reaches the old holder
    A, its ARP entry then names the new holder B, and the request reaches B. Without the
    stray rule B resets it; with it, B sends it back to A, which answers. A new connection
    after the switch stays with B."""
    a, b, c = bridged["a"], bridged["b"], bridged["c"]
    for ns, name in ((a, "A"), (b, "B")):
        lab.sh("ip", "-n", ns, "addr", "add", f"{VIP}/24", "dev", "eth0")
        server = subprocess.Popen(
            ["ip", "netns", "exec", ns, sys.executable, "-c", ECHO, VIP, name],
            stdout=subprocess.PIPE,
        )
        helpers.append(server)
        assert server.stdout is not None and server.stdout.readline().strip() == b"ready"
    split = ["ip", "netns", "exec", c, sys.executable, "-c", SPLIT, VIP, _mac(a), _mac(b)]
    fresh = ["ip", "netns", "exec", c, sys.executable, "-c", FRESH, VIP]
    assert lab.sh(*split).stdout == "old: ConnectionResetError\n"
    assert lab.sh(*fresh).stdout == "new: B:y\n"
    poke = f"import socket; socket.socket(2, 2).sendto(b'x', ({ADDR['b']!r}, 9))"
    lab.sh("ip", "netns", "exec", a, sys.executable, "-c", poke)  # as A's adverts to B do:
    time.sleep(0.2)  # A asks for B's MAC, and B learns A's
    subprocess.run(
        ["ip", "netns", "exec", b, sys.executable, "-c", STRAYS, "51", VIP, ADDR["a"]],
        cwd=lab.REPO, check=True, capture_output=True, text=True,
    )  # fmt: skip
    assert lab.sh(*split).stdout == "old: A:x\n"
    # B's last copy of C's frames came through B's port: the bridge must still know C at its
    # own port, or A's answers to C would go to B
    learned = lab.sh("bridge", "-n", bridged["sw"], "fdb", "show", "br", "br0").stdout
    assert f"{_mac(c)} dev pc " in learned, learned
    assert lab.sh(*fresh).stdout == "new: B:y\n"
    listing = lab.sh(
        "ip", "netns", "exec", b, "nft", "list", "table", "netdev", "swarmvip_stray_51"
    )
    assert "counter packets 0 " not in listing.stdout, listing.stdout
