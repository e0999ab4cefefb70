"""The agent fails closed and leaves no VIP behind, without keepalived or a namespace.

Audit 4/13: any exception in a probe is a failure, no exception ends a check loop, a NaN interval
does not busy-loop. Audit 21: helper threads survive (watcher, hooks) or are restarted and
reported. Audit 11: VIPs are removed when keepalived dies, while it is down, and on a stop even
if keepalived ignores SIGTERM, and only by the agent holding the host lock. Also the hardened
service spec of a keepalived task.
"""

from __future__ import annotations

import http.client
import io
import math
import os
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from pyroute2.netlink.exceptions import NetlinkDecodeError, NetlinkError

from swarmvip.agent import checks, hooks, netlink, procs, run, state
from swarmvip.agent.keepalived import Layout
from swarmvip.model import CheckKind, HealthCheck, NodePlan, NotifyHooks
from swarmvip.wire.agentspec import AgentSpec
from swarmvip.wire.report import parse_report, to_line
from tests.agent import agentlab as lab

Faults = list[tuple[str, str | None]]


def _until(pred: Callable[[], bool], timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.01)
    return pred()


# --- audit 4: probes fail closed ---------------------------------------------------------------
@pytest.fixture
def flaky_server() -> Iterator[tuple[int, dict[str, bool]]]:
    """Answers HTTP 200 until mode['garbage'], then an SSH banner (repro r7_httpcheck.py)."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(16)
    mode = {"garbage": False}

    def serve() -> None:
        while True:
            try:
                conn, _ = srv.accept()
            except OSError:
                return
            with conn:
                conn.recv(1024)
                conn.sendall(
                    b"SSH-2.0-OpenSSH_9.2\r\n"
                    if mode["garbage"]
                    else b"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n"
                )

    threading.Thread(target=serve, daemon=True).start()
    yield srv.getsockname()[1], mode
    srv.close()


def test_http_check_survives_a_non_http_answer_and_turns_failing(
    tmp_path: Path, flaky_server: tuple[int, dict[str, bool]]
) -> None:
    port, mode = flaky_server
    target = f"http://127.0.0.1:{port}/"
    check = HealthCheck("web", CheckKind.HTTP, target, interval=0.05, timeout=0.5, fall=1, rise=1)
    changes: list[bool] = []
    track = tmp_path / "g.web"
    runner = checks.CheckRunner("g", check, track, lambda g, c, ok: changes.append(ok))
    runner.start()
    try:
        assert _until(lambda: changes == [True])
        assert track.read_text() == "0\n"
        mode["garbage"] = True  # the service behind the check breaks: a non-HTTP status line
        assert _until(lambda: changes == [True, False]), changes
        assert track.read_text() == "1\n"
        time.sleep(0.2)
        assert runner.is_alive()
    finally:
        runner.stop()


ERRORS = [
    http.client.BadStatusLine("SSH-2.0-OpenSSH_9.2"),
    http.client.LineTooLong("header line"),
    http.client.IncompleteRead(b""),
    ssl.SSLError(1, "bad handshake"),
    socket.gaierror(-2, "Name or service not known"),
    ConnectionResetError(104, "reset"),
    UnicodeError("bad host"),
    RuntimeError("anything else"),
]


@pytest.mark.parametrize("error", ERRORS, ids=lambda e: type(e).__name__)
def test_every_probe_counts_any_exception_as_a_failure(
    monkeypatch: pytest.MonkeyPatch, error: Exception
) -> None:
    def boom(*_a: object, **_k: object) -> Any:
        raise error

    monkeypatch.setattr(urllib.request, "urlopen", boom)
    monkeypatch.setattr(socket, "create_connection", boom)
    monkeypatch.setattr(procs, "spawn", boom)
    assert checks.probe_http(HealthCheck("h", CheckKind.HTTP, target="http://x/")) is False
    assert checks.probe_tcp(HealthCheck("t", CheckKind.TCP, target="x:80")) is False
    assert checks.probe_command(HealthCheck("c", CheckKind.COMMAND, argv=("true",))) is False


def test_a_step_error_makes_the_check_failing_reports_it_and_the_loop_goes_on(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    real_write, calls = checks.write_track, {"n": 0}

    def write_once_broken(path: Path, ok: bool) -> None:
        calls["n"] += 1
        if calls["n"] == 1:
            raise OSError(28, "No space left on device")
        real_write(path, ok)

    monkeypatch.setattr(checks, "write_track", write_once_broken)
    monkeypatch.setitem(checks.PROBES, CheckKind.TCP, lambda c: True)
    changes: list[bool] = []
    faults: Faults = []
    check = HealthCheck("t", CheckKind.TCP, target="x:1", interval=0.05, fall=1, rise=1)
    track = tmp_path / "web.t"
    runner = checks.CheckRunner(
        "web",
        check,
        track,
        lambda g, c, ok: changes.append(ok),
        on_fault=lambda *f: faults.append(f),
    )
    runner.start()
    try:
        assert _until(lambda: changes == [False, True]), changes
        assert track.read_text() == "0\n"
        assert faults[0][0] == "check web.t" and "No space left" in str(faults[0][1])
        assert faults[-1] == ("check web.t", None)  # the next good step clears it
        assert runner.is_alive()
    finally:
        runner.stop()


def test_a_nan_interval_does_not_busy_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    probes = {"n": 0}

    def count(_check: HealthCheck) -> bool:
        probes["n"] += 1
        return True

    monkeypatch.setitem(checks.PROBES, CheckKind.TCP, count)
    check = HealthCheck("t", CheckKind.TCP, target="x:1", interval=math.nan, timeout=math.nan)
    runner = checks.CheckRunner("web", check, Path(os.devnull), lambda *a: None)
    monkeypatch.setattr(checks, "write_track", lambda p, ok: None)
    runner.start()
    time.sleep(0.3)
    runner.stop()
    assert probes["n"] <= 2, f"{probes['n']} probes in 0.3 s"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (math.nan, 2.0),
        (math.inf, 2.0),
        (-math.inf, 2.0),
        (0.0, 0.05),
        (-3.0, 0.05),
        (1e12, 3600.0),
        (1.5, 1.5),
    ],
)
def test_seconds_are_clamped(value: float, expected: float) -> None:
    assert checks.seconds(value, 2.0) == expected


# --- audit 21: helper threads -------------------------------------------------------------------
class _FlakyWatcher(netlink.AddressWatcher):
    """_follow raises pyroute2 errors (not OSErrors) twice, then publishes and idles."""

    def __init__(self, **kw: Any) -> None:
        super().__init__("eth0", **kw)
        self.calls = 0

    def _follow(self) -> None:
        self.calls += 1
        if self.calls == 1:
            raise NetlinkError(16, "Device or resource busy")
        if self.calls == 2:
            raise NetlinkDecodeError(ValueError("truncated message"))
        self._publish(frozenset({"10.0.0.1"}))
        self._synced()
        self._halt.wait()


def test_the_address_watcher_survives_netlink_errors_and_reports_them() -> None:
    seen: list[frozenset[str]] = []
    faults: Faults = []
    watcher = _FlakyWatcher(on_change=seen.append, on_fault=lambda *f: faults.append(f), retry=0.01)
    watcher.start()
    try:
        assert _until(lambda: seen == [frozenset({"10.0.0.1"})])
        assert watcher.is_alive() and watcher.resyncs == 2
        assert [c for c, _ in faults] == ["netlink watcher eth0"] * 3
        assert "NetlinkError" in str(faults[0][1]) and faults[-1][1] is None
    finally:
        watcher.stop()


def test_a_hook_thread_reports_an_unexpected_error(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*_a: object, **_k: object) -> Any:
        raise RuntimeError("spawn exploded")

    monkeypatch.setattr(procs, "spawn", boom)
    faults: Faults = []
    thread = hooks.run_hook(
        NotifyHooks(master=("/bin/true",)),
        "web",
        "MASTER",
        (),
        on_fault=lambda *f: faults.append(f),
    )
    assert thread is not None
    thread.join(5)
    assert faults == [("hook web master", "unexpected error: RuntimeError('spawn exploded')")]


def test_faults_fold_into_the_report_additively() -> None:
    node = NodePlan("id-a", "node-a", None, "10.77.0.1", (lab.instance("10.77.0.1", (), 150),))
    s0 = state.initial("t", node, "node-a")
    s1 = state.fold(s0, state.ComponentFault("check web.t", "boom"))
    report = state.to_report(s1, "state", 1.0, 1, 2.0, "x")
    assert report.faults == ("check web.t: boom",)
    assert parse_report(to_line(report)) == report
    assert state.fold(s1, state.ComponentFault("check web.t", None)) == s0
    assert '"faults"' not in to_line(state.to_report(s0, "state", 1.0, 1, 2.0, "x"))


# --- the agent: supervision, VIP clean-up, stop escalation, host lock --------------------------
VIP = "10.77.0.100/24"


@pytest.fixture
def removed(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, tuple[str, ...]]]:
    """netlink.remove_addresses and kill_stale faked: the calls are recorded."""
    calls: list[tuple[str, tuple[str, ...]]] = []

    def remove(iface: str, vips: Any, netns: str | None = None) -> tuple[str, ...]:
        calls.append((iface, tuple(v.with_prefixlen for v in vips)))
        return ()

    monkeypatch.setattr(netlink, "remove_addresses", remove)
    monkeypatch.setattr(procs, "kill_stale", lambda *a, **k: False)
    return calls


def _agent(tmp_path: Path, stack: str = "t", **opts: Any) -> run.Agent:
    node = NodePlan("id-a", "node-a", None, "10.77.0.1", (lab.instance("10.77.0.1", (), 150),))
    layout = Layout(conf=tmp_path / "k.conf", run_dir=tmp_path, secrets_dir=tmp_path)
    agent = run.Agent(AgentSpec(stack, node), run.Options(layout=layout, **opts), io.StringIO())
    agent.state = state.fold(agent.state, state.InterfaceFound("eth0"))
    return agent


def test_a_dead_helper_thread_is_restarted_and_reported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    agent = _agent(tmp_path, helper_retry=0.0)
    monkeypatch.setattr(threading, "excepthook", agent._excepthook)
    runs = {"n": 0}

    def body() -> None:
        runs["n"] += 1
        if runs["n"] == 1:
            raise RuntimeError("bug in a helper")
        time.sleep(0.5)

    first = agent._supervised("check web.t", lambda: threading.Thread(target=body, name="h-1"))
    first.join(5)
    agent._supervise()
    assert runs["n"] == 2 or _until(lambda: runs["n"] == 2)
    assert agent.helpers[0].thread is not first and agent.helpers[0].restarts == 1
    faults = dict(agent.state.faults)
    assert "RuntimeError('bug in a helper')" in faults["check web.t thread"]
    assert "restarted (1x)" in faults["check web.t thread"]
    assert parse_report(agent.out.getvalue().splitlines()[-1]).faults  # type: ignore[attr-defined,union-attr]


def test_keepalived_dying_removes_the_vips_at_once_and_while_it_is_down(
    tmp_path: Path, removed: list[tuple[str, tuple[str, ...]]]
) -> None:
    agent = _agent(tmp_path)
    agent.lock = object()
    agent.started_at = time.monotonic()
    assert agent._on_exit(-signal.SIGKILL) is None  # a crash, not a stop
    assert removed == [("eth0", (VIP,))]  # before the restart back-off, not after it
    assert agent.restart_at is not None and agent.state.keepalived == "exited"
    agent._handle(state.AddressesObserved(frozenset({"10.77.0.100"})))  # it came back
    assert len(removed) == 2
    agent._handle(state.AddressesObserved(frozenset({"10.77.0.1"})))  # not ours: left alone
    assert len(removed) == 2


def test_an_agent_without_the_host_lock_never_removes_vips(
    tmp_path: Path, removed: list[tuple[str, tuple[str, ...]]]
) -> None:
    agent = _agent(tmp_path)
    agent.started_at = time.monotonic()
    agent._on_exit(-signal.SIGKILL)
    agent.stopping = True
    assert agent._on_signal(signal.SIGTERM) == 0
    assert removed == []


IGNORES_TERM = (
    "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
    "print('ready', flush=True); time.sleep(60)"
)


def test_a_stop_kills_a_keepalived_that_ignores_sigterm_then_removes_the_vips(
    tmp_path: Path, removed: list[tuple[str, tuple[str, ...]]]
) -> None:
    agent = _agent(tmp_path, stop_timeout=0.3)
    agent.lock = object()
    proc = procs.spawn([sys.executable, "-c", IGNORES_TERM], stdout=subprocess.PIPE)
    try:
        assert proc.stdout is not None and proc.stdout.readline() == b"ready\n"
        agent.proc, agent.started_at = proc, time.monotonic()
        threading.Thread(target=agent._wait_child, args=(proc,), daemon=True).start()
        result: list[int] = []
        loop = threading.Thread(target=lambda: result.append(agent._loop()), daemon=True)
        t0 = time.monotonic()
        agent.post(run._Signal(signal.SIGTERM))
        loop.start()
        loop.join(5)
        assert result == [0], "the agent did not stop"
        assert time.monotonic() - t0 < 2.0
        assert proc.poll() == -signal.SIGKILL
        assert removed == [("eth0", (VIP,))]
        assert agent.state.keepalived == "stopped"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.mark.parametrize(("grace", "bound"), [(10.0, 8.0), (4.0, 2.0), (1.0, 0.5), (math.nan, 8.0)])
def test_the_stop_bound_is_inside_the_grace_period(grace: float, bound: float) -> None:
    assert run.stop_timeout_for(grace) == bound


def test_a_second_agent_waits_for_the_host_lock(tmp_path: Path) -> None:
    stack = f"t{os.getpid()}x{time.monotonic_ns() % 100000}"
    held = procs.host_lock(procs.lock_name(stack))
    assert held is not None
    agent = _agent(tmp_path, stack=stack, lock_retry=0.05)
    got: list[bool] = []
    thread = threading.Thread(target=lambda: got.append(agent._lock_host()), daemon=True)
    thread.start()
    try:
        assert _until(lambda: "waiting for the previous agent" in (agent.state.reason or ""))
        assert (tmp_path / "waiting").exists()
        time.sleep(0.2)
        assert got == [] and agent.lock is None
    finally:
        held.close()  # the previous agent exits
    thread.join(5)
    assert got == [True] and agent.lock is not None
    assert procs.host_lock(procs.lock_name(stack)) is None  # now this agent holds it


# --- audit 21: the hardened task ----------------------------------------------------------------
class _Api:
    def configs(self, filters: Any) -> list[Any]:
        return []

    def secrets(self, filters: Any) -> list[Any]:
        return []


class _Client:
    api = _Api()


def test_the_keepalived_task_drops_all_caps_and_keeps_its_run_dir_on_a_tmpfs() -> None:
    from swarmvip.agent.cli import STOP_GRACE_ENV
    from swarmvip.cluster import DockerCluster
    from swarmvip.plan.desired import DesiredService

    service = DesiredService(
        name="t_vip-n1",
        node_id="id1",
        hostname="n1",
        image="img",
        configs=(),
        secrets=(),
        stop_grace_period=7.5,
        labels=(("swarmvip.hash", "x"),),
        top_priority=150,
    )
    spec = DockerCluster(_Client())._service_spec(service)  # type: ignore[arg-type]
    container = spec["task_template"]["ContainerSpec"]
    assert container["CapabilityDrop"] == ["ALL"]
    assert container["CapabilityAdd"] == ["CAP_NET_ADMIN", "CAP_NET_RAW"]
    assert container["Env"] == [  # the hash label, and the service id Swarm fills in
        f"{STOP_GRACE_ENV}=7.5",
        "SWARMVIP_SPEC=x",
        "SWARMVIP_SERVICE_ID={{.Service.ID}}",
    ]
    (mount,) = container["Mounts"]
    assert mount["Type"] == "tmpfs" and mount["Target"] == "/run/swarmvip"
    assert mount["TmpfsOptions"]["Mode"] == 0o700
    assert mount["Target"] == str(Layout().run_dir)


@pytest.mark.parametrize("name", ["eth0", "p5p1", "enp2s0", "bond0.100", "br-lan_1"])
def test_ordinary_detected_interface_names_pass(name: str) -> None:
    from swarmvip.agent import netlink

    assert netlink.safe_name(name) == name


@pytest.mark.parametrize("name", ["eth0\ninclude /x", "a b", 'e"x', "e#0", "${X}", "a" * 16, ""])
def test_a_detected_interface_name_that_could_inject_is_refused(name: str) -> None:
    """Linux accepts such names; the agent's wrapper writes it into keepalived's config."""
    from swarmvip.agent import netlink

    with pytest.raises(netlink.InterfaceNotFound):
        netlink.safe_name(name)
