"""Health checks: fall/rise counting and the three probe kinds against loopback."""

from __future__ import annotations

import http.server
import socket
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from swarmvip.agent import checks
from swarmvip.agent.checks import Counter
from swarmvip.model import CheckKind, HealthCheck


def _run(results: list[bool], fall: int = 2, rise: int = 3) -> list[bool | None]:
    c, seen = Counter(), []
    for r in results:
        c = c.observe(r, fall, rise)
        seen.append(c.ok)
    return seen


def test_first_probe_sets_state() -> None:
    assert _run([False]) == [False]
    assert _run([True]) == [True]


def test_fall_and_rise() -> None:
    assert _run([True, False, True, False, False]) == [True, True, True, True, False]
    assert _run([False, True, True, False, True, True, True]) == [False] * 6 + [True]


def test_fall_one_is_immediate() -> None:
    assert _run([True, False], fall=1, rise=1) == [True, False]


@pytest.fixture
def listener() -> Iterator[int]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    yield sock.getsockname()[1]
    sock.close()


def test_tcp(listener: int) -> None:
    ok = HealthCheck("t", CheckKind.TCP, target=f"127.0.0.1:{listener}", timeout=0.5)
    assert checks.probe_tcp(ok)
    closed = HealthCheck("t", CheckKind.TCP, target="127.0.0.1:1", timeout=0.5)
    assert not checks.probe_tcp(closed)
    assert not checks.probe_tcp(HealthCheck("t", CheckKind.TCP, target="nonsense"))


def test_split_host_port() -> None:
    assert checks.split_host_port("[::1]:80") == ("::1", 80)
    assert checks.split_host_port(":8080") == ("127.0.0.1", 8080)


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200 if self.path == "/ok" else 503)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def test_http() -> None:
    server = http.server.HTTPServer(("127.0.0.1", 0), _Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        assert checks.probe_http(HealthCheck("h", CheckKind.HTTP, target=f"{base}/ok"))
        assert not checks.probe_http(HealthCheck("h", CheckKind.HTTP, target=f"{base}/bad"))
        expect = HealthCheck("h", CheckKind.HTTP, target=f"{base}/bad", expect_status=503)
        assert checks.probe_http(expect)
    finally:
        server.shutdown()


def test_command() -> None:
    def cmd(code: str, timeout: float = 2.0) -> HealthCheck:
        argv = (sys.executable, "-c", code)
        return HealthCheck("c", CheckKind.COMMAND, argv=argv, timeout=timeout)

    assert checks.probe_command(cmd("pass"))
    assert not checks.probe_command(cmd("raise SystemExit(3)"))
    assert not checks.probe_command(cmd("import time; time.sleep(5)", timeout=0.3))
    assert not checks.probe_command(HealthCheck("c", CheckKind.COMMAND, argv=("/nonexistent",)))


def test_runner_writes_track_file_on_change(tmp_path: Path, listener: int) -> None:
    seen: list[tuple[str, str, bool]] = []
    check = HealthCheck("t", CheckKind.TCP, target=f"127.0.0.1:{listener}", fall=1, rise=1)
    runner = checks.CheckRunner("web", check, tmp_path / "web.t", lambda *a: seen.append(a))
    runner.step()
    assert (tmp_path / "web.t").read_text() == "0\n" and seen == [("web", "t", True)]
    runner.step()
    assert seen == [("web", "t", True)]
    runner.check = HealthCheck("t", CheckKind.TCP, target="127.0.0.1:1", fall=1, rise=1)
    runner.step()
    assert (tmp_path / "web.t").read_text() == "1\n" and seen[-1] == ("web", "t", False)
