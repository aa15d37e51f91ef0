"""napari layers become the same ROIs and rings the core makes from the same pixels."""

from __future__ import annotations

import numpy as np
import pytest
from napari.layers import Image, Labels, Shapes

from napari_roimasks import roi_masks
from napari_roimasks.core import MotionBorder, NeuropilRings
from napari_roimasks.core.geometry import labels_from_masks, mask_outlines, rasterise_shape
from napari_roimasks.layers import (
    LayerConversionError,
    labels_plane,
    roi_crops_from_shapes_layer,
    roi_masks_from_layer,
)

H, W = 60, 80
BORDER = [3, 2, 4, 1]


def painted_labels():
    layer = Labels(np.zeros((H, W), dtype=np.int32), name="painted")
    layer.brush_size = 7
    layer.paint((20, 20), 1)
    layer.paint((30, 50), 2)
    layer.paint((2, 40), 3)  # reaches into the top border
    layer.fill((50, 70), 4)  # fills the background: a huge ROI
    layer.paint((50, 70), 0)  # erase a hole in it
    return layer


def test_painted_labels_give_allensdk_roi_and_neuropil_masks():
    layer = painted_labels()
    rois = roi_masks_from_layer(layer, BORDER)
    plane = np.asarray(layer.data)
    assert [r.label for r in rois] == [1, 2, 3, 4]
    combined = plane > 0
    rings = NeuropilRings.from_labels(plane, border=MotionBorder.from_allen(BORDER))
    for roi in rois:
        expected = roi_masks.create_roi_mask(W, H, BORDER, roi_mask=plane == roi.label)
        assert (roi.x, roi.y, roi.width, roi.height) == (
            expected.x,
            expected.y,
            expected.width,
            expected.height,
        )
        np.testing.assert_array_equal(roi.mask, expected.mask)
        assert roi.flags == expected.flags
        neuropil = roi_masks.create_neuropil_mask(expected, BORDER, combined)
        ring = rings.ring(roi.label)
        ring_plane = np.zeros((H, W), bool) if ring is None else ring.plane((H, W))
        np.testing.assert_array_equal(ring_plane, neuropil.get_mask_plane() > 0)
    assert rois[2].overlaps_motion_border and not rois[0].overlaps_motion_border


def test_mask_group_comes_from_the_layers_features():
    layer = painted_labels()
    layer.features = {"index": [0, 1, 2, 3, 4], "mask_group": [0, 7, 8, 9, 10]}
    assert [r.mask_group for r in roi_masks_from_layer(layer, BORDER)] == [7, 8, 9, 10]
    assert [r.mask_group for r in roi_masks_from_layer(painted_labels(), BORDER)] == [-1] * 4


def test_shapes_rasterise_like_napari_and_keep_their_overlap():
    polygon = np.array([[10, 10], [10, 30], [25, 40], [30, 12]], dtype=float)
    rectangle = np.array(
        [[20, 25], [20, 45], [35, 45], [35, 25]], dtype=float
    )  # overlaps the polygon
    layer = Shapes([polygon, rectangle], shape_type=["polygon", "rectangle"])
    crops = roi_crops_from_shapes_layer(layer, (H, W))
    napari_masks = layer.to_masks((H, W))
    for key in (1, 2):
        np.testing.assert_array_equal(crops[key].plane((H, W)), napari_masks[key - 1])
    overlap = crops[1].plane((H, W)) & crops[2].plane((H, W))
    assert overlap.sum() > 20  # both ROIs keep the shared pixels


def test_ellipse_holds_the_pixel_centres_inside_it():
    corners = np.array(
        [[10, 20], [10, 40], [30, 40], [30, 20]], dtype=float
    )  # centre (20, 30), semi-axes 10, 10
    crop = rasterise_shape(corners, "ellipse", 1.0, (H, W))
    rows, columns = np.mgrid[:H, :W]
    expected = (rows - 20) ** 2 + (columns - 30) ** 2 <= 100
    np.testing.assert_array_equal(crop.plane((H, W)), expected)


def test_path_is_as_wide_as_its_edge():
    crop = rasterise_shape(np.array([[10.0, 10.0], [10.0, 40.0]]), "path", 4.0, (H, W))
    rows, columns = np.nonzero(crop.plane((H, W)))
    assert set(rows) == {8, 9, 10, 11, 12}  # within 2 px of row 10
    assert columns.min() == 8 and columns.max() == 42  # round caps at both ends


def test_shape_outside_the_image_is_an_empty_roi():
    layer = Shapes([np.array([[-20.0, -20.0], [-10.0, -5.0]])], shape_type="rectangle")
    rois = roi_masks_from_layer(layer, BORDER, image_shape=(H, W))
    assert rois[0].flags == {"zero_pixels"}
    assert roi_masks.validate_mask(rois[0])[0]["exclusion_label_name"] == "empty_roi_mask"


def test_3d_shapes_are_refused_but_flat_shapes_on_a_movie_are_read():
    flat = np.array([[5, 10, 10], [5, 10, 20], [5, 20, 20], [5, 20, 10]], dtype=float)
    layer = Shapes([flat], shape_type="polygon", ndim=3)
    assert roi_crops_from_shapes_layer(layer, (H, W))[1].area > 50
    tilted = flat.copy()
    tilted[2, 0] = 6
    with pytest.raises(LayerConversionError, match="shape 0 .* is not flat"):
        roi_crops_from_shapes_layer(
            Shapes([tilted], shape_type="polygon", ndim=3, name="cells"), (H, W)
        )


def test_3d_labels_are_read_at_a_frame_only_when_asked():
    stack = np.zeros((4, H, W), dtype=np.int32)
    stack[2, 10:20, 10:20] = 5
    layer = Labels(stack, name="per frame")
    with pytest.raises(
        LayerConversionError,
        match="has 3 dimensions .* ROIs are 2D. Tick .3D ROI layer: read the current frame.",
    ):
        labels_plane(layer)
    assert labels_plane(layer, frame=2).max() == 5
    with pytest.raises(LayerConversionError, match="outside the ROI layer"):
        labels_plane(layer, frame=9)


def test_an_image_layer_is_not_an_roi_layer():
    with pytest.raises(
        LayerConversionError, match="'mean' is a Image layer; ROIs come from a Labels layer"
    ):
        roi_masks_from_layer(Image(np.zeros((H, W)), name="mean"), BORDER)


def test_masks_to_labels_and_outlines_and_back():
    rois = roi_masks_from_layer(painted_labels(), [0, 0, 0, 0])
    labels, overlapping = labels_from_masks(rois, (H, W))
    np.testing.assert_array_equal(labels, painted_labels().data)
    assert overlapping == 0
    outlines = mask_outlines(rois)  # pieces and holes too: each ROI is one exact polygon
    redrawn = roi_crops_from_shapes_layer(Shapes(outlines, shape_type="polygon"), (H, W))
    for key, roi in enumerate(rois, start=1):
        np.testing.assert_array_equal(redrawn[key].plane((H, W)), roi.get_mask_plane() > 0)
