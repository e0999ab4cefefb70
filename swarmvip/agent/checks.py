"""Health checks the agent runs on its node, each in its own thread, writing track files.

A check is TCP (connect to host:port), HTTP(S) (GET, expected status) or a command (argv,
exit 0 = ok). Counting is HAProxy-like: the first probe sets the state; then `fall` failures
in a row make it failing and `rise` successes make it ok again. The track file holds 0 (ok)
or 1 (failing); keepalived multiplies it by the check's weight (weight 0: FAULT).
"""

from __future__ import annotations

import os
import socket
import ssl
import subprocess
import threading
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from swarmvip.agent import procs
from swarmvip.model import CheckKind, HealthCheck


@dataclass(frozen=True, slots=True)
class Counter:
    """fall/rise state: ok is None before the first probe."""

    ok: bool | None = None
    streak: int = 0  # consecutive probes disagreeing with `ok`

    def observe(self, result: bool, fall: int, rise: int) -> Counter:
        if self.ok is None or result == self.ok:
            return Counter(ok=result if self.ok is None else self.ok, streak=0)
        needed = rise if result else fall
        if self.streak + 1 >= needed:
            return Counter(ok=result, streak=0)
        return Counter(ok=self.ok, streak=self.streak + 1)


def split_host_port(target: str) -> tuple[str, int]:
    host, _, port = target.rpartition(":")
    return host.strip("[]") or "127.0.0.1", int(port)


def probe_tcp(check: HealthCheck) -> bool:
    try:
        with socket.create_connection(split_host_port(check.target), timeout=check.timeout):
            return True
    except (OSError, ValueError):
        return False


def probe_http(check: HealthCheck) -> bool:
    context = ssl._create_unverified_context()  # a node-local service: reachability, not trust
    try:
        with urllib.request.urlopen(check.target, timeout=check.timeout, context=context) as r:
            return int(r.status) == check.expect_status
    except urllib.error.HTTPError as exc:
        return exc.code == check.expect_status
    except (OSError, ValueError):
        return False


def probe_command(check: HealthCheck) -> bool:
    try:
        proc = procs.spawn(check.argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
    except OSError:
        return False
    try:
        return proc.wait(timeout=check.timeout) == 0
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        return False
    finally:
        procs.forget(proc)


PROBES: dict[CheckKind, Callable[[HealthCheck], bool]] = {
    CheckKind.TCP: probe_tcp,
    CheckKind.HTTP: probe_http,
    CheckKind.COMMAND: probe_command,
}


def write_track(path: Path, ok: bool) -> None:
    """Atomically replace the track file: 0 healthy, 1 failing."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text("0\n" if ok else "1\n")
    os.replace(tmp, path)


class CheckRunner(threading.Thread):
    """Probes one check every interval; on a state change writes the track file, calls back."""

    def __init__(
        self,
        group: str,
        check: HealthCheck,
        track: Path,
        on_change: Callable[[str, str, bool], None],
    ) -> None:
        super().__init__(name=f"check-{group}.{check.name}", daemon=True)
        self.group, self.check, self.track, self.on_change = group, check, track, on_change
        self.counter = Counter()
        self.first_done = threading.Event()
        self._halt = threading.Event()

    def stop(self) -> None:
        self._halt.set()

    def step(self) -> None:
        before = self.counter.ok
        self.counter = self.counter.observe(PROBES[self.check.kind](self.check), *self._fr())
        if self.counter.ok is not None and self.counter.ok != before:
            write_track(self.track, self.counter.ok)
            self.on_change(self.group, self.check.name, self.counter.ok)
        self.first_done.set()

    def _fr(self) -> tuple[int, int]:
        return max(1, self.check.fall), max(1, self.check.rise)

    def run(self) -> None:
        while not self._halt.is_set():
            self.step()
            self._halt.wait(self.check.interval)
