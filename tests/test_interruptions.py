"""``extract --overwrite`` stopped at random points (SIGKILL, Ctrl-C, SIGTERM) leaves the old
complete set of outputs or the new one, never a mix; Ctrl-C and SIGTERM leave no temporary,
and the next run removes what a kill left."""

from __future__ import annotations

import hashlib
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
    folder appears (while the set is written and swapped, a few milliseconds).

    The sleeps here pick the moment; they decide no outcome: the test's assertions hold
    whatever the moment (the old set, or the new one, and nothing else)."""
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
    """A process killed (SIGKILL, no cleanup) with half a set written leaves its staging
    folder; the next ``extract`` removes it, writes its set, and leaves nothing beside it."""
    folder, runs = sets
    old_out, old_set, _ = runs["old"]
    _, new_set, _ = runs["new"]
    out = tmp_path / "out"
    shutil.copytree(old_out, out)
    killed_mid_write = (
        "import os, signal\n"
        "from napari_roimasks.io.output_set import OutputSet\n"
        f"with OutputSet({str(out)!r}, {OUTPUTS!r}, overwrite=True) as outputs:\n"
        "    outputs.path('roi_traces.h5').write_bytes(b'half')\n"
        "    os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    killed = subprocess.run([sys.executable, "-c", killed_mid_write])
    assert killed.returncode == -signal.SIGKILL
    assert fingerprint(out) == old_set and len(leftovers(tmp_path)) == 1  # its staging folder

    done = subprocess.run(extract(folder, out, "6 5 4 3"), capture_output=True, text=True)

    assert done.returncode == 0, done.stderr
    assert fingerprint(out) == new_set
    assert leftovers(tmp_path) == []


def test_ctrl_c_while_extracting_changes_no_output(sets, tmp_path, monkeypatch, capsys):
    """A real SIGINT, raised at the first progress report (mid-extraction): one line, exit
    130, and the old set as it was."""
    from napari_roimasks import cli

    folder, runs = sets
    old_out, old_set, _ = runs["old"]
    out = tmp_path / "out"
    shutil.copytree(old_out, out)

    def ctrl_c_at_first_report(total, unit="frames"):
        return lambda done, total=total: signal.raise_signal(signal.SIGINT)

    monkeypatch.setattr(cli, "_progress_printer", ctrl_c_at_first_report)
    argv = [*extract(folder, out, "6 5 4 3")[3:], "--block-size", "50"]

    assert cli.main(argv) == 130

    assert capsys.readouterr().err.strip() == "napari-roimasks: interrupted; no output changed"
    assert fingerprint(out) == old_set and leftovers(tmp_path) == []
