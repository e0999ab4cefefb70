#!/usr/bin/env bash
# `make demo`: from a fresh Debian 12 machine, a 3-node swarm lab with a VIP in front of a web
# service; then shows who holds the VIP and how to look further.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${SWARMVIP_VENV:-.venv}
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
"$VENV/bin/pip" install -q -e '.[dev]'
bash scripts/ensure-engine.sh
SV="$VENV/bin/swarmvip"
"$SV" lab up
eval "$("$SV" lab env)"
for n in node1 node2 node3; do docker node update --label-add web=true "$n" >/dev/null; done
"$SV" deploy stacks/lab-web.yml
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
cat <<MSG

Next:
  $SV tui                         # live view; d drains the selected node, u undrains
  eval "\$($SV lab env)"        # point docker and swarmvip at the lab manager
  docker stack ps lab-web
  $SV plan stacks/lab-web.yml
  $SV lab down                  # remove the lab
MSG
