"""The Traces plot updated in place: what a new selection shows, drawn quickly, looks exactly
like the whole figure drawn again (compared as pixels), the layout makes room when tick labels
grow, and the empty plot comes and goes."""

from __future__ import annotations

import numpy as np
import pytest
from qtpy.QtWidgets import QApplication

from napari_roimasks.model.traces import RoiTraces

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
    """Make a change and wait until the plot has drawn it; the canvas' pixels then, and how
    many whole draws it took."""
    whole = []
    cid = plot.canvas.mpl_connect("draw_event", lambda event: whole.append(event))
    with qtbot.waitSignal(plot.drawn, timeout=10_000):
        change()
    QApplication.processEvents()
    plot.canvas.mpl_disconnect(cid)
    return np.asarray(plot.canvas.buffer_rgba()).copy(), len(whole)


def drawn_whole(plot):
    plot.canvas.draw()
    return np.asarray(plot.canvas.buffer_rgba()).copy()


def test_a_new_roi_is_drawn_in_place_and_looks_like_the_whole_figure_drawn(plotted, qtbot):
    viewer, rois, traces = plotted
    plot = traces.view.plot
    shown(qtbot, plot, lambda: rois.select_roi(1))
    lines_before = [line for _, line in traces.view.lines]
    image, whole_draws = shown(qtbot, plot, lambda: rois.select_roi(3))
    assert whole_draws == 0  # only what changed was drawn again
    assert [line for _, line in traces.view.lines] == lines_before  # the same lines, new data
    stored = rois.model.traces[3]
    lines = {label: line.get_ydata() for label, line in traces.view.lines}
    np.testing.assert_array_equal(lines["ROI 3 F"], stored.roi)
    np.testing.assert_array_equal(lines["ROI 3 Fneu"], stored.neuropil)
    np.testing.assert_allclose(lines["ROI 3 F - 0.70 Fneu"], stored.roi - 0.7 * stored.neuropil)
    legend = plot.figure.axes[0].get_legend()
    assert [t.get_text() for t in legend.get_texts()] == list(lines)
    low, high = plot.figure.axes[0].get_ylim()
    assert low < stored.neuropil.min() and high > stored.roi.max()  # all of it in view
    np.testing.assert_array_equal(image, drawn_whole(plot))


def test_the_frame_line_moves_without_drawing_it_all(plotted, qtbot):
    viewer, rois, traces = plotted
    plot = traces.view.plot
    shown(qtbot, plot, lambda: rois.select_roi(4))
    image, whole_draws = shown(qtbot, plot, lambda: viewer.dims.set_current_step(0, 0))
    assert whole_draws == 0
    np.testing.assert_array_equal(image, drawn_whole(plot))


def test_wider_tick_labels_get_room_and_narrower_give_it_back(plotted, qtbot):
    viewer, rois, traces = plotted
    plot = traces.view.plot
    shown(qtbot, plot, lambda: rois.select_roi(1))
    left_of_one = plot.figure.axes[0].get_position().x0
    image, _ = shown(qtbot, plot, lambda: rois.select_roi(2))  # 20000: wider labels
    axes = plot.figure.axes[0]
    renderer = plot.canvas.get_renderer()
    labels = [t for t in axes.get_yticklabels() if t.get_text()]
    assert any(len(t.get_text()) >= 5 for t in labels)
    boxes = [t.get_window_extent(renderer) for t in labels]
    ylabel = axes.yaxis.label.get_window_extent(renderer)
    assert ylabel.x0 >= 0 and all(ylabel.x1 <= box.x0 for box in boxes)
    assert axes.get_position().x0 > left_of_one
    np.testing.assert_array_equal(image, drawn_whole(plot))
    shown(qtbot, plot, lambda: rois.select_roi(1))
    assert plot.figure.axes[0].get_position().x0 == pytest.approx(left_of_one)


def test_several_rois_then_none_then_one_again(plotted, qtbot):
    viewer, rois, traces = plotted
    plot = traces.view.plot
    image, _ = shown(qtbot, plot, lambda: rois.model.set_selection([1, 3, 4]))
    assert len(plot.figure.axes) == 3
    assert [a.get_legend().get_texts()[0].get_text() for a in plot.figure.axes] == [
        "ROI 1 F",
        "ROI 3 F",
        "ROI 4 F",
    ]
    np.testing.assert_array_equal(image, drawn_whole(plot))
    shown(qtbot, plot, lambda: rois.model.set_selection([]))
    (axes,) = plot.figure.axes
    assert not axes.axison and traces.view.lines == []
    assert [t.get_text() for t in axes.texts] == [
        "Select an ROI (a row of the ROI table, the label picker, or click it)"
    ]
    image, _ = shown(qtbot, plot, lambda: rois.select_roi(4))
    assert len(plot.figure.axes) == 1 and [label for label, _ in traces.view.lines] == [
        "ROI 4 F",
        "ROI 4 Fneu",
        "ROI 4 F - 0.70 Fneu",
    ]
    np.testing.assert_array_equal(image, drawn_whole(plot))


def test_a_theme_change_recolours_what_is_drawn_after(plotted, qtbot):
    viewer, rois, traces = plotted
    plot = traces.view.plot
    shown(qtbot, plot, lambda: rois.select_roi(1))
    viewer.theme = "light"
    image, _ = shown(qtbot, plot, lambda: rois.select_roi(4))
    corner = image[2, 2, :3]  # the figure's background
    assert tuple(corner) == tuple(round(255 * c) for c in plot.figure.get_facecolor()[:3])
    assert corner.mean() > 128  # light
    np.testing.assert_array_equal(image, drawn_whole(plot))
