#!/usr/bin/env bash
# Build the one-folder application with PyInstaller, then smoke-check the built programs.
#
#   scripts/package.sh            build dist/cl-desktop/ (cl-desktop, cl-transfer), then check
#   scripts/package.sh --check    only check an existing dist/cl-desktop/
#
# PyInstaller is no runtime or test dependency of the project: it lives in a build venv of its
# own, .venv-build (CL_BUILD_VENV moves it; PYTHON chooses the interpreter, which must be built
# with a shared libpython, as python.org's, Debian's and pyenv's default builds are). The venv
# gets PyInstaller and the project's runtime dependencies from pyproject.toml, and is updated
# only when pyproject.toml or this script changed. Work files go to build/pyinstaller/.
#
# The smoke check runs the built programs, never the source tree: `cl-desktop --version`,
# `cl-transfer --version`, `cl-desktop --self-test` with QT_QPA_PLATFORM=offscreen (the window
# on the bundled demo service, in a scratch data folder; exit 0 once its libraries are listed),
# and a file uploaded and downloaded again with cl-transfer (the embedded service from the
# source tree as its server). scripts/test.sh runs this script as a stage on a full run
# (CL_SKIP_PACKAGE=1 skips it).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${CL_BUILD_VENV:-$ROOT/.venv-build}"
PYINSTALLER_REQ="pyinstaller>=6.10,<7"
DIST="$ROOT/dist"
APP="$DIST/cl-desktop"

log() { echo "package: $*"; }
die() { echo "package: error: $*" >&2; exit 1; }

ensure_build_venv() {
    local python="${PYTHON:-python3}" stamp="$VENV/.cl-desktop-build" hash
    if [ ! -x "$VENV/bin/python" ]; then
        log "creating the build venv $VENV"
        "$python" -m venv "$VENV" || die "could not create $VENV with $python"
    fi
    hash="$(cat "$ROOT/pyproject.toml" "${BASH_SOURCE[0]}" | sha256sum | cut -d' ' -f1)"
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$hash" ]; then
        return
    fi
    local deps
    # the runtime dependencies only: the project itself is analysed from the source tree
    mapfile -t deps < <("$VENV/bin/python" -c '
import tomllib
for dep in tomllib.load(open("pyproject.toml", "rb"))["project"]["dependencies"]:
    print(dep)' ) || die "could not read the dependencies from pyproject.toml"
    log "pip install $PYINSTALLER_REQ ${deps[*]}"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
        "$PYINSTALLER_REQ" "${deps[@]}" || die "pip install failed"
    echo "$hash" >"$stamp"
}

build() {
    log "building $APP"
    rm -rf "$APP"
    "$VENV/bin/pyinstaller" --noconfirm --log-level WARN \
        --distpath "$DIST" --workpath "$ROOT/build/pyinstaller" \
        "$ROOT/packaging/cl-desktop.spec" || die "PyInstaller failed"
}

check() {
    local version expected scratch
    [ -x "$APP/cl-desktop" ] || die "$APP/cl-desktop not found: build it first"
    expected="$(cd "$ROOT" && sed -n 's/^__version__ = "\(.*\)"$/\1/p' cl_desktop/__init__.py)"
    scratch="$(mktemp -d)"
    trap 'rm -rf "$scratch"' RETURN
    # from elsewhere, with no PYTHONPATH: only what the bundle holds can be used
    cd "$scratch"
    version="$(env -u PYTHONPATH "$APP/cl-desktop" --version)" || die "cl-desktop --version failed"
    [ "$version" = "cl-desktop $expected" ] || die "cl-desktop --version said '$version'"
    log "$version"
    version="$(env -u PYTHONPATH "$APP/cl-transfer" --version)" || die "cl-transfer --version failed"
    [ "$version" = "cl-transfer $expected" ] || die "cl-transfer --version said '$version'"
    log "$version"
    env -u PYTHONPATH -u CL_DESKTOP_DATA_DIR QT_QPA_PLATFORM=offscreen \
        timeout 120 "$APP/cl-desktop" --self-test || die "cl-desktop --self-test failed"
    check_cl_transfer "$scratch"
    log "smoke check passed: $APP ($(du -sh "$APP" | cut -f1))"
}

# An upload and a download with the built cl-transfer, to the embedded service run from the
# source tree (the service is only the peer here; it needs nothing but the standard library).
check_cl_transfer() {
    local scratch="$1" url="" sim_pid transfer=(env -u PYTHONPATH "$APP/cl-transfer")
    PYTHONPATH="$ROOT" "${PYTHON:-python3}" -m cl_desktop.simulator --data-dir "$scratch/sim" \
        --user smoke:secret >"$scratch/sim.log" 2>&1 &
    sim_pid=$!
    for _ in $(seq 100); do  # it prints its URL once it listens (well under a second)
        url="$(sed -n 's/^serving //p' "$scratch/sim.log")"
        [ -n "$url" ] && break
        sleep 0.1
    done
    if [ -z "$url" ]; then
        kill "$sim_pid" 2>/dev/null
        die "the embedded service did not start: $(cat "$scratch/sim.log")"
    fi
    head -c 300000 /dev/urandom >"$scratch/smoke.bin"
    local ok=1
    export CL_PASSWORD=secret CL_DESKTOP_DATA_DIR="$scratch/data"  # a scratch job store
    "${transfer[@]}" --server "$url" --user smoke upload --create "Local library/smoke" \
        "$scratch/smoke.bin" &&
        "${transfer[@]}" --server "$url" --user smoke download "Local library/smoke" \
            "$scratch/out" &&
        cmp "$scratch/smoke.bin" "$scratch/out/smoke.bin" || ok=0
    unset CL_PASSWORD CL_DESKTOP_DATA_DIR
    kill "$sim_pid" 2>/dev/null
    wait "$sim_pid" 2>/dev/null || true
    [ "$ok" = 1 ] || die "cl-transfer could not upload and download a file"
}

case "${1:-}" in
    --check) check ;;
    "") ensure_build_venv; build; check ;;
    *) die "usage: scripts/package.sh [--check]" ;;
esac
