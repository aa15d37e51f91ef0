"""The README's main job and the sample data, as a user starts them."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
from PIL import Image


def test_main_job_renders_the_window_to_a_png(tmp_path):
    path = tmp_path / "window.png"
    result = subprocess.run(
        [sys.executable, "-m", "napari_roimasks", "--screenshot", str(path)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    picture = np.asarray(Image.open(path))
    assert picture.shape[0] > 600 and picture.shape[1] > 1000
    # the window shows more than a blank canvas: many distinct colours (ROIs, rings, table)
    assert len(np.unique(picture.reshape(-1, picture.shape[-1]), axis=0)) > 500


def test_main_job_refuses_a_screenshot_in_a_missing_folder(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "napari_roimasks", "--screenshot", str(tmp_path / "nope" / "w.png")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert "--screenshot: the folder" in result.stderr and "does not exist" in result.stderr


def test_sample_recording_opens_with_its_ground_truth(make_napari_viewer):
    viewer = make_napari_viewer()
    layers = {
        layer.name: layer for layer in viewer.open_sample("napari-roimasks", "synthetic_recording")
    }
    assert set(layers) == {"movie", "mean image", "ROIs"}
    movie = layers["movie"]
    assert movie.data.shape == (300, 256, 256) and movie.data.dtype == np.uint16
    assert layers["ROIs"].data.max() == 40
    assert len(movie.metadata["spike_frames"]) == 40
    np.testing.assert_allclose(layers["mean image"].data, movie.data.mean(axis=0), rtol=1e-6)
    left, right, top, bottom = movie.metadata["motion_border"]
    shifts = np.array(movie.metadata["shifts"])
    assert (left, right) == (shifts[:, 1].max(), -shifts[:, 1].min())
    assert (top, bottom) == (shifts[:, 0].max(), -shifts[:, 0].min())
    # the band that motion left empty is zero in the frames it touches
    frame = int(np.argmax(shifts[:, 1]))
    assert not movie.data[frame, :, : int(shifts[frame, 1])].any()
