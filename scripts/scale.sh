#!/usr/bin/env bash
# `make soak`: scenario 10 of the fault campaign (issue 12), scale, on its own 20-node lab 3,
# with a 60-minute soak (the issue asks for 30; the bounded report logs fill in about 42, so
# only a longer one shows memory staying flat after; neither fits in `make faults`' 30
# minutes). Brings lab 3 up with 20 nodes (one manager), runs bench/faults_scale.py (default
# --soak 3600), writes bench/results/scale.{json,md}, then removes lab 3. Arguments go to
# bench/faults_scale.py (e.g. --soak 300 for a short one).
set -uo pipefail
cd "$(dirname "$0")/.."

WHAT=scale DEFAULT_LAB=3
source scripts/lab-setup.sh || exit $?
"$VENV/bin/swarmvip" lab down >/dev/null            # a 4-node lab 3 of `make faults` goes first
"$VENV/bin/swarmvip" lab up --nodes 20 --no-build || exit 1

timeout 5400 "$VENV/bin/python" -m bench.faults_scale "$@"   # room for --soak 3600
rc=$?
"$VENV/bin/swarmvip" lab down
exit $rc
