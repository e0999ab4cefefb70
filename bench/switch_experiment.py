"""Experiment for issue 13's last goal (0 failed requests per planned move): can the *client's*
switch be placed between two connections, instead of the keepalived takeover?

Not product code: a measurement that decides a design. Two keepalived 2.2.7 (the product's
knobs that matter here: VRRPv3, advert_int 1, higher_prio_send_advert, a track_file of weight 1
for runtime priorities) in network namespaces A and B on one bridge, an HTTP server in each, and
a client in C opening a new connection every 10 ms (200 ms timeout, no retry), as in
bench/planned_moves. Planned moves go back and forth, the two ways interleaved:

- `release`, today's runtime path (swarmvip.agent.quiet and .release, the product's code): lift
  the new holder to 254, wait for a quiet instant on the old holder, send the new holder the
  priority-0 release. The new holder takes over after Skew_Time plus keepalived's scheduling,
  and its gratuitous ARP switches the clients: a few milliseconds after the quiet instant,
  which on this client lands inside the next connection about one time in four.
- `hold`: the new holder takes over *first*, with its own announcements of the VIP held back
  (an nftables netdev egress rule on its NIC drops ARP that says "VIP is at" it: gratuitous
  ARP and replies), and the old holder, still MASTER because it drops the new holder's adverts
  for the moment (nftables input rule), keeps every client. Then the old holder waits for a
  quiet instant and itself sends the gratuitous ARP that names the new holder's MAC (with its
  own Ethernet source, so no bridge learns the new MAC on its port): the clients switch
  within a fraction of a millisecond of the quiet instant. Then it lets the new holder's
  adverts in and sends it a priority-0 advert, which a MASTER answers at once with its own
  advert (RFC 5798 6.4.3), so the old holder yields within milliseconds; the new holder's
  hold is lifted.

Needs root, keepalived and nft (Debian: keepalived, nftables); sends traffic only inside the
namespaces it creates and deletes. Usage:
    .venv/bin/python -m bench.switch_experiment [--cycles 20]
Results: bench/results/switch-experiment.{json,md}.
"""

from __future__ import annotations

import argparse
import ipaddress
import itertools
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

from swarmvip.agent.arphold import advert_from as is_advert_from
from swarmvip.agent.arphold import garp_frame

RESULTS = Path(__file__).parent / "results"
NET = "10.251.0"
VIP = f"{NET}.100"
NODES = {"a": f"{NET}.11", "b": f"{NET}.12"}
CLIENT = f"{NET}.50"
PREFIX = "swx-"
MODES = ("release", "hold")

CONF = """global_defs {{
  router_id swx{name}
  script_user root
  enable_script_security
}}
track_file prio {{
  file {work}/{name}.prio
  weight 1
}}
vrrp_instance web {{
  state BACKUP
  interface eth0
  virtual_router_id 51
  version 3
  priority 200
  advert_int 1
  higher_prio_send_advert
  unicast_src_ip {src}
  unicast_peer {{
    {peer}
  }}
  virtual_ipaddress {{
    {vip}/24 dev eth0
  }}
  track_file {{
    prio weight 1
  }}
}}
"""

SERVER = """
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"
    def do_GET(self):
        body = sys.argv[1].encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
ThreadingHTTPServer(("0.0.0.0", 80), H).serve_forever()
"""

CLIENT_CODE = """
import json, socket, sys, time
out = open(sys.argv[1], "w", buffering=1)
nxt = time.monotonic()
while True:
    t0 = time.time()
    try:
        s = socket.create_connection((sys.argv[2], 80), timeout=0.2)
        s.sendall(b"GET / HTTP/1.0\\r\\nHost: vip\\r\\n\\r\\n")
        data = b""
        while chunk := s.recv(4096):
            data += chunk
        s.close()
        host = data.rsplit(b"\\r\\n\\r\\n", 1)[-1].decode() or "?"
        out.write(json.dumps({"t": t0, "ok": True, "host": host}) + "\\n")
    except Exception as exc:
        out.write(json.dumps({"t": t0, "ok": False, "err": type(exc).__name__}) + "\\n")
    nxt += 0.01
    time.sleep(max(0.0, nxt - time.monotonic()))
"""


def ns(name: str) -> str:
    return f"{PREFIX}{name}"


def run(name: str, *cmd: str, stdin: str | None = None) -> str:
    """A command in namespace `name` (from the repository's top, for `python -m`); its stdout."""
    return subprocess.run(
        ["ip", "netns", "exec", ns(name), *cmd],
        input=stdin, capture_output=True, text=True, check=True, cwd=RESULTS.parent.parent,
    ).stdout  # fmt: skip


def teardown() -> None:
    for name in ("sw", "a", "b", "c"):
        pids = subprocess.run(["ip", "netns", "pids", ns(name)], capture_output=True, text=True)
        for pid in pids.stdout.split():
            subprocess.run(["kill", "-9", pid], capture_output=True)
        subprocess.run(["ip", "netns", "del", ns(name)], capture_output=True)


def setup(work: Path) -> list[subprocess.Popen[bytes]]:
    """The namespaces, keepalived in A and B (A holds), a server in each, the client in C."""
    teardown()
    for name in ("sw", "a", "b", "c"):
        subprocess.run(["ip", "netns", "add", ns(name)], check=True)
    run("sw", "ip", "link", "add", "br0", "type", "bridge")
    run("sw", "ip", "link", "set", "br0", "up")
    for name, addr in (*NODES.items(), ("c", CLIENT)):
        subprocess.run(
            ["ip", "link", "add", f"swx{name}", "type", "veth", "peer", "name", "eth0",
             "netns", ns(name)], check=True,
        )  # fmt: skip
        subprocess.run(["ip", "link", "set", f"swx{name}", "netns", ns("sw")], check=True)
        run("sw", "ip", "link", "set", f"swx{name}", "master", "br0", "up")
        run(name, "ip", "addr", "add", f"{addr}/24", "dev", "eth0")
        run(name, "ip", "link", "set", "eth0", "up")
        run(name, "ip", "link", "set", "lo", "up")
    procs = []
    for name, src in NODES.items():
        peer = next(a for n, a in NODES.items() if n != name)
        (work / f"{name}.prio").write_text("10\n" if name == "a" else "0\n")
        conf = work / f"{name}.conf"
        conf.write_text(CONF.format(name=name, work=work, src=src, peer=peer, vip=VIP))
        procs.append(_spawn(name, work, "keepalived", "-n", "-l", "-f", str(conf),
                            "-p", f"{work}/{name}.pid", "-r", f"{work}/{name}-vrrp.pid",
                            "-c", f"{work}/{name}-chk.pid", "-i", f"swx{name}"))  # fmt: skip
        procs.append(_spawn(name, work, sys.executable, "-c", SERVER, name))
    wait(lambda: holds("a"), 15)
    procs.append(
        _spawn("c", work, sys.executable, "-c", CLIENT_CODE, str(work / "probe.jsonl"), VIP)
    )
    wait(lambda: (work / "probe.jsonl").exists() and (work / "probe.jsonl").stat().st_size > 0, 5)
    return procs


def _spawn(name: str, work: Path, *cmd: str) -> subprocess.Popen[bytes]:
    log = open(work / f"{name}-{Path(cmd[0]).name}.log", "ab")  # noqa: SIM115 (lives with the process)
    return subprocess.Popen(["ip", "netns", "exec", ns(name), *cmd], stdout=log, stderr=log)


def holds(name: str) -> bool:
    return f"{VIP}/" in run(name, "ip", "-br", "addr", "show", "eth0")


def wait(cond: Callable[[], bool], timeout: float) -> float:
    end = time.time() + timeout
    while time.time() < end:
        if cond():
            return time.time()
        time.sleep(0.002)
    raise TimeoutError(f"waited {timeout} s")


def mac(name: str) -> str:
    return run(name, "cat", "/sys/class/net/eth0/address").strip()


# -- what the old holder's agent would do, in its namespace (a child: `python -m ... act`) ------
def act(stage: str, src: str, new_ip: str, new_mac: str) -> dict[str, Any]:
    """stage 'release': the priority-0 release now; 'quiet-release': today's path (a quiet
    instant, then the release); 'switch': a quiet instant, the gratuitous ARP naming the new
    holder, the new holder's adverts let in, the release."""
    from swarmvip.agent import quiet, release

    inst = types.SimpleNamespace(
        unicast_src=src, addresses=[ipaddress.ip_interface(f"{VIP}/24")], vrid=51,
        timers=types.SimpleNamespace(version=3, advert_int=1.0),
    )  # fmt: skip
    payload = release.advert(inst, src, new_ip)  # type: ignore[arg-type]
    own = Path("/sys/class/net/eth0/address").read_text().strip()
    garp = garp_frame(own, new_mac, VIP)
    with (
        socket.socket(socket.AF_PACKET, socket.SOCK_RAW) as link,
        socket.socket(socket.AF_INET, socket.SOCK_RAW, release.IPPROTO_VRRP) as vrrp,
        socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(0x0800)) as seen,
    ):
        link.bind(("eth0", 0))
        seen.bind(("eth0", 0x0800))
        vrrp.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, release.VRRP_TTL)
        vrrp.bind((src, 0))
        out: dict[str, Any] = {}
        if stage != "release":
            q = quiet.wait_quiet("eth0", frozenset({VIP}))
            out = {"quiet": time.time(), "after_close": q.after_close, "quiet_ok": q.quiet}
        if stage == "switch":
            link.send(garp)
            out["switch"] = time.time()
            subprocess.run(["nft", "delete", "table", "inet", "swxhold"], check=True)
        vrrp.sendto(payload, (new_ip, 0))
        out.setdefault("switch", time.time())
        out["new_advert"] = _first_advert(seen, new_ip)
    return out


def _first_advert(sock: socket.socket, src: str, timeout: float = 3.0) -> float | None:
    """When the first advert from `src` arrived: a keepalived that becomes MASTER sends it
    right before it adds the VIP and sends its gratuitous ARP."""
    end = time.time() + timeout
    sock.settimeout(0.05)
    while time.time() < end:
        try:
            if is_advert_from(sock.recv(256), src):
                return time.time()
        except TimeoutError:
            continue
    return None


def _act(name: str, stage: str, new: str) -> dict[str, Any]:
    got = run(name, sys.executable, "-m", "bench.switch_experiment", "act", stage,
              NODES[name], NODES[new], mac(new))  # fmt: skip
    result: dict[str, Any] = json.loads(got)
    return result


HOLD_ARP = """table netdev swxhold {{
  chain egress {{
    type filter hook egress device "eth0" priority 0;
    arp saddr ip {vip} arp daddr ip {vip} drop
    arp operation reply arp saddr ip {vip} drop
  }}
}}
"""
HOLD_VRRP = """table inet swxhold {{
  chain input {{
    type filter hook input priority 0;
    ip saddr {new} ip protocol vrrp drop
  }}
}}
"""


def move(work: Path, mode: str, old: str, new: str) -> dict[str, Any]:
    """One planned move from `old` to `new`; times are wall clock."""
    t: dict[str, Any] = {"mode": mode, "from": old, "to": new, "start": time.time()}
    if mode == "hold":
        run(new, "nft", "-f", "-", stdin=HOLD_ARP.format(vip=VIP))
        run(old, "nft", "-f", "-", stdin=HOLD_VRRP.format(new=NODES[new]))
    (work / f"{new}.prio").write_text("54\n")  # 200 + 54: the lift
    time.sleep(0.3)  # keepalived reads the track file (inotify)
    if mode == "hold":
        t["new_master"] = _act(old, "release", new)["new_advert"]
        wait(lambda: holds(new), 10)
        got = _act(old, "switch", new)
        run(new, "nft", "delete", "table", "netdev", "swxhold")
        t |= {**got, "old_yields": got["new_advert"]}  # it yields to the answer to its release
    else:
        got = _act(old, "quiet-release", new)
        t |= {**got, "switch": got["new_advert"], "new_master": got["new_advert"]}
        t["old_yields"] = t["new_master"]  # it yields to that advert
    wait(lambda: holds(new) and not holds(old), 10)
    (work / f"{old}.prio").write_text("-100\n")  # the settle: old to the bottom, new to 210
    (work / f"{new}.prio").write_text("10\n")
    time.sleep(0.6)
    t["end"] = time.time()
    return t


def count(work: Path, t: dict[str, Any]) -> dict[str, Any]:
    rows = [json.loads(x) for x in (work / "probe.jsonl").read_text().splitlines() if x.strip()]
    within = [r for r in rows if t["start"] <= r["t"] <= t["end"]]
    failed = [r for r in within if not r["ok"]]
    switch = t["switch"]  # `release`: the new holder's first advert, right before its ARP
    hosts = [r["host"] for r in within if r["ok"]]
    switches = sum(1 for x, y in itertools.pairwise(hosts) if x != y)
    return {
        "requests": len(within),
        "failed": len(failed),
        "failed_after_switch_ms": [round((r["t"] - switch) * 1000, 1) for r in failed],
        "client_switches": switches,
        "two_masters_ms": round((t["old_yields"] - t["new_master"]) * 1000, 1),
        "quiet_to_switch_ms": round((switch - t["quiet"]) * 1000, 2),
    }  # fmt: skip


def experiment(cycles: int) -> dict[str, Any]:
    for tool in ("keepalived", "nft", "ip"):
        if not shutil.which(tool):
            raise SystemExit(f"switch_experiment: needs {tool} (Debian: keepalived, nftables)")
    if os.geteuid() != 0:
        raise SystemExit("switch_experiment: needs root (network namespaces)")
    work = Path(tempfile.mkdtemp(prefix="swx-"))
    procs = setup(work)
    moves: list[dict[str, Any]] = []
    try:
        holder = "a"
        for i in range(cycles * len(MODES)):
            mode = MODES[i % len(MODES)]
            for _ in range(2):  # there and back
                other = "b" if holder == "a" else "a"
                t = move(work, mode, holder, other)
                time.sleep(0.3)
                moves.append({**t, **count(work, t)})
                holder = other
    finally:
        for p in procs:
            p.kill()
        teardown()
    return {"cycles": cycles, "cpus": os.cpu_count(), "load": os.getloadavg(), "moves": moves}


def summary(doc: dict[str, Any], mode: str) -> dict[str, Any]:
    ms = [m for m in doc["moves"] if m["mode"] == mode]
    return {
        "moves": len(ms),
        "failed": sum(m["failed"] for m in ms),
        "requests": sum(m["requests"] for m in ms),
        "moves_with_a_failure": sum(1 for m in ms if m["failed"]),
        "client_switches": sorted({m["client_switches"] for m in ms}),
        "two_masters_ms_median": round(statistics.median(m["two_masters_ms"] for m in ms), 1),
        "two_masters_ms_max": max(m["two_masters_ms"] for m in ms),
        "quiet_to_switch_ms_median": round(
            statistics.median(m["quiet_to_switch_ms"] for m in ms), 2
        ),
        "quiet_to_switch_ms_max": max(m["quiet_to_switch_ms"] for m in ms),
        "quiet_found": sum(1 for m in ms if m.get("quiet_ok")),
    }


def failed_at(doc: dict[str, Any], mode: str) -> list[float]:
    return [x for m in doc["moves"] if m["mode"] == mode for x in m["failed_after_switch_ms"]]


def report(doc: dict[str, Any]) -> str:
    lines = [
        "# Switch experiment (issue 13: 0 failed requests per planned move)",
        "",
        f"Generated by `bench/switch_experiment.py`: {doc['cycles']} cycles of each way, "
        f"interleaved, each cycle two moves (there and back); {doc['cpus']} CPUs, load average "
        f"{[round(x, 2) for x in doc['load']]} at the end. Client: a new connection every 10 ms, "
        "200 ms timeout, no retry. keepalived 2.2.7 in network namespaces, not the swarm lab.",
        "",
        "| way | moves | failed requests (of) | moves with a failure | client switches per move "
        "| quiet instant → clients switch, median (max) | two MASTERs, median (max) | "
        "quiet instant found |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for mode in MODES:
        s = summary(doc, mode)
        masters = (
            f"{s['two_masters_ms_median']} ms ({s['two_masters_ms_max']} ms)"
            if mode == "hold"
            else "(its advert's processing)"
        )
        lines.append(
            f"| `{mode}` | {s['moves']} | {s['failed']} ({s['requests']}) | "
            f"{s['moves_with_a_failure']} | {s['client_switches']} | "
            f"{s['quiet_to_switch_ms_median']} ms ({s['quiet_to_switch_ms_max']} ms) | "
            f"{masters} | "
            f"{s['quiet_found']}/{s['moves']} |"
        )
    lines += [
        "",
        "Times are seen from the old holder's namespace. `release`: the quiet instant is when the "
        "release is sent; the clients switch at the new holder's gratuitous ARP, which follows "
        "its first advert (the time given here) within microseconds; the old holder yields to "
        "that advert, so two MASTERs last only its processing. `hold`: the quiet instant is "
        "when the old holder sends the gratuitous ARP naming the new holder; two MASTERs hold "
        "the VIP from the new holder's takeover until the old one yields (the clients reach "
        "only the old one until the switch, only the new one after it). Failed requests, by "
        "their start against the switch (ms): "
        + "; ".join(f"`{m}` {failed_at(doc, m)}" for m in MODES),
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args and args[0] == "act":
        print(json.dumps(act(*args[1:5])))
        return 0
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--cycles", type=int, default=20)
    parser.add_argument("--render", action="store_true", help="only write the .md again")
    opts = parser.parse_args(args)
    if opts.render:
        doc = json.loads((RESULTS / "switch-experiment.json").read_text())
    else:
        doc = experiment(opts.cycles)
        (RESULTS / "switch-experiment.json").write_text(json.dumps(doc, indent=1) + "\n")
    (RESULTS / "switch-experiment.md").write_text(report(doc))
    print(report(doc))
    return 0


if __name__ == "__main__":
    sys.exit(main())
