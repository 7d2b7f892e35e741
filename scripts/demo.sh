#!/usr/bin/env bash
# Start cl_desktop on its embedded demo server: scripts/demo.sh [ARGS...]
# Creates or updates .venv first (see scripts/_venv.sh).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
# shellcheck source=scripts/_venv.sh
. "$ROOT/scripts/_venv.sh"
ensure_venv

if [ -f "$ROOT/cl_desktop/__main__.py" ]; then
    exec "$ROOT/.venv/bin/python" -m cl_desktop --demo "$@"
fi
# The GUI is not there yet: run the embedded service on its own.
echo "cl_desktop/__main__.py not found yet: starting the embedded service (cl_desktop.simulator)"
exec "$ROOT/.venv/bin/python" -m cl_desktop.simulator "$@"
