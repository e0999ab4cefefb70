"""Who holds a VIP, seen from inside a lab node: `ip monitor` in its node container.

One `Monitor` per node: a `docker exec -i` helper prints a snapshot of the VIP's presence,
then every add and delete of it, each stamped with the time (one machine: the node containers
share the host's clock); it stops when its stdin closes. Shared by the e2e fault smoke tests
and the benchmarks (failover, planned moves, fault campaign).

`ClientArp` watches the other end: the client's neighbour entry for the VIP (which MAC its
requests go to), so a failed request can be lined up with the ARP change behind it.
"""

from __future__ import annotations

import subprocess
import threading
import time

from swarmvip_lab.lab import Lab

Event = tuple[float, bool]  # (time.time(), the node holds the VIP from then on)

# the helpers' common end: `mon` (their `ip monitor`) is killed when the helper's stdin closes
STOP_ON_EOF = """
def bye():
    sys.stdin.read()
    mon.kill()
    os._exit(0)
threading.Thread(target=bye, daemon=True).start()
"""

# argv: VIP [DEVICE]. Prints "<time> <0|1>": a snapshot, then each add/delete of the VIP (on
# DEVICE only, when given).
MONITOR = (
    r"""
import os, subprocess, sys, threading, time
vip = " %s/" % sys.argv[1]
dev = sys.argv[2] if len(sys.argv) > 2 else ""
mon = subprocess.Popen(["ip", "-o", "monitor", "address"], stdout=subprocess.PIPE, text=True)
show = ["ip", "-o", "addr", "show"] + (["dev", dev] if dev else [])
snap = subprocess.run(show, capture_output=True, text=True).stdout
print(time.time(), int(vip in snap), flush=True)
"""
    + STOP_ON_EOF
    + r"""
for line in mon.stdout:
    if vip in line and (not dev or " %s " % dev in line):
        print(time.time(), 0 if line.startswith("Deleted") else 1, flush=True)
"""
)


class _Helper:
    """A `docker exec -i` helper whose output lines a thread hands to `_line`; it stops when
    its stdin closes (`_end`)."""

    def __init__(self, argv: list[str]) -> None:
        self.proc = subprocess.Popen(
            argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            text=True,
        )  # fmt: skip
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _line(self, line: str) -> None:
        raise NotImplementedError

    def _ended(self) -> None:
        """The stream ended (the helper stopped, or its container did)."""

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._line(line)
            self._ready.set()
        self._ended()
        self._ready.set()

    def _end(self) -> None:
        try:
            self.proc.communicate(input="", timeout=10)
        except (subprocess.TimeoutExpired, OSError, ValueError):
            self.proc.kill()
        self._thread.join(5)


class Monitor(_Helper):
    """One node's VIP adds and deletes, from inside its node container. `device`: watch that
    interface only (default: every one). `strict`: raise when no snapshot came within
    `start_timeout` (else the monitor simply has no events)."""

    def __init__(
        self,
        lab: Lab,
        node: str,
        vip: str,
        device: str = "",
        strict: bool = True,
        start_timeout: float = 15.0,
    ) -> None:
        self.node = node
        self.events: list[Event] = []
        self.ended: float | None = None  # when the stream ended (the node container stopped)
        script = ("python3", "-c", MONITOR, vip, *((device,) if device else ()))
        super().__init__(lab.host.argv("exec", "-i", lab.node(node).container, *script))
        started = self._ready.wait(start_timeout) and bool(self.events)
        if strict and not started:
            self.stop()
            raise AssertionError(f"the VIP monitor on {node} did not start")

    def _line(self, line: str) -> None:
        at, holds = line.split()
        self.events.append((float(at), holds == "1"))

    def _ended(self) -> None:
        self.ended = time.time()

    @property
    def holds(self) -> bool:
        return self.ended is None and bool(self.events) and self.events[-1][1]

    def stop(self) -> list[Event]:
        """End the helper; the events seen."""
        self._end()
        return list(self.events)


# argv: VIP. Prints "<time> <lladdr|-> <state>" for each change of the VIP's neighbour entry.
NEIGH = (
    r"""
import os, subprocess, sys, threading, time
vip = sys.argv[1]
mon = subprocess.Popen(["ip", "-o", "monitor", "neigh"], stdout=subprocess.PIPE, text=True)
print(time.time(), "-", "START", flush=True)
"""
    + STOP_ON_EOF
    + r"""
for line in mon.stdout:
    words = line.split()
    if vip not in words[:2]:
        continue
    mac = words[words.index("lladdr") + 1] if "lladdr" in words else "-"
    print(time.time(), mac, "DELETED" if words[0] == "Deleted" else words[-1], flush=True)
"""
)

NeighEvent = tuple[float, str, str]  # (time.time(), MAC or "-", neighbour state)


class ClientArp(_Helper):
    """The client container's neighbour entry for the VIP: each change, stamped."""

    def __init__(self, lab: Lab, container: str, vip: str) -> None:
        self.events: list[NeighEvent] = []
        super().__init__(lab.host.argv("exec", "-i", container, "python3", "-c", NEIGH, vip))
        self._ready.wait(10)

    def _line(self, line: str) -> None:
        at, mac, state = line.split()
        if state != "START":
            self.events.append((float(at), mac, state))

    def stop(self) -> list[NeighEvent]:
        self._end()
        return list(self.events)
