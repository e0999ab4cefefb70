"""`x-swarmvip.agent`: environment, secrets, configs and read-only binds for the keepalived tasks.

Compose syntax throughout, so hooks and checks can do real work (a notify hook calling a cloud
API with a token from a swarm secret, a check reading a host socket). What the agent itself
relies on stays out of reach: its own variables (SWARMVIP_*, the interpreter's PYTHON* and PATH)
cannot be set, and no target may shadow its paths (/etc/swarmvip, /run/swarmvip, the auth
secrets, the image's programs). Binds are read-only binds of absolute host paths only.
"""

from __future__ import annotations

import os
import posixpath
import re
from collections.abc import Mapping
from typing import Any

from swarmvip.model import AgentTask, SecretSource, TaskBind, TaskFile
from swarmvip.spec import values
from swarmvip.spec.problems import Path, Source
from swarmvip.wire import paths

AGENT_KEYS = ("environment", "secrets", "configs", "volumes")
FILE_KEYS = ("source", "target", "mode")
VOLUME_KEYS = ("type", "source", "target", "read_only")
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
TASK_PATH = re.compile(r"^(?:/[A-Za-z0-9._@+=,~-]+)+$")
MAX_PATH = 1024
MAX_ENV_VALUE = 32 * 1024
MAX_SECRET_BYTES = 500 * 1024  # swarmkit's limits
MAX_CONFIG_BYTES = 1000 * 1024
SECRET_MODE = 0o400  # the agent and its hooks run as root
CONFIG_MODE = 0o444
# Set by the agent, the service spec or the image: the agent's own variables.
RESERVED_ENV = frozenset({"PATH", "HOSTNAME", "LD_PRELOAD", "LD_LIBRARY_PATH"})
RESERVED_ENV_PREFIXES = ("SWARMVIP_", "PYTHON")
# The agent's own trees: no target in, at or above them.
AGENT_TREES = (
    posixpath.dirname(paths.AGENT_SPEC),  # /etc/swarmvip: agent.json, keepalived.conf
    paths.RUN_DIR,
    "/opt/swarmvip",  # the image's swarmvip (Dockerfile)
    "/usr/local/bin/swarmvip-healthcheck",
    "/proc",
    "/sys",
    "/dev",
)
# The image's programs and libraries: no target in, at or above them.
IMAGE_TREES = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
# Top-level directories a target may be inside of but never be (it would hide the image's).
TOP_DIRS = ("/etc", "/run", "/var", "/opt", "/tmp", "/root", "/home", "/srv", "/mnt", "/boot")
DOCKER_SOCKETS = ("/var/run/docker.sock", "/run/docker.sock")
TARGET_HINT = "e.g. /run/app/app.sock, /etc/app/token or /host/app"


def _inside(path: str, tree: str) -> bool:
    return path == tree or path.startswith(tree.rstrip("/") + "/")


def _canonical(path: str) -> str:
    """/var/run is /run in the image (a symlink): compare what it points to."""
    return "/run" + path[len("/var/run") :] if _inside(path, "/var/run") else path


def clash(target: str) -> str | None:
    """What an absolute, normalized target would shadow in the task; None when nothing."""
    real = _canonical(target)
    if real == "/":
        return "the task's whole file system"
    for tree in (*AGENT_TREES, *IMAGE_TREES):
        if _inside(real, tree) or _inside(tree, real):
            return f"{tree} (the agent's or the image's own files)"
    if real in TOP_DIRS:
        return f"the image's {real}"
    return None


def _path(src: Source, path: Path, value: Any, what: str) -> str | None:
    """An absolute path, written normalized (no `..`, `.`, `//` or trailing `/`)."""
    if (
        not isinstance(value, str)
        or len(value) > MAX_PATH
        or not TASK_PATH.fullmatch(value)
        or posixpath.normpath(value) != value
        or ".." in value.split("/")
    ):
        src.problem(
            path,
            f"{value!r} is not an absolute {what} path (letters, digits and . _ @ + = , ~ -"
            " between slashes; no .., no // and no trailing /)",
            f"write it normalized, {TARGET_HINT}",
        )
        return None
    return value


def _target(src: Source, path: Path, value: Any, kind: str) -> str | None:
    target = _path(src, path, value, "task")
    if target is None:
        return None
    shadowed = clash(target)
    if shadowed is not None:
        src.problem(
            path,
            f"the {kind} target {target} would shadow {shadowed}",
            f"mount it elsewhere, {TARGET_HINT}",
        )
        return None
    return target


def _environment(src: Source, path: Path, raw: Any) -> tuple[tuple[str, str], ...]:
    pairs: list[tuple[Path, Any, Any]] = []
    if isinstance(raw, Mapping):
        pairs = [((*path, str(k)), k, v) for k, v in raw.items()]
    elif isinstance(raw, list):
        for i, item in enumerate(raw):
            if isinstance(item, str) and "=" in item:
                name, _, value = item.partition("=")
                pairs.append(((*path, i), name, value))
            else:
                src.problem(
                    (*path, i),
                    f"{item!r} is not KEY=VALUE",
                    "write KEY=VALUE; to pass a variable of the deploying shell write KEY=${KEY}",
                )
    else:
        src.problem(
            path,
            "environment must be a mapping or a list of KEY=VALUE",
            "e.g. environment: {API_URL: https://api.example.com} or [API_URL=https://...]",
        )
    env: dict[str, str] = {}
    for where, name, value in pairs:
        text = _env_value(src, where, name, value)
        if _env_name(src, where, name) and text is not None:
            env[name] = text  # a later entry wins, as compose merges environments
    return tuple(sorted(env.items()))


def _env_name(src: Source, path: Path, name: Any) -> bool:
    if not isinstance(name, str) or not ENV_NAME.fullmatch(name):
        src.problem(
            path,
            f"{name!r} is not a variable name",
            "letters, digits and _, not starting with a digit (e.g. API_TOKEN_FILE)",
        )
        return False
    if name in RESERVED_ENV or name.startswith(RESERVED_ENV_PREFIXES):
        src.problem(
            path,
            f"{name} is the agent's own variable (SWARMVIP_*, PYTHON*, PATH, HOSTNAME and"
            " LD_* are set by the agent, its service or its image)",
            "give your variable another name, e.g. APP_" + name.removeprefix("SWARMVIP_"),
        )
        return False
    return True


def _env_value(src: Source, path: Path, name: Any, value: Any) -> str | None:
    if isinstance(value, bool) or value is None:
        src.problem(
            path,
            f"{name} has {'no value' if value is None else 'a boolean value'}",
            f"quote the value ({name}: 'true'), or write {name}: ${{{name}}} to take it"
            " from the deploying shell",
        )
        return None
    if isinstance(value, int | float):
        value = str(value)
    if not isinstance(value, str) or "\0" in value or len(value) > MAX_ENV_VALUE:
        src.problem(
            path,
            f"the value of {name} is not a string (without NUL, at most {MAX_ENV_VALUE} bytes)",
            "write a plain string",
        )
        return None
    return value


def _mode(src: Source, path: Path, value: Any) -> int | None:
    if isinstance(value, str) and re.fullmatch(r"(?:0o?)?[0-7]{1,4}", value):
        value = int(value.removeprefix("0o") or "0", 8)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 0o777:
        src.problem(
            path,
            f"{value!r} is not a file mode",
            "write it in octal, e.g. mode: 0400 (owner read) or mode: 0440",
        )
        return None
    return value


def _declared(src: Source, doc: Mapping[str, Any], kind: str, report: bool) -> Mapping[str, Any]:
    declared = doc.get(kind)
    if isinstance(declared, Mapping):
        return declared
    if declared is not None and report:
        src.problem(
            (kind,),
            f"{kind} must be a mapping of {kind[:-1]} names",
            f"e.g. {kind}: {{app: {{file: ./app.txt}}}} or {{app: {{external: true}}}}",
        )
    return {}


def _external(entry: Mapping[str, Any]) -> bool:
    flag = entry.get("external")
    return flag is True or (isinstance(flag, str) and flag.lower() in ("true", "yes", "on", "y"))


def _read(src: Source, path: Path, file: Any, base_dir: str, limit: int) -> bytes | None:
    if not isinstance(file, str) or not file:
        src.problem(path, f"{file!r} is not a file path", "e.g. file: ./token.txt")
        return None
    name = os.path.join(base_dir, file)
    try:
        with open(name, "rb") as handle:
            data = handle.read(limit + 1)
    except OSError as exc:
        src.problem(path, f"cannot read {name}: {exc.strerror}", "create the file or fix its path")
        return None
    if not 1 <= len(data) <= limit:
        src.problem(
            path,
            f"{name} is {'empty' if not data else 'too large'}: swarm takes 1 byte to"
            f" {limit // 1024} KiB",
            "put the value in the file" if not data else "mount a smaller file",
        )
        return None
    return data


def _source(
    src: Source,
    doc: Mapping[str, Any],
    kind: str,
    name: str,
    where: Path,
    base_dir: str,
) -> SecretSource | None:
    """The top-level secret or config `name` (kind: secrets|configs) an agent mount uses."""
    entry = _declared(src, doc, kind, report=False).get(name)
    noun = kind[:-1]
    if not isinstance(entry, Mapping):
        src.problem(
            where,
            f"{noun} {name!r} is not declared under the top-level {kind}:",
            f"add {kind}: {{{name}: {{file: ./{name}.txt}}}}, or {{{name}: {{external: true}}}}"
            f" for a {noun} made with `docker {noun} create`",
        )
        return None
    if _external(entry):
        given = entry.get("name")
        obj = given if isinstance(given, str) and values.SECRET_NAME.fullmatch(given) else name
        return SecretSource(name=name, object=obj)
    if "file" not in entry:
        src.problem(
            (kind, name),
            f"{noun} {name!r} (used by x-swarmvip.agent) has neither file: nor external: true",
            f"add file: ./FILE (swarmvip creates the {noun}), or external: true for one made"
            f" with `docker {noun} create`",
        )
        return None
    limit = MAX_SECRET_BYTES if kind == "secrets" else MAX_CONFIG_BYTES
    data = _read(src, (kind, name, "file"), entry["file"], base_dir, limit)
    return None if data is None else SecretSource(name=name, data=data)


def _file_mount(
    src: Source, path: Path, raw: Any, kind: str
) -> tuple[str, Any, int | None, Path] | None:
    """(source, target as written or None, mode, path of the target) of one list entry."""
    if isinstance(raw, str):
        if not values.SECRET_NAME.fullmatch(raw):
            src.problem(path, f"{raw!r} is not a {kind[:-1]} name", "e.g. - api_token")
            return None
        return raw, None, None, path
    if not isinstance(raw, Mapping):
        src.problem(
            path,
            f"a {kind[:-1]} is a name or a mapping",
            "write - NAME, or - {source: NAME, target: /PATH, mode: 0400}",
        )
        return None
    src.unknown_keys(path, raw, FILE_KEYS)
    source = values.text(src, (*path, "source"), raw.get("source"), values.SECRET_NAME, "name")
    mode = _mode(src, (*path, "mode"), raw["mode"]) if "mode" in raw else None
    if source is None or ("mode" in raw and mode is None):
        return None
    return source, raw.get("target"), mode, (*path, "target")


def _files(
    src: Source,
    path: Path,
    raw: Any,
    doc: Mapping[str, Any],
    base_dir: str,
    kind: str,
) -> tuple[list[tuple[int, TaskFile]], dict[str, SecretSource]]:
    """The mounts of agent.secrets or agent.configs (kind), each with its list index, and the
    top-level entries they use."""
    mounts: list[tuple[int, TaskFile]] = []
    sources: dict[str, SecretSource] = {}
    if not isinstance(raw, list):
        src.problem(path, f"{kind} must be a list", f"e.g. {kind}: [app_token]")
        return mounts, sources
    for i, item in enumerate(raw):
        parsed = _file_mount(src, (*path, i), item, kind)
        if parsed is None:
            continue
        source, written, mode, where = parsed
        if kind == "secrets":
            if written is None:
                written = source  # compose's default: /run/secrets/<source>
            if isinstance(written, str) and not written.startswith("/"):
                written = f"{paths.SECRETS_DIR}/{written}"  # a name under /run/secrets
            target = _secret_target(src, where, written)
        else:
            target = _target(src, where, f"/{source}" if written is None else written, "config")
        found = sources.get(source) or _source(src, doc, kind, source, (*path, i), base_dir)
        if target is None or found is None:
            continue
        sources[source] = found
        default = SECRET_MODE if kind == "secrets" else CONFIG_MODE
        mounts.append((i, TaskFile(source, target, default if mode is None else mode)))
    return mounts, sources


def _secret_target(src: Source, path: Path, value: Any) -> str | None:
    """Secrets may also go straight into /run/secrets (a name there, not a directory)."""
    target = _path(src, path, value, "task")
    if target is None:
        return None
    if posixpath.dirname(target) == paths.SECRETS_DIR:
        return target
    return _target(src, path, target, "secret")


def _volume(src: Source, path: Path, raw: Any) -> TaskBind | None:
    fix = "bind a host path read-only: - /host/path:/path/in/task:ro"
    if isinstance(raw, str):
        parts = raw.split(":")
        if len(parts) == 2:
            src.problem(path, f"{raw!r} is a read-write mount", f"add :ro ({raw}:ro)")
            return None
        if len(parts) != 3:
            src.problem(path, f"{raw!r} is not SOURCE:TARGET:ro", fix)
            return None
        source, target, mode = parts
        if mode != "ro":
            src.problem(
                path, f"{raw!r} mounts with {mode!r}; only read-only binds", "end it in :ro"
            )
            return None
        return _bind(src, path, path, source, target)
    if not isinstance(raw, Mapping):
        src.problem(path, "a volume is SOURCE:TARGET:ro or a mapping", fix)
        return None
    src.unknown_keys(path, raw, VOLUME_KEYS)
    kind = raw.get("type", "bind")
    if kind != "bind":
        src.problem(
            (*path, "type"),
            f"a {kind!r} mount cannot be used: only read-only binds of host paths",
            "type: bind, source: /host/path, target: /path/in/task, read_only: true",
        )
        return None
    if raw.get("read_only") is not True:
        src.problem(
            (*path, "read_only"),
            "only read-only binds: the agent's tasks never write to the host",
            "add read_only: true",
        )
        return None
    return _bind(src, (*path, "source"), (*path, "target"), raw.get("source"), raw.get("target"))


def _bind(src: Source, at: Path, to: Path, source: Any, target: Any) -> TaskBind | None:
    if isinstance(source, str) and source and not source.startswith("/"):
        named = not source.startswith(".") and "/" not in source
        src.problem(
            at,
            f"{source!r} is {'a named volume' if named else 'a relative path'}: only binds of"
            " absolute host paths (the path on each node that runs the task)",
            "bind a host path read-only, e.g. /run/haproxy/admin.sock:/run/haproxy.sock:ro",
        )
        return None
    host = _path(src, at, source, "host")
    if host in DOCKER_SOCKETS:
        src.problem(
            at,
            "the Docker socket gives root on the node (read-only does not stop a socket's"
            " writes), which the hardened keepalived task never has",
            "bind only the socket of the service a check needs",
        )
        return None
    task = _target(src, to, target, "volume")
    if task is not None and _inside(_canonical(task), paths.SECRETS_DIR):
        src.problem(to, f"the volume target {task} is in {paths.SECRETS_DIR}", TARGET_HINT)
        return None
    return None if host is None or task is None else TaskBind(host, task)


def parse_agent(
    src: Source,
    raw: Any,
    doc: Mapping[str, Any],
    base_dir: str,
    auth: Mapping[str, str],
) -> tuple[AgentTask, tuple[SecretSource, ...]]:
    """The agent block and the top-level secrets it mounts (a file one read as is).

    auth: {secret key: group} of the VRRP auth secrets, mounted at /run/secrets/<key>.
    """
    path: Path = ("x-swarmvip", "agent")
    if raw is None:
        return AgentTask(), ()
    if not isinstance(raw, Mapping):
        src.problem(
            path,
            "agent must be a mapping",
            "e.g. agent: {environment: {...}, secrets: [...], configs: [...], volumes: [...]}",
        )
        return AgentTask(), ()
    src.unknown_keys(path, raw, AGENT_KEYS)
    env: tuple[tuple[str, str], ...] = ()
    if "environment" in raw:
        env = _environment(src, (*path, "environment"), raw["environment"])
    secrets, secret_sources = _files(
        src, (*path, "secrets"), raw.get("secrets", []), doc, base_dir, "secrets"
    )
    configs, config_sources = _files(
        src, (*path, "configs"), raw.get("configs", []), doc, base_dir, "configs"
    )
    if configs:
        _declared(src, doc, "configs", report=True)  # once; secrets: is checked for auth
    volumes = _volumes(src, (*path, "volumes"), raw.get("volumes", []))
    _unique_targets(
        src,
        path,
        [
            *(("secrets", i, m.target) for i, m in secrets),
            *(("configs", i, m.target) for i, m in configs),
            *(("volumes", i, b.target) for i, b in volumes),
        ],
        auth,
    )
    agent = AgentTask(
        environment=env,
        secrets=tuple(m for _, m in secrets),
        configs=tuple(m for _, m in configs),
        volumes=tuple(b for _, b in volumes),
        config_sources=tuple(config_sources[k] for k in sorted(config_sources)),
    )
    return agent, tuple(secret_sources[k] for k in sorted(secret_sources))


def _volumes(src: Source, path: Path, raw: Any) -> list[tuple[int, TaskBind]]:
    if not isinstance(raw, list):
        src.problem(
            path, "volumes must be a list", "e.g. volumes: ['/run/app.sock:/run/app.sock:ro']"
        )
        return []
    binds = [(i, _volume(src, (*path, i), item)) for i, item in enumerate(raw)]
    return [(i, b) for i, b in binds if b is not None]


def _unique_targets(
    src: Source, path: Path, mounts: list[tuple[str, int, str]], auth: Mapping[str, str]
) -> None:
    """One mount per target (kind, index, target); none on an auth secret's file."""
    taken = {
        f"{paths.SECRETS_DIR}/{key}": f"by the auth_secret of {group}"
        for key, group in auth.items()
    }
    for kind, i, target in mounts:
        real = _canonical(target)
        if real in taken:
            src.problem(
                (*path, kind, i),
                f"{target} is already mounted {taken[real]}",
                "give this mount another target",
            )
        else:
            taken[real] = f"by agent.{kind}[{i}]"
