"""Pixel traces and an ROI's correlation map: exact against numpy, reading only the window."""

from __future__ import annotations

import dask.array as da
import h5py
import numpy as np
import pytest

from napari_roimasks.core import ExtractionCancelled
from napari_roimasks.core.pixel_traces import (
    Window,
    correlation_window,
    pixel_trace,
    trace_correlation,
    trace_correlation_steps,
)


class PixelCountingFrames:
    """A frame source that counts how often each pixel of each frame is read."""

    def __init__(self, movie):
        self.movie, self.shape, self.dtype = movie, movie.shape, movie.dtype
        self.reads = np.zeros(movie.shape, int)

    def __getitem__(self, key):
        self.reads[key] += 1
        return self.movie[key]


def corrcoef_map(movie, trace, window):
    """np.corrcoef of the trace with each pixel of the window (0 for constant pixels)."""
    top, left, bottom, right = window
    out = np.zeros((bottom - top, right - left))
    for r in range(top, bottom):
        for c in range(left, right):
            pixel = movie[:, r, c].astype(np.float64)
            if pixel.std() > 0:
                out[r - top, c - left] = np.corrcoef(trace, pixel)[0, 1]
    return out


def cell_movie(rng, dtype, shape=(120, 24, 30)):
    """Noise, a cell whose pixels follow a trace, and a constant column."""
    n, rows, columns = shape
    trace = np.cumsum(rng.normal(size=n)) + 50
    movie = rng.normal(300, 20, shape) + np.zeros(shape)
    movie[:, 8:13, 10:16] += 8 * trace[:, None, None]
    movie[:, :, 20] = 123  # never changes: correlation 0
    return movie.astype(dtype), trace


@pytest.mark.parametrize("dtype", [np.uint16, np.int32, np.float32, np.float64])
def test_correlation_map_equals_numpy_corrcoef(rng, dtype):
    movie, trace = cell_movie(rng, dtype)
    window = Window(4, 6, 20, 25)
    image = trace_correlation(movie, trace, window, block_size=17)
    assert image.dtype == np.float32 and image.shape == (16, 19)
    np.testing.assert_allclose(image, corrcoef_map(movie, trace, window), atol=1e-6)
    assert (image[:, 20 - 6] == 0).all()  # the constant column
    assert image[4:9, 4:10].min() > 0.8 > image[:4].max()  # the cell stands out


def test_integer_movies_give_the_same_map_whatever_the_block_size(rng):
    movie, trace = cell_movie(rng, np.uint16)
    window = Window(0, 0, 24, 30)
    maps = [trace_correlation(movie, trace, window, block_size=b) for b in (1, 7, 1000)]
    np.testing.assert_allclose(maps[0], maps[1], atol=1e-7)
    np.testing.assert_allclose(maps[0], maps[2], atol=1e-7)


def test_a_constant_trace_correlates_zero_everywhere(rng):
    movie, _ = cell_movie(rng, np.uint16)
    image = trace_correlation(movie, np.full(len(movie), 5.0), Window(0, 0, 5, 5))
    assert (image == 0).all()


def test_only_the_windows_pixels_are_read_each_once(rng):
    movie, trace = cell_movie(rng, np.uint16)
    frames = PixelCountingFrames(movie)
    window = Window(3, 5, 11, 17)
    trace_correlation(frames, trace, window, block_size=9)
    inside = np.zeros(movie.shape, bool)
    inside[:, 3:11, 5:17] = True
    assert (frames.reads[inside] == 1).all() and (frames.reads[~inside] == 0).all()


def test_an_hdf5_movie_reads_only_the_chunks_under_the_window(rng, tmp_path):
    movie, trace = cell_movie(rng, np.uint16, shape=(60, 64, 64))
    with h5py.File(tmp_path / "movie.h5", "w") as f:
        f.create_dataset("data", data=movie, chunks=(10, 16, 16))
    window = Window(16, 16, 32, 32)  # exactly one chunk column
    with h5py.File(tmp_path / "movie.h5", "r") as f:
        dataset = f["data"]
        image = trace_correlation(dataset, trace, window)
    np.testing.assert_allclose(image, corrcoef_map(movie, trace, window), atol=1e-6)
    read = []

    def chunk(block, block_info=None):
        read.append(tuple(tuple(r) for r in block_info[0]["array-location"][1:]))
        return block

    lazy = da.from_array(movie, chunks=(10, 16, 16)).map_blocks(chunk, dtype=movie.dtype)
    trace_correlation(lazy, trace, window)
    assert set(read) == {((16, 32), (16, 32))}  # one of the 16 chunks of a frame


def test_cancel_and_progress(rng):
    movie, trace = cell_movie(rng, np.uint16)
    seen = []
    trace_correlation(
        movie, trace, Window(0, 0, 4, 4), block_size=40, progress=lambda *s: seen.append(s)
    )
    assert seen == [(40, 120), (80, 120), (120, 120)]
    with pytest.raises(ExtractionCancelled):
        trace_correlation(movie, trace, Window(0, 0, 4, 4), block_size=40, should_stop=lambda: True)
    steps = trace_correlation_steps(movie, trace, Window(0, 0, 4, 4), block_size=40)
    assert next(steps) == (40, 120)
    steps.close()  # stops: no error, nothing more read


@pytest.mark.parametrize(
    ("trace", "window", "message"),
    [
        (np.zeros(5), Window(0, 0, 2, 2), "the trace has"),
        (np.r_[np.nan, np.zeros(119)], Window(0, 0, 2, 2), "NaN"),
        (np.zeros(120), Window(0, 0, 30, 2), "not inside"),
        (np.zeros(120), Window(3, 3, 3, 5), "not inside"),
    ],
)
def test_bad_input_is_refused_before_reading(rng, trace, window, message):
    movie, _ = cell_movie(rng, np.uint16)
    frames = PixelCountingFrames(movie)
    with pytest.raises(ValueError, match=message):
        trace_correlation(frames, trace, window)
    assert frames.reads.sum() == 0


def test_window_is_three_times_the_box_centred_and_clipped():
    assert correlation_window((10, 20, 14, 26), (100, 100)) == Window(6, 14, 18, 32)
    assert correlation_window((0, 0, 4, 6), (100, 100)) == Window(0, 0, 8, 12)  # clipped
    assert correlation_window((90, 95, 100, 100), (100, 100)) == Window(80, 90, 100, 100)
    assert correlation_window((10, 20, 14, 26), (100, 100), scale=1) == Window(10, 20, 14, 26)
    with pytest.raises(ValueError, match="not inside"):
        correlation_window((10, 20, 14, 26), (12, 100))


def test_pixel_trace_is_the_mean_of_its_neighbourhood_and_reads_only_it(rng):
    movie = rng.integers(0, 4000, (37, 9, 11)).astype(np.uint16)
    frames = PixelCountingFrames(movie)
    trace = pixel_trace(frames, 4, 6)
    np.testing.assert_array_equal(trace, movie[:, 3:6, 5:8].reshape(37, -1).mean(axis=1))
    inside = np.zeros(movie.shape, bool)
    inside[:, 3:6, 5:8] = True
    assert (frames.reads[inside] == 1).all() and (frames.reads[~inside] == 0).all()
    np.testing.assert_array_equal(pixel_trace(movie, 4, 6, neighbourhood=0), movie[:, 4, 6])
    corner = pixel_trace(movie, 0, 10)  # the 2x2 of the 3x3 that lies inside the frame
    np.testing.assert_array_equal(corner, movie[:, 0:2, 9:11].reshape(37, -1).mean(axis=1))
    with pytest.raises(ValueError, match="outside the 9x11 frame"):
        pixel_trace(movie, 9, 0)
