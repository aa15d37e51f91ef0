"""Allen JSON masks: lossless round trips and clear refusals."""

from __future__ import annotations

import json

import numpy as np
import pytest

from napari_roimasks import roi_masks
from napari_roimasks.core import MotionBorder
from napari_roimasks.io.allen_json import read_allen_masks, write_allen_masks
from napari_roimasks.io.roi_set import RoiFileError
from napari_roimasks.synthetic import place_cells

BORDER = MotionBorder(4, 3, 5, 2)


@pytest.fixture
def rois_and_neuropils():
    labels = place_cells((64, 80), 12, seed=5)
    h, w = labels.shape
    border = BORDER.as_allen()
    rois = [
        roi_masks.create_roi_mask(
            w, h, border, roi_mask=labels == k, label=int(k), mask_group=int(k) % 3
        )
        for k in range(1, labels.max() + 1)
    ]
    rois.append(
        roi_masks.create_roi_mask(w, h, border, roi_mask=np.zeros((h, w)), label=99)
    )  # empty
    return rois, roi_masks.create_neuropil_masks(rois, border)


def test_masks_round_trip_with_ids_groups_and_border(tmp_path, rois_and_neuropils):
    rois, neuropils = rois_and_neuropils
    for masks in (rois, neuropils):
        path = write_allen_masks(tmp_path / "masks.json", masks, border=BORDER, overwrite=True)
        found = read_allen_masks(path, image_shape=(64, 80))
        read, border = found.masks, found.border
        assert border == BORDER
        assert [m.id for m in read] == [m.label for m in masks]
        assert [m.mask_group for m in read] == [m.mask_group for m in masks]
        assert [m.valid for m in read] == [not roi_masks.validate_mask(m) for m in masks]
        for original, back in zip(masks, read, strict=True):
            if back.crop is None:
                assert original.mask is None or not original.mask.any()
            else:
                np.testing.assert_array_equal(
                    back.crop.plane((64, 80)), original.get_mask_plane() > 0
                )


def test_a_plain_list_and_the_mask_matrix_alias_are_read(tmp_path):
    path = tmp_path / "rois.json"
    path.write_text(
        json.dumps(
            [{"id": 7, "x": 2, "y": 3, "width": 2, "height": 1, "mask_matrix": [[True, False]]}]
        )
    )
    found = read_allen_masks(path)
    (mask,) = found.masks
    assert found.border is None and found.image_shape is None
    assert mask.id == 7 and (mask.crop.top, mask.crop.left) == (3, 2)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ([{"id": 1, "x": 0, "y": 0, "width": 2, "height": 2}], r"mask 0 \(id 1\) lacks mask"),
        (
            [{"id": 1, "x": 0, "y": 0, "width": 3, "height": 2, "mask": [[1, 0], [0, 1]]}],
            r"mask is 2 rows x 2 columns but height x width is 2 x 3",
        ),
        (
            [{"id": 1, "x": -1, "y": 0, "width": 1, "height": 1, "mask": [[1]]}],
            r"x must be a whole number >= 0",
        ),
        (
            [{"id": 1, "x": 79, "y": 0, "width": 2, "height": 1, "mask": [[1, 1]]}],
            r"outside the 80x64 image",
        ),
        (
            {"rois": [], "image_size": {"width": 80}},
            r"image_size must be \{\"width\": W, \"height\": H\}",
        ),
        (
            {"rois": [], "image_size": {"width": 64, "height": 80}},
            r"the ROIs were drawn on a 64x80 image but the movie's frames are 80x64",
        ),
        ({"cells": []}, r"expected a list of masks or an object with 'rois'"),
        ({"rois": [], "motion_border": {"x0": 1}}, r"motion_border must hold x0, x1, y0, y1"),
    ],
)
def test_bad_files_name_the_file_and_the_problem(tmp_path, content, message):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(content))
    with pytest.raises(RoiFileError, match="bad.json: .*" + message):
        read_allen_masks(path, image_shape=(64, 80))


def test_the_image_size_is_written_and_read_back(tmp_path, rois_and_neuropils):
    """Allen's files have no image size: this project's extra field keeps it, beside the border."""
    rois, _ = rois_and_neuropils
    path = write_allen_masks(tmp_path / "rois.json", rois, image_shape=(64, 80))
    assert json.loads(path.read_text())["image_size"] == {"width": 80, "height": 64}
    assert read_allen_masks(path).image_shape == (64, 80)
    # a mask reaching past the recorded size is refused even without the movie's
    content = json.loads(path.read_text())
    content["image_size"] = {"width": 10, "height": 10}
    path.write_text(json.dumps(content))
    with pytest.raises(
        RoiFileError, match=r"rois.json: mask 0 \(id 1\) reaches .* outside the 10x10 image"
    ):
        read_allen_masks(path)


def test_not_json_and_missing(tmp_path):
    (tmp_path / "x.json").write_bytes(b"\x89PNG")
    with pytest.raises(RoiFileError, match="x.json: not a JSON file"):
        read_allen_masks(tmp_path / "x.json")
    with pytest.raises(RoiFileError, match="gone.json: no such file"):
        read_allen_masks(tmp_path / "gone.json")
    with pytest.raises(RoiFileError, match="not a file"):
        read_allen_masks(tmp_path)
