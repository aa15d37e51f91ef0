# Sourced by scripts/main.sh and scripts/test.sh: make or update the project's
# virtual environment, and on a headless Debian machine (as root) install the
# system libraries that Qt and OpenGL need under a virtual X server.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV="$ROOT/.venv"
PYTHON_FOR_VENV=${PYTHON:-python3}

_quiet_pip() {
    # some machines list local package folders that do not exist; pip warns once per package
    "$VENV/bin/python" -m pip "$@" 2>&1 | { grep -v "^WARNING: Location '" || true; }
}

ensure_venv() {  # ensure_venv EXTRA: install the project with that extra into .venv
    local extra=$1
    if ! "$PYTHON_FOR_VENV" -c 'import sys; sys.exit(sys.version_info < (3, 10))'; then
        echo "error: napari-roimasks needs Python >= 3.10; set PYTHON=/path/to/python3.1x" >&2
        exit 1
    fi
    if [ ! -x "$VENV/bin/python" ]; then
        echo "creating the virtual environment in $VENV"
        "$PYTHON_FOR_VENV" -m venv "$VENV"
    fi
    local stamp="$VENV/.installed" wanted
    wanted="$extra $(sha256sum "$ROOT/pyproject.toml" | cut -d' ' -f1)"
    if [ ! -f "$stamp" ] || ! grep -qxF "$wanted" "$stamp"; then
        echo "installing napari-roimasks[$extra] into $VENV (first run: a few minutes)"
        _quiet_pip install --quiet --disable-pip-version-check --upgrade pip
        _quiet_pip install --quiet --disable-pip-version-check -e "$ROOT[$extra]"
        echo "$wanted" >> "$stamp"
    fi
}

_display_libraries_present() {
    command -v xvfb-run >/dev/null 2>&1 || return 1
    local lib cache
    cache=$(ldconfig -p 2>/dev/null) || return 1  # read once: grep -q on a pipe would SIGPIPE it
    for lib in libGL.so.1 libEGL.so.1 libxkbcommon-x11.so.0 libxcb-cursor.so.0 libxcb-icccm.so.4 \
        libxcb-keysyms.so.1 libxcb-shape.so.0 libfontconfig.so.1 libdbus-1.so.3; do
        grep -qF "$lib" <<<"$cache" || return 1
    done
}

ensure_display_libraries() {  # Xvfb, Mesa and Qt's X11 libraries, when there is no display
    [ -n "${DISPLAY:-}" ] && return 0
    _display_libraries_present && return 0
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "installing Xvfb, Mesa and Qt's X11 libraries with apt-get"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
            xvfb xauth libgl1 libgl1-mesa-dri libegl1 libxkbcommon-x11-0 libxcb-cursor0 \
            libxcb-icccm4 libxcb-image0 libxcb-keysyms1 libxcb-randr0 libxcb-render-util0 \
            libxcb-shape0 libxcb-xinerama0 libxcb-xfixes0 libfontconfig1 libdbus-1-3 >/dev/null
    else
        echo "error: no display, and Xvfb or Qt's X11 libraries are missing; install xvfb and" \
            "libxcb-cursor0 (Debian/Ubuntu) or run with a display" >&2
        exit 1
    fi
}

# run_with_display CMD...: run under a virtual X server when there is no display
run_with_display() {
    export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-$(mktemp -d)}"
    chmod 700 "$XDG_RUNTIME_DIR"
    if [ -n "${DISPLAY:-}" ]; then
        "$@"
    else
        xvfb-run -a -s "-screen 0 1920x1200x24" "$@"
    fi
}
