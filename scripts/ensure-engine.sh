#!/usr/bin/env bash
# Make sure a Docker Engine answers on /var/run/docker.sock, on a Debian 12 machine that may have
# no systemd running. Idempotent and fast (~1 s) when everything is already there:
#   1. install the Debian packages the project needs when any is missing
#      (docker.io, debootstrap, keepalived, iproute2, tmux);
#   2. start dockerd in the background (log: $SWARMVIP_DOCKERD_LOG) unless an engine answers;
#   3. wait, bounded ($SWARMVIP_ENGINE_WAIT seconds), until it answers.
set -euo pipefail

SOCK=/var/run/docker.sock
LOG=${SWARMVIP_DOCKERD_LOG:-/var/log/swarmvip-dockerd.log}
WAIT=${SWARMVIP_ENGINE_WAIT:-60}
PACKAGES=(docker.io debootstrap keepalived iproute2 tmux)

log() { echo "ensure-engine: $*" >&2; }

engine_answers() {
    [ -S "$SOCK" ] || return 1
    # The plain HTTP ping needs no docker CLI and answers in milliseconds.
    if command -v curl >/dev/null 2>&1; then
        curl -fsS --max-time 3 --unix-socket "$SOCK" http://localhost/_ping >/dev/null 2>&1
    else
        timeout 5 docker version --format '{{.Server.Version}}' >/dev/null 2>&1
    fi
}

missing_packages() {
    local pkg
    for pkg in "${PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' \
            || echo "$pkg"
    done
}

install_missing() {
    local missing
    mapfile -t missing < <(missing_packages)
    [ "${#missing[@]}" -eq 0 ] && return 0
    [ "$(id -u)" -eq 0 ] || { log "need root to install: ${missing[*]}"; exit 1; }
    log "installing: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # --no-install-recommends keeps out containerd's and docker's optional extras.
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

start_dockerd() {
    [ "$(id -u)" -eq 0 ] || { log "need root to start dockerd"; exit 1; }
    if pgrep -x dockerd >/dev/null 2>&1; then
        log "dockerd is running but not answering yet; waiting"
        return 0
    fi
    log "starting dockerd (log: $LOG)"
    mkdir -p "$(dirname "$LOG")"
    # setsid: the daemon must outlive this script and its caller's session.
    setsid nohup dockerd >>"$LOG" 2>&1 </dev/null &
}

wait_engine() {
    local deadline=$((SECONDS + WAIT))
    until engine_answers; do
        if [ "$SECONDS" -ge "$deadline" ]; then
            log "no engine on $SOCK after ${WAIT}s; last log lines:"
            tail -n 20 "$LOG" >&2 2>/dev/null || true
            exit 1
        fi
        sleep 0.2
    done
}

main() {
    install_missing
    engine_answers && return 0
    start_dockerd
    wait_engine
    log "engine ready on $SOCK"
}

main "$@"
