"""The curation model, headless: ROIs, edits, border, rings, the table's rows, save and reload."""

from __future__ import annotations

import numpy as np
import pytest

from napari_roimasks import roi_masks
from napari_roimasks.core import MaskCrop, MotionBorder, RingOptions
from napari_roimasks.io.roi_files import read_rois, write_rois
from napari_roimasks.model import RoiModel
from napari_roimasks.synthetic import make_recording

BORDER = MotionBorder(5, 3, 6, 2)


@pytest.fixture
def labels():
    return make_recording(n_frames=2, shape=(96, 120), n_cells=25, seed=11).roi_labels


@pytest.fixture
def model(labels):
    model = RoiModel()
    model.set_border(BORDER)
    model.set_rois_from_labels(labels)
    return model


def allensdk_rows(labels, border: MotionBorder, options: RingOptions | None = None):
    """(area, ring pixels, exclusions) per label, from the AllenSDK face."""
    h, w = labels.shape
    rois = [
        roi_masks.create_roi_mask(w, h, border.as_allen(), roi_mask=labels == k, label=k)
        for k in range(1, labels.max() + 1)
    ]
    rings = roi_masks.create_neuropil_masks(rois, border.as_allen(), options=options)
    rows = {}
    for k, roi, ring in zip(range(1, labels.max() + 1), rois, rings, strict=True):
        excluded = [e["exclusion_label_name"] for e in roi_masks.validate_mask(roi)]
        excluded += [e["exclusion_label_name"] for e in roi_masks.validate_mask(ring)]
        ring_pixels = 0 if ring.mask is None else int(np.count_nonzero(ring.mask))
        rows[k] = (int(np.count_nonzero(labels == k)), ring_pixels, tuple(excluded))
    return rows


def model_rows(model):
    return {row.key: (row.area, row.ring_pixels, row.exclusions) for row in model.rows()}


def test_rows_give_allensdks_areas_rings_and_exclusions(model, labels):
    assert model_rows(model) == allensdk_rows(labels, BORDER)
    assert any(row.excluded for row in model.rows())  # the border disqualifies some


def random_edit(labels, rng):
    """Paint, erase or delete, as a curator's brush would; returns the new label image."""
    labels = labels.copy()
    h, w = labels.shape
    r, c = rng.integers(0, h), rng.integers(0, w)
    rr, cc = np.ogrid[:h, :w]
    brush = (rr - r) ** 2 + (cc - c) ** 2 <= rng.integers(1, 6) ** 2
    kind = rng.integers(0, 4)
    if kind == 0:
        labels[brush] = rng.integers(1, labels.max() + 1)
    elif kind == 1:
        labels[brush] = labels.max() + 1
    elif kind == 2:
        labels[brush] = 0
    elif labels.max() > 0:
        labels[labels == rng.choice(np.unique(labels[labels > 0]))] = 0
    return labels


def test_edits_keep_the_model_equal_to_a_fresh_read(model, labels, rng):
    touched_events = []
    model.rois_changed.connect(touched_events.append)
    for _ in range(40):
        edited = random_edit(labels, rng)
        changed = set(np.unique(labels[edited != labels]).tolist()) | set(
            np.unique(edited[edited != labels]).tolist()
        )
        touched = model.labels_edited(edited)
        assert changed - {0} <= touched
        labels = edited
        fresh = RoiModel()
        fresh.set_border(BORDER)
        fresh.set_rois_from_labels(labels)
        assert model_rows(model) == model_rows(fresh)
        for key in fresh.roi_keys():
            ring, expected = model.ring(key), fresh.ring(key)
            assert (ring is None) == (expected is None)
            if ring is not None:
                np.testing.assert_array_equal(
                    ring.plane(labels.shape), expected.plane(labels.shape)
                )
    assert touched_events and all(isinstance(keys, set) for keys in touched_events if keys)


def test_an_edit_that_changes_nothing_tells_nobody(model, labels):
    seen = []
    model.rois_changed.connect(seen.append)
    assert model.labels_edited(labels.copy()) == set()
    assert seen == []


def test_border_and_ring_options_rebuild_every_row(model, labels):
    events = []
    model.settings_changed.connect(lambda: events.append("settings"))
    model.rois_changed.connect(lambda keys: events.append(keys))
    options = RingOptions(outer_radius=8, inner_gap=2, min_pixels=150)
    model.set_ring_options(options)
    model.set_border(MotionBorder(0, 0, 0, 0))
    assert events == [None, "settings", None, "settings"]  # the rows first, then the news
    assert model_rows(model) == allensdk_rows(labels, MotionBorder(), options)
    assert not any(row.excluded for row in model.rows())


def test_a_border_leaving_no_pixel_is_refused_and_nothing_changes(model):
    before = model_rows(model)
    with pytest.raises(ValueError, match="leaves no usable pixel"):
        model.set_border(MotionBorder(60, 60, 0, 0))
    assert model.border == BORDER and model_rows(model) == before


def test_rois_without_pixels_are_rows_excluded_as_empty(labels):
    model = RoiModel()
    crops = {1: MaskCrop(10, 10, np.ones((4, 4), bool)), 2: None}
    model.set_rois(crops, labels.shape)
    assert [row.key for row in model.rows()] == [1, 2]
    assert model.summary(2).exclusions == ("empty_roi_mask", "empty_neuropil_mask")
    model.update_rois({2: MaskCrop(40, 40, np.ones((3, 3), bool))}, removed=[1])
    assert [row.key for row in model.rows()] == [2] and not model.summary(2).excluded


def test_selection_is_told_once(model):
    seen = []
    model.selection_changed.connect(seen.append)
    model.set_selection([3, 4])
    model.set_selection([3, 4])
    assert seen == [(3, 4)] and model.selection == (3, 4)


def test_saved_and_reloaded_rois_give_the_same_rows(model, labels, tmp_path):
    model.set_ring_options(RingOptions(outer_radius=10, inner_gap=1))
    path = tmp_path / "session.roimasks.h5"
    write_rois(path, model.roi_set())
    reloaded = RoiModel()
    reloaded.load(read_rois(path))
    assert model_rows(reloaded) == model_rows(model)
    assert (reloaded.border, reloaded.ring_options) == (model.border, model.ring_options)
    assert reloaded.image_shape == labels.shape


def test_a_session_whose_border_does_not_fit_is_refused_and_nothing_changes(model, labels):
    from napari_roimasks.io.roi_set import RoiSet

    before = model_rows(model)
    with pytest.raises(ValueError, match="leaves no usable pixel of the 120x96 image"):
        model.load(RoiSet(model.roi_set().rois, MotionBorder(70, 60, 0, 0), labels.shape))
    assert model_rows(model) == before and model.border == BORDER
