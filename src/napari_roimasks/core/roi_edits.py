"""Merging and splitting ROIs of a label image, as edits that can be applied and reverted.

Each function reads a (rows, columns) label image and returns a
:class:`LabelEdit`: the box of pixels the edit changes, with its labels before
and after. Applying it writes ``after`` into the box, reverting writes
``before``; nothing else of the image is touched, so an edit's cost follows the
ROIs it changes, not the image.

- :func:`merge_edit`: ROIs become one (the union of their pixels) under the
  lowest of their labels.
- :func:`split_pieces_edit`: an ROI's connected pieces (8-connected, as
  napari's fill sees them) each get a new label.
- :func:`split_by_line_edit`: a line drawn across an ROI cuts it; the line is a
  4-connected run of pixels, which no 8-connected piece can cross, and each of
  its pixels then goes to the piece it touches most (none is lost).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

__all__ = [
    "LabelEdit",
    "RoiEditError",
    "line_pixels",
    "merge_edit",
    "split_by_line_edit",
    "split_pieces_edit",
]


class RoiEditError(ValueError):
    """An edit that cannot be made (the message says why, for the user)."""


@dataclass(frozen=True)
class LabelEdit:
    """A change of a label image inside a box.

    Attributes
    ----------
    top, left : int
        The box's first row and column in the image.
    before, after : (rows, columns) ndarray
        The box's labels before and after the edit (the image's dtype).
    """

    top: int
    left: int
    before: np.ndarray
    after: np.ndarray

    @property
    def slices(self) -> tuple[slice, slice]:
        """The box, to index the image with."""
        rows, columns = self.before.shape
        return slice(self.top, self.top + rows), slice(self.left, self.left + columns)

    @property
    def changed(self) -> np.ndarray:
        """(rows, columns) bool: the box's pixels the edit changes."""
        return self.before != self.after

    @property
    def labels(self) -> set[int]:
        """Every label whose pixels the edit changes (gone, grown, shrunk or new)."""
        changed = self.changed
        return {int(v) for v in np.unique(self.before[changed])} | {
            int(v) for v in np.unique(self.after[changed])
        } - {0}

    def apply(self, labels: np.ndarray) -> None:
        """Write the edit into ``labels`` (in place)."""
        labels[self.slices] = self.after

    def revert(self, labels: np.ndarray) -> None:
        """Write the labels from before the edit back into ``labels`` (in place)."""
        labels[self.slices] = self.before

    def is_applied_in(self, labels: np.ndarray) -> bool:
        """Whether ``labels`` holds the edit (its box equals ``after``)."""
        return bool(np.array_equal(labels[self.slices], self.after))

    def is_reverted_in(self, labels: np.ndarray) -> bool:
        """Whether ``labels`` holds the box as it was before the edit."""
        return bool(np.array_equal(labels[self.slices], self.before))


def _box(mask: np.ndarray) -> tuple[slice, slice]:
    rows = np.flatnonzero(mask.any(axis=1))
    columns = np.flatnonzero(mask.any(axis=0))
    return slice(rows[0], rows[-1] + 1), slice(columns[0], columns[-1] + 1)


def _edit(labels: np.ndarray, where: tuple[slice, slice], after: np.ndarray) -> LabelEdit:
    return LabelEdit(where[0].start, where[1].start, np.array(labels[where], copy=True), after)


def merge_edit(labels: np.ndarray, keys: Iterable[int]) -> tuple[LabelEdit, int]:
    """The ROIs ``keys`` become one, under the lowest of them.

    Parameters
    ----------
    labels : (rows, columns) int ndarray
    keys : iterable of int
        At least two labels the image holds.

    Returns
    -------
    edit : LabelEdit
    kept : int
        The label of the merged ROI.

    Raises
    ------
    RoiEditError
        Fewer than two ROIs, or a label the image does not hold.
    """
    keys = sorted({int(k) for k in keys})
    if len(keys) < 2:
        raise RoiEditError("select two ROIs or more to merge them")
    inside = np.isin(labels, keys)
    present = set(np.unique(labels[inside]).tolist())
    missing = [k for k in keys if k not in present]
    if missing:
        raise RoiEditError(f"ROI {missing[0]} has no pixels to merge")
    where = _box(inside)
    after = np.array(labels[where], copy=True)
    after[inside[where]] = keys[0]
    return _edit(labels, where, after), keys[0]


def split_pieces_edit(labels: np.ndarray, key: int, first_new: int) -> tuple[LabelEdit, list[int]]:
    """Each 8-connected piece of the ROI ``key`` becomes an ROI of its own.

    Parameters
    ----------
    labels : (rows, columns) int ndarray
    key : int
    first_new : int
        The first new label (the pieces get ``first_new``, ``first_new + 1``, ... in
        reading order of their first pixel).

    Returns
    -------
    edit : LabelEdit
    new : list of int
        The new labels.

    Raises
    ------
    RoiEditError
        When the ROI is one piece (or has no pixels).
    """
    from scipy.ndimage import label

    mask = labels == key
    if not mask.any():
        raise RoiEditError(f"ROI {key} has no pixels to split")
    where = _box(mask)
    pieces, count = label(mask[where], structure=np.ones((3, 3), bool))
    if count < 2:
        raise RoiEditError(
            f"ROI {key} is one piece: draw a line across it to cut it (or paint it apart)"
        )
    return _pieces(labels, where, pieces, count, first_new)


def _pieces(labels, where, pieces: np.ndarray, count: int, first_new: int):
    highest = first_new + count - 1
    if np.issubdtype(labels.dtype, np.integer) and highest > np.iinfo(labels.dtype).max:
        raise RoiEditError(
            f"the ROI layer's labels ({labels.dtype}) go up to {np.iinfo(labels.dtype).max}: "
            f"no room for label {highest}; convert the layer to int32 first"
        )
    after = np.array(labels[where], copy=True)
    inside = pieces > 0
    new = list(range(first_new, first_new + count))
    after[inside] = (pieces[inside] - 1 + first_new).astype(after.dtype)
    return _edit(labels, where, after), new


def line_pixels(start, end) -> tuple[np.ndarray, np.ndarray]:
    """A 4-connected run of pixels from ``start`` to ``end`` ((row, column), either may be
    fractional): each step moves one row or one column, so an 8-connected region cannot
    cross it.

    Returns
    -------
    rows, columns : (n,) int ndarray
    """
    (r0, c0), (r1, c1) = np.rint(start).astype(int), np.rint(end).astype(int)
    rows, columns = [r0], [c0]
    r, c = r0, c0
    dr, dc = r1 - r0, c1 - c0
    n = abs(dr) + abs(dc)
    for _ in range(n):
        # step along the axis that keeps the run closest to the straight line
        options = []
        if r != r1:
            options.append((r + np.sign(dr), c))
        if c != c1:
            options.append((r, c + np.sign(dc)))
        r, c = min(options, key=lambda p: abs((p[0] - r0) * dc - (p[1] - c0) * dr))
        rows.append(r)
        columns.append(c)
    return np.array(rows), np.array(columns)


def split_by_line_edit(
    labels: np.ndarray, key: int, start, end, first_new: int
) -> tuple[LabelEdit, list[int]]:
    """Cut the ROI ``key`` along the line from ``start`` to ``end`` ((row, column)).

    The line's pixels are taken out, the rest falls into 8-connected pieces, and
    each line pixel of the ROI goes back to the piece it touches on most sides (so
    the pieces together hold the ROI's pixels); each piece gets a new label.

    Raises
    ------
    RoiEditError
        When the line does not cut the ROI in two pieces or more.
    """
    from scipy.ndimage import label

    mask = labels == key
    if not mask.any():
        raise RoiEditError(f"ROI {key} has no pixels to split")
    rows, columns = line_pixels(start, end)
    inside = (rows >= 0) & (rows < labels.shape[0]) & (columns >= 0) & (columns < labels.shape[1])
    cut = np.zeros_like(mask)
    cut[rows[inside], columns[inside]] = True
    cut &= mask
    where = _box(mask)
    kept = mask[where] & ~cut[where]
    pieces, count = label(kept, structure=np.ones((3, 3), bool))
    if count < 2:
        raise RoiEditError(f"the line does not cut ROI {key} in two: draw it across the ROI")
    # each cut pixel joins the piece it touches most (its 4-neighbours first, then its
    # diagonal ones), passing along the line until every one has a piece
    box_cut = [tuple(p) for p in np.argwhere(cut[where])]
    height, width = kept.shape
    sides = ((-1, 0), (1, 0), (0, -1), (0, 1))
    corners = ((-1, -1), (-1, 1), (1, -1), (1, 1))
    while box_cut:
        left = []
        for r, c in box_cut:
            for steps in (sides, corners):
                near = [
                    pieces[r + dr, c + dc]
                    for dr, dc in steps
                    if 0 <= r + dr < height and 0 <= c + dc < width and pieces[r + dr, c + dc] > 0
                ]
                if near:
                    values, counts = np.unique(near, return_counts=True)
                    pieces[r, c] = values[np.argmax(counts)]
                    break
            else:
                left.append((r, c))
        if len(left) == len(box_cut):  # cannot happen: the ROI's pixels are connected to a piece
            break
        box_cut = left
    return _pieces(labels, where, pieces, count, first_new)
