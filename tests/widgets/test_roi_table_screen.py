"""The ROI table on screen: what a triage step shows once the table scrolled by a row (Qt
moves the picture and paints only the rows that came into view), and the table's background
under the last row when a filter shows few."""

from __future__ import annotations

import numpy as np
import pytest
from qtpy.QtCore import Qt
from qtpy.QtGui import QImage
from qtpy.QtTest import QTest
from qtpy.QtWidgets import QApplication

PLUGIN = "napari-roimasks"


@pytest.fixture
def shown(make_napari_viewer):
    """A shown viewer with the sample recording and the ROI masks dock: (viewer, dock)."""
    viewer = make_napari_viewer(show=True)
    viewer.open_sample(PLUGIN, "synthetic_recording")
    _, dock = viewer.window.add_plugin_dock_widget(PLUGIN, "ROI masks")
    QApplication.processEvents()
    return viewer, dock


def pixels(image: QImage) -> np.ndarray:
    """(height, width) RGB values of an image."""
    image = image.convertToFormat(QImage.Format.Format_RGB32)
    rows = np.frombuffer(image.constBits().asstring(image.sizeInBytes()), np.uint32)
    rows = rows.reshape(image.height(), image.bytesPerLine() // 4)[:, : image.width()]
    return rows & 0xFFFFFF


def on_screen(widget) -> np.ndarray:
    """What the screen shows of a widget, once the window is painted."""
    QApplication.processEvents()
    corner = widget.mapToGlobal(widget.rect().topLeft())
    grab = widget.screen().grabWindow(0, corner.x(), corner.y(), widget.width(), widget.height())
    return pixels(grab.toImage())


def painted_afresh(widget) -> np.ndarray:
    """The widget painted whole, just now: what the screen should show."""
    return pixels(widget.grab().toImage())


def wait_until_shown(qtbot, widget) -> np.ndarray:
    """Wait until the screen shows the widget as it paints itself whole (the window's paint
    may take more than one turn of the event loop, e.g. a scroll bar going away); the screen's
    pixels then. A picture moved wrongly would never be painted over: the wait fails."""
    qtbot.waitUntil(
        lambda: np.array_equal(on_screen(widget), painted_afresh(widget)), timeout=5_000
    )
    return on_screen(widget)


def press(viewer, key) -> None:
    QTest.keyClick(viewer.window._qt_viewer.canvas.native, key)


def test_triage_steps_that_scroll_the_table_show_the_rows_it_holds(shown, qtbot):
    viewer, dock = shown
    viewport = dock.table.viewport()
    press(viewer, Qt.Key.Key_J)
    rows_in_view = viewport.height() // dock.table.rowHeight(0)
    for n in range(rows_in_view + 3):  # the cursor reaches the bottom row, then scrolls
        press(viewer, Qt.Key.Key_G if n % 3 else Qt.Key.Key_N)
        wait_until_shown(qtbot, viewport)
    assert dock.table.verticalScrollBar().value() > 0  # it did scroll
    press(viewer, Qt.Key.Key_K)  # back up a row: the one above comes into view
    wait_until_shown(qtbot, viewport)


def test_below_the_last_row_the_table_shows_its_background(shown, qtbot):
    viewer, dock = shown
    press(viewer, Qt.Key.Key_J)
    press(viewer, Qt.Key.Key_N)
    dock.triage.filter_box.setCurrentText("not cells")  # one row
    viewport = dock.table.viewport()
    screen = wait_until_shown(qtbot, viewport)
    below = screen[dock.table.rowHeight(0) + 2 :]
    background = viewport.palette().color(viewport.backgroundRole()).rgb() & 0xFFFFFF
    assert below.size and np.all(below == background)
