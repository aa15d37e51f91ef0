"""Merge and split edits of a label image: what they change, and that they undo exactly."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.ndimage import label

from napari_roimasks.core.roi_edits import (
    RoiEditError,
    line_pixels,
    merge_edit,
    split_by_line_edit,
    split_pieces_edit,
)


def discs() -> np.ndarray:
    labels = np.zeros((40, 50), np.int32)
    rows, columns = np.ogrid[:40, :50]
    for key, (r, c, radius) in enumerate([(10, 10, 5), (12, 22, 5), (28, 30, 6), (30, 42, 4)], 1):
        labels[(rows - r) ** 2 + (columns - c) ** 2 <= radius**2] = key
    return labels


def test_a_merge_is_the_union_under_the_lowest_label_and_reverts_exactly():
    labels = discs()
    before = labels.copy()
    edit, kept = merge_edit(labels, [4, 2])
    assert kept == 2 and edit.labels == {2, 4}
    edit.apply(labels)
    np.testing.assert_array_equal(labels == 2, (before == 2) | (before == 4))
    assert not (labels == 4).any()
    np.testing.assert_array_equal(labels[before == 1], 1)  # nothing else changed
    assert edit.is_applied_in(labels) and not edit.is_reverted_in(labels)
    edit.revert(labels)
    np.testing.assert_array_equal(labels, before)
    with pytest.raises(RoiEditError, match="select two ROIs or more"):
        merge_edit(labels, [3])
    with pytest.raises(RoiEditError, match="ROI 9 has no pixels"):
        merge_edit(labels, [3, 9])


def test_split_into_pieces_gives_each_piece_a_new_label():
    labels = discs()
    merge, _ = merge_edit(labels, [1, 3])
    merge.apply(labels)
    edit, new = split_pieces_edit(labels, 1, first_new=5)
    assert new == [5, 6]
    before = labels.copy()
    edit.apply(labels)
    assert not (labels == 1).any()
    assert {(labels == k).sum() for k in new} == {(discs() == 1).sum(), (discs() == 3).sum()}
    edit.revert(labels)
    np.testing.assert_array_equal(labels, before)
    with pytest.raises(RoiEditError, match="ROI 2 is one piece"):
        split_pieces_edit(labels, 2, first_new=7)


@pytest.mark.parametrize(
    ("start", "end"),
    [((0, 30), (40, 30)), ((18, 20), (40, 42)), ((10, 0), (40, 50)), ((28.4, 20), (28.4, 40))],
)
def test_a_line_across_an_roi_cuts_it_and_every_pixel_stays_in_a_piece(start, end):
    labels = discs()
    before = labels.copy()
    edit, new = split_by_line_edit(labels, 3, start, end, first_new=5)
    edit.apply(labels)
    assert len(new) >= 2 and not (labels == 3).any()
    pieces = np.isin(labels, new)
    np.testing.assert_array_equal(pieces, before == 3)  # no pixel lost or gained
    for key in new:  # each piece is one 8-connected piece
        assert label(labels == key, structure=np.ones((3, 3)))[1] == 1
    np.testing.assert_array_equal(labels[~pieces], before[~pieces])
    edit.revert(labels)
    np.testing.assert_array_equal(labels, before)


def test_a_line_that_misses_the_roi_is_refused():
    with pytest.raises(RoiEditError, match="does not cut ROI 3 in two"):
        split_by_line_edit(discs(), 3, (0, 0), (5, 0), first_new=5)


def test_the_line_is_four_connected_from_end_to_end():
    rows, columns = line_pixels((2.2, 3), (9, 20))
    assert (rows[0], columns[0]) == (2, 3) and (rows[-1], columns[-1]) == (9, 20)
    steps = np.abs(np.diff(rows)) + np.abs(np.diff(columns))
    assert np.all(steps == 1)


def test_a_thin_diagonal_roi_cut_across_leaves_no_pixel_under_its_old_label():
    labels = np.zeros((14, 14), np.int32)
    for i in range(2, 12):
        labels[i, i] = 5  # one pixel wide, 8-connected only
    edit, new = split_by_line_edit(labels, 5, (2, 12), (12, 2), first_new=6)
    edit.apply(labels)
    assert not (labels == 5).any() and set(np.unique(labels)) == {0, *new}


def test_a_split_that_needs_a_label_the_layers_type_cannot_hold_is_refused():
    labels = np.zeros((10, 10), np.uint8)
    labels[1:3, 1:3] = labels[6:8, 6:8] = 1
    labels[4, 4] = 254
    with pytest.raises(RoiEditError, match=r"labels \(uint8\) go up to 255: no room for label 256"):
        split_pieces_edit(labels, 1, first_new=255)
