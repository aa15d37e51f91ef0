"""The "Traces" dock in a real viewer: extraction in a worker, cancel, plots, exports, bad input."""

from __future__ import annotations

import csv
import threading

import dask.array as da
import numpy as np
import pytest
from qtpy.QtCore import QPoint, Qt
from qtpy.QtTest import QTest

from napari_roimasks import roi_masks
from napari_roimasks.core import delta_f_over_f, estimate_contamination_ratio
from napari_roimasks.core.traces import DEFAULT_BLOCK_BYTES
from napari_roimasks.model import Correction
from napari_roimasks.widgets import _napari, _trace_view

PLUGIN = "napari-roimasks"


def extract_and_wait(qtbot, traces):
    with qtbot.waitSignal(traces.model.traces_changed, timeout=60_000):
        assert traces.extract()
    qtbot.waitUntil(lambda: not traces.running, timeout=10_000)


def allensdk_traces(layers):
    """The core's AllenSDK-compatible answer for the sample."""
    labels = np.asarray(layers["ROIs"].data)
    border = layers["movie"].metadata["motion_border"]
    h, w = labels.shape
    rois = [
        roi_masks.create_roi_mask(w, h, border, roi_mask=labels == k, label=k)
        for k in range(1, labels.max() + 1)
    ]
    neuropils = [roi_masks.create_neuropil_mask(r, border, labels > 0) for r in rois]
    traces, _ = roi_masks.calculate_traces(layers["movie"].data, rois + neuropils)
    return traces[: len(rois)], traces[len(rois) :]


def plotted(traces):
    return {label: np.asarray(line.get_ydata()) for label, line in traces.lines}


def test_extract_gives_the_cores_traces_and_plots_the_selected_roi(session, qtbot):
    viewer, rois, traces, layers = session
    extract_and_wait(qtbot, traces)
    roi_expected, neuropil_expected = allensdk_traces(layers)
    for k in range(1, 41):
        np.testing.assert_array_equal(traces.model.traces[k].roi, roi_expected[k - 1])
        np.testing.assert_array_equal(traces.model.traces[k].neuropil, neuropil_expected[k - 1])
    assert all(row.trace == "current" for row in rois.model.rows())
    rois.select_roi(5)
    lines = plotted(traces)
    np.testing.assert_array_equal(lines["ROI 5 F"], roi_expected[4])
    np.testing.assert_array_equal(lines["ROI 5 Fneu"], neuropil_expected[4])
    np.testing.assert_allclose(
        lines["ROI 5 F - 0.70 Fneu"], roi_expected[4] - 0.7 * neuropil_expected[4]
    )
    # the per-ROI summary lands in the ROI layer's features
    features = layers["ROIs"].features.set_index("index")
    assert features.loc[5, "mean_F"] == pytest.approx(np.mean(roi_expected[4]))
    assert features.loc[5, "r"] == pytest.approx(0.7)
    flagged = int(np.flatnonzero(np.isnan(roi_expected[:, 0]))[0]) + 1
    assert features.loc[flagged, "exclusion"] == "motion_border"


def test_fitted_r_and_dff_are_what_is_plotted(session, qtbot):
    viewer, rois, traces, layers = session
    extract_and_wait(qtbot, traces)
    traces.view._correction.value = _trace_view.FITTED
    traces.view._show.value = _trace_view.DFF
    traces.view._window.value = 51
    rois.select_roi(7)
    stored = traces.model.traces[7]
    r = traces.ratios()[7]
    fitted = estimate_contamination_ratio(stored.roi, stored.neuropil).r
    assert r == pytest.approx(fitted) if fitted <= 1 else r <= 1
    (label, values), *_ = plotted(traces).items()
    assert label == f"ROI 7 dF/F (r = {r:.2f})"
    np.testing.assert_allclose(values, delta_f_over_f(stored.roi - r * stored.neuropil, 51))


def test_several_selected_rois_stack_or_overlay(session, qtbot):
    viewer, rois, traces, layers = session
    extract_and_wait(qtbot, traces)
    traces.model.set_selection([2, 3, 6])
    assert len(traces.view.plot.panels) == 3
    traces.view._arrange.value = _trace_view.OVERLAY
    assert len(traces.view.plot.panels) == 1 and len(traces.lines) == 9


def test_frame_line_follows_the_slider_and_a_click_moves_it(session, qtbot):
    viewer, rois, traces, layers = session
    extract_and_wait(qtbot, traces)
    rois.select_roi(1)
    assert traces.model.selection == (1,)
    viewer.dims.set_current_step(0, 123)
    plot = traces.view.plot
    assert plot.frame == 123
    viewer.window._qt_window.show()  # the plot has its size
    middle = plot.panel_rects()[0].center().y()
    x = round(plot.x_of(210))
    QTest.mouseClick(plot, Qt.MouseButton.LeftButton, pos=QPoint(x, round(middle)))
    assert viewer.dims.current_step[0] == round(plot.frame_at(x))
    assert abs(viewer.dims.current_step[0] - 210) <= 1  # the pixel's frame


def test_editing_an_roi_makes_only_its_traces_stale_and_extract_redoes_only_those(session, qtbot):
    viewer, rois, traces, layers = session
    extract_and_wait(qtbot, traces)
    before = {k: v.roi.copy() for k, v in traces.model.traces.items()}
    layers["ROIs"].brush_size = 3
    row, col = np.argwhere(np.asarray(layers["ROIs"].data) == 12)[0]
    layers["ROIs"].paint((row - 1, col), 12)
    stale = {s.key for s in rois.model.rows() if s.trace == "stale"}
    assert 12 in stale and len(stale) < 10
    assert traces.model.keys_to_extract(traces.model.trace_movie) == sorted(stale)
    extract_and_wait(qtbot, traces)
    assert all(s.trace == "current" for s in rois.model.rows())
    untouched = set(before) - stale
    assert all(
        np.array_equal(before[k], traces.model.traces[k].roi, equal_nan=True) for k in untouched
    )
    assert not np.array_equal(before[12], traces.model.traces[12].roi)


def first_block(movie) -> int:
    """How many frames the engine reads in its first block (then it reads ahead)."""
    return DEFAULT_BLOCK_BYTES // movie[0].nbytes


def gated(movie, gate, *, frames_a_chunk=4):
    """``movie`` as a dask array whose frames after the engine's first block wait until
    ``gate`` is set: the first block comes in (progress shows), then the run stays under
    way, unfinished, until the test lets it go on."""
    open_frames = first_block(movie)
    assert open_frames % frames_a_chunk == 0 and open_frames < len(movie)

    def chunk(frames, block_info=None):
        if block_info[0]["array-location"][0][0] >= open_frames:
            assert gate.wait(timeout=60), "the test never let the movie be read"
        return frames

    lazy = da.from_array(movie, chunks=(frames_a_chunk, *movie.shape[1:]))
    return lazy.map_blocks(chunk, dtype=movie.dtype)


def test_cancel_keeps_nothing_and_a_second_run_works(session, qtbot, notes):
    viewer, rois, traces, layers = session
    movie = layers["movie"].data
    gate = threading.Event()
    viewer.dims.set_current_step(0, 0)
    layers["movie"].data = gated(movie, gate)
    assert traces.extract()
    assert not traces.extract()  # a second Extract while one runs is refused
    assert "being extracted already" in notes[-1][1]
    qtbot.waitUntil(lambda: traces._progress is not None and traces._progress.n > 0, timeout=20_000)
    traces.cancel()
    gate.set()  # the block being read comes in; the job stops there
    qtbot.waitUntil(lambda: not traces.running, timeout=20_000)
    assert traces.model.traces == {}
    assert "cancelled" in traces._status.value
    layers["movie"].data = movie
    extract_and_wait(qtbot, traces)
    assert len(traces.model.traces) == 40


def test_removing_the_dock_mid_run_cancels_it_and_keeps_nothing(session, qtbot):
    viewer, rois, traces, layers = session
    movie = layers["movie"].data
    gate = threading.Event()
    viewer.dims.set_current_step(0, 0)
    layers["movie"].data = gated(movie, gate)
    assert traces.extract()
    qtbot.waitUntil(lambda: traces._progress is not None and traces._progress.n > 0, timeout=20_000)
    job = traces._worker
    finished = threading.Event()
    job.finished.connect(finished.set)

    viewer.window.remove_dock_widget(traces.parentWidget())
    gate.set()  # the block being read comes in; the job stops there

    qtbot.waitUntil(finished.is_set, timeout=20_000)
    assert rois.model.traces == {}  # nothing of the run was stored
    assert {row.trace for row in rois.model.rows()} == {""}


def test_a_movie_file_that_is_one_rgb_picture_adds_no_layer(session, tmp_path, notes):
    import tifffile

    viewer, rois, traces, layers = session
    tifffile.imwrite(tmp_path / "photo.tif", np.zeros((32, 48, 3), np.uint8), photometric="rgb")
    before = [layer.name for layer in viewer.layers]

    assert traces.open_movie_file(tmp_path / "photo.tif") is None

    assert [layer.name for layer in viewer.layers] == before
    kind, message = notes[-1]
    assert kind == "show_error" and str(tmp_path / "photo.tif") in message
    assert (
        "a colour (RGB) image" in message and "expected a (frames, rows, columns) movie" in message
    )


def test_exports_hold_exactly_the_plotted_numbers(session, qtbot, tmp_path, notes):
    viewer, rois, traces, layers = session
    extract_and_wait(qtbot, traces)
    traces.model.set_selection([4, 9])
    path = traces.export_csv(tmp_path / "traces.csv")
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["frame", *(label for label, _ in traces.lines)]
    table = np.array(rows[1:], dtype=float)
    np.testing.assert_array_equal(table[:, 0], np.arange(300))
    for column, (_, line) in enumerate(traces.lines, start=1):
        np.testing.assert_array_equal(table[:, column], line.get_ydata())
    for suffix in ("png", "svg"):
        saved = traces.save_figure(tmp_path / f"traces.{suffix}")
        assert saved.stat().st_size > 1000
    assert sorted(p.name for p in tmp_path.iterdir()) == ["traces.csv", "traces.png", "traces.svg"]
    before = (tmp_path / "traces.csv").read_bytes()
    assert traces.export_csv(tmp_path / "traces.csv") is None  # never replaced unasked
    assert "exists" in notes[-1][1] and (tmp_path / "traces.csv").read_bytes() == before
    assert traces.export_csv(tmp_path / "traces.csv", overwrite=True) is not None


def test_movie_of_another_size_is_refused(session, notes):
    viewer, rois, traces, layers = session
    viewer.add_image(np.zeros((10, 100, 100), np.uint16), name="other movie")
    traces._movie.value = viewer.layers["other movie"]
    assert not traces.extract()
    assert (
        "frames are 100 rows x 100 columns but the masks were made for 256 rows x 256"
        in notes[-1][1]
    )
    assert traces.model.traces == {}


def test_nan_frames_are_reported(session, qtbot, notes):
    viewer, rois, traces, layers = session
    movie = layers["movie"].data.astype(np.float32)
    movie[[10, 11]] = np.nan
    viewer.add_image(movie, name="movie with gaps")
    traces._movie.value = viewer.layers["movie with gaps"]
    extract_and_wait(qtbot, traces)
    assert any("2 frames of the movie hold NaN" in message for _, message in notes)
    assert np.isnan(traces.model.traces[1].roi[[10, 11]]).all() and np.isfinite(
        traces.model.traces[1].roi[12]
    )


def test_empty_roi_layer_gets_a_message(make_napari_viewer, notes):
    viewer = make_napari_viewer()
    viewer.add_image(np.zeros((20, 40, 40), np.uint16), name="movie")
    viewer.add_labels(np.zeros((40, 40), np.int32), name="ROIs")
    viewer.window.add_plugin_dock_widget(PLUGIN, "ROI masks")
    _, traces = viewer.window.add_plugin_dock_widget(PLUGIN, "Traces")
    assert not traces.extract()
    assert "No ROIs to extract" in notes[-1][1]


def test_a_file_that_disappears_mid_extraction_is_reported_and_nothing_kept(
    session, qtbot, notes, tmp_path
):
    viewer, rois, traces, layers = session
    movie = np.asarray(layers["movie"].data)
    for start in range(0, 300, 4):
        np.save(tmp_path / f"frames_{start}.npy", movie[start : start + 4])
    gate, open_frames = threading.Event(), first_block(movie)

    def load(block_id):
        start = block_id[0] * 4
        if start >= open_frames:  # the run is under way; the rest waits until the files are gone
            assert gate.wait(timeout=60), "the test never let the movie be read"
        return np.load(tmp_path / f"frames_{start}.npy")

    lazy = da.map_blocks(load, chunks=((4,) * 75, (256,), (256,)), dtype=movie.dtype)
    viewer.dims.set_current_step(0, 0)  # napari draws frame 0, which is not gated
    viewer.add_image(lazy, name="lazy movie", contrast_limits=(0, 2000))
    traces._movie.value = viewer.layers["lazy movie"]
    assert traces.extract()
    qtbot.waitUntil(lambda: traces._progress is not None and traces._progress.n > 0, timeout=20_000)
    for path in tmp_path.glob("frames_*.npy"):
        path.unlink()
    gate.set()
    qtbot.waitUntil(lambda: not traces.running, timeout=20_000)
    assert any(kind == "show_error" and "nothing was kept" in message for kind, message in notes)
    assert traces.model.traces == {}
    np.testing.assert_array_equal(layers["movie"].data, movie)


def test_open_a_movie_file_lazily(session, tmp_path, notes):
    import h5py

    viewer, rois, traces, layers = session
    path = tmp_path / "session.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("data", data=np.asarray(layers["movie"].data)[:20], chunks=(1, 256, 256))
    layer = traces.open_movie_file(path)
    assert (
        layer.name == "session"
        and traces.movie_layer is layer
        and layer.data.shape == (20, 256, 256)
    )
    assert traces.open_movie_file(tmp_path / "missing.h5") is None
    assert "missing.h5: no such file" in notes[-1][1]


def open_sample_movie_file(traces, layers, tmp_path):
    """The sample's movie written to HDF5 (a frame a chunk) and opened in the dock: Dask workers
    read movie files."""
    import h5py

    path = tmp_path / "session.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("data", data=np.asarray(layers["movie"].data), chunks=(1, 256, 256))
    traces.open_movie_file(path)
    return path


def close_clusters(traces):
    traces._clients.close()


def test_extract_on_a_local_dask_cluster_gives_the_same_traces(session, qtbot, tmp_path, notes):
    pytest.importorskip("distributed")

    viewer, rois, traces, layers = session
    traces._scheduler.value = "local"
    assert not traces.extract()  # the sample's movie lives in memory: workers cannot open it
    assert "The Dask scheduler reads movie files" in notes[-1][1]
    open_sample_movie_file(traces, layers, tmp_path)
    try:
        with qtbot.waitSignal(traces.model.traces_changed, timeout=120_000):
            assert traces.extract()
        qtbot.waitUntil(lambda: not traces.running, timeout=20_000)
        roi_expected, neuropil_expected = allensdk_traces(layers)
        for k in (1, 5, 40):
            np.testing.assert_array_equal(traces.model.traces[k].roi, roi_expected[k - 1])
            np.testing.assert_array_equal(traces.model.traces[k].neuropil, neuropil_expected[k - 1])
    finally:
        close_clusters(traces)


def test_cancel_on_a_dask_cluster_keeps_nothing_and_ends_the_clusters_tasks(
    session, qtbot, tmp_path, monkeypatch
):
    pytest.importorskip("distributed")

    from napari_roimasks.core import distributed_traces

    monkeypatch.setattr(distributed_traces, "TASK_BYTES", 1)  # a frame a task: a long job
    viewer, rois, traces, layers = session
    open_sample_movie_file(traces, layers, tmp_path)
    traces._scheduler.value = "local"
    try:
        assert traces.extract()
        qtbot.waitUntil(
            lambda: traces._progress is not None and traces._progress.n > 0, timeout=120_000
        )
        bar = traces._progress
        assert bar.total == 300 and "on the cluster" in bar.desc and "frames/s" in bar.desc
        traces.cancel()
        qtbot.waitUntil(lambda: not traces.running, timeout=20_000)
        assert bar.n < 300
        assert traces.model.traces == {}
        assert "cancelled" in traces._status.value
        (client,) = traces._clients.clients()
        # nothing is left running or held on the cluster
        qtbot.waitUntil(lambda: not client.cluster.scheduler.tasks, timeout=20_000)
    finally:
        close_clusters(traces)


def test_a_cluster_job_that_fails_is_reported_and_the_dock_is_ready_again(
    session, qtbot, tmp_path, monkeypatch, notes
):
    pytest.importorskip("distributed")
    import os

    from napari_roimasks.core import distributed_traces

    viewer, rois, traces, layers = session
    open_sample_movie_file(traces, layers, tmp_path)
    plan_blocks = distributed_traces._blocks

    def plan_then_hide(movie, dataset, max_block_bytes):  # the workers cannot see the movie
        planned = plan_blocks(movie, dataset, max_block_bytes)
        os.rename(movie, f"{movie}.elsewhere")
        return planned

    monkeypatch.setattr(distributed_traces, "_blocks", plan_then_hide)
    traces._scheduler.value = "local"
    try:
        assert traces.extract()
        qtbot.waitUntil(lambda: not traces.running, timeout=120_000)
        kind, message = notes[-1]
        assert kind == "show_error" and message.startswith(
            "Trace extraction failed, nothing was kept"
        )
        assert "failed on the cluster" in message and "same path" in message
        assert traces.model.traces == {}
        assert traces._extract.enabled and not traces._cancel.enabled
    finally:
        close_clusters(traces)


def test_without_distributed_the_scheduler_field_says_what_to_install(
    session, tmp_path, monkeypatch, notes
):

    from napari_roimasks.core import distributed_traces

    viewer, rois, traces, layers = session
    open_sample_movie_file(traces, layers, tmp_path)
    monkeypatch.setattr(distributed_traces, "has_distributed", lambda: False)
    traces._scheduler.value = "local"
    status = traces._status.value
    assert not traces.extract()
    assert notes[-1] == ("show_warning", distributed_traces.INSTALL_DISTRIBUTED)
    assert "pip install 'napari-roimasks[distributed]'" in notes[-1][1]
    assert not traces.running and traces._progress is None and traces._status.value == status


def test_an_unreachable_scheduler_is_reported_without_blocking_the_viewer(
    session, qtbot, tmp_path, notes
):
    pytest.importorskip("distributed")
    import dask

    viewer, rois, traces, layers = session
    open_sample_movie_file(traces, layers, tmp_path)
    traces._scheduler.value = "tcp://127.0.0.1:9"  # nothing listens there
    with dask.config.set({"distributed.comm.timeouts.connect": "2s"}):
        assert traces.extract()
        # the connection is tried in the extraction's thread: the viewer goes on meanwhile
        assert traces.running and not notes
        qtbot.waitUntil(lambda: not traces.running, timeout=60_000)
    kind, message = notes[-1]
    assert kind == "show_error"
    assert "cannot reach the Dask scheduler tcp://127.0.0.1:9" in message
    assert traces._extract.enabled and traces.model.traces == {}


def test_a_file_chosen_in_the_dialog_is_replaced_as_the_dialog_promised(
    session, qtbot, tmp_path, monkeypatch
):
    _, _, traces, _ = session
    extract_and_wait(qtbot, traces)
    traces.model.set_selection([2])
    target = tmp_path / "chosen.csv"
    target.write_text("an older export")
    # the dialog has asked "replace?" and the user said yes: it returns the path
    monkeypatch.setattr(
        _napari.QFileDialog, "getSaveFileName", lambda *a, **k: (str(target), "CSV (*.csv)")
    )
    assert traces.export_csv() == target
    assert target.read_text().startswith("frame,ROI 2 F")


def test_replacing_the_movies_data_makes_every_trace_stale(session, qtbot, notes, table):
    viewer, rois, traces, layers = session
    extract_and_wait(qtbot, traces)
    brighter = np.asarray(layers["movie"].data) + np.uint16(100)
    layers["movie"].data = brighter  # same layer, same shape: new numbers
    assert {row.trace for row in rois.model.rows()} == {"stale"}
    assert {row["trace"] for row in table(rois)} == {"stale"}  # what the table shows
    extract_and_wait(qtbot, traces)
    assert len(traces.model.keys_to_extract(traces.model.trace_movie)) == 0
    np.testing.assert_array_equal(
        traces.model.traces[1].roi, allensdk_traces(layers)[0][0]
    )  # the new movie's numbers


def test_the_correction_is_the_models_in_every_traces_dock(session, qtbot):
    viewer, rois, traces, layers = session
    extract_and_wait(qtbot, traces)
    traces.model.set_selection([2])
    traces.model.set_correction(Correction(fitted=True))  # e.g. from a script
    assert traces.view._correction.value == _trace_view.FITTED
    assert "r = " not in traces.lines[-1][0] and traces.lines[-1][0].startswith("ROI 2 F - ")
    viewer.window.remove_dock_widget(traces.parentWidget())
    _, again = viewer.window.add_plugin_dock_widget(PLUGIN, "Traces")
    assert again.view._correction.value == _trace_view.FITTED
    assert again.model.correction == Correction(fitted=True)


def test_a_file_movie_whose_data_was_replaced_is_not_sent_to_a_cluster(
    session, qtbot, tmp_path, notes
):
    viewer, rois, traces, layers = session
    open_sample_movie_file(traces, layers, tmp_path)
    # the layer no longer shows the file's frames
    traces.movie_layer.data = np.asarray(layers["movie"].data) + np.uint16(1)
    traces._scheduler.value = "local"
    assert not traces.extract()
    assert "no longer shows the frames of" in notes[-1][1] and not traces._clients.clients()


# -- NWB export -----------------------------------------------------------------------------------
def wait_for_nwb(qtbot, traces):
    qtbot.waitUntil(lambda: not traces.view.exporting, timeout=60_000)


def test_nwb_export_writes_the_rois_rings_and_traces_the_model_holds_with_the_session(
    session, qtbot, tmp_path, notes
):
    pytest.importorskip("pynwb")
    from pynwb import NWBHDF5IO

    from napari_roimasks.io.nwb_session import NwbSession

    viewer, rois, traces, layers = session
    extract_and_wait(qtbot, traces)
    traces.model.set_correction(Correction(fitted=True))
    chosen = NwbSession(
        experimenter=("Doe, Jane",),
        institution="Allen Institute",
        subject_id="m1",
        species="Mus musculus",
        age="P90D",
        indicator="GCaMP6f",
        location="VISp",
        imaging_rate=15.0,
    )
    path = tmp_path / "session.nwb"
    assert traces.export_nwb(path, session=chosen) == path
    wait_for_nwb(qtbot, traces)
    assert notes[-1] == (
        "show_info",
        f"Wrote {path}: 40 ROIs with their neuropil masks and their traces (300 frames)",
    )
    written = path.read_bytes()
    traces.export_nwb(path, session=chosen)  # never replaced unasked
    wait_for_nwb(qtbot, traces)
    kind, message = notes[-1]
    assert kind == "show_error" and message.startswith(f"NWB not exported: {path} exists")
    assert path.read_bytes() == written
    model, shape = traces.model, traces.model.image_shape
    keys, ratios = model.roi_keys(), traces.ratios()
    with NWBHDF5IO(str(path), "r") as io:
        nwb = io.read()
        assert list(nwb.experimenter) == ["Doe, Jane"] and nwb.institution == "Allen Institute"
        assert (nwb.subject.subject_id, nwb.subject.species) == ("m1", "Mus musculus")
        assert nwb.imaging_planes["ImagingPlane"].indicator == "GCaMP6f"
        ophys = nwb.processing["ophys"]
        table = ophys["ImageSegmentation"]["PlaneSegmentation"]
        assert [int(i) for i in table["roi_id"].data[:]] == keys
        rings = ophys["ImageSegmentation"]["NeuropilSegmentation"]["image_mask"].data
        series = ophys["Fluorescence"]
        f, fneu = series["RoiResponseSeries"].data[:], series["Neuropil"].data[:]
        corrected = series["Corrected"].data[:]
        assert series["Corrected"].rate == 15.0
        for column, key in enumerate(keys):
            stored = model.traces[key]
            np.testing.assert_array_equal(f[:, column], stored.roi)
            np.testing.assert_array_equal(fneu[:, column], stored.neuropil)
            np.testing.assert_allclose(
                corrected[:, column], stored.roi - ratios[key] * stored.neuropil
            )
            assert table["neuropil_r"].data[column] == pytest.approx(ratios[key], nan_ok=True)
            np.testing.assert_array_equal(
                table["image_mask"].data[column], model.roi(key).plane(shape)
            )
            ring = model.ring(key)
            np.testing.assert_array_equal(
                rings[column], np.zeros(shape, bool) if ring is None else ring.plane(shape)
            )


def test_nwb_export_refuses_stale_traces(session, qtbot, tmp_path, notes):
    from napari_roimasks.io.nwb_session import NwbSession

    viewer, rois, traces, layers = session
    extract_and_wait(qtbot, traces)
    layers["ROIs"].brush_size = 3
    row, col = np.argwhere(np.asarray(layers["ROIs"].data) == 12)[0]
    layers["ROIs"].paint((row - 1, col), 12)
    stale = sorted(row.key for row in rois.model.rows() if row.trace == "stale")
    assert 12 in stale
    assert traces.export_nwb(tmp_path / "stale.nwb", session=NwbSession()) is None
    kind, message = notes[-1]
    assert kind == "show_warning"
    assert (
        f"The traces of {len(stale)} ROIs are missing or stale (ROIs {', '.join(map(str, stale))})"
        in message
    )
    assert "Extract traces" in message and not traces.view.exporting
    assert list(tmp_path.iterdir()) == []


def test_the_nwb_dialog_remembers_the_last_fields_and_keeps_a_bad_one_open(
    session, qtbot, tmp_path, notes, monkeypatch
):
    pytest.importorskip("pynwb")
    from pynwb import NWBHDF5IO

    from napari_roimasks.io.nwb_session import NwbSession
    from napari_roimasks.widgets._nwb_export import NwbSessionDialog

    viewer, rois, traces, layers = session
    first = NwbSession(experimenter=("Doe, Jane", "Roe, Rick"), lab="Ophys", indicator="GCaMP6s")
    assert traces.export_nwb(tmp_path / "masks.nwb", session=first) is not None
    wait_for_nwb(qtbot, traces)  # no traces extracted: the masks alone
    assert "40 ROIs with their neuropil masks without traces" in notes[-1][1]

    dialog = NwbSessionDialog(traces)  # what the next export's dialog shows
    qtbot.addWidget(dialog)
    assert dialog.fields["experimenter"].value == "Doe, Jane; Roe, Rick"
    assert (dialog.fields["lab"].value, dialog.fields["indicator"].value) == ("Ophys", "GCaMP6s")
    dialog.fields["subject_id"].value = "m7"
    dialog.fields["species"].value = "Mus musculus"
    dialog.fields["age"].value = "ninety days"
    dialog.accept()
    assert dialog.chosen is None and dialog.result() != dialog.DialogCode.Accepted
    assert dialog.problem.text().startswith("age: 'ninety days' is not an ISO 8601 duration")
    assert not dialog.problem.isHidden()

    # the user corrects the age and presses OK on the export's dialog, then picks a file
    def press_ok(self):
        self.fields["age"].value = "P12W"
        self.fields["subject_id"].value = "m7"
        self.fields["species"].value = "Mus musculus"
        self.accept()
        return self.result()

    monkeypatch.setattr(NwbSessionDialog, "exec", press_ok)
    target = tmp_path / "asked.nwb"
    monkeypatch.setattr(
        _napari.QFileDialog, "getSaveFileName", lambda *a, **k: (str(target), "NWB (*.nwb)")
    )
    assert traces.export_nwb() == target
    wait_for_nwb(qtbot, traces)
    with NWBHDF5IO(str(target), "r") as io:
        nwb = io.read()
        assert list(nwb.experimenter) == ["Doe, Jane", "Roe, Rick"] and nwb.lab == "Ophys"
        assert (nwb.subject.subject_id, nwb.subject.age) == ("m7", "P12W")
    assert NwbSessionDialog(traces).fields["age"].value == "P12W"  # remembered in turn
