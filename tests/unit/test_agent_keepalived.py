"""Secrets, the wrapper config and keepalived's command line (keepalived -t when installed)."""

from __future__ import annotations

import ipaddress
import shutil
import subprocess
from pathlib import Path

import pytest

from swarmvip.agent import keepalived
from swarmvip.agent.keepalived import Layout, SecretError
from swarmvip.model import InstancePlan, NodePlan, NotifyHooks, Preemption, Timers
from swarmvip.render import render_keepalived


def _inst(group: str = "web", auth: str | None = "websecret", vrid: int = 51) -> InstancePlan:
    return InstancePlan(
        group=group,
        vrid=vrid,
        priority=150,
        preemption=Preemption.PREFERRED,
        preempt_delay=0.0,
        timers=Timers(),
        unicast_src="10.0.0.1",
        peers=("10.0.0.2",),
        addresses=(ipaddress.ip_interface("10.0.0.100/24"),),
        checks=(),
        notify=NotifyHooks(),
        auth_secret=auth,
    )


@pytest.mark.parametrize("text", ["a", "abcdefgh", "s3cr3t\n", "P@ss%^&*\r\n"])
def test_valid_secrets(text: str) -> None:
    assert keepalived.validate_secret("web", text) == text.rstrip("\r\n")


@pytest.mark.parametrize(
    "text", ["", "\n", "abcdefghi", "a b", "a\tb", "a$b", "a{b", "a}b", 'a"b', "a'b", "a#b", "a!b"]
)
def test_invalid_secrets_never_leak(text: str) -> None:
    with pytest.raises(SecretError) as info:
        keepalived.validate_secret("web", text)
    assert "web" in str(info.value)
    if text.strip():
        assert text.strip() not in str(info.value)


def test_read_secrets(tmp_path: Path) -> None:
    (tmp_path / "websecret").write_text("pw1\n")
    assert keepalived.read_secrets([_inst(), _inst("api", None)], tmp_path) == {"web": "pw1"}
    with pytest.raises(SecretError, match="cannot read"):
        keepalived.read_secrets([_inst(auth="missing")], tmp_path)


def test_wrapper_text() -> None:
    text = keepalived.wrapper_text("eth0", {"my-web": "pw"}, Path("/etc/swarmvip/k.conf"))
    lines = text.splitlines()
    assert "$SWARMVIP_IFACE=eth0" in lines
    assert "$SWARMVIP_AUTH_MY_WEB=pw" in lines
    assert lines[-1] == "include /etc/swarmvip/k.conf"


def test_command_keeps_everything_in_run_dir(tmp_path: Path) -> None:
    argv = keepalived.command(Layout(run_dir=tmp_path))
    assert {"--dont-fork", "--log-console", "--vrrp"} <= set(argv)
    assert f"--pid={tmp_path}/keepalived.pid" in argv
    assert f"--vrrp_pid={tmp_path}/vrrp.pid" in argv
    assert f"--use-file={tmp_path}/keepalived.conf" in argv


@pytest.mark.skipif(not shutil.which("keepalived"), reason="keepalived not installed")
def test_wrapper_plus_rendered_config_passes_keepalived_t(tmp_path: Path) -> None:
    node = NodePlan("id1", "n1", None, "10.0.0.1", (_inst(), _inst("api", None, vrid=52)))
    conf = tmp_path / "rendered.conf"
    conf.write_text(render_keepalived(node, "stk", notify_fifo=str(tmp_path / "fifo")))
    layout = Layout(conf=conf, run_dir=tmp_path)
    ifaces = sorted(p.name for p in Path("/sys/class/net").iterdir() if p.name != "lo")
    if not ifaces:
        pytest.skip("no non-loopback interface")
    keepalived.write_wrapper(layout, ifaces[0], {"web": "pw"})
    assert layout.wrapper.stat().st_mode & 0o077 == 0
    result = subprocess.run(
        ["keepalived", "-t", "-f", str(layout.wrapper)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
