"""The Traces plot on screen: what a new selection shows (the exact numbers, in the colours
the legend gives them, all in view), the frame line, room for wider tick labels, the empty plot,
the theme, and the mouse (a wheel zooms the frames, a drag pans them, a double click shows all)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from qtpy.QtCore import QPoint, QPointF, Qt
from qtpy.QtGui import QColor, QWheelEvent
from qtpy.QtTest import QTest
from qtpy.QtWidgets import QApplication

from napari_roimasks.model.traces import RoiTraces
from napari_roimasks.widgets._trace_plot import FRAME_LINE_COLOUR

PLUGIN = "napari-roimasks"
N_FRAMES = 500
#: each ROI's F around this level (ROI 2's tick labels are wider than the others')
LEVELS = {1: 100.0, 2: 20_000.0, 3: 120.0, 4: 90.0}


@pytest.fixture
def plotted(make_napari_viewer):
    """A shown viewer with four square ROIs, their traces in the model, both docks:
    (viewer, ROI masks dock, Traces dock)."""
    viewer = make_napari_viewer(show=True)
    labels = np.zeros((64, 64), dtype=np.int32)
    for key in LEVELS:
        labels[8 + 12 * key : 14 + 12 * key, 20:26] = key
    layer = viewer.add_labels(labels, name="ROIs")
    _, rois = viewer.window.add_plugin_dock_widget(PLUGIN, "ROI masks")
    rois.set_source(layer)
    _, traces = viewer.window.add_plugin_dock_widget(PLUGIN, "Traces")
    model = rois.model
    rng = np.random.default_rng(3)
    model.store_traces(
        model.movie,
        {
            key: RoiTraces(
                model.fingerprint(key, model.movie),
                rng.normal(level, level / 10, N_FRAMES),
                rng.normal(level / 2, level / 20, N_FRAMES),
                0.7,
            )
            for key, level in LEVELS.items()
        },
    )
    return viewer, rois, traces


def shown(qtbot, plot, change):
    """Make a change and wait until the plot has painted it; the plot's pixels then."""
    with qtbot.waitSignal(plot.drawn, timeout=10_000):
        change()
    QApplication.processEvents()
    return plot.grab().toImage()


def colour_pixels(image, colour: str) -> int:
    """How many pixels of the image have exactly this colour."""
    rgb = QColor(colour).rgb() & 0xFFFFFF
    width, height = image.width(), image.height()
    pixels = np.frombuffer(image.constBits().asstring(image.sizeInBytes()), np.uint32)
    pixels = pixels.reshape(height, image.bytesPerLine() // 4)[:, :width]
    return int(np.count_nonzero((pixels & 0xFFFFFF) == rgb))


def test_a_new_roi_shows_its_traces_in_their_legend_colours(plotted, qtbot):
    viewer, rois, traces = plotted
    plot = traces.view.plot
    shown(qtbot, plot, lambda: rois.select_roi(1))
    image = shown(qtbot, plot, lambda: rois.select_roi(3))
    stored = rois.model.traces[3]
    lines = {label: line.get_ydata() for label, line in traces.view.lines}
    np.testing.assert_array_equal(lines["ROI 3 F"], stored.roi)
    np.testing.assert_array_equal(lines["ROI 3 Fneu"], stored.neuropil)
    np.testing.assert_allclose(lines["ROI 3 F - 0.70 Fneu"], stored.roi - 0.7 * stored.neuropil)
    (panel,) = plot.panels
    assert [line.label for line in panel.lines] == list(lines)  # the legend's rows
    low, high = panel.ylim
    assert low < stored.neuropil.min() and high > stored.roi.max()  # all of it in view
    for _, line in traces.view.lines:  # every trace is on screen in its colour
        assert colour_pixels(image, line.colour) > N_FRAMES / 10


def test_the_frame_line_follows_the_slider(plotted, qtbot):
    viewer, rois, traces = plotted
    plot = traces.view.plot
    shown(qtbot, plot, lambda: rois.select_roi(4))
    image = shown(qtbot, plot, lambda: viewer.dims.set_current_step(0, 0))
    assert plot.frame == 0
    x = round(plot.x_of(0))
    column = image.copy(x - 1, 0, 3, image.height())
    rect = plot.panel_rects()[0]
    assert colour_pixels(column, FRAME_LINE_COLOUR) > rect.height() / 4


def test_wider_tick_labels_get_room_and_narrower_give_it_back(plotted, qtbot):
    viewer, rois, traces = plotted
    plot = traces.view.plot
    shown(qtbot, plot, lambda: rois.select_roi(1))
    left_of_one = plot.panel_rects()[0].left()
    shown(qtbot, plot, lambda: rois.select_roi(2))  # 20000: wider labels
    assert plot.panel_rects()[0].left() > left_of_one
    shown(qtbot, plot, lambda: rois.select_roi(1))
    assert plot.panel_rects()[0].left() == pytest.approx(left_of_one)


def test_several_rois_then_none_then_one_again(plotted, qtbot):
    viewer, rois, traces = plotted
    plot = traces.view.plot
    shown(qtbot, plot, lambda: rois.model.set_selection([1, 3, 4]))
    assert [panel.lines[0].label for panel in plot.panels] == ["ROI 1 F", "ROI 3 F", "ROI 4 F"]
    rects = plot.panel_rects()
    assert all(a.bottom() < b.top() for a, b in itertools.pairwise(rects))  # stacked
    shown(qtbot, plot, lambda: rois.model.set_selection([]))
    assert plot.panels == [] and traces.view.lines == []
    assert plot.message == "Select an ROI (a row of the ROI table, the label picker, or click it)"
    shown(qtbot, plot, lambda: rois.select_roi(4))
    assert len(plot.panels) == 1 and [label for label, _ in traces.view.lines] == [
        "ROI 4 F",
        "ROI 4 Fneu",
        "ROI 4 F - 0.70 Fneu",
    ]


def test_a_theme_change_recolours_the_plot(plotted, qtbot):
    viewer, rois, traces = plotted
    plot = traces.view.plot
    shown(qtbot, plot, lambda: rois.select_roi(1))
    image = shown(qtbot, plot, lambda: setattr(viewer, "theme", "light"))
    corner = QColor(image.pixel(2, 2))
    assert corner.name() == QColor(plot.colours["background"]).name()
    assert corner.lightness() > 128  # light


def test_the_wheel_zooms_the_frames_a_drag_pans_a_double_click_shows_all(plotted, qtbot):
    viewer, rois, traces = plotted
    plot = traces.view.plot
    shown(qtbot, plot, lambda: rois.select_roi(1))
    everything = plot.xlim
    centre = plot.panel_rects()[0].center()
    at = plot.frame_at(centre.x())
    wheel = QWheelEvent(
        QPointF(centre),
        QPointF(plot.mapToGlobal(centre.toPoint())),
        QPoint(),
        QPoint(0, 240),
        Qt.MouseButton.NoButton,
        Qt.KeyboardModifier.NoModifier,
        Qt.ScrollPhase.NoScrollPhase,
        False,
    )
    QApplication.sendEvent(plot, wheel)
    low, high = plot.xlim
    assert high - low < 0.7 * (everything[1] - everything[0])  # zoomed in
    assert low < at < high and plot.frame_at(centre.x()) == pytest.approx(at)  # around the mouse

    start = centre.toPoint()
    step = viewer.dims.current_step
    QTest.mousePress(plot, Qt.MouseButton.LeftButton, pos=start)
    QTest.mouseMove(plot, start + QPoint(50, 0))
    QTest.mouseRelease(plot, Qt.MouseButton.LeftButton, pos=start + QPoint(50, 0))
    panned = plot.xlim
    assert panned[0] < low and panned[1] - panned[0] == pytest.approx(high - low)  # earlier frames
    assert viewer.dims.current_step == step  # a drag is no click

    QTest.mouseDClick(plot, Qt.MouseButton.LeftButton, pos=start)
    assert plot.xlim == everything
