"""The file's own services go to `docker stack deploy` with every -c file, stdin and variables."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from swarmvip.errors import ClusterError, ExitCode
from swarmvip.ops.deploy import deploy_services


def _recording_cli(tmp_path: Path, exit_code: int = 0) -> tuple[str, Path]:
    """A docker CLI that records its call, says something on stdout and stderr, exits."""
    out = tmp_path / "call.json"
    cli = tmp_path / "docker"
    cli.write_text(
        "#!/usr/bin/env python3\n"
        "import json, os, sys\n"
        f"json.dump({{'argv': sys.argv[1:], 'stdin': sys.stdin.read(),"
        f" 'web': os.environ.get('WEB_IMAGE')}}, open({str(out)!r}, 'w'))\n"
        "print('Creating service web_web')\n"
        "print('image web could not be accessed on a registry', file=sys.stderr)\n"
        f"sys.exit({exit_code})\n"
    )
    cli.chmod(cli.stat().st_mode | stat.S_IXUSR)
    return str(cli), out


def test_every_file_stdin_and_the_variables_reach_docker_stack_deploy(tmp_path: Path) -> None:
    cli, out = _recording_cli(tmp_path)
    env = {**os.environ, "WEB_IMAGE": "registry.example/web:1"}
    deploy_services(cli, ["base.yml", "-", "prod.yml"], "web", None, env, "services: {}\n")
    call = json.loads(out.read_text())
    assert call["argv"] == [
        "stack", "deploy", "--with-registry-auth",
        "-c", "base.yml", "-c", "-", "-c", "prod.yml", "web",
    ]  # fmt: skip
    assert call["stdin"] == "services: {}\n" and call["web"] == "registry.example/web:1"


def test_docker_resolves_images_by_its_own_default_and_its_output_is_shown(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    cli, out = _recording_cli(tmp_path)
    deploy_services(cli, ["web.yml"], "web", None)
    argv = json.loads(out.read_text())["argv"]
    assert "--resolve-image" not in argv and "--with-registry-auth" in argv
    assert json.loads(out.read_text())["stdin"] == ""  # never waits on the terminal
    shown = capfd.readouterr()
    assert "Creating service web_web" in shown.out and "registry" in shown.err


@pytest.mark.parametrize("mode", ["always", "changed", "never"])
def test_resolve_image_and_connection_flags_pass_through(tmp_path: Path, mode: str) -> None:
    cli, out = _recording_cli(tmp_path)
    deploy_services(
        cli, ["web.yml"], "web", None, resolve_image=mode, connection=("--context", "prod")
    )
    assert json.loads(out.read_text())["argv"] == [
        "--context", "prod", "stack", "deploy", "--with-registry-auth",
        "--resolve-image", mode, "-c", "web.yml", "web",
    ]  # fmt: skip


def test_a_failing_docker_stack_deploy_is_an_error_with_one_clear_line(tmp_path: Path) -> None:
    cli, _ = _recording_cli(tmp_path, exit_code=3)
    with pytest.raises(ClusterError) as caught:
        deploy_services(cli, ["web.yml"], "web", None)
    assert caught.value.exit_code == ExitCode.FAILURE
    assert str(caught.value).startswith("docker stack deploy web failed (exit 3;")
    assert "\n" not in str(caught.value)
