"""ROIs that take new keys (the shapes after a deleted one), headless: decisions, their undo,
traces and the selection follow each ROI, and a deleted ROI's decision shows nowhere."""

from __future__ import annotations

from datetime import datetime, timezone

import numpy as np
import pytest

from napari_roimasks.core import MaskCrop
from napari_roimasks.io.roi_set import Decision
from napari_roimasks.model import Decisions, RoiModel
from napari_roimasks.model.decisions import DeletedRoi
from napari_roimasks.model.traces import RoiTraces

CELL, NOT_CELL, UNLABELED = Decision.CELL, Decision.NOT_CELL, Decision.UNLABELED
SHAPE = (64, 96)
#: shape 3 of 5 deleted: 4 and 5 become 3 and 4
DELETE_3_OF_5 = {3: None, 4: 3, 5: 4}


def clock():
    times = iter(datetime(2026, 12, 7, 9, m, tzinfo=timezone.utc) for m in range(60))
    return lambda: next(times)


def squares(sides) -> dict:
    """ROIs 1..n: squares of the given sides along a row, so each ROI has its own area."""
    crops = {}
    for key, side in enumerate(sides, start=1):
        plane = np.zeros(SHAPE, bool)
        left = 6 + 18 * (key - 1)
        plane[20 : 20 + side, left : left + side] = True
        crops[key] = MaskCrop.from_plane(plane)
    return crops


SIDES = (4, 5, 6, 7, 8)  # areas 16, 25, 36, 49, 64: which ROI a row shows is plain


def after_deleting(crops: dict, key) -> dict:
    """The crops the layer gives once ROI ``key`` is gone: the ones after it move up."""
    kept = [crop for k, crop in sorted(crops.items()) if k != key]
    return dict(enumerate(kept, start=1))


@pytest.fixture
def model():
    model = RoiModel()
    model.decisions = Decisions(clock=clock())
    model.set_rois(squares(SIDES), SHAPE)
    return model


def decided(model) -> dict:
    """Each row's area (which ROI it is) and decision."""
    return {row.key: (row.area, row.decision) for row in model.rows()}


def test_decisions_follow_their_rois_when_an_roi_before_them_is_deleted(model):
    model.decide([2], CELL)
    model.decide([3], NOT_CELL, reason="dim")
    model.decide([4], CELL, reason="bright")
    model.renumber(DELETE_3_OF_5)
    model.set_rois(after_deleting(squares(SIDES), 3), SHAPE)
    assert decided(model) == {
        1: (16, UNLABELED),
        2: (25, CELL),
        3: (49, CELL),  # what was ROI 4
        4: (64, UNLABELED),  # what was ROI 5
    }
    assert model.summary(3).reason == "bright"
    assert model.roi_set().rois[2].reason == "bright"  # and that is what a file saves


def test_undo_after_renumbering_changes_the_roi_the_curator_decided(model):
    model.decide([4], CELL)
    model.decide([5], NOT_CELL)
    model.renumber(DELETE_3_OF_5)
    model.set_rois(after_deleting(squares(SIDES), 3), SHAPE)
    assert model.decisions.undo_text == "Undo: ROI 4 not cell -> unlabeled"
    assert model.undo_decision() == {4}  # was ROI 5
    assert decided(model)[4] == (64, UNLABELED)
    assert model.undo_decision() == {3}  # was ROI 4
    assert decided(model)[3] == (49, UNLABELED)
    assert model.redo_decision() == {3}
    assert decided(model)[3] == (49, CELL)


def test_a_deleted_rois_decision_shows_nowhere_but_its_undo_step_stays_in_turn(model):
    model.decide([4], CELL)
    model.decide([3], NOT_CELL)
    heard = []
    model.decisions_changed.connect(heard.append)
    changed = model.renumber(DELETE_3_OF_5)
    model.set_rois(after_deleting(squares(SIDES), 3), SHAPE)
    assert changed == {3, 4, DeletedRoi(3, 0)}
    assert heard == [changed]
    assert [row.decision for row in model.rows()] == [UNLABELED, UNLABELED, CELL, UNLABELED]
    assert len(model.roi_set().rois) == 4  # not saved either
    # undo walks back through the steps in order: first the deleted ROI's (nothing on screen)
    assert model.decisions.undo_text == "Undo: ROI 3 (deleted) not cell -> unlabeled"
    model.undo_decision()
    assert [row.decision for row in model.rows()] == [UNLABELED, UNLABELED, CELL, UNLABELED]
    model.undo_decision()
    assert [row.decision for row in model.rows()] == [UNLABELED] * 4
    # a shape drawn at the end takes key 5 again, undecided: no old decision comes back
    model.set_rois({**after_deleting(squares(SIDES), 3), 5: squares(SIDES)[3]}, SHAPE)
    assert model.summary(5).decision is UNLABELED
    model.redo_decision()
    model.redo_decision()
    assert [row.decision for row in model.rows()] == [UNLABELED, UNLABELED, CELL] + [UNLABELED] * 2


def test_a_key_deleted_twice_keeps_both_decisions_apart():
    decisions = Decisions(clock=clock())
    decisions.decide([2], CELL)
    decisions.decide([3], NOT_CELL)
    decisions.renumber({2: None, 3: 2})  # ROI 2 deleted: 3 becomes 2
    decisions.renumber({2: None})  # and deleted too
    assert decisions.get(DeletedRoi(2, 0)).decision is CELL
    assert decisions.get(DeletedRoi(2, 1)).decision is NOT_CELL
    assert decisions.get(2).decision is UNLABELED


def test_probabilities_and_redo_steps_move_too():
    decisions = Decisions(clock=clock())
    decisions.replace({}, {1: 0.1, 2: 0.2, 3: 0.3})
    decisions.decide([3], CELL)
    decisions.undo()
    decisions.renumber({1: None, 2: 1, 3: 2})
    assert [decisions.probability(k) for k in (1, 2, 3)] == [0.2, 0.3, None]
    assert decisions.redo_text == "Redo: ROI 2 unlabeled -> cell"
    assert decisions.redo() == {2}
    assert decisions.get(2).decision is CELL


def test_a_renumbering_that_would_merge_rois_is_refused_and_changes_nothing(model):
    model.decide([2], CELL)
    model.decide([3], NOT_CELL)
    for mapping in ({2: 3}, {2: 4, 3: 4, 4: None}):
        with pytest.raises(ValueError, match="ROI|same key"):
            model.renumber(mapping)
    assert [row.decision for row in model.rows()][:3] == [UNLABELED, CELL, NOT_CELL]
    assert model.decisions.undo_text == "Undo: ROI 3 not cell -> unlabeled"


def test_traces_and_the_selection_follow_and_a_deleted_rois_are_dropped(model):
    traces = {
        k: RoiTraces(model.fingerprint(k, "movie"), np.full(4, float(k)), np.zeros(4))
        for k in (3, 4, 5)
    }
    model.store_traces("movie", traces)
    model.set_selection([3, 5])
    heard = {"traces": [], "selection": []}
    model.traces_changed.connect(heard["traces"].append)
    model.selection_changed.connect(heard["selection"].append)
    model.renumber(DELETE_3_OF_5)
    model.set_rois(after_deleting(squares(SIDES), 3), SHAPE)
    assert {k: t.roi[0] for k, t in model.traces.items()} == {3: 4.0, 4: 5.0}
    assert model.selection == (4,)
    assert heard["selection"] == [(4,)]
    assert heard["traces"] == [{3, 4, 5}]
    # ROI 3 (was 4) gets a wider ring where the deleted ROI was: its traces are stale;
    # ROI 4 (was 5) has the pixels and ring its traces came from
    assert [row.trace for row in model.rows()] == ["", "", "stale", "current"]


def test_keys_not_moved_keep_everything(model):
    model.decide([1], CELL)
    model.set_selection([1])
    before = model.decisions.undo_text
    model.renumber({5: None})  # the last ROI deleted: no other moves
    assert model.summary(1).decision is CELL
    assert model.selection == (1,)
    assert model.decisions.undo_text == before


def test_times_and_reasons_travel_with_the_decision(model):
    model.decide([5], CELL, reason="round")
    when = model.summary(5).decided_at
    model.renumber(DELETE_3_OF_5)
    model.set_rois(after_deleting(squares(SIDES), 3), SHAPE)
    row = model.summary(4)
    assert (row.decision, row.reason, row.decided_at) == (CELL, "round", when)
    assert when == datetime(2026, 12, 7, 9, 0, tzinfo=timezone.utc)
