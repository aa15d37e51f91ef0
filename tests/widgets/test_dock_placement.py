"""Where the docks open from the Plugins menu: the Traces dock at the bottom (its plot wants the
window's width) unless the user put it somewhere before, which napari remembers."""

from __future__ import annotations

import pytest
from qtpy.QtCore import Qt
from qtpy.QtWidgets import QApplication

PLUGIN = "napari-roimasks"
NAME = "Traces (napari-roimasks)"


@pytest.fixture
def positions():
    """napari's remembered dock places (the live dict), as a fresh user has them: none for
    our docks; put back as they were afterwards."""
    from napari.settings import get_settings

    remembered = get_settings().application.plugin_widget_positions
    before = dict(remembered)
    remembered.pop(NAME, None)
    yield remembered
    remembered.clear()
    remembered.update(before)


def open_traces(viewer, qtbot):
    dock, widget = viewer.window.add_plugin_dock_widget(PLUGIN, "Traces")
    window = viewer.window._qt_window
    return dock, widget, window


def test_the_traces_dock_opens_at_the_bottom_with_its_plot_visible(
    make_napari_viewer, qtbot, positions
):
    viewer = make_napari_viewer(show=True)
    dock, widget, window = open_traces(viewer, qtbot)
    qtbot.waitUntil(
        lambda: window.dockWidgetArea(dock) == Qt.DockWidgetArea.BottomDockWidgetArea, timeout=5000
    )
    assert positions[NAME] == "bottom"  # napari remembers it there
    assert widget.view.plot.isVisible() and widget.view.plot.width() > 300


def test_a_place_the_user_chose_before_is_kept(make_napari_viewer, qtbot, positions):
    positions[NAME] = "right"  # where napari would put it anyway: only the memory keeps it
    viewer = make_napari_viewer(show=True)
    dock, widget, window = open_traces(viewer, qtbot)
    QApplication.processEvents()  # a move queued (singleShot 0) would run here: none must be
    assert window.dockWidgetArea(dock) == Qt.DockWidgetArea.RightDockWidgetArea


def test_at_the_default_window_size_no_setting_is_cut_and_nine_table_rows_show(
    make_napari_viewer, qtbot, positions
):
    import numpy as np

    viewer = make_napari_viewer(show=True)
    viewer.window.resize(1400, 900)
    layer = viewer.add_labels(np.arange(40 * 40, dtype=np.int32).reshape(40, 40) % 50)
    _, rois = viewer.window.add_plugin_dock_widget(PLUGIN, "ROI masks")
    rois.set_source(layer)
    dock, widget, window = open_traces(viewer, qtbot)
    qtbot.waitUntil(
        lambda: window.dockWidgetArea(dock) == Qt.DockWidgetArea.BottomDockWidgetArea, timeout=5000
    )
    QApplication.processEvents()
    viewer.window.resize(1400, 900)  # the docks do not make the window taller than asked
    QApplication.processEvents()
    assert window.height() == 900
    area = rois.settings_area
    for _ in range(2):  # at the top, then scrolled to part of a row (snapped to its top)
        shown = area.visible_rows()
        assert len(shown) >= 2
        # the view ends at the bottom of the last whole row: no row is shown cut
        assert area.viewport().height() == shown[-1][1]
        area.verticalScrollBar().setValue(area.verticalScrollBar().singleStep() * 3 + 5)
        assert area.verticalScrollBar().value() in [top for top, _ in area.row_spans()]
    table = rois.table
    rows_in_view = table.viewport().height() / table.verticalHeader().defaultSectionSize()
    assert rows_in_view >= 9
