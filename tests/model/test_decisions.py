"""Curation decisions in the model: rows, undo and redo, paint undo, save and reload."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import numpy as np
import pytest

from napari_roimasks.core import MotionBorder
from napari_roimasks.io.roi_set import Decision, RoiEntry, RoiSet
from napari_roimasks.model import MAX_UNDO_STEPS, Decisions, RoiModel
from napari_roimasks.model.triage import decision_counts

CELL, NOT_CELL, UNLABELED = Decision.CELL, Decision.NOT_CELL, Decision.UNLABELED
T0 = datetime(2026, 12, 6, 9, 0, tzinfo=timezone.utc)


class Clock:
    """A clock a test moves: one minute later at each decision."""

    def __init__(self):
        self.now = T0

    def __call__(self) -> datetime:
        self.now += timedelta(minutes=1)
        return self.now


def square_labels(n: int = 6, shape=(64, 64)) -> np.ndarray:
    """(rows, columns) labels 1..n: 6x6 squares on a grid, well inside the image."""
    labels = np.zeros(shape, int)
    for k in range(1, n + 1):
        r, c = divmod(k - 1, 4)
        labels[8 + 14 * r : 14 + 14 * r, 8 + 14 * c : 14 + 14 * c] = k
    return labels


@pytest.fixture
def labels():
    return square_labels()


@pytest.fixture
def model(labels):
    model = RoiModel()
    model.decisions = Decisions(clock=Clock())
    model.set_rois_from_labels(labels)
    return model


@pytest.fixture
def heard(model):
    events = []
    model.decisions_changed.connect(events.append)
    return events


def row_decisions(model) -> dict:
    return {row.key: row.decision for row in model.rows()}


def test_new_and_drawn_rois_are_unlabeled_without_reason_time_or_probability(model, labels):
    rows = model.rows()
    assert [row.decision for row in rows] == [UNLABELED] * 6
    assert {(row.reason, row.decided_at, row.probability) for row in rows} == {("", None, None)}
    painted = labels.copy()
    painted[50:56, 50:56] = 9  # the curator draws ROI 9
    model.labels_edited(painted)
    assert model.summary(9).decision is UNLABELED


def test_a_decision_shows_in_its_row_with_its_time_and_is_announced(model, heard):
    model.decide([3], CELL, reason="round, bright")
    row = model.summary(3)
    assert (row.decision, row.reason) == (CELL, "round, bright")
    assert row.decided_at == T0 + timedelta(minutes=1)
    assert heard == [{3}]
    assert row_decisions(model) == {1: UNLABELED, 2: UNLABELED, 3: CELL, 4: UNLABELED, 5: UNLABELED, 6: UNLABELED}  # fmt: skip


def test_the_default_time_is_now_and_timezone_aware():
    model = RoiModel()
    model.set_rois_from_labels(square_labels())
    before = datetime.now(timezone.utc)
    model.decide([1], "not cell")  # the words a file or a user may give
    row = model.summary(1)
    assert row.decision is NOT_CELL
    assert row.decided_at.tzinfo is not None
    assert before <= row.decided_at <= datetime.now(timezone.utc)


def test_deciding_does_not_recompute_rois_or_rings(model):
    rebuilt = []
    model.rois_changed.connect(rebuilt.append)
    model.decide([1, 2], NOT_CELL)
    assert rebuilt == []
    assert model.summary(1).area == 36


def test_several_rois_decided_at_once_are_one_undo_step(model, heard):
    model.decide([1, 2, 5], CELL)
    assert model.decisions.undo_text == "Undo: ROIs 1, 2, 5 cell -> unlabeled"
    assert model.undo_decision() == {1, 2, 5}
    assert set(row_decisions(model).values()) == {UNLABELED}
    assert not model.decisions.can_undo
    assert heard == [{1, 2, 5}, {1, 2, 5}]  # undo tells the views as a decision does


def test_undo_gives_back_the_previous_decision_reason_and_time(model):
    model.decide([4], CELL, reason="clear soma")
    first = model.summary(4)
    model.decide([4], NOT_CELL, reason="dendrite")
    assert model.decisions.undo_text == "Undo: ROI 4 not cell -> cell"
    model.undo_decision()
    assert model.summary(4) == first
    assert model.decisions.redo_text == "Redo: ROI 4 cell -> not cell"
    model.redo_decision()
    row = model.summary(4)
    assert (row.decision, row.reason, row.decided_at) == (NOT_CELL, "dendrite", T0 + timedelta(minutes=2))  # fmt: skip


def test_a_new_decision_clears_redo(model):
    model.decide([1], CELL)
    model.undo_decision()
    assert model.decisions.can_redo
    model.decide([2], NOT_CELL)
    assert not model.decisions.can_redo and model.decisions.redo_text == ""
    assert model.redo_decision() == set()
    assert model.summary(1).decision is UNLABELED


def test_deciding_the_same_again_adds_no_undo_step(model, heard):
    model.decide([1], CELL)
    assert model.decide([1], CELL) == set()
    assert model.decide([1], "cell") == set()
    assert heard == [{1}]
    model.decide([1, 2], CELL)  # only ROI 2 changes
    assert model.decisions.undo_text == "Undo: ROI 2 cell -> unlabeled"
    model.undo_decision()
    model.undo_decision()
    assert not model.decisions.can_undo
    assert model.summary(1).decision is UNLABELED


def test_a_reason_is_its_own_undo_step_and_keeps_the_decision(model):
    model.decide([2], NOT_CELL)
    model.set_reason([2], "out of focus")
    row = model.summary(2)
    assert (row.decision, row.reason) == (NOT_CELL, "out of focus")
    assert model.decisions.undo_text == "Undo: ROI 2 reason 'out of focus' -> none"
    model.undo_decision()
    assert (model.summary(2).decision, model.summary(2).reason) == (NOT_CELL, "")
    model.decide([2], CELL)  # a decision without reason keeps the ROI's reason
    model.set_reason([2], "bright")
    model.decide([2], NOT_CELL)
    assert model.summary(2).reason == "bright"


def test_undo_remembers_150_steps_and_more(model):
    assert MAX_UNDO_STEPS >= 150
    for step in range(150):
        model.decide([1 + step % 6], (CELL, NOT_CELL)[step // 6 % 2])
    assert row_decisions(model) != dict.fromkeys(range(1, 7), UNLABELED)
    undone = 0
    while model.decisions.can_undo:
        model.undo_decision()
        undone += 1
    assert undone == 150
    assert row_decisions(model) == dict.fromkeys(range(1, 7), UNLABELED)
    assert all(row.decided_at is None for row in model.rows())


def test_beyond_the_limit_the_oldest_steps_are_forgotten():
    decisions = Decisions(max_steps=100)
    for step in range(150):
        decisions.decide([step], CELL)
    undone = 0
    while decisions.can_undo:
        decisions.undo()
        undone += 1
    assert undone == 100
    assert decisions.get(49).decision is CELL and decisions.get(50).decision is UNLABELED


def test_undo_text_names_many_rois_by_count_and_mixed_decisions(model):
    model.decide([1], CELL)
    model.decide([1, 2, 3, 4], NOT_CELL)
    assert model.decisions.undo_text == "Undo: 4 ROIs not cell -> cell/unlabeled"
    assert (model.decisions.can_undo, model.decisions.can_redo) == (True, False)


def test_a_deleted_roi_keeps_its_decision_and_paint_undo_brings_it_back(model, labels):
    model.decide([3], NOT_CELL, reason="two cells merged")
    decided = model.summary(3)
    erased = labels.copy()
    erased[erased == 3] = 0  # the curator erases every pixel of ROI 3
    model.labels_edited(erased)
    assert 3 not in row_decisions(model)  # not shown
    assert decision_counts(model.rows()) == {CELL: 0, NOT_CELL: 0, UNLABELED: 5}  # nor counted
    assert 3 not in {e.id for e in model.roi_set().rois}
    model.labels_edited(labels)  # napari's paint undo puts its pixels back
    assert model.summary(3) == decided
    assert decision_counts(model.rows())[NOT_CELL] == 1


def test_deciding_an_roi_that_is_gone_is_refused_and_changes_nothing(model, labels):
    erased = labels.copy()
    erased[erased == 2] = 0
    model.labels_edited(erased)
    with pytest.raises(ValueError, match="no ROI 2"):
        model.decide([1, 2], CELL)
    assert model.summary(1).decision is UNLABELED and not model.decisions.can_undo


def test_reading_the_label_image_again_keeps_decisions(model, labels):
    model.decide([5], CELL)
    model.set_rois_from_labels(labels)
    assert model.summary(5).decision is CELL


def every_field_set() -> RoiSet:
    model = RoiModel()
    model.set_rois_from_labels(square_labels(4))
    rois = model.roi_set().rois
    paris = timezone(timedelta(hours=1))
    fields = [
        (CELL, "soma", datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc), 0.93),
        (NOT_CELL, "neuropil blob", datetime(2026, 1, 2, 3, 5, tzinfo=paris), 0.125),
        (UNLABELED, "", None, None),
        (NOT_CELL, "", None, 0.5),
    ]
    entries = [
        RoiEntry(e.id, e.crop, e.mask_group, decision=d, reason=r, decided_at=t, probability=p)
        for e, (d, r, t, p) in zip(rois, fields, strict=True)
    ]
    return RoiSet(entries, MotionBorder(2, 2, 2, 2), (64, 64))


def entry_fields(roi_set: RoiSet) -> list:
    return [
        (e.id, e.decision, e.reason, e.decided_at, e.probability, e.crop.area) for e in roi_set.rois
    ]


def test_load_shows_every_decision_field_and_roi_set_gives_them_back():
    saved = every_field_set()
    model = RoiModel()
    heard = []
    model.decisions_changed.connect(heard.append)
    model.load(saved)
    assert heard == [None]
    assert [(r.decision, r.reason, r.decided_at, r.probability) for r in model.rows()] == [
        f[1:5] for f in entry_fields(saved)
    ]
    assert entry_fields(model.roi_set()) == entry_fields(saved)


def test_loading_a_session_replaces_decisions_and_forgets_their_undo(model):
    model.decide([1, 2], CELL)
    model.load(every_field_set())
    assert not model.decisions.can_undo
    assert [row.decision for row in model.rows()] == [CELL, NOT_CELL, UNLABELED, NOT_CELL]


def test_a_session_that_cannot_load_keeps_the_decisions_in_place(model):
    model.decide([1], CELL)
    bad = every_field_set()
    bad.border = MotionBorder(40, 40, 0, 0)  # leaves no usable pixel of 64x64
    with pytest.raises(ValueError, match="no usable pixel"):
        model.load(bad)
    assert model.summary(1).decision is CELL and model.decisions.can_undo


def test_a_nan_probability_is_unknown():
    saved = every_field_set()
    saved.rois[0] = RoiEntry(saved.rois[0].id, saved.rois[0].crop, probability=float("nan"))
    model = RoiModel()
    model.load(saved)
    assert model.rows()[0].probability is None
