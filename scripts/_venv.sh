# shellcheck shell=bash
# Sourced by scripts/test.sh and scripts/demo.sh: create or update the project's .venv.
#
#   ensure_venv [EXTRAS]   e.g. ensure_venv test  ->  pip install -e '.[test]'
#
# pip runs only when the venv is new or pyproject.toml changed since the last
# install (a stamp with its SHA-256 and the extras is kept in .venv/). A stamp
# with the "test" extras also satisfies a plain install.
# Needs ROOT (the project root) to be set. Set PYTHON to choose the interpreter.

ensure_venv() {
    local extras="${1:-}"
    local venv="$ROOT/.venv"
    local stamp="$venv/.cl-desktop-install"
    local python="${PYTHON:-python3}"

    if [ ! -x "$venv/bin/python" ]; then
        command -v "$python" >/dev/null 2>&1 || { echo "error: $python not found" >&2; return 1; }
        "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
            || { echo "error: cl_desktop needs Python >= 3.11 ($python is older)" >&2; return 1; }
        echo "creating $venv"
        "$python" -m venv "$venv" || return 1
    fi

    local hash
    hash="$(sha256sum "$ROOT/pyproject.toml" | cut -d' ' -f1)"
    if [ -f "$stamp" ]; then
        local old_hash old_extras
        read -r old_hash old_extras <"$stamp" || true
        if [ "$old_hash" = "$hash" ] && { [ -z "$extras" ] || [ "$old_extras" = "$extras" ]; }; then
            return 0
        fi
    fi

    local spec="."
    [ -n "$extras" ] && spec=".[$extras]"
    echo "pip install -e '$spec' (pyproject.toml changed or first run)"
    (cd "$ROOT" && "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -e "$spec") \
        || { echo "error: pip install -e '$spec' failed" >&2; return 1; }
    echo "$hash $extras" >"$stamp"
}
