#!/usr/bin/env bash
# The one test command (README: `make test`). On a fresh Debian 12 machine it does all of its
# own setup: a venv with the project and its dev tools, Docker Engine (docker.io + dockerd),
# keepalived, debootstrap, the images; then lint, type checks, import contracts and every test,
# the end-to-end ones on a real 3-node swarm lab included. Prints a per-phase timing summary.
set -uo pipefail
cd "$(dirname "$0")/.."

VENV=${SWARMVIP_VENV:-.venv}
PHASES=()
START_ALL=$SECONDS

phase() {  # phase NAME COMMAND...: run, time, stop at the first failure
    local name=$1; shift
    local t0=$SECONDS
    echo "==> $name"
    "$@"
    local rc=$?
    PHASES+=("$(printf '%-10s %5ss  %s' "$name" $((SECONDS - t0)) "$([ $rc -eq 0 ] && echo ok || echo "FAILED ($rc)")")")
    if [ $rc -ne 0 ]; then summary; exit $rc; fi
}

summary() {
    echo
    echo "---- timing summary ----"
    printf '%s\n' "${PHASES[@]}"
    printf '%-10s %5ss\n' "total" $((SECONDS - START_ALL))
}

setup_venv() {
    if [ ! -x "$VENV/bin/python" ]; then
        python3 -m venv "$VENV" || { apt-get update -qq && apt-get install -y -qq python3-venv && python3 -m venv "$VENV"; } || return 1
    fi
    local stamp="$VENV/.swarmvip-installed" want
    want=$(sha256sum pyproject.toml | cut -c1-16)
    if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
        "$VENV/bin/pip" install -q -e '.[dev]' || return 1
        echo "$want" > "$stamp"
    fi
}

lint() {
    "$VENV/bin/ruff" check swarmvip tui tests bench lab &&
    "$VENV/bin/mypy" &&
    "$VENV/bin/lint-imports" >/dev/null
}

run_tests() {
    "$VENV/bin/pytest" -p no:cacheprovider "$@"
    local rc=$?
    if [ $rc -eq 5 ]; then echo "pytest collected no tests: that is a failure"; return 1; fi
    return $rc
}

phase setup   setup_venv
phase engine  bash scripts/ensure-engine.sh
phase lint    lint
phase images  "$VENV/bin/swarmvip" lab images
export SWARMVIP_NO_SKIP=1
phase tests   run_tests "$@"
summary
