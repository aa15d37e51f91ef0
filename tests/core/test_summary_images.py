"""Summary images: each equals an in-memory numpy reference of its definition, the real
peers' outputs (CaImAn, suite2p), and does not depend on how the movie is read."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy import ndimage as ndi
from scipy.signal import medfilt2d

from napari_roimasks.core import ExtractionCancelled
from napari_roimasks.core._median_filter import median_filter
from napari_roimasks.core.summary_images import (
    SUMMARY_IMAGES,
    SummarySums,
    compute_summary_images,
    enhanced_mean_image,
)
from napari_roimasks.synthetic import make_recording

REFERENCE = Path(__file__).parents[1] / "data" / "summary_reference"


def reference_correlation(movie: np.ndarray) -> np.ndarray:
    """The definition, pair by pair: each pixel's mean Pearson correlation with its existing
    8 neighbours; a pixel that never changes correlates 0."""
    y = movie.astype(np.float64)
    y = y - y.mean(axis=0)
    spread = y.std(axis=0)
    spread[spread == 0] = np.inf
    w = y / spread
    _, rows, columns = movie.shape
    total, count = np.zeros((rows, columns)), np.zeros((rows, columns))
    for dr in (-1, 0, 1):
        for dc in (-1, 0, 1):
            if (dr, dc) == (0, 0):
                continue
            for r in range(rows):
                for c in range(columns):
                    if 0 <= r + dr < rows and 0 <= c + dc < columns:
                        total[r, c] += np.mean(w[:, r, c] * w[:, r + dr, c + dc])
                        count[r, c] += 1
    return np.divide(total, count, out=np.zeros_like(total), where=count > 0)


def check_against_numpy(movie: np.ndarray, images) -> None:
    as64 = movie.astype(np.float64)
    np.testing.assert_allclose(images.mean, as64.mean(axis=0), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(images.std, as64.std(axis=0), rtol=1e-6, atol=1e-5)
    np.testing.assert_array_equal(images.max, movie.max(axis=0).astype(np.float32))
    np.testing.assert_allclose(images.correlation, reference_correlation(movie), atol=1e-6)
    for name in SUMMARY_IMAGES:
        image = getattr(images, name)
        assert image.dtype == np.float32 and image.shape == movie.shape[1:], name
        assert np.isfinite(image).all(), name


def noisy_movie(rng, shape, dtype):
    movie = rng.normal(500, 40, size=shape)
    movie += rng.normal(0, 30, size=(shape[0], 1, 1))  # a shared signal: neighbours correlate
    if np.dtype(dtype).kind == "f":
        return movie.astype(dtype)
    info = np.iinfo(dtype)
    return np.clip(np.round(movie), info.min, info.max).astype(dtype)


@pytest.mark.parametrize("dtype", [np.uint16, np.int16, np.uint8, np.int32, np.float32, np.float64])
def test_every_image_equals_its_numpy_definition(rng, dtype):
    movie = noisy_movie(rng, (60, 9, 11), dtype)
    movie[:, 4, 5] = movie[0, 4, 5]  # a pixel that never changes: correlation 0, not NaN
    check_against_numpy(movie, compute_summary_images(movie, block_size=7))


@pytest.mark.parametrize(
    "shape", [(1, 6, 5), (2, 6, 5), (40, 1, 9), (40, 9, 1), (40, 1, 1), (30, 2, 2)]
)
def test_one_and_two_frame_movies_and_thin_frames(rng, shape):
    movie = noisy_movie(rng, shape, np.uint16)
    check_against_numpy(movie, compute_summary_images(movie, block_size=3))


def test_a_constant_movie_has_zero_std_and_zero_correlation():
    movie = np.full((20, 5, 6), 1234, dtype=np.uint16)
    images = compute_summary_images(movie)
    assert (images.std == 0).all() and (images.correlation == 0).all()
    assert (images.mean == 1234).all() and (images.max == 1234).all()


def test_integer_movies_give_identical_images_whatever_the_blocks_and_threads(rng):
    movie = noisy_movie(rng, (97, 13, 17), np.uint16)
    first = compute_summary_images(movie, block_size=97, threads=1)
    for block_size, threads in [(1, 1), (5, 3), (32, 2), (96, 4)]:
        again = compute_summary_images(movie, block_size=block_size, threads=threads)
        for name in SUMMARY_IMAGES:
            np.testing.assert_array_equal(getattr(again, name), getattr(first, name), err_msg=name)


def test_sums_of_parts_combine_exactly_into_the_whole(rng):
    movie = noisy_movie(rng, (50, 8, 9), np.int16)
    whole = SummarySums(movie.shape[1:], movie.dtype).add(movie)
    parts = [SummarySums(movie.shape[1:], movie.dtype, shift=movie[0]) for _ in range(3)]
    for part, frames in zip(parts, (movie[30:], movie[:12], movie[12:30]), strict=True):
        part.add(frames)
    combined = SummarySums(movie.shape[1:], movie.dtype)
    for part in parts:
        combined.combine(part)
    np.testing.assert_array_equal(combined.sums(), whole.sums())
    assert combined.n_frames == 50
    for name in SUMMARY_IMAGES:
        np.testing.assert_array_equal(
            getattr(combined.result(), name), getattr(whole.result(), name)
        )


def test_sums_taken_against_different_first_frames_are_refused(rng):
    movie = noisy_movie(rng, (10, 4, 4), np.uint16)
    a = SummarySums((4, 4), movie.dtype, shift=movie[0]).add(movie[:5])
    b = SummarySums((4, 4), movie.dtype, shift=movie[1]).add(movie[5:])
    with pytest.raises(ValueError, match="shift"):
        a.combine(b)


class CountingFrames:
    """A frame source that counts how often each frame is read."""

    def __init__(self, movie):
        self.movie, self.shape, self.dtype = movie, movie.shape, movie.dtype
        self.reads = np.zeros(len(movie), int)

    def __getitem__(self, key):
        self.reads[key] += 1
        return self.movie[key]


def test_each_frame_is_read_exactly_once(rng):
    movie = noisy_movie(rng, (53, 6, 7), np.uint16)
    frames = CountingFrames(movie)
    check_against_numpy(movie, compute_summary_images(frames, block_size=8))
    assert (frames.reads == 1).all()


def test_progress_after_every_block_and_cancel_returns_nothing(rng):
    movie = noisy_movie(rng, (40, 5, 5), np.uint16)
    seen = []
    compute_summary_images(movie, block_size=10, progress=lambda d, t: seen.append((d, t)))
    assert seen == [(10, 40), (20, 40), (30, 40), (40, 40)]
    with pytest.raises(ExtractionCancelled, match="stopped at frame 10 of 40"):
        compute_summary_images(movie, block_size=10, should_stop=lambda: True)


def test_bad_movies_are_refused_before_any_frame_is_read():
    with pytest.raises(ValueError, match="no frames"):
        compute_summary_images(np.zeros((0, 4, 4), np.uint16))
    with pytest.raises(TypeError, match="numbers"):
        compute_summary_images(np.zeros((3, 4, 4), np.complex64))
    with pytest.raises(ValueError, match="3D"):
        compute_summary_images(np.zeros((4, 4), np.uint16))
    with pytest.raises(ValueError, match="cell_diameter"):
        compute_summary_images(np.zeros((3, 4, 4)), cell_diameter=-1)


# -- the real peers' outputs (tests/data/summary_reference, see its README) ------------------------
def test_correlation_equals_caimans_local_correlations_fft():
    movie = np.load(REFERENCE / "movie.npy")
    caiman = np.load(REFERENCE / "caiman_local_correlations_fft.npy")  # float32 arithmetic
    ours = compute_summary_images(movie, block_size=16).correlation
    np.testing.assert_allclose(ours, caiman, atol=2e-6)
    assert ours[5, 7] == 0 and ours[36, 28] == 0  # the constant pixels


def test_caimans_eight_neighbour_local_correlations_is_off_where_its_bug_says():
    # CaImAn v1.12.1 adds two diagonal pairs to the wrong pixel (README "Differences"): our
    # image agrees with it in column 0, where the bug does not reach, and nowhere else.
    movie = np.load(REFERENCE / "movie.npy")
    caiman = np.load(REFERENCE / "caiman_local_correlations.npy")
    ours = compute_summary_images(movie).correlation
    finite = np.isfinite(caiman)
    np.testing.assert_allclose(ours[:, 0][finite[:, 0]], caiman[:, 0][finite[:, 0]], atol=1e-6)
    assert np.abs(ours - caiman)[:, 1:][finite[:, 1:]].max() > 0.01


@pytest.mark.parametrize("diameter", [5, 12])
def test_enhanced_mean_equals_suite2ps(diameter):
    mean = np.load(REFERENCE / "mean_image.npy")
    suite2p = np.load(REFERENCE / f"suite2p0146_meanImgE_d{diameter}.npy")
    np.testing.assert_allclose(
        enhanced_mean_image(mean, cell_diameter=diameter), suite2p, atol=1e-6
    )


def test_enhanced_mean_of_a_movie_follows_its_mean():
    movie = np.load(REFERENCE / "movie.npy")
    images = compute_summary_images(movie, cell_diameter=5)
    expected = np.load(REFERENCE / "suite2p0146_meanImgE_d5.npy")
    np.testing.assert_allclose(images.enhanced_mean, expected, atol=1e-5)


@pytest.mark.parametrize("size", [1, 3, 9, 21, 49])
def test_the_median_filter_equals_scipys_medfilt2d(rng, size):
    for shape in [(37, 29), (1, 12), (12, 1), (64, 50)]:
        signed = rng.normal(size=shape).astype(np.float32)
        ties = np.round(signed * 2).astype(np.float32)
        positive = np.abs(signed) * 100
        for image in (signed, ties, positive):
            np.testing.assert_array_equal(
                median_filter(image, size), medfilt2d(image, [size, size])
            )


def test_correlation_stands_out_in_every_active_cell():
    # a cell's pixels (those whose 8 neighbours are the cell's too) correlate more than the
    # neuropil around it (2 to 6 pixels from any cell), in every cell the motion border leaves
    # usable with its surroundings: near the border, shifted-in empty pixels decorrelate
    recording = make_recording(n_frames=300, seed=3)
    correlation = compute_summary_images(recording.movie).correlation
    labels = recording.roi_labels
    area = recording.motion_border.usable_area(*labels.shape)
    usable = np.zeros(labels.shape, bool)
    usable[area.first_row + 7 : area.last_row - 6, area.first_column + 7 : area.last_column - 6] = (
        True
    )
    near_no_cell = ~ndi.binary_dilation(labels > 0, iterations=2)
    checked = 0
    for k in range(1, labels.max() + 1):
        cell = labels == k
        if not usable[cell].all():
            continue
        interior = ndi.binary_erosion(cell)
        around = ndi.binary_dilation(cell, iterations=6) & near_no_cell
        assert np.median(correlation[interior]) > np.median(correlation[around]), f"cell {k}"
        checked += 1
    assert checked >= 30


# -- movies that strain the sums -----------------------------------------------------------------
@pytest.mark.parametrize(
    "dtype, low, high",
    [
        (np.uint32, 0, 2**32 - 1),
        (np.int32, -(2**31), 2**31 - 1),
        (np.int64, -(2**40), 2**40),
        (np.uint64, 2**63, 2**64 - 1),
    ],
)
def test_wide_integers_far_from_the_first_frame_do_not_overflow(rng, dtype, low, high):
    movie = rng.integers(low, high, size=(300, 4, 5), dtype=dtype, endpoint=True)
    images = compute_summary_images(movie, block_size=37)
    as64 = movie.astype(np.float64)
    np.testing.assert_allclose(images.mean, as64.mean(axis=0), rtol=1e-6)
    np.testing.assert_allclose(images.std, as64.std(axis=0), rtol=1e-5)
    np.testing.assert_allclose(images.correlation, reference_correlation(movie), atol=1e-5)
    np.testing.assert_array_equal(images.max, movie.max(axis=0).astype(np.float32))


def test_wide_integers_near_the_first_frame_stay_exact(rng):
    movie = (rng.integers(0, 5000, size=(90, 6, 7)) + 3_000_000_000).astype(np.uint32)
    sums = SummarySums((6, 7), movie.dtype).add(movie)
    assert sums.exact
    first = compute_summary_images(movie, block_size=90)
    for block_size, threads in [(1, 1), (13, 3)]:
        again = compute_summary_images(movie, block_size=block_size, threads=threads)
        for name in SUMMARY_IMAGES:
            np.testing.assert_array_equal(getattr(again, name), getattr(first, name))
    check_against_numpy(movie, first)


def test_a_pixel_holding_nan_or_inf_is_nan_in_every_image_and_counted(rng):
    movie = noisy_movie(rng, (30, 7, 8), np.float32)
    movie[12, 2, 3] = np.nan
    movie[0, 5, 6] = np.inf  # in the first frame, the shift
    images = compute_summary_images(movie, block_size=8)
    assert images.unusable_pixels == 2
    clean = movie.copy()
    clean[:, 2, 3] = clean[:, 5, 6] = 100  # constant: adds 0 to its neighbours' correlation
    expected = compute_summary_images(clean, block_size=8)
    for name in SUMMARY_IMAGES:
        image = getattr(images, name)
        assert np.isnan(image[2, 3]) and np.isnan(image[5, 6]), name
    for name in ("mean", "std", "max", "correlation"):
        finite = np.isfinite(getattr(images, name))
        np.testing.assert_allclose(
            getattr(images, name)[finite], getattr(expected, name)[finite], rtol=1e-6, atol=1e-6
        )


def test_combining_leaves_the_parts_as_they_were(rng):
    movie = noisy_movie(rng, (20, 4, 4), np.uint16)
    a = SummarySums((4, 4), movie.dtype, shift=movie[0]).add(movie[:10])
    b = SummarySums((4, 4), movie.dtype, shift=movie[0]).add(movie[10:])
    before = a.peak.copy()
    SummarySums((4, 4), movie.dtype).combine(a).combine(b)
    np.testing.assert_array_equal(a.peak, before)


@pytest.mark.parametrize("diameter", [float("nan"), float("inf"), -1, "twelve"])
def test_a_cell_diameter_that_is_no_size_is_refused_before_any_frame_is_read(diameter):
    frames = CountingFrames(np.zeros((5, 4, 4), np.uint16))
    with pytest.raises(ValueError, match="cell_diameter must be a finite number"):
        compute_summary_images(frames, cell_diameter=diameter)
    assert frames.reads.sum() == 0
