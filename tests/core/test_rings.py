"""Neuropil rings on crops, built in batch and kept current through edits."""

from __future__ import annotations

import numpy as np
import pytest

from napari_roimasks import roi_masks
from napari_roimasks.core import MaskCrop, MotionBorder, NeuropilRings, RingOptions, neuropil_region
from napari_roimasks.core.rings import roi_crops_from_labels
from napari_roimasks.synthetic import make_recording


@pytest.fixture(scope="module")
def labels():
    return make_recording(n_frames=2, shape=(128, 160), n_cells=30, seed=3).roi_labels


def ring_plane(rings, key):
    ring = rings.ring(key)
    return np.zeros(rings.image_shape, bool) if ring is None else ring.plane(rings.image_shape)


def allensdk_ring_plane(labels, key, border):
    h, w = labels.shape
    roi = roi_masks.create_roi_mask(w, h, border, roi_mask=labels == key)
    return roi_masks.create_neuropil_mask(roi, border, labels > 0).get_mask_plane() > 0


@pytest.mark.parametrize("border", [[0, 0, 0, 0], [4, 2.5, 6, 3]])
def test_batch_rings_equal_allensdk_neuropil_masks(labels, border):
    rings = NeuropilRings.from_labels(labels, border=MotionBorder.from_allen(border))
    assert sorted(rings.keys()) == list(range(1, labels.max() + 1))
    for key in rings:
        np.testing.assert_array_equal(
            ring_plane(rings, key), allensdk_ring_plane(labels, key, border)
        )


def test_ring_labels_paint_every_ring(labels):
    rings = NeuropilRings.from_labels(labels)
    painted = rings.ring_labels()
    assert set(np.unique(painted)) - {0} == set(rings.keys())
    assert not (painted > 0)[labels > 0].any()


def edit(labels, rng):
    """One random edit a user could make; returns the labels it changed."""
    h, w = labels.shape
    kind = rng.integers(0, 4)
    r, c = rng.integers(0, h), rng.integers(0, w)
    rr, cc = np.ogrid[:h, :w]
    brush = (rr - r) ** 2 + (cc - c) ** 2 <= rng.integers(1, 5) ** 2
    if kind == 0:  # paint an existing label (over whatever was there)
        value = int(rng.integers(1, labels.max() + 1))
    elif kind == 1:  # paint a new label
        value = int(labels.max()) + 1
    elif kind == 2:  # erase
        value = 0
    else:  # delete a whole ROI
        victim = int(rng.choice(np.unique(labels[labels > 0])))
        labels[labels == victim] = 0
        return {victim}, None
    changed = set(np.unique(labels[brush]).tolist()) | {value}
    labels[brush] = value
    rows, columns = np.nonzero(brush)
    return changed, (slice(rows.min(), rows.max() + 1), slice(columns.min(), columns.max() + 1))


@pytest.mark.parametrize("use_where", [False, True])
def test_incremental_updates_match_a_fresh_build(labels, rng, use_where):
    border = MotionBorder(3, 5, 2, 4)
    options = RingOptions(outer_radius=9, inner_gap=1, min_pixels=150)
    labels = labels.copy()
    rings = NeuropilRings.from_labels(labels, border=border, options=options)
    for _ in range(40):
        changed, where = edit(labels, rng)
        recomputed = rings.update_from_labels(labels, changed, where=where if use_where else None)
        fresh = NeuropilRings.from_labels(labels, border=border, options=options)
        assert set(rings.keys()) == set(fresh.keys())
        assert recomputed <= set(fresh.keys())
        for key in fresh:
            np.testing.assert_array_equal(
                ring_plane(rings, key), ring_plane(fresh, key), err_msg=f"ring {key}"
            )


def test_an_edit_recomputes_only_the_rings_it_can_reach():
    labels = np.zeros((200, 200), np.int32)
    labels[10:16, 10:16] = 1  # top left
    labels[25:31, 25:31] = 2  # near 1: its window (13 px around it) reaches ROI 1
    labels[150:156, 150:156] = 3  # far away
    rings = NeuropilRings.from_labels(labels)
    labels[12, 16] = 1
    assert rings.update_from_labels(labels, [1]) == {1, 2}


def test_overlapping_rois_keep_the_shared_pixels_occupied():
    a = MaskCrop(20, 20, np.ones((6, 6), bool))
    b = MaskCrop(23, 23, np.ones((6, 6), bool))
    rings = NeuropilRings.from_masks({"a": a, "b": b}, (60, 60))
    assert not ring_plane(rings, "a")[b.slices].any()
    rings.update({"b": None})
    assert "b" not in rings
    # b's pixels are free again, except those still under a
    freed = b.plane((60, 60)) & ~a.plane((60, 60))
    assert ring_plane(rings, "a")[freed].all()


def test_outer_radius_and_inner_gap():
    roi = MaskCrop(30, 30, np.ones((3, 3), bool))
    occupied = roi.plane((70, 70))
    ring = neuropil_region(roi, occupied, options=RingOptions(outer_radius=5, inner_gap=2)).plane(
        (70, 70)
    )
    rows, columns = np.nonzero(ring)
    # Chebyshev distance to the ROI box [30, 32]: from 3 (past the gap of 2) to 5
    distance = np.maximum(np.maximum(30 - rows, rows - 32), np.maximum(30 - columns, columns - 32))
    assert distance.min() == 3 and distance.max() == 5
    assert ring.sum() == 13**2 - 7**2


def test_min_pixels_grows_to_the_smallest_radius_that_is_enough():
    roi = MaskCrop(40, 40, np.ones((2, 2), bool))
    occupied = roi.plane((100, 100)).copy()
    occupied[30:55, 30:55] |= np.random.default_rng(0).random((25, 25)) < 0.5  # crowded neighbours
    usable = MotionBorder().usable_area(100, 100)

    def size(radius):
        return neuropil_region(roi, occupied, options=RingOptions(outer_radius=radius)).pixels.sum()

    want = 500
    smallest = next(r for r in range(13, 100) if size(r) >= want)
    grown = neuropil_region(roi, occupied, options=RingOptions(min_pixels=want), usable=usable)
    assert grown.pixels.sum() == size(smallest) >= want
    assert size(smallest - 1) < want


def test_min_pixels_stops_when_the_ring_covers_the_image():
    roi = MaskCrop(2, 2, np.ones((2, 2), bool))
    region = neuropil_region(roi, roi.plane((10, 12)), options=RingOptions(min_pixels=10_000))
    assert region.pixels.sum() == 10 * 12 - 4


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"outer_radius": 0}, "outer_radius must be a whole number >= 1"),
        ({"inner_gap": -1}, "inner_gap must be a whole number >= 0"),
        ({"min_pixels": 2.5}, "min_pixels must be a whole number >= 0"),
        ({"outer_radius": 3, "inner_gap": 3}, "must be smaller than outer_radius"),
    ],
)
def test_bad_ring_options(options, message):
    with pytest.raises(ValueError, match=message):
        RingOptions(**options)


def test_bad_label_images_and_rois_outside_the_image():
    with pytest.raises(ValueError, match="must be 2D"):
        NeuropilRings.from_labels(np.zeros((2, 3, 4), int))
    with pytest.raises(TypeError, match="whole numbers"):
        NeuropilRings.from_labels(np.zeros((3, 4), float))
    with pytest.raises(ValueError, match="ROI 'x' lies partly outside the 10x10 image"):
        NeuropilRings.from_masks({"x": MaskCrop(8, 8, np.ones((3, 3), bool))}, (10, 10))


def test_repainting_the_dirty_box_matches_a_full_repaint(labels, rng):
    labels = labels.copy()
    rings = NeuropilRings.from_labels(labels, border=MotionBorder(2, 2, 2, 2))
    painted = rings.ring_labels()
    assert rings.take_dirty_box() == (0, 0, *labels.shape)
    for _ in range(30):
        changed, where = edit(labels, rng)
        rings.update_from_labels(labels, changed, where=where)
        box = rings.take_dirty_box()
        if box is not None:
            rings.paint_ring_labels(painted, box)
        np.testing.assert_array_equal(painted, rings.ring_labels())
    assert rings.take_dirty_box() is None


@pytest.mark.parametrize("big", [2**31 - 1, 10**15], ids=["int32-max", "1e15"])
def test_a_huge_label_id_costs_what_one_roi_costs(big):
    """Label ids are names, not sizes: memory follows the ROIs, not the largest id."""
    import tracemalloc

    labels = np.zeros((128, 128), np.int64)
    labels[10:20, 10:20], labels[50:60, 50:60] = big, 3
    tracemalloc.start()
    crops = roi_crops_from_labels(labels)
    rings = NeuropilRings.from_labels(labels)
    image = rings.ring_labels()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 20e6  # a list as long as the id (the old way) is 17 GB, or a MemoryError
    assert sorted(crops) == [3, big] and crops[big].pixels.sum() == 100
    assert image.dtype == (np.int64 if big > 2**31 - 1 else np.int32)
    assert set(np.unique(image)) == {0, 3, big}
    expected = NeuropilRings.from_labels(np.where(labels == big, 7, labels)).ring_labels()
    np.testing.assert_array_equal(image == big, expected == 7)  # the same ring as a small id's


def test_a_pixel_under_65536_rois_is_still_taken():
    """A pixel that 65,536 drawn ROIs cover stays out of a neighbour's ring (a uint16 count of
    the ROIs on each pixel wraps to 0 there, and the ring took it)."""
    stacked = MaskCrop(5, 5, np.ones((1, 1), bool))
    rois = {k: stacked for k in range(1, 65_537)}
    rois[0] = MaskCrop(5, 7, np.ones((1, 1), bool))
    rings = NeuropilRings((12, 12))
    rings.set_rois(rois)
    neighbour = rings.ring(0).plane((12, 12))
    assert not neighbour[5, 5] and neighbour[5, 4]  # the covered pixel out, its neighbour in


def test_the_rings_square_dilation_is_scipys_maximum_filter():
    from scipy import ndimage

    from napari_roimasks.core.neuropil import _grown

    rng = np.random.default_rng(5)
    for _ in range(200):
        rows, columns = rng.integers(1, 45, 2)
        reach = int(rng.integers(0, 16))
        mask = (rng.random((rows, columns)) < rng.uniform(0, 0.1)).astype(np.uint8)
        expected = ndimage.maximum_filter(mask, size=2 * reach + 1, mode="constant", cval=0) != 0
        np.testing.assert_array_equal(_grown(mask, reach), expected)
