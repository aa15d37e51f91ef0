"""``napari-roimasks metrics OUTDIR``, run as a user runs it: the file ``extract --metrics``
writes, from the output folder alone (and the ROI file given again); one-line errors."""

from __future__ import annotations

import csv
import shutil
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest

from napari_roimasks.core.masks import MaskCrop
from napari_roimasks.core.metrics import METRICS
from napari_roimasks.io.allen_json import AllenMask, write_allen_masks
from napari_roimasks.io.roi_set import Decision
from napari_roimasks.synthetic import make_recording

BORDER = ("4", "3", "5", "2")
PIXEL_COLUMNS = (
    "area",
    "compactness",
    "aspect_ratio",
    "border_distance",
    "correlation_roi",
    "brightness_z",
)


def run(*args):
    return subprocess.run(
        [sys.executable, "-m", "napari_roimasks.cli", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=300,
    )


def padded_allen_rois(labels: np.ndarray, path: Path) -> Path:
    """The labels as Allen JSON with boxes wider than the pixels (as Allen files may be), ids
    as text and every third ROI decided not a cell."""
    masks = []
    for k in range(1, int(labels.max()) + 1):
        crop = MaskCrop.from_plane(labels == k)
        top, left = max(crop.top - 1, 0), max(crop.left - 2, 0)
        bottom, right = min(crop.bottom + 2, labels.shape[0]), min(crop.right + 1, labels.shape[1])
        pixels = (labels == k)[top:bottom, left:right]
        decision = Decision.NOT_CELL if k % 3 == 0 else Decision.CELL
        masks.append(AllenMask(f"cell-{k}", MaskCrop(top, left, pixels), decision=decision))
    write_allen_masks(path, masks, image_shape=labels.shape)
    return path


#: name -> (ROI file, extract's options); every folder from the same movie
EXTRACTS = {
    "metrics 0.7": ("labels.npy", ["--metrics", "--summary", "summary.h5"]),
    "metrics fit": ("labels.npy", ["--metrics", "--r", "fit", "--summary", "summary.h5"]),
    "plain": ("labels.npy", ["--summary", "summary.h5"]),
    "metrics, no summary": ("labels.npy", ["--metrics"]),
    "no summary": ("labels.npy", []),
    "cells, metrics fit": (
        "rois.json",
        ["--only", "cells", "--metrics", "--r", "fit", "--summary", "summary.h5"],
    ),
    "cells": ("rois.json", ["--only", "cells", "--summary", "summary.h5"]),
}


@pytest.fixture(scope="module")
def extracted(tmp_path_factory):
    """The inputs, and an output folder of ``extract`` for each of :data:`EXTRACTS`."""
    folder = tmp_path_factory.mktemp("extracted")
    rec = make_recording(n_frames=40, seed=4)
    with h5py.File(folder / "movie.h5", "w") as f:
        f.create_dataset("data", data=rec.movie, chunks=(1, 256, 256))
    np.save(folder / "labels.npy", rec.roi_labels)
    padded_allen_rois(rec.roi_labels, folder / "rois.json")
    for name, (rois, options) in EXTRACTS.items():
        result = run(
            "extract", folder / "movie.h5", folder / rois, "-o", folder / name,
            "--border", *BORDER, *options,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
    return folder


def copy(extracted: Path, name: str, tmp_path: Path) -> Path:
    """A copy of an output folder the test may change."""
    return Path(shutil.copytree(extracted / name, tmp_path / "out"))


def read_metrics(path: Path) -> list[list[str]]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.reader(f))


@pytest.mark.parametrize(
    ("written_by_extract", "folder", "rois", "r"),
    [
        ("metrics 0.7", "plain", "labels.npy", "0.7"),
        ("metrics fit", "plain", "labels.npy", "fit"),
        # Allen JSON boxes wider than their pixels, --only cells: ROIs matched by id and decision
        ("cells, metrics fit", "cells", "rois.json", "fit"),
    ],
)
def test_metrics_of_an_output_folder_are_extracts_byte_for_byte(
    extracted, tmp_path, written_by_extract, folder, rois, r
):
    out = copy(extracted, folder, tmp_path)
    result = run("metrics", out, "--rois", extracted / rois, "--r", r)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""  # every column filled: nothing to say
    expected = (extracted / written_by_extract / "metrics.csv").read_bytes()
    assert (out / "metrics.csv").read_bytes() == expected
    rows = read_metrics(out / "metrics.csv")
    assert rows[0] == ["roi_id", *METRICS]
    assert any(all(cell != "" for cell in row) for row in rows[1:])  # a complete row, at least
    # and in the folder extract --metrics wrote, the same file again
    again = Path(shutil.copytree(extracted / written_by_extract, tmp_path / "again"))
    result = run("metrics", again, "--rois", extracted / rois, "--r", r, "--overwrite")
    assert result.returncode == 0, result.stderr
    assert (again / "metrics.csv").read_bytes() == expected


def test_without_summary_images_the_image_metrics_are_empty_as_extracts_are(extracted, tmp_path):
    out = copy(extracted, "no summary", tmp_path)
    result = run("metrics", out, "--rois", extracted / "labels.npy")
    assert result.returncode == 0, result.stderr
    expected = extracted / "metrics, no summary" / "metrics.csv"
    assert (out / "metrics.csv").read_bytes() == expected.read_bytes()
    (note,) = result.stderr.strip().splitlines()
    assert note.startswith("note: correlation_roi, correlation_ring, brightness_z left empty")
    assert "--summary SUMMARY.h5" in note and "--rois" not in note


def test_without_the_roi_file_its_pixels_metrics_are_empty_and_one_line_says_so(
    extracted, tmp_path
):
    out = copy(extracted, "plain", tmp_path)
    result = run("metrics", out)
    assert result.returncode == 0, result.stderr
    (note,) = result.stderr.strip().splitlines()
    assert note == (
        f"note: {', '.join(PIXEL_COLUMNS)} left empty in {out / 'metrics.csv'}; to fill them "
        "give --rois ROIS (the ROI file extract read)"
    )
    got = read_metrics(out / "metrics.csv")
    full = read_metrics(extracted / "metrics 0.7" / "metrics.csv")
    assert got[0] == full[0] and len(got) == len(full)
    for mine, theirs in zip(got[1:], full[1:], strict=True):
        for name, cell, expected in zip(got[0], mine, theirs, strict=True):
            # the traces, rings and summary images are in the folder: those columns are filled
            assert cell == ("" if name in PIXEL_COLUMNS else expected), (mine[0], name)


def test_a_summary_file_given_outside_the_folder_fills_the_image_metrics(extracted, tmp_path):
    out = copy(extracted, "no summary", tmp_path)
    summary = extracted / "plain" / "summary.h5"
    result = run("metrics", out, "--rois", extracted / "labels.npy", "--summary", summary)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    expected = (extracted / "metrics 0.7" / "metrics.csv").read_bytes()
    assert (out / "metrics.csv").read_bytes() == expected


def shorter_neuropil_traces(out: Path, extracted: Path) -> str:
    with h5py.File(out / "neuropil_traces.h5", "r+") as f:
        data = f["data"][()]
        del f["data"]
        f.create_dataset("data", data=data[:, :-1])
    return f"{out / 'neuropil_traces.h5'}: expected the traces of roi_traces.h5's ROIs"


def flat_roi_traces(out: Path, extracted: Path) -> str:
    with h5py.File(out / "roi_traces.h5", "r+") as f:
        data = f["data"][()]
        del f["data"]
        f.create_dataset("data", data=data.ravel())
    return f"{out / 'roi_traces.h5'}: expected data of numbers, (n_rois, n_frames)"


def not_an_output_folder(out: Path, extracted: Path) -> str:
    (out / "exclusions.json").unlink()
    return f"{out}: not an output folder of napari-roimasks extract (no exclusions.json)"


def metrics_there_already(out: Path, extracted: Path) -> str:
    (out / "metrics.csv").write_text("mine\n")
    return f"{out}: holds metrics.csv already; pass --overwrite to replace it"


def an_roi_file_with_an_roi_less(out: Path, extracted: Path) -> str:
    labels = np.load(extracted / "labels.npy")
    labels[labels == labels.max()] = 0
    np.save(out.parent / "other.npy", labels)
    return (
        f"{out.parent / 'other.npy'}: its ROIs are not the ones traced in {out / 'roi_traces.h5'} "
        "(39 ROIs, against 40 traces with other ids)"
    )


def an_roi_file_with_an_roi_moved(out: Path, extracted: Path) -> str:
    """The same ids, but an ROI moved onto the motion border since extract read the file."""
    import json

    labels = np.load(extracted / "labels.npy")
    excluded = {e["roi_id"] for e in json.loads((out / "exclusions.json").read_text())}
    moved = next(k for k in range(1, labels.max() + 1) if str(k) not in excluded)
    labels[labels == moved] = 0
    labels[:3, :3] = moved
    np.save(out.parent / "other.npy", labels)
    return f"{out.parent / 'other.npy'}: its ROIs are not the ones traced in {out}: they would"


def a_summary_of_another_size(out: Path, extracted: Path) -> str:
    from napari_roimasks.core.summary_images import compute_summary_images
    from napari_roimasks.io.summary_files import write_summary_images

    (out / "summary.h5").unlink()
    images = compute_summary_images(np.ones((3, 20, 30), np.float32))
    write_summary_images(out / "small.h5", images)
    return f"{out / 'small.h5'}: the summary images are 30x20, the traced ROIs' image 256x256"


@pytest.mark.parametrize(
    "spoil",
    [
        shorter_neuropil_traces,
        flat_roi_traces,
        not_an_output_folder,
        metrics_there_already,
        an_roi_file_with_an_roi_less,
        an_roi_file_with_an_roi_moved,
        a_summary_of_another_size,
    ],
)
def test_a_bad_folder_is_one_line_exit_2_and_nothing_written(extracted, tmp_path, spoil):
    out = copy(extracted, "plain", tmp_path)
    message = spoil(out, extracted)
    other = out.parent / "other.npy"
    rois = other if other.exists() else extracted / "labels.npy"
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    result = run("metrics", out, "--rois", rois)
    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith(f"napari-roimasks: error: {message}"), line
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--r", "abc"], "--r must be a number >= 0 or 'fit', got 'abc'"),
        (["--r", "-1"], "--r must be a number >= 0 or 'fit', got '-1'"),
    ],
)
def test_a_bad_ratio_is_one_line_and_nothing_is_written(extracted, tmp_path, arguments, message):
    out = copy(extracted, "plain", tmp_path)
    result = run("metrics", out, *arguments)
    assert result.returncode == 2
    assert result.stderr.strip() == f"napari-roimasks: error: {message}"
    assert not (out / "metrics.csv").exists()


def test_a_missing_folder_or_a_file_is_named(tmp_path):
    result = run("metrics", tmp_path / "nowhere")
    assert result.returncode == 2
    assert (
        result.stderr.strip() == f"napari-roimasks: error: {tmp_path / 'nowhere'}: no such folder"
    )
    (tmp_path / "file").write_text("")
    result = run("metrics", tmp_path / "file")
    assert result.returncode == 2
    assert result.stderr.strip().startswith(
        f"napari-roimasks: error: {tmp_path / 'file'}: not a folder"
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]


def test_extracting_again_without_metrics_takes_the_old_metrics_away(extracted, tmp_path):
    out = copy(extracted, "metrics 0.7", tmp_path)
    (out / "notes.txt").write_text("mine")
    again = ("extract", extracted / "movie.h5", extracted / "labels.npy", "-o", out)
    result = run(*again, "--border", *BORDER)
    assert result.returncode == 2  # the metrics of the earlier traces are there
    assert result.stderr.count("\n") == 1 and "metrics.csv" in result.stderr
    assert "--overwrite" in result.stderr and (out / "metrics.csv").exists()
    result = run(*again, "--border", *BORDER, "--overwrite")
    assert result.returncode == 0, result.stderr
    assert not (out / "metrics.csv").exists()  # never beside traces they were not made from
    assert (out / "notes.txt").read_text() == "mine"  # the user's own file stays
