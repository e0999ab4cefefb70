"""Which engine to talk to, and how: resolved exactly as the docker CLI resolves it.

Precedence (docker/cli `resolveContextName`, then its default-context endpoint):

1. `-H/--host`                        (with `--context` too: an error, as docker says)
2. `--context NAME`
3. `$DOCKER_HOST`
4. `$DOCKER_CONTEXT`
5. `currentContext` in `$DOCKER_CONFIG/config.json` (`docker context use`)
6. the local socket `unix:///var/run/docker.sock`

A context is read from `$DOCKER_CONFIG/contexts/meta/<sha256(name)>/meta.json` (its `docker`
endpoint: `Host`, `SkipTLSVerify`) and `contexts/tls/<sha256(name)>/docker/{ca,cert,key}.pem`,
where `$DOCKER_CONFIG` defaults to `~/.docker`. docker-py's ContextAPI is not used: it looks
for contexts only beside an existing config.json (a machine with contexts but no config.json
finds none) and defaults SkipTLSVerify to true where the CLI defaults it to false. A context
that does not exist is an UnavailableError (exit 3) naming it, never a silent fallback.

TLS for `-H`, `$DOCKER_HOST` and the default socket comes from `--tls`, `--tlsverify`,
`--tlscacert`, `--tlscert`, `--tlskey`, `$DOCKER_TLS`, `$DOCKER_TLS_VERIFY` (any non-empty value
turns it on, as in docker) and `$DOCKER_CERT_PATH` (default `$DOCKER_CONFIG`, i.e. `~/.docker`);
a context carries its own TLS and ignores them, as in docker. TLS applies to `tcp://` hosts.

`ssh://[user@]host[:port]` runs the system `ssh` binary (docker-py `use_ssh_client=True`, what
the docker CLI does too): `~/.ssh/config`, the agent, `known_hosts`, ProxyJump and ControlMaster
all work as for `ssh` itself, and the same `ssh` on PATH serves `docker stack deploy`. (docker-py's
paramiko path would read only `~/.ssh/config` and `~/.ssh/known_hosts` and reject any other host
key; paramiko is still needed because docker-py imports it for every ssh:// url: `docker[ssh]`.)

`client_kwargs(endpoint)` gives docker-py's DockerClient arguments and `cli_flags(endpoint)` the
docker CLI's flags that reach the same engine with the same settings (for `docker stack deploy`
and `docker stack rm`), whatever the child's environment says.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from swarmvip.errors import ExitCode, SwarmvipError, UnavailableError

DEFAULT_HOST = "unix:///var/run/docker.sock"
DEFAULT_CONTEXT = "default"
CA_FILE, CERT_FILE, KEY_FILE = "ca.pem", "cert.pem", "key.pem"


class ConflictingOptions(SwarmvipError):
    """Connection options that contradict each other (nothing was done)."""

    exit_code = ExitCode.USAGE


@dataclass(frozen=True, slots=True)
class Options:
    """The connection options of the command line, as given (None / False: not given)."""

    host: str | None = None
    context: str | None = None
    tls: bool = False
    tlsverify: bool = False
    tlscacert: str | None = None
    tlscert: str | None = None
    tlskey: str | None = None


@dataclass(frozen=True, slots=True)
class TLS:
    """TLS to the engine: verify the server against `ca` (None: the system's CAs when
    verifying), present `cert`/`key` when both are set."""

    verify: bool
    ca: str | None = None
    cert: str | None = None
    key: str | None = None


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One engine: its url, its TLS, the docker context it came from (None: -H, DOCKER_HOST or
    the local socket) and what chose it (for messages)."""

    host: str
    tls: TLS | None = None
    context: str | None = None
    source: str = "default"

    def describe(self) -> str:
        """`ssh://m (context prod)`, `tcp://m:2376 (DOCKER_HOST, TLS verified)`, …"""
        how = f"context {self.context}" if self.context else self.source
        if self.tls is not None:
            how += ", TLS verified" if self.tls.verify else ", TLS unverified"
        return f"{self.host} ({how})"


def resolve(options: Options | None = None, environ: Mapping[str, str] | None = None) -> Endpoint:
    """The engine the docker CLI would talk to with these options in this environment."""
    options = options or Options()
    env = os.environ if environ is None else environ
    if options.host and options.context:
        raise ConflictingOptions(
            "conflicting options: give either -H/--host or --context, not both"
        )
    if options.host:
        return _default_context(options.host, "-H", options, env)
    if options.context:
        return _context(options.context, "--context", options, env)
    if env.get("DOCKER_HOST"):
        return _default_context(env["DOCKER_HOST"], "DOCKER_HOST", options, env)
    if env.get("DOCKER_CONTEXT"):
        return _context(env["DOCKER_CONTEXT"], "DOCKER_CONTEXT", options, env)
    current = _current_context(env)
    if current and current != DEFAULT_CONTEXT:
        return _context(current, "current context", options, env)
    return _default_context(DEFAULT_HOST, "default", options, env)


def client_kwargs(endpoint: Endpoint) -> dict[str, Any]:
    """docker.DockerClient(**kwargs, timeout=…) for the endpoint (version negotiated)."""
    from docker.tls import TLSConfig

    kwargs: dict[str, Any] = {"base_url": endpoint.host, "use_ssh_client": True}
    tls = endpoint.tls
    if tls is not None:
        pair = (tls.cert, tls.key) if tls.cert and tls.key else None
        kwargs["tls"] = TLSConfig(client_cert=pair, ca_cert=tls.ca, verify=tls.verify)
    return kwargs


def cli_flags(endpoint: Endpoint) -> tuple[str, ...]:
    """The docker CLI's global flags for the same engine and settings: `--context NAME` for a
    context (the CLI reads its TLS itself), else `-H URL` and the resolved `--tls*` flags."""
    if endpoint.context:
        return ("--context", endpoint.context)
    flags: list[str] = ["-H", endpoint.host]
    tls = endpoint.tls
    if tls is not None:
        flags.append("--tlsverify" if tls.verify else "--tls")
        for flag, path in (("--tlscacert", tls.ca), ("--tlscert", tls.cert), ("--tlskey", tls.key)):
            if path:
                flags += [flag, path]
    return tuple(flags)


# -- the default context: -H, DOCKER_HOST or the socket, with the TLS flags and variables ----


def _default_context(host: str, source: str, options: Options, env: Mapping[str, str]) -> Endpoint:
    if not host.startswith("tcp://"):  # TLS is for tcp: docker ignores it for unix and ssh
        return Endpoint(host, None, None, source)
    verify = options.tlsverify or bool(env.get("DOCKER_TLS_VERIFY"))
    if not (verify or options.tls or env.get("DOCKER_TLS")):
        return Endpoint(host, None, None, source)
    certs = Path(env.get("DOCKER_CERT_PATH") or _config_dir(env))
    ca = _tls_file(options.tlscacert, "--tlscacert", certs / CA_FILE, required=verify)
    cert = _tls_file(options.tlscert, "--tlscert", certs / CERT_FILE)
    key = _tls_file(options.tlskey, "--tlskey", certs / KEY_FILE)
    if bool(cert) != bool(key):
        raise UnavailableError(
            "TLS: a client certificate needs both --tlscert and --tlskey"
            f" (found only {cert or key})"
        )
    return Endpoint(host, TLS(verify, ca, cert, key), None, source)


def _tls_file(given: str | None, flag: str, default: Path, required: bool = False) -> str | None:
    """A file given by its flag must exist; a default one is used when it exists (docker drops a
    missing default client cert/key, and fails on a missing CA when verifying)."""
    if given:
        path = Path(given).expanduser()
        if not path.is_file():
            raise UnavailableError(f"TLS: {flag} {given}: no such file")
        return str(path)
    if default.is_file():
        return str(default)
    if required:
        raise UnavailableError(
            f"TLS: no CA certificate to verify the engine with: {default} does not exist"
            " (give --tlscacert, or set DOCKER_CERT_PATH to the directory holding ca.pem)"
        )
    return None


# -- named contexts ----------------------------------------------------------------------------


def _config_dir(env: Mapping[str, str]) -> Path:
    """$DOCKER_CONFIG, else ~/.docker (home from $HOME, as docker does)."""
    if env.get("DOCKER_CONFIG"):
        return Path(env["DOCKER_CONFIG"])
    home = env.get("HOME") or os.path.expanduser("~")
    return Path(home) / ".docker"


def _current_context(env: Mapping[str, str]) -> str | None:
    """`currentContext` of config.json (docker warns and goes on when the file is unreadable)."""
    try:
        config = json.loads((_config_dir(env) / "config.json").read_text())
    except (OSError, ValueError):
        return None
    name = config.get("currentContext") if isinstance(config, dict) else None
    return name if isinstance(name, str) and name else None


def _context(name: str, source: str, options: Options, env: Mapping[str, str]) -> Endpoint:
    if name == DEFAULT_CONTEXT:  # DOCKER_HOST (when set) or the socket, with the TLS settings
        host = env.get("DOCKER_HOST") or DEFAULT_HOST
        return _default_context(host, f"{source} {DEFAULT_CONTEXT}", options, env)
    ident = hashlib.sha256(name.encode()).hexdigest()
    contexts = _config_dir(env) / "contexts"
    meta_file = contexts / "meta" / ident / "meta.json"
    try:
        meta = json.loads(meta_file.read_text())
    except FileNotFoundError:
        raise UnavailableError(
            f"docker context {name!r} (from {source}) does not exist: `docker context ls` lists"
            f" the contexts in {contexts}"
        ) from None
    except (OSError, ValueError) as exc:
        raise UnavailableError(f"docker context {name!r}: cannot read {meta_file}: {exc}") from None
    endpoints = meta.get("Endpoints") if isinstance(meta, dict) else None
    docker = endpoints.get("docker") if isinstance(endpoints, dict) else None
    if not isinstance(docker, dict):
        raise UnavailableError(f"docker context {name!r} has no docker endpoint ({meta_file})")
    host = str(docker.get("Host") or DEFAULT_HOST)
    skip_verify = bool(docker.get("SkipTLSVerify", False))
    tls_dir = contexts / "tls" / ident / "docker"
    ca, cert, key = (tls_dir / f for f in (CA_FILE, CERT_FILE, KEY_FILE))
    tls = None
    if host.startswith("tcp://") and (skip_verify or any(p.is_file() for p in (ca, cert, key))):
        pair = cert.is_file() and key.is_file()
        tls = TLS(
            verify=not skip_verify,
            ca=str(ca) if ca.is_file() else None,
            cert=str(cert) if pair else None,
            key=str(key) if pair else None,
        )
    return Endpoint(host, tls, name, source)
