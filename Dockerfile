# The swarmvip image: Debian's keepalived + python3 and wheels of swarmvip and its libraries.
# Entrypoint `swarmvip agent` (one task per node); the controller runs `swarmvip controller`.
# Build context: build/wheels/*.whl (pip wheel --no-deps . pyroute2 -w build/wheels) and
# swarmvip/agent/healthcheck.sh. An offline build works from a BASE that already has
# keepalived and python3 (e.g. a debootstrap'ed image); otherwise apt installs them.
ARG BASE=debian:bookworm-slim
FROM ${BASE}

RUN set -eu; \
    if ! command -v keepalived >/dev/null || ! command -v python3 >/dev/null; then \
        apt-get update; \
        apt-get install -y --no-install-recommends keepalived python3; \
        rm -rf /var/lib/apt/lists/*; \
    fi

# Wheels are zip files: unpacking them is all pip would do for pure-Python, no-script wheels.
COPY build/wheels/ /tmp/wheels/
RUN set -eu; \
    site=/usr/local/lib/python3.11/dist-packages; mkdir -p "$site"; \
    python3 -c 'import sys, zipfile; [zipfile.ZipFile(w).extractall(sys.argv[1]) for w in sys.argv[2:]]' \
        "$site" /tmp/wheels/*.whl; \
    rm -rf /tmp/wheels; \
    python3 -c 'import swarmvip.agent.run, pyroute2, swarmvip.ops.controller'; \
    python3 -m swarmvip --help >/dev/null  # every installed command module loads

COPY swarmvip/agent/healthcheck.sh /usr/local/bin/swarmvip-healthcheck
RUN chmod 0755 /usr/local/bin/swarmvip-healthcheck

ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1

# Exec form: the agent is PID 1, receives SIGTERM itself, forwards it to keepalived and reaps.
ENTRYPOINT ["python3", "-m", "swarmvip", "agent"]
HEALTHCHECK --interval=5s --timeout=2s --start-period=10s --retries=3 \
    CMD ["/usr/local/bin/swarmvip-healthcheck"]
