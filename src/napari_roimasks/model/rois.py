"""The session being curated: ROIs, motion border, neuropil rings, traces, selection.

Plain Python with psygnal events, no Qt and no napari: the "ROI masks" and
"Traces" docks share one :class:`RoiModel` per viewer (one copy of the
settings), forward what the user does to it and redraw on its events;
pipelines and tests drive it directly.
"""

from __future__ import annotations

import weakref
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime

import numpy as np
from psygnal import Signal

from ..core.border import MotionBorder, UsableArea
from ..core.exclusions import exclusions, masks_to_read
from ..core.geometry import mask_polygon, rasterise_shape
from ..core.masks import MaskCrop
from ..core.neuropil import RingOptions
from ..core.rings import NeuropilRings, roi_crops_from_labels
from ..core.roi_edits import (
    LabelEdit,
    RoiEditError,
    merge_edit,
    split_by_line_edit,
    split_pieces_edit,
)
from ..core.summary_images import DEFAULT_CELL_DIAMETER, check_cell_diameter
from ..io.roi_set import Decision, RoiEntry, RoiSet
from .decisions import Decisions, RoiDecision
from .quality import RoiQuality
from .repairs import Repair, Repairs, RoiOrigin, ShapesRepair, merged_decision
from .suggestions import Suggestion, accept
from .traces import (
    Correction,
    ExtractionPlan,
    RoiTraces,
    contamination_ratios,
    trace_features,
    traces_fingerprint,
)

__all__ = ["RoiModel", "RoiSummary", "model_for"]


@dataclass(frozen=True)
class RoiSummary:
    """One row of the ROI table (see :data:`~napari_roimasks.model.triage.SORT_COLUMNS`)."""

    key: Hashable
    area: int
    ring_pixels: int
    exclusions: tuple[str, ...]  # AllenSDK's names, in AllenSDK's order
    trace: str = (
        ""  # "" not extracted, "current", or "stale" (the ROI, its ring or the movie changed)
    )
    decision: Decision = Decision.UNLABELED
    reason: str = ""
    decided_at: datetime | None = None  # timezone-aware
    probability: float | None = None  # a classifier's, e.g. suite2p's iscell[:, 1]
    #: the quality metrics by name (see :data:`~napari_roimasks.core.metrics.METRICS`);
    #: derived from the rest, so rows compare without them (a NaN is never equal)
    metrics: Mapping[str, float] = field(default_factory=dict, compare=False)
    #: what the rules and the classifier suggest (None: neither is set)
    suggestion: Suggestion | None = field(default=None, compare=False)
    origin: str = ""  # "merged 3 + 7", "split from 5" (see model.repairs), "" otherwise

    @property
    def excluded(self) -> bool:
        """Whether AllenSDK gives this ROI's trace (or its ring's) as NaN."""
        return bool(self.exclusions)


class RoiModel:
    """ROIs (as :class:`MaskCrop`), border, ring options, the rings they give, and traces.

    Events
    ------
    rois_changed(keys)
        ROIs or rings changed: a set of keys, or None for "everything" (rebuild).
    settings_changed()
        The motion border or the ring options changed.
    traces_changed(keys)
        Traces were stored for these keys, or their state changed (another movie).
    correction_changed()
        The neuropil correction (fixed or fitted r) changed.
    movie_changed()
        The movie to extract from (its token or its file) changed.
    cell_diameter_changed(diameter)
        The summary images' cell diameter changed.
    quality_changed(keys)
        The metrics or suggestions of these ROIs (None: of all) changed for a reason of
        their own (summary images, rules, classifier, the correction's r); their rows are
        current. (Metrics that follow ROIs or traces change with those events.)
    selection_changed(keys)
        The ROIs the user selected (in the table or the viewer) changed.
    decisions_changed(keys)
        The decision or reason of these ROIs changed (a decision, undo, redo), or
        None: every decision was replaced (:meth:`load`). Their rows are current.
    """

    rois_changed = Signal(object)
    settings_changed = Signal()
    traces_changed = Signal(object)
    correction_changed = Signal()
    selection_changed = Signal(object)
    decisions_changed = Signal(object)
    movie_changed = Signal()
    cell_diameter_changed = Signal(float)
    quality_changed = Signal(object)

    def __init__(self) -> None:
        self.border = MotionBorder()
        self.ring_options = RingOptions()
        self.correction = Correction()
        self.image_shape: tuple[int, int] | None = None
        self.rings: NeuropilRings | None = None
        self._empty: set = set()  # ROIs that cover no pixel (e.g. a shape outside the image)
        self._keys: list | None = None  # roi_keys(), sorted once per change of the ROIs
        self._labels: np.ndarray | None = None  # the label image last read, to diff edits against
        self.traces: dict[Hashable, RoiTraces] = {}
        self.trace_movie: str | None = None  # the movie the stored traces came from
        self.movie: str | None = None  # the movie the user extracts from now
        #: that movie's file and HDF5 dataset (None: not a file, or unknown), for the session
        self.movie_file: tuple[str, str | None] | None = None
        #: the summary images' cell diameter (the enhanced mean's), in pixels
        self.cell_diameter: float = DEFAULT_CELL_DIAMETER
        self.selection: tuple = ()
        #: where the ROIs come from, as an opaque token the views agree on (the ROI dock sets
        #: its layer's ``unique_id``): other views name and place their layers after it
        self.source_id: str | None = None
        self._summaries: dict = {}  # key -> RoiSummary, kept current
        #: each ROI's group (AllenSDK's ``mask_group``) by key, as its file gave it; -1: none
        self.mask_groups: dict = {}
        #: every ROI's decision by key, kept while an ROI is deleted (a paint undo brings it back)
        self.decisions = Decisions()
        #: each ROI's quality metrics, the rules and classifier, their suggestions
        self.quality = RoiQuality(self)
        #: the merges and splits made (undone with the label image's own undo), ROI origins
        self.repairs = Repairs()
        self._coming_repair: Repair | None = None  # planned; adopted when the image holds it

    # -- ROIs ---------------------------------------------------------------------------------
    def set_rois(
        self,
        crops: Mapping[Hashable, MaskCrop | None],
        image_shape,
        *,
        border: MotionBorder | None = None,
        ring_options: RingOptions | None = None,
    ) -> None:
        """Replace every ROI (None or an empty crop: an ROI without pixels) and rebuild the rings.

        Decisions stay with their keys (e.g. a label image read again); :meth:`load` replaces them.

        Parameters
        ----------
        crops : mapping of key -> MaskCrop or None
        image_shape : (rows, columns)
        border, ring_options : optional
            New settings to apply with the ROIs (one rebuild), e.g. a saved session's.

        Raises
        ------
        ValueError
            If the border leaves no usable pixel of this image (nothing is changed).
        """
        self._replace_rois(crops, image_shape, None, border=border, ring_options=ring_options)

    def _replace_rois(
        self, crops, image_shape, labels, *, border, ring_options, decisions=None
    ) -> None:
        """:meth:`set_rois`, keeping ``labels`` (the label image the crops came from, or None)
        and ``decisions`` (:meth:`Decisions.replace`'s arguments, or None: keep them) before
        anyone hears of the change: a listener may read the layer again at once."""
        image_shape = (int(image_shape[0]), int(image_shape[1]))
        border, ring_options = border or self.border, ring_options or self.ring_options
        border.check_fits(*image_shape)
        empty = {k for k, c in crops.items() if c is None or not c.pixels.any()}
        rings = NeuropilRings.from_masks(  # first: an ROI outside the image changes nothing
            {k: c for k, c in crops.items() if k not in empty},
            image_shape,
            border=border,
            options=ring_options,
        )
        if decisions is not None:  # before the ROIs: a bad decision changes nothing either
            self.decisions.replace(*decisions)
        settings = (border, ring_options) != (self.border, self.ring_options)
        self.border, self.ring_options, self.image_shape = border, ring_options, image_shape
        self.rings, self._empty, self._labels = rings, empty, labels
        self._changed(None)
        if settings:
            self.settings_changed.emit()
        if decisions is not None:
            self.decisions_changed.emit(None)

    def set_rois_from_labels(self, labels: np.ndarray, **settings) -> None:
        """Replace every ROI with the labels of a (rows, columns) label image (see :meth:`set_rois`)."""
        if self.image_shape is not None and tuple(np.shape(labels)) != self.image_shape:
            self.repairs.clear()  # another image: the merges and splits made are not its own
        self._coming_repair = None
        self._replace_rois(
            roi_crops_from_labels(labels),
            np.shape(labels),
            np.array(labels, copy=True),
            border=settings.get("border"),
            ring_options=settings.get("ring_options"),
        )

    def load(self, rois: RoiSet) -> None:
        """Take the ROIs, border, ring options and decisions of a saved session (e.g. a
        ``.roimasks.h5``); decision undo starts afresh. (:meth:`set_rois` keeps decisions.)

        Raises
        ------
        ValueError
            Without the image size, or for a border that leaves no usable pixel.
        """
        if rois.image_shape is None:
            raise ValueError("the ROIs need the image size to be curated; this file has none")
        groups = self.mask_groups
        self.mask_groups = {e.id: e.mask_group for e in rois.rois if e.mask_group != -1}
        try:
            self._replace_rois(
                {entry.id: entry.crop for entry in rois.rois},
                rois.image_shape,
                None,
                border=rois.border,
                ring_options=rois.ring_options,
                decisions=(
                    {e.id: RoiDecision(e.decision, e.reason, e.decided_at) for e in rois.rois},
                    {e.id: e.probability for e in rois.rois},
                ),
            )
        except Exception:
            self.mask_groups = groups
            raise

    def set_mask_groups(self, groups: Mapping) -> None:
        """Each ROI's group (AllenSDK's ``mask_group``; -1: none) by key, as the ROI layer
        arrived with them (a file's); files the session writes keep them."""
        old, self.mask_groups = (
            self.mask_groups,
            {key: int(g) for key, g in groups.items() if int(g) != -1},
        )
        keys = (set(old) | set(self.mask_groups)) & set(self._summaries)
        if keys:  # the views (and the autosave) hear of ROIs whose group changed
            self.rois_changed.emit(keys)

    def roi_set(self) -> RoiSet:
        """The session as a :class:`RoiSet` to save: ROIs with their decisions, border, ring
        options, image size."""
        self._require_rois()
        entries = [self.roi_entry(key) for key in self.roi_keys()]
        return RoiSet(entries, self.border, self.image_shape, self.ring_options)

    def roi_entry(self, key) -> RoiEntry:
        """One ROI as a file keeps it: its pixels, decision, reason, time and probability."""
        record = self.decisions.get(key)
        return RoiEntry(
            key,
            self.roi(key),
            decision=record.decision,
            reason=record.reason,
            decided_at=record.decided_at,
            probability=self.decisions.probability(key),
            mask_group=self.mask_groups.get(key, -1),
        )

    def labels_edited(self, labels: np.ndarray) -> set:
        """Follow an edit of the label image (paint, fill, erase, undo, data replaced).

        Only the labels whose pixels changed, and the rings those can reach,
        are recomputed; a label image of another size is read whole.

        Parameters
        ----------
        labels : (rows, columns) int ndarray
            The label image after the edit.

        Returns
        -------
        set
            Keys whose ROI or ring was recomputed; empty when the edit changed no pixel.
        """
        if self._labels is None or self.rings is None or np.shape(labels) != self._labels.shape:
            self.set_rois_from_labels(labels)
            return set(self.roi_keys())
        changed = labels != self._labels
        rows = np.flatnonzero(changed.any(axis=1))
        if rows.size == 0:
            return set()
        columns = np.flatnonzero(changed.any(axis=0))
        where = (slice(rows[0], rows[-1] + 1), slice(columns[0], columns[-1] + 1))
        moved = changed[where]
        edited = {*np.unique(self._labels[where][moved]).tolist()}
        edited |= {*np.unique(labels[where][moved]).tolist()}
        self._labels[where] = labels[where]
        edited = {int(v) for v in edited} - {0}
        touched = self.rings.update_from_labels(labels, edited, where=where) | edited
        self._empty -= edited  # a label image has no empty ROI: an erased label is gone
        decided = self._follow_repairs(labels, where)  # before the rows: they show origins
        self._changed(touched)
        self._decisions_changed(decided)
        return touched

    # -- merge and split (see model.repairs) ----------------------------------------------------
    def plan_merge(self, labels: np.ndarray, keys: Iterable) -> LabelEdit:
        """The edit that merges the ROIs ``keys`` of the label image ``labels`` into the lowest
        of them; once the ROI layer holds it (:meth:`labels_edited`), the merged ROI takes
        their combined decision (:func:`~napari_roimasks.model.repairs.merged_decision`) and
        its origin. Undoing the paint undoes all of it.

        Raises
        ------
        RoiEditError
            Fewer than two ROIs, or one without pixels (the message says so).
        """
        keys = sorted({int(k) for k in keys})
        edit, kept = merge_edit(labels, keys)
        records = [self.decisions.get(k) for k in keys]
        self._coming_repair = Repair(
            edit,
            decisions={kept: (self.decisions.get(kept), merged_decision(records, keys))},
            origins={kept: (self.repairs.origin(kept), RoiOrigin(merged_from=tuple(keys)))},
        )
        return edit

    def plan_split(self, labels: np.ndarray, key, line=None) -> tuple[LabelEdit, list]:
        """The edit that splits the ROI ``key``: along ``line`` ((row, column) start and end)
        when given, else into its connected pieces; each piece gets a new label (above every
        label the image and the decisions know), unlabeled, with its origin. See
        :meth:`plan_merge` for how it takes effect and is undone.

        Raises
        ------
        RoiEditError
            When there is nothing to split (the message says what to do).
        """
        key = int(key)
        known = [int(k) for k in self.roi_keys() if isinstance(k, (int, np.integer))]
        first_new = max([int(labels.max()), *known, *self.decisions.keys_known()]) + 1
        if line is None:
            edit, new = split_pieces_edit(labels, key, first_new)
        else:
            edit, new = split_by_line_edit(labels, key, line[0], line[1], first_new)
        piece = RoiDecision(Decision.UNLABELED, f"split from {key}")
        self._coming_repair = Repair(
            edit,
            decisions={k: (self.decisions.get(k), piece) for k in new},
            origins={k: (None, RoiOrigin(split_from=key)) for k in new},
        )
        return edit, new

    # -- merge and split of a Shapes layer (its shapes are ROIs 1..n; see model.repairs) --------
    def plan_shapes_merge(self, keys: Iterable) -> ShapesRepair:
        """The ROIs ``keys`` of a Shapes layer become one: the lowest takes an outline of their
        pixels (exactly their union) and the combined decision, the others' shapes go.

        Raises
        ------
        RoiEditError
            Fewer than two ROIs, or one without pixels.
        """
        keys = sorted({int(k) for k in keys})
        if len(keys) < 2:
            raise RoiEditError("select two ROIs or more to merge them")
        crops = [self._pixels_of(k, "merge") for k in keys]
        records = [self.decisions.get(k) for k in keys]
        kept, gone = keys[0], keys[1:]
        return ShapesRepair(
            n_shapes=len(self.roi_keys()),
            outlines={kept: mask_polygon(MaskCrop.union(crops))},
            removed=tuple(gone),
            decisions={kept: (records[0], merged_decision(records, keys))},
            origins={kept: (self.repairs.origin(kept), RoiOrigin(merged_from=tuple(keys)))},
            removed_decisions=dict(zip(gone, records[1:], strict=True)),
            removed_origins={k: self.repairs.origin(k) for k in gone},
            crops_before=dict(zip(keys, crops, strict=True)),
        )

    def plan_shapes_split(self, key, line=None) -> ShapesRepair:
        """The ROI ``key`` of a Shapes layer split along ``line`` ((row, column) start and end)
        when given, else into its connected pieces, as :meth:`plan_split` cuts pixels: its
        shape takes the first piece's outline, the other pieces are added at the end; every
        piece is unlabeled.

        Raises
        ------
        RoiEditError
            When there is nothing to split (the message says what to do).
        """
        key = int(key)
        crop = self._pixels_of(key, "split")
        local = crop.pixels.astype(np.int32)  # the ROI is label 1 of its own box
        if line is None:
            edit, new = split_pieces_edit(local, 1, 2)
        else:
            origin = np.array([crop.top, crop.left])
            start, end = np.asarray(line[0]) - origin, np.asarray(line[1]) - origin
            try:
                edit, new = split_by_line_edit(local, 1, start, end, 2)
            except RoiEditError:
                raise RoiEditError(
                    f"the line does not cut ROI {key} in two: draw it across the ROI"
                ) from None
        edit.apply(local)
        pieces = [MaskCrop.from_plane(local == label, (crop.top, crop.left)) for label in new]
        repair = ShapesRepair(
            n_shapes=len(self.roi_keys()),
            outlines={key: mask_polygon(pieces[0])},
            added=tuple(mask_polygon(piece) for piece in pieces[1:]),
            crops_before={key: crop},
        )
        piece = RoiDecision(Decision.UNLABELED, f"split from {key}")
        made = [key, *repair.new_keys]
        repair.decisions = {k: (self.decisions.get(k), piece) for k in made}
        repair.origins = {k: (self.repairs.origin(k), RoiOrigin(split_from=key)) for k in made}
        return repair

    def _pixels_of(self, key, action: str) -> MaskCrop:
        crop = self.roi(key) if key in self._summaries else None
        if crop is None:
            raise RoiEditError(f"ROI {key} has no pixels to {action}")
        return crop

    def apply_shapes_repair(self, repair: ShapesRepair, write, *, undo: bool = False) -> None:
        """Make (``undo``: undo) a merge or split of a Shapes layer.

        The ROIs after a removed shape move to their new keys with their decisions,
        traces, origins and rings; the repaired ROIs take their pixels (those of their
        new outlines, or back those they had), decisions and origins, and only the rings
        those reach are recomputed. ``write()`` puts the shapes in the layer (which is
        not read again: the model knows its pixels).

        Parameters
        ----------
        repair : ShapesRepair
            Planned by :meth:`plan_shapes_merge` or :meth:`plan_shapes_split`.
        write : callable()
        undo : bool
            Undo it: the decisions made since it come back with its redo.
        """
        self._require_rois()
        now = self.decisions.get  # what was decided since comes back with the redo (or undo)
        if undo:
            repair.decisions = {k: (b, now(k)) for k, (b, _) in repair.decisions.items()}
            decided = {k: before for k, (before, _) in repair.decisions.items()}
            decided.update(repair.removed_decisions)
            origins = {k: before for k, (before, _) in repair.origins.items()}
            origins.update(repair.removed_origins)
            for key in repair.new_keys:  # the pieces added go with their shapes
                decided.pop(key, None)
                origins.pop(key, None)
            crops = dict(repair.crops_before)
        else:
            origin = self.repairs.origin
            repair.decisions = {k: (now(k), a) for k, (_, a) in repair.decisions.items()}
            repair.origins = {k: (origin(k), a) for k, (_, a) in repair.origins.items()}
            repair.removed_decisions = {k: now(k) for k in repair.removed}
            repair.removed_origins = {k: origin(k) for k in repair.removed}
            decided = {k: after for k, (_, after) in repair.decisions.items()}
            origins = {k: after for k, (_, after) in repair.origins.items()}
            outlines = {**repair.outlines, **dict(zip(repair.new_keys, repair.added, strict=True))}
            crops = {
                k: rasterise_shape(outline, "polygon", 1.0, self.image_shape)
                for k, outline in outlines.items()
            }
        mapping = repair.renumbering(undo=undo)
        renumbered = self._renumber(mapping)
        changed = self.decisions.set_with_roi_edit(decided)
        self.repairs.set_origins(origins)
        touched, moved = self._rename_rois(mapping)
        touched |= self._update_crops(crops)
        write()
        self._changed(touched, moved=moved)
        changed_before, traced, reselected = renumbered
        self._renumbered(changed_before | changed | set(decided), traced, reselected)

    def forget_repairs(self) -> None:
        """Another ROI layer is curated: the merges and splits made, and the origins, are not
        its own."""
        shown = set(self.repairs.origins) & set(self._summaries)
        self.repairs.clear()
        self._coming_repair = None
        if shown:
            self._changed(shown)

    def restore_origins(self, origins: Mapping) -> None:
        """Take the origins a saved session kept (key -> RoiOrigin); their rows show them."""
        shown = (set(self.repairs.origins) | set(origins)) & set(self._summaries)
        self.repairs.restore(origins)
        if shown:
            self._changed(shown)

    def _follow_repairs(self, labels: np.ndarray, where) -> set:
        """Adopt a planned repair the image now holds, or follow one undone or redone;
        the keys whose decision changed."""
        coming, self._coming_repair = self._coming_repair, None
        if coming is not None and coming.edit.is_applied_in(labels):
            self.repairs.add(coming)
            decided = {k: after for k, (_, after) in coming.decisions.items()}
        else:
            decided = self.repairs.follow(labels, where, self.decisions.get)
        return self.decisions.set_with_roi_edit(decided) if decided else set()

    def update_rois(
        self, changes: Mapping[Hashable, MaskCrop | None], *, removed: Iterable = ()
    ) -> set:
        """Change some ROIs (None: no pixels) and drop the keys in ``removed``; returns the keys touched."""
        self._require_rois()
        touched = self._update_crops(changes, removed)
        self._changed(touched)
        return touched

    def _update_crops(self, changes: Mapping, removed: Iterable = ()) -> set:
        """:meth:`update_rois` without telling anyone."""
        removed = set(removed)
        self._empty -= removed
        updates = dict.fromkeys(removed)
        for key, crop in changes.items():
            if crop is None or not crop.pixels.any():
                self._empty.add(key)
                updates[key] = None
            else:
                self._empty.discard(key)
                updates[key] = crop
        return self.rings.update(updates) | set(changes) | removed

    def _rename_rois(self, mapping: Mapping) -> tuple[set, set]:
        """ROIs take new keys (old -> new, or None: removed), their pixels, rings, rows and
        metrics unchanged otherwise.

        Returns
        -------
        touched : set
            Keys whose ring was recomputed (by their new keys), and the keys removed.
        moved : set
            Keys that name another ROI than before (old and new keys).
        """
        gone = {key for key, new in mapping.items() if new is None}
        moves = {key: new for key, new in mapping.items() if new is not None}
        recomputed = self._update_crops({}, gone)
        self.rings.rename(moves)
        self._empty = {moves.get(key, key) for key in self._empty}
        self.quality.rename(moves)
        rows = {key: self._summaries.pop(key) for key in moves if key in self._summaries}
        self._summaries.update(
            {moves[key]: replace(row, key=moves[key]) for key, row in rows.items()}
        )
        return {moves.get(key, key) for key in recomputed} | gone, set(moves) | set(moves.values())

    def _require_rois(self) -> None:
        if self.rings is None:
            raise RuntimeError("no ROIs yet: call set_rois() first")

    def _changed(self, keys, *, moved: Iterable = ()) -> None:
        """Refresh the table rows of ``keys`` (None: all) and tell the views; ``moved``: keys
        whose rows were moved to them (:meth:`_rename_rois`), told too."""
        self._keys = None
        present = set(self.roi_keys())
        self.quality.refresh(keys)  # first: the rows carry the metrics
        if keys is None:
            self._summaries = {k: self._summarise(k) for k in self.roi_keys()}
        else:
            for key in keys:
                if key in present:
                    self._summaries[key] = self._summarise(key)
                else:
                    self._summaries.pop(key, None)
        self.rois_changed.emit(keys if keys is None else set(keys) | set(moved))

    # -- settings -----------------------------------------------------------------------------
    def set_border(self, border: MotionBorder) -> None:
        """Change the motion border; the rings are rebuilt.

        Raises
        ------
        ValueError
            If the border leaves no usable pixel of the image.
        """
        if self.image_shape is not None:
            border.check_fits(*self.image_shape)
        if border == self.border:
            return
        self.border = border
        self._settings_changed(lambda rings: rings.set_border(border))

    def set_ring_options(self, options: RingOptions) -> None:
        """Change the neuropil ring options; the rings are rebuilt."""
        if options == self.ring_options:
            return
        self.ring_options = options
        self._settings_changed(lambda rings: rings.set_options(options))

    def _settings_changed(self, apply) -> None:
        if self.rings is not None:
            apply(self.rings)
            self._changed(None)
        self.settings_changed.emit()  # after the rows: a listener reads the new exclusions

    def set_cell_diameter(self, diameter: float) -> None:
        """The cell diameter the summary images' enhanced mean uses (suite2p's ``diameter``).

        Raises
        ------
        ValueError
            Unless it is a finite number >= 0 (0: suite2p's default); nothing is changed.
        """
        diameter = check_cell_diameter(diameter)
        if diameter != self.cell_diameter:
            self.cell_diameter = diameter
            self.cell_diameter_changed.emit(diameter)

    def set_correction(self, correction: Correction) -> None:
        """Change how the neuropil correction picks r (plots and features follow)."""
        if correction != self.correction:
            self.correction = correction
            self.quality.refresh(None, shapes=False)  # the corrected traces' metrics follow r
            self.quality_changed_for(None)
            self.correction_changed.emit()

    def quality_changed_for(self, keys) -> None:
        """Bring the rows of ``keys`` (None: all) up to the quality's metrics and suggestions
        and tell the views (``quality_changed``); :class:`RoiQuality` calls it."""
        keys = list(self._summaries) if keys is None else [k for k in keys if k in self._summaries]
        for key in keys:
            self._summaries[key] = replace(
                self._summaries[key],
                metrics=self.quality.metrics(key),
                suggestion=self.quality.suggestion(key),
            )
        self.quality_changed.emit(None if len(keys) == len(self._summaries) else set(keys))

    # -- reading ------------------------------------------------------------------------------
    @property
    def usable_area(self) -> UsableArea:
        """The rows and columns the motion border leaves usable."""
        self._require_rois()
        return self.border.usable_area(*self.image_shape)

    def roi_keys(self) -> list:
        """Every ROI's key, sorted (empty ROIs included)."""
        if self.rings is None:
            return []
        if self._keys is None:  # every change of the ROIs goes through _changed, which clears it
            self._keys = sorted({*self.rings.keys(), *self._empty}, key=_sort_key)
        return list(self._keys)

    def roi(self, key) -> MaskCrop | None:
        """The ROI's pixels; None for an empty ROI."""
        return None if key in self._empty else self.rings.roi(key)

    def ring(self, key) -> MaskCrop | None:
        """The ROI's neuropil ring inside the usable area; None when it has no pixel."""
        return None if key in self._empty else self.rings.ring(key)

    def summary(self, key) -> RoiSummary:
        """Area, ring size, AllenSDK's exclusions and trace state of one ROI."""
        return self._summaries[key]

    def rows(self) -> list[RoiSummary]:
        """Every ROI's row of the table, in key order."""
        return [self._summaries[k] for k in self.roi_keys()]

    def _summarise(self, key) -> RoiSummary:
        roi, ring = self.roi(key), self.ring(key)
        record = self.decisions.get(key)
        return RoiSummary(
            key,
            0 if roi is None else roi.area,
            0 if ring is None else ring.area,
            exclusions(roi, ring, self.usable_area),
            self._trace_state(key),
            record.decision,
            record.reason,
            record.decided_at,
            self.decisions.probability(key),
            self.quality.metrics(key),
            self.quality.suggestion(key),
            str(self.repairs.origin(key) or ""),
        )

    # -- decisions (see model.decisions) ----------------------------------------------------------
    def decide(self, keys: Iterable, decision: Decision | str, *, reason: str | None = None) -> set:
        """Decide ROIs (cell, not cell, unlabeled) as one undo step; ``reason`` None keeps theirs.

        Returns
        -------
        set
            The keys whose decision or reason changed (empty: no change, no undo step).

        Raises
        ------
        ValueError
            For a key that is no ROI now (nothing is changed).
        """
        keys = self._present(keys)
        return self._decisions_changed(self.decisions.decide(keys, decision, reason=reason))

    def set_reason(self, keys: Iterable, reason: str) -> set:
        """Give ROIs a reason ("" clears it) as one undo step; see :meth:`decide`."""
        return self._decisions_changed(self.decisions.set_reason(self._present(keys), reason))

    def undo_decision(self) -> set:
        """Undo the last decision step (``decisions.undo_text`` says which); the keys it changed.

        An ROI deleted since gets its earlier decision back too, shown when it comes back.
        """
        return self._decisions_changed(self.decisions.undo())

    def redo_decision(self) -> set:
        """Redo the last undone decision step; the keys it changed."""
        return self._decisions_changed(self.decisions.redo())

    def accept_suggestions(self, keys: Iterable, *, overrule: bool = False) -> set:
        """Make the suggestions of ``keys`` (see :attr:`quality`) their decisions, as one undo
        step, each with its suggestion's reason; ROIs already decided keep theirs unless
        ``overrule``. Returns the keys whose decision changed (empty: no undo step)."""
        keys = [k for k in keys if k in self._summaries]
        suggestions = {k: self.quality.suggestion(k) for k in keys}
        return self._decisions_changed(accept(self.decisions, suggestions, keys, overrule=overrule))

    def _present(self, keys) -> list:
        keys = list(keys)
        missing = [k for k in keys if k not in self._summaries]
        if missing:
            raise ValueError(f"no ROI {missing[0]!r} to decide: it was deleted or never existed")
        return keys

    def take_decisions(self, records: Mapping, probabilities: Mapping | None = None) -> None:
        """Take the decisions an ROI layer arrived with (e.g. opened from a file): key ->
        :class:`RoiDecision`, and key -> cell probability; decision undo starts afresh.

        Raises
        ------
        ValueError
            For a record that is not a decision, and nothing changes.
        """
        self.decisions.replace(records, probabilities)
        self._show_decisions(list(self._summaries))
        self.decisions_changed.emit(None)

    def renumber(self, mapping: Mapping) -> set:
        """ROIs take new keys, as the shapes after a deleted one do: decisions (with their
        undo history), traces and the selection follow them (see :meth:`Decisions.renumber`).

        ``mapping`` gives each moved ROI's old key -> its new key, or None for an ROI
        deleted for good: its traces are dropped, it leaves the selection, and its decision
        is kept where only decision undo reaches it. Call it when the keys change, before the
        ROIs are read again (:meth:`set_rois`), which brings the rows' pixels and rings.

        Returns
        -------
        set
            The keys whose decision reads differently now (``decisions_changed`` names them;
            ``traces_changed`` and ``selection_changed`` follow when those moved).

        Raises
        ------
        ValueError
            See :meth:`Decisions.renumber` (nothing is changed).
        """
        return self._renumbered(*self._renumber(mapping))

    def _renumber(self, mapping: Mapping) -> tuple:
        """:meth:`renumber` without telling anyone: (keys whose decision changed, keys whose
        traces moved, whether the selection changed)."""
        if not mapping:
            return set(), set(), False
        changed = self.decisions.renumber(mapping)
        self.repairs.renumber(mapping)
        moved_groups = {k: self.mask_groups.pop(k) for k in list(mapping) if k in self.mask_groups}
        self.mask_groups.update(
            {mapping[k]: g for k, g in moved_groups.items() if mapping[k] is not None}
        )
        moved = {key: self.traces.pop(key) for key in list(mapping) if key in self.traces}
        self.traces.update({mapping[k]: t for k, t in moved.items() if mapping[k] is not None})
        traced = set(moved) | ({mapping[k] for k in moved} - {None})
        selection = tuple(mapping.get(k, k) for k in self.selection)
        selection = tuple(k for k in selection if k is not None)
        reselected = selection != self.selection
        self.selection = selection  # before anyone hears: the table reselects its rows
        return changed, traced, reselected

    def _renumbered(self, changed: set, traced: set, reselected: bool) -> set:
        """Tell the views what :meth:`_renumber` changed."""
        present = set(self.roi_keys())
        for key in (changed | traced) & present:
            self._summaries[key] = self._summarise(key)
        self._decisions_changed(changed)
        if traced:
            self.traces_changed.emit(traced)
        if reselected:
            self.selection_changed.emit(self.selection)
        return changed

    def _decisions_changed(self, keys: set) -> set:
        """Bring the rows of ``keys`` up to date (no ring is recomputed) and tell the views."""
        self._show_decisions(keys)
        if keys:
            self.decisions_changed.emit(keys)
        return keys

    def _show_decisions(self, keys) -> None:
        """The rows of ``keys`` with their decisions now; a deleted ROI keeps its decision
        without a row."""
        for key in keys:
            row = self._summaries.get(key)
            if row is not None:
                record = self.decisions.get(key)
                self._summaries[key] = replace(
                    row,
                    decision=record.decision,
                    reason=record.reason,
                    decided_at=record.decided_at,
                    probability=self.decisions.probability(key),
                )

    # -- traces -------------------------------------------------------------------------------
    def fingerprint(self, key, movie: str | None) -> bytes:
        """Digest of what an ROI's traces depend on: the ROI and ring masks read (None where
        AllenSDK gives NaN, so a border that excludes an ROI makes its traces stale) and the movie."""
        roi, ring = masks_to_read(self.roi(key), self.ring(key), self.usable_area)
        return traces_fingerprint(roi, ring, movie)

    def _trace_state(self, key) -> str:
        stored = self.traces.get(key)
        if stored is None:
            return ""
        movie = self.movie if self.movie is not None else self.trace_movie
        return "current" if stored.fingerprint == self.fingerprint(key, movie) else "stale"

    def trace_state(self, key) -> str:
        """'' never extracted, 'current', or 'stale' (the ROI, its ring or the movie changed)."""
        return self._summaries[key].trace

    def set_movie(self, movie: str | None, file: tuple[str, str | None] | None = None) -> None:
        """The movie the user extracts from now (a :func:`movie_token`): traces of
        another movie show as stale. ``file``: its path and HDF5 dataset, when it is a file."""
        if (movie, file) == (self.movie, self.movie_file):
            return
        changed, self.movie, self.movie_file = movie != self.movie, movie, file
        if changed and self.traces and self.rings is not None:
            self._refresh_traces(list(self.traces))
        self.movie_changed.emit()

    def plan_extraction(self, movie: str) -> ExtractionPlan:
        """The ROIs whose traces are missing or stale for ``movie``, with the masks to read."""
        usable = self.usable_area
        keys, fingerprints, rois, rings = [], [], [], []
        for key in self.roi_keys():
            fingerprint = self.fingerprint(key, movie)
            stored = self.traces.get(key)
            if stored is not None and stored.fingerprint == fingerprint:
                continue
            roi, ring = masks_to_read(self.roi(key), self.ring(key), usable)
            keys.append(key)
            fingerprints.append(fingerprint)
            rois.append(roi)
            rings.append(ring)
        return ExtractionPlan(movie, keys, fingerprints, rois + rings)

    def keys_to_extract(self, movie: str) -> list:
        """ROIs whose traces are missing or stale for this movie."""
        return self.plan_extraction(movie).keys

    def store_traces(self, movie: str, results: Mapping[Hashable, RoiTraces]) -> None:
        """Keep extracted traces; traces of another movie are dropped."""
        if movie != self.trace_movie:
            self.traces = {}
            self.trace_movie = movie
        self.traces.update(results)
        self._refresh_traces(list(results))

    def _refresh_traces(self, keys) -> None:
        present = set(self.roi_keys())
        self.quality.refresh([k for k in keys if k in present], shapes=False)
        for key in keys:
            if key in present:
                self._summaries[key] = self._summarise(key)
        self.traces_changed.emit(set(keys))

    def contamination_ratios(self) -> dict:
        """The r each ROI with traces uses (see :func:`contamination_ratios`)."""
        stored = {k: self.traces[k] for k in self.roi_keys() if k in self.traces}
        return contamination_ratios(stored, self.correction)

    def features(self) -> dict:
        """Per-ROI summaries of the extracted traces (see :func:`trace_features`)."""
        stored = {k: self.traces[k] for k in self.roi_keys() if k in self.traces}
        exclusions = {k: self.summary(k).exclusions for k in stored}
        return trace_features(stored, self.contamination_ratios(), exclusions)

    def quality_features(self, keys: Iterable | None = None) -> dict:
        """Each ROI's metrics and suggestion, for an ROI layer's ``features``: key ->
        ``{metric: value, "suggested": "cell" | "not_cell" | "", "suggested_probability",
        "suggested_because"}`` for ``keys`` (None: every ROI)."""
        keys = self.roi_keys() if keys is None else [k for k in keys if k in self._summaries]
        rows = {}
        for key in keys:
            row = dict(self.quality.metrics(key))
            suggestion = self.quality.suggestion(key)
            row["suggested"] = "" if suggestion is None else suggestion.decision.value
            row["suggested_probability"] = np.nan if suggestion is None else suggestion.probability
            row["suggested_because"] = "" if suggestion is None else suggestion.reason
            rows[key] = row
        return rows

    # -- selection ----------------------------------------------------------------------------
    def set_selection(self, keys) -> None:
        """Select ROIs (as the table or the viewer does)."""
        keys = tuple(keys)
        if keys != self.selection:
            self.selection = keys
            self.selection_changed.emit(keys)


def _sort_key(key):
    return (0, key, "") if isinstance(key, (int, np.integer)) else (1, 0, str(key))


_models: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def model_for(viewer) -> RoiModel:
    """The one :class:`RoiModel` of a viewer, shared by every dock of this plugin."""
    model = _models.get(viewer)
    if model is None:
        model = _models[viewer] = RoiModel()
    return model
