#!/usr/bin/env bash
# Start cl_desktop on its embedded demo server: scripts/demo.sh [ARGS...]
# Creates or updates .venv first (see scripts/_venv.sh). Before starting the window it checks
# that there is a display and, on Linux, that the libraries Qt's platform plugin needs are
# installed: missing ones are installed with apt-get where we may (root or password-less
# sudo), else it stops with the exact package names.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
# shellcheck source=scripts/_venv.sh
. "$ROOT/scripts/_venv.sh"
# shellcheck source=scripts/_apt.sh
. "$ROOT/scripts/_apt.sh"

die() { echo "demo: $*" >&2; exit 1; }

# Debian package of each library Qt's xcb and wayland plugins link (ldd names the libraries).
LIBRARY_PACKAGES="
libxcb.so.1 libxcb1
libxcb-cursor.so.0 libxcb-cursor0
libxcb-glx.so.0 libxcb-glx0
libxcb-icccm.so.4 libxcb-icccm4
libxcb-image.so.0 libxcb-image0
libxcb-keysyms.so.1 libxcb-keysyms1
libxcb-randr.so.0 libxcb-randr0
libxcb-render.so.0 libxcb-render0
libxcb-render-util.so.0 libxcb-render-util0
libxcb-shape.so.0 libxcb-shape0
libxcb-shm.so.0 libxcb-shm0
libxcb-sync.so.1 libxcb-sync1
libxcb-util.so.1 libxcb-util1
libxcb-xfixes.so.0 libxcb-xfixes0
libxcb-xinerama.so.0 libxcb-xinerama0
libxcb-xinput.so.0 libxcb-xinput0
libxcb-xkb.so.1 libxcb-xkb1
libxkbcommon.so.0 libxkbcommon0
libxkbcommon-x11.so.0 libxkbcommon-x11-0
libX11.so.6 libx11-6
libX11-xcb.so.1 libx11-xcb1
libEGL.so.1 libegl1
libGL.so.1 libgl1
libGLX.so.0 libglx0
libOpenGL.so.0 libopengl0
libfontconfig.so.1 libfontconfig1
libfreetype.so.6 libfreetype6
libdbus-1.so.3 libdbus-1-3
libglib-2.0.so.0 libglib2.0-0
libgthread-2.0.so.0 libglib2.0-0
libwayland-client.so.0 libwayland-client0
libwayland-cursor.so.0 libwayland-cursor0
libwayland-egl.so.1 libwayland-egl1
"
package_of() {
    awk -v lib="$1" '$1 == lib { print $2; found = 1 } END { exit !found }' <<<"$LIBRARY_PACKAGES"
}

# The libraries the platform plugin $1 (xcb, wayland) cannot load, one per line.
missing_libraries() {
    local plugin
    plugin="$("$ROOT/.venv/bin/python" -c 'import pathlib, PySide6, sys
print(pathlib.Path(PySide6.__file__).parent / "Qt/plugins/platforms" / f"libq{sys.argv[1]}.so")' "$1")"
    [ -f "$plugin" ] || return 0 # another Qt layout: let Qt itself report what it misses
    ldd "$plugin" 2>/dev/null | awk '$2 == "=>" && $3 == "not" { print $1 }' | sort -u
}

# Install (or name) the packages the platform plugin $1 is missing; die if they stay missing.
ensure_plugin_libraries() {
    local plugin="$1" lib package packages=() unknown=()
    command -v ldd >/dev/null 2>&1 || return 0
    while read -r lib; do
        [ -n "$lib" ] || continue
        if package="$(package_of "$lib")"; then
            packages+=("$package")
        else
            unknown+=("$lib")
        fi
    done < <(missing_libraries "$plugin")
    [ ${#packages[@]} -gt 0 ] || [ ${#unknown[@]} -gt 0 ] || return 0
    if [ ${#unknown[@]} -gt 0 ]; then
        die "Qt's $plugin plugin needs ${unknown[*]}${packages[*]:+ and the packages ${packages[*]}}: install them and run this again"
    fi
    echo "demo: Qt's $plugin plugin needs ${packages[*]} (not installed)"
    apt_install "${packages[@]}" || die "install ${packages[*]} and run this again"
    lib="$(missing_libraries "$plugin" | tr '\n' ' ')"
    [ -z "$lib" ] || die "Qt's $plugin plugin still cannot load ${lib% }"
}

# Which of Qt's platform plugins will open the window; "" when none can.
platform="${QT_QPA_PLATFORM:-}"
case "$platform" in
    "")
        if [ -n "${WAYLAND_DISPLAY:-}" ] && [ -z "${DISPLAY:-}" ]; then
            plugin=wayland
        elif [ -n "${DISPLAY:-}" ]; then
            plugin=xcb
        else
            die "no display: neither DISPLAY nor WAYLAND_DISPLAY is set, so there is no screen" \
                "for the window. Run this in a desktop session, over 'ssh -X', or under a virtual" \
                "X server ('xvfb-run scripts/demo.sh'); QT_QPA_PLATFORM=offscreen runs it without" \
                "showing a window."
        fi
        ;;
    xcb* | wayland*) plugin="${platform%%:*}" ;;
    *) plugin="" ;; # offscreen, minimal, vnc...: what the user asked for, no display needed
esac

ensure_venv

if [ "$(uname -s)" = Linux ] && [ -n "$plugin" ]; then
    ensure_plugin_libraries "$plugin"
fi

exec "$ROOT/.venv/bin/python" -m cl_desktop --demo "$@"
