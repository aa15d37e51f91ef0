"""The autosaved session in a real viewer: written as the curator works, offered when the file is
opened again, restored whole, and never broken by a kill."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import h5py
import numpy as np
import pytest
from qtpy.QtCore import Qt
from qtpy.QtTest import QTest

from napari_roimasks.io.roi_set import Decision
from napari_roimasks.io.session_file import read_session
from napari_roimasks.synthetic import make_recording

PLUGIN = "napari-roimasks"


def write_recording(folder: Path) -> tuple[Path, Path]:
    """A movie (HDF5) and its ROIs (a label image, .npy), as files a lab has."""
    recording = make_recording(n_frames=60, shape=(128, 128), n_cells=12, seed=3)
    movie = folder / "mouse.h5"
    with h5py.File(movie, "w") as f:
        f.create_dataset("data", data=recording.movie, chunks=(1, 128, 128))
    rois = folder / "mouse_rois.npy"
    np.save(rois, recording.roi_labels.astype(np.int32))
    return movie, rois


@pytest.fixture
def files(tmp_path):
    movie, rois = write_recording(tmp_path)
    return movie, rois, tmp_path / "mouse_rois.session.roimasks.h5"


def open_files(viewer, *paths):
    for path in paths:
        viewer.open(str(path), plugin=PLUGIN)
    _, dock = viewer.window.add_plugin_dock_widget(PLUGIN, "ROI masks")
    return dock


def press(viewer, key):
    QTest.keyClick(viewer.window._qt_viewer.canvas.native, key)


def saved_decisions(path: Path) -> dict:
    if not path.exists():
        return {}
    return {r.id: r.decision for r in read_session(path).rois.rois}


def decide_by_keys(viewer, dock):
    """J G (ROI 1 cell, on to the next unlabeled, 2), N (2 not cell)."""
    press(viewer, Qt.Key.Key_J)
    press(viewer, Qt.Key.Key_G)
    press(viewer, Qt.Key.Key_N)
    return {1: Decision.CELL, 2: Decision.NOT_CELL}


def test_decisions_made_by_keys_are_autosaved_beside_the_roi_file(make_napari_viewer, qtbot, files):
    movie, rois, session = files
    viewer = make_napari_viewer()
    dock = open_files(viewer, movie, rois)
    assert dock.session.autosave.path == session
    made = decide_by_keys(viewer, dock)
    qtbot.waitUntil(
        lambda: {k: saved_decisions(session).get(k) for k in made} == made, timeout=10000
    )
    assert set(saved_decisions(session)) == set(dock.model.roi_keys())
    qtbot.waitUntil(  # the writing thread's report reaches the dock through Qt's queue
        lambda: dock.session._status.value == f"Autosaved to {session.name}", timeout=10000
    )
    assert dock.session._status.tooltip.startswith("Last saved at ")
    saved = read_session(session)
    assert saved.movie_path is None  # the Traces dock was not open: no movie chosen
    assert saved.rois.border == dock.model.border


def test_reopening_offers_the_session_and_restore_brings_everything_back(
    make_napari_viewer, qtbot, files, table
):
    movie, rois, session = files
    first = make_napari_viewer()
    dock = open_files(first, movie, rois)
    _, traces = first.window.add_plugin_dock_widget(PLUGIN, "Traces")
    assert traces.extract()
    qtbot.waitUntil(lambda: not traces.running and bool(dock.model.traces), timeout=30000)
    made = decide_by_keys(first, dock)
    dock.model.decide([3], Decision.NOT_CELL, reason="dim")
    traces.images._diameter.value = 9.0  # the summary images' setting, as the user types it
    before_rows = table(dock)
    assert dock.session.autosave.flush(timeout=30)
    saved = read_session(session)
    assert saved.movie_path == str(movie) and saved.traces is not None
    first.close()

    viewer = make_napari_viewer()
    dock = open_files(viewer, rois)  # the ROI file alone: the session knows the movie
    opened = dock.source
    assert dock.session.offered == session
    assert dock.session._buttons.native.isVisibleTo(dock)
    assert dock.session._offer.value.startswith("An autosaved session of this file exists")
    assert dock.session.autosave is None  # nothing is written over it meanwhile
    assert {row["decision"] for row in table(dock)} == {""}  # unlabeled, as the file has it

    dock.session.restore()
    qtbot.waitUntil(lambda: dock.session.autosave is not None, timeout=10000)
    assert dock.source is not opened and not opened.visible
    assert dock.source.metadata["path"] == str(session)
    assert {k: dock.model.summary(k).decision for k in made} == made
    assert dock.model.summary(3).reason == "dim"
    assert dock.model.cell_diameter == 9.0
    _, traces = viewer.window.add_plugin_dock_widget(PLUGIN, "Traces")
    assert traces.images._diameter.value == 9.0
    assert table(dock) == before_rows  # the same rows, traces current: no re-extraction
    assert {row.trace for row in dock.model.rows()} == {"current"}
    movies = [layer for layer in viewer.layers if layer.metadata.get("path") == str(movie)]
    assert len(movies) == 1 and movies[0].ndim == 3  # the session's movie, opened lazily
    assert not dock.session._buttons.native.isVisibleTo(dock)


def test_start_afresh_keeps_the_earlier_session_aside(make_napari_viewer, qtbot, files):
    movie, rois, session = files
    first = make_napari_viewer()
    dock = open_files(first, movie, rois)
    decide_by_keys(first, dock)
    assert dock.session.autosave.flush(timeout=30)
    earlier = session.read_bytes()
    first.close()

    viewer = make_napari_viewer()
    dock = open_files(viewer, movie, rois)
    assert dock.session.offered == session
    dock.session.start_afresh()
    kept = [p for p in session.parent.iterdir() if p.name.startswith("mouse_rois.session-")]
    assert len(kept) == 1 and kept[0].read_bytes() == earlier  # nothing deleted
    qtbot.waitUntil(session.exists, timeout=10000)  # this session, from its start
    assert set(saved_decisions(session).values()) == {Decision.UNLABELED}


def test_opening_the_session_file_itself_brings_back_its_traces(make_napari_viewer, qtbot, files):
    movie, rois, session = files
    first = make_napari_viewer()
    dock = open_files(first, movie, rois)
    _, traces = first.window.add_plugin_dock_widget(PLUGIN, "Traces")
    traces.extract()
    qtbot.waitUntil(lambda: not traces.running and bool(dock.model.traces), timeout=30000)
    assert dock.session.autosave.flush(timeout=30)
    first.close()

    viewer = make_napari_viewer()
    dock = open_files(viewer, movie, session)
    assert dock.session.offered is None
    qtbot.waitUntil(lambda: bool(dock.model.traces), timeout=10000)
    assert {row.trace for row in dock.model.rows()} == {"current"}
    qtbot.waitUntil(lambda: dock.session.autosave is not None, timeout=10000)
    assert dock.session.autosave.path == session


def test_a_session_file_that_cannot_be_read_is_named_and_nothing_changes(
    make_napari_viewer, qtbot, files, monkeypatch
):
    from napari_roimasks.widgets import _session

    movie, rois, session = files
    session.write_bytes(b"not an HDF5 file")
    seen = []
    monkeypatch.setattr(_session, "show_warning", seen.append)
    viewer = make_napari_viewer()
    dock = open_files(viewer, movie, rois)
    layers = list(viewer.layers)
    dock.session.restore()
    qtbot.waitUntil(lambda: bool(seen), timeout=10000)
    assert seen[0].startswith(f"Session not restored: {session}: ") and "\n" not in seen[0]
    assert list(viewer.layers) == layers and session.read_bytes() == b"not an HDF5 file"
    assert dock.session.autosave is None


# -- kill -9 of a real viewer ---------------------------------------------------------------------

VIEWER_CURATION = textwrap.dedent(
    """
    import os, random, sys, time
    import napari
    from qtpy.QtCore import Qt, QTimer
    from qtpy.QtTest import QTest

    def say(*words):  # one write per line
        os.write(1, (" ".join(map(str, words)) + "\\n").encode())

    viewer = napari.Viewer()
    for path in {paths!r}:
        viewer.open(path, plugin="napari-roimasks")
    _, dock = viewer.window.add_plugin_dock_widget("napari-roimasks", "ROI masks")
    dock.session._reports.saved.connect(lambda saved: say("saved", saved.revision))
    rng = random.Random({seed})
    keys = [Qt.Key.Key_G, Qt.Key.Key_N, Qt.Key.Key_U, Qt.Key.Key_J, Qt.Key.Key_K]
    codes = {{"cell": "c", "not_cell": "n", "unlabeled": "u"}}
    canvas = viewer.window._qt_viewer.canvas.native
    steps = [0]

    def step():
        QTest.keyClick(canvas, rng.choice(keys))
        steps[0] += 1
        state = "".join(codes[row.decision.value] for row in dock.model.rows())
        say("step", steps[0], dock.session.autosave.revision, time.monotonic(), state)

    timer = QTimer()
    timer.timeout.connect(step)
    timer.start(15)
    napari.run()
    """
)


def test_kill_9_of_the_viewer_mid_curation_leaves_the_last_saved_state(files):
    """A real viewer curates by keys; it is killed at a random moment; the session on disk is
    whole and equals the state after one of its steps, at most 2 s before the kill."""
    movie, rois, session = files
    rng = random.Random(4)
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    for attempt in range(3):
        session.unlink(missing_ok=True)
        script = VIEWER_CURATION.format(paths=[str(movie), str(rois)], seed=attempt)
        child = subprocess.Popen(
            [sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, env=env
        )
        lines = []
        kill_after = rng.randrange(20, 120)  # steps
        for line in child.stdout:  # each line as the viewer writes it
            lines.append(line)
            if sum(line.startswith("step") for line in lines) >= kill_after:
                child.send_signal(signal.SIGKILL)  # the saving thread is wherever it is
                killed_at = time.monotonic()
                break
        child.wait()
        lines.extend(child.stdout.read().splitlines(keepends=True))
        child.stdout.close()
        assert child.returncode == -signal.SIGKILL, "".join(lines)[-2000:]
        steps = [line.split() for line in lines if line.startswith("step")]
        saved = [int(line.split()[1]) for line in lines if line.startswith("saved")]
        on_disk = read_session(session)  # whole, never a broken file
        codes = {"cell": "c", "not_cell": "n", "unlabeled": "u"}
        state = "".join(codes[r.decision.value] for r in on_disk.rois.rois)
        assert on_disk.revision >= max(saved, default=0)
        matching = [s for s in steps if int(s[2]) == on_disk.revision]
        if matching:
            assert matching[-1][4] == state  # exactly the state after that step
            later = [float(s[3]) for s in steps if int(s[2]) > on_disk.revision]
        else:  # saved before the first key press: every ROI unlabeled
            assert on_disk.revision < int(steps[0][2]) and set(state) == {"u"}
            later = [float(s[3]) for s in steps]
        if later:
            assert killed_at - min(later) <= 2.0


def test_closing_the_viewer_writes_the_last_decision(make_napari_viewer, files):
    movie, rois, session = files
    viewer = make_napari_viewer()
    dock = open_files(viewer, movie, rois)
    made = decide_by_keys(viewer, dock)
    viewer.close()  # at once: before the autosave's timer
    assert {k: saved_decisions(session)[k] for k in made} == made


def test_rois_drawn_on_a_movie_are_kept_in_the_movies_session_and_offered_with_it(
    make_napari_viewer, qtbot, files
):
    movie, rois, _ = files
    session = movie.with_name("mouse.session.roimasks.h5")
    drawn = np.load(rois)
    first = make_napari_viewer()
    first.open(str(movie), plugin=PLUGIN)
    first.add_labels(drawn, name="my ROIs")  # painted in the viewer: no file of their own
    _, dock = first.window.add_plugin_dock_widget(PLUGIN, "ROI masks")
    assert dock.session.autosave.path == session
    made = decide_by_keys(first, dock)
    first.close()
    assert {k: saved_decisions(session)[k] for k in made} == made

    viewer = make_napari_viewer()
    _, dock = viewer.window.add_plugin_dock_widget(PLUGIN, "ROI masks")
    viewer.open(str(movie), plugin=PLUGIN)  # the movie alone, dock already open
    assert dock.session.offered == session
    dock.session.restore()
    qtbot.waitUntil(lambda: dock.session.autosave is not None, timeout=10000)
    assert {k: dock.model.summary(k).decision for k in made} == made
    np.testing.assert_array_equal(np.asarray(dock.source.data), drawn)


# -- a session is never written with another layer's work ------------------------------------------


def curated_session(make_napari_viewer, files) -> dict:
    """A session on disk with decisions made by keys; its decisions, as saved."""
    movie, rois, session = files
    first = make_napari_viewer()
    dock = open_files(first, movie, rois)
    decide_by_keys(first, dock)
    first.close()
    return saved_decisions(session)


def test_another_layer_chosen_while_the_session_is_read_gets_nothing_of_it(
    make_napari_viewer, qtbot, files
):
    movie, rois, session = files
    before = curated_session(make_napari_viewer, files)
    viewer = make_napari_viewer()
    dock = open_files(viewer, movie, rois)
    other = viewer.add_labels(np.load(rois)[:, ::-1].copy(), name="other ROIs")
    dock.session.restore()  # read in the background...
    dock.set_source(other)  # ...while the curator moves on to another layer
    qtbot.waitUntil(lambda: dock.session._worker is None, timeout=10000)
    assert dock.source is other  # and no layer of the session was added
    assert not [layer for layer in viewer.layers if layer.metadata.get("path") == str(session)]
    press(viewer, Qt.Key.Key_J)
    press(viewer, Qt.Key.Key_U)
    dock.session.stop(wait=True)
    assert saved_decisions(session) == before


def test_the_layer_a_restore_hid_never_writes_over_the_session(make_napari_viewer, qtbot, files):
    movie, rois, session = files
    before = curated_session(make_napari_viewer, files)
    viewer = make_napari_viewer()
    dock = open_files(viewer, movie, rois)
    opened = dock.source
    dock.session.restore()
    qtbot.waitUntil(lambda: dock.session.autosave is not None, timeout=10000)
    dock.set_source(opened)  # the hidden file layer, chosen again: it holds the older state
    assert dock.session.autosave is None
    assert dock.session._status.value.startswith(f"Autosave: off, {session.name} is kept for ")
    press(viewer, Qt.Key.Key_J)
    press(viewer, Qt.Key.Key_U)
    viewer.close()
    assert saved_decisions(session) == before


def test_a_layer_that_cannot_be_read_gets_no_session(make_napari_viewer, files, tmp_path):
    movie, rois, session = files
    viewer = make_napari_viewer()
    dock = open_files(viewer, movie, rois)
    made = decide_by_keys(viewer, dock)
    stack = viewer.add_labels(np.stack([np.load(rois)] * 2), name="stack")  # 3D: not read
    stack.metadata["path"] = str(tmp_path / "stack.npy")
    dock.set_source(stack)
    assert not dock.curating and dock.session.autosave is None
    viewer.close()  # at once: the ROI file's session is written in the background meanwhile
    assert not (tmp_path / "stack.session.roimasks.h5").exists()
    saved = saved_decisions(session)  # the viewer's close waited for it: nothing is lost
    assert {key: saved.get(key) for key in made} == made


def test_a_session_that_failed_to_read_is_never_written_over(
    make_napari_viewer, qtbot, files, monkeypatch
):
    from napari_roimasks.widgets import _session

    movie, rois, session = files
    curated_session(make_napari_viewer, files)
    good = session.read_bytes()
    real = _session.read_session

    def unreadable(path):  # e.g. a network drive that hiccups once
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(_session, "read_session", unreadable)
    monkeypatch.setattr(_session, "show_warning", lambda message: None)
    viewer = make_napari_viewer()
    dock = open_files(viewer, movie, rois)
    opened = dock.source
    dock.session.restore()
    qtbot.waitUntil(lambda: dock.session._worker is None, timeout=10000)
    monkeypatch.setattr(_session, "read_session", real)
    other = viewer.add_labels(np.load(rois), name="other")
    dock.set_source(other)
    dock.set_source(opened)  # back: the offer again, not an autosave over the session
    assert dock.session.offered == session and dock.session.autosave is None
    press(viewer, Qt.Key.Key_J)
    press(viewer, Qt.Key.Key_N)
    viewer.close()
    assert session.read_bytes() == good


def test_changes_made_while_the_offer_waits_are_kept_in_a_session_of_their_own(
    make_napari_viewer, files
):
    movie, rois, session = files
    before = curated_session(make_napari_viewer, files)
    viewer = make_napari_viewer()
    dock = open_files(viewer, movie, rois)
    assert dock.session.offered == session
    press(viewer, Qt.Key.Key_J)
    press(viewer, Qt.Key.Key_N)  # ROI 1: not cell, before answering the offer
    viewer.close()
    assert saved_decisions(session) == before  # the offered session as it was
    [held] = session.parent.glob("mouse_rois.session-*.roimasks.h5")
    assert saved_decisions(held)[1] is Decision.NOT_CELL


def test_a_restored_shapes_session_keeps_every_roi_pixel_and_its_traces(
    make_napari_viewer, qtbot, tmp_path
):
    """Overlapping ROIs open as a Shapes layer of outlines; the session's own pixels and
    traces come back on the right ROI (an ROI without pixels draws no shape)."""
    from napari_roimasks.core import MaskCrop
    from napari_roimasks.io.roi_set import RoiEntry, RoiSet
    from napari_roimasks.io.session_file import write_session
    from napari_roimasks.model import RoiModel, RoiTraces
    from napari_roimasks.model.session import session_contents

    disc = np.hypot(*np.mgrid[-9:10, -9:10]) <= 9
    path_like = np.zeros((3, 12), bool)
    path_like[1, :] = True  # a thin line: its outline holds almost no pixels
    rois = RoiSet(
        [
            RoiEntry(1, MaskCrop(10, 10, disc)),
            RoiEntry(2, MaskCrop(15, 15, disc), mask_group=4),  # overlaps ROI 1
            RoiEntry(3, None),  # no pixels
            RoiEntry(4, MaskCrop(50, 40, path_like)),
        ],
        image_shape=(80, 80),
    )
    model = RoiModel()
    model.load(rois)
    model.decide([4], Decision.CELL, reason="thin")
    movie = "dask:movie-x"
    model.set_movie(movie)
    model.store_traces(
        movie,
        {
            k: RoiTraces(model.fingerprint(k, movie), np.full(5, float(k)), np.zeros(5), 0.5)
            for k in model.roi_keys()
        },
    )
    session = write_session(tmp_path / "cells.session.roimasks.h5", session_contents(model))

    viewer = make_napari_viewer()
    viewer.open(str(session), plugin=PLUGIN)
    _, dock = viewer.window.add_plugin_dock_widget(PLUGIN, "ROI masks")
    qtbot.waitUntil(lambda: bool(dock.model.traces), timeout=10000)
    assert dock.source.nshapes == 3
    # shape n is the n-th ROI with pixels: 1, 2, 4
    for shape, ident in ((1, 1), (2, 2), (3, 4)):
        np.testing.assert_array_equal(dock.model.roi(shape).pixels, model.roi(ident).pixels)
        assert dock.model.traces[shape].roi[0] == float(ident)
        assert dock.model.trace_state(shape) == "current"
    assert dock.model.summary(3).decision is Decision.CELL
    assert dock.model.mask_groups == {2: 4}
    dock.model.decide([1], Decision.NOT_CELL)
    assert dock.session.autosave.flush(timeout=30)
    saved = {e.id: e for e in read_session(session).rois.rois}
    assert int(saved[3].crop.pixels.sum()) == int(path_like.sum())
    assert saved[2].mask_group == 4


def test_the_same_file_opened_twice_never_takes_the_session_of_the_first(
    make_napari_viewer, qtbot, files
):
    movie, rois, session = files
    viewer = make_napari_viewer()
    dock = open_files(viewer, movie, rois)
    first = dock.source
    made = decide_by_keys(viewer, dock)
    [second] = viewer.open(str(rois), plugin=PLUGIN)  # the file again: its older state
    dock.set_source(second)
    assert dock.session.autosave is None and dock.session.offered is None
    assert dock.session._status.value == f"Autosave: off, {session.name} is kept for 'mouse_rois'"
    dock.set_source(first)
    assert dock.session.autosave.target == session
    viewer.layers.remove(first)  # the curated layer is gone: the file's layer is offered it
    dock.set_source(second)
    assert dock.session.offered == session
    viewer.close()
    assert {k: saved_decisions(session)[k] for k in made} == made
