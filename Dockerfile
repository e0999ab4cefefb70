# The swarmvip task image: Debian's keepalived + python3, swarmvip and the libraries pinned in
# requirements-image.txt. Entrypoint `swarmvip agent` (one task per node); the controller runs
# `swarmvip controller` from the same image.
#
#   docker build -t ghcr.io/swarmvip/swarmvip-agent:0.1.0 .
#
# Build arguments (all optional):
#   BASE        the Debian bookworm image both stages start from (default debian:bookworm-slim).
#               With no registry, give a local image that has python3, python3-venv,
#               keepalived and nft (the lab's debootstrapped swarmvip/base:bookworm): nothing
#               is pulled and apt is not used.
#   EXTRA_CA_CERTS  PEM text of CA certificates pip should trust besides its own bundle, for
#               networks that inspect TLS (empty: none). Used in the build stage only: the
#               task image neither contains nor records it.
# Works with the classic builder and with BuildKit/buildx (the release workflow's multi-arch).
ARG BASE=debian:bookworm-slim

# --- stage 1: wheels of swarmvip and its libraries, installed into /site -------------------
FROM ${BASE} AS wheels
RUN set -eu; \
    if ! python3 -c 'import ensurepip, venv' 2>/dev/null; then \
        apt-get update; \
        apt-get install -y --no-install-recommends python3 python3-venv ca-certificates; \
        rm -rf /var/lib/apt/lists/*; \
    fi; \
    python3 -m venv /build/venv
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 PIP_ROOT_USER_ACTION=ignore
ARG EXTRA_CA_CERTS=""
RUN set -eu; \
    if [ -n "$EXTRA_CA_CERTS" ]; then \
        bundle=$(/build/venv/bin/python -c 'import pip._vendor.certifi as c; print(c.where())'); \
        { cat "$bundle"; printf '%s\n' "$EXTRA_CA_CERTS"; } > /build/ca.pem; \
        /build/venv/bin/pip config --site set global.cert /build/ca.pem >/dev/null; \
    fi
# The libraries first: this layer is reused until requirements-image.txt changes.
COPY requirements-image.txt /build/
RUN /build/venv/bin/pip install -q --no-deps --only-binary=:all: --target /site \
        -r /build/requirements-image.txt && rm -rf /site/bin
COPY pyproject.toml README.md LICENSE /build/src/
COPY swarmvip/ /build/src/swarmvip/
COPY tui/ /build/src/tui/
RUN /build/venv/bin/pip install -q --no-deps --target /site /build/src && \
    rm -rf /site/bin

# --- stage 2: the task image ----------------------------------------------------------------
FROM ${BASE}
RUN set -eu; \
    if ! command -v keepalived >/dev/null || ! command -v python3 >/dev/null \
            || ! command -v nft >/dev/null; then \
        apt-get update; \
        apt-get install -y --no-install-recommends keepalived python3 nftables; \
        rm -rf /var/lib/apt/lists/*; \
    fi

COPY --from=wheels /site/ /opt/swarmvip/site/
COPY swarmvip/agent/healthcheck.sh /usr/local/bin/swarmvip-healthcheck
ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    PYTHONPATH=/opt/swarmvip/site PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1
RUN set -eu; \
    chmod 0755 /usr/local/bin/swarmvip-healthcheck; \
    python3 -c 'import swarmvip.agent.run, pyroute2, swarmvip.ops.controller'; \
    python3 -m swarmvip --help >/dev/null  # every installed command module loads

# Exec form: the agent is PID 1, receives SIGTERM itself, forwards it to keepalived and reaps.
ENTRYPOINT ["python3", "-m", "swarmvip", "agent"]
HEALTHCHECK --interval=5s --timeout=2s --start-period=10s --retries=3 \
    CMD ["/usr/local/bin/swarmvip-healthcheck"]
