"""The autosaved session in a real viewer: written as the curator works, offered when the file is
opened again, restored whole, and never broken by a kill."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import textwrap
import threading
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
    assert dock.session._status.value == f"Autosaved to {session.name}"
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
        reader = threading.Thread(target=lines.extend, args=(child.stdout,), daemon=True)
        reader.start()
        kill_after = rng.randrange(20, 120)  # steps
        while child.poll() is None:
            if sum(line.startswith("step") for line in list(lines)) >= kill_after:
                child.send_signal(signal.SIGKILL)
                killed_at = time.monotonic()
                break
            time.sleep(0.005)  # polling the child's output; the kill moment is random anyway
        child.wait()
        reader.join(5)
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
