# shellcheck shell=bash
# Sourced by scripts that need Debian packages: install them with apt-get when we may.
#
#   apt_install PACKAGE...
#
# Runs `apt-get update` and then `apt-get install` as root, or through password-less sudo.
# Returns 1 with a message on stderr that names the packages when it cannot (not root and no
# sudo, no apt-get, or apt-get failed), so the caller can stop with the exact names.

apt_install() {
    local sudo=()
    if [ "$(id -u)" != 0 ]; then
        if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
            sudo=(sudo -n)
        else
            echo "installing $* needs root (or password-less sudo): run" >&2
            echo "    sudo apt-get install $*" >&2
            return 1
        fi
    fi
    if ! command -v apt-get >/dev/null 2>&1; then
        echo "apt-get not found: install the packages that provide $* yourself" >&2
        return 1
    fi
    echo "installing $* with apt-get"
    "${sudo[@]}" apt-get update -qq || { echo "apt-get update failed" >&2; return 1; }
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        "$@" >/dev/null || { echo "apt-get install $* failed" >&2; return 1; }
}
