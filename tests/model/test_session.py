"""The session file and its autosave, headless: what is written, what comes back, and what a kill
at any moment leaves on disk."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from napari_roimasks.core.border import MotionBorder
from napari_roimasks.core.neuropil import RingOptions
from napari_roimasks.io.roi_files import read_rois
from napari_roimasks.io.roi_set import Decision, RoiFileError
from napari_roimasks.io.session_file import (
    is_session_file,
    read_session,
    session_path_for,
    write_session,
)
from napari_roimasks.model import Correction, RoiModel, RoiTraces
from napari_roimasks.model.session import Autosave, restore_session, session_contents


def square_labels(n: int = 6, shape=(64, 64)) -> np.ndarray:
    labels = np.zeros(shape, np.int32)
    for i in range(n):
        top, left = 4 + 10 * (i // 5), 4 + 12 * (i % 5)
        labels[top : top + 6, left : left + 6] = i + 1
    return labels


@pytest.fixture
def model():
    model = RoiModel()
    model.set_rois_from_labels(
        square_labels(), border=MotionBorder(2, 3, 1, 0), ring_options=RingOptions(9, 1, 20)
    )
    return model


def with_traces(model, movie="dask:movie-abc", n_frames=50):
    rng = np.random.default_rng(0)
    model.set_movie(movie, ("/data/movie.h5", "data"))
    model.store_traces(
        movie,
        {
            key: RoiTraces(
                model.fingerprint(key, movie),
                rng.normal(size=n_frames),
                rng.normal(size=n_frames),
                0.5 + key / 10,
            )
            for key in model.roi_keys()
        },
    )


def test_session_names_sit_beside_the_file_they_belong_to(tmp_path):
    assert session_path_for(tmp_path / "mouse1.h5") == tmp_path / "mouse1.session.roimasks.h5"
    assert session_path_for(tmp_path / "rois.roimasks.h5") == tmp_path / "rois.session.roimasks.h5"
    # dates and days in names keep sessions apart
    day2, day3 = (session_path_for(tmp_path / f"2023.05.1{d}_mouse1.h5") for d in (2, 9))
    assert day2.name == "2023.05.12_mouse1.session.roimasks.h5" and day2 != day3
    assert session_path_for(tmp_path / "m.day2.tif").name == "m.day2.session.roimasks.h5"
    kept = tmp_path / "rois.session-20261206-051200.roimasks.h5"  # a session set aside
    assert session_path_for(kept) == tmp_path / "rois.session-20261206-051200.session.roimasks.h5"
    own = tmp_path / "a.session.roimasks.h5"
    assert session_path_for(own) == own and is_session_file(own)
    folder = tmp_path / "plane0"
    folder.mkdir()
    assert session_path_for(folder) == folder / "curation.session.roimasks.h5"


def test_a_session_brings_back_rois_decisions_settings_and_current_traces(model, tmp_path):
    with_traces(model)
    model.decide([2, 5], Decision.CELL, reason="bright")
    model.decide([3], Decision.NOT_CELL)
    model.set_correction(Correction(fitted=True, fixed_r=0.6))
    model.cell_diameter = 9.0
    path = write_session(tmp_path / "s.session.roimasks.h5", session_contents(model, revision=7))

    again = RoiModel()
    again.set_movie("dask:movie-abc")
    saved = read_session(path)
    assert saved.revision == 7 and saved.movie_path == "/data/movie.h5"
    restore_session(again, saved)

    assert again.rows() == model.rows()  # decisions, reasons, times, exclusions, trace state
    assert [r.trace for r in again.rows()] == ["current"] * 6
    assert (again.border, again.ring_options) == (model.border, model.ring_options)
    assert again.correction == Correction(fitted=True, fixed_r=0.6)
    assert again.cell_diameter == 9.0
    for key in model.roi_keys():
        np.testing.assert_array_equal(again.traces[key].roi, model.traces[key].roi)
        np.testing.assert_array_equal(again.traces[key].neuropil, model.traces[key].neuropil)
        assert again.traces[key].fitted_r == model.traces[key].fitted_r
    assert again.contamination_ratios() == model.contamination_ratios()


def test_traces_restored_for_another_movie_show_as_stale(model, tmp_path):
    with_traces(model)
    path = write_session(tmp_path / "s.session.roimasks.h5", session_contents(model))
    again = RoiModel()
    again.set_movie("dask:movie-other")  # the file changed since: another token
    restore_session(again, read_session(path))
    assert [r.trace for r in again.rows()] == ["stale"] * 6


def test_a_session_file_opens_as_rois_anywhere_overlaps_kept(model, tmp_path):
    path = write_session(tmp_path / "s.session.roimasks.h5", session_contents(model))
    rois = read_rois(path)
    assert [r.id for r in rois.rois] == model.roi_keys()
    assert rois.border == model.border


def test_traces_can_be_left_out(model, tmp_path):
    with_traces(model)
    path = write_session(
        tmp_path / "s.session.roimasks.h5", session_contents(model, keep_traces=False)
    )
    assert read_session(path).traces is None


def test_a_file_that_is_no_session_is_named_in_the_error(tmp_path):
    bad = tmp_path / "x.session.roimasks.h5"
    bad.write_bytes(b"not hdf5")
    with pytest.raises(RoiFileError, match=str(bad)):
        read_session(bad)


def test_autosave_writes_every_change_and_flush_waits_for_it(model, tmp_path):
    path = tmp_path / "s.session.roimasks.h5"
    saved = []
    autosave = Autosave(model, path, on_saved=saved.append)
    model.decide([1], Decision.CELL)
    model.decide([4], Decision.NOT_CELL, reason="dim")
    assert autosave.flush(timeout=30)
    assert not autosave.unsaved
    rows = {r.id: (r.decision, r.reason) for r in read_session(path).rois.rois}
    assert rows[1] == (Decision.CELL, "") and rows[4] == (Decision.NOT_CELL, "dim")
    assert saved[-1].revision == autosave.revision == read_session(path).revision
    autosave.close()
    model.decide([2], Decision.CELL)  # closed: no longer followed
    assert read_session(path).rois.rois[1].decision is Decision.UNLABELED


def test_an_autosave_closed_in_the_background_can_be_waited_for_later(model, tmp_path):
    path = tmp_path / "s.session.roimasks.h5"
    autosave = Autosave(model, path, schedule=lambda delay, callback: None)  # timer never fires
    model.decide([3], Decision.CELL)
    assert autosave.close(wait=False)  # another layer is curated: the viewer goes on
    assert autosave.close(wait=True)  # the viewer closes: its last write is waited for
    assert not autosave.writing
    assert read_session(path).rois.rois[2].decision is Decision.CELL


def test_a_scheduled_autosave_snapshots_once_for_a_burst_of_changes(model, tmp_path):
    calls = []
    autosave = Autosave(
        model, tmp_path / "s.session.roimasks.h5", schedule=lambda d, f: calls.append(f)
    )
    for key in (1, 2, 3):
        model.decide([key], Decision.CELL)
    assert len(calls) == 1  # one timer for the burst
    calls[0]()  # the timer fires on the model's thread
    assert autosave.flush(timeout=30)
    saved = read_session(autosave.path)
    assert [r.decision for r in saved.rois.rois[:3]] == [Decision.CELL] * 3
    autosave.close()


def test_a_failed_write_is_reported_and_leaves_the_previous_file(model, tmp_path, monkeypatch):
    import napari_roimasks.model.session as session_module

    path = tmp_path / "s.session.roimasks.h5"
    failures = []
    autosave = Autosave(model, path, on_failed=failures.append)
    model.decide([1], Decision.CELL)
    assert autosave.flush(timeout=30)
    before = path.read_bytes()

    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(session_module, "write_session", disk_full)
    model.decide([2], Decision.CELL)
    assert not autosave.flush(timeout=30)
    assert autosave.unsaved
    assert failures == [f"{path}: the session was not saved (No space left on device)"]
    assert path.read_bytes() == before
    monkeypatch.undo()
    model.decide([3], Decision.CELL)  # the next change tries again, and succeeds
    assert autosave.flush(timeout=30)
    assert not autosave.unsaved
    assert [r.decision for r in read_session(path).rois.rois[:3]] == [Decision.CELL] * 3
    autosave.close()


# -- kill -9 at random moments --------------------------------------------------------------------

#: The curation the killed process runs: decisions on 40 ROIs, each once the test says go
#: (a line on its input), with a line for each step (its number and time) and for each save
#: (the revision on disk); the saving thread runs free meanwhile.
CURATION = textwrap.dedent(
    """
    import os, sys, time
    from napari_roimasks.model import RoiModel
    from napari_roimasks.model.session import Autosave
    sys.path.insert(0, {tests!r})
    from test_session import curation_steps, square_labels

    model = RoiModel()
    model.set_rois_from_labels(square_labels(40, (128, 128)))

    def say(*words):  # one write per line: the saving thread's lines never interleave
        os.write(1, (" ".join(map(str, words)) + "\\n").encode())

    autosave = Autosave(model, {path!r}, on_saved=lambda s: say("saved", s.revision))
    base = autosave.revision
    say("base", base)
    for i, (keys, decision) in enumerate(curation_steps()):
        model.decide(keys, decision)
        say("step", i + 1, autosave.revision - base, time.monotonic())
        sys.stdin.readline()
    autosave.close()
    say("done")
    """
)


def curation_steps(n: int = 400):
    """The same scripted curation every time: (keys, decision) steps."""
    rng = random.Random(15)
    choices = (Decision.CELL, Decision.NOT_CELL, Decision.UNLABELED)
    for _ in range(n):
        keys = sorted(rng.sample(range(1, 41), rng.choice((1, 1, 1, 3))))
        yield keys, rng.choice(choices)


def states_after_each_step() -> list[dict]:
    """The decisions after 0, 1, 2, ... steps of :func:`curation_steps`."""
    state = dict.fromkeys(range(1, 41), Decision.UNLABELED)
    states = [dict(state)]
    for keys, decision in curation_steps():
        for key in keys:
            state[key] = decision
        states.append(dict(state))
    return states


def test_kill_9_at_random_moments_leaves_the_last_saved_state_whole(tmp_path):
    """The process is killed at a random moment of a scripted curation; the file on disk
    is whole, holds exactly the state after some step (its revision says which), is no
    older than the last save the process reported, and loses at most 2 s of work."""
    states = states_after_each_step()
    rng = random.Random(9)
    tests = str(Path(__file__).parent)
    for attempt in range(8):
        path = tmp_path / f"run{attempt}.session.roimasks.h5"
        script = CURATION.format(tests=tests, path=str(path))
        child = subprocess.Popen(
            [sys.executable, "-c", script],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        lines, steps, saved = [], {}, 0
        target_step = rng.randrange(5, 300)  # kill once this step has been made
        for line in child.stdout:  # each line as the child writes it
            lines.append(line)
            if not line.startswith("step"):
                continue
            if int(line.split()[1]) >= target_step:  # the saving thread is wherever it is
                child.send_signal(signal.SIGKILL)
                killed_at = time.monotonic()
                break
            child.stdin.write("\n")  # go on
            child.stdin.flush()
        child.wait()
        lines.extend(child.stdout.read().splitlines(keepends=True))  # what it wrote before
        child.stdin.close()
        child.stdout.close()
        assert child.returncode == -signal.SIGKILL, "".join(lines)
        base = next(int(line.split()[1]) for line in lines if line.startswith("base"))
        for line in lines:
            words = line.split()
            if words[0] == "step":
                steps[int(words[2])] = (int(words[1]), float(words[3]))
            elif words[0] == "saved":
                saved = max(saved, int(words[1]) - base)
        if not path.exists():  # killed before the first save ended
            assert killed_at - min(when for _, when in steps.values()) <= 2.0
            continue
        session = read_session(path)  # whole: never a broken file
        revision = session.revision - base
        assert revision >= saved  # nothing the process said was on disk is missing
        step = steps[revision][0] if revision else 0
        decisions = {r.id: r.decision for r in session.rois.rois}
        assert decisions == states[step]  # exactly the state after that step
        unsaved = [when for number, when in steps.values() if number > step]
        if unsaved:  # the oldest change not on disk was made at most 2 s before the kill
            assert killed_at - min(unsaved) <= 2.0


def traces_files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.glob("*.session-traces-*.h5"))


def test_the_traces_file_is_written_when_traces_change_not_at_each_decision(model, tmp_path):
    with_traces(model)
    path = tmp_path / "s.session.roimasks.h5"
    autosave = Autosave(model, path)
    model.decide([1], Decision.CELL)
    assert autosave.flush(timeout=30)
    [name] = traces_files(tmp_path)
    first = (tmp_path / name).stat()
    model.decide([2], Decision.NOT_CELL)
    assert autosave.flush(timeout=30)
    again = (tmp_path / name).stat()
    assert (again.st_ino, again.st_mtime_ns) == (first.st_ino, first.st_mtime_ns)
    assert read_session(path).rois.rois[1].decision is Decision.NOT_CELL
    with_traces(model, movie="dask:movie-new")  # extracted again: a new traces file
    assert autosave.flush(timeout=30)
    assert read_session(path).traces.movie == "dask:movie-new"
    [new] = traces_files(tmp_path)  # the old one, named by no session now, is gone
    assert new != name
    autosave.keep_traces = False  # unticked: the traces file goes once the session says so
    autosave.changed()
    assert autosave.flush(timeout=30)
    assert traces_files(tmp_path) == [] and read_session(path).traces is None
    autosave.close()


def test_a_failed_session_write_keeps_the_traces_the_saved_session_names(
    model, tmp_path, monkeypatch
):
    import napari_roimasks.io.session_file as session_file

    with_traces(model)
    path = tmp_path / "s.session.roimasks.h5"
    autosave = Autosave(model, path)
    model.decide([1], Decision.CELL)
    assert autosave.flush(timeout=30)
    real = session_file.write_rois_into

    def fails(*args):  # new traces are written, then the session's own write fails
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(session_file, "write_rois_into", fails)
    with_traces(model, movie="dask:movie-new")
    assert not autosave.flush(timeout=30)
    monkeypatch.setattr(session_file, "write_rois_into", real)
    saved = read_session(path)  # the previous session, with its own traces, whole
    assert saved.traces is not None and saved.traces.movie == "dask:movie-abc"
    assert saved.rois.rois[0].decision is Decision.CELL
    autosave.close()


def test_traces_the_session_was_not_written_with_are_never_taken(model, tmp_path):
    with_traces(model)
    path = write_session(tmp_path / "s.session.roimasks.h5", session_contents(model))
    [name] = traces_files(tmp_path)
    other = RoiModel()
    other.set_rois_from_labels(square_labels(3))
    with_traces(other, movie="dask:movie-other")
    write_session(tmp_path / "t.session.roimasks.h5", session_contents(other))
    [theirs] = [n for n in traces_files(tmp_path) if n.startswith("t.")]
    (tmp_path / theirs).replace(tmp_path / name)  # another session's traces in its place
    saved = read_session(path)
    assert saved.traces is None
    assert saved.traces_problem == f"{name} holds other traces than the session's"
    (tmp_path / name).unlink()
    assert read_session(path).traces_problem == f"its traces file {name} is missing"
    assert [e.id for e in read_session(path).rois.rois] == model.roi_keys()  # the rest is read


def test_a_session_set_aside_keeps_its_traces_and_a_new_one_leaves_them(model, tmp_path):
    from napari_roimasks.io.session_file import set_aside

    with_traces(model)
    model.decide([1], Decision.CELL)
    path = write_session(tmp_path / "s.session.roimasks.h5", session_contents(model))
    kept = set_aside(path)
    assert not path.exists()
    assert kept.name.startswith("s.session-") and kept.name.endswith(".roimasks.h5")
    assert not kept.name.endswith(".session.roimasks.h5")
    saved = read_session(kept)
    assert saved.traces is not None and saved.traces_problem is None
    assert saved.rois.rois[0].decision is Decision.CELL
    # a new session in its place, with other traces: the set-aside one keeps its own
    autosave = Autosave(model, path)
    with_traces(model, movie="dask:movie-new")
    assert autosave.flush(timeout=30)
    assert read_session(kept).traces.movie == "dask:movie-abc"
    assert read_session(path).traces.movie == "dask:movie-new"
    assert len(traces_files(tmp_path)) == 2
    autosave.close()


def test_two_programs_on_one_session_never_write_over_each_other(model, tmp_path):
    path = tmp_path / "s.session.roimasks.h5"
    failures = []
    ours = Autosave(model, path, on_failed=failures.append)
    model.decide([1], Decision.CELL)
    assert ours.flush(timeout=30)
    other = RoiModel()  # another viewer, on the same file
    other.set_rois_from_labels(square_labels())
    other.decide([2], Decision.NOT_CELL)
    write_session(path, session_contents(other))
    theirs = path.read_bytes()
    model.decide([3], Decision.CELL)
    assert ours.flush(timeout=30)
    assert path.read_bytes() == theirs  # left as the other program wrote it
    assert ours.path != path and ours.path.parent == tmp_path
    assert failures == [
        f"{path}: changed by another program since this viewer saved it; it is left as it is, "
        f"and this session's changes now go to {ours.path.name}"
    ]
    mine = {r.id: r.decision for r in read_session(ours.path).rois.rois}
    assert mine[1] is Decision.CELL and mine[3] is Decision.CELL
    ours.close()


def test_a_decision_never_waits_for_a_traces_file_being_written(model, tmp_path, monkeypatch):
    """Traces have a writer of their own: while a big traces file is written (after an
    extraction), decisions reach the disk, naming the traces already there."""
    import napari_roimasks.model.session as session_module

    with_traces(model)
    path = tmp_path / "s.session.roimasks.h5"
    saved, reported = [], threading.Condition()

    def report(save):  # the writing thread's report of each save
        with reported:
            saved.append(save.revision)
            reported.notify_all()

    autosave = Autosave(model, path, on_saved=report)
    model.decide([1], Decision.CELL)
    assert autosave.flush(timeout=30)
    release, started = threading.Event(), threading.Event()
    real = session_module.write_traces_file

    def slow(*args):  # the disk is slow: this write waits until the test lets it go
        started.set()
        assert release.wait(30)
        return real(*args)

    monkeypatch.setattr(session_module, "write_traces_file", slow)
    with_traces(model, movie="dask:movie-new")  # new traces: their file is being written
    assert started.wait(30)
    model.decide([2], Decision.NOT_CELL)
    revision = autosave.revision
    with reported:  # the decision's save, while the traces file is still being written
        assert reported.wait_for(lambda: max(saved, default=0) >= revision, timeout=30)
    on_disk = read_session(path)
    assert on_disk.revision == revision and on_disk.rois.rois[1].decision is Decision.NOT_CELL
    assert on_disk.traces.movie == "dask:movie-abc"  # the traces already there, whole
    release.set()
    assert autosave.flush(timeout=30)
    assert read_session(path).traces.movie == "dask:movie-new"
    autosave.close()
