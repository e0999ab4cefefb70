"""The priority-0 release for real: keepalived accepts the agent's advert and hands over at once.

Two agents + keepalived in namespaces with a 1 s advert interval, so plain preemption takes
3 s + skew and a release is told apart from it by a wide margin. B is lifted above the holder
A; then A is told to release the group to B. B must be MASTER well before 3 adverts, and A must
keep the VIP until B has it (make-before-break). VRRPv3, and VRRPv2 with a PASS secret (the
advert carries it; keepalived drops a v2 advert with a wrong password). The control case sends
no release and shows plain preemption's wait.
"""

from __future__ import annotations

import dataclasses
import json
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from swarmvip.agent.quiet import QUIET_BUDGET
from swarmvip.agent.vipsock import SNAP
from swarmvip.model import NodePlan, Timers
from swarmvip.wire.command import PORT
from swarmvip.wire.relay import MovePlan, Step, Target, Until, result_from_json
from swarmvip.wire.report import Report
from tests.agent import agentlab as lab
from tests.agent.conftest import needs_root

pytestmark = [pytest.mark.netns, needs_root]
VIP = "10.77.0.100"
ADVERT = 1.0
KEY = b"k" * 32
A_ID, B_ID = "id-a", "id-b"
A_ADDR, B_ADDR = "10.77.0.1", "10.77.0.2"
FAST = 0.5  # a release: Skew_Time at 254 (8 ms) plus the command's round trips
SLOW = 3 * ADVERT  # plain preemption cannot be quicker than 3 adverts


def _plans(version: int, auth: str | None) -> tuple[NodePlan, NodePlan]:
    timers = Timers(advert_int=ADVERT, version=version)  # type: ignore[arg-type]
    a = lab.instance(A_ADDR, (B_ADDR,), 150, advert=ADVERT, auth_secret="pw" if auth else None)
    b = lab.instance(B_ADDR, (A_ADDR,), 100, advert=ADVERT, auth_secret="pw" if auth else None)
    a, b = dataclasses.replace(a, timers=timers), dataclasses.replace(b, timers=timers)
    return (
        NodePlan(A_ID, "node-a", None, A_ADDR, (a,)),
        NodePlan(B_ID, "node-b", None, B_ADDR, (b,)),
    )


def _start(ns: str, workdir: Path, plan: NodePlan, auth: str | None) -> lab.AgentProc:
    secrets = workdir / "secrets"
    secrets.mkdir(parents=True, exist_ok=True)
    (secrets / "swarmvip_control_key").write_bytes(KEY + b"\n")
    if auth:
        (secrets / "pw").write_text(auth + "\n")
    return lab.start_agent(ns, workdir, plan, env={"SWARMVIP_SPEC": "spec1"})


def _holder(r: Report) -> bool:
    return r.instances[0].vrrp_state == "MASTER" and r.instances[0].holds_vip


def _backup(r: Report) -> bool:
    return r.instances[0].vrrp_state == "BACKUP" and not r.instances[0].holds_vip


def _send(ns: str, tmp: Path, plan: MovePlan) -> subprocess.CompletedProcess[str]:
    return lab.send_plan(ns, KEY, plan, tmp)


def _lifted(
    pair: tuple[str, str],
    tmp_path: Path,
    agents: list[lab.AgentProc],
    version: int,
    auth: str | None,
) -> tuple[lab.AgentProc, lab.AgentProc, Target]:
    """A holds the VIP, B is a backup with its listener up and lifted to 254 (not yet the
    holder: A has not released). A, B and B's lift target."""
    a_plan, b_plan = _plans(version, auth)
    a = _start(pair[0], tmp_path / "a", a_plan, auth)
    b = _start(pair[1], tmp_path / "b", b_plan, auth)
    agents += [a, b]
    a.wait_for(_holder, timeout=15)
    b.wait_for(lambda r: _backup(r) and r.control is not None, timeout=15)
    lift = Target(B_ID, B_ADDR, PORT, "spec1", {"web": 254})
    first = _send(pair[0], tmp_path, MovePlan("t", 7, (Step((lift,)),)))
    assert first.returncode == 0, first.stdout + first.stderr
    return a, b, lift


@pytest.mark.parametrize(
    ("version", "auth", "release_to"),
    [
        (3, None, B_ADDR),
        (2, "secret12", B_ADDR),
        (3, None, None),  # control: no release, plain preemption
    ],
    ids=["v3", "v2-pass", "no-release"],
)
def test_a_release_hands_the_vip_over_within_the_skew_make_before_break(
    pair: tuple[str, str],
    tmp_path: Path,
    agents: list[lab.AgentProc],
    version: int,
    auth: str | None,
    release_to: str | None,
) -> None:
    a, b, lift = _lifted(pair, tmp_path, agents, version, auth)
    released = {"web": release_to} if release_to else {}
    hand = Target(A_ID, A_ADDR, PORT, "spec1", {}, released)
    sampler = lab.Sampler(pair, VIP)
    sampler.start()
    time.sleep(0.1)
    seen = len(a.reports)
    t0 = time.monotonic()
    plan = MovePlan("t", 8, (Step((hand, lift), Until(B_ID, "web")),), timeout=10)
    proc = _send(pair[0], tmp_path, plan)
    took = time.monotonic() - t0
    time.sleep(0.2)
    sampler.stop()
    result = result_from_json(proc.stdout)
    assert proc.returncode == 0 and result.ok, proc.stdout + proc.stderr
    print(f"\nv{version} release={release_to}: B MASTER after {took * 1000:.0f} ms")
    if release_to:
        assert took < FAST, f"a release should hand over within {FAST}s, took {took:.2f}s"
        assert f"released web to {B_ADDR}" in (tmp_path / "a" / "stderr.log").read_text()
    else:
        # its master-down timer runs from the lift, one `agent send` earlier
        assert took > SLOW - 1.0, "without a release B waits for its master-down timer"
    assert sampler.handover_gap(t0, 0, 1) <= 0.02  # make-before-break: no hole
    a.wait_for(_backup, start=seen, timeout=5)
    assert a.stop() == 0 and b.stop() == 0


CONNECTION = f"""
import socket, sys
server = socket.create_server(("{VIP}", 9999))
client = socket.create_connection(("{VIP}", 9999))
conn, _ = server.accept()
client.sendall(b"GET / HTTP/1.0\\r\\n")  # a request in flight: the server has not read it
print("open", flush=True)
sys.stdin.readline()
"""


def test_a_release_waits_while_a_connection_to_the_vip_is_open(
    pair: tuple[str, str], tmp_path: Path, agents: list[lab.AgentProc]
) -> None:
    """The holder hands over between connections (agent.quiet): with a request to the VIP in
    flight on the holder the whole time (sent, not yet read by its server), its agent sees it
    in its own namespace's TCP table and waits the whole QUIET_BUDGET before it releases; the
    move still happens. (An established connection with nothing queued is not in flight.)"""
    _, _, lift = _lifted(pair, tmp_path, agents, 3, None)
    held = subprocess.Popen(
        ["ip", "netns", "exec", pair[0], sys.executable, "-c", CONNECTION],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert held.stdout is not None and held.stdout.readline().strip() == "open"
        hand = Target(A_ID, A_ADDR, PORT, "spec1", {}, {"web": B_ADDR})
        plan = MovePlan("t", 8, (Step((hand, lift), Until(B_ID, "web")),), timeout=10)
        proc = _send(pair[0], tmp_path, plan)
    finally:
        held.kill()
        held.wait()
    assert proc.returncode == 0 and result_from_json(proc.stdout).ok, proc.stdout + proc.stderr
    log = (tmp_path / "a" / "stderr.log").read_text()
    found = re.search(
        r"released web to \S+ after (\d+) ms \(connections still open: (\d+); (\d+) open"
        r" from the start, 0 opened since[;)]",
        log,
    )
    assert found, log
    assert int(found.group(1)) >= QUIET_BUDGET * 1000
    assert found.group(2) == found.group(3) != "0"  # the one in flight from the start


REQUESTS = f"""
import time, urllib.request
end = time.monotonic() + 3
while time.monotonic() < end:
    try:
        urllib.request.urlopen("http://{VIP}:8080/", timeout=0.2).read()
    except OSError:
        pass
    time.sleep(0.01)
"""
WAIT = f"""
from swarmvip.agent import quiet
for _ in range(5):
    print(quiet.describe(quiet.wait_quiet("eth0", frozenset({{"{VIP}"}}))), flush=True)
"""


def test_the_quiet_instant_is_right_after_a_request_on_the_wire(pair: tuple[str, str]) -> None:
    """A client in B sends a short HTTP request every 10 ms to a server on the VIP in A: the
    server's FIN, seen on A's NIC (a packet the host sends), is the instant to release, well
    within the budget. Short requests fall between two reads of the TCP tables."""
    lab.sh("ip", "-n", pair[0], "addr", "add", f"{VIP}/24", "dev", "eth0")
    server = subprocess.Popen(
        ["ip", "netns", "exec", pair[0], sys.executable, "-m", "http.server", "8080",
         "--bind", VIP],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        time.sleep(0.5)
        client = subprocess.Popen(["ip", "netns", "exec", pair[1], sys.executable, "-c", REQUESTS])
        time.sleep(0.3)
        waits = subprocess.run(
            ["ip", "netns", "exec", pair[0], sys.executable, "-c", WAIT],
            capture_output=True,
            text=True,
            cwd=lab.REPO,
            timeout=30,
        )
        client.wait(10)
    finally:
        server.kill()
        server.wait()
    lines = waits.stdout.splitlines()
    assert len(lines) == 5, waits.stdout + waits.stderr
    between = [line for line in lines if "(between connections" in line]
    assert len(between) >= 4, lines  # at most one wait can begin in a client's pause


FILTERED = f"""
import json, select, socket, sys, time
from swarmvip.agent import vipsock
vip = socket.inet_aton("{VIP}")
with vipsock.packets("eth0", [vip]) as sock:
    print("ready", flush=True)
    got, end = [], time.monotonic() + 2
    while time.monotonic() < end:
        if select.select([sock], [], [], 0.05)[0]:
            data, addr = sock.recvfrom(4096)
            got.append([len(data), data[9], data[12:16] == vip or data[16:20] == vip])
    print(json.dumps({{"got": got, "lost": vipsock.lost(sock)}}), flush=True)
"""
TRAFFIC = f"""
import socket
for _ in range(20):
    socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b"x" * 1000, ("{VIP}", 9999))
    socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b"x" * 1000, ("{A_ADDR}", 9999))
for addr in ("{VIP}", "{A_ADDR}"):
    try:
        socket.create_connection((addr, 8080), timeout=1).close()
    except OSError:
        pass  # nobody listens: A resets the SYN
"""


def test_the_quiet_socket_queues_only_the_vips_tcp_headers(pair: tuple[str, str]) -> None:
    """The kernel filter for real: UDP to the VIP, and TCP and UDP to the node's own address
    (a manager's raft and log streams), never reach the socket; a SYN to the VIP and A's
    reset do, cut to their headers."""
    lab.sh("ip", "-n", pair[0], "addr", "add", f"{VIP}/24", "dev", "eth0")
    watcher = subprocess.Popen(
        ["ip", "netns", "exec", pair[0], sys.executable, "-c", FILTERED],
        stdout=subprocess.PIPE, text=True, cwd=lab.REPO,
    )  # fmt: skip
    assert watcher.stdout is not None
    assert watcher.stdout.readline().strip() == "ready"
    lab.sh("ip", "netns", "exec", pair[1], sys.executable, "-c", TRAFFIC)
    out, _ = watcher.communicate(timeout=30)
    seen = json.loads(out.splitlines()[-1])
    assert seen["lost"] == 0
    assert len(seen["got"]) >= 2, seen  # the SYN in, the reset out
    for size, proto, vip in seen["got"]:
        assert proto == 6 and vip and size <= SNAP, seen
