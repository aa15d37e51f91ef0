"""Merges and splits as the model keeps them: what each did to decisions and origins, undone
with the label image's own undo.

The label image is changed by the ROI layer (napari's ``data_setitem``, one
paint undo step), the model follows it as any paint
(:meth:`~napari_roimasks.model.RoiModel.labels_edited`). A :class:`Repair`
remembers, beside the pixels before and after, what the edit did to the
decisions and to each ROI's origin (:class:`RoiOrigin`). Whenever the label
image changes, :meth:`Repairs.follow` looks at the repairs whose box the change
touched: one whose box holds its *before* labels again was undone (napari's
Ctrl+Z), one whose box holds its *after* labels again was redone; the
decisions and origins follow. So one undo brings back the pixels, the rings,
the decisions and the origins together.

A Shapes layer has no paint undo and no labels: its shapes are ROIs 1..n in
the layer's order. A :class:`ShapesRepair` says which shapes take a new
outline (:func:`~napari_roimasks.core.geometry.mask_polygon`, exactly the
merged or cut pixels), which go (the shapes after them move up, and their
decisions with them) and which are added at the end; the dock keeps the
layer's shapes before and after, and its Ctrl+Z puts either back with the
decisions and origins they had.

Decisions after a merge: *cell* if any merged ROI was a cell, else *not cell*
if every one was, else *unlabeled*; the reason says what was merged. After a
split every piece is *unlabeled* (each is a new ROI to look at).
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from ..core.roi_edits import LabelEdit
from ..io.roi_set import Decision
from .decisions import RoiDecision

__all__ = [
    "MAX_REPAIRS",
    "Repair",
    "Repairs",
    "RoiOrigin",
    "ShapesRepair",
    "merged_decision",
    "origins_from_json",
]

#: How many merges and splits are remembered for undo (napari keeps its own paint history).
MAX_REPAIRS = 200


@dataclass(frozen=True)
class RoiOrigin:
    """Where an ROI came from, when it came from a merge or a split.

    Attributes
    ----------
    merged_from : tuple of int
        The ROIs merged into it (itself first), or ().
    split_from : int or None
        The ROI it is a piece of, or None.
    """

    merged_from: tuple[int, ...] = ()
    split_from: int | None = None

    def __str__(self) -> str:
        if self.merged_from:
            return "merged " + " + ".join(str(k) for k in self.merged_from)
        if self.split_from is not None:
            return f"split from {self.split_from}"
        return ""


def merged_decision(records: list[RoiDecision], keys: list[int]) -> RoiDecision:
    """The decision of ROIs merged into one (see the module)."""
    decisions = {r.decision for r in records}
    if Decision.CELL in decisions:
        decision = Decision.CELL
    elif decisions == {Decision.NOT_CELL}:
        decision = Decision.NOT_CELL
    else:
        decision = Decision.UNLABELED
    return RoiDecision(decision, "merged " + " + ".join(str(k) for k in keys))


@dataclass
class Repair:
    """One merge or split.

    Attributes
    ----------
    edit : LabelEdit
        The pixels before and after.
    decisions : dict of key -> (RoiDecision before, RoiDecision after)
        What it did to decisions (the ROIs it made or kept).
    origins : dict of key -> (RoiOrigin or None before, RoiOrigin or None after)
    applied : bool
        Whether the label image holds it now.
    """

    edit: LabelEdit
    decisions: dict = field(default_factory=dict)
    origins: dict = field(default_factory=dict)
    applied: bool = True


@dataclass
class ShapesRepair:
    """One merge or split of a Shapes ROI layer (shape ``i`` is ROI ``i + 1``).

    Attributes
    ----------
    n_shapes : int
        How many shapes the layer had before.
    outlines : dict of key -> (n, 2) ndarray
        The shapes that take a new outline (rows, columns), by key.
    removed : tuple of int
        The keys whose shapes go (a merge's other ROIs).
    added : tuple of (n, 2) ndarray
        The outlines of the shapes added at the end (a split's other pieces).
    decisions : dict of key -> (RoiDecision before, RoiDecision after)
        What it did to decisions (the ROIs it kept or made, by their keys after).
    origins : dict of key -> (RoiOrigin or None before, RoiOrigin or None after)
    removed_decisions : dict of key -> RoiDecision
        The decisions of the ROIs removed, brought back by an undo.
    removed_origins : dict of key -> RoiOrigin or None
    crops_before : dict of key -> MaskCrop
        The pixels of the ROIs it changes or removes, as they were (an undo brings them back).
    """

    n_shapes: int
    outlines: dict
    removed: tuple = ()
    added: tuple = ()
    decisions: dict = field(default_factory=dict)
    origins: dict = field(default_factory=dict)
    removed_decisions: dict = field(default_factory=dict)
    removed_origins: dict = field(default_factory=dict)
    crops_before: dict = field(default_factory=dict)

    @property
    def new_keys(self) -> list[int]:
        """The keys of the shapes it adds."""
        first = self.n_shapes - len(self.removed) + 1
        return list(range(first, first + len(self.added)))

    def renumbering(self, *, undo: bool = False) -> dict:
        """The keys that move when it is made (``undo``: undone): old key -> new key, or None
        for a shape that goes (see :meth:`RoiModel.renumber`)."""
        if not undo:
            gone = sorted(self.removed)
            if not gone:
                return {}
            moves = {key: None for key in gone}
            for key in range(gone[0], self.n_shapes + 1):
                if key not in moves:
                    moves[key] = key - sum(g < key for g in gone)
            return moves
        moves = {key: None for key in self.new_keys}
        moves.update({new: old for old, new in self.renumbering().items() if new is not None})
        return {old: new for old, new in moves.items() if old != new}


class Repairs:
    """The merges and splits made, newest last, and each ROI's origin."""

    def __init__(self) -> None:
        self._repairs: deque[Repair] = deque(maxlen=MAX_REPAIRS)
        #: key -> RoiOrigin of the ROIs made by a merge or a split (as the image holds them)
        self.origins: dict = {}

    def add(self, repair: Repair) -> None:
        """A merge or split just made (its edit is in the image now)."""
        self._repairs.append(repair)
        self._set_origins(repair, after=True)

    def clear(self) -> None:
        """Forget every repair and origin (other ROIs were read)."""
        self._repairs.clear()
        self.origins = {}

    def follow(self, labels: np.ndarray, where, decided) -> dict:
        """The decisions to set after the label image changed in the box ``where``
        ((row slice, column slice)): repairs undone or redone there.

        Parameters
        ----------
        labels : (rows, columns) int ndarray
        where : (slice, slice)
        decided : callable(key) -> RoiDecision
            The decisions now: what the curator decided since an edit (or its undo) comes
            back with its redo (or undo).

        Returns
        -------
        dict of key -> RoiDecision
        """
        changes: dict = {}
        for repair in reversed(self._repairs):  # newest first, as undo goes
            if not _overlaps(repair.edit.slices, where):
                continue
            if repair.applied and repair.edit.is_reverted_in(labels):
                repair.applied = False
                self._set_origins(repair, after=False)
                repair.decisions = {k: (b, decided(k)) for k, (b, _) in repair.decisions.items()}
                changes.update({k: before for k, (before, _) in repair.decisions.items()})
            elif not repair.applied and repair.edit.is_applied_in(labels):
                repair.applied = True
                self._set_origins(repair, after=True)
                repair.decisions = {k: (decided(k), a) for k, (_, a) in repair.decisions.items()}
                changes.update({k: after for k, (_, after) in repair.decisions.items()})
        return changes

    def _set_origins(self, repair: Repair, *, after: bool) -> None:
        self.set_origins(
            {key: pair[1] if after else pair[0] for key, pair in repair.origins.items()}
        )

    def renumber(self, mapping: Mapping) -> None:
        """ROIs took new keys (old key -> new key, or None: deleted): their origins follow."""
        moved = {key: self.origins.pop(key) for key in list(mapping) if key in self.origins}
        self.origins.update({mapping[k]: o for k, o in moved.items() if mapping[k] is not None})

    def set_origins(self, origins: Mapping) -> None:
        """Set some ROIs' origins (key -> RoiOrigin, or None: neither merged nor split)."""
        for key, origin in origins.items():
            if origin is None:
                self.origins.pop(key, None)
            else:
                self.origins[key] = origin

    def origin(self, key) -> RoiOrigin | None:
        """An ROI's origin (None: neither merged nor split)."""
        return self.origins.get(key)

    def restore(self, origins: Mapping) -> None:
        """Take the origins a session kept (key -> RoiOrigin); the repairs' undo starts afresh."""
        self._repairs.clear()
        self.origins = dict(origins)

    def to_json(self) -> str | None:
        """The origins as JSON text (ROI id -> ``{"merged_from": [...]}`` or
        ``{"split_from": id}``); None when no ROI was merged or split."""
        if not self.origins:
            return None
        return json.dumps(
            {
                str(key): {"merged_from": list(o.merged_from)}
                if o.merged_from
                else {"split_from": o.split_from}
                for key, o in self.origins.items()
            }
        )


def origins_from_json(text: str | None, keys: Mapping | None = None) -> dict:
    """key -> RoiOrigin from :meth:`Repairs.to_json`'s text (``keys``: the model's key of
    each saved ROI id, when they differ; ids without one are left out).

    Raises
    ------
    ValueError
        For text that is not what :meth:`Repairs.to_json` writes.
    """
    if not text:
        return {}
    try:
        saved = json.loads(text)
        origins = {}
        for ident, origin in saved.items():
            ident = int(ident)
            key = ident if keys is None else keys.get(ident)
            if key is None:
                continue
            if "merged_from" in origin:
                origins[key] = RoiOrigin(merged_from=tuple(int(k) for k in origin["merged_from"]))
            else:
                origins[key] = RoiOrigin(split_from=int(origin["split_from"]))
        return origins
    except (ValueError, TypeError, KeyError, AttributeError) as error:
        raise ValueError(f"which ROIs were merged or split cannot be read ({error})") from None


def _overlaps(a, b) -> bool:
    return all(x.start < y.stop and y.start < x.stop for x, y in zip(a, b, strict=True))
