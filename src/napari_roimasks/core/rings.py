"""Every ROI's neuropil ring, built at once and kept current as ROIs are edited.

A ring depends only on its own ROI and on which pixels other ROIs occupy
inside its window. So when one ROI changes, only its own ring and the rings
whose window touches its old or new box can change; :meth:`NeuropilRings.update`
recomputes exactly those, cheap enough to run on every brush stroke.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping

import numpy as np

from .border import MotionBorder
from .masks import MaskCrop
from .neuropil import RingOptions, neuropil_region, ring_in_usable_area

__all__ = ["NeuropilRings", "roi_crops_from_labels"]


#: Largest label read with ``find_objects`` as it is (a list of this many entries at most).
_DIRECT_LABELS_LIMIT = 1 << 20


def roi_crops_from_labels(labels: np.ndarray) -> dict[int, MaskCrop]:
    """Every label of a label image as a tight :class:`MaskCrop`.

    Parameters
    ----------
    labels : (rows, columns) int ndarray
        0 is background, k > 0 is ROI k.

    Returns
    -------
    dict
        Label -> its pixels, for every label present.
    """
    labels = _label_image(labels)
    top = int(labels.max()) if labels.size else 0
    if top <= _DIRECT_LABELS_LIMIT:
        values = None  # find_objects keeps a list as long as the largest label: cheap here
        compact = labels
    else:  # a label of 2**31 - 1 must cost what one ROI costs: number the labels 1, 2, ...
        values, inverse = np.unique(labels, return_inverse=True)
        compact = inverse.reshape(labels.shape)
        if values[0] != 0:  # no background: index 0 is a label too
            values, compact = np.concatenate([[0], values]), compact + 1
    crops = {}
    for index, (top, left, bottom, right) in _label_boxes(compact).items():
        label = index if values is None else int(values[index])
        window = compact[top:bottom, left:right]
        crops[label] = MaskCrop(top, left, window == index)
    return crops


def _label_boxes(labels: np.ndarray) -> dict[int, tuple[int, int, int, int]]:
    """Each label's box ``(top, left, bottom, right)`` (exclusive ends), by label, ascending
    (scipy's ``find_objects`` without scipy, which takes long to import)."""
    rows, columns = np.nonzero(labels)
    if rows.size == 0:
        return {}
    values = labels[rows, columns]
    order = np.argsort(values, kind="stable")
    values, rows, columns = values[order], rows[order], columns[order]
    starts = np.flatnonzero(np.r_[True, values[1:] != values[:-1]])
    # rows come sorted within each label (np.nonzero's order, kept by the stable sort)
    tops, bottoms = rows[starts], rows[np.r_[starts[1:], rows.size] - 1] + 1
    lefts = np.minimum.reduceat(columns, starts)
    rights = np.maximum.reduceat(columns, starts) + 1
    return {
        int(v): (int(t), int(lf), int(b), int(rt))
        for v, t, lf, b, rt in zip(values[starts], tops, lefts, bottoms, rights, strict=True)
    }


def _label_image(labels) -> np.ndarray:
    labels = np.asarray(labels)
    if labels.ndim != 2:
        raise ValueError(f"a label image must be 2D (rows, columns), got shape {labels.shape}")
    if labels.dtype.kind not in "iub":
        raise TypeError(f"a label image must hold whole numbers, got dtype {labels.dtype}")
    if labels.dtype.kind == "i" and labels.size and labels.min() < 0:
        raise ValueError("a label image must not hold negative labels")
    return labels


class NeuropilRings:
    """The neuropil ring of every ROI of one image.

    Parameters
    ----------
    image_shape : (rows, columns)
        Size of the image.
    border : MotionBorder, optional
        Rings stay out of it; default none.
    options : RingOptions, optional
        Radius, gap and minimum size; default AllenSDK's.

    Examples
    --------
    >>> rings = NeuropilRings.from_labels(labels, border=MotionBorder(3, 3, 2, 2))
    >>> labels[40:44, 50:55] = 7                       # the user paints ROI 7
    >>> rings.update_from_labels(labels, [7])          # rings that were recomputed
    {7, 12, 31}
    """

    def __init__(
        self, image_shape, *, border: MotionBorder | None = None, options: RingOptions | None = None
    ):
        self.image_shape = (int(image_shape[0]), int(image_shape[1]))
        self.border = border or MotionBorder()
        self.options = options or RingOptions()
        self._usable = self.border.usable_area(*self.image_shape)
        self._rois: dict[Hashable, MaskCrop] = {}
        self._regions: dict[Hashable, MaskCrop] = {}
        self._rings: dict[Hashable, MaskCrop | None] = {}
        # how many ROIs cover each pixel: overlapping ROIs (drawn shapes) stay right on removal
        self._occupancy = np.zeros(self.image_shape, dtype=np.uint32)
        # every ring's window, for finding the rings an edit can reach
        self._window_keys: list[Hashable] = []
        self._window_index: dict[Hashable, int] = {}
        self._window_bounds = np.zeros((0, 4), dtype=np.int64)
        # where ring pixels may have changed since take_dirty_box() was last called
        self._dirty: tuple[int, int, int, int] | None = None

    # -- building ---------------------------------------------------------------------------
    @classmethod
    def from_labels(cls, labels, **settings) -> NeuropilRings:
        """Rings for every label of a (rows, columns) label image."""
        labels = _label_image(labels)
        rings = cls(labels.shape, **settings)
        rings.set_rois(roi_crops_from_labels(labels))
        return rings

    @classmethod
    def from_masks(
        cls, masks: Mapping[Hashable, MaskCrop], image_shape, **settings
    ) -> NeuropilRings:
        """Rings for ROIs given as crops; ROIs may overlap."""
        rings = cls(image_shape, **settings)
        rings.set_rois(masks)
        return rings

    def set_rois(self, masks: Mapping[Hashable, MaskCrop]) -> None:
        """Replace every ROI and rebuild every ring."""
        self._rois = {}
        self._occupancy[:] = 0
        for key, crop in masks.items():
            if crop is not None and crop.pixels.any():
                self._check_inside(key, crop)
                self._rois[key] = crop
                self._occupancy[crop.slices] += crop.pixels
        self._rebuild()

    def set_border(self, border: MotionBorder) -> None:
        """Change the motion border and rebuild every ring."""
        self.border = border
        self._usable = border.usable_area(*self.image_shape)
        self._rebuild()

    def set_options(self, options: RingOptions) -> None:
        """Change the ring options and rebuild every ring."""
        self.options = options
        self._rebuild()

    def _rebuild(self) -> None:
        self._dirty = (0, 0, *self.image_shape)
        self._regions, self._rings = {}, {}
        for key in self._rois:
            self._compute(key)
        self._window_keys = list(self._regions)
        self._window_index = {k: i for i, k in enumerate(self._window_keys)}
        self._window_bounds = np.array(
            [_bounds(self._regions[k]) for k in self._window_keys], dtype=np.int64
        ).reshape(-1, 4)

    def _check_inside(self, key, crop: MaskCrop) -> None:
        if (
            crop.top < 0
            or crop.left < 0
            or crop.bottom > self.image_shape[0]
            or crop.right > self.image_shape[1]
        ):
            raise ValueError(
                f"ROI {key!r} lies partly outside the {self.image_shape[0]}x{self.image_shape[1]} image"
            )

    def _compute(self, key) -> None:
        self._mark_dirty(self._rings.get(key))
        region = neuropil_region(
            self._rois[key], self._occupancy, options=self.options, usable=self._usable
        )
        self._regions[key] = region
        self._rings[key] = ring_in_usable_area(region, self._usable)
        self._mark_dirty(self._rings[key])

    def _mark_dirty(self, ring: MaskCrop | None) -> None:
        if ring is None:
            return
        box = _bounds(ring)
        if self._dirty is not None:
            box = (
                min(box[0], self._dirty[0]),
                min(box[1], self._dirty[1]),
                max(box[2], self._dirty[2]),
                max(box[3], self._dirty[3]),
            )
        self._dirty = box

    def take_dirty_box(self) -> tuple[int, int, int, int] | None:
        """The box ``(top, left, bottom, right)`` (bottom and right exclusive) where ring
        pixels may have changed since the last call; None when none did."""
        box, self._dirty = self._dirty, None
        return box

    # -- reading ----------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._rois)

    def __iter__(self):
        return iter(self._rois)

    def __contains__(self, key) -> bool:
        return key in self._rois

    def keys(self):
        """The ROIs' keys (labels), in the order they were added."""
        return self._rois.keys()

    def roi(self, key) -> MaskCrop:
        """The ROI's pixels."""
        return self._rois[key]

    def ring(self, key) -> MaskCrop | None:
        """The ROI's ring inside the usable area, tightly cropped; None when empty."""
        return self._rings[key]

    def region(self, key) -> MaskCrop:
        """The ring before the motion border is taken out, on its whole window."""
        return self._regions[key]

    def label_dtype(self) -> np.dtype:
        """The integer type a rings label image needs: int32, or int64 for a key beyond it."""
        top = max((int(k) for k in self._rois), default=0)
        return np.dtype(np.int64 if top > np.iinfo(np.int32).max else np.int32)

    def ring_labels(self, dtype=None) -> np.ndarray:
        """(rows, columns) label image with ring k labelled k; where rings overlap, the larger label shows.

        Keys must be positive integers (label ids). ``dtype``: default :meth:`label_dtype`.
        """
        out = np.zeros(self.image_shape, dtype=dtype or self.label_dtype())
        self.paint_ring_labels(out)
        return out

    def paint_ring_labels(self, out: np.ndarray, box=None) -> None:
        """Repaint ``out[top:bottom, left:right]`` (all of it by default) with the rings.

        Used with :meth:`take_dirty_box` to refresh a rings label image after an
        edit without repainting the whole image.
        """
        top, left, bottom, right = box if box is not None else (0, 0, *self.image_shape)
        out[top:bottom, left:right] = 0
        bounds = self._window_bounds
        near = (
            (bounds[:, 0] < bottom)
            & (bounds[:, 2] > top)
            & (bounds[:, 1] < right)
            & (bounds[:, 3] > left)
        )
        for key in sorted(self._window_keys[i] for i in np.flatnonzero(near)):
            ring = self._rings[key]
            if ring is None:
                continue
            r0, c0 = max(ring.top, top), max(ring.left, left)
            r1, c1 = min(ring.bottom, bottom), min(ring.right, right)
            if r0 < r1 and c0 < c1:
                pixels = ring.pixels[r0 - ring.top : r1 - ring.top, c0 - ring.left : c1 - ring.left]
                out[r0:r1, c0:c1][pixels] = key

    # -- editing ----------------------------------------------------------------------------
    def update(self, changes: Mapping[Hashable, MaskCrop | None]) -> set:
        """Change some ROIs (None or an empty crop removes one) and recompute the rings that can change.

        Returns
        -------
        set
            Keys whose rings were recomputed (removed ROIs not included).
        """
        touched_boxes = []
        for key, crop in changes.items():
            old = self._rois.pop(key, None)
            if old is not None:
                self._occupancy[old.slices] -= old.pixels
                touched_boxes.append(_bounds(old))
            if crop is not None and crop.pixels.any():
                self._check_inside(key, crop)
                self._rois[key] = crop
                self._occupancy[crop.slices] += crop.pixels
                touched_boxes.append(_bounds(crop))
            elif old is not None:
                self._forget_window(key)
        affected = {k for k in changes if k in self._rois}
        bounds = self._window_bounds
        for top, left, bottom, right in touched_boxes:
            hits = (
                (bounds[:, 0] < bottom)
                & (bounds[:, 2] > top)
                & (bounds[:, 1] < right)
                & (bounds[:, 3] > left)
            )
            affected.update(self._window_keys[i] for i in np.flatnonzero(hits))
        for key in affected:
            self._compute(key)
            self._store_window(key)
        return affected

    def rename(self, mapping: Mapping[Hashable, Hashable]) -> None:
        """ROIs take new keys (old key -> new key), their pixels and rings unchanged (e.g. the
        shapes after a deleted one move up). Every new key must be free or renamed too.

        Raises
        ------
        ValueError
            For a new key an ROI that is not renamed holds (nothing is changed).
        """
        mapping = {old: new for old, new in mapping.items() if old != new and old in self._rois}
        taken = [new for new in mapping.values() if new in self._rois and new not in mapping]
        if taken or len(set(mapping.values())) != len(mapping):
            raise ValueError(f"ROI {taken[0] if taken else '?'!r} would be taken twice")

        def renamed(table: dict) -> dict:
            return {mapping.get(key, key): value for key, value in table.items()}

        self._rois, self._regions = renamed(self._rois), renamed(self._regions)
        for old in mapping:  # ring k is labelled k: where it shows must be painted again
            self._mark_dirty(self._rings[old])
        self._rings = renamed(self._rings)
        self._window_keys = [mapping.get(key, key) for key in self._window_keys]
        self._window_index = {key: i for i, key in enumerate(self._window_keys)}

    def update_from_labels(self, labels, changed_labels: Iterable[int], *, where=None) -> set:
        """Re-read some labels from the edited label image and update their rings.

        Parameters
        ----------
        labels : (rows, columns) int ndarray
            The label image after the edit.
        changed_labels : iterable of int
            Labels whose pixels changed (painted, erased, filled over).
        where : (slice, slice), optional
            Where the edit happened; the label is then looked for only there
            and in its old box, instead of in the whole image.

        Returns
        -------
        set
            Labels whose rings were recomputed.
        """
        labels = np.asarray(labels)
        if labels.shape != self.image_shape:
            raise ValueError(
                f"the label image has shape {labels.shape}, the rings were built for {self.image_shape}"
            )
        changes = {}
        for label in {int(v) for v in changed_labels} - {0}:
            changes[label] = self._find_label(labels, label, where)
        return self.update(changes)

    def _find_label(self, labels: np.ndarray, label: int, where) -> MaskCrop | None:
        if where is None:
            return MaskCrop.from_plane(labels == label)
        rows, columns = where
        top, bottom = rows.start or 0, rows.stop if rows.stop is not None else self.image_shape[0]
        left, right = (
            columns.start or 0,
            columns.stop if columns.stop is not None else self.image_shape[1],
        )
        old = self._rois.get(label)
        if old is not None:
            top, left = min(top, old.top), min(left, old.left)
            bottom, right = max(bottom, old.bottom), max(right, old.right)
        return MaskCrop.from_plane(labels[top:bottom, left:right] == label, origin=(top, left))

    def _store_window(self, key) -> None:
        row = np.array(_bounds(self._regions[key]), dtype=np.int64)
        index = self._window_index.get(key)
        if index is None:
            self._window_index[key] = len(self._window_keys)
            self._window_keys.append(key)
            self._window_bounds = np.vstack([self._window_bounds, row[None]])
        else:
            self._window_bounds[index] = row

    def _forget_window(self, key) -> None:
        self._regions.pop(key, None)
        self._mark_dirty(self._rings.pop(key, None))
        index = self._window_index.pop(key, None)
        if index is None:
            return
        # move the last window into the freed row, so rows stay packed
        last = len(self._window_keys) - 1
        if index != last:
            moved = self._window_keys[last]
            self._window_keys[index] = moved
            self._window_bounds[index] = self._window_bounds[last]
            self._window_index[moved] = index
        self._window_keys.pop()
        self._window_bounds = self._window_bounds[:last]


def _bounds(crop: MaskCrop) -> tuple[int, int, int, int]:
    return crop.top, crop.left, crop.bottom, crop.right
