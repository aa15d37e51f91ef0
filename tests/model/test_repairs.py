"""Merge and split in the model: decisions and origins follow, one undo of the label image
brings everything back, and the rings always equal a rebuild from scratch."""

from __future__ import annotations

import numpy as np
import pytest

from napari_roimasks.core import MotionBorder
from napari_roimasks.core.rings import NeuropilRings
from napari_roimasks.core.roi_edits import LabelEdit, RoiEditError
from napari_roimasks.io.roi_set import Decision
from napari_roimasks.model import RoiModel
from napari_roimasks.synthetic import place_cells

CELL, NOT_CELL, UNLABELED = Decision.CELL, Decision.NOT_CELL, Decision.UNLABELED


@pytest.fixture
def labels():
    return place_cells((96, 96), 30, radius_range=(3.0, 5.0), seed=2).astype(np.int32)


def model_of(labels) -> RoiModel:
    model = RoiModel()
    model.set_border(MotionBorder(2, 3, 1, 2))
    model.set_rois_from_labels(labels)
    return model


class History:
    """napari's paint history, as the ROI layer keeps it: each edit undone and redone whole."""

    def __init__(self, labels):
        self.labels, self.done, self.undone = labels, [], []

    def apply(self, edit):
        edit.apply(self.labels)
        self.done.append(edit)
        self.undone.clear()

    def undo(self):
        edit = self.done.pop()
        edit.revert(self.labels)
        self.undone.append(edit)

    def redo(self):
        edit = self.undone.pop()
        edit.apply(self.labels)
        self.done.append(edit)


def assert_rings_are_a_rebuild(model, labels):
    fresh = NeuropilRings.from_labels(labels, border=model.border, options=model.ring_options)
    assert set(model.rings.keys()) == set(fresh.keys())
    for key in fresh:
        ours, theirs = model.rings.ring(key), fresh.ring(key)
        assert (ours is None) == (theirs is None), key
        if ours is not None:
            mine = np.zeros(labels.shape, bool)
            mine[ours.slices] = ours.pixels
            other = np.zeros(labels.shape, bool)
            other[theirs.slices] = theirs.pixels
            np.testing.assert_array_equal(mine, other, err_msg=f"ring {key}")


def test_a_merge_combines_decisions_records_its_origin_and_one_undo_brings_all_back(labels):
    model = model_of(labels)
    model.decide([4], NOT_CELL, reason="dim")
    model.decide([9], CELL)
    before = {k: model.summary(k) for k in model.roi_keys()}
    steps = model.decisions.undo_text
    history = History(labels)
    history.apply(model.plan_merge(labels, [9, 4, 12]))
    model.labels_edited(labels)
    assert 9 not in model.roi_keys() and 12 not in model.roi_keys()
    merged = model.summary(4)
    assert (merged.decision, merged.reason) == (CELL, "merged 4 + 9 + 12")  # a cell in it
    assert merged.origin == "merged 4 + 9 + 12"
    assert merged.area == sum(before[k].area for k in (4, 9, 12))
    assert model.decisions.undo_text == steps  # no decision step: the paint's undo is its undo
    assert_rings_are_a_rebuild(model, labels)
    history.undo()
    model.labels_edited(labels)
    assert {k: model.summary(k) for k in model.roi_keys()} == before
    assert model.summary(4).reason == "dim" and model.summary(4).origin == ""
    assert_rings_are_a_rebuild(model, labels)
    history.redo()
    model.labels_edited(labels)
    assert model.summary(4).decision is CELL and model.summary(4).origin.startswith("merged")


def test_merged_decisions_are_cell_if_any_else_not_cell_if_all(labels):
    model = model_of(labels)
    model.decide([1, 2], NOT_CELL)
    History(labels).apply(model.plan_merge(labels, [1, 2]))
    model.labels_edited(labels)
    assert model.summary(1).decision is NOT_CELL
    model.decide([3], NOT_CELL)
    History(labels).apply(model.plan_merge(labels, [3, 5]))  # 5 undecided
    model.labels_edited(labels)
    assert model.summary(3).decision is UNLABELED
    with pytest.raises(RoiEditError, match="select two ROIs or more"):
        model.plan_merge(labels, [7])


def test_a_split_gives_unlabeled_pieces_new_ids_and_undoes_whole(labels):
    model = model_of(labels)
    model.decide([6], CELL)
    history = History(labels)
    rows, columns = np.nonzero(labels == 6)
    middle = columns.min() + (columns.max() - columns.min()) / 2
    edit, new = model.plan_split(
        labels, 6, line=((rows.min() - 2, middle), (rows.max() + 2, middle))
    )
    assert min(new) > labels.max()
    history.apply(edit)
    model.labels_edited(labels)
    assert 6 not in model.roi_keys() and set(new) <= set(model.roi_keys())
    for key in new:
        row = model.summary(key)
        assert (row.decision, row.origin) == (UNLABELED, "split from 6")
    assert_rings_are_a_rebuild(model, labels)
    history.undo()
    model.labels_edited(labels)
    assert model.summary(6).decision is CELL and not set(new) & set(model.roi_keys())
    assert_rings_are_a_rebuild(model, labels)


def test_random_paints_merges_splits_and_undos_keep_the_rings_a_rebuild(labels):
    rng = np.random.default_rng(5)
    model = model_of(labels)
    history = History(labels)
    for _ in range(60):
        keys = [k for k in model.roi_keys() if (labels == k).any()]
        action = rng.choice(["paint", "merge", "split", "undo", "redo"])
        try:
            if action == "paint":
                r, c = rng.integers(0, 96, 2)
                edit_labels = labels.copy()
                edit_labels[max(r - 2, 0) : r + 3, max(c - 2, 0) : c + 3] = rng.choice([0, *keys])
                history.apply(LabelEdit(0, 0, labels.copy(), edit_labels))
            elif action == "merge" and len(keys) >= 2:
                history.apply(model.plan_merge(labels, rng.choice(keys, 2, replace=False)))
            elif action == "split" and keys:
                key = int(rng.choice(keys))
                rows, columns = np.nonzero(labels == key)
                line = ((rows.min() - 1, columns.mean()), (rows.max() + 1, columns.mean()))
                history.apply(model.plan_split(labels, key, line=line)[0])
            elif action == "undo" and history.done:
                history.undo()
            elif action == "redo" and history.undone:
                history.redo()
        except RoiEditError:
            continue
        model.labels_edited(labels)
        assert_rings_are_a_rebuild(model, labels)
        assert set(model.roi_keys()) == set(np.unique(labels).tolist()) - {0}


def test_only_the_rois_a_merge_reaches_need_their_traces_again(labels):
    from napari_roimasks.model import RoiTraces

    model = model_of(labels)
    frames = np.zeros(10)
    model.store_traces(
        "movie",
        {k: RoiTraces(model.fingerprint(k, "movie"), frames, frames) for k in model.roi_keys()},
    )
    assert model.keys_to_extract("movie") == []
    History(labels).apply(model.plan_merge(labels, [4, 9]))
    reached = model.labels_edited(labels)
    stale = set(model.keys_to_extract("movie"))
    assert 4 in stale and stale <= reached and len(stale) < len(model.roi_keys()) / 2


def test_the_session_file_keeps_the_origins(labels, tmp_path):
    from napari_roimasks.io.session_file import read_session, write_session
    from napari_roimasks.model import restore_session, session_contents

    model = model_of(labels)
    History(labels).apply(model.plan_merge(labels, [2, 8]))
    model.labels_edited(labels)
    rows, columns = np.nonzero(labels == 5)
    line = ((rows.min() - 2, columns.mean()), (rows.max() + 2, columns.mean()))
    edit, pieces = model.plan_split(labels, 5, line=line)
    History(labels).apply(edit)
    model.labels_edited(labels)
    path = tmp_path / "s.session.roimasks.h5"
    write_session(path, session_contents(model), overwrite=True)
    reopened = RoiModel()
    restore_session(reopened, read_session(path))
    assert reopened.summary(2).origin == "merged 2 + 8"
    assert [reopened.summary(k).origin for k in pieces] == ["split from 5"] * len(pieces)


def test_a_decision_made_after_a_merge_comes_back_with_its_redo(labels):
    model = model_of(labels)
    history = History(labels)
    history.apply(model.plan_merge(labels, [3, 7]))
    model.labels_edited(labels)
    model.decide([3], NOT_CELL, reason="two cells")
    history.undo()
    model.labels_edited(labels)
    assert model.summary(3).decision is UNLABELED
    history.redo()
    model.labels_edited(labels)
    assert (model.summary(3).decision, model.summary(3).reason) == (NOT_CELL, "two cells")


def test_reading_the_same_image_again_keeps_the_origins_another_layer_forgets_them(labels):
    model = model_of(labels)
    History(labels).apply(model.plan_merge(labels, [3, 7]))
    model.labels_edited(labels)
    model.set_rois_from_labels(labels)  # e.g. live rings off and on
    assert model.summary(3).origin == "merged 3 + 7"
    model.forget_repairs()  # another ROI layer is curated
    assert model.summary(3).origin == "" and model.repairs.to_json() is None


def test_summary_images_of_another_size_are_not_read_and_nothing_breaks(labels):
    model = model_of(labels)
    model.quality.set_images(mean=np.ones((96, 96)), correlation=np.ones((96, 96)))
    model.set_rois_from_labels(np.pad(labels, ((0, 4), (0, 4))))  # another frame size
    assert model.image_shape == (100, 100)
    assert all(np.isnan(row.metrics["brightness_z"]) for row in model.rows())
    assert np.isfinite(model.summary(1).metrics["area"])


# -- a Shapes layer's ROIs (shapes 1..n in the layer's order) -----------------------------------
def shapes_model(labels):
    """A model holding the ROIs as a Shapes layer gives them: key i + 1 is shape i."""
    from napari_roimasks.core.masks import MaskCrop

    ids = [int(k) for k in np.unique(labels) if k]
    model = RoiModel()
    model.set_rois(
        {i: MaskCrop.from_plane(labels == k) for i, k in enumerate(ids, start=1)},
        labels.shape,
        border=MotionBorder(2, 3, 1, 2),
    )
    return model


class ShapesLayer:
    """A Shapes layer as the model reads it back: its ROIs' pixels, in order."""

    def __init__(self, model):
        self.model = model
        self.crops = [model.roi(k) for k in model.roi_keys()]

    def write(self, repair, *, undo):
        """Make (undo) ``repair`` as the dock does; then the model's pixels must be those a
        read of the layer gives: each outline rasterised."""
        from napari_roimasks.core.geometry import rasterise_shape

        def outline_pixels(outline):
            return rasterise_shape(outline, "polygon", 1.0, self.model.image_shape)

        if undo:
            self.crops = self.before
        else:
            self.before = list(self.crops)
            crops = list(self.crops)
            for key, outline in repair.outlines.items():
                crops[key - 1] = outline_pixels(outline)
            crops = [c for i, c in enumerate(crops, start=1) if i not in repair.removed]
            self.crops = crops + [outline_pixels(o) for o in repair.added]
        self.model.apply_shapes_repair(repair, lambda: None, undo=undo)
        assert self.model.roi_keys() == list(range(1, len(self.crops) + 1))
        shape = self.model.image_shape
        for key, crop in enumerate(self.crops, start=1):
            np.testing.assert_array_equal(self.model.roi(key).plane(shape), crop.plane(shape))
        assert_shape_rings_are_a_rebuild(self.model)
        fresh = RoiModel()  # the rows and metrics of the ROIs moved are as if computed anew
        fresh.set_rois(dict(enumerate(self.crops, start=1)), shape, border=self.model.border)
        for ours, theirs in zip(self.model.rows(), fresh.rows(), strict=True):
            assert (ours.key, ours.area, ours.ring_pixels, ours.exclusions) == (
                theirs.key, theirs.area, theirs.ring_pixels, theirs.exclusions
            )  # fmt: skip
            np.testing.assert_equal(dict(ours.metrics), dict(theirs.metrics))


def assert_shape_rings_are_a_rebuild(model):
    crops = {k: model.roi(k) for k in model.roi_keys()}
    fresh = NeuropilRings.from_masks(
        crops, model.image_shape, border=model.border, options=model.ring_options
    )
    assert set(model.rings.keys()) == set(fresh.keys())
    for key in fresh:
        ours, theirs = model.rings.ring(key), fresh.ring(key)
        assert (ours is None) == (theirs is None), key
        if ours is not None:
            np.testing.assert_array_equal(
                ours.plane(model.image_shape), theirs.plane(model.image_shape)
            )


def test_a_shapes_merge_renumbers_the_shapes_after_and_its_undo_brings_them_back(labels):
    model = shapes_model(labels)
    n = len(model.roi_keys())
    layer = ShapesLayer(model)
    model.decide([3], NOT_CELL)
    model.decide([5], CELL, reason="bright")
    model.decide([n], CELL, reason="last")
    union = model.roi(3).plane(labels.shape) | model.roi(5).plane(labels.shape)
    repair = model.plan_shapes_merge([5, 3])
    assert repair.renumbering() == {5: None, **{k: k - 1 for k in range(6, n + 1)}}
    assert repair.renumbering(undo=True) == {k: k + 1 for k in range(5, n)}
    heard = []
    model.decisions_changed.connect(heard.append)
    layer.write(repair, undo=False)
    np.testing.assert_array_equal(model.roi(3).plane(labels.shape), union)
    assert model.roi_keys() == list(range(1, n))
    assert (model.summary(3).decision, model.summary(3).origin) == (CELL, "merged 3 + 5")
    assert model.summary(n - 1).reason == "last"  # moved up with its shape
    assert {3, n - 1} <= heard[-1]  # the merged ROI, and the decision that moved up
    layer.write(repair, undo=True)
    assert model.roi_keys() == list(range(1, n + 1))
    assert [model.summary(k).decision for k in (3, 5, n)] == [NOT_CELL, CELL, CELL]
    assert (model.summary(5).reason, model.summary(n).reason) == ("bright", "last")
    assert model.summary(3).origin == ""


def test_a_shapes_split_adds_unlabeled_pieces_at_the_end_and_undoes_whole(labels):
    model = shapes_model(labels)
    n = len(model.roi_keys())
    layer = ShapesLayer(model)
    roi = model.roi(4)
    whole = roi.plane(labels.shape)
    model.decide([4], CELL)
    column = (roi.left + roi.right - 1) / 2
    repair = model.plan_shapes_split(4, line=((roi.top - 1, column), (roi.bottom, column)))
    assert repair.new_keys == [n + 1]
    layer.write(repair, undo=False)
    halves = [model.roi(k).plane(labels.shape) for k in (4, n + 1)]
    np.testing.assert_array_equal(halves[0] | halves[1], whole)
    assert not (halves[0] & halves[1]).any()
    assert {model.summary(k).origin for k in (4, n + 1)} == {"split from 4"}
    assert model.summary(n + 1).decision is UNLABELED
    model.decide([n + 1], NOT_CELL)  # decided after the split: comes back with its redo
    layer.write(repair, undo=True)
    assert model.roi_keys() == list(range(1, n + 1)) and model.summary(4).decision is CELL
    layer.write(repair, undo=False)
    assert model.summary(n + 1).decision is NOT_CELL


def test_a_shape_in_one_piece_is_not_split_without_a_line(labels):
    model = shapes_model(labels)
    with pytest.raises(RoiEditError, match="one piece"):
        model.plan_shapes_split(1)
    with pytest.raises(RoiEditError, match="two ROIs or more"):
        model.plan_shapes_merge([1])
