"""Child processes of the agent: a registry so that, as PID 1, it reaps only orphans.

subprocess.Popen waits for its own children; a zombie whose parent is this process and that is
not registered here is an orphan re-parented to PID 1 (e.g. a daemonizing hook) and is reaped.

`host_lock` is the host-wide mutual exclusion between two agents of one stack on one host: an
abstract UNIX socket `@swarmvip-<stack>`. Abstract sockets live in the network namespace, and
every keepalived task runs in the host's, so the name is host-wide; the kernel releases it when
the holding process dies, however it dies.
"""

from __future__ import annotations

import errno
import os
import signal
import socket
import subprocess
import threading
from collections.abc import Sequence
from pathlib import Path

_lock = threading.Lock()
_known: set[int] = set()


def spawn(argv: Sequence[str], **kwargs: object) -> subprocess.Popen[bytes]:
    """Popen, registered so that reap_orphans leaves it alone."""
    with _lock:
        proc = subprocess.Popen(list(argv), **kwargs)  # type: ignore[call-overload]
        _known.add(proc.pid)
    return proc  # type: ignore[no-any-return]


def forget(proc: subprocess.Popen[bytes]) -> None:
    with _lock:
        _known.discard(proc.pid)


def _zombie_children(parent: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if fields[0] == "Z" and int(fields[1]) == parent:
            found.append(int(stat.parent.name))
    return found


def reap_orphans() -> int:
    """Reap zombie children not started through spawn(); returns how many."""
    reaped = 0
    with _lock:
        for pid in _zombie_children(os.getpid()):
            if pid in _known:
                continue
            try:
                os.waitpid(pid, os.WNOHANG)
                reaped += 1
            except ChildProcessError:
                pass
    return reaped


def exit_status(returncode: int) -> int:
    """A shell-style exit status: 128+N for a child killed by signal N."""
    return 128 - returncode if returncode < 0 else returncode


def kill_stale(pid_file: Path, name: str = "keepalived") -> bool:
    """SIGKILL a leftover process named `name` whose pid is in pid_file (earlier run)."""
    try:
        pid = int(pid_file.read_text().split()[0])
        comm = Path(f"/proc/{pid}/comm").read_text().strip()
    except (OSError, ValueError, IndexError):
        return False
    if comm != name or pid == os.getpid():
        return False
    os.kill(pid, signal.SIGKILL)
    return True


def lock_name(stack: str) -> str:
    return f"swarmvip-{stack}"


def host_lock(name: str) -> socket.socket | None:
    """Bind the abstract UNIX socket @name: the socket (keep it open) or None if it is taken."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)  # not inherited by children
    try:
        sock.bind("\0" + name)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            return None
        raise
    return sock
