"""The lab's ssh (swarmvip_lab.ssh): keys and configs in the state dir, each node's sshd files,
`lab env --ssh`, and the node image that runs sshd. No lab needed: a temp state dir."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from swarmvip_lab import Lab, ssh
from swarmvip_lab.cli import register
from swarmvip_lab.layout import make_nodes
from swarmvip_lab.recipes import NODE, NODE_ENTRYPOINT_SCRIPT, NODE_SSH, NODE_SSH_SCRIPT

needs_openssh = pytest.mark.skipif(
    shutil.which("ssh-keygen") is None or shutil.which("ssh") is None,
    reason="no openssh-client (scripts/ensure-engine.sh installs it)",
)


@pytest.fixture
def state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SWARMVIP_LAB_DIR", str(tmp_path))
    return tmp_path


@needs_openssh
def test_prepare_writes_keys_configs_and_node_files(state: Path) -> None:
    nodes = make_nodes(3, state)
    assert ssh.prepare(nodes)
    d = state / "ssh"
    for name in ("id_ed25519", "id_ed25519.pub", "host_ed25519", "known_hosts", "config"):
        assert (d / name).is_file(), name
    assert (d / "id_ed25519").stat().st_mode & 0o077 == 0
    host_key = (d / "host_ed25519.pub").read_text().split()
    assert (d / "known_hosts").read_text() == f"10.213.0.* {host_key[0]} {host_key[1]}\n"
    for node in nodes:
        files = node.socket_dir / "ssh"
        assert (files / "authorized_keys").read_text() == (d / "id_ed25519.pub").read_text()
        assert (files / "ssh_host_ed25519_key").read_text() == (d / "host_ed25519").read_text()
        assert f"ListenAddress {node.ip}:22" in (files / "sshd_config").read_text()


@needs_openssh
def test_prepare_keeps_the_keys_of_an_earlier_lab(state: Path) -> None:
    ssh.prepare(make_nodes(1, state))
    first = (state / "ssh" / "id_ed25519").read_text()
    ssh.prepare(make_nodes(3, state))
    assert (state / "ssh" / "id_ed25519").read_text() == first


@needs_openssh
def test_the_wrapper_uses_the_lab_config_for_lab_addresses_only(state: Path) -> None:
    ssh.prepare(make_nodes(1, state))
    wrapper = state / "ssh" / "bin" / "ssh"

    def settings(host: str) -> dict[str, str]:
        out = subprocess.run(
            [str(wrapper), "-G", host], capture_output=True, text=True, check=True, timeout=10
        ).stdout
        return dict(line.split(" ", 1) for line in out.splitlines() if " " in line)

    lab = settings("10.213.0.12")
    assert lab["user"] == "root"
    assert lab["identityfile"] == str(state / "ssh" / "id_ed25519")
    assert lab["userknownhostsfile"] == str(state / "ssh" / "known_hosts")
    assert (lab["batchmode"], lab["stricthostkeychecking"]) == ("yes", "true")
    other = settings("example.org")
    assert other["userknownhostsfile"] != lab["userknownhostsfile"]
    assert other["batchmode"] == "no"


def test_sshd_takes_keys_only_on_the_lab_address() -> None:
    config = ssh.sshd_config(make_nodes(2, Path("/x"))[1])
    lines = set(config.splitlines())
    assert {
        "ListenAddress 10.213.0.12:22",
        "PasswordAuthentication no",
        "KbdInteractiveAuthentication no",
        "PermitRootLogin prohibit-password",
    } <= lines


def test_environment_needs_a_prepared_lab(state: Path) -> None:
    manager = make_nodes(1, state)[0]
    with pytest.raises(Exception, match="lab up"):
        ssh.environment(manager)


@needs_openssh
def test_lab_env_ssh_prints_docker_host_and_path(
    state: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import argparse

    ssh.prepare(make_nodes(3, state))
    monkeypatch.setattr(Lab, "discover", classmethod(lambda cls: Lab(nodes=3, root=state)))
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers())
    args = parser.parse_args(["lab", "env", "--ssh"])
    assert args.func(args) == 0
    out = capsys.readouterr().out.splitlines()
    assert out == [
        "export DOCKER_HOST=ssh://root@10.213.0.11",
        f'export PATH={state / "ssh" / "bin"}:"$PATH"',
    ]
    env = Lab(nodes=3, root=state).ssh_environment()
    assert env["DOCKER_HOST"] == "ssh://root@10.213.0.11"
    assert env["PATH"].startswith(f"{state / 'ssh' / 'bin'}:")


def test_node_image_runs_sshd_from_the_lab_files() -> None:
    assert "openssh-server" in NODE.packages
    assert any(f.path == NODE_SSH and f.mode == 0o755 for f in NODE.files)
    assert NODE_SSH in NODE_ENTRYPOINT_SCRIPT.split("\nexec dockerd")[0]
    assert "/usr/sbin/sshd -f /etc/ssh/swarmvip-lab.conf" in NODE_SSH_SCRIPT
    assert "etc/ssh/ssh_host_ed25519_key" in NODE.prune  # no private key baked into the image
