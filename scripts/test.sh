#!/usr/bin/env bash
# The project's test command: scripts/test.sh [PYTEST ARGS...]
#
# 1. creates .venv if missing and pip-installs the project with its test extras
#    (only when pyproject.toml changed since the last install);
# 2. builds vcsim into .vcsim (scripts/build-vcsim.sh; apt-get + go, skipped when
#    up to date). If that fails the vcsim tests are skipped, unless
#    CL_REQUIRE_VCSIM=1 (as in CI), which makes the failure fatal;
# 3. installs desktop-file-utils and appstream (apt-get) when missing: the tests
#    validate the Linux desktop files with them;
# 4. runs ruff check, ruff format --check, mypy and pytest (with
#    QT_QPA_PLATFORM=offscreen); extra arguments go to pytest;
# 5. builds the PyInstaller application and smoke-checks it (scripts/package.sh, its own
#    build venv .venv-build) on a full run (no pytest arguments); CL_SKIP_PACKAGE=1 skips it.
# Every check stage runs; the exit status is non-zero if any of them failed.
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT" || exit 1
# shellcheck source=scripts/_venv.sh
. "$ROOT/scripts/_venv.sh"

VENV="$ROOT/.venv"
failed=()
stage() { printf '\n==> %s\n' "$*"; }

stage "venv: $VENV"
ensure_venv test || exit 1

stage "vcsim: scripts/build-vcsim.sh"
if ! bash "$ROOT/scripts/build-vcsim.sh" ${CL_VCSIM_DIR:+"$CL_VCSIM_DIR"}; then
    if [ "${CL_REQUIRE_VCSIM:-}" = 1 ]; then
        echo "error: vcsim build failed and CL_REQUIRE_VCSIM=1" >&2
        exit 1
    fi
    echo "warning: vcsim build failed; the vcsim tests will be skipped" >&2
fi

stage "packaging tools: desktop-file-validate, appstreamcli"
# tests/test_packaging.py validates packaging/linux/ with them (skipped without them; in CI,
# where CI is set, failed instead)
# shellcheck source=scripts/_apt.sh
. "$ROOT/scripts/_apt.sh"
tools=()
command -v desktop-file-validate >/dev/null 2>&1 || tools+=(desktop-file-utils)
command -v appstreamcli >/dev/null 2>&1 || tools+=(appstream)
if [ ${#tools[@]} -gt 0 ]; then
    apt_install "${tools[@]}" || echo "warning: the packaging validation tests will be skipped" >&2
fi

stage "ruff check"
"$VENV/bin/ruff" check || failed+=("ruff check")

stage "ruff format --check"
"$VENV/bin/ruff" format --check || failed+=("ruff format")

stage "mypy"
"$VENV/bin/mypy" || failed+=("mypy")

stage "pytest $*"
QT_QPA_PLATFORM=offscreen "$VENV/bin/python" -m pytest "$@" || failed+=("pytest")

# The PyInstaller build and its smoke check (about 30 s once .venv-build exists).
if [ "${CL_SKIP_PACKAGE:-}" = 1 ]; then
    stage "package: skipped (CL_SKIP_PACKAGE=1)"
elif [ $# -gt 0 ]; then
    stage "package: skipped (pytest arguments given: not a full run)"
else
    stage "package: scripts/package.sh"
    bash "$ROOT/scripts/package.sh" || failed+=("package")
fi

echo
if [ ${#failed[@]} -gt 0 ]; then
    echo "FAILED: ${failed[*]}"
    exit 1
fi
echo "all checks passed"
