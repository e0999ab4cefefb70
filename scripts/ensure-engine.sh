#!/usr/bin/env bash
# Make sure a Docker Engine answers, on a Debian 12 machine that may have no systemd running,
# without ever harming a Docker that is already there. Idempotent and fast (~1 s) when everything
# is already there:
#   1. an engine that answers (on $SWARMVIP_DOCKER_SOCK, default /var/run/docker.sock, or on
#      $DOCKER_HOST when that is unix://...) is left alone: nothing engine-related happens;
#   2. a dockerd that runs but does not answer yet is waited for, never replaced;
#   3. when another Docker is installed (docker-ce, moby, containerd.io, podman-docker, a dockerd
#      not from Debian's docker.io, ...) nothing is installed: apt would remove it to install
#      docker.io. It says how to start that engine instead and exits 1;
#   4. it installs the missing Debian packages, saying which first: debootstrap, keepalived,
#      iproute2, nftables (the agent tests' client switch), tmux, openssh-client (the lab's
#      ssh:// tests), prometheus (promtool checks the
#      alert rules; the metrics e2e scrapes with it), and docker.io only when 1-3
#      did not apply. apt-get runs with --no-remove, so it aborts rather than remove any package;
#   5. it starts Debian's dockerd in the background (log: $SWARMVIP_DOCKERD_LOG) and waits,
#      bounded ($SWARMVIP_ENGINE_WAIT seconds), until it answers.
set -euo pipefail

DEFAULT_SOCK=/var/run/docker.sock
SOCK=${SWARMVIP_DOCKER_SOCK:-$DEFAULT_SOCK}
LOG=${SWARMVIP_DOCKERD_LOG:-/var/log/swarmvip-dockerd.log}
WAIT=${SWARMVIP_ENGINE_WAIT:-60}
STARTED=
ENGINE_PACKAGE=docker.io
TOOLS=(debootstrap keepalived iproute2 nftables tmux openssh-client prometheus)
# Packages that ship another Docker engine or CLI, or a containerd that docker.io's conflicts
# with: installing docker.io would remove them.
OTHER_DOCKERS=(
    docker-ce docker-ce-cli docker-engine docker-desktop moby-engine moby-cli moby-containerd
    moby-runc containerd.io podman-docker
)

SOCKETS=("$SOCK")
case ${DOCKER_HOST:-} in
    unix://?*) SOCKETS+=("${DOCKER_HOST#unix://}") ;;
esac

log() { echo "ensure-engine: $*" >&2; }

answers_on() {  # answers_on SOCKET: an engine answers the HTTP ping there
    [ -S "$1" ] || return 1
    # The plain HTTP ping needs no docker CLI and answers in milliseconds.
    if command -v curl >/dev/null 2>&1; then
        curl -fsS --max-time 3 --unix-socket "$1" http://localhost/_ping >/dev/null 2>&1
    elif command -v docker >/dev/null 2>&1; then
        timeout 5 docker -H "unix://$1" version --format '{{.Server.Version}}' >/dev/null 2>&1
    else
        return 1
    fi
}

engine_answers() {
    local s
    for s in "${SOCKETS[@]}"; do
        answers_on "$s" && return 0
    done
    return 1
}

package_states() {  # package_states PKG...: "NAME STATUS" for each package dpkg knows about
    dpkg-query -W -f='${Package} ${Status}\n' "$@" 2>/dev/null \
        | while read -r name _want _flag status; do echo "$name $status"; done || true
}

missing_packages() {  # missing_packages PKG...: those not installed
    local installed pkg
    installed=$(package_states "$@" | while read -r name status; do
        [ "$status" = installed ] && echo "$name"
    done || true)
    for pkg in "$@"; do
        grep -qxF -- "$pkg" <<<"$installed" || echo "$pkg"
    done
}

package_of() {  # package_of FILE: the Debian package that ships FILE (or its target), or nothing
    local f out
    for f in "$1" "$(readlink -f -- "$1" || true)"; do
        [ -n "$f" ] || continue
        out=$(dpkg -S "$f" 2>/dev/null | grep -v '^diversion by' | head -n 1) || true
        if [ -n "$out" ]; then
            out=${out%%: *}   # "docker.io: /usr/sbin/dockerd" -> docker.io
            out=${out%%,*}    # "pkg1, pkg2: ..." -> pkg1
            echo "${out%%:*}" # "pkg:amd64" -> pkg
            return 0
        fi
    done
    return 0
}

other_dockers() {  # print every Docker here that is not Debian's docker.io, one a line
    local name status bin path owner
    while read -r name status; do
        case $status in
            not-installed | config-files | "") ;;
            *) echo "package $name" ;;
        esac
    done < <(package_states "${OTHER_DOCKERS[@]}")
    for bin in dockerd docker; do
        path=$(command -v "$bin") || continue
        owner=$(package_of "$path")
        if [ "$owner" = "$ENGINE_PACKAGE" ]; then
            continue
        elif [ -n "$owner" ]; then
            echo "$bin at $path (from package $owner)"
        elif [ "$bin" = dockerd ] || [[ $path == /snap/* ]]; then
            echo "$bin at $path (not from any Debian package)"
        else
            # A lone client binary that no package owns (a static docker CLI, as some images
            # ship in /usr/local/bin): apt neither removes nor replaces it, and it runs no engine.
            log "note: $path is a docker client from no Debian package; it is left as it is"
        fi
    done
}

refuse_if_other_docker() {
    local found
    found=$(other_dockers)
    [ -z "$found" ] && return 0
    log "no engine answers on ${SOCKETS[*]}, and another Docker is installed here:"
    while IFS= read -r line; do log "    $line"; done <<<"$found"
    log "installing Debian's $ENGINE_PACKAGE would remove or shadow it, so nothing was installed."
    log "start your engine instead, then run this again:"
    log "    systemctl start docker      # with systemd"
    log "    dockerd &                   # without systemd (as root)"
    log "or, if it listens on another socket: export DOCKER_HOST=unix:///path/to/docker.sock"
    exit 1
}

install_missing() {  # install_missing PKG...: install those not installed yet, saying so first
    local missing
    mapfile -t missing < <(missing_packages "$@")
    [ "${#missing[@]}" -eq 0 ] && return 0
    if [ "$(id -u)" -ne 0 ]; then
        log "need root to install Debian packages: ${missing[*]}"
        exit 1
    fi
    log "installing Debian packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # --no-install-recommends keeps out containerd's and docker's optional extras;
    # --no-remove makes apt abort rather than remove any package to make room.
    apt-get install -y -qq --no-install-recommends --no-remove "${missing[@]}" >/dev/null
}

dockerd_running() { pgrep -x dockerd >/dev/null 2>&1; }

start_dockerd() {
    [ "$(id -u)" -eq 0 ] || { log "need root to start dockerd"; exit 1; }
    local args=()
    [ "$SOCK" = "$DEFAULT_SOCK" ] || args=(-H "unix://$SOCK")
    log "starting dockerd (log: $LOG)"
    mkdir -p "$(dirname "$LOG")"
    # setsid: the daemon must outlive this script and its caller's session.
    setsid nohup dockerd "${args[@]}" >>"$LOG" 2>&1 </dev/null &
    STARTED=1
}

wait_engine() {
    local deadline=$((SECONDS + WAIT))
    until engine_answers; do
        if [ "$SECONDS" -ge "$deadline" ]; then
            log "no engine answers on ${SOCKETS[*]} after ${WAIT}s"
            if [ -n "$STARTED" ]; then
                log "last lines of $LOG:"
                tail -n 20 "$LOG" >&2 2>/dev/null || true
            fi
            exit 1
        fi
        sleep 0.2
    done
}

main() {
    if engine_answers; then
        install_missing "${TOOLS[@]}"
        return 0
    fi
    if dockerd_running; then
        log "dockerd is running but not answering yet; waiting"
        wait_engine
        install_missing "${TOOLS[@]}"
        return 0
    fi
    refuse_if_other_docker
    install_missing "$ENGINE_PACKAGE" "${TOOLS[@]}"
    start_dockerd
    wait_engine
    log "engine ready on $SOCK"
}

main "$@"
