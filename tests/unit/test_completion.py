"""`swarmvip completion bash|zsh|fish`: scripts generated from the live parser."""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from swarmvip.cli import build_parser, main
from swarmvip.commands.completion import SHELLS, tree

ROOT = Path(__file__).resolve().parents[2]


def subcommands(parser: argparse.ArgumentParser) -> list[str]:
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return list(action.choices)


TOP = subcommands(build_parser())


def script(shell: str, capsys: pytest.CaptureFixture[str]) -> str:
    assert main(["completion", shell]) == 0
    out = capsys.readouterr().out
    assert out.endswith("\n")
    return out


def write(tmp_path: Path, shell: str, capsys: pytest.CaptureFixture[str]) -> Path:
    path = tmp_path / f"swarmvip.{shell}"
    path.write_text(script(shell, capsys))
    return path


def test_the_parser_has_the_known_commands() -> None:
    assert {"validate", "deploy", "drain", "undrain", "status", "completion"} <= set(TOP)


@pytest.mark.parametrize("shell", SHELLS)
def test_every_subcommand_and_deploys_options_are_mentioned(
    shell: str, capsys: pytest.CaptureFixture[str]
) -> None:
    out = script(shell, capsys)
    for name in TOP:
        assert name in out.split() or f"-a {name}" in out or f"'{name}:" in out, name
    for option in ("--vip-only", "--dry-run", "--timeout", "--stack", "--swarm", "--force"):
        assert option.lstrip("-") in out, option
    assert "drain" in out and "undrain" in out


def test_the_tree_follows_the_parser() -> None:
    root = tree(build_parser())
    assert [c.path for c in root.subcommands] == TOP
    deploy = next(c for c in root.subcommands if c.path == "deploy")
    flags = {f: o for o in deploy.options for f in o.flags}
    assert not flags["--vip-only"].takes_value and flags["--timeout"].takes_value
    completion = next(c for c in root.subcommands if c.path == "completion")
    assert completion.choices == SHELLS
    assert {f for o in root.options for f in o.flags} >= {"--debug", "-H", "--host", "--version"}


def test_the_command_reads_the_same_tree_as_the_parser(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """_cmd_completion finds the root through the subparsers action: same script as tree()."""
    from swarmvip.commands.completion import bash

    out = script("bash", capsys)
    assert out == bash(tree(build_parser()))


def test_bash_script_is_valid_and_completes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, "bash", capsys)
    subprocess.run(["bash", "-n", str(path)], check=True)
    probe = (
        f"source {path}\n"
        't() { COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _swarmvip; echo "${COMPREPLY[*]}"; }\n'
        "t swarmvip ''\n"
        "t swarmvip dep\n"
        "t swarmvip deploy --v\n"
        "t swarmvip -H tcp://m:2376 dr\n"
        "t swarmvip lab st\n"
        "t swarmvip lab status --\n"
        "t swarmvip lab up --managers ''\n"
        "t swarmvip completion ''\n"
        "t swarmvip drain --timeout 5 --f\n"
        "complete -p swarmvip\n"
    )
    out = subprocess.run(
        ["bash", "--norc", "--noprofile", "-c", probe],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    assert out[0].split() == TOP
    assert out[1:9] == [
        "deploy",
        "--vip-only",
        "drain",
        "status",
        "--help --json",
        "1 3",
        "bash zsh fish",
        "--force",
    ]
    assert out[9] == "complete -o default -F _swarmvip swarmvip"


def test_zsh_script(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "zsh", capsys)
    text = path.read_text()
    assert text.startswith("#compdef swarmvip\n")
    assert "compdef _swarmvip swarmvip" in text and "_describe -t commands command reply" in text
    assert "'deploy|options') reply=(" in text and "'--vip-only:skip the file" in text
    zsh = shutil.which("zsh")
    if zsh is None:  # structure only: the checks above
        return
    subprocess.run([zsh, "-n", str(path)], check=True)
    probe = (
        f"compdef() {{ :; }}; source {path}\n"
        '_swarmvip_commands ""; echo\n'
        "_swarmvip_commands lab; echo\n"
        "_swarmvip_takes_value deploy --timeout && echo valued\n"
        "_swarmvip_takes_value deploy --vip-only || echo flag\n"
        '_swarmvip_described "deploy|options"; print -r -- ${reply[(r)--vip-only:*]}\n'
    )
    out = subprocess.run(
        [zsh, "-f", "-c", probe], capture_output=True, text=True, check=True
    ).stdout.splitlines()
    assert out[0].split() == TOP
    assert "up" in out[1].split() and "status" in out[1].split()
    assert out[2:] == ["valued", "flag", "--vip-only:skip the file's ordinary services"]


def test_fish_script(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "fish", capsys)
    text = path.read_text()
    assert "complete -c swarmvip -e\n" in text
    assert "complete -c swarmvip -n '__swarmvip_at \\'deploy\\'' -l vip-only -d" in text
    assert "complete -c swarmvip -n '__swarmvip_at \\'\\'' -f -a drain -d" in text
    fish = shutil.which("fish")
    if fish is None:  # structure only: the checks above
        return
    subprocess.run([fish, "--no-execute", str(path)], check=True)
    lines = ["swarmvip dep", "swarmvip deploy --vip-o", "swarmvip lab st", "swarmvip completion z"]
    probe = f"source {path}\n" + "".join(
        f"complete -C'{line}' | string split -f1 \\t | string join ' '\n" for line in lines
    )
    done = subprocess.run([fish, "--no-config", "-c", probe], capture_output=True, text=True)
    assert done.stderr == ""  # (the exit status is string split's: 1 when a line had no tab)
    assert done.stdout.splitlines() == ["deploy", "--vip-only", "status", "zsh"]


def test_help_stays_lean_with_completion_registered() -> None:
    code = (
        "import sys, json\nfrom swarmvip.cli import main\n"
        "main(['completion', 'fish'])\n"
        "print(json.dumps(sorted(sys.modules)), file=sys.stderr)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    loaded = {m.split(".")[0] for m in json.loads(done.stderr.splitlines()[-1])}
    assert "swarmvip" in loaded
    assert not loaded & {"textual", "docker", "jinja2", "yaml", "swarmvip_tui"}


def test_an_unknown_shell_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stop:
        main(["completion", "powershell"])
    assert stop.value.code == 2
    assert "invalid choice" in capsys.readouterr().err
