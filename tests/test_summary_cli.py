"""``napari-roimasks summary`` and ``extract --summary``, run as a user runs them: the file on
disk, its images, exit codes and one-line errors; here and on a local Dask cluster."""

from __future__ import annotations

import subprocess
import sys

import h5py
import numpy as np
import pytest
import tifffile

from napari_roimasks.core.summary_images import SUMMARY_IMAGES, compute_summary_images
from napari_roimasks.io.summary_files import read_summary_images
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
    folder = tmp_path_factory.mktemp("summary")
    rec = make_recording(n_frames=50, shape=(48, 60), n_cells=6, seed=5)
    with h5py.File(folder / "movie.h5", "w") as f:
        f.create_dataset("data", data=rec.movie, chunks=(1, 48, 60))
    tifffile.imwrite(folder / "movie.tif", rec.movie)
    np.save(folder / "labels.npy", rec.roi_labels)
    return folder, rec


def assert_images_of(path, movie, **attributes):
    images, found = read_summary_images(path)
    expected = compute_summary_images(movie).as_dict()
    assert list(images) == list(SUMMARY_IMAGES)
    for name in SUMMARY_IMAGES:
        np.testing.assert_array_equal(images[name], expected[name], err_msg=name)
    for key, value in attributes.items():
        assert found[key] == value, key


def test_summary_writes_the_five_images_of_the_movie(recording, tmp_path):
    folder, rec = recording
    result = run("summary", folder / "movie.h5", "-o", tmp_path / "s.h5", "--block-size", "7")
    assert result.returncode == 0, result.stderr
    assert "wrote mean, max, std, correlation and enhanced mean" in result.stdout
    assert_images_of(tmp_path / "s.h5", rec.movie, n_frames=50, dataset="data")
    info = run("info", tmp_path / "s.h5")
    assert "summary images" in info.stdout and "50 frames" in info.stdout


def test_a_tiff_movie_gives_the_same_images(recording, tmp_path):
    folder, rec = recording
    result = run("summary", folder / "movie.tif", "-o", tmp_path / "s.h5")
    assert result.returncode == 0, result.stderr
    assert_images_of(tmp_path / "s.h5", rec.movie)


def test_the_cell_diameter_sets_the_enhanced_mean(recording, tmp_path):
    folder, rec = recording
    assert (
        run(
            "summary", folder / "movie.h5", "-o", tmp_path / "d5.h5", "--cell-diameter", "5"
        ).returncode
        == 0
    )
    images, attributes = read_summary_images(tmp_path / "d5.h5")
    expected = compute_summary_images(rec.movie, cell_diameter=5).enhanced_mean
    np.testing.assert_array_equal(images["enhanced_mean"], expected)
    assert attributes["cell_diameter"] == 5


@pytest.mark.parametrize(
    "arguments, message",
    [
        (["{folder}/missing.h5", "-o", "{out}/s.h5"], "missing.h5"),
        (["{folder}/movie.h5", "-o", "{out}/s.txt"], "name the output *.h5"),
        (["{folder}/movie.h5", "-o", "{out}/no/s.h5"], "no such folder"),
        (["{folder}/movie.h5", "-o", "{out}"], "is a folder"),
        (["{folder}/movie.h5", "-o", "{folder}/movie.h5"], "would be replaced"),
        (["{folder}/movie.h5", "-o", "{out}/s.h5", "--block-size", "0"], "--block-size"),
        (["{folder}/movie.h5", "-o", "{out}/s.h5", "--cell-diameter", "-1"], "--cell-diameter"),
        (["{folder}/movie.h5", "-o", "{out}/s.h5", "--dataset", "nope"], "nope"),
        (["{folder}/labels.npy", "-o", "{out}/s.h5"], "labels.npy"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_writes_nothing(recording, tmp_path, arguments, message):
    folder, _ = recording
    before = sorted(p.name for p in tmp_path.iterdir())
    result = run("summary", *(a.format(folder=folder, out=tmp_path) for a in arguments))
    assert result.returncode == 2, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and message in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_an_existing_file_is_replaced_only_with_overwrite(recording, tmp_path):
    folder, rec = recording
    (tmp_path / "s.h5").write_bytes(b"mine")
    result = run("summary", folder / "movie.h5", "-o", tmp_path / "s.h5")
    assert result.returncode == 2 and "--overwrite" in result.stderr
    assert (tmp_path / "s.h5").read_bytes() == b"mine"
    assert (
        run("summary", folder / "movie.h5", "-o", tmp_path / "s.h5", "--overwrite").returncode == 0
    )
    assert_images_of(tmp_path / "s.h5", rec.movie)


def test_extract_with_summary_writes_the_images_in_the_output_set(recording, tmp_path):
    folder, rec = recording
    out = tmp_path / "out"
    result = run(
        "extract", folder / "movie.h5", folder / "labels.npy", "-o", out, "--summary", "images.h5"
    )
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [
            "roi_traces.h5",
            "neuropil_traces.h5",
            "neuropil_masks.json",
            "exclusions.json",
            "images.h5",
        ]
    )
    assert_images_of(out / "images.h5", rec.movie)
    with h5py.File(out / "roi_traces.h5") as f:
        with_summary = f["data"][()]
    alone = tmp_path / "alone"
    assert run("extract", folder / "movie.h5", folder / "labels.npy", "-o", alone).returncode == 0
    with h5py.File(alone / "roi_traces.h5") as f:
        np.testing.assert_array_equal(f["data"][()], with_summary)


@pytest.mark.parametrize("name", ["sub/images.h5", "roi_traces.h5", "images.txt", ""])
def test_extract_refuses_a_summary_name_that_is_not_a_plain_new_h5_name(recording, tmp_path, name):
    folder, _ = recording
    result = run(
        "extract",
        folder / "movie.h5",
        folder / "labels.npy",
        "-o",
        tmp_path / "o",
        "--summary",
        name,
    )
    assert result.returncode == 2 and "--summary" in result.stderr
    assert not (tmp_path / "o").exists()


def test_on_a_local_cluster_the_images_are_the_same(recording, tmp_path):
    folder, rec = recording
    result = run(
        "summary",
        folder / "movie.h5",
        "-o",
        tmp_path / "s.h5",
        "--scheduler",
        "local",
        "--workers",
        "2",
    )
    assert result.returncode == 0, result.stderr
    assert_images_of(tmp_path / "s.h5", rec.movie)
    out = tmp_path / "out"
    result = run(
        "extract",
        folder / "movie.h5",
        folder / "labels.npy",
        "-o",
        out,
        "--summary",
        "s.h5",
        "--scheduler",
        "local",
        "--workers",
        "2",
    )
    assert result.returncode == 0, result.stderr
    assert_images_of(out / "s.h5", rec.movie)


def test_a_tiff_movie_is_refused_for_a_cluster_before_one_is_started(recording, tmp_path):
    folder, _ = recording
    result = run("summary", folder / "movie.tif", "-o", tmp_path / "s.h5", "--scheduler", "local")
    assert result.returncode == 2 and "HDF5" in result.stderr
    assert not (tmp_path / "s.h5").exists()


def test_the_movie_is_never_replaced_through_dots_or_a_link(recording, tmp_path):
    folder, _ = recording
    movie = tmp_path / "m.h5"
    movie.write_bytes((folder / "movie.h5").read_bytes())
    (tmp_path / "sub").mkdir()
    (tmp_path / "link.h5").symlink_to(movie)
    for output in (tmp_path / "sub" / ".." / "m.h5", tmp_path / "link.h5"):
        result = run("summary", movie, "-o", output, "--overwrite")
        assert result.returncode == 2 and "would be replaced" in result.stderr
    assert movie.read_bytes() == (folder / "movie.h5").read_bytes()


@pytest.mark.parametrize(
    "arguments, message",
    [
        (["--summary", "ROI_TRACES.h5"], "one of the other outputs"),
        (["--summary", "x.roimasks.h5"], "ROI file"),
        (["--cell-diameter", "8"], "give --summary NAME.h5 too"),
        (["--summary", "s.h5", "--cell-diameter", "nan"], "--cell-diameter must be a finite"),
    ],
)
def test_extract_refuses_summary_options_that_cannot_work(recording, tmp_path, arguments, message):
    folder, _ = recording
    result = run(
        "extract", folder / "movie.h5", folder / "labels.npy", "-o", tmp_path / "o", *arguments
    )
    assert result.returncode == 2 and message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "o").exists()


def test_nan_pixels_are_named_in_a_note_and_nan_in_the_file(tmp_path):
    movie = np.random.default_rng(2).normal(100, 5, size=(20, 6, 7)).astype(np.float32)
    movie[4, 1, 1] = np.nan
    with h5py.File(tmp_path / "m.h5", "w") as f:
        f["data"] = movie
    result = run("summary", tmp_path / "m.h5", "-o", tmp_path / "s.h5", "--cell-diameter", "inf")
    assert result.returncode == 2 and "--cell-diameter" in result.stderr
    result = run("summary", tmp_path / "m.h5", "-o", tmp_path / "s.h5")
    assert result.returncode == 0 and "1 pixel of" in result.stderr
    images, _ = read_summary_images(tmp_path / "s.h5")
    assert (
        np.isnan(images["mean"][1, 1]) and np.isfinite(np.delete(images["mean"].ravel(), 8)).all()
    )
