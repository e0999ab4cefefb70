"""A thin wrapper over the docker CLI: timeouts, captured output and clear errors.

The lab drives engines through the real CLI (not docker-py) because it needs pipes such as
`docker save | docker load` and talks to several engines (the host and each node's socket).
"""

from __future__ import annotations

import fcntl
import os
import subprocess
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from swarmvip.errors import ClusterError, SwarmvipError, UnavailableError

DEFAULT_TIMEOUT = 120.0


class LabError(SwarmvipError):
    """The lab could not be built, started or reached."""


class DockerError(ClusterError):
    """A docker command failed or timed out."""

    def __init__(self, argv: Sequence[str], message: str, returncode: int | None = None) -> None:
        self.argv = tuple(argv)
        self.returncode = returncode
        super().__init__(f"`{_short(argv)}` {message}")


def _short(argv: Sequence[str], limit: int = 160) -> str:
    text = " ".join(argv)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _tail(text: str, lines: int = 8) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


@dataclass(frozen=True, slots=True)
class Engine:
    """One engine reached with the docker CLI; `host` is a DOCKER_HOST url or None (default)."""

    host: str | None = None
    binary: str = "docker"

    def argv(self, *args: str) -> list[str]:
        base = [self.binary] + (["-H", self.host] if self.host else [])
        return base + list(args)

    def run(
        self,
        *args: str,
        timeout: float = DEFAULT_TIMEOUT,
        input: str | None = None,
        check: bool = True,
        cwd: Path | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """Run `docker ARGS`; raise DockerError on a non-zero exit (when check) or a timeout."""
        argv = self.argv(*args)
        try:
            done = subprocess.run(
                argv,
                input=input,
                capture_output=True,
                text=True,
                timeout=timeout,
                check=False,
                cwd=cwd,
            )
        except subprocess.TimeoutExpired as exc:
            raise DockerError(argv, f"timed out after {timeout:g}s") from exc
        except FileNotFoundError as exc:
            raise UnavailableError(f"the docker CLI ({self.binary}) is not installed") from exc
        if check and done.returncode != 0:
            raise DockerError(
                argv, f"failed ({done.returncode}): {_tail(done.stderr)}", done.returncode
            )
        return done

    def out(self, *args: str, timeout: float = DEFAULT_TIMEOUT) -> str:
        """Run and return stdout stripped."""
        return self.run(*args, timeout=timeout).stdout.strip()

    def ok(self, *args: str, timeout: float = 30.0) -> bool:
        """True when the command exits 0 (a timeout counts as failure)."""
        try:
            return self.run(*args, timeout=timeout, check=False).returncode == 0
        except DockerError:
            return False

    def run_with_stdin(self, args: Sequence[str], stdin: IO[bytes], timeout: float) -> None:
        """Run `docker ARGS` with a binary stdin (e.g. a tar stream); raise on failure."""
        argv = self.argv(*args)
        try:
            done = subprocess.run(
                argv, stdin=stdin, capture_output=True, timeout=timeout, check=False
            )
        except subprocess.TimeoutExpired as exc:
            raise DockerError(argv, f"timed out after {timeout:g}s") from exc
        if done.returncode != 0:
            err = done.stderr.decode(errors="replace")
            raise DockerError(argv, f"failed ({done.returncode}): {_tail(err)}", done.returncode)

    def answers(self, timeout: float = 5.0) -> bool:
        """True when the engine answers a version query."""
        return self.ok("version", "--format", "{{.Server.Version}}", timeout=timeout)

    def image_exists(self, image: str) -> bool:
        return self.ok("image", "inspect", "--format", "{{.Id}}", image)

    def image_label(self, image: str, label: str) -> str | None:
        """The value of one label on a local image, or None if the image is absent."""
        fmt = "{{index .Config.Labels " + _go_quote(label) + "}}"
        done = self.run("image", "inspect", "--format", fmt, image, check=False)
        if done.returncode != 0:
            return None
        value = done.stdout.strip()
        return "" if value == "<no value>" else value

    def load_file(self, path: Path, timeout: float = 300.0) -> None:
        """`docker load` an image tarball into this engine."""
        with path.open("rb") as stream:
            self.run_with_stdin(["load", "-q"], stream, timeout)


LOCAL_ENGINE = "unix:///var/run/docker.sock"


def host_engine() -> Engine:
    """The engine the lab lives on: $SWARMVIP_LAB_ENGINE, else the local socket.

    Deliberately not $DOCKER_HOST: after `eval "$(swarmvip lab env)"` that points at a lab
    node, and the lab must never be nested inside itself.
    """
    return Engine(os.environ.get("SWARMVIP_LAB_ENGINE", LOCAL_ENGINE))


@contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """An exclusive advisory lock, so concurrent `lab` runs do not build or create twice."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _go_quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def unix_host(socket_path: Path) -> str:
    """The DOCKER_HOST url of a unix socket."""
    return f"unix://{socket_path}"
