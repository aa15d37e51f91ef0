"""The Traces dock's pictures of the movie in a real viewer: summary images, suite2p's images,
an ROI's correlation map and Alt+click pixel traces."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

import dask.array as da
import numpy as np
import pytest
from qtpy.QtCore import QPoint, Qt, QTimer
from qtpy.QtTest import QTest

from napari_roimasks.core.pixel_traces import correlation_window
from napari_roimasks.core.summary_images import compute_summary_images
from napari_roimasks.widgets import _image_tools
from napari_roimasks.widgets._image_layers import IMAGE_KEY
from napari_roimasks.widgets._napari import camera

PLUGIN = "napari-roimasks"
SUMMARY = ["mean", "max", "std", "correlation", "enhanced mean"]
DATA = Path(__file__).parents[1] / "data" / "suite2p"


def names(viewer) -> list[str]:
    """The layer list as the user reads it, bottom first."""
    return [layer.name for layer in viewer.layers]


def click(button) -> None:
    """A real click on a dock's button."""
    QTest.mouseClick(button.native, Qt.MouseButton.LeftButton)


def wait_for_images(qtbot, traces) -> None:
    qtbot.waitUntil(lambda: not traces.images.running, timeout=60_000)


def extract_and_wait(qtbot, traces):
    with qtbot.waitSignal(traces.model.traces_changed, timeout=60_000):
        assert traces.extract()
    qtbot.waitUntil(lambda: not traces.running, timeout=10_000)


def gated(movie, gate, *, open_frames=256, frames_a_chunk=4):
    """``movie`` as a dask array whose frames from ``open_frames`` on wait until ``gate`` is
    set: the first block (256 frames of 256x256 uint16) is read and summed, then the run stays
    under way, unfinished, until the test lets it go on."""

    def chunk(frames, block_info=None):
        if block_info[0]["array-location"][0][0] >= open_frames:
            assert gate.wait(timeout=60), "the test never let the movie be read"
        return frames

    lazy = da.from_array(movie, chunks=(frames_a_chunk, *movie.shape[1:]))
    return lazy.map_blocks(chunk, dtype=movie.dtype)


# -- summary images -------------------------------------------------------------------------------
def test_summary_images_lie_under_the_rois_with_only_the_correlation_shown(session, qtbot):
    viewer, rois, traces, layers = session
    movie = layers["movie"]
    click(traces.images._summary)
    wait_for_images(qtbot, traces)
    shown = names(viewer)
    ours = [f"movie {name}" for name in SUMMARY]
    assert all(name in shown for name in ours)
    lowest_roi_layer = min(shown.index(n) for n in ("ROIs", "ROIs neuropil", "motion border"))
    assert max(shown.index(n) for n in ours) < lowest_roi_layer  # the ROIs draw on top
    assert min(shown.index(n) for n in ours) > shown.index("movie")
    expected = compute_summary_images(np.asarray(movie.data)).as_dict()
    for name, (key, image) in zip(ours, expected.items(), strict=True):
        layer = viewer.layers[name]
        np.testing.assert_array_equal(layer.data, image)
        assert layer.visible == (key == "correlation")
    correlation = viewer.layers["movie correlation"]
    assert tuple(correlation.contrast_limits) == pytest.approx(
        tuple(np.percentile(expected["correlation"], [1, 99.5]))
    )
    assert viewer.layers["movie enhanced mean"].contrast_limits == [0, 1]
    low, high = viewer.layers["movie mean"].contrast_limits
    assert (low, high) == pytest.approx(tuple(np.percentile(expected["mean"], [1, 99.5])))
    # the user's active layer (their tool) is where it was
    assert viewer.layers.selection.active is not correlation

    # again, on new numbers: the same layers, their data replaced, the user's choices kept
    before = {name: viewer.layers[name] for name in ours}
    viewer.layers["movie mean"].visible = True
    brighter = np.asarray(movie.data) + np.uint16(500)
    movie.data = brighter
    click(traces.images._summary)
    wait_for_images(qtbot, traces)
    assert names(viewer) == shown
    assert all(viewer.layers[name] is layer for name, layer in before.items())
    np.testing.assert_allclose(viewer.layers["movie mean"].data, expected["mean"] + 500, rtol=1e-6)
    assert viewer.layers["movie mean"].visible
    assert viewer.layers["movie mean"].contrast_limits[0] > 500


def test_a_users_layer_of_the_same_name_is_left_alone(session, qtbot):
    viewer, rois, traces, layers = session
    mine = viewer.add_image(np.ones((256, 256), np.float32), name="movie correlation")
    click(traces.images._summary)
    wait_for_images(qtbot, traces)
    assert mine in viewer.layers and (mine.data == 1).all() and IMAGE_KEY not in mine.metadata
    ours = [layer for layer in viewer.layers if IMAGE_KEY in layer.metadata]
    assert len(ours) == 5 and mine not in ours


def test_the_viewer_works_mid_run_and_cancel_leaves_the_layers_as_they_were(session, qtbot, notes):
    viewer, rois, traces, layers = session
    movie = layers["movie"].data
    click(traces.images._summary)  # a first, complete run
    wait_for_images(qtbot, traces)
    ours = {
        layer.name: (layer, np.array(layer.data))
        for layer in viewer.layers
        if IMAGE_KEY in layer.metadata
    }
    order = names(viewer)

    gate = threading.Event()
    viewer.dims.set_current_step(0, 0)  # frame 0 is shown: it is not gated
    layers["movie"].data = gated(movie, gate)
    click(traces.images._summary)
    bar = traces.images._progress
    qtbot.waitUntil(lambda: bar.n == 256, timeout=20_000)  # the first block is in
    assert traces.images.running == "summary images" and traces._cancel.enabled
    assert not traces._extract.enabled

    # the run is provably unfinished (its next block waits for the gate), and the viewer
    # goes on: Qt runs timers, the frame slider moves, a layer hides
    fired = []
    QTimer.singleShot(0, lambda: fired.append(True))
    qtbot.waitUntil(lambda: bool(fired), timeout=5_000)
    viewer.dims.set_current_step(0, 100)
    layers["ROIs"].visible = False
    assert viewer.dims.current_step[0] == 100 and not layers["ROIs"].visible
    assert traces.images.running and bar.n == 256

    # a second run, or an extraction, waits for this one
    assert not traces.images.summary_images()
    assert "Still computing the summary images" in notes[-1][1]
    assert not traces.images._summary.enabled and not traces.images._roi_map.enabled
    assert not traces.extract()
    assert "Still computing the summary images" in notes[-1][1]

    click(traces._cancel)
    gate.set()
    wait_for_images(qtbot, traces)
    assert names(viewer) == order
    for name, (layer, data) in ours.items():
        assert viewer.layers[name] is layer
        np.testing.assert_array_equal(layer.data, data)
    assert "cancelled" in traces._status.value
    assert traces._extract.enabled and not traces._cancel.enabled
    assert traces.images._summary.enabled and traces.images._roi_map.enabled


def test_a_cancelled_first_run_adds_nothing_and_summary_waits_for_an_extraction(
    session, qtbot, notes
):
    viewer, rois, traces, layers = session
    movie = layers["movie"].data
    before = names(viewer)
    gate = threading.Event()
    viewer.dims.set_current_step(0, 0)
    layers["movie"].data = gated(movie, gate)
    assert traces.extract()
    assert not traces.images.summary_images()
    assert notes[-1] == ("show_info", "Traces are being extracted: wait for them, or Cancel")
    traces.cancel()
    gate.set()
    qtbot.waitUntil(lambda: not traces.running, timeout=20_000)

    gate = threading.Event()
    layers["movie"].data = gated(movie, gate)
    assert traces.images.summary_images()
    qtbot.waitUntil(lambda: traces.images._progress.n == 256, timeout=20_000)
    traces.cancel()
    gate.set()
    wait_for_images(qtbot, traces)
    assert names(viewer) == before


def test_removing_the_dock_mid_run_stops_it_and_adds_nothing(session, qtbot):
    viewer, rois, traces, layers = session
    movie = layers["movie"].data
    before = names(viewer)
    gate = threading.Event()
    viewer.dims.set_current_step(0, 0)
    layers["movie"].data = gated(movie, gate)
    assert traces.images.summary_images()
    qtbot.waitUntil(lambda: traces.images._progress.n == 256, timeout=20_000)
    finished = threading.Event()
    traces.images._worker.finished.connect(finished.set)
    viewer.window.remove_dock_widget(traces.parentWidget())
    assert traces.images._on_mouse not in viewer.mouse_drag_callbacks
    gate.set()
    qtbot.waitUntil(finished.is_set, timeout=20_000)
    assert names(viewer) == before


# -- suite2p's images ----------------------------------------------------------------------------
def suite2p_ops(shape, yrange, xrange, rng):
    crop = (yrange[1] - yrange[0], xrange[1] - xrange[0])
    return {
        "Ly": shape[0],
        "Lx": shape[1],
        "yrange": list(yrange),
        "xrange": list(xrange),
        "meanImg": rng.random(shape).astype(np.float32) * 1000,
        "meanImgE": rng.random(shape).astype(np.float32),
        "Vcorr": rng.random(crop).astype(np.float32),
        "max_proj": rng.random(crop).astype(np.float32) * 2000,
    }


def test_suite2p_images_beside_the_movie_file_load_without_reading_it(
    session, qtbot, tmp_path, notes, rng
):
    import h5py

    viewer, rois, traces, layers = session
    assert not traces.images._suite2p.enabled  # no ops.npy anywhere yet
    with h5py.File(tmp_path / "session.h5", "w") as f:
        f.create_dataset("data", data=np.asarray(layers["movie"].data)[:10])
    ops = suite2p_ops((256, 256), (4, 250), (6, 251), rng)
    np.save(tmp_path / "ops.npy", ops)
    traces.open_movie_file(tmp_path / "session.h5")
    assert traces.images._suite2p.enabled and "ops.npy" in traces.images._suite2p.tooltip
    click(traces.images._suite2p)
    shown = names(viewer)
    ours = [f"session {name} (suite2p)" for name in ("mean", "max", "correlation", "enhanced mean")]
    assert all(name in shown for name in ours)
    assert max(shown.index(n) for n in ours) < shown.index("ROIs")
    np.testing.assert_array_equal(viewer.layers["session mean (suite2p)"].data, ops["meanImg"])
    vcorr = viewer.layers["session correlation (suite2p)"].data
    np.testing.assert_array_equal(vcorr[4:250, 6:251], ops["Vcorr"])
    assert vcorr[:4].max() == 0 and vcorr[:, 251:].max() == 0
    assert viewer.layers["session correlation (suite2p)"].visible
    assert not traces.images.running  # nothing ran in the background: the movie was not read

    # a broken ops.npy: one notification, the layers as they were
    np.save(tmp_path / "ops.npy", {**ops, "Vcorr": np.zeros((3, 3))})
    assert traces.images.load_suite2p_images() == []
    kind, message = notes[-1]
    assert kind == "show_warning" and message.startswith("suite2p images not loaded: ")
    assert "Vcorr is 3 x 3" in message
    np.testing.assert_array_equal(viewer.layers["session correlation (suite2p)"].data, vcorr)


def test_suite2p_images_beside_the_roi_file(make_napari_viewer, tmp_path, rng):
    for name in ("stat.npy", "iscell.npy"):
        shutil.copy(DATA / name, tmp_path / name)
    np.save(tmp_path / "ops.npy", suite2p_ops((96, 80), (2, 90), (3, 77), rng))
    viewer = make_napari_viewer()
    (roi_layer,) = viewer.open(tmp_path / "stat.npy", plugin=PLUGIN)
    viewer.window.add_plugin_dock_widget(PLUGIN, "ROI masks")
    _, traces = viewer.window.add_plugin_dock_widget(PLUGIN, "Traces")
    assert traces.images.suite2p_ops() == tmp_path / "ops.npy"
    shown = traces.images.load_suite2p_images()
    assert [layer.name for layer in shown] == [  # no movie: named after the ROI layer
        f"{roi_layer.name} {name} (suite2p)"
        for name in ("mean", "max", "correlation", "enhanced mean")
    ]
    shown = names(viewer)
    assert shown.index("stat correlation (suite2p)") < shown.index(roi_layer.name)


# -- an ROI's correlation map -----------------------------------------------------------------------
def test_roi_correlation_map_lies_at_its_window_and_follows_the_selected_roi(session, qtbot, notes):
    viewer, rois, traces, layers = session
    assert not traces.images.roi_correlation_map()
    assert "Select an ROI first" in notes[-1][1]
    rois.select_roi(5)
    assert not traces.images.roi_correlation_map()
    assert "Extract the traces of ROI 5" in notes[-1][1]
    extract_and_wait(qtbot, traces)
    rois.select_roi(5)
    click(traces.images._roi_map)
    wait_for_images(qtbot, traces)
    layer = viewer.layers["ROIs ROI 5 correlation"]
    roi = traces.model.roi(5)
    window = correlation_window((roi.top, roi.left, roi.bottom, roi.right), (256, 256))
    assert tuple(layer.translate) == (window.top, window.left)
    movie = np.asarray(layers["movie"].data)
    f = traces.model.traces[5].roi
    top, left, bottom, right = window
    pixels = movie[:, top:bottom, left:right].reshape(300, -1).astype(float)
    expected = np.array([np.corrcoef(f, p)[0, 1] for p in pixels.T])
    np.testing.assert_allclose(layer.data.ravel(), expected, atol=1e-6)
    assert names(viewer).index("ROIs ROI 5 correlation") < names(viewer).index("ROIs")
    # what a user sees: the cell's own pixels correlate with its F, the window's others less
    inside = roi.plane((256, 256))[top:bottom, left:right]
    assert layer.data[inside].mean() > 0.8 > layer.data[~inside].mean() + 0.3

    rois.select_roi(7)
    click(traces.images._roi_map)
    wait_for_images(qtbot, traces)
    assert viewer.layers["ROIs ROI 7 correlation"] is layer  # one map, updated in place
    assert "ROIs ROI 5 correlation" not in names(viewer)
    roi = traces.model.roi(7)
    window = correlation_window((roi.top, roi.left, roi.bottom, roi.right), (256, 256))
    assert tuple(layer.translate) == (window.top, window.left) and layer.data.shape == window.shape


# -- Alt+click pixel traces ---------------------------------------------------------------------
def alt_click(viewer, row, column, modifier=Qt.KeyboardModifier.AltModifier) -> None:
    """A real mouse click, with Alt, on the canvas pixel that shows ``row, column``: the view
    centred on it, a click at the canvas's centre (the window shown, so the canvas has its size)."""
    viewer.window.show()
    view = camera(viewer)
    view.center = (row, column)
    view.zoom = 4
    canvas = viewer.window._qt_viewer.canvas.native
    centre = QPoint(canvas.width() // 2, canvas.height() // 2)
    QTest.mouseClick(canvas, Qt.MouseButton.LeftButton, modifier, centre)


def test_alt_click_plots_the_pixels_trace_beside_the_rois_and_replaces_it(session, qtbot):
    viewer, rois, traces, layers = session
    movie = np.asarray(layers["movie"].data)
    extract_and_wait(qtbot, traces)
    rois.select_roi(5)
    alt_click(viewer, 100, 60)
    labels = [label for label, _ in traces.lines]
    assert labels[:3] == ["ROI 5 F", "ROI 5 Fneu", "ROI 5 F - 0.70 Fneu"]
    assert labels[3] == "3x3 around (row 100, column 60)"
    np.testing.assert_allclose(
        traces.lines[3][1].get_ydata(), movie[:, 99:102, 59:62].reshape(300, -1).mean(axis=1)
    )
    assert len(traces.view.plot.panels) == 2  # stacked beside the ROI's

    traces.images._neighbourhood.value = _image_tools.ONE_PIXEL
    alt_click(viewer, 30, 200)
    labels = [label for label, _ in traces.lines]
    assert labels[3:] == ["pixel (row 30, column 200)"]  # replaced
    np.testing.assert_array_equal(traces.lines[3][1].get_ydata(), movie[:, 30, 200])

    alt_click(viewer, 50, 50, modifier=Qt.KeyboardModifier.NoModifier)  # a plain click: nothing
    assert [label for label, _ in traces.lines][3:] == ["pixel (row 30, column 200)"]

    click(traces.images._clear_pixel)
    assert [label for label, _ in traces.lines] == labels[:3]
    assert not traces.images._clear_pixel.enabled


def test_alt_click_on_a_lazy_movie_reads_only_the_pixels_chunks_in_a_worker(session, qtbot):
    viewer, rois, traces, layers = session
    movie = np.asarray(layers["movie"].data)
    read = []

    def chunk(block, block_info=None):
        if threading.current_thread() is not threading.main_thread():  # not napari drawing
            read.append(tuple(tuple(r) for r in block_info[0]["array-location"]))
        return block

    lazy = da.from_array(movie, chunks=(50, 64, 64)).map_blocks(chunk, dtype=movie.dtype)
    viewer.add_image(lazy, name="lazy movie", contrast_limits=(0, 2000))
    traces._movie.value = viewer.layers["lazy movie"]
    read.clear()
    alt_click(viewer, 70, 130)
    qtbot.waitUntil(lambda: traces.view.pixel_trace is not None, timeout=20_000)
    assert [label for label, _ in traces.lines] == ["3x3 around (row 70, column 130)"]
    np.testing.assert_allclose(
        traces.lines[0][1].get_ydata(), movie[:, 69:72, 129:132].reshape(300, -1).mean(axis=1)
    )
    # the one chunk column under the 3x3, every frame of it once
    assert sorted(read) == [((f, f + 50), (64, 128), (128, 192)) for f in range(0, 300, 50)]


def test_alt_click_reads_a_pixel_only_in_pan_zoom_mode_and_says_so(session, qtbot, notes):
    # napari hands every click to the active layer too: in paint mode the click paints (as
    # any click does), so it is not also taken for a pixel trace
    viewer, rois, traces, layers = session
    labels = layers["ROIs"]
    viewer.layers.selection.active = labels
    labels.mode = "paint"
    alt_click(viewer, 100, 60)
    assert traces.view.pixel_trace is None
    assert "pan/zoom mode" in notes[-1][1] and "'ROIs'" in notes[-1][1]
    labels.mode = "pan_zoom"
    before = np.array(labels.data)
    alt_click(viewer, 100, 60)
    assert traces.view.pixel_trace is not None
    np.testing.assert_array_equal(labels.data, before)


def test_a_movie_given_other_data_mid_run_gets_no_images_of_the_old_data(session, qtbot):
    viewer, rois, traces, layers = session
    movie = layers["movie"].data
    gate = threading.Event()
    viewer.dims.set_current_step(0, 0)
    layers["movie"].data = gated(movie, gate)
    click(traces.images._summary)
    qtbot.waitUntil(lambda: traces.images._progress.n == 256, timeout=20_000)
    layers["movie"].data = movie + 1000  # the user replaces the movie's data meanwhile
    gate.set()
    wait_for_images(qtbot, traces)
    assert not [layer for layer in viewer.layers if IMAGE_KEY in layer.metadata]
    assert "got other data meanwhile" in traces._status.value
