#!/usr/bin/env bash
# The whole test suite: set up .venv and the virtual display, check style, run pytest.
source "$(dirname "${BASH_SOURCE[0]}")/_environment.sh"
ensure_venv testing
ensure_display_libraries
cd "$ROOT"
echo "ruff: lint and format"
"$VENV/bin/ruff" check --quiet .
"$VENV/bin/ruff" format --check --quiet .
run_with_display "$VENV/bin/python" -m pytest "$@"
