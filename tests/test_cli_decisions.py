"""Exports that honour a curator's decisions, run as a user runs them: ``extract --only``,
``convert`` (suite2p's ``iscell.npy`` among the outputs) and ``info``'s counts."""

from __future__ import annotations

import json
import subprocess
import sys

import h5py
import numpy as np
import pytest

from napari_roimasks.core import MaskCrop
from napari_roimasks.io.allen_traces import read_trace_file
from napari_roimasks.io.roi_files import RoiEntry, RoiSet, read_rois, write_rois
from napari_roimasks.io.roi_set import Decision
from napari_roimasks.synthetic import make_recording

CELLS = {3, 5, 9, 17, 30, 35}  # 5 and 35 lie in the motion border; 35 has no neuropil
NOT_CELLS = {1, 2, 22}
OUTPUTS = ("roi_traces.h5", "neuropil_traces.h5", "neuropil_masks.json", "exclusions.json")


def run(*args):
    return subprocess.run(
        [sys.executable, "-m", "napari_roimasks.cli", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=300,
    )


def decided(labels, cells, not_cells) -> RoiSet:
    def decision(k):
        if k in cells:
            return Decision.CELL
        return Decision.NOT_CELL if k in not_cells else Decision.UNLABELED

    return RoiSet(
        [
            RoiEntry(k, MaskCrop.from_plane(labels == k), decision=decision(k), reason=f"r{k}")
            for k in range(1, int(labels.max()) + 1)
        ],
        image_shape=labels.shape,
    )


@pytest.fixture(scope="module")
def session(tmp_path_factory):
    """A movie, its ROIs with decisions (a motion border that excludes some of them), and a
    full extraction of every ROI."""
    folder = tmp_path_factory.mktemp("curated")
    rec = make_recording(n_frames=40, seed=4)
    with h5py.File(folder / "movie.h5", "w") as f:
        f.create_dataset("data", data=rec.movie, chunks=(1, 256, 256))
    rois = decided(rec.roi_labels, CELLS, NOT_CELLS)
    write_rois(folder / "rois.roimasks.h5", rois)
    full = run(
        "extract", folder / "movie.h5", folder / "rois.roimasks.h5", "-o", folder / "all",
        "--border", 30, 2, 25, 3,
    )  # fmt: skip
    assert full.returncode == 0, full.stderr
    return folder


@pytest.mark.parametrize(("only", "chosen"), [("cells", CELLS), ("not-cells", NOT_CELLS)])
def test_only_the_chosen_rois_are_written_with_the_traces_of_a_full_extraction(
    session, tmp_path, only, chosen
):
    out = tmp_path / "out"
    result = run(
        "extract", session / "movie.h5", session / "rois.roimasks.h5", "-o", out,
        "--border", 30, 2, 25, 3, "--only", only,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert f"{len(chosen)} ROIs ({only} only, of 40)" in result.stdout
    ids = sorted(chosen)
    for name in ("roi_traces.h5", "neuropil_traces.h5"):
        every, every_names = read_trace_file(session / "all" / name)
        some, names = read_trace_file(out / name)
        assert names == [str(k) for k in ids]
        rows = [every_names.index(str(k)) for k in ids]
        np.testing.assert_array_equal(some, every[rows])  # exactly, NaN rows included
    every_mask = {
        m["id"]: m for m in json.loads((session / "all" / OUTPUTS[2]).read_text())["rois"]
    }
    masks = json.loads((out / OUTPUTS[2]).read_text())["rois"]
    assert [m["id"] for m in masks] == [f"neuropil for {k}" for k in ids]
    assert all(m == every_mask[m["id"]] for m in masks)  # the same rings as with every ROI
    every_exclusion = json.loads((session / "all" / OUTPUTS[3]).read_text())
    exclusions = json.loads((out / OUTPUTS[3]).read_text())
    assert exclusions == [
        e for e in every_exclusion if e["roi_id"].removeprefix("neuropil for ") in map(str, ids)
    ]
    assert exclusions  # the border excludes some of the chosen ROIs: the test sees them


def test_only_cells_writes_an_nwb_file_of_the_cells_with_their_decisions(session, tmp_path):
    pytest.importorskip("pynwb")
    from pynwb import NWBHDF5IO

    out = tmp_path / "out"
    result = run(
        "extract", session / "movie.h5", session / "rois.roimasks.h5", "-o", out,
        "--only", "cells", "--nwb",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    with NWBHDF5IO(str(out / "rois.nwb"), "r") as io:
        table = io.read().processing["ophys"]["ImageSegmentation"]["PlaneSegmentation"]
        assert list(table["roi_id"].data[:]) == [str(k) for k in sorted(CELLS)]
        assert list(table["decision"].data[:]) == ["cell"] * len(CELLS)
        assert list(table["reason"].data[:]) == [f"r{k}" for k in sorted(CELLS)]


def test_only_cells_without_a_cell_is_one_line_exit_2_and_nothing_written(session, tmp_path):
    labels = read_rois(session / "rois.roimasks.h5").rois
    undecided = RoiSet([RoiEntry(r.id, r.crop) for r in labels], image_shape=(256, 256))
    write_rois(tmp_path / "undecided.roimasks.h5", undecided)
    result = run(
        "extract", session / "movie.h5", tmp_path / "undecided.roimasks.h5", "-o",
        tmp_path / "out", "--only", "cells",
    )  # fmt: skip
    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert line == (
        f"napari-roimasks: error: {tmp_path / 'undecided.roimasks.h5'}: --only cells: no ROI is "
        "decided a cell (40 unlabeled); use --only all"
    )
    assert not (tmp_path / "out").exists()


def test_info_counts_the_rois_by_decision(session):
    result = run("info", session / "rois.roimasks.h5")
    assert result.returncode == 0, result.stderr
    assert "  decisions: 6 cell, 3 not_cell, 31 unlabeled" in result.stdout.splitlines()
    assert "decisions" in result.stdout.splitlines()[1]  # the format holds them


def test_convert_writes_only_the_cells_to_another_format(session, tmp_path):
    result = run("convert", session / "rois.roimasks.h5", "-o", tmp_path / "cells.json",
                 "--only", "cells")  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("read 6 ROIs (cells only, of 40)")
    back = read_rois(tmp_path / "cells.json")
    assert [r.id for r in back.rois] == sorted(CELLS)
    assert {r.decision for r in back.rois} == {Decision.CELL}


def test_convert_writes_decisions_as_suite2ps_iscell(session, tmp_path):
    result = run("convert", session / "rois.roimasks.h5", "-o", tmp_path / "iscell.npy")
    assert result.returncode == 0, result.stderr
    iscell = np.load(tmp_path / "iscell.npy", allow_pickle=False)
    assert iscell.dtype == np.float64 and iscell.shape == (40, 2)
    is_cell = [1.0 if k in CELLS else 0.0 for k in range(1, 41)]
    np.testing.assert_array_equal(iscell, np.stack([is_cell, is_cell], axis=1))
    again = run("convert", session / "rois.roimasks.h5", "-o", tmp_path / "iscell.npy")
    assert again.returncode == 2 and "exists" in again.stderr  # replaced only with --overwrite
    some = run("convert", session / "rois.roimasks.h5", "-o", tmp_path / "x" / "iscell.npy",
               "--only", "cells")  # fmt: skip
    assert some.returncode == 2
    assert "--only cells: iscell.npy holds a row for every ROI" in some.stderr


def test_info_and_convert_read_a_session_file(tmp_path):
    """A curator's session is an ROI file to the command line: info says what it keeps,
    convert --only cells exports the cells."""
    from napari_roimasks.io.session_file import SavedTraces, SessionContents, write_session

    labels = np.zeros((64, 64), np.int32)
    for i in range(6):
        labels[4 + 10 * i : 10 + 10 * i, 4:10] = i + 1
    rois = decided(labels, cells={1, 3}, not_cells=set())
    traces = {e.id: (bytes(16), np.zeros(50), np.zeros(50), 0.7) for e in rois.rois}
    path = write_session(
        tmp_path / "a.session.roimasks.h5",
        SessionContents(
            rois,
            movie_path="/data/movie.h5",
            movie_dataset="data",
            traces=SavedTraces("dask:movie-abc", traces),
        ),
    )
    info = run("info", path)
    assert info.returncode == 0, info.stderr
    lines = info.stdout.splitlines()
    assert "  movie: /data/movie.h5 (dataset data)" in lines
    assert "  traces: 6 ROIs x 50 frames" in lines
    assert "  decisions: 2 cell, 0 not_cell, 4 unlabeled" in lines
    converted = run("convert", path, "-o", tmp_path / "cells.zip", "--only", "cells")
    assert converted.returncode == 0, converted.stderr
    assert [r.id for r in read_rois(tmp_path / "cells.zip").rois] == [1, 3]
