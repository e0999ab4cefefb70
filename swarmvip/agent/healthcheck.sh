#!/bin/sh
# Docker HEALTHCHECK of a swarmvip task: is keepalived (per its pid file) alive?
# While the agent waits in FAULT (no interface, bad secret) it touches $RUN/waiting: report
# healthy then, because restarting the task would not help and would only hide the fault report.
RUN="${SWARMVIP_RUN_DIR:-/run/swarmvip}"
[ -e "$RUN/waiting" ] && exit 0
read -r pid < "$RUN/keepalived.pid" 2>/dev/null || exit 1
kill -0 "$pid" 2>/dev/null
