"""calculate_traces reads any frame source, one block of frames at a time, each once."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from napari_roimasks import roi_masks

H, W, T = 24, 30, 23


@pytest.fixture
def movie(rng):
    return rng.integers(0, 60000, size=(T, H, W), dtype=np.uint16)


@pytest.fixture
def masks():
    rr, cc = np.ogrid[:H, :W]
    planes = [(rr - 8) ** 2 + (cc - 9) ** 2 <= 9, (rr - 15) ** 2 + (cc - 20) ** 2 <= 16]
    rois = [
        roi_masks.create_roi_mask(W, H, [0, 0, 0, 0], roi_mask=p, label=f"roi{i}")
        for i, p in enumerate(planes)
    ]
    combined = roi_masks.create_roi_mask_array(rois).max(axis=0)
    return rois + [roi_masks.create_neuropil_mask(r, [0, 0, 0, 0], combined) for r in rois]


def expected_traces(movie, masks):
    return np.array(
        [movie[:, m.get_mask_plane() > 0].astype(np.float64).mean(axis=1) for m in masks]
    )


class CountingFrames:
    """A frame source that records every read, like a file would see them."""

    def __init__(self, movie):
        self.movie = movie
        self.shape = movie.shape
        self.dtype = movie.dtype
        self.reads = []

    def __getitem__(self, key):
        self.reads.append((key.start, key.stop))
        return self.movie[key]


def test_numpy_movie(movie, masks):
    traces, _ = roi_masks.calculate_traces(movie, masks, block_size=5)
    np.testing.assert_array_equal(traces, expected_traces(movie, masks))


def test_h5py_dataset(tmp_path, movie, masks):
    with h5py.File(tmp_path / "movie.h5", "w") as f:
        f.create_dataset("data", data=movie, chunks=(1, H, W))
    with h5py.File(tmp_path / "movie.h5", "r") as f:
        traces, _ = roi_masks.calculate_traces(f["data"], masks, block_size=4)
    np.testing.assert_array_equal(traces, expected_traces(movie, masks))


def test_memmap(tmp_path, movie, masks):
    mapped = np.lib.format.open_memmap(
        tmp_path / "movie.npy", mode="w+", dtype=movie.dtype, shape=movie.shape
    )
    mapped[:] = movie
    mapped.flush()
    traces, _ = roi_masks.calculate_traces(
        np.load(tmp_path / "movie.npy", mmap_mode="r"), masks, block_size=7
    )
    np.testing.assert_array_equal(traces, expected_traces(movie, masks))


def test_dask_array(movie, masks):
    da = pytest.importorskip("dask.array")
    traces, _ = roi_masks.calculate_traces(
        da.from_array(movie, chunks=(3, H, W)), masks, block_size=6
    )
    np.testing.assert_array_equal(traces, expected_traces(movie, masks))


def test_zarr_array(movie, masks):
    zarr = pytest.importorskip("zarr")
    frames = zarr.zeros(movie.shape, chunks=(5, H, W), dtype=movie.dtype)
    frames[:] = movie
    traces, _ = roi_masks.calculate_traces(frames, masks, block_size=8)
    np.testing.assert_array_equal(traces, expected_traces(movie, masks))


@pytest.mark.parametrize("block_size", [1, 4, 23, 1000])
def test_every_frame_is_read_once_in_blocks(movie, masks, block_size):
    frames = CountingFrames(movie)
    traces, _ = roi_masks.calculate_traces(frames, masks, block_size=block_size)
    starts = list(range(0, T, block_size))
    assert frames.reads == [(s, min(s + block_size, T)) for s in starts]
    np.testing.assert_array_equal(traces, expected_traces(movie, masks))


@pytest.mark.parametrize("dtype", [np.uint8, np.int16, np.uint32, np.int64, np.float64])
def test_integer_movies_are_exact_and_floats_close(rng, masks, dtype):
    info = np.iinfo(dtype) if np.dtype(dtype).kind in "iu" else None
    high = min(info.max, 2**40) if info else 1e6
    low = max(info.min, -(2**40)) if info else -1e6
    movie = rng.uniform(low, high, size=(T, H, W)).astype(dtype)
    traces, _ = roi_masks.calculate_traces(movie, masks)
    # numpy's own integer sum, divided once, is AllenSDK's answer
    expected = np.array(
        [movie[:, m.get_mask_plane() > 0].sum(axis=1) / m.mask.sum() for m in masks]
    )
    if info:
        np.testing.assert_array_equal(traces, expected)
    else:
        np.testing.assert_allclose(traces, expected, rtol=1e-12)


def test_nan_pixels_outside_a_mask_do_not_spoil_its_trace(rng, masks):
    movie = rng.random((T, H, W))
    outside = np.ones((H, W), bool)
    for m in masks:
        outside &= m.get_mask_plane() == 0
    movie[:, outside] = np.nan
    traces, _ = roi_masks.calculate_traces(movie, masks)
    assert np.isfinite(traces).all()
