"""Health checks the agent runs on its node, each in its own thread, writing track files.

A check is TCP (connect to host:port), HTTP(S) (GET, expected status) or a command (argv,
exit 0 = ok). Counting is HAProxy-like: the first probe sets the state; then `fall` failures
in a row make it failing and `rise` successes make it ok again. The track file holds 0 (ok)
or 1 (failing); keepalived multiplies it by the check's weight (weight 0: FAULT).

Checks fail closed: any exception in a probe (a non-HTTP answer, a reset, a DNS or TLS error)
is a failed probe, and an unexpected error in a step makes the check failing and is reported
as a fault; the runner's loop never ends on an exception. Non-finite or absurd intervals and
timeouts are clamped, so a bad value can neither busy-loop nor raise.
"""

from __future__ import annotations

import math
import os
import socket
import ssl
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from swarmvip.agent import procs
from swarmvip.model import CheckKind, HealthCheck

MIN_SECONDS = 0.05
MAX_SECONDS = 3600.0
DEFAULT_INTERVAL = 2.0
DEFAULT_TIMEOUT = 1.0

FaultCallback = Callable[[str, "str | None"], None]  # (component, message or None: cleared)


def seconds(value: float, default: float) -> float:
    """value clamped to [MIN_SECONDS, MAX_SECONDS]; default if it is not a finite number."""
    try:
        value = float(value)
    except (TypeError, ValueError):
        return default
    if not math.isfinite(value):
        return default
    return min(max(value, MIN_SECONDS), MAX_SECONDS)


def interval_of(check: HealthCheck) -> float:
    return seconds(check.interval, DEFAULT_INTERVAL)


def timeout_of(check: HealthCheck) -> float:
    return seconds(check.timeout, DEFAULT_TIMEOUT)


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
        with socket.create_connection(split_host_port(check.target), timeout=timeout_of(check)):
            return True
    except Exception:  # fail closed: refused, reset, DNS error, bad target, anything
        return False


def probe_http(check: HealthCheck) -> bool:
    try:
        context = ssl._create_unverified_context()  # a node-local service: reachability, not trust
        with urllib.request.urlopen(check.target, timeout=timeout_of(check), context=context) as r:
            return int(r.status) == check.expect_status
    except urllib.error.HTTPError as exc:
        return exc.code == check.expect_status
    except Exception:  # fail closed: HTTPException (BadStatusLine...), TLS, DNS, reset, ...
        return False


def probe_command(check: HealthCheck) -> bool:
    try:
        proc = procs.spawn(check.argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
    except Exception:  # fail closed: missing binary, bad argv, ...
        return False
    try:
        return proc.wait(timeout=timeout_of(check)) == 0
    except Exception:  # TimeoutExpired (or anything else): kill it, a failure
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


def write_value(path: Path, value: int) -> None:
    """Atomically replace a track file with one integer.

    A temporary file in the same directory, renamed over the track file: keepalived watches the
    directory (inotify) and re-reads a track file on IN_MOVED_TO of its name (the temporary's
    own IN_CLOSE_WRITE/IN_MOVED_FROM carry another name and are ignored), so it never reads a
    half-written file.
    """
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(f"{value}\n")
    os.replace(tmp, path)


def write_track(path: Path, ok: bool) -> None:
    """Atomically replace the track file: 0 healthy, 1 failing."""
    write_value(path, 0 if ok else 1)


def probe(check: HealthCheck) -> bool:
    """One probe of the check; any exception (even from an unknown kind) is a failure."""
    try:
        return PROBES[check.kind](check)
    except Exception:
        return False


class CheckRunner(threading.Thread):
    """Probes one check every interval; on a state change writes the track file, calls back.

    An unexpected error in a step makes the check failing (track file 1) and is reported through
    on_fault(component, message); the next good step clears it (on_fault(component, None)).
    """

    def __init__(
        self,
        group: str,
        check: HealthCheck,
        track: Path,
        on_change: Callable[[str, str, bool], None],
        on_fault: FaultCallback | None = None,
    ) -> None:
        super().__init__(name=f"check-{group}.{check.name}", daemon=True)
        self.group, self.check, self.track, self.on_change = group, check, track, on_change
        self.on_fault = on_fault
        self.counter = Counter()
        self.first_done = threading.Event()
        self._halt = threading.Event()
        self._faulted = False

    @property
    def component(self) -> str:
        return f"check {self.group}.{self.check.name}"

    def stop(self) -> None:
        self._halt.set()

    def step(self) -> None:
        before = self.counter.ok
        self.counter = self.counter.observe(probe(self.check), *self._fr())
        if self.counter.ok is not None and self.counter.ok != before:
            write_track(self.track, self.counter.ok)
            self.on_change(self.group, self.check.name, self.counter.ok)
        self.first_done.set()

    def _fr(self) -> tuple[int, int]:
        return max(1, self.check.fall), max(1, self.check.rise)

    def _fault(self, message: str | None) -> None:
        if self.on_fault is not None and (message is not None or self._faulted):
            self.on_fault(self.component, message)
        self._faulted = message is not None

    def fail_closed(self, exc: BaseException) -> None:
        """An unexpected error in a step: the check is failing, and that is reported."""
        before, self.counter = self.counter.ok, Counter(ok=False)
        try:
            write_track(self.track, False)
        finally:
            self.first_done.set()
            self._fault(f"unexpected error, counted as failing: {exc!r}")
            if before is not False:
                self.on_change(self.group, self.check.name, False)

    def guarded_step(self) -> None:
        """step(), but no exception escapes: an error makes the check failing (best effort)."""
        try:
            self.step()
        except Exception as exc:
            try:
                self.fail_closed(exc)
            except Exception as again:  # even the track file or the callback failed
                print(f"swarmvip agent: {self.component}: {again!r}", file=sys.stderr, flush=True)
            return
        if self._faulted:
            self._fault(None)

    def run(self) -> None:
        while not self._halt.is_set():
            self.guarded_step()
            self._halt.wait(interval_of(self.check))
