"""scripts/ensure-engine.sh on a fake machine: it never installs docker.io over another Docker.

Each test builds a fake Debian machine in a temp dir and runs the real script against it. PATH
holds only fakes: stub commands (dpkg-query, dpkg, apt-get, curl, pgrep, id) that record their
calls, fake bin dirs for the docker/dockerd binaries a scenario has, and links to the few real
coreutils the script needs. No real apt-get, dpkg or dockerd is reachable, and the engine socket
is a temp one ($SWARMVIP_DOCKER_SOCK), so nothing touches the real system.

The script's stderr goes to the same append-only journal as the stubs' calls, so the journal
shows what happened in order ("installing ..." before the apt-get call).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "ensure-engine.sh"
BASH = shutil.which("bash") or "/bin/bash"
REAL_TOOLS = (
    "cat",
    "chmod",
    "dirname",
    "grep",
    "head",
    "mkdir",
    "nohup",
    "readlink",
    "setsid",
    "sleep",
    "tail",
    "timeout",
)
OTHER_DOCKER_PACKAGES = (
    "docker-ce",
    "docker-ce-cli",
    "docker-engine",
    "moby-engine",
    "moby-cli",
    "containerd.io",
    "podman-docker",
)
TOOLS = (
    "debootstrap",
    "keepalived",
    "iproute2",
    "nftables",
    "tmux",
    "openssh-client",
    "prometheus",
)

_HEADER = f"""#!{BASH}
echo "${{0##*/}} $*" >>"$FAKE_ROOT/journal"
"""

STUBS = {
    # dpkg-query -W -f=FORMAT PKG...: "PKG install ok installed" for each installed package.
    "dpkg-query": """rc=0
for a in "$@"; do
    case $a in -*) continue ;; esac
    if grep -qxF -- "$a" "$FAKE_ROOT/installed"; then
        echo "$a install ok installed"
    else
        echo "dpkg-query: no packages found matching $a" >&2
        rc=1
    fi
done
exit $rc
""",
    # dpkg -S FILE: "PKG: FILE" when a package owns FILE (owners: "PKG FILE" lines).
    "dpkg": """[ "$1" = -S ] || exit 2
while read -r pkg file; do
    if [ "$file" = "$2" ]; then echo "$pkg: $file"; exit 0; fi
done <"$FAKE_ROOT/owners"
echo "dpkg-query: no path found matching pattern $2" >&2
exit 1
""",
    # apt-get install ... PKG...: "installs" them; docker.io brings its dockerd into usr-sbin.
    "apt-get": """[ "${1:-}" = install ] || exit 0
for a in "$@"; do
    case $a in install | -*) continue ;; esac
    echo "$a" >>"$FAKE_ROOT/installed"
    if [ "$a" = docker.io ]; then
        cat "$FAKE_ROOT/dockerd.template" >"$FAKE_ROOT/usr-sbin/dockerd"
        chmod +x "$FAKE_ROOT/usr-sbin/dockerd"
        echo "docker.io $FAKE_ROOT/usr-sbin/dockerd" >>"$FAKE_ROOT/owners"
    fi
done
""",
    # curl --unix-socket SOCK ...: answers only for the sockets listed in answering.
    "curl": """sock=
while [ $# -gt 0 ]; do
    [ "$1" = --unix-socket ] && sock=$2
    shift
done
[ -n "$sock" ] && grep -qxF -- "$sock" "$FAKE_ROOT/answering" && exit 0
exit 7
""",
    "pgrep": '[ -e "$FAKE_ROOT/dockerd-running" ]\n',
    "id": 'echo "${FAKE_UID:-0}"\n',
}

# Debian's dockerd as apt-get "installs" it: it listens (-H unix://SOCK) and answers from then on.
# Without -H it uses the test's socket too, never the real /var/run/docker.sock.
DOCKERD = f"""sock=$SWARMVIP_DOCKER_SOCK
[ "${{1:-}}" = -H ] && sock=${{2#unix://}}
"{sys.executable}" -c 'import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' "$sock"
echo "$sock" >>"$FAKE_ROOT/answering"
"""


class Machine:
    """A fake Debian machine: packages, binaries with their owners, an engine socket."""

    def __init__(self, root: Path, sockdir: Path) -> None:
        self.root = root
        self.sock = sockdir / "docker.sock"
        self.stubs = root / "stubs"
        self.local_bin = root / "usr-local-bin"  # binaries that no package owns
        self.usr_sbin = root / "usr-sbin"  # binaries that packages own
        sysbin = root / "sysbin"
        for d in (self.stubs, self.local_bin, self.usr_sbin, sysbin):
            d.mkdir()
        for name in ("journal", "installed", "owners", "answering"):
            (root / name).touch()
        for name, body in STUBS.items():
            self._write(self.stubs / name, body)
        (root / "dockerd.template").write_text(_HEADER + DOCKERD)
        for tool in REAL_TOOLS:
            real = shutil.which(tool)
            assert real, f"{tool} is needed to run the script"
            (sysbin / tool).symlink_to(real)
        self.path = os.pathsep.join(map(str, (self.stubs, self.local_bin, self.usr_sbin, sysbin)))

    @staticmethod
    def _write(path: Path, body: str) -> None:
        path.write_text(_HEADER + body)
        path.chmod(0o755)

    def install(self, *packages: str) -> None:
        with (self.root / "installed").open("a") as f:
            f.writelines(f"{p}\n" for p in packages)

    def binary(self, name: str, package: str | None = None) -> Path:
        """A docker/dockerd binary; from `package` (in usr-sbin) or from none (usr-local-bin)."""
        path = (self.usr_sbin if package else self.local_bin) / name
        self._write(path, "exit 1\n" if name != "dockerd" else DOCKERD)
        if package:
            with (self.root / "owners").open("a") as f:
                f.write(f"{package} {path}\n")
        return path

    def engine_answers(self, sock: Path | None = None) -> None:
        sock = sock or self.sock
        socket.socket(socket.AF_UNIX).bind(str(sock))  # the socket file stays after close
        with (self.root / "answering").open("a") as f:
            f.write(f"{sock}\n")

    def dockerd_running(self) -> None:
        (self.root / "dockerd-running").touch()

    def run(self, **env: str) -> tuple[int, str]:
        """Run the script; returns its exit code and the journal (its stderr and stub calls)."""
        full_env = {
            "PATH": self.path,
            "HOME": str(self.root),
            "LC_ALL": "C",
            "FAKE_ROOT": str(self.root),
            "SWARMVIP_DOCKER_SOCK": str(self.sock),
            "SWARMVIP_DOCKERD_LOG": str(self.root / "log" / "dockerd.log"),
            "SWARMVIP_ENGINE_WAIT": "5",
            **env,
        }
        journal = self.root / "journal"
        with journal.open("ab") as err:
            proc = subprocess.run(
                [BASH, str(SCRIPT)],
                env=full_env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=err,
                timeout=30,
                check=False,
            )
        return proc.returncode, journal.read_text()


def calls(journal: str, command: str) -> list[str]:
    return [line for line in journal.splitlines() if line.split(" ", 1)[0] == command]


def installs_of(journal: str) -> list[str]:
    """The packages every `apt-get install` was asked for."""
    return [
        arg
        for line in calls(journal, "apt-get")
        if " install " in f"{line} "
        for arg in line.split()[2:]
        if not arg.startswith("-")
    ]


@pytest.fixture
def machine(tmp_path: Path) -> Iterator[Machine]:
    # A short dir for the socket: unix socket paths are limited to 107 bytes.
    sockdir = Path(tempfile.mkdtemp(prefix="sv-ee-"))
    try:
        yield Machine(tmp_path, sockdir)
    finally:
        shutil.rmtree(sockdir, ignore_errors=True)


# (a) an engine answers: nothing engine-related happens


def test_engine_answers_nothing_installed_installs_no_engine(machine: Machine) -> None:
    machine.engine_answers()
    rc, journal = machine.run()
    assert rc == 0, journal
    assert "docker.io" not in installs_of(journal)
    assert sorted(installs_of(journal)) == sorted(TOOLS)
    assert not calls(journal, "dockerd")


def test_engine_answers_next_to_docker_ce_installs_no_engine(machine: Machine) -> None:
    machine.install("docker-ce", "docker-ce-cli", "containerd.io", *TOOLS)
    machine.binary("dockerd", "docker-ce")
    machine.binary("docker", "docker-ce-cli")
    machine.engine_answers()
    rc, journal = machine.run()
    assert rc == 0, journal
    assert not calls(journal, "apt-get")
    assert not calls(journal, "dockerd")


def test_engine_answering_on_docker_host_unix_socket_is_enough(machine: Machine) -> None:
    other = machine.sock.with_name("other.sock")
    machine.engine_answers(other)
    rc, journal = machine.run(DOCKER_HOST=f"unix://{other}")
    assert rc == 0, journal
    assert "docker.io" not in installs_of(journal)
    assert not calls(journal, "dockerd")


def test_everything_there_is_idempotent_and_fast(machine: Machine) -> None:
    machine.install("docker.io", *TOOLS)
    machine.binary("dockerd", "docker.io")
    machine.engine_answers()
    started = time.monotonic()
    rc, journal = machine.run()
    assert rc == 0, journal
    assert time.monotonic() - started < 5
    assert not calls(journal, "apt-get")
    assert not calls(journal, "dockerd")
    assert "ensure-engine:" not in journal  # silent when there is nothing to do


# (b) another Docker is installed and its engine is down: refuse, install nothing


@pytest.mark.parametrize("package", OTHER_DOCKER_PACKAGES)
def test_other_docker_package_and_engine_down_refuses(machine: Machine, package: str) -> None:
    machine.install(package)
    rc, journal = machine.run()
    assert rc != 0, journal
    assert not calls(journal, "apt-get"), journal
    assert not calls(journal, "dockerd")
    assert package in journal
    assert "systemctl start docker" in journal
    assert "dockerd &" in journal


def test_docker_ce_down_refuses_and_says_what_to_do(machine: Machine) -> None:
    machine.install("docker-ce", "docker-ce-cli", "containerd.io")
    machine.binary("dockerd", "docker-ce")
    machine.binary("docker", "docker-ce-cli")
    rc, journal = machine.run()
    assert rc != 0, journal
    assert not calls(journal, "apt-get"), journal
    assert not calls(journal, "dockerd")
    assert "start your engine" in journal
    assert "systemctl start docker" in journal


def test_dockerd_from_no_package_refuses(machine: Machine) -> None:
    path = machine.binary("dockerd")  # a static dockerd, e.g. from download.docker.com's tarball
    rc, journal = machine.run()
    assert rc != 0, journal
    assert not calls(journal, "apt-get"), journal
    assert not calls(journal, "dockerd")
    assert str(path) in journal


def test_docker_cli_from_another_package_refuses(machine: Machine) -> None:
    machine.binary("docker", "some-docker-cli")
    rc, journal = machine.run()
    assert rc != 0, journal
    assert not calls(journal, "apt-get"), journal
    assert "some-docker-cli" in journal


def test_running_dockerd_that_does_not_answer_is_waited_for_never_replaced(
    machine: Machine,
) -> None:
    machine.dockerd_running()
    rc, journal = machine.run(SWARMVIP_ENGINE_WAIT="1")
    assert rc != 0, journal
    assert "docker.io" not in installs_of(journal)
    assert not calls(journal, "dockerd")


# (c) a fresh machine: docker.io is installed, announced first, and its dockerd started


def test_fresh_machine_announces_then_installs_docker_io_and_starts_it(machine: Machine) -> None:
    rc, journal = machine.run()
    assert rc == 0, journal
    assert "docker.io" in installs_of(journal)
    assert sorted(installs_of(journal)) == sorted(("docker.io", *TOOLS))
    lines = journal.splitlines()
    announce = next(i for i, s in enumerate(lines) if "installing Debian packages:" in s)
    first_apt = next(i for i, s in enumerate(lines) if s.startswith("apt-get "))
    assert announce < first_apt, journal
    assert "docker.io" in lines[announce]
    install = next(s for s in calls(journal, "apt-get") if " install " in s)
    assert "--no-remove" in install.split()  # apt aborts rather than remove any package
    assert len(calls(journal, "dockerd")) == 1
    assert "engine ready" in journal


def test_lone_docker_client_from_no_package_does_not_block(machine: Machine) -> None:
    # Some images ship a static docker CLI in /usr/local/bin: apt neither removes nor replaces it.
    machine.binary("docker")
    rc, journal = machine.run()
    assert rc == 0, journal
    assert "docker.io" in installs_of(journal)
    assert len(calls(journal, "dockerd")) == 1


def test_debian_dockerd_installed_but_down_is_started_not_reinstalled(machine: Machine) -> None:
    machine.install("docker.io", *TOOLS)
    machine.binary("dockerd", "docker.io")
    rc, journal = machine.run()
    assert rc == 0, journal
    assert not calls(journal, "apt-get")
    assert len(calls(journal, "dockerd")) == 1
    assert f"-H unix://{machine.sock}" in calls(journal, "dockerd")[0]


def test_not_root_installs_nothing(machine: Machine) -> None:
    rc, journal = machine.run(FAKE_UID="1000")
    assert rc != 0, journal
    assert "need root" in journal
    assert not calls(journal, "apt-get")
