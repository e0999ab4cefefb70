#!/usr/bin/env bash
# `make demo`: from a fresh Debian 12 machine, a 3-node swarm lab with a VIP in front of a web
# service; then shows who holds the VIP and how to look further.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${SWARMVIP_VENV:-.venv}
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
"$VENV/bin/pip" install -q -e '.[dev]'
bash scripts/ensure-engine.sh
SV="$(cd "$VENV/bin" && pwd)/swarmvip"  # absolute: the commands printed below work from anywhere
SVQ=$(printf %q "$SV")
ENV_CMD="eval \"\$($SVQ lab env)\""  # the exact line to copy into your shell
"$SV" lab up
eval "$("$SV" lab env)"
for n in node1 node2 node3; do docker node update --label-add web=true "$n" >/dev/null; done
"$SV" deploy --resolve-image never stacks/lab-web.yml   # the lab has no registry
echo
echo "Who holds 10.213.0.100 (seen on the nodes' interfaces):"
for c in $(docker -H unix:///var/run/docker.sock ps --filter label=swarmvip.lab=1 --format '{{.Names}}' | grep node | sort); do
    if docker -H unix:///var/run/docker.sock exec "$c" ip -br addr | grep -q '10.213.0.100/'; then
        echo "  $c"
    fi
done
echo
echo "What the agents themselves report (swarmvip status):"
sleep 2
"$SV" status --stack lab-web
NEXT=(  # command, comment; the eval comes first: the others need the lab's DOCKER_HOST
    "$ENV_CMD" "first: point docker and swarmvip at the lab manager"
    "$SVQ tui" "live view; d drains the selected node, u undrains"
    "docker stack ps lab-web" "the stack's tasks"
    "$SVQ plan $(printf %q "$PWD/stacks/lab-web.yml")" "what a deploy would change"
    "$SVQ lab down" "remove the lab"
)
W=0
for ((i = 0; i < ${#NEXT[@]}; i += 2)); do ((${#NEXT[i]} > W)) && W=${#NEXT[i]}; done
echo
echo "Next, in your shell:"
for ((i = 0; i < ${#NEXT[@]}; i += 2)); do printf '  %-*s  # %s\n' "$W" "${NEXT[i]}" "${NEXT[i + 1]}"; done
echo
echo "Copy this first, into every new shell:"
echo "  $ENV_CMD"
