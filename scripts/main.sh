#!/usr/bin/env bash
# The main job: set up .venv, then open napari with the sample recording, its ROIs, the motion
# border, the live neuropil rings and the "ROI masks" dock. Pass --screenshot PATH to render the
# window to a PNG and exit. Without a display it renders off screen (under Xvfb) to
# napari-roimasks-main.png.
source "$(dirname "${BASH_SOURCE[0]}")/_environment.sh"
ensure_venv all
if [ -z "${DISPLAY:-}" ]; then
    ensure_display_libraries
    if [[ " $* " != *" --screenshot"* ]]; then
        echo "no display: rendering the window off screen to napari-roimasks-main.png (--screenshot PATH chooses where)"
        set -- "$@" --screenshot napari-roimasks-main.png
    fi
fi
run_with_display "$VENV/bin/python" -m napari_roimasks "$@"
