#!/usr/bin/env bash
# Extract the window's strings into resources/translations/cl_desktop_<LANG>.ts for translators
# (Qt Linguist: pyside6-linguist), and compile every .ts into the .qm the app loads.
#
#   scripts/update-translations.sh [LANG...]     # e.g. de fr: adds or updates those .ts files
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="$ROOT/.venv/bin"
DIR="$ROOT/resources/translations"
mkdir -p "$DIR"
for lang in "$@"; do
    "$BIN/pyside6-lupdate" "$ROOT"/cl_desktop/ui/*.py -ts "$DIR/cl_desktop_$lang.ts"
done
shopt -s nullglob
for ts in "$DIR"/*.ts; do
    "$BIN/pyside6-lupdate" "$ROOT"/cl_desktop/ui/*.py -ts "$ts"
    "$BIN/pyside6-lrelease" "$ts" -qm "${ts%.ts}.qm"
done
