"""``extract --overwrite`` stopped at random points (SIGKILL, Ctrl-C, SIGTERM) leaves the old
complete set of outputs or the new one, never a mix; Ctrl-C and SIGTERM leave no temporary,
and the next run removes what a kill left."""

from __future__ import annotations

import hashlib
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import pytest

from napari_roimasks.io.output_set import clean_up_after_interrupted_runs
from napari_roimasks.pipeline import OUTPUTS
from napari_roimasks.synthetic import make_recording

TRIALS = 54  # 18 of each signal
SIGNALS = (signal.SIGKILL, signal.SIGINT, signal.SIGTERM)


def extract(folder: Path, out: Path, border: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "napari_roimasks.cli",
        "extract",
        str(folder / "movie.h5"),
        str(folder / "labels.npy"),
        "-o",
        str(out),
        "--border",
        *border.split(),
        "--overwrite",
    ]


def fingerprint(out: Path) -> dict[str, str]:
    """Each output's checksum; what else lies in the folder does not count."""
    return {
        name: hashlib.sha256((out / name).read_bytes()).hexdigest()
        for name in OUTPUTS
        if (out / name).is_file()
    }


def leftovers(parent: Path) -> list[str]:
    return sorted(p.name for p in parent.iterdir() if "napari-roimasks" in p.name)


@pytest.fixture(scope="module")
def sets(tmp_path_factory):
    """A recording, and the complete output sets of two runs that differ (their borders)."""
    folder = tmp_path_factory.mktemp("recording")
    rec = make_recording(n_frames=400, shape=(128, 128), n_cells=30, seed=7)
    with h5py.File(folder / "movie.h5", "w") as f:
        f.create_dataset("data", data=rec.movie, chunks=(1, 128, 128))
    np.save(folder / "labels.npy", rec.roi_labels)
    runs = {}
    for name, border in (("old", "0 0 0 0"), ("new", "6 5 4 3")):
        out = folder / name
        started = time.perf_counter()
        done = subprocess.run(extract(folder, out, border), capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        runs[name] = (out, fingerprint(out), time.perf_counter() - started)
    assert runs["old"][1].keys() == runs["new"][1].keys() == set(OUTPUTS)
    assert all(runs["old"][1][n] != runs["new"][1][n] for n in OUTPUTS)
    return folder, runs


def stop_at_random(process, parent: Path, rng: random.Random, duration: float, sig) -> str:
    """Signal ``process`` at a random moment: anywhere in the run, or just after its staging
    folder appears (while the set is written and swapped, a few milliseconds)."""
    if rng.random() < 0.5:
        moment = rng.uniform(0.0, duration)
        time.sleep(moment)
        where = f"at {moment:.2f} s"
    else:
        while process.poll() is None and not any(
            p.name.endswith(".partial") for p in parent.iterdir()
        ):
            time.sleep(0.0005)
        moment = rng.uniform(0.0, 0.02)
        time.sleep(moment)
        where = f"{moment * 1000:.0f} ms into the writing"
    if process.poll() is None:
        process.send_signal(sig)
    process.wait()
    return where


def test_a_run_stopped_anywhere_leaves_one_complete_set(sets, tmp_path):
    folder, runs = sets
    old_out, old_set, _ = runs["old"]
    _, new_set, duration = runs["new"]
    rng = random.Random(20261125)
    outcomes = {"old": 0, "new": 0}
    codes: dict[str, int] = {}
    for trial in range(TRIALS):
        sig = SIGNALS[trial % len(SIGNALS)]
        parent = tmp_path / f"trial{trial}"
        out = parent / "out"
        shutil.copytree(old_out, out)
        (out / "notes.txt").write_text("the user's")
        process = subprocess.Popen(
            extract(folder, out, "6 5 4 3"), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        where = stop_at_random(process, parent, rng, duration, sig)
        stderr = process.stderr.read().decode()
        process.stderr.close()

        found = fingerprint(out)
        label = f"trial {trial}: {signal.Signals(sig).name} {where}"
        assert found in (old_set, new_set), f"{label}: a mix of old and new outputs"
        assert (out / "notes.txt").read_text() == "the user's", label
        outcomes["old" if found == old_set else "new"] += 1
        key = f"{signal.Signals(sig).name} -> exit {process.returncode}"
        codes[key] = codes.get(key, 0) + 1
        if sig != signal.SIGKILL and process.returncode in (130, 143):
            assert leftovers(parent) == [], f"{label}: temporaries left after {stderr!r}"
            assert "Traceback" not in stderr and len(stderr.strip().splitlines()) == 1, label
        clean_up_after_interrupted_runs(out)  # what the next run does first
        assert leftovers(parent) == [], label
        assert fingerprint(out) in (old_set, new_set), label
    print(f"{TRIALS} trials: {outcomes}; {codes}")  # for the record (pytest -s)
    assert outcomes["old"] and outcomes["new"], outcomes  # both ends of the run were reached


def test_the_next_run_after_a_kill_finishes_and_leaves_nothing_behind(sets, tmp_path):
    folder, runs = sets
    old_out, _, _ = runs["old"]
    _, new_set, _ = runs["new"]
    out = tmp_path / "out"
    shutil.copytree(old_out, out)
    process = subprocess.Popen(extract(folder, out, "6 5 4 3"), stderr=subprocess.DEVNULL)
    while process.poll() is None and not any(
        p.name.endswith(".partial") for p in tmp_path.iterdir()
    ):
        time.sleep(0.0005)
    process.kill()
    process.wait()
    if process.returncode != -signal.SIGKILL:
        pytest.skip("the run finished before it could be killed")
    done = subprocess.run(extract(folder, out, "6 5 4 3"), capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert fingerprint(out) == new_set
    assert leftovers(tmp_path) == []


def test_ctrl_c_says_which_outputs_changed(sets, tmp_path):
    """Interrupted before writing: one line, exit 130, and the old set as it was."""
    folder, runs = sets
    old_out, old_set, _ = runs["old"]
    out = tmp_path / "out"
    shutil.copytree(old_out, out)
    process = subprocess.Popen(
        extract(folder, out, "6 5 4 3"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    # wait until it reads frames: the movie is open, nothing is written yet
    while process.poll() is None and not _reads(process.pid, folder / "movie.h5"):
        time.sleep(0.001)
    process.send_signal(signal.SIGINT)
    process.wait()
    stderr = process.stderr.read().decode()
    process.stderr.close()
    if process.returncode == 0:
        pytest.skip("the run finished before it could be interrupted")
    assert process.returncode == 130, stderr
    assert stderr.strip() == "napari-roimasks: interrupted; no output changed"
    assert fingerprint(out) == old_set and leftovers(tmp_path) == []


def _reads(pid: int, path: Path) -> bool:
    """Whether process ``pid`` has ``path`` open (Linux's /proc)."""
    try:
        return any(
            os.readlink(f"/proc/{pid}/fd/{fd}") == str(path) for fd in os.listdir(f"/proc/{pid}/fd")
        )
    except OSError:
        return False
