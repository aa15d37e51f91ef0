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


@pytest.fixture
def session(make_napari_viewer):
    """The sample recording with both docks, the border from the movie's metadata:
    (viewer, ROI masks dock, Traces dock, layers by name)."""
    from napari_roimasks.core import MotionBorder

    viewer = make_napari_viewer()
    opened = viewer.open_sample("napari-roimasks", "synthetic_recording")
    layers = {layer.name: layer for layer in opened}
    _, rois = viewer.window.add_plugin_dock_widget("napari-roimasks", "ROI masks")
    rois.set_border(MotionBorder.from_allen(layers["movie"].metadata["motion_border"]))
    _, traces = viewer.window.add_plugin_dock_widget("napari-roimasks", "Traces")
    return viewer, rois, traces, layers
