"""The runtime channel's swarm side (wire.command, wire.relay): the key, the relay, the index.

* ensure_control: the swarm-wide key secret (random, made here, never read back: Docker does
  not return a secret's data) and the relay service, a global service on the managers that only
  idles so the CLI can `docker exec` the sender in it with the key mounted. Both are created
  when missing and kept when present (several stacks share them).
* raft_index: the highest Version.Index of the swarm object and of the nodes. Every write to
  the swarm (a label, the write lease) raises it, so each planned move gets a fresh one.
* run_relay: `docker exec` of `swarmvip agent send` in the relay task of the engine we talk
  to (a manager, locally or over ssh://), the plan in its argument and its standard input
  attached to our exec connection and left open: if this process dies, the engine closes it
  and the relay stops the plan (agent.sender: a dead writer's plan never outlives it).
* WarmSender: the same sender exec'd before the plan is known (`send --stdin-plan`), so a
  drain's move does not wait for its Python to start; run_relay gives it the plan.
"""

from __future__ import annotations

import base64
import contextlib
import secrets
import socket as pysocket
from collections.abc import Iterator
from typing import Any

import docker.types
from docker.utils.socket import STDOUT, frames_iter

from swarmvip.errors import ClusterError
from swarmvip.wire.command import KEY_BYTES, KEY_SECRET
from swarmvip.wire.keys import (
    KIND_CONTROL_KEY,
    KIND_LABEL,
    KIND_RELAY,
    OWNER,
    OWNER_LABEL,
    RELAY_SERVICE,
)

SERVICE_NAME_LABEL = "com.docker.swarm.service.name"  # on every task container
RELAY_ARGS = ["relay"]  # after the image's entrypoint `python3 -m swarmvip agent`
SEND_ARGV = ["python3", "-m", "swarmvip", "agent", "send"]
UNKNOWN_ARGUMENT = "unrecognized arguments: --plan"  # argparse, in a relay older than --plan
UNKNOWN_STDIN_PLAN = "unrecognized arguments: --stdin-plan"  # in one older than --stdin-plan


class RelayUnavailable(ClusterError):
    """No relay task runs on the manager we talk to (or it failed): use the restart path."""


def _labels(kind: str) -> dict[str, str]:
    return {OWNER_LABEL: OWNER, KIND_LABEL: kind}


def _key_id(api: Any) -> str | None:
    for found in api.secrets(filters={"name": KEY_SECRET}):  # a name filter matches prefixes
        if found["Spec"]["Name"] == KEY_SECRET:
            return str(found["ID"])
    return None


def ensure_control(api: Any, image: str) -> None:
    key_id = _key_id(api)
    if key_id is None:
        key = secrets.token_hex(KEY_BYTES).encode()
        key_id = str(api.create_secret(KEY_SECRET, key, labels=_labels(KIND_CONTROL_KEY))["ID"])
    if any(s["Spec"]["Name"] == RELAY_SERVICE for s in api.services()):
        return
    spec = docker.types.ContainerSpec(
        image=image,
        args=RELAY_ARGS,
        labels=_labels(KIND_RELAY),
        cap_drop=["ALL"],  # it only sends UDP datagrams
        healthcheck=docker.types.Healthcheck(test=["NONE"]),  # the image's checks keepalived
        secrets=[docker.types.SecretReference(key_id, KEY_SECRET, filename=KEY_SECRET, mode=0o400)],
    )
    template = docker.types.TaskTemplate(
        container_spec=spec,
        placement=docker.types.Placement(constraints=["node.role==manager"]),
        restart_policy=docker.types.RestartPolicy(condition="any", delay=1_000_000_000),
        networks=[docker.types.NetworkAttachmentConfig(target="host")],
    )
    api.create_service(
        template,
        name=RELAY_SERVICE,
        labels=_labels(KIND_RELAY),
        mode=docker.types.ServiceMode("global"),
    )


def remove_control(api: Any) -> None:
    """The relay service, then the key (Docker refuses to remove a secret a service uses)."""
    for service in api.services(filters={"name": RELAY_SERVICE}):
        if service["Spec"]["Name"] == RELAY_SERVICE:
            api.remove_service(service["ID"])
    key_id = _key_id(api)
    if key_id is not None:
        api.remove_secret(key_id)


def raft_index(api: Any) -> int:
    indexes = [int(api.inspect_swarm()["Version"]["Index"])]
    indexes += [int(n["Version"]["Index"]) for n in api.nodes()]
    return max(indexes)


def relay_container(api: Any) -> str:
    found = api.containers(
        filters={"label": f"{SERVICE_NAME_LABEL}={RELAY_SERVICE}", "status": "running"}
    )
    if not found:
        raise RelayUnavailable(
            f"no running {RELAY_SERVICE} task on this manager (it is created by deploy; it"
            " starts on every manager within seconds)"
        )
    return str(found[0]["Id"])


def _collect(stream: Any) -> tuple[list[bytes], list[bytes]]:
    """Read an exec's (stdout, stderr) frames to the end. Closing the hijacked connection
    afterwards can fail over ssh:// (docker-py's ssh transport flushes into a pipe the
    finished `docker system dial-stdio` already closed): the output is complete by then."""
    outs: list[bytes] = []
    errs: list[bytes] = []
    try:
        for out, err in stream:
            outs += [out] if out else []
            errs += [err] if err else []
    finally:
        with contextlib.suppress(Exception):  # docker-py's own close fails in several ways
            stream.close()
    return outs, errs


class WarmSender:
    """`send --stdin-plan` exec'd in the relay before the plan is known: its Python start
    and imports (0.1-0.2 s) overlap the caller's own reads instead of delaying the move. The
    plan goes as the first line of its standard input; the connection then stays open as the
    writer's (its end stops the plan), and closing it unused ends the sender."""

    def __init__(self, api: Any) -> None:
        self.api = api
        argv = [*SEND_ARGV, "--stdin-plan"]
        container = relay_container(api)
        self.exec_id = api.exec_create(container, argv, stdin=True, stdout=True, stderr=True)["Id"]
        self.sock = api.exec_start(self.exec_id, socket=True)

    def run(self, encoded: str) -> tuple[Any, str, str]:
        """(exit code, stdout, stderr) of the sender given the base64 plan; OSError when its
        connection is gone (the relay task restarted since)."""
        raw = self.sock
        if isinstance(raw, pysocket.SocketIO):  # unix and tcp engines; ssh:// and TLS: sockets
            raw = raw._sock  # type: ignore[attr-defined]
        raw.sendall(encoded.encode() + b"\n")
        outs, errs = _collect(_demuxed(self.sock))
        return self.api.exec_inspect(self.exec_id).get("ExitCode"), _text(outs), _text(errs)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.sock.close()


def _demuxed(sock: Any) -> Iterator[tuple[bytes | None, bytes | None]]:
    """An attached exec's frames as (stdout, stderr) pairs, as exec_start(demux=True) gives."""
    for stream, data in frames_iter(sock, tty=False):
        yield (data, None) if stream == STDOUT else (None, data)


def run_relay(api: Any, plan_json: str, warm: WarmSender | None = None) -> str:
    """The relay's JSON result line; RelayUnavailable when it could not run at all.

    With `warm`, the plan goes to that sender; if it is gone, or its image is older than
    `--stdin-plan`, a new sender is exec'd as below. A relay task of an image older than
    `send --plan` (the relay service is kept as the first deploy made it) refuses the
    argument; it is then given the plan on its standard input as before, without the
    dead-writer fence."""
    encoded = base64.b64encode(plan_json.encode()).decode()  # [A-Za-z0-9+/=]: nothing to quote
    if warm is not None:
        line = _warm_result(warm, encoded)
        if line is not None:
            return line
    container = relay_container(api)
    code, out, err = _exec(api, container, [*SEND_ARGV, "--plan", encoded], stdin=True)
    if not out and UNKNOWN_ARGUMENT in err:
        legacy = ["sh", "-c", f"printf %s {encoded} | base64 -d | {' '.join(SEND_ARGV)}"]
        code, out, err = _exec(api, container, legacy, stdin=False)
    if not out:
        raise RelayUnavailable(f"the relay printed nothing (exit {code}): {err[-300:]}")
    return out.splitlines()[-1]


def _warm_result(warm: WarmSender, encoded: str) -> str | None:
    """The warm sender's result line, or None when a new sender must run the plan: it never
    got it (its connection is gone) or its image is older than `--stdin-plan`."""
    try:
        code, out, err = warm.run(encoded)
    except OSError:
        return None
    finally:
        warm.close()
    if out:
        return out.splitlines()[-1]
    if UNKNOWN_STDIN_PLAN in err:
        return None
    raise RelayUnavailable(f"the relay printed nothing (exit {code}): {err[-300:]}")


def _exec(api: Any, container: str, argv: list[str], stdin: bool) -> tuple[Any, str, str]:
    """(exit code, stdout, stderr) of `argv` exec'd in the container; with `stdin`, its
    standard input is attached to this connection and left open until it ends."""
    exec_id = api.exec_create(container, argv, stdin=stdin, stdout=True, stderr=True)["Id"]
    outs, errs = _collect(api.exec_start(exec_id, stream=True, demux=True))
    code = api.exec_inspect(exec_id).get("ExitCode")
    return code, _text(outs), _text(errs)


def _text(chunks: list[bytes]) -> str:
    return b"".join(chunks).decode(errors="replace").strip()
