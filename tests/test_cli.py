"""The command line, run as a user runs it: outputs, exit codes, one-line errors."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest

from napari_roimasks import MotionBorder, roi_masks
from napari_roimasks.core.metrics import METRICS, trace_metrics
from napari_roimasks.io.allen_json import write_allen_masks
from napari_roimasks.io.allen_traces import read_trace_file
from napari_roimasks.synthetic import make_recording


def run(*args):
    return subprocess.run(
        [sys.executable, "-m", "napari_roimasks.cli", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture(scope="module")
def recording(tmp_path_factory):
    folder = tmp_path_factory.mktemp("session")
    rec = make_recording(n_frames=40, seed=4)
    with h5py.File(folder / "movie.h5", "w") as f:
        f.create_dataset("data", data=rec.movie, chunks=(1, 256, 256))
    np.save(folder / "labels.npy", rec.roi_labels)
    return folder, rec


def expected(rec, border):
    labels = rec.roi_labels
    rois = [
        roi_masks.create_roi_mask(256, 256, border, roi_mask=labels == k, label=k)
        for k in range(1, labels.max() + 1)
    ]
    neuropils = [
        roi_masks.create_neuropil_mask(r, border, labels > 0, label=f"neuropil for {r.label}")
        for r in rois
    ]
    traces, exclusions = roi_masks.calculate_traces(rec.movie, rois + neuropils)
    return traces[: len(rois)], traces[len(rois) :], exclusions, neuropils


def test_extract_writes_the_allen_layout_with_allensdks_numbers(recording, tmp_path):
    folder, rec = recording
    border = rec.motion_border.as_allen()
    result = run(
        "extract",
        folder / "movie.h5",
        folder / "labels.npy",
        "-o",
        tmp_path / "out",
        "--border",
        *border,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""  # quiet when not a terminal
    roi_expected, neuropil_expected, exclusions, neuropils = expected(rec, border)
    roi_traces, names = read_trace_file(tmp_path / "out" / "roi_traces.h5")
    neuropil_traces, _ = read_trace_file(tmp_path / "out" / "neuropil_traces.h5")
    np.testing.assert_array_equal(roi_traces, roi_expected)
    np.testing.assert_array_equal(neuropil_traces, neuropil_expected)
    assert names == [str(k) for k in range(1, 41)]
    written = json.loads((tmp_path / "out" / "exclusions.json").read_text())
    # AllenSDK's roi_id is the mask's label; the Allen pipeline's output schema writes it as text
    assert [(e["roi_id"], e["exclusion_label_name"]) for e in written] == [
        (str(e["roi_id"]), e["exclusion_label_name"]) for e in exclusions
    ]
    assert all(isinstance(e["roi_id"], str) for e in written) and written
    masks_file = json.loads((tmp_path / "out" / "neuropil_masks.json").read_text())
    assert masks_file["image_size"] == {"width": 256, "height": 256}
    masks = masks_file["rois"]
    assert [(m["x"], m["y"], m["width"], m["height"]) for m in masks] == [
        (n.x, n.y, n.width, n.height) for n in neuropils
    ]
    for written_mask, neuropil in zip(masks, neuropils, strict=True):  # AllenSDK's pixels
        assert written_mask["id"] == neuropil.label
        assert written_mask["valid"] == (not roi_masks.validate_mask(neuropil))
        if neuropil.mask is not None:
            np.testing.assert_array_equal(np.array(written_mask["mask"]), neuropil.mask)


def test_border_comes_from_the_roi_file_unless_given(recording, tmp_path):
    folder, rec = recording
    labels = rec.roi_labels
    border = [5, 2, 4, 6]
    rois = [
        roi_masks.create_roi_mask(256, 256, border, roi_mask=labels == k, label=k)
        for k in range(1, 41)
    ]
    write_allen_masks(tmp_path / "rois.json", rois, border=MotionBorder.from_allen(border))
    result = run("extract", folder / "movie.h5", tmp_path / "rois.json", "-o", tmp_path / "out")
    assert result.returncode == 0, result.stderr
    roi_expected, *_ = expected(rec, border)
    np.testing.assert_array_equal(
        read_trace_file(tmp_path / "out" / "roi_traces.h5")[0], roi_expected
    )


def expected_with_rings(rec, border, options):
    """AllenSDK's ROI traces and our neuropil traces for rings drawn with ``options``."""
    labels = rec.roi_labels
    rois = [
        roi_masks.create_roi_mask(256, 256, border, roi_mask=labels == k, label=k)
        for k in range(1, labels.max() + 1)
    ]
    neuropils = roi_masks.create_neuropil_masks(rois, border, options=options)
    traces, _ = roi_masks.calculate_traces(rec.movie, rois + neuropils)
    return traces[len(rois) :]


def test_ring_options_come_from_a_roimasks_file_unless_given(recording, tmp_path):
    from napari_roimasks.core import RingOptions
    from napari_roimasks.core.rings import roi_crops_from_labels
    from napari_roimasks.io.roi_files import RoiEntry, RoiSet, write_rois

    folder, rec = recording
    border, saved = [3, 3, 2, 2], RingOptions(outer_radius=13, inner_gap=2, min_pixels=0)
    entries = [RoiEntry(k, c) for k, c in roi_crops_from_labels(rec.roi_labels).items()]
    rois_file = tmp_path / "session.roimasks.h5"
    write_rois(rois_file, RoiSet(entries, MotionBorder.from_allen(border), (256, 256), saved))
    assert run("extract", folder / "movie.h5", rois_file, "-o", tmp_path / "saved").returncode == 0
    neuropil, _ = read_trace_file(tmp_path / "saved" / "neuropil_traces.h5")
    np.testing.assert_array_equal(neuropil, expected_with_rings(rec, border, saved))
    assert not np.array_equal(neuropil, expected_with_rings(rec, border, RingOptions()))
    # each option the user gives overrides the file's, the others stay the file's
    result = run(
        "extract",
        folder / "movie.h5",
        rois_file,
        "-o",
        tmp_path / "given",
        "--neuropil-radius",
        "9",
        "--min-pixels",
        "300",
    )
    assert result.returncode == 0, result.stderr
    given = RingOptions(outer_radius=9, inner_gap=2, min_pixels=300)
    neuropil, _ = read_trace_file(tmp_path / "given" / "neuropil_traces.h5")
    np.testing.assert_array_equal(neuropil, expected_with_rings(rec, border, given))
    result = run(
        "extract", folder / "movie.h5", rois_file, "-o", tmp_path / "bad", "--inner-gap", "13"
    )
    assert result.returncode == 2
    assert "inner_gap (13) must be smaller than outer_radius (13)" in result.stderr


@pytest.mark.parametrize(
    ("movie", "rois", "extra", "message"),
    [
        ("missing.h5", "labels.npy", [], "missing.h5: no such file"),
        (".", "labels.npy", [], "a folder; expected a movie file"),
        ("labels.npy", "labels.npy", [], "labels.npy: not a movie format"),
        ("not_hdf5.h5", "labels.npy", [], "not_hdf5.h5: not a readable HDF5 file"),
        ("no_data.h5", "labels.npy", [], "no_data.h5: no dataset 'data'; 3D datasets: none"),
        (
            "flat.h5",
            "labels.npy",
            ["--dataset", "image"],
            "flat.h5: expected a (frames, rows, columns) movie, found shape (256, 256)",
        ),
        (
            "movie.h5",
            "small_labels.npy",
            [],
            "small_labels.npy: the ROIs were drawn on a 100x100 image but the movie's frames are 256x256",
        ),
        ("movie.h5", "bad.json", [], "bad.json: mask 0 (id 3) lacks mask"),
        ("movie.h5", "labels.npy", ["--block-size", "0"], "--block-size must be at least 1 frame"),
        (
            "movie.h5",
            "labels.npy",
            ["--border", "1", "2", "3", "-4"],
            "--border: motion border 'bottom' must be a finite number >= 0",
        ),
        ("movie.h5", "rois.txt", [], "rois.txt: unknown ROI format"),
    ],
)
def test_bad_input_is_one_line_and_exit_code_2(recording, tmp_path, movie, rois, extra, message):
    folder, _ = recording
    (tmp_path / "not_hdf5.h5").write_text("plain text")
    with h5py.File(tmp_path / "no_data.h5", "w") as f:
        f["image"] = np.zeros((4, 4))
    with h5py.File(tmp_path / "flat.h5", "w") as f:
        f["image"] = np.zeros((256, 256))
    np.save(tmp_path / "small_labels.npy", np.zeros((100, 100), np.int32))
    (tmp_path / "bad.json").write_text(
        json.dumps([{"id": 3, "x": 0, "y": 0, "width": 1, "height": 1}])
    )
    (tmp_path / "rois.txt").write_text("1 2 3")
    for name in ("movie.h5", "labels.npy"):
        (tmp_path / name).symlink_to(folder / name)
    result = run("extract", tmp_path / movie, tmp_path / rois, "-o", tmp_path / "out", *extra)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("napari-roimasks: error:")
    assert message in lines[0]
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_outputs_are_not_replaced_unasked_and_a_file_is_no_output_folder(recording, tmp_path):
    folder, _ = recording
    args = ["extract", folder / "movie.h5", folder / "labels.npy", "-o", tmp_path / "out"]
    assert run(*args).returncode == 0
    again = run(*args)
    assert again.returncode == 2 and "pass --overwrite to replace them" in again.stderr
    assert run(*args, "--overwrite").returncode == 0
    (tmp_path / "file").write_text("x")
    refused = run("extract", folder / "movie.h5", folder / "labels.npy", "-o", tmp_path / "file")
    assert refused.returncode == 2 and "the output must be a folder" in refused.stderr


def test_info_says_what_a_file_holds(recording):
    folder, _ = recording
    movie = run("info", folder / "movie.h5")
    assert movie.returncode == 0 and "data: (40, 256, 256) uint16" in movie.stdout
    labels = run("info", folder / "labels.npy")
    assert (
        labels.returncode == 0
        and "label image, 40 ROIs (0 without pixels) on a 256x256 image" in labels.stdout
        and "the format holds: masks, ids, image size" in labels.stdout
    )
    missing = run("info", folder / "nothing.h5")
    assert missing.returncode == 2 and "nothing.h5: no such file" in missing.stderr


def test_a_tiff_movie_is_refused_for_a_cluster_before_one_is_started(recording, tmp_path):
    import tifffile

    folder, rec = recording
    tifffile.imwrite(tmp_path / "movie.tif", rec.movie)
    result = run(
        "extract",
        tmp_path / "movie.tif",
        folder / "labels.npy",
        "-o",
        tmp_path / "out",
        "--scheduler",
        "tcp://127.0.0.1:1",  # nothing listens there: a start would fail differently
    )
    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert line.endswith(
        "movie.tif: the Dask backend reads HDF5 movies (each worker opens the file)"
    )


def test_an_inconsistent_roimasks_file_is_one_line_and_exit_code_2(recording, tmp_path):
    from napari_roimasks.core.rings import roi_crops_from_labels
    from napari_roimasks.io.roi_files import RoiEntry, RoiSet, write_rois

    folder, rec = recording
    entries = [RoiEntry(k, c) for k, c in roi_crops_from_labels(rec.roi_labels).items()]
    path = tmp_path / "edited.roimasks.h5"
    write_rois(path, RoiSet(entries, MotionBorder(), (256, 256)))
    with h5py.File(path, "a") as f:
        f.attrs["ring_options"] = [5, 5, 0]  # an inner gap as wide as the ring
    for command in (["info", path], ["extract", folder / "movie.h5", path, "-o", tmp_path / "out"]):
        result = run(*command)
        assert result.returncode == 2
        (line,) = result.stderr.strip().splitlines()
        assert "edited.roimasks.h5: an inconsistent napari-roimasks masks file" in line
    assert not (tmp_path / "out").exists()


# -- NWB --------------------------------------------------------------------------------------
SESSION_OPTIONS = [
    "--session-description",
    "Mouse V1, drifting gratings",
    "--experiment-description",
    "orientation tuning of layer 2/3 neurons",
    "--experimenter",
    "Doe, Jane",
    "--experimenter",
    "Roe, Rick",
    "--institution",
    "Allen Institute for Brain Science",
    "--lab",
    "Optical physiology",
    "--session-start",
    "2024-05-01T10:30:00+02:00",
    "--subject-id",
    "m-123",
    "--species",
    "Mus musculus",
    "--sex",
    "F",
    "--age",
    "P90D",
    "--indicator",
    "GCaMP6f",
    "--location",
    "VISp",
    "--excitation-wavelength",
    "920",
    "--frame-rate",
    "31",
]


def test_extract_with_nwb_writes_the_rois_rings_traces_and_session_into_one_file(
    recording, tmp_path
):
    pytest.importorskip("pynwb")
    from datetime import datetime, timedelta, timezone

    from pynwb import NWBHDF5IO

    folder, rec = recording
    out = tmp_path / "out"
    result = run(
        "extract", folder / "movie.h5", folder / "labels.npy", "-o", out, "--nwb", *SESSION_OPTIONS
    )
    assert result.returncode == 0, result.stderr
    assert "exclusions.json, rois.nwb to" in result.stdout
    roi_traces, names = read_trace_file(out / "roi_traces.h5")
    neuropil_traces, _ = read_trace_file(out / "neuropil_traces.h5")
    with NWBHDF5IO(str(out / "rois.nwb"), "r") as io:
        nwb = io.read()
        assert nwb.session_description == "Mouse V1, drifting gratings"
        assert list(nwb.experimenter) == ["Doe, Jane", "Roe, Rick"]
        assert (nwb.institution, nwb.lab) == (
            "Allen Institute for Brain Science",
            "Optical physiology",
        )
        assert nwb.session_start_time == datetime(
            2024, 5, 1, 10, 30, tzinfo=timezone(timedelta(hours=2))
        )
        subject = nwb.subject
        assert (subject.subject_id, subject.species, subject.sex, subject.age) == (
            "m-123",
            "Mus musculus",
            "F",
            "P90D",
        )
        plane = nwb.imaging_planes["ImagingPlane"]
        assert (plane.indicator, plane.location, plane.excitation_lambda) == (
            "GCaMP6f",
            "VISp",
            920,
        )
        ophys = nwb.processing["ophys"]
        table = ophys["ImageSegmentation"]["PlaneSegmentation"]
        assert list(table["roi_id"].data[:]) == names  # the same ROIs, in the same order
        masks = table["image_mask"].data
        for i, name in enumerate(names):
            np.testing.assert_array_equal(masks[i], rec.roi_labels == int(name))
        rings = ophys["ImageSegmentation"]["NeuropilSegmentation"]["image_mask"].data
        assert not (rings[0] & masks[0]).any() and rings[0].any()  # a ring around the ROI
        series = ophys["Fluorescence"]
        np.testing.assert_array_equal(series["RoiResponseSeries"].data[:], roi_traces.T)
        np.testing.assert_array_equal(series["Neuropil"].data[:], neuropil_traces.T)
        assert series["RoiResponseSeries"].rate == 31.0
        assert "Corrected" not in series.roi_response_series  # the pipeline does not correct


def test_the_nwb_file_passes_nwbinspector(recording, tmp_path):
    pytest.importorskip("pynwb")
    nwbinspector = pytest.importorskip("nwbinspector")

    folder, _ = recording
    out = tmp_path / "out"
    args = ["extract", folder / "movie.h5", folder / "labels.npy", "-o", out, "--nwb"]
    assert run(*args, *SESSION_OPTIONS).returncode == 0
    messages = list(nwbinspector.inspect_nwbfile(nwbfile_path=str(out / "rois.nwb")))
    assert messages == []


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (
            ["--species", "Mus musculus"],
            "--species: session options describe the NWB file; add --nwb",
        ),
        (
            ["--nwb", "--age", "P90D"],
            "--subject-id: an animal is described by --subject-id, --species and --age together",
        ),
        (
            ["--nwb", "--subject-id", "m1", "--species", "mouse", "--age", "P90D"],
            "--species: 'mouse' is neither a Latin binomial ('Mus musculus')",
        ),
        (
            ["--nwb", "--subject-id", "m1", "--species", "Mus musculus", "--age", "90 days"],
            "--age: '90 days' is not an ISO 8601 duration such as P90D",
        ),
        (
            ["--nwb", "--session-start", "2024-13-01"],
            "--session-start: '2024-13-01' is not an ISO 8601",
        ),
        (["--nwb", "--session-start", "2999-01-01"], "--session-start: 2999-01-01T00:00:00"),
        (
            ["--nwb", "--excitation-wavelength", "0.92"],
            "--excitation-wavelength: 0.92 is not a wavelength in nanometres",
        ),
        (["--nwb", "--frame-rate", "0"], "--frame-rate: 0.0 is not a frame rate"),
    ],
)
def test_bad_session_options_are_one_line_and_exit_code_2(recording, tmp_path, options, message):
    folder, _ = recording
    result = run(
        "extract", folder / "movie.h5", folder / "labels.npy", "-o", tmp_path / "out", *options
    )
    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("napari-roimasks: error: ") and message in line, line
    assert not (tmp_path / "out").exists()


def test_nwb_without_pynwb_says_how_to_install_it_before_reading_a_frame(recording, tmp_path):
    folder, _ = recording
    blocked = (
        "import sys; sys.modules['pynwb'] = None; from napari_roimasks.cli import main; "
        "sys.exit(main(sys.argv[1:]))"
    )
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            blocked,
            "extract",
            str(folder / "movie.h5"),
            str(folder / "labels.npy"),
            "-o",
            str(tmp_path / "out"),
            "--nwb",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert line.endswith("--nwb: NWB files need pynwb: pip install 'napari-roimasks[nwb]'")
    assert not (tmp_path / "out").exists()


def test_an_output_folder_holding_folders_is_refused_before_any_work(recording, tmp_path):
    """The outputs replace the folder as a set: a folder inside it (here squatting on
    rois.nwb's name) is refused up front, and nothing is written."""
    pytest.importorskip("pynwb")
    folder, _ = recording
    out = tmp_path / "out"
    (out / "rois.nwb").mkdir(parents=True)
    result = run(
        "extract", folder / "movie.h5", folder / "labels.npy", "-o", out, "--nwb", "--overwrite"
    )
    assert result.returncode == 2, result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("napari-roimasks: error:") and "holds folders (rois.nwb)" in line
    assert sorted(p.name for p in out.iterdir()) == ["rois.nwb"]  # only the squatter
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # no staging folder left


def log_file() -> Path:
    return Path(os.environ["XDG_STATE_HOME"]) / "napari-roimasks" / "napari-roimasks.log"


def test_a_corrupt_chunk_mid_movie_is_one_line_naming_the_movie_and_its_frames(
    tmp_path, corrupt_movie
):
    rec = make_recording(n_frames=40, shape=(64, 64), n_cells=6, seed=2)
    corrupt_movie(tmp_path / "movie.h5", rec.movie, 25)
    np.save(tmp_path / "labels.npy", rec.roi_labels)
    result = run(
        "extract",
        tmp_path / "movie.h5",
        tmp_path / "labels.npy",
        "-o",
        tmp_path / "out",
        "--block-size",
        "10",
    )
    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith(
        f"napari-roimasks: error: {tmp_path / 'movie.h5'}: frames 20-29 cannot be read"
    )
    assert line.endswith(f"(details: {log_file()})")
    assert "Traceback" in log_file().read_text()  # the library's traceback, for a bug report
    assert not (tmp_path / "out").exists()


def test_library_warnings_go_to_the_log_not_the_terminal(tmp_path):
    """tifffile warns about a corrupt TIFF on its own logger; the user sees one line."""
    (tmp_path / "movie.tif").write_bytes(b"II*\x00garbage and more garbage")
    np.save(tmp_path / "labels.npy", np.ones((4, 4), np.int32))
    result = run("extract", tmp_path / "movie.tif", tmp_path / "labels.npy", "-o", tmp_path / "out")
    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert "movie.tif" in line and line.endswith(f"(details: {log_file()})")
    assert "tifffile WARNING" in log_file().read_text()


def test_manifest_rows_whose_movies_share_a_name_are_refused_before_any_work(recording, tmp_path):
    """Day 1 and day 2 are both movie.h5: their default output folders would be one."""
    import shutil

    folder, _ = recording
    for day in ("day1", "day2"):
        (tmp_path / day).mkdir()
        shutil.copy(folder / "movie.h5", tmp_path / day / "movie.h5")
    shutil.copy(folder / "labels.npy", tmp_path / "labels.npy")
    (tmp_path / "manifest.csv").write_text(
        "movie,rois\nday1/movie.h5,labels.npy\nday2/movie.h5,labels.npy\n"
    )
    result = run("extract", "--manifest", tmp_path / "manifest.csv", "-o", tmp_path / "out")
    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert "day1/movie.h5 and " in line and "day2/movie.h5 would write to the same folder" in line
    assert f"give each row of {tmp_path / 'manifest.csv'} an output column of its own" in line
    assert not (tmp_path / "out").exists()


def test_huge_label_ids_are_extracted_like_any_other(tmp_path):
    """Label ids 2**31-1 and 10**15 in a label image: two ROIs, named by their ids."""
    labels = np.zeros((64, 64), np.int64)
    labels[10:20, 10:20], labels[40:50, 40:50] = 10**15, 2**31 - 1
    np.save(tmp_path / "labels.npy", labels)
    movie = np.random.default_rng(0).integers(0, 100, (20, 64, 64), dtype=np.uint16)
    with h5py.File(tmp_path / "movie.h5", "w") as f:
        f["data"] = movie
    result = run("extract", tmp_path / "movie.h5", tmp_path / "labels.npy", "-o", tmp_path / "out")
    assert result.returncode == 0, result.stderr
    traces, names = read_trace_file(tmp_path / "out" / "roi_traces.h5")
    assert names == ["2147483647", "1000000000000000"]
    np.testing.assert_array_equal(traces[1], movie[:, 10:20, 10:20].mean(axis=(1, 2)))


def test_errors_python_would_print_as_ignored_go_to_the_log(tmp_path):
    """h5py's destructors complain when Ctrl-C stops a write ("Exception ignored in ..."):
    that goes to the log, not under the one line the user reads."""
    script = (
        "from napari_roimasks.logs import send_logs_to_file\n"
        "send_logs_to_file()\n"
        "class Handle:\n"
        "    def __del__(self):\n"
        "        raise ValueError('closed file')\n"
        "Handle()\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert result.returncode == 0 and result.stderr == ""
    assert "ValueError: closed file" in log_file().read_text()


# -- extract --metrics: metrics.csv beside the traces, as a script reads it -------------------
def read_metrics(path):
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.reader(f))


def test_metrics_csv_has_a_row_per_roi_in_the_traces_order(recording, tmp_path):
    folder, rec = recording
    border = rec.motion_border.as_allen()
    out = tmp_path / "out"
    result = run(
        "extract", folder / "movie.h5", folder / "labels.npy", "-o", out,
        "--border", *border, "--metrics", "--summary", "summary.h5",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    rows = read_metrics(out / "metrics.csv")
    assert rows[0] == ["roi_id", *METRICS]
    roi_traces, names = read_trace_file(out / "roi_traces.h5")
    neuropil_traces, _ = read_trace_file(out / "neuropil_traces.h5")
    assert [row[0] for row in rows[1:]] == names
    excluded = {e["roi_id"] for e in json.loads((out / "exclusions.json").read_text())}
    assert excluded  # the recording puts cells on the motion border
    expected = trace_metrics(roi_traces - 0.7 * neuropil_traces)
    for row, roi_id, snr, events in zip(
        rows[1:], names, expected["snr"], expected["events"], strict=True
    ):
        if roi_id in excluded:
            assert row[1:] == [""] * len(METRICS), roi_id
            continue
        values = dict(zip(METRICS, row[1:], strict=True))
        assert int(values["area"]) == int(np.sum(rec.roi_labels == int(roi_id)))
        assert float(values["snr"]) == snr  # the shortest text that reads back as the float
        assert int(values["events"]) == events
        assert values["brightness_z"] != ""  # --summary gives the image metrics


def test_fitted_r_changes_the_corrected_trace_metrics(recording, tmp_path):
    folder, rec = recording
    for r, name in ((0.7, "fixed"), ("fit", "fitted")):
        result = run(
            "extract", folder / "movie.h5", folder / "labels.npy", "-o", tmp_path / name,
            "--metrics", "--r", r,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
    fixed = read_metrics(tmp_path / "fixed" / "metrics.csv")
    fitted = read_metrics(tmp_path / "fitted" / "metrics.csv")
    snr = METRICS.index("snr") + 1
    assert [row[snr] for row in fixed[1:]] != [row[snr] for row in fitted[1:]]
    assert [row[1] for row in fixed[1:]] == [row[1] for row in fitted[1:]]  # area: the same


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--metrics", "--r", "abc"], "--r must be a number >= 0 or 'fit', got 'abc'"),
        (["--metrics", "--r", "-1"], "--r must be a number >= 0 or 'fit', got '-1'"),
        (["--r", "0.5"], "--r is the neuropil ratio of --metrics: give --metrics too"),
    ],
)
def test_a_bad_ratio_is_one_line_and_nothing_is_written(recording, tmp_path, arguments, message):
    folder, _ = recording
    out = tmp_path / "out"
    result = run("extract", folder / "movie.h5", folder / "labels.npy", "-o", out, *arguments)
    assert result.returncode == 2
    assert result.stderr.strip().endswith(message)
    assert len(result.stderr.strip().splitlines()) == 1
    assert not out.exists()
