"""The triage order: what the table shows, sorted and filtered, and which ROI comes next."""

from __future__ import annotations

from datetime import datetime, timezone

import numpy as np
import pytest

from napari_roimasks.core import MotionBorder
from napari_roimasks.core.metrics import METRICS
from napari_roimasks.io.roi_set import Decision
from napari_roimasks.model import SORT_COLUMNS, AfterDecision, RoiModel, RoiSummary, TriageView
from napari_roimasks.model.triage import decision_counts, sorted_keys

CELL, NOT_CELL, UNLABELED = Decision.CELL, Decision.NOT_CELL, Decision.UNLABELED
STAY, ADVANCE = AfterDecision.STAY, AfterDecision.ADVANCE_TO_NEXT_UNLABELED
BORDER = ("motion_border",)


def when(hour: int) -> datetime:
    return datetime(2026, 12, 6, hour, tzinfo=timezone.utc)


#: key, area, ring, exclusions, trace, decision, reason, decided_at, probability
ROWS = [
    RoiSummary(1, 40, 300, (), "current", CELL, "Bright soma", when(9), 0.9),
    RoiSummary(2, 25, 280, BORDER, "", NOT_CELL, "at the edge", when(10), 0.2),
    RoiSummary(3, 40, 0, ("empty_neuropil",), "stale", UNLABELED, "", None, None),
    RoiSummary(4, 60, 310, (), "current", UNLABELED, "", None, 0.9),
    RoiSummary(5, 25, 290, BORDER, "", CELL, "dim", when(8), 0.5),
    RoiSummary(6, 10, 250, (), "", UNLABELED, "", None, 0.1),
]


@pytest.mark.parametrize(
    ("column", "ascending", "descending"),
    [
        ("key", [1, 2, 3, 4, 5, 6], [6, 5, 4, 3, 2, 1]),
        ("area", [6, 2, 5, 1, 3, 4], [4, 1, 3, 2, 5, 6]),
        ("ring_pixels", [3, 6, 2, 5, 1, 4], [4, 1, 5, 2, 6, 3]),
        ("exclusions", [1, 4, 6, 3, 2, 5], [2, 5, 3, 1, 4, 6]),  # then by name
        ("trace", [2, 5, 6, 3, 1, 4], [1, 4, 3, 2, 5, 6]),
        ("decision", [1, 5, 2, 3, 4, 6], [3, 4, 6, 2, 1, 5]),
        ("probability", [6, 2, 5, 1, 4, 3], [1, 4, 5, 2, 6, 3]),  # unknown last both ways
        ("reason", [3, 4, 6, 2, 1, 5], [5, 1, 2, 3, 4, 6]),  # case-blind
        ("decided_at", [5, 1, 2, 3, 4, 6], [2, 1, 5, 3, 4, 6]),
    ],
)
def test_every_column_sorts_both_ways_with_ties_in_key_order(column, ascending, descending):
    shuffled = [ROWS[i] for i in (3, 0, 5, 2, 4, 1)]
    assert sorted_keys(shuffled, column) == ascending
    assert sorted_keys(shuffled, column, descending=True) == descending


def test_every_column_of_a_row_can_be_sorted_by():
    fields = set(RoiSummary.__dataclass_fields__) - {"metrics"}
    assert set(SORT_COLUMNS) == fields | set(METRICS)  # and each metric by its name
    with pytest.raises(ValueError, match="cannot sort by 'size': choose one of key, area"):
        TriageView(ROWS, sort_by="size")


def test_filter_by_decision_and_by_text_in_id_reason_or_exclusion():
    view = TriageView(ROWS)
    view.set_filter(decisions={CELL, NOT_CELL})
    assert view.keys == [1, 2, 5]
    view.set_filter(text="BRIGHT")  # the reason, case-blind, within the decisions chosen
    assert view.keys == [1]
    view.set_filter(decisions=None, text="motion border")  # what the table says
    assert view.keys == [2, 5]
    view.set_filter(text="Empty_Neuropil")  # AllenSDK's name
    assert view.keys == [3]
    view.set_filter(text="6")  # the ROI id
    assert view.keys == [6]
    view.set_filter(decisions=["unlabeled"], text="")
    assert view.keys == [3, 4, 6] and len(view) == 3 and 4 in view and 1 not in view
    assert view.row_index(6) == 2 and view.row_index(1) is None


def test_next_and_previous_follow_the_sort_and_filter_and_stop_at_the_ends():
    view = TriageView(ROWS, sort_by="area", descending=True, decisions={UNLABELED, NOT_CELL})
    assert view.keys == [4, 3, 2, 6]
    assert view.next_roi(None) == 4 and view.previous_roi(None) == 6
    assert [view.next_roi(k) for k in (4, 3, 2, 6)] == [3, 2, 6, None]
    assert [view.previous_roi(k) for k in (4, 3, 2, 6)] == [None, 4, 3, 2]
    assert view.next_roi(6, wrap=True) == 4 and view.previous_roi(4, wrap=True) == 6
    # from an ROI the filter hides, where the sort puts it: area 40 (ROI 1) before ROI 3
    assert view.next_roi(1) == 3 and view.previous_roi(1) == 4


def test_next_unlabeled_skips_decided_rois_shown():
    view = TriageView(ROWS, sort_by="probability", descending=True)
    assert view.keys == [1, 4, 5, 2, 6, 3]
    assert view.next_unlabeled(None) == 4
    assert view.next_unlabeled(4) == 6 and view.next_unlabeled(6) == 3
    assert view.next_unlabeled(3) is None and view.next_unlabeled(3, wrap=True) == 4


def test_one_roi_alone_has_no_next_even_when_wrapping():
    view = TriageView(ROWS, text="bright")
    assert view.next_roi(1, wrap=True) is None and view.previous_roi(1, wrap=True) is None
    assert TriageView([]).next_roi(None) is None


def test_rois_that_come_and_go_take_their_place_in_the_order():
    # a merge takes an ROI away, a split brings a new one: the rows' keys change between steps
    view = TriageView(ROWS)
    view.set_rows([row for row in ROWS if row.key != 3])
    assert view.keys == [1, 2, 4, 5, 6] and view.next_roi(2) == 4 and view.row_index(6) == 4
    split = RoiSummary(7, 12, 200, (), "", UNLABELED, "", None, None)
    view.set_rows([split, *ROWS])  # the model's rows in any order
    assert view.keys == [1, 2, 3, 4, 5, 6, 7] and view.row_index(7) == 6
    assert view.next_roi(6) == 7 and view.previous_roi(3) == 2 and view.next_unlabeled(6) == 7
    view.sort("key", descending=True)
    assert view.keys == [7, 6, 5, 4, 3, 2, 1] and view.next_roi(7) == 6


def test_decision_counts_count_every_decision():
    assert decision_counts(ROWS) == {CELL: 2, NOT_CELL: 1, UNLABELED: 3}


# -- a curator's steps through the model ------------------------------------------------------
def grid_labels(n: int, shape=(512, 512), step: int = 16) -> np.ndarray:
    """(rows, columns) labels 1..n: 9x9 squares on a grid, row by row."""
    labels = np.zeros(shape, int)
    per_row = shape[1] // step
    for k in range(1, n + 1):
        r, c = divmod(k - 1, per_row)
        labels[r * step + 3 : r * step + 12, c * step + 3 : c * step + 12] = k
    return labels


@pytest.fixture
def model():
    model = RoiModel()
    model.set_border(MotionBorder(2, 2, 2, 2))
    model.set_rois_from_labels(grid_labels(12, shape=(64, 64)))
    return model


def step(model, view, key, decision, policy, **kwargs):
    """One keyboard step: decide the ROI the cursor is on, redraw, and move."""
    place = view.place(key)
    model.decide([key], decision)
    view.set_rows(model.rows())
    return view.after_decision(place, policy, **kwargs)


def test_advancing_walks_the_unlabeled_rois_in_table_order(model):
    view = TriageView(model.rows(), sort_by="key", descending=True)
    model.decide([10, 8], CELL)
    view.set_rows(model.rows())
    current, visited = view.next_unlabeled(None), []
    while current is not None and model.summary(current).decision is UNLABELED:
        visited.append(current)
        current = step(model, view, current, NOT_CELL, ADVANCE)
    assert visited == [12, 11, 9, 7, 6, 5, 4, 3, 2, 1]
    assert current == 1  # nothing unlabeled after it: the cursor stays


def test_staying_keeps_the_roi_even_when_the_sort_moves_it(model):
    view = TriageView(model.rows(), sort_by="decision")
    assert step(model, view, 5, CELL, STAY) == 5
    assert view.keys[0] == 5  # cells sort first


def test_when_the_filter_hides_the_decided_roi_the_next_row_takes_its_place(model):
    view = TriageView(model.rows(), decisions={UNLABELED})
    assert step(model, view, 4, CELL, STAY) == 5
    assert step(model, view, 12, CELL, STAY) == 11  # the last row: the one above
    assert step(model, view, 5, CELL, ADVANCE) == 6


def test_advancing_counts_from_where_the_roi_stood_before_the_sort_moved_it(model):
    view = TriageView(model.rows(), sort_by="decision", descending=True)  # unlabeled on top
    assert step(model, view, 3, CELL, ADVANCE) == 4  # ROI 3 went to the bottom
    assert view.keys[-1] == 3


def test_advancing_past_the_last_unlabeled_stays_or_wraps(model):
    view = TriageView(model.rows())
    assert step(model, view, 12, CELL, ADVANCE) == 12
    assert step(model, view, 11, CELL, ADVANCE, wrap=True) == 1


def test_a_key_instead_of_a_place_uses_the_order_now(model):
    view = TriageView(model.rows())
    model.decide([2], CELL)
    view.set_rows(model.rows())
    assert view.after_decision(2, ADVANCE) == 3 and view.after_decision(2, "stay") == 2


def test_undo_shows_in_the_view_after_the_rows_are_taken_again(model):
    view = TriageView(model.rows(), decisions={CELL})
    model.decide([7, 9], CELL)
    view.set_rows(model.rows())
    assert view.keys == [7, 9]
    model.undo_decision()
    view.set_rows(model.rows())
    assert view.keys == []


def test_a_hundred_triage_steps_through_1000_rois_walk_the_filtered_order():
    # (its speed is measured in benchmarks/bench_gui.py, never asserted here)
    model = RoiModel()
    model.set_rois_from_labels(grid_labels(1000))
    view = TriageView(model.rows(), sort_by="area", decisions={UNLABELED})
    current = view.next_roi(None)
    for _ in range(100):
        current = step(model, view, current, CELL, ADVANCE)
    assert current == 101 and len(view) == 900
