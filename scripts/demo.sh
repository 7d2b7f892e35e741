#!/usr/bin/env bash
# Start cl_desktop on its embedded demo server: scripts/demo.sh [ARGS...]
# Creates or updates .venv first (see scripts/_venv.sh).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
# shellcheck source=scripts/_venv.sh
. "$ROOT/scripts/_venv.sh"
ensure_venv

exec "$ROOT/.venv/bin/python" -m cl_desktop --demo "$@"
