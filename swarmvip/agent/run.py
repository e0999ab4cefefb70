"""The supervisor: the agent's main loop, PID 1 of a keepalived task.

One thread (this one) owns the state: every source (signals, keepalived's exit, the notify FIFO,
the netlink watcher, health checks) posts events into one queue; the loop folds them with
`state.fold`, prints a report line on each change and a heartbeat when no line was written for
`heartbeat` seconds (wire.report.HEARTBEAT: 360 lines per node and hour when nothing happens),
forwards signals to keepalived, restarts it with a bounded backoff, and reaps orphans.

No VIP left behind, and no VIP taken from another agent:
* a host-wide lock (`procs.host_lock`, the abstract socket @swarmvip-<stack>) is held for the
  agent's whole life; a second agent of the stack on the host (an orchestrator restart while the
  old container still runs) waits for it, reporting a fault, before it touches any VIP or starts
  keepalived;
* when keepalived exits unexpectedly its leftover VRRP child is killed and the VIPs are removed
  at once (not only at the restart after the back-off), and again whenever they reappear while
  keepalived is down;
* on SIGTERM/SIGINT the signal is forwarded; if keepalived has not exited after `stop_timeout`
  (shorter than the task's stop grace period) it is SIGKILLed; either way the agent removes its
  VIPs itself before it exits.

Helper threads (checks, the netlink watcher, the FIFO reader, the runtime priority listener)
are supervised: one that dies is restarted, and the death is reported as an agent fault
(`faults` in the report).

Runtime priorities (agent.control): before keepalived first starts, the boot rule writes every
group's priority delta file; the listener thread hands each authentic command to this loop
(a `control.Request` event) and waits for the answer, so the loop stays the only owner of the
priorities, their saved copy and the delta files. A command's release, switch or hold is run
by agent.planned, from this loop too.
"""

from __future__ import annotations

import dataclasses
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TextIO

from swarmvip import __version__
from swarmvip.agent import (
    adverts,
    arphold,
    checks,
    control,
    hooks,
    keepalived,
    netlink,
    planned,
    procs,
    state,
)
from swarmvip.agent.keepalived import Layout
from swarmvip.model import HealthCheck, IPInterface
from swarmvip.wire import paths
from swarmvip.wire.agentspec import AgentSpec
from swarmvip.wire.command import PORT, Command, CommandError, Reply, read_key
from swarmvip.wire.report import HEARTBEAT, Kind, to_line

FORWARDED = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGUSR1, signal.SIGUSR2)
STOPPING = (signal.SIGTERM, signal.SIGINT)
DEFAULT_STOP_GRACE = 10.0  # the task's stop_grace_period when nobody says otherwise


def stop_timeout_for(grace: float) -> float:
    """How long to wait for keepalived after a stop signal: well inside the grace period.

    grace - 2 s (the agent still has to kill keepalived and remove its VIPs before dockerd's
    SIGKILL), half of it for short grace periods; a bad value means the default grace.
    """
    grace = checks.seconds(grace, DEFAULT_STOP_GRACE)
    return grace / 2 if grace < 4.0 else grace - 2.0


@dataclass(frozen=True, slots=True)
class Options:
    layout: Layout = field(default_factory=Layout)
    heartbeat: float = HEARTBEAT  # seconds without a line before a heartbeat is written
    retry: float = 5.0  # seconds between attempts while in FAULT (no interface, bad secret)
    backoff_max: float = 30.0
    stable_after: float = 30.0  # keepalived running this long resets the backoff
    stop_timeout: float = stop_timeout_for(DEFAULT_STOP_GRACE)  # then keepalived is SIGKILLed
    lock_retry: float = 0.5  # seconds between attempts to take the host lock
    helper_retry: float = 1.0  # minimum seconds between restarts of one dead helper thread
    keepalived_bin: str = "keepalived"
    hostname: str = field(default_factory=lambda: os.uname().nodename)
    spec_hash: str = ""  # $SWARMVIP_SPEC: repeated in every report (wire.report "spec")
    control_port: int = PORT  # the runtime priority listener's first port to try


@dataclass(frozen=True, slots=True)
class _Signal:
    signum: int


@dataclass(frozen=True, slots=True)
class _Exited:
    pid: int
    returncode: int


class _Helper:
    """A supervised helper thread: how to make it again, how often it was restarted."""

    def __init__(self, component: str, make: Callable[[], threading.Thread]) -> None:
        self.component, self.make = component, make
        self.thread = make()
        self.restarts = 0
        self.next_try = 0.0

    def start(self) -> threading.Thread:
        self.thread.start()
        return self.thread


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
        self.lock: object | None = None  # the host lock's socket, held until the process exits
        self.kill_at: float | None = None  # stopping: SIGKILL keepalived at this time
        self.killed = False
        self.helpers: list[_Helper] = []
        self.crashes: dict[str, str] = {}  # thread name -> the exception that ended it
        self.vip_ifaces: dict[str, str] = {}  # group -> its own VIP NIC (`interface:`)
        self.priorities: dict[str, int] = {}  # group -> keepalived's last notified priority
        self.control = control.Control(
            control.Identity(
                spec.stack,
                spec.node.node_id,
                opts.spec_hash,
                {i.group: i.priority for i in spec.node.instances},
                os.environ.get(paths.SERVICE_ID_ENV, ""),
            ),
            opts.layout.state_dir / f"{spec.stack}.json",
            opts.layout.track_dir,
        )
        self.control_stats = control.Stats()
        self.releases = adverts.Releases()  # the priority-0 adverts received (agent.adverts)
        self.moves = planned.PlannedMoves(  # releases, switches and holds (agent.planned)
            spec.node.instances, self.releases, self.post, self._master
        )

    # --- output ---------------------------------------------------------------------------
    def emit(self, kind: Kind) -> None:
        self.seq += 1
        report = state.to_report(
            self.state, kind, time.time(), self.seq, self.opts.heartbeat, __version__
        )
        if self.opts.spec_hash:
            report = dataclasses.replace(report, spec=self.opts.spec_hash)
        if report.control is not None:
            drops = dataclasses.replace(report.control, drops=self.control_stats.drops)
            report = dataclasses.replace(report, control=drops)
        self._write_health()  # first: once a report says it, the health file says it too
        self.out.write(to_line(report) + "\n")
        self.out.flush()
        self.next_beat = time.monotonic() + self.opts.heartbeat

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
                priority = self.priorities.get(group, inst.priority)
                hooks.run_hook(
                    inst.notify, group, entered, vips, on_fault=self.fault, priority=priority
                )

    def fault(self, component: str, message: str | None) -> None:
        """A helper's fault (None: it is over), from any thread, into the loop."""
        if message is not None:
            print(f"swarmvip agent: {component}: {message}", file=sys.stderr, flush=True)
        self.post(state.ComponentFault(component, message))

    def _excepthook(self, args: threading.ExceptHookArgs) -> None:
        if args.thread is not None:
            self.crashes[args.thread.name] = repr(args.exc_value)
        threading.__excepthook__(args)

    # --- lifecycle ------------------------------------------------------------------------
    def run(self) -> int:
        for signum in FORWARDED:
            signal.signal(signum, lambda n, _f: self.post(_Signal(n)))
        layout = self.opts.layout
        for directory in (layout.run_dir, layout.track_dir):
            directory.mkdir(parents=True, exist_ok=True)
        threading.excepthook = self._excepthook
        self.emit("state")
        if not self._lock_host():
            return 0
        self._boot_control()
        iface = self._prepare_until_ready()
        if iface is None:
            return 0
        self._start_sources(iface)
        self._start_keepalived()
        try:
            return self._loop()
        finally:
            self.moves.end_all("the agent stops")

    def _lock_host(self) -> bool:
        """Wait for the host lock (False: told to stop meanwhile), reporting a fault."""
        name = procs.lock_name(self.spec.stack)
        waiting = self.opts.layout.run_dir / "waiting"
        while (lock := procs.host_lock(name)) is None:
            waiting.touch()  # healthy meanwhile: a restart would not help
            self.apply(
                state.Fault(
                    f"waiting for the previous agent of stack {self.spec.stack} on this host "
                    f"to exit (it holds the host lock @{name})"
                )
            )
            if self._wait(time.monotonic() + self.opts.lock_retry) is not None:
                return False
        self.lock = lock
        return True

    def _boot_control(self) -> None:
        """The boot rule (agent.control): every priority delta file, before keepalived."""
        try:
            self.control.boot()
        except CommandError as exc:
            self.fault("runtime priorities", str(exc))
        self.apply(self.control.event())

    def _vips(self) -> list[IPInterface]:
        return [a for i in self.spec.node.instances for a in i.addresses]

    def _vips_by_interface(self, iface: str) -> dict[str, list[IPInterface]]:
        """{NIC: the VIPs that go on it}: the VRRP interface's, and each group's own NIC."""
        found: dict[str, list[IPInterface]] = {}
        for inst in self.spec.node.instances:
            found.setdefault(self.vip_ifaces.get(inst.group, iface), []).extend(inst.addresses)
        return found

    def _remove_vips(self, why: str) -> tuple[str, ...]:
        """Remove this node's VIPs from their interfaces, only while holding the host lock."""
        iface = self.state.interface
        if self.lock is None or not iface:
            return ()
        removed: list[str] = []
        for dev, vips in self._vips_by_interface(iface).items():
            try:
                gone = netlink.remove_addresses(dev, vips)
            except Exception as exc:
                print(f"swarmvip agent: cannot remove VIPs from {dev}: {exc!r}", file=sys.stderr)
                continue
            if gone:
                print(
                    f"swarmvip agent: removed {why} VIPs {' '.join(gone)} from {dev}",
                    file=sys.stderr,
                    flush=True,
                )
            removed.extend(gone)
        return tuple(removed)

    def _prepare(self) -> str:
        self.secrets = keepalived.read_secrets(
            self.spec.node.instances, self.opts.layout.secrets_dir
        )
        node = self.spec.node
        vips = [a for i in node.instances for a in i.addresses]
        iface = netlink.detect_interface(node.unicast_src, vips, node.interface)
        self.vip_ifaces = {
            i.group: netlink.vip_interface(i.group, i.options.interface)
            for i in node.instances
            if i.options.interface is not None
        }
        self._check_tracked(iface)
        return iface

    def _check_tracked(self, iface: str) -> None:
        """Every tracked interface exists (keepalived would drop a missing one silently)."""
        for inst in self.spec.node.instances:
            names = [t.name for t in inst.options.track_interfaces]
            for name in netlink.missing_interfaces(names):
                raise netlink.InterfaceNotFound(
                    f"group {inst.group}: tracked interface {name!r} (its track_interfaces:)"
                    " does not exist on this node; create it, or keep the node out of the"
                    " group with placement constraints"
                )
            if iface in names:
                print(
                    f"swarmvip agent: group {inst.group}: {iface} is the VRRP interface,"
                    " which keepalived always tracks (down = FAULT); its track_interfaces"
                    " entry is ignored",
                    file=sys.stderr,
                    flush=True,
                )

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
        self._supervised("notify fifo reader", self._fifo_reader)
        self._supervised("netlink watcher", lambda: self._watcher(iface))
        self._start_advert_watcher()
        self._probe_switch(iface)
        self._start_listener()
        runners = [
            self._supervised(f"check {inst.group}.{check.name}", self._runner(inst.group, check))
            for inst in self.spec.node.instances
            for check in inst.checks
        ]
        for runner in runners:  # keepalived starts with real check results, not a guess
            assert isinstance(runner, checks.CheckRunner)
            runner.first_done.wait(checks.timeout_of(runner.check) + 1.0)

    def _start_advert_watcher(self) -> None:
        """Who released a group (agent.adverts); without CAP_NET_RAW, reports never name one."""
        node = self.spec.node
        families = adverts.families_of([node.unicast_src, *(i.unicast_src for i in node.instances)])
        try:
            for sock in adverts.open_sockets(families):  # can it? (no CAP_NET_RAW: no)
                sock.close()
        except OSError as exc:
            print(f"swarmvip agent: no advert watcher: {exc}", file=sys.stderr, flush=True)
            return
        self._supervised(
            "advert watcher",
            lambda: adverts.AdvertWatcher(adverts.open_sockets(families), self.releases),
        )

    def _probe_switch(self, iface: str) -> None:
        """Whether this agent can hold and switch a planned move's clients (agent.arphold),
        after removing what an earlier agent of these groups may have left."""
        arphold.clean(i.vrid for i in self.spec.node.instances)
        problem = arphold.available(iface)
        if problem is not None:
            print(
                f"swarmvip agent: planned moves without a client switch: {problem}",
                file=sys.stderr,
                flush=True,
            )
        self.apply(state.SwitchAvailable(problem is None))

    def _start_listener(self) -> None:
        """The runtime priority listener, if the control key is mounted."""
        path = self.opts.layout.control_key
        if not path.exists():
            print(
                f"swarmvip agent: no control key {path}: runtime priority changes are off",
                file=sys.stderr,
                flush=True,
            )
            return
        try:
            key = read_key(str(path))
        except (OSError, CommandError) as exc:
            self.fault("control listener", f"cannot read the control key: {exc}")
            return
        node = self.spec.node
        addresses = control.listen_addresses(
            (node.unicast_src, *(i.unicast_src for i in node.instances))
        )
        self._supervised(
            "control listener",
            lambda: control.Listener(
                addresses,
                self.opts.control_port,
                key,
                self._ask,
                lambda port: self.post(state.ControlListening(port)),
                self.control_stats,
            ),
        )

    def _ask(self, command: Command) -> Reply | None:
        """From the listener thread: the loop's answer to a command (None: no answer in time)."""
        request = control.Request(command)
        self.post(request)
        return request.wait(control.ANSWER_TIMEOUT)

    def _on_command(self, request: control.Request) -> None:
        states = {i.group: i.vrrp_state for i in self.state.instances}
        cmd = request.command
        # a fresh command's holds go in before its priorities reach keepalived (a lifted
        # node may preempt by itself); one that then does not apply takes them back
        fresh = control.decide(self.control.me, self.control.runtime, cmd).changed
        held = dict(cmd.hold) if fresh else {}
        for group, holder in held.items():
            if self.state.control_switch:
                self.moves.hold(group, holder, self._vip_dev(group))
        try:
            reply = self.control.handle(cmd, states)
        except Exception as exc:  # a bug must not end the loop: refused, and reported
            self.fault("control", f"unexpected error: {exc!r}")
            for group in held:
                self.moves.end_hold(group, "the command did not apply")
            request.answer(None)
            return
        for group in set(held) - set(self.control.holds):
            self.moves.end_hold(group, "the command did not apply")
        for group, address in self.control.releases.items():
            auth, vip_dev = self.secrets.get(group), self._vip_dev(group)
            if self.control.switch and self.state.control_switch:
                self.moves.switch(group, self.state.interface or "", vip_dev, address, auth)
            else:
                self.moves.release(group, address, vip_dev, auth)
        request.answer(reply)
        self.apply(self.control.event())

    def _master(self, group: str) -> bool:
        return any(i.group == group and i.vrrp_state == "MASTER" for i in self.state.instances)

    def _vip_dev(self, group: str) -> str:
        return self.vip_ifaces.get(group, self.state.interface or "")

    def _fifo_reader(self) -> threading.Thread:
        return keepalived.FifoReader(self.opts.layout.fifo, self._on_fifo_line)

    def _watcher(self, iface: str) -> threading.Thread:
        return netlink.AddressWatcher(
            (iface, *self.vip_ifaces.values()),
            lambda a: self.post(state.AddressesObserved(a)),
            on_fault=self.fault,
        )

    def _runner(self, group: str, check: HealthCheck) -> Callable[[], threading.Thread]:
        track = self.opts.layout.track_dir / paths.track_name(group, check.name)
        return lambda: checks.CheckRunner(
            group,
            check,
            track,
            lambda g, c, ok: self.post(state.CheckChanged(g, c, ok)),
            on_fault=self.fault,
        )

    def _supervised(self, component: str, make: Callable[[], threading.Thread]) -> threading.Thread:
        helper = _Helper(component, make)
        self.helpers.append(helper)
        return helper.start()

    def _supervise(self) -> None:
        """Restart a dead helper thread (at most every helper_retry s) and report the death."""
        now = time.monotonic()
        for helper in self.helpers:
            if helper.thread.is_alive() or now < helper.next_try:
                continue
            why = self.crashes.pop(helper.thread.name, "it returned")
            helper.restarts += 1
            helper.next_try = now + self.opts.helper_retry
            try:
                helper.thread = helper.make()
                helper.start()
                done = f"restarted ({helper.restarts}x)"
            except Exception as exc:  # e.g. the FIFO cannot be opened: try again later
                done = f"restart failed: {exc!r}"
            message = f"thread died ({why}); {done}"
            print(f"swarmvip agent: {helper.component}: {message}", file=sys.stderr, flush=True)
            self.apply(state.ComponentFault(f"{helper.component} thread", message))

    def _on_fifo_line(self, line: str) -> None:
        event = state.parse_notify_line(line)
        if event is not None:
            self.post(self._with_release(event))

    def _with_release(self, event: state.VrrpChanged) -> state.VrrpChanged:
        """A MASTER event names the address whose priority-0 advert it took over on, if one
        came within the group's Master_Down_Interval (agent.adverts)."""
        inst = next((i for i in self.spec.node.instances if i.group == event.group), None)
        if event.state != "MASTER" or inst is None:
            return event
        within = 3 * inst.timers.advert_int + 1.0
        source = self.releases.released_by(inst.vrid, time.monotonic(), within)
        if source is None:
            return event
        return dataclasses.replace(event, after_release=(source, time.time()))

    def _kill_leftovers(self) -> None:
        for pid_file in (self.opts.layout.vrrp_pid_file, self.opts.layout.pid_file):
            procs.kill_stale(pid_file)

    def _start_keepalived(self) -> None:
        layout, iface = self.opts.layout, self.state.interface or ""
        self._kill_leftovers()
        self._remove_vips("stale")
        keepalived.write_wrapper(layout, iface, self.secrets, self.vip_ifaces)
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
            deadlines = [
                t
                for t in (self.restart_at, self.kill_at, self.moves.holds.next_deadline())
                if t is not None
            ]
            code = self._wait(min(deadlines, default=time.monotonic() + 1.0))
            if code is not None:
                return code
            self.moves.end_due()
            now = time.monotonic()
            if self.kill_at is not None and now >= self.kill_at:
                self._kill_keepalived()
            if self.restart_at is not None and now >= self.restart_at and not self.stopping:
                self._start_keepalived()

    def _kill_keepalived(self) -> None:
        """Stopping, and keepalived ignored the signal for stop_timeout: SIGKILL it."""
        self.kill_at = None
        if self.proc is None or self.proc.poll() is not None:
            return
        print(
            f"swarmvip agent: keepalived did not stop within {self.opts.stop_timeout:g}s; "
            "killing it and removing the VIPs",
            file=sys.stderr,
            flush=True,
        )
        self.killed = True
        procs.kill_stale(self.opts.layout.vrrp_pid_file)
        self.proc.kill()

    def _wait(self, deadline: float) -> int | None:
        """Handle events and heartbeats until deadline; an exit code when the agent must exit."""
        while (now := time.monotonic()) < deadline:
            if self.moves.holds.due():
                return None  # the loop ends them
            self._supervise()
            if now >= self.next_beat:
                self.emit("fault" if self.state.reason else "heartbeat")
            if os.getpid() == 1:
                procs.reap_orphans()
            until = min(deadline, self.next_beat, self.moves.holds.next_deadline() or deadline)
            try:
                event = self.events.get(timeout=max(0.0, until - now))
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
        if isinstance(event, control.Request):
            self._on_command(event)
            return None
        if isinstance(event, planned.Switched):
            self.moves.end_hold(event.group, "the clients were switched here")
            return None
        if isinstance(event, state.VrrpChanged) and event.priority is not None:
            self.priorities[event.group] = event.priority  # before apply: the hooks get it
        self.apply(event)  # type: ignore[arg-type]
        if isinstance(event, state.VrrpChanged) and event.state == "MASTER":
            self.moves.on_master(event.group)
        elif isinstance(event, state.VrrpChanged):
            self.moves.on_left_master(event.group, event.state)
        if isinstance(event, state.AddressesObserved):
            self._keep_clean()
        return None

    def _keep_clean(self) -> None:
        """keepalived is down (back-off): a VIP that is (again) on the interface is removed."""
        if self.proc is not None or self.restart_at is None:
            return
        if any(str(v.ip) in self.state.present for v in self._vips()):
            self._remove_vips("stale")

    def _on_signal(self, signum: int) -> int | None:
        if signum in STOPPING:
            self.stopping = True
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signum)
            if self.stopping and self.kill_at is None:
                self.kill_at = time.monotonic() + self.opts.stop_timeout
            return None
        if self.stopping:
            self._remove_vips("own")
            return 0
        return None

    def _on_exit(self, returncode: int) -> int | None:
        self.moves.end_all("keepalived exited")
        if self.proc is not None:
            procs.forget(self.proc)
        self.proc, self.kill_at = None, None
        status = procs.exit_status(returncode)
        if self.stopping:
            self._remove_vips("own")  # keepalived removes them on a clean exit; not if killed
            self.apply(state.KeepalivedChanged("stopped"))
            # Killed by the stop signal we forwarded (still starting, no handler yet) or by
            # our SIGKILL after stop_timeout: a clean stop all the same, the VIPs are gone.
            return 0 if -returncode in STOPPING or self.killed else status
        self._kill_leftovers()  # a VRRP child that outlived its parent still holds the VIPs
        self._remove_vips("stale")  # at once: a backup has taken over meanwhile
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
