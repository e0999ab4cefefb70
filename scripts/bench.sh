#!/usr/bin/env bash
# `make bench` (issue 7): failover benchmark of swarmvip's default and fast presets against a
# hand-written keepalived stack. Sets up what it needs (venv, engine, images, matplotlib in the
# venv), brings up its own lab 2 (SWARMVIP_LAB_ID=2: swarmvip-lab2-*, 10.213.2.0/24, never the
# default lab), runs bench/failover.py, writes bench/results/failover.{json,md,png}, then
# bench/presets.py (issue 13: each timer preset's failover time and false failovers with the
# holder's node CPU-saturated; bench/results/presets.{json,md}), then bench/planned_moves.py
# (issue 13: drain + undrain cycles, restart path vs runtime path, manager a member or not;
# bench/results/planned.{json,md}), then removes lab 2. Bounded: each scenario has a time
# budget; aim < 25 min, plus at most 12 min for the presets and 30 min for planned moves.
# SWARMVIP_BENCH=presets|planned (`make bench-presets`, `make bench-planned`) runs only that
# part; arguments go to the failover benchmark, $SWARMVIP_PLANNED_ARGS to planned_moves.py.
set -uo pipefail
cd "$(dirname "$0")/.."

WHAT=bench DEFAULT_LAB=2
source scripts/lab-setup.sh || exit $?
"$VENV/bin/swarmvip" lab up --nodes 4 --no-build || exit 1

rc=0
parts=${SWARMVIP_BENCH:-failover,presets,planned}
if [[ ",$parts," == *,failover,* ]]; then
    timeout 2700 "$VENV/bin/python" -m bench.failover "$@" || rc=$?
fi
if [[ ",$parts," == *,presets,* ]]; then
    timeout 720 "$VENV/bin/python" -m bench.presets || rc=$?
fi
if [[ ",$parts," == *,planned,* ]]; then   # planned moves: restart vs runtime path, 2 layouts
    # shellcheck disable=SC2086  # SWARMVIP_PLANNED_ARGS: options of bench/planned_moves.py
    timeout 2700 "$VENV/bin/python" -m bench.planned_moves ${SWARMVIP_PLANNED_ARGS:-} || rc=$?
fi
"$VENV/bin/swarmvip" lab down
exit $rc
