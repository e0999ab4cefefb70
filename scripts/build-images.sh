#!/usr/bin/env bash
# Build the lab's images when missing or outdated (swarmvip/base, swarmvip/lab-node, the agent):
# starts the engine if needed, then runs `swarmvip lab images` from this checkout's venv.
# Options are passed on (e.g. --no-agent). Cache of .debs: $SWARMVIP_CACHE (/var/cache/swarmvip).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-engine.sh
PY=${SWARMVIP_VENV:-.venv}/bin/python
[ -x "$PY" ] || PY=python3
exec "$PY" -m swarmvip lab images "$@"
