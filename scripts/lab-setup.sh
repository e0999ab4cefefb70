# Sourced by bench.sh, faults.sh and scale.sh after `cd` to the repository, with WHAT (the
# caller's name, for messages) and DEFAULT_LAB (its lab id) set: the venv with the project,
# its dev tools and matplotlib, Docker Engine and the images, on the caller's own lab (never
# the default lab 1 that `make test` uses). Returns non-zero on the first failure.
VENV=${SWARMVIP_VENV:-.venv}
export SWARMVIP_LAB_ID=${SWARMVIP_LAB_ID:-$DEFAULT_LAB}
unset SWARMVIP_LAB_DIR
if [ -z "$SWARMVIP_LAB_ID" ] || [ "$SWARMVIP_LAB_ID" = 0 ]; then
    echo "$WHAT: refusing to run on the default lab" >&2; return 2
fi

if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv "$VENV" || { apt-get update -qq && apt-get install -y -qq python3-venv && python3 -m venv "$VENV"; } || return 1
fi
stamp="$VENV/.swarmvip-installed"
want=$(sha256sum pyproject.toml | cut -c1-16)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    "$VENV/bin/pip" install -q -e '.[dev]' || return 1
    echo "$want" > "$stamp"
fi
"$VENV/bin/python" -c 'import matplotlib' 2>/dev/null || "$VENV/bin/pip" install -q matplotlib || return 1

# Byte-compile the checkout, as pip does at install: the CLI's start is measured as users run
# it (with PYTHONDONTWRITEBYTECODE set, every command of a fresh checkout compiled it anew).
"$VENV/bin/python" -m compileall -q swarmvip tui >/dev/null || return 1

bash scripts/ensure-engine.sh || return 1
"$VENV/bin/swarmvip" lab images || return 1          # reuses built images (file lock, content hash)
