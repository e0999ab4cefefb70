"""Notify hooks: argv run on a VRRP transition (never through a shell), with bounded time.

Environment: SWARMVIP_GROUP, SWARMVIP_STATE (MASTER|BACKUP|FAULT), SWARMVIP_VIPS (space
separated, with prefix). With `args: classic` the argv also gets keepalived's positional
arguments TYPE NAME STATE PRIORITY (`INSTANCE web MASTER 150`), so a script written for
keepalived's `notify` runs unchanged. Each hook runs in its own thread so the agent's loop never
waits, and is killed after the group's `timeout`.
No exception ends a hook thread silently: an unexpected one is printed and reported through
on_fault(component, message).
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Callable

from swarmvip.agent import procs
from swarmvip.model import HOOK_TIMEOUT, HookArgs, NotifyHooks

DEFAULT_TIMEOUT = HOOK_TIMEOUT
CLASSIC_TYPE = "INSTANCE"  # keepalived's $1 for a vrrp_instance (GROUP is a sync group)


def hook_argv(hooks: NotifyHooks, state: str) -> tuple[str, ...]:
    return {"MASTER": hooks.master, "BACKUP": hooks.backup, "FAULT": hooks.fault}.get(state, ())


def hook_command(hooks: NotifyHooks, group: str, state: str, priority: int) -> tuple[str, ...]:
    """The argv to run on entering `state`: the hook's own, plus the classic arguments."""
    argv = hook_argv(hooks, state)
    if argv and hooks.args is HookArgs.CLASSIC:
        return (*argv, CLASSIC_TYPE, group, state, str(priority))
    return argv


def hook_env(group: str, state: str, vips: tuple[str, ...]) -> dict[str, str]:
    env = dict(os.environ)
    env.update(SWARMVIP_GROUP=group, SWARMVIP_STATE=state, SWARMVIP_VIPS=" ".join(vips))
    return env


FaultCallback = Callable[[str, "str | None"], None]


def _run(argv: tuple[str, ...], env: dict[str, str], timeout: float) -> None:
    try:
        proc = procs.spawn(argv, env=env, stdin=subprocess.DEVNULL, stdout=sys.stderr.fileno())
    except (OSError, ValueError) as exc:
        print(f"swarmvip agent: hook {argv[0]!r} failed to start: {exc}", file=sys.stderr)
        return
    try:
        code = proc.wait(timeout=timeout)
        if code:
            print(f"swarmvip agent: hook {argv[0]!r} exited {code}", file=sys.stderr)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        print(f"swarmvip agent: hook {argv[0]!r} killed after {timeout}s", file=sys.stderr)
    finally:
        procs.forget(proc)


def _guarded(
    argv: tuple[str, ...],
    env: dict[str, str],
    timeout: float,
    component: str,
    on_fault: FaultCallback | None,
) -> None:
    try:
        _run(argv, env, timeout)
    except Exception as exc:
        print(f"swarmvip agent: {component} failed: {exc!r}", file=sys.stderr, flush=True)
        if on_fault is not None:
            on_fault(component, f"unexpected error: {exc!r}")


def run_hook(
    hooks: NotifyHooks,
    group: str,
    state: str,
    vips: tuple[str, ...],
    timeout: float | None = None,
    on_fault: FaultCallback | None = None,
    priority: int = 0,
) -> threading.Thread | None:
    """Start the hook for `state` in a thread (None if there is no hook for it).

    timeout None: the group's own (`notify.timeout`); priority: keepalived's, for `classic`.
    """
    argv = hook_command(hooks, group, state, priority)
    if not argv:
        return None
    timeout = hooks.timeout if timeout is None else timeout
    component = f"hook {group} {state.lower()}"
    thread = threading.Thread(
        target=_guarded,
        args=(argv, hook_env(group, state, vips), timeout, component, on_fault),
        daemon=True,
    )
    thread.start()
    return thread
