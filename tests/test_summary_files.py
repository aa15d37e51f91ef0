"""Summary image files: written atomically, read back exactly, bad files refused in one line,
and opened through napari (``viewer.open``) as image layers; the same sums on a Dask cluster."""

from __future__ import annotations

import os
import sys

import h5py
import numpy as np
import pytest

from napari_roimasks.core.distributed_traces import MovieJob, distributed_movie_pass, start_client
from napari_roimasks.core.frame_pass import run_steps
from napari_roimasks.core.summary_images import SUMMARY_IMAGES, compute_summary_images
from napari_roimasks.io.summary_files import (
    SummaryFileError,
    is_summary_file,
    read_summary_images,
    write_summary_images,
)
from napari_roimasks.synthetic import make_recording

needs_display = pytest.mark.skipif(
    sys.platform.startswith("linux") and not os.environ.get("DISPLAY"),
    reason="no display: run under xvfb-run, or bash scripts/test.sh",
)


@pytest.fixture(scope="module")
def movie():
    return make_recording(n_frames=40, shape=(30, 44), n_cells=4, seed=6).movie


def test_a_written_file_reads_back_the_same_images(movie, tmp_path):
    images = compute_summary_images(movie, cell_diameter=6)
    write_summary_images(tmp_path / "s.h5", images, movie="/data/m.h5", dataset="data")
    assert is_summary_file(tmp_path / "s.h5")
    found, attributes = read_summary_images(tmp_path / "s.h5")
    for name in SUMMARY_IMAGES:
        np.testing.assert_array_equal(found[name], getattr(images, name))
    assert attributes == {
        "n_frames": 40,
        "cell_diameter": 6.0,
        "movie": "/data/m.h5",
        "dataset": "data",
    }
    with pytest.raises(FileExistsError):
        write_summary_images(tmp_path / "s.h5", images)


def test_bad_files_are_one_line_naming_them(movie, tmp_path):
    (tmp_path / "text.h5").write_text("not hdf5")
    with pytest.raises(SummaryFileError, match="text.h5: not a readable HDF5 file"):
        read_summary_images(tmp_path / "text.h5")
    with h5py.File(tmp_path / "half.h5", "w") as f:
        f["mean"] = np.zeros((3, 4), np.float32)
    with pytest.raises(SummaryFileError, match="half.h5: .*missing max, std"):
        read_summary_images(tmp_path / "half.h5")
    with h5py.File(tmp_path / "sizes.h5", "w") as f:
        for k, name in enumerate(SUMMARY_IMAGES):
            f[name] = np.zeros((3, 4 + k), np.float32)
    with pytest.raises(SummaryFileError, match="one size"):
        read_summary_images(tmp_path / "sizes.h5")
    assert not is_summary_file(tmp_path / "text.h5") and not is_summary_file(tmp_path / "half.h5")


@pytest.mark.parametrize("dtype", [np.uint16, np.float32])
def test_a_dask_cluster_gives_the_single_machine_images(movie, tmp_path, dtype):
    frames = movie.astype(dtype)
    with h5py.File(tmp_path / "m.h5", "w") as f:
        f.create_dataset("data", data=frames, chunks=(3, 30, 44))
    client = start_client("local", 2, quiet=True)
    try:
        job = MovieJob(str(tmp_path / "m.h5"), "data", [], summary=True)
        steps = distributed_movie_pass(client, [job, job], max_block_bytes=6 * 30 * 44 * 4)
        results = run_steps(steps)
    finally:
        client.close()
        client.cluster.close()
    expected = compute_summary_images(frames)
    for result in results:
        for name in SUMMARY_IMAGES:
            got, want = getattr(result.summary, name), getattr(expected, name)
            if np.dtype(dtype).kind == "u":  # exact sums: the same numbers
                np.testing.assert_array_equal(got, want, err_msg=name)
            else:
                np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6, err_msg=name)


@pytest.mark.gui
@needs_display
def test_napari_opens_a_summary_file_as_image_layers(make_napari_viewer, movie, tmp_path):
    images = compute_summary_images(movie)
    write_summary_images(tmp_path / "s.h5", images, movie=tmp_path / "session1.h5")
    viewer = make_napari_viewer()
    layers = viewer.open(str(tmp_path / "s.h5"), plugin="napari-roimasks")
    assert [layer.name for layer in layers] == [
        "session1 mean",
        "session1 max",
        "session1 std",
        "session1 correlation",
        "session1 enhanced mean",
    ]
    for layer, name in zip(layers, SUMMARY_IMAGES, strict=True):
        np.testing.assert_array_equal(layer.data, getattr(images, name))
        assert layer.visible == (name == "correlation")
        low, high = layer.contrast_limits
        assert low < high
