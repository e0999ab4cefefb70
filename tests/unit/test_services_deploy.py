"""The file's own services go to `docker stack deploy` with every -c file, stdin and variables."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

from swarmvip.ops.deploy import deploy_services


def _recording_cli(tmp_path: Path) -> tuple[str, Path]:
    out = tmp_path / "call.json"
    cli = tmp_path / "docker"
    cli.write_text(
        "#!/usr/bin/env python3\n"
        "import json, os, sys\n"
        f"json.dump({{'argv': sys.argv[1:], 'stdin': sys.stdin.read(),"
        f" 'web': os.environ.get('WEB_IMAGE')}}, open({str(out)!r}, 'w'))\n"
    )
    cli.chmod(cli.stat().st_mode | stat.S_IXUSR)
    return str(cli), out


def test_every_file_stdin_and_the_variables_reach_docker_stack_deploy(tmp_path: Path) -> None:
    cli, out = _recording_cli(tmp_path)
    env = {**os.environ, "WEB_IMAGE": "registry.example/web:1"}
    deploy_services(cli, ["base.yml", "-", "prod.yml"], "web", None, env, "services: {}\n")
    call = json.loads(out.read_text())
    assert call["argv"] == [
        "stack", "deploy", "--resolve-image", "never",
        "-c", "base.yml", "-c", "-", "-c", "prod.yml", "web",
    ]  # fmt: skip
    assert call["stdin"] == "services: {}\n" and call["web"] == "registry.example/web:1"
