"""Where AllenSDK crashes or answers wrongly, and what this package does instead.

Each test here matches one line of the README's "Differences from AllenSDK".
"""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from napari_roimasks import roi_masks

BORDER0 = [0, 0, 0, 0]


def disc(h, w, row, col, radius):
    rr, cc = np.ogrid[:h, :w]
    return (rr - row) ** 2 + (cc - col) ** 2 <= radius**2


def write_movie(path, movie, dataset="data"):
    with h5py.File(path, "w") as f:
        f.create_dataset(dataset, data=movie)
    return path


def test_uint8_roi_mask_gives_the_same_traces_as_a_bool_mask(rng):
    # AllenSDK keeps a uint8 view and then indexes frames by 0/1 positions.
    plane = disc(32, 40, 15, 20, 5)
    movie = rng.integers(0, 4000, size=(12, 32, 40), dtype=np.uint16)
    as_bool = roi_masks.create_roi_mask(40, 32, BORDER0, roi_mask=plane, label="a")
    as_uint8 = roi_masks.create_roi_mask(
        40, 32, BORDER0, roi_mask=plane.astype(np.uint8), label="a"
    )
    assert as_uint8.mask.dtype == bool
    traces_bool, _ = roi_masks.calculate_traces(movie, [as_bool])
    traces_uint8, _ = roi_masks.calculate_traces(movie, [as_uint8])
    np.testing.assert_array_equal(traces_uint8, traces_bool)
    np.testing.assert_array_equal(traces_bool[0], movie[:, plane].mean(axis=1))


def test_mask_is_a_copy_not_a_view_of_the_callers_array():
    plane = disc(20, 20, 10, 10, 3).astype(np.uint8)
    roi = roi_masks.create_roi_mask(20, 20, BORDER0, roi_mask=plane)
    plane[:] = 0
    assert roi.mask.sum() == disc(20, 20, 10, 10, 3).sum()


@pytest.mark.parametrize(
    ("pix_list", "message"),
    [
        (np.array([[1, 2, 3]]), r"\(n, 2\)"),
        (np.array([1, 2]), r"\(n, 2\)"),
        (np.array([[-1, 2]]), r"outside the 10x8 image"),
        (np.array([[2, -1]]), r"outside the 10x8 image"),
        (np.array([[10, 0]]), r"x=10, y=0"),
        (np.array([[0, 8]]), r"y in \[0, 7\]"),
        (np.array([[0.5, 2.0]]), r"whole-number"),
    ],
)
def test_bad_pix_list_is_refused_instead_of_wrapping(pix_list, message):
    with pytest.raises(ValueError, match=message):
        roi_masks.create_roi_mask(10, 8, BORDER0, pix_list=pix_list)


def test_pix_list_may_be_a_plain_list_of_pairs():
    roi = roi_masks.create_roi_mask(10, 8, BORDER0, pix_list=[[2, 3], [3, 3], [2, 4]])
    assert (roi.x, roi.y, roi.width, roi.height) == (2, 3, 2, 2)
    np.testing.assert_array_equal(roi.mask, [[True, True], [True, False]])


@pytest.mark.parametrize(
    "border",
    [
        [30, 0, 0, 0],  # left band wider than the image
        [0, 0, 0, 25],  # bottom band taller than the image
        [12.5, 12.5, 0, 0],  # together the bands leave no whole column
    ],
)
def test_border_wider_than_the_image_leaves_an_empty_neuropil(border):
    # AllenSDK puts a one-pixel column of neuropil inside the border band here.
    h, w = 20, 25
    roi = roi_masks.create_roi_mask(w, h, border, roi_mask=disc(h, w, 10, 12, 3), label="r")
    neuropil = roi_masks.create_neuropil_mask(roi, border, roi.get_mask_plane(), label="n")
    assert roi.overlaps_motion_border
    assert "zero_pixels" in neuropil.flags and neuropil.mask is None
    assert not neuropil.get_mask_plane().any()
    assert roi_masks.validate_mask(neuropil) == [
        {"roi_id": "n", "exclusion_label_name": "empty_neuropil_mask"}
    ]


def test_neuropil_never_reaches_into_the_border():
    h, w = 40, 40
    border = [5, 3, 4.5, 2]
    roi = roi_masks.create_roi_mask(w, h, border, roi_mask=disc(h, w, 8, 9, 2))
    neuropil = roi_masks.create_neuropil_mask(roi, border, roi.get_mask_plane())
    rows, columns = np.nonzero(neuropil.get_mask_plane())
    assert columns.min() >= 5 and columns.max() <= 40 - 3 - 1
    assert rows.min() >= 5 and rows.max() <= 40 - 2 - 1


def test_empty_roi_list_gives_empty_traces(tmp_path, rng):
    movie = rng.integers(0, 100, size=(7, 10, 12), dtype=np.uint16)
    traces, exclusions = roi_masks.calculate_traces(movie, [])
    assert traces.shape == (0, 7) and exclusions == []
    path = write_movie(tmp_path / "movie.h5", movie)
    roi_traces, neuropil_traces, exclusions = roi_masks.calculate_roi_and_neuropil_traces(
        path, [], BORDER0
    )
    assert roi_traces.shape == neuropil_traces.shape == (0, 7)
    assert exclusions == []


def test_label_none_works_everywhere(tmp_path, rng):
    h, w = 30, 30
    movie = rng.integers(0, 1000, size=(5, h, w), dtype=np.uint16)
    rois = [
        roi_masks.create_roi_mask(w, h, BORDER0, roi_mask=disc(h, w, 15, 15, 3)),
        roi_masks.create_roi_mask(w, h, [0, 0, 0, 0], roi_mask=np.zeros((h, w), bool)),
    ]
    neuropil = roi_masks.create_neuropil_mask(
        rois[0], BORDER0, roi_masks.create_roi_mask_array(rois).max(0)
    )
    assert neuropil.label is None and "None" in str(neuropil)
    path = write_movie(tmp_path / "movie.h5", movie)
    roi_traces, neuropil_traces, exclusions = roi_masks.calculate_roi_and_neuropil_traces(
        path, rois, BORDER0
    )
    assert np.isfinite(roi_traces[0]).all() and np.isnan(roi_traces[1]).all()
    assert np.isfinite(neuropil_traces[0]).all() and np.isnan(neuropil_traces[1]).all()
    assert exclusions == [
        {"roi_id": None, "exclusion_label_name": "empty_roi_mask"},
        {"roi_id": None, "exclusion_label_name": "empty_neuropil_mask"},
    ]


@pytest.mark.parametrize(
    ("border", "error", "message"),
    [
        ([1, 2, 3], ValueError, "exactly 4 numbers"),
        ([1, 2, 3, 4, 5], ValueError, "exactly 4 numbers"),
        ([0, -1, 0, 0], ValueError, "'right' must be a finite number >= 0"),
        ([0, 0, float("nan"), 0], ValueError, "'top' must be a finite number >= 0"),
        ([0, 0, 0, float("inf")], ValueError, "'bottom' must be a finite number >= 0"),
        ("0000", TypeError, "sequence of 4 numbers"),
        (None, TypeError, "sequence of 4 numbers"),
        (["a", "b", "c", "d"], TypeError, "must hold numbers"),
    ],
)
def test_bad_border_names_the_border(border, error, message):
    with pytest.raises(error, match=message):
        roi_masks.create_roi_mask(10, 10, border, roi_mask=disc(10, 10, 5, 5, 2))


def test_mask_of_the_wrong_shape_is_refused():
    with pytest.raises(
        ValueError, match=r"image's shape \(image_h=10, image_w=12\), got shape \(12, 10\)"
    ):
        roi_masks.create_roi_mask(12, 10, BORDER0, roi_mask=np.ones((12, 10), bool))
    roi = roi_masks.create_roi_mask(12, 10, BORDER0, roi_mask=disc(10, 12, 5, 5, 2))
    with pytest.raises(ValueError, match="combined_binary_mask must have the image's shape"):
        roi_masks.create_neuropil_mask(roi, BORDER0, np.zeros((10, 13)))


def test_roi_without_pixels_argument_is_a_type_error():
    with pytest.raises(TypeError, match="pass pix_list or roi_mask"):
        roi_masks.create_roi_mask(10, 10, BORDER0)


@pytest.mark.parametrize("size", [0, -3, 2.5, "10", True])
def test_bad_image_size_is_refused(size):
    with pytest.raises(ValueError, match="image_w must be a whole number of pixels"):
        roi_masks.RoiMask(size, 10, "r", 0)


def test_movie_whose_frames_do_not_match_the_masks_is_refused(rng):
    roi = roi_masks.create_roi_mask(12, 10, BORDER0, roi_mask=disc(10, 12, 5, 5, 2), label="cell 1")
    with pytest.raises(
        ValueError,
        match=r"mask 0 \('cell 1'\) was made for a 12x10 image but the movie's frames are 10x12",
    ):
        roi_masks.calculate_traces(rng.random((4, 12, 10)), [roi])
    with pytest.raises(
        ValueError, match=r"must be 3D \(frames, rows, columns\), got shape \(10, 12\)"
    ):
        roi_masks.calculate_traces(rng.random((10, 12)), [roi])


def test_frame_source_without_shape_and_bad_block_size_are_refused(rng):
    roi = roi_masks.create_roi_mask(12, 10, BORDER0, roi_mask=disc(10, 12, 5, 5, 2))
    with pytest.raises(TypeError, match="array-like of shape \\(frames, rows, columns\\)"):
        roi_masks.calculate_traces([[[1]]], [roi])
    for block_size in (0, -1, 2.5):
        with pytest.raises(ValueError, match="block_size must be a whole number of frames >= 1"):
            roi_masks.calculate_traces(rng.random((3, 10, 12)), [roi], block_size=block_size)


def test_file_without_the_movie_dataset_names_the_file(tmp_path, rng):
    path = write_movie(tmp_path / "motion_corrected.h5", rng.random((3, 8, 8)), dataset="frames")
    roi = roi_masks.create_roi_mask(8, 8, BORDER0, roi_mask=disc(8, 8, 4, 4, 1))
    with pytest.raises(
        KeyError, match=r"motion_corrected.h5 has no dataset 'data'.*it holds: frames"
    ):
        roi_masks.calculate_roi_and_neuropil_traces(path, [roi], BORDER0)


def test_rois_for_another_image_size_than_the_movie_are_refused(tmp_path, rng):
    path = write_movie(tmp_path / "movie.h5", rng.random((3, 8, 8)))
    roi = roi_masks.create_roi_mask(9, 8, BORDER0, roi_mask=disc(8, 9, 4, 4, 1), label="big")
    with pytest.raises(
        ValueError, match=r"ROI 0 \('big'\) was made for a 9x8 image but the movie's frames are 8x8"
    ):
        roi_masks.calculate_roi_and_neuropil_traces(path, [roi], BORDER0)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            lambda: roi_masks.calculate_traces(np.zeros((2, 8, 8)), [None]),
            r"mask_list\[0\] has type NoneType, expected a mask",
        ),
        (
            lambda: roi_masks.calculate_traces(np.zeros((2, 8, 8)), 5),
            "mask_list must be a list of masks, got int",
        ),
        (
            lambda: roi_masks.create_neuropil_masks(["x"], [0, 0, 0, 0]),
            r"rois\[0\] has type str, expected an ROI mask",
        ),
        (
            lambda: roi_masks.create_roi_mask_array([object()]),
            r"rois\[0\] has type object, expected an ROI mask",
        ),
        (
            lambda: roi_masks.create_neuropil_mask(
                np.zeros((8, 8)), [0, 0, 0, 0], np.zeros((8, 8))
            ),
            "roi has type ndarray, expected an ROI mask",
        ),
        (lambda: roi_masks.validate_mask({"mask": None}), "mask has type dict, expected a mask"),
    ],
)
def test_what_is_not_a_mask_is_a_typeerror_naming_the_argument(call, message):
    """AllenSDK: AttributeError ('NoneType' object has no attribute 'img_rows') from deep inside."""
    with pytest.raises(TypeError, match=message):
        call()
