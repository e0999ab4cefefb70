"""The per-node agent: PID 1 of each keepalived task.

It finds the node's interface, removes stale VIPs, runs keepalived (VRRP only) as a supervised
child, runs the stack's health checks and notify hooks, and reports what it observes as JSON
lines on stdout (see `swarmvip.wire.report`). Only `netlink` imports pyroute2; `state` and
`report` are pure; nothing here imports jinja2, yaml, docker or textual.
"""
