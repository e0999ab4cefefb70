"""keepalived plumbing: auth secrets, the wrapper config, the command line, the notify FIFO.

The rendered config (a swarm config) uses `$SWARMVIP_IFACE`, `$SWARMVIP_AUTH_<GROUP>` and, for
a group with its own VIP NIC, `$SWARMVIP_VIPIF_<GROUP>`; the agent writes a wrapper that
defines them and includes the rendered file, so the secret never appears in a swarm config or a
log line.
"""

from __future__ import annotations

import os
import stat
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from swarmvip.model import InstancePlan
from swarmvip.wire import paths

FORBIDDEN = b"${}\"'#!"  # keepalived parameter, quote and comment syntax
MAX_SECRET = 8


class SecretError(Exception):
    """An auth secret is missing or unusable; the message never contains the secret."""


@dataclass(frozen=True, slots=True)
class Layout:
    """Where the agent reads and writes; every path is overridable for tests."""

    conf: Path = Path(paths.KEEPALIVED_CONF)
    run_dir: Path = Path(paths.RUN_DIR)
    secrets_dir: Path = Path(paths.SECRETS_DIR)
    state_dir: Path = Path(paths.STATE_DIR)  # the runtime priorities kept across restarts

    @property
    def control_key(self) -> Path:
        """The runtime priority channel's key: paths.CONTROL_KEY under secrets_dir."""
        return self.secrets_dir / Path(paths.CONTROL_KEY).name

    @property
    def wrapper(self) -> Path:
        return self.run_dir / paths.WRAPPER_NAME

    @property
    def fifo(self) -> Path:
        return self.run_dir / paths.FIFO_NAME

    @property
    def track_dir(self) -> Path:
        return self.run_dir / paths.TRACK_NAME

    @property
    def pid_file(self) -> Path:
        return self.run_dir / "keepalived.pid"

    @property
    def vrrp_pid_file(self) -> Path:
        return self.run_dir / "vrrp.pid"

    @property
    def health(self) -> Path:
        return self.run_dir / paths.HEALTH_NAME


def validate_secret(group: str, text: str | bytes) -> str:
    """The secret (one trailing newline stripped) if keepalived can use it; else SecretError.

    Checked in bytes, the same rule as the stack file's password files: 1-8 bytes of ASCII
    0x21-0x7E without $ { } " ' # !. keepalived cuts PASS at 8 bytes, so 8 non-ASCII
    characters (16 UTF-8 bytes) would be silently truncated.
    """
    data = text.encode("utf-8", "surrogateescape") if isinstance(text, str) else text
    data = data[:-1] if data.endswith(b"\n") else data
    data = data[:-1] if data.endswith(b"\r") else data
    if not 1 <= len(data) <= MAX_SECRET:
        raise SecretError(f"auth secret of group {group!r} must be 1-{MAX_SECRET} bytes")
    if any(not 0x21 <= b <= 0x7E or b in FORBIDDEN for b in data):
        raise SecretError(
            f"auth secret of group {group!r} has whitespace, a control or non-ASCII character "
            "or one of $ { } \" ' # !"
        )
    return data.decode("ascii")


def read_secrets(instances: Iterable[InstancePlan], secrets_dir: Path) -> dict[str, str]:
    """group -> validated secret, for every instance with auth_secret."""
    found: dict[str, str] = {}
    for inst in instances:
        if not inst.auth_secret:
            continue
        path = secrets_dir / inst.auth_secret
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise SecretError(f"cannot read auth secret {path} of group {inst.group!r}") from exc
        found[inst.group] = validate_secret(inst.group, data)
    return found


def wrapper_text(
    iface: str,
    secrets: dict[str, str],
    conf: Path,
    vip_ifaces: Mapping[str, str] | None = None,
) -> str:
    """vip_ifaces: {group: its VIP NIC} for the groups with `interface:` (names checked by
    netlink.safe_name)."""
    lines = [
        "# Written by the swarmvip agent at start; do not edit.",
        f"${paths.IFACE_PARAM}={iface}",
    ]
    lines += [
        f"${paths.vip_iface_param(group)}={name}"
        for group, name in sorted((vip_ifaces or {}).items())
    ]
    lines += [f"${paths.auth_param(group)}={secret}" for group, secret in sorted(secrets.items())]
    lines.append(f"include {conf}")
    return "\n".join(lines) + "\n"


def write_wrapper(
    layout: Layout,
    iface: str,
    secrets: dict[str, str],
    vip_ifaces: Mapping[str, str] | None = None,
) -> None:
    tmp = layout.wrapper.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(wrapper_text(iface, secrets, layout.conf, vip_ifaces))
    os.replace(tmp, layout.wrapper)


def command(layout: Layout, binary: str = "keepalived") -> list[str]:
    """keepalived in the foreground, VRRP only, logging to the console, pid files in run_dir."""
    return [
        binary,
        "--dont-fork",
        "--log-console",
        "--no-syslog",
        "--vrrp",
        f"--use-file={layout.wrapper}",
        f"--pid={layout.pid_file}",
        f"--vrrp_pid={layout.vrrp_pid_file}",
    ]


def ensure_fifo(path: Path) -> None:
    if path.exists() and not stat.S_ISFIFO(path.stat().st_mode):
        path.unlink()
    if not path.exists():
        os.mkfifo(path, 0o600)


class FifoReader(threading.Thread):
    """Reads keepalived's notify FIFO line by line; opened read-write so it never sees EOF."""

    def __init__(self, path: Path, on_line: Callable[[str], None]) -> None:
        super().__init__(name="notify-fifo", daemon=True)
        self.path, self.on_line = path, on_line
        self.fd = os.open(path, os.O_RDWR)

    def run(self) -> None:
        with os.fdopen(self.fd, "r", encoding="utf-8", errors="replace") as fifo:
            for line in fifo:
                self.on_line(line)
