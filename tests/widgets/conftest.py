"""GUI tests: a real napari viewer (``make_napari_viewer``) on a real, possibly virtual, X display.

``make_napari_viewer`` comes from napari's pytest plugin and closes its viewers
after each test; ``qtbot`` from pytest-qt. ``bash scripts/test.sh`` starts Xvfb
when there is no display; plain ``pytest`` without a display skips these tests
instead of letting Qt abort the whole run.
"""

import os
import sys

import pytest

pytest.importorskip("napari")
pytest.importorskip("pytestqt")


def pytest_collection_modifyitems(config, items):
    if sys.platform.startswith("linux") and not (
        os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
    ):
        skip = pytest.mark.skip(reason="no display: run `bash scripts/test.sh`, which starts Xvfb")
        for item in items:
            if "widgets" in item.path.parts:
                item.add_marker(skip)


@pytest.fixture
def notes(monkeypatch):
    """Every notification the docks show, as (kind, message), in order."""
    from napari_roimasks.widgets import (
        _image_tools,
        _settings_controls,
        _trace_view,
        roi_masks_dock,
        traces_dock,
    )

    seen = []
    for module in (roi_masks_dock, traces_dock, _trace_view, _settings_controls, _image_tools):
        for kind in ("show_warning", "show_error", "show_info"):
            if not hasattr(module, kind):
                continue
            monkeypatch.setattr(
                module, kind, lambda message, kind=kind: seen.append((kind, message))
            )
    return seen


def _table_rows(dock):
    from qtpy.QtCore import Qt

    model = dock.table_model
    columns = [model.headerData(c, Qt.Orientation.Horizontal) for c in range(model.columnCount())]
    return [
        {title: model.data(model.index(r, c)) for c, title in enumerate(columns)}
        for r in range(model.rowCount())
    ]


@pytest.fixture
def table():
    """The ROI table as the user reads it: ``table(dock)`` gives one dict per row, keyed by
    column title."""
    return _table_rows
