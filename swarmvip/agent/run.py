"""The supervisor: the agent's main loop, PID 1 of a keepalived task.

One thread (this one) owns the state: every source (signals, keepalived's exit, the notify FIFO,
the netlink watcher, health checks) posts events into one queue; the loop folds them with
`state.fold`, prints a report line on each change and a heartbeat every `heartbeat` seconds,
forwards signals to keepalived, restarts it with a bounded backoff, and reaps orphans.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import TextIO

from swarmvip import __version__
from swarmvip.agent import checks, hooks, keepalived, netlink, procs, state
from swarmvip.agent.keepalived import Layout
from swarmvip.agent.report import Kind, to_line
from swarmvip.agentspec import AgentSpec

FORWARDED = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGUSR1, signal.SIGUSR2)
STOPPING = (signal.SIGTERM, signal.SIGINT)


@dataclass(frozen=True, slots=True)
class Options:
    layout: Layout = field(default_factory=Layout)
    heartbeat: float = 2.0
    retry: float = 5.0  # seconds between attempts while in FAULT (no interface, bad secret)
    backoff_max: float = 30.0
    stable_after: float = 30.0  # keepalived running this long resets the backoff
    keepalived_bin: str = "keepalived"
    hostname: str = field(default_factory=lambda: os.uname().nodename)


@dataclass(frozen=True, slots=True)
class _Signal:
    signum: int


@dataclass(frozen=True, slots=True)
class _Exited:
    pid: int
    returncode: int


class Agent:
    def __init__(self, spec: AgentSpec, opts: Options, out: TextIO = sys.stdout) -> None:
        self.spec, self.opts, self.out = spec, opts, out
        self.events: queue.SimpleQueue[object] = queue.SimpleQueue()
        self.state = state.initial(spec.stack, spec.node, opts.hostname)
        self.seq = 0
        self.proc: subprocess.Popen[bytes] | None = None
        self.started_at = 0.0
        self.backoff = 0.0
        self.restart_at: float | None = None
        self.stopping = False
        self.next_beat = 0.0
        self.secrets: dict[str, str] = {}

    # --- output ---------------------------------------------------------------------------
    def emit(self, kind: Kind) -> None:
        self.seq += 1
        report = state.to_report(
            self.state, kind, time.time(), self.seq, self.opts.heartbeat, __version__
        )
        self.out.write(to_line(report) + "\n")
        self.out.flush()
        self.next_beat = time.monotonic() + self.opts.heartbeat
        self._write_health()

    def _write_health(self) -> None:
        doc = {
            "ts": time.time(),
            "keepalived": self.state.keepalived,
            "reason": self.state.reason,
            "keepalived_pid": self.proc.pid if self.proc else None,
        }
        path = self.opts.layout.health
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(doc) + "\n")
        os.replace(tmp, path)

    def post(self, event: object) -> None:
        self.events.put(event)

    def apply(self, event: state.Event) -> None:
        old, self.state = self.state, state.fold(self.state, event)
        if old == self.state:
            return
        self.emit("fault" if self.state.reason else "state")
        for group, entered in state.entered_states(old, self.state):
            self._hook(group, entered)

    def _hook(self, group: str, entered: str) -> None:
        for inst in self.spec.node.instances:
            if inst.group == group:
                vips = tuple(a.with_prefixlen for a in inst.addresses)
                hooks.run_hook(inst.notify, group, entered, vips)

    # --- lifecycle ------------------------------------------------------------------------
    def run(self) -> int:
        for signum in FORWARDED:
            signal.signal(signum, lambda n, _f: self.post(_Signal(n)))
        layout = self.opts.layout
        for directory in (layout.run_dir, layout.track_dir):
            directory.mkdir(parents=True, exist_ok=True)
        self.emit("state")
        iface = self._prepare_until_ready()
        if iface is None:
            return 0
        self._start_sources(iface)
        self._start_keepalived()
        return self._loop()

    def _prepare(self) -> str:
        self.secrets = keepalived.read_secrets(
            self.spec.node.instances, self.opts.layout.secrets_dir
        )
        node = self.spec.node
        vips = [a for i in node.instances for a in i.addresses]
        return netlink.detect_interface(node.unicast_src, vips, node.interface)

    def _prepare_until_ready(self) -> str | None:
        waiting = self.opts.layout.run_dir / "waiting"
        while True:
            try:
                iface = self._prepare()
            except (keepalived.SecretError, netlink.InterfaceNotFound) as exc:
                self.apply(state.Fault(str(exc)))
                waiting.touch()
                if self._wait(time.monotonic() + self.opts.retry) is not None:
                    return None
                continue
            waiting.unlink(missing_ok=True)
            self.apply(state.InterfaceFound(iface))
            return iface

    def _start_sources(self, iface: str) -> None:
        layout = self.opts.layout
        keepalived.ensure_fifo(layout.fifo)
        keepalived.FifoReader(layout.fifo, self._on_fifo_line).start()
        netlink.AddressWatcher(iface, lambda a: self.post(state.AddressesObserved(a))).start()
        runners = [
            checks.CheckRunner(
                inst.group,
                check,
                layout.track_dir / f"{inst.group}.{check.name}",
                lambda g, c, ok: self.post(state.CheckChanged(g, c, ok)),
            )
            for inst in self.spec.node.instances
            for check in inst.checks
        ]
        for runner in runners:
            runner.start()
        for runner in runners:  # keepalived starts with real check results, not a guess
            runner.first_done.wait(runner.check.timeout + 1.0)

    def _on_fifo_line(self, line: str) -> None:
        event = state.parse_notify_line(line)
        if event is not None:
            self.post(event)

    def _start_keepalived(self) -> None:
        layout, iface = self.opts.layout, self.state.interface or ""
        for pid_file in (layout.vrrp_pid_file, layout.pid_file):
            procs.kill_stale(pid_file)
        vips = [a for i in self.spec.node.instances for a in i.addresses]
        removed = netlink.remove_addresses(iface, vips)
        if removed:
            print(
                f"swarmvip agent: removed stale VIPs {' '.join(removed)} from {iface}",
                file=sys.stderr,
                flush=True,
            )
        keepalived.write_wrapper(layout, iface, self.secrets)
        proc = procs.spawn(
            keepalived.command(layout, self.opts.keepalived_bin), stdin=subprocess.DEVNULL
        )
        self.proc, self.started_at, self.restart_at = proc, time.monotonic(), None
        threading.Thread(target=self._wait_child, args=(proc,), daemon=True).start()
        self.apply(state.KeepalivedChanged("running"))

    def _wait_child(self, proc: subprocess.Popen[bytes]) -> None:
        self.post(_Exited(proc.pid, proc.wait()))

    # --- the loop -------------------------------------------------------------------------
    def _loop(self) -> int:
        while True:
            deadline = self.restart_at if self.restart_at is not None else time.monotonic() + 1.0
            code = self._wait(deadline)
            if code is not None:
                return code
            if self.restart_at is not None and time.monotonic() >= self.restart_at:
                self._start_keepalived()

    def _wait(self, deadline: float) -> int | None:
        """Handle events and heartbeats until deadline; an exit code when the agent must exit."""
        while (now := time.monotonic()) < deadline:
            if now >= self.next_beat:
                self.emit("fault" if self.state.reason else "heartbeat")
            if os.getpid() == 1:
                procs.reap_orphans()
            try:
                event = self.events.get(timeout=max(0.0, min(deadline, self.next_beat) - now))
            except queue.Empty:
                continue
            code = self._handle(event)
            if code is not None:
                return code
        return None

    def _handle(self, event: object) -> int | None:
        if isinstance(event, _Signal):
            return self._on_signal(event.signum)
        if isinstance(event, _Exited):
            return self._on_exit(event.returncode)
        self.apply(event)  # type: ignore[arg-type]
        return None

    def _on_signal(self, signum: int) -> int | None:
        if signum in STOPPING:
            self.stopping = True
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signum)
            return None
        return 0 if self.stopping else None

    def _on_exit(self, returncode: int) -> int | None:
        if self.proc is not None:
            procs.forget(self.proc)
        self.proc = None
        status = procs.exit_status(returncode)
        if self.stopping:
            self.apply(state.KeepalivedChanged("stopped"))
            # Killed by the stop signal we forwarded (still starting, no handler yet): clean.
            return 0 if -returncode in STOPPING else status
        ran = time.monotonic() - self.started_at
        self.backoff = (
            1.0
            if ran >= self.opts.stable_after or not self.backoff
            else min(self.backoff * 2, self.opts.backoff_max)
        )
        self.restart_at = time.monotonic() + self.backoff
        self.apply(
            state.KeepalivedChanged(
                "exited", f"keepalived exited with status {status}; restart in {self.backoff:g}s"
            )
        )
        return None
