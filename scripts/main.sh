#!/usr/bin/env bash
# The main job: set up .venv, then run the demo of the API on a generated recording.
source "$(dirname "${BASH_SOURCE[0]}")/_environment.sh"
ensure_venv all
exec "$VENV/bin/python" -m napari_roimasks.demo "$@"
