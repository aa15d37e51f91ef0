"""Every mask, in pieces or with holes, is one polygon that rasterises back to it exactly."""

import numpy as np
import pytest

from napari_roimasks.core.geometry import mask_polygon, rasterise_shape
from napari_roimasks.core.masks import MaskCrop

IMAGE = (64, 64)


def _redrawn(crop: MaskCrop) -> np.ndarray:
    shape = rasterise_shape(mask_polygon(crop), "polygon", 1.0, IMAGE)
    return np.zeros(IMAGE, bool) if shape is None else shape.plane(IMAGE)


@pytest.mark.parametrize("seed", range(4))
def test_random_masks_come_back_pixel_for_pixel(seed):
    rng = np.random.default_rng(seed)
    for _ in range(300):
        rows, columns = rng.integers(1, 14, 2)
        pixels = rng.random((rows, columns)) < rng.uniform(0.2, 0.9)
        if not pixels.any():
            continue
        top, left = rng.integers(0, IMAGE[0] - 14, 2)
        crop = MaskCrop(int(top), int(left), pixels)
        np.testing.assert_array_equal(_redrawn(crop), crop.plane(IMAGE))


def test_two_cells_and_a_ring_with_a_cell_inside_are_one_polygon_each():
    yy, xx = np.mgrid[:30, :30]
    two_cells = ((yy - 8) ** 2 + (xx - 8) ** 2 <= 16) | ((yy - 20) ** 2 + (xx - 22) ** 2 <= 9)
    distance = np.hypot(yy - 15, xx - 15)
    ring_and_core = ((distance >= 8) & (distance <= 11)) | (distance <= 3)
    diagonal = np.eye(5, dtype=bool)  # pixels touching only at corners
    for pixels in (two_cells, ring_and_core, diagonal):
        crop = MaskCrop(0, 0, pixels)  # at the image's edge: bridges run outside it
        polygon = mask_polygon(crop)
        assert polygon.ndim == 2 and polygon.shape[1] == 2
        np.testing.assert_array_equal(_redrawn(crop), crop.plane(IMAGE))


def test_a_mask_without_pixels_has_no_polygon():
    with pytest.raises(ValueError, match="without pixels"):
        mask_polygon(MaskCrop(0, 0, np.zeros((3, 3), bool)))
