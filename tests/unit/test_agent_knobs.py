"""The agent's side of the VIP-group knobs: classic hook arguments and timeouts, the wrapper's
VIP-NIC parameters, keepalived's priority from the FIFO, and agent.json carrying the options."""

from __future__ import annotations

import dataclasses
import json
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from swarmvip.agent import hooks, keepalived, state
from swarmvip.model import HookArgs, NotifyHooks
from swarmvip.wire.agentspec import AgentSpec, from_json, to_json

from .knobs_plan import knobs_spec, planned


def test_classic_hooks_get_keepalived_s_positional_arguments() -> None:
    classic = NotifyHooks(master=("/bin/hook", "-v"), args=HookArgs.CLASSIC)
    assert hooks.hook_command(classic, "web", "MASTER", 150) == (
        "/bin/hook",
        "-v",
        "INSTANCE",
        "web",
        "MASTER",
        "150",
    )
    assert hooks.hook_command(classic, "web", "BACKUP", 150) == ()  # no hook, no arguments
    plain = NotifyHooks(master=("/bin/hook",))
    assert hooks.hook_command(plain, "web", "MASTER", 150) == ("/bin/hook",)  # as before


def test_a_hook_gets_the_group_s_timeout(tmp_path: Path) -> None:
    out = tmp_path / "args"
    script = (
        f"import sys,time; open({str(out)!r},'w').write(' '.join(sys.argv[1:])); time.sleep(30)"
    )
    notify = NotifyHooks(master=(sys.executable, "-c", script), args=HookArgs.CLASSIC, timeout=1.0)
    t0 = time.monotonic()
    thread = hooks.run_hook(notify, "web", "MASTER", ("10.0.0.100/24",), priority=142)
    assert thread is not None
    thread.join(10)
    assert not thread.is_alive() and time.monotonic() - t0 < 8  # killed after 1 s, not 10
    assert out.read_text() == "INSTANCE web MASTER 142"


def test_the_default_hook_timeout_is_unchanged() -> None:
    assert NotifyHooks().timeout == hooks.DEFAULT_TIMEOUT == 10.0


def test_the_fifo_priority_rides_along_without_changing_equality() -> None:
    event = state.parse_notify_line('INSTANCE "web" MASTER 150\n')
    assert event == state.VrrpChanged("web", "MASTER") and event is not None
    assert event.priority == 150


def test_the_wrapper_defines_each_group_s_vip_nic(tmp_path: Path) -> None:
    text = keepalived.wrapper_text(
        "eth0", {"web": "pw"}, tmp_path / "k.conf", {"dmz-b": "eth2", "lan": "eth1"}
    )
    assert text.splitlines()[1:5] == [
        "$SWARMVIP_IFACE=eth0",
        "$SWARMVIP_VIPIF_DMZ_B=eth2",
        "$SWARMVIP_VIPIF_LAN=eth1",
        "$SWARMVIP_AUTH_WEB=pw",
    ]
    assert "VIPIF" not in keepalived.wrapper_text("eth0", {}, tmp_path / "k.conf")


def test_agent_json_carries_the_options_and_hook_settings() -> None:
    node = planned(knobs_spec()).nodes[0]
    spec = AgentSpec(stack="knobs", node=node)
    assert from_json(to_json(spec)) == spec


def test_an_agent_json_from_before_the_knobs_still_reads() -> None:
    node = planned(knobs_spec()).nodes[0]
    doc: dict[str, Any] = json.loads(to_json(AgentSpec(stack="knobs", node=node)))
    for inst in doc["instances"]:
        del inst["options"], inst["notify"]["args"], inst["notify"]["timeout"]
    old = from_json(json.dumps(doc))
    for inst in old.node.instances:
        assert inst.options == type(inst.options)()
        assert inst.notify.args is HookArgs.NONE and inst.notify.timeout == 10.0


@pytest.mark.parametrize("group", ["web", "lan", "dmz-b"])
def test_each_group_round_trips_alone(group: str) -> None:
    node = planned(knobs_spec()).nodes[0]
    only = dataclasses.replace(node, instances=tuple(i for i in node.instances if i.group == group))
    assert from_json(to_json(AgentSpec("s", only))).node == only
