"""`swarmvip tui`: the subcommand's arguments, lazy Textual import, read-only fallback."""

from __future__ import annotations

import argparse
import subprocess
import sys
from typing import Any

import pytest

from swarmvip.cluster.connection import Endpoint
from swarmvip.commands import tui as command


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("--host")
    command.register(parser.add_subparsers(dest="command"))
    return parser.parse_args(argv)


def test_arguments() -> None:
    args = _parse(["tui"])
    assert (args.stack, args.interval, args.func) == (None, 0.5, command._cmd_tui)
    args = _parse(["--host", "ssh://m", "tui", "--stack", "lab", "--interval", "0.2"])
    assert (args.host, args.stack, args.interval) == ("ssh://m", "lab", 0.2)


def test_registering_does_not_load_textual() -> None:
    probe = (
        "import sys, argparse\nfrom swarmvip.commands import tui\n"
        "tui.register(argparse.ArgumentParser().add_subparsers())\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('textual', 'docker')))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_read_only_when_drain_module_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "swarmvip.ops.drain", None)
    actions, why = command.real_actions(Endpoint("ssh://m"))
    assert actions is None and why is not None and why.startswith("drain unavailable")


def test_command_builds_the_app_from_real_parts(monkeypatch: pytest.MonkeyPatch) -> None:
    import swarmvip_tui.app as app_module

    import swarmvip.cluster.status_source as source_module

    seen: dict[str, Any] = {}

    class Source:
        def __init__(self, connect: Any, stack: str | None, follow: bool) -> None:
            seen["source"] = (connect.args[0], stack, follow)  # the engine it connects to

    def run(self: app_module.SwarmvipApp) -> None:
        seen["app"] = (self.interval, self.label, self.actions, self.unavailable)

    monkeypatch.setattr(source_module, "ClusterSource", Source)
    monkeypatch.setattr(app_module.SwarmvipApp, "run", run)
    monkeypatch.setattr(command, "real_actions", lambda host: (None, "drain unavailable (x)"))
    assert command._cmd_tui(_parse(["--host", "ssh://m", "tui", "--stack", "lab"])) == 0
    assert seen["source"] == (Endpoint("ssh://m", source="-H"), "lab", True)
    label = "swarmvip · ssh://m (-H) · stack lab"
    assert seen["app"] == (0.5, label, None, "drain unavailable (x)")
