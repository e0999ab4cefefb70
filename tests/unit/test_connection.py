"""Connecting like the docker CLI (swarmvip.cluster.connection): which engine, which TLS, and
the docker CLI flags handed to `docker stack deploy`. Contexts are fake ones in a temp HOME;
the environment is passed explicitly (the test process's own is never read)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import docker
import pytest

from swarmvip import cli
from swarmvip.cluster.connection import (
    DEFAULT_HOST,
    TLS,
    ConflictingOptions,
    Endpoint,
    Options,
    cli_flags,
    client_kwargs,
    resolve,
)
from swarmvip.errors import ExitCode, UnavailableError

PEMS = ("ca.pem", "cert.pem", "key.pem")


def make_context(
    config: Path, name: str, host: str, skip_verify: bool | None = None, tls: bool = False
) -> Path:
    """A context as `docker context create` writes it; its TLS directory when tls."""
    ident = hashlib.sha256(name.encode()).hexdigest()
    endpoint: dict[str, Any] = {"Host": host}
    if skip_verify is not None:
        endpoint["SkipTLSVerify"] = skip_verify
    meta = config / "contexts" / "meta" / ident
    meta.mkdir(parents=True)
    doc = {"Name": name, "Metadata": {}, "Endpoints": {"docker": endpoint}}
    (meta / "meta.json").write_text(json.dumps(doc))
    tls_dir = config / "contexts" / "tls" / ident / "docker"
    if tls:
        tls_dir.mkdir(parents=True)
        for pem in PEMS:
            (tls_dir / pem).write_text("-----BEGIN-----\n")
    return tls_dir


def use_context(config: Path, name: str) -> None:
    """`docker context use NAME`: currentContext in config.json."""
    config.mkdir(parents=True, exist_ok=True)
    (config / "config.json").write_text(json.dumps({"auths": {}, "currentContext": name}))


def certs(directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for pem in PEMS:
        (directory / pem).write_text("-----BEGIN-----\n")
    return directory


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """A HOME with ~/.docker holding contexts `remote` (ssh) and `lab`, current: none."""
    config = tmp_path / ".docker"
    make_context(config, "remote", "ssh://admin@manager")
    make_context(config, "lab", "unix:///run/lab/docker.sock")
    return tmp_path


def env(home: Path, **values: str) -> dict[str, str]:
    return {"HOME": str(home), **values}


# -- precedence ---------------------------------------------------------------------------------


def test_nothing_set_is_the_local_socket(home: Path) -> None:
    assert resolve(Options(), env(home)) == Endpoint(DEFAULT_HOST, None, None, "default")


def test_precedence_from_lowest_to_highest(home: Path) -> None:
    use_context(home / ".docker", "lab")
    current = resolve(Options(), env(home))
    assert (current.host, current.context, current.source) == (
        "unix:///run/lab/docker.sock",
        "lab",
        "current context",
    )
    e = env(home, DOCKER_CONTEXT="remote")
    assert (resolve(Options(), e).context, resolve(Options(), e).source) == (
        "remote",
        "DOCKER_CONTEXT",
    )
    e["DOCKER_HOST"] = "tcp://from-env:2375"
    assert resolve(Options(), e) == Endpoint("tcp://from-env:2375", None, None, "DOCKER_HOST")
    by_flag = resolve(Options(context="lab"), e)
    assert (by_flag.host, by_flag.context, by_flag.source) == (
        "unix:///run/lab/docker.sock",
        "lab",
        "--context",
    )
    assert resolve(Options(host="ssh://m"), e) == Endpoint("ssh://m", None, None, "-H")


def test_docker_config_moves_the_contexts(tmp_path: Path) -> None:
    config = tmp_path / "elsewhere"
    make_context(config, "far", "ssh://far")
    use_context(config, "far")
    endpoint = resolve(Options(), {"HOME": str(tmp_path / "nohome"), "DOCKER_CONFIG": str(config)})
    assert (endpoint.host, endpoint.context) == ("ssh://far", "far")


def test_the_default_context_is_docker_host_or_the_socket(home: Path) -> None:
    assert resolve(Options(context="default"), env(home)).host == DEFAULT_HOST
    use_context(home / ".docker", "default")
    assert resolve(Options(), env(home)).host == DEFAULT_HOST
    e = env(home, DOCKER_CONTEXT="default")
    assert resolve(Options(), e).context is None


def test_contexts_are_found_without_a_config_json(home: Path) -> None:
    """docker-py's ContextAPI misses these (it looks beside an existing config.json only)."""
    assert not (home / ".docker" / "config.json").exists()
    assert resolve(Options(context="remote"), env(home)).host == "ssh://admin@manager"


def test_a_broken_config_json_is_no_current_context(home: Path) -> None:
    (home / ".docker" / "config.json").write_text("{not json")
    assert resolve(Options(), env(home)).host == DEFAULT_HOST


def test_host_and_context_together_are_refused(home: Path) -> None:
    with pytest.raises(ConflictingOptions, match="either -H/--host or --context"):
        resolve(Options(host="ssh://m", context="remote"), env(home))
    assert ConflictingOptions.exit_code == ExitCode.USAGE


# -- unknown contexts: a clear error, never the local socket -------------------------------------


@pytest.mark.parametrize(
    ("options", "values", "source"),
    [
        (Options(context="nope"), {}, "--context"),
        (Options(), {"DOCKER_CONTEXT": "nope"}, "DOCKER_CONTEXT"),
        (Options(), {}, "current context"),
    ],
)
def test_an_unknown_context_is_unavailable(
    home: Path, options: Options, values: dict[str, str], source: str
) -> None:
    use_context(home / ".docker", "nope")
    with pytest.raises(UnavailableError) as error:
        resolve(options, env(home, **values))
    text = str(error.value)
    assert "'nope'" in text and f"from {source}" in text and "docker context ls" in text
    assert "\n" not in text


def test_cli_exits_3_with_one_line_for_an_unknown_context(
    home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("DOCKER_HOST", "DOCKER_CONFIG", "DOCKER_CONTEXT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("DOCKER_CONTEXT", "nope")
    assert cli.main(["status"]) == ExitCode.UNAVAILABLE
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("swarmvip: error: docker context 'nope' (from DOCKER_CONTEXT)")
    assert cli.main(["--context", "gone", "drain", "node1"]) == ExitCode.UNAVAILABLE
    assert "'gone' (from --context)" in capsys.readouterr().err
    assert cli.main(["-H", "ssh://m", "--context", "remote", "status"]) == ExitCode.USAGE


def test_a_context_without_docker_endpoint_is_unavailable(home: Path) -> None:
    ident = hashlib.sha256(b"k8s").hexdigest()
    meta = home / ".docker" / "contexts" / "meta" / ident
    meta.mkdir(parents=True)
    (meta / "meta.json").write_text(json.dumps({"Name": "k8s", "Endpoints": {}}))
    with pytest.raises(UnavailableError, match="no docker endpoint"):
        resolve(Options(context="k8s"), env(home))


# -- TLS ----------------------------------------------------------------------------------------


def test_tls_environment_applies_to_dash_h(home: Path, tmp_path: Path) -> None:
    d = certs(tmp_path / "certs")
    e = env(home, DOCKER_TLS_VERIFY="1", DOCKER_CERT_PATH=str(d))
    endpoint = resolve(Options(host="tcp://m:2376"), e)
    assert endpoint.tls == TLS(True, str(d / "ca.pem"), str(d / "cert.pem"), str(d / "key.pem"))
    assert endpoint == resolve(Options(), {**e, "DOCKER_HOST": "tcp://m:2376"}).__class__(
        "tcp://m:2376", endpoint.tls, None, "-H"
    )


def test_docker_tls_verify_is_on_for_any_non_empty_value(home: Path, tmp_path: Path) -> None:
    d = certs(tmp_path / "certs")
    for value, verify in (("0", True), ("", None)):
        e = env(home, DOCKER_TLS_VERIFY=value, DOCKER_CERT_PATH=str(d))
        tls = resolve(Options(host="tcp://m:2376"), e).tls
        assert (tls.verify if tls else None) == verify


def test_cert_path_defaults_to_the_docker_config_dir(home: Path) -> None:
    certs(home / ".docker")
    tls = resolve(Options(host="tcp://m:2376", tlsverify=True), env(home)).tls
    assert tls is not None and tls.ca == str(home / ".docker" / "ca.pem")


def test_tls_without_verify_and_missing_client_files(home: Path, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    e = env(home, DOCKER_CERT_PATH=str(empty))
    assert resolve(Options(host="tcp://m:2376", tls=True), e).tls == TLS(False)
    assert resolve(Options(host="tcp://m:2376"), {**e, "DOCKER_TLS": "1"}).tls == TLS(False)
    assert resolve(Options(host="tcp://m:2376"), e).tls is None  # cert path alone: no TLS


def test_explicit_tls_files_win_and_must_exist(home: Path, tmp_path: Path) -> None:
    d = certs(tmp_path / "mine")
    options = Options(
        host="tcp://m:2376",
        tlsverify=True,
        tlscacert=str(d / "ca.pem"),
        tlscert=str(d / "cert.pem"),
        tlskey=str(d / "key.pem"),
    )
    assert resolve(options, env(home)).tls == TLS(
        True, str(d / "ca.pem"), str(d / "cert.pem"), str(d / "key.pem")
    )
    with pytest.raises(UnavailableError, match=r"--tlscert /nope: no such file"):
        resolve(Options(host="tcp://m:2376", tls=True, tlscert="/nope"), env(home))


def test_verifying_without_a_ca_is_a_clear_error(home: Path) -> None:
    with pytest.raises(UnavailableError, match="no CA certificate") as error:
        resolve(Options(host="tcp://m:2376", tlsverify=True), env(home))
    assert "\n" not in str(error.value)


def test_tls_is_for_tcp_only(home: Path, tmp_path: Path) -> None:
    d = certs(tmp_path / "certs")
    e = env(home, DOCKER_TLS_VERIFY="1", DOCKER_CERT_PATH=str(d))
    assert resolve(Options(host="ssh://m"), e).tls is None
    assert resolve(Options(), e).tls is None  # the local socket


def test_a_context_carries_its_own_tls(home: Path, tmp_path: Path) -> None:
    tls_dir = make_context(home / ".docker", "secure", "tcp://s:2376", tls=True)
    make_context(home / ".docker", "insecure", "tcp://i:2376", skip_verify=True)
    make_context(home / ".docker", "plain", "tcp://p:2375")
    e = env(home, DOCKER_TLS_VERIFY="1", DOCKER_CERT_PATH=str(tmp_path / "ignored"))
    assert resolve(Options(context="secure"), e).tls == TLS(
        True, *(str(tls_dir / pem) for pem in PEMS)
    )
    assert resolve(Options(context="insecure"), e).tls == TLS(False)
    assert resolve(Options(context="plain"), e).tls is None


# -- what docker-py and the docker CLI get ----------------------------------------------------


def test_client_kwargs(tmp_path: Path) -> None:
    d = certs(tmp_path / "certs")
    plain = client_kwargs(Endpoint("ssh://root@m"))
    assert plain == {"base_url": "ssh://root@m", "use_ssh_client": True}
    tls = TLS(True, str(d / "ca.pem"), str(d / "cert.pem"), str(d / "key.pem"))
    kwargs = client_kwargs(Endpoint("tcp://m:2376", tls))
    config = kwargs["tls"]
    assert isinstance(config, docker.tls.TLSConfig)
    assert (config.verify, config.ca_cert, config.cert) == (
        True,
        str(d / "ca.pem"),
        (str(d / "cert.pem"), str(d / "key.pem")),
    )
    unverified = client_kwargs(Endpoint("tcp://m:2376", TLS(False)))["tls"]
    assert (unverified.verify, unverified.cert) == (False, None)


def test_a_tls_client_speaks_https() -> None:
    client = docker.DockerClient(
        version="1.41", **client_kwargs(Endpoint("tcp://m:2376", TLS(False)))
    )
    assert client.api.base_url == "https://m:2376"


def test_cli_flags() -> None:
    assert cli_flags(Endpoint(DEFAULT_HOST)) == ("-H", DEFAULT_HOST)
    assert cli_flags(Endpoint("ssh://root@m", None, None, "DOCKER_HOST")) == ("-H", "ssh://root@m")
    assert cli_flags(Endpoint("ssh://a", None, "prod", "DOCKER_CONTEXT")) == ("--context", "prod")
    tls = TLS(True, "/c/ca.pem", "/c/cert.pem", "/c/key.pem")
    assert cli_flags(Endpoint("tcp://m:2376", tls)) == (
        "-H",
        "tcp://m:2376",
        "--tlsverify",
        "--tlscacert",
        "/c/ca.pem",
        "--tlscert",
        "/c/cert.pem",
        "--tlskey",
        "/c/key.pem",
    )
    assert cli_flags(Endpoint("tcp://m:2376", TLS(False))) == ("-H", "tcp://m:2376", "--tls")


def test_describe() -> None:
    assert Endpoint("ssh://m", None, "prod", "--context").describe() == "ssh://m (context prod)"
    tls = Endpoint("tcp://m:2376", TLS(True), None, "DOCKER_HOST")
    assert tls.describe() == "tcp://m:2376 (DOCKER_HOST, TLS verified)"


def test_deploy_runs_docker_stack_deploy_with_the_same_connection(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """deploy_services puts the connection flags right after the binary."""
    import subprocess

    from swarmvip.ops import deploy

    seen: list[list[str]] = []

    def run(argv: list[str], **_: Any) -> subprocess.CompletedProcess[str]:
        seen.append(argv)
        return subprocess.CompletedProcess(argv, 0, "", "")

    monkeypatch.setattr(deploy.subprocess, "run", run)
    flags = cli_flags(Endpoint("ssh://root@m"))
    deploy.deploy_services("docker", ["s.yml"], "s", None, {}, None, connection=flags)
    assert seen[0][:4] == ["docker", "-H", "ssh://root@m", "stack"]
