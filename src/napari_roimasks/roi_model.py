"""The ROIs being curated, their motion border and neuropil rings: one model per viewer.

Plain Python with psygnal events, no Qt: the "ROI masks" and "Traces" docks
share one :class:`RoiModel` (so there is one copy of the settings), and tests
drive it directly.
"""

from __future__ import annotations

import hashlib
import weakref
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np
from psygnal import Signal

from .core.border import MotionBorder
from .core.masks import MaskCrop
from .core.neuropil import RingOptions
from .core.rings import NeuropilRings, roi_crops_from_labels

__all__ = ["EXCLUSION_TEXT", "RoiModel", "RoiSummary", "model_for"]

#: AllenSDK's exclusion names, as the table shows them.
EXCLUSION_TEXT = {
    "empty_roi_mask": "empty ROI",
    "motion_border": "motion border",
    "empty_neuropil_mask": "empty neuropil",
}


@dataclass(frozen=True)
class RoiSummary:
    """One row of the ROI table."""

    key: Hashable
    area: int
    ring_pixels: int
    exclusions: tuple[str, ...]  # AllenSDK's names, in AllenSDK's order
    trace: str = ""  # "" not extracted, "current", or "stale" (the ROI or its ring changed since)

    @property
    def excluded(self) -> bool:
        return bool(self.exclusions)


@dataclass(frozen=True)
class RoiTraces:
    """One ROI's extracted traces and what they were extracted from.

    Attributes
    ----------
    fingerprint : bytes
        Digest of the ROI's pixels, its ring's pixels and the movie.
    roi, neuropil : (n_frames,) float64 ndarray
        Mean over the ROI and over its ring; NaN when AllenSDK excludes the mask.
    fitted_r : float
        The contamination ratio fitted to these traces (before the Allen
        pipeline's replacement of r > 1); NaN when it cannot be fitted.
    """

    fingerprint: bytes
    roi: np.ndarray = field(repr=False)
    neuropil: np.ndarray = field(repr=False)
    fitted_r: float = float("nan")


class RoiModel:
    """ROIs (as :class:`MaskCrop`), border, ring options and the rings they give.

    Events
    ------
    rois_changed(keys)
        ROIs or rings changed: a set of keys, or None for "everything" (rebuild).
    settings_changed()
        The motion border or the ring options changed.
    traces_changed(keys)
        Extracted traces were stored for these keys.
    selection_changed(keys)
        The ROIs the user selected (in the table or the viewer) changed.
    """

    rois_changed = Signal(object)
    settings_changed = Signal()
    traces_changed = Signal(object)  # keys whose traces were stored
    selection_changed = Signal(object)  # the selected ROIs' keys, a tuple

    def __init__(self) -> None:
        self.border = MotionBorder()
        self.ring_options = RingOptions()
        self.image_shape: tuple[int, int] | None = None
        self.rings: NeuropilRings | None = None
        self._empty: set = set()  # ROIs that cover no pixel (e.g. a shape outside the image)
        self.source_layer = None  # the napari layer the ROIs come from (set by the ROI masks dock)
        self.traces: dict[Hashable, RoiTraces] = {}
        self.trace_movie = None  # identifies the movie the stored traces came from
        self.selection: tuple = ()

    # -- ROIs ---------------------------------------------------------------------------------
    def set_rois(self, crops: Mapping[Hashable, MaskCrop | None], image_shape) -> None:
        """Replace every ROI (None or an empty crop: an ROI without pixels) and rebuild the rings."""
        self.image_shape = (int(image_shape[0]), int(image_shape[1]))
        self._empty = {k for k, c in crops.items() if c is None or not c.pixels.any()}
        self.rings = NeuropilRings.from_masks(
            {k: c for k, c in crops.items() if k not in self._empty},
            self.image_shape,
            border=self.border,
            options=self.ring_options,
        )
        self.rois_changed.emit(None)

    def set_rois_from_labels(self, labels: np.ndarray) -> None:
        """Replace every ROI with the labels of a (rows, columns) label image."""
        self.set_rois(roi_crops_from_labels(labels), np.shape(labels))

    def update_rois(
        self, changes: Mapping[Hashable, MaskCrop | None], *, removed: Iterable = ()
    ) -> set:
        """Change some ROIs (None: no pixels) and drop the keys in ``removed``; returns the keys touched."""
        self._require_rois()
        removed = set(removed)
        for key in removed:
            self._empty.discard(key)
        updates = dict.fromkeys(removed)
        for key, crop in changes.items():
            if crop is None or not crop.pixels.any():
                self._empty.add(key)
                updates[key] = None
            else:
                self._empty.discard(key)
                updates[key] = crop
        touched = self.rings.update(updates) | set(changes) | removed
        self.rois_changed.emit(touched)
        return touched

    def update_from_labels(
        self, labels: np.ndarray, changed_labels: Iterable[int], *, where=None
    ) -> set:
        """Re-read some labels of the edited label image; returns the keys touched."""
        self._require_rois()
        changed = {int(v) for v in changed_labels} - {0}
        touched = self.rings.update_from_labels(labels, changed, where=where) | changed
        self.rois_changed.emit(touched)
        return touched

    def _require_rois(self) -> None:
        if self.rings is None:
            raise RuntimeError("no ROIs yet: call set_rois() first")

    # -- settings -----------------------------------------------------------------------------
    def set_border(self, border: MotionBorder) -> None:
        """Change the motion border; the rings are rebuilt.

        Raises
        ------
        ValueError
            If the border leaves no usable pixel of the image.
        """
        if self.image_shape is not None and border.usable_area(*self.image_shape).is_empty:
            h, w = self.image_shape
            raise ValueError(
                f"a border of left {border.left:g}, right {border.right:g}, top {border.top:g}, "
                f"bottom {border.bottom:g} px leaves no usable pixel of the {w}x{h} image"
            )
        self.border = border
        if self.rings is not None:
            self.rings.set_border(border)
        self.settings_changed.emit()
        if self.rings is not None:
            self.rois_changed.emit(None)

    def set_ring_options(self, options: RingOptions) -> None:
        """Change the neuropil ring options; the rings are rebuilt."""
        self.ring_options = options
        if self.rings is not None:
            self.rings.set_options(options)
        self.settings_changed.emit()
        if self.rings is not None:
            self.rois_changed.emit(None)

    # -- reading ------------------------------------------------------------------------------
    def roi_keys(self) -> list:
        """Every ROI's key, sorted (empty ROIs included)."""
        if self.rings is None:
            return []
        return sorted({*self.rings.keys(), *self._empty}, key=_sort_key)

    def roi(self, key) -> MaskCrop | None:
        """The ROI's pixels; None for an empty ROI."""
        return None if key in self._empty else self.rings.roi(key)

    def ring(self, key) -> MaskCrop | None:
        """The ROI's neuropil ring inside the usable area; None when it has no pixel."""
        return None if key in self._empty else self.rings.ring(key)

    def summary(self, key) -> RoiSummary:
        """Area, ring size and AllenSDK's exclusions of one ROI."""
        roi, ring = self.roi(key), self.ring(key)
        exclusions = []
        if roi is None:
            exclusions.append("empty_roi_mask")
        else:
            area = self.border.usable_area(*self.image_shape)
            if not area.contains_box(roi.top, roi.left, roi.bottom - 1, roi.right - 1):
                exclusions.append("motion_border")
        if ring is None:
            exclusions.append("empty_neuropil_mask")
        return RoiSummary(
            key,
            0 if roi is None else roi.area,
            0 if ring is None else ring.area,
            tuple(exclusions),
            self.trace_state(key),
        )

    # -- traces -------------------------------------------------------------------------------
    def fingerprint(self, key, movie_token) -> bytes:
        """Digest of what an ROI's traces depend on: its pixels, its ring's pixels, the movie."""
        digest = hashlib.blake2b(repr(movie_token).encode(), digest_size=16)
        for crop in (self.roi(key), self.ring(key)):
            if crop is None:
                digest.update(b"none")
            else:
                digest.update(
                    np.array([crop.top, crop.left, *crop.pixels.shape], np.int64).tobytes()
                )
                digest.update(np.packbits(crop.pixels).tobytes())
        return digest.digest()

    def trace_state(self, key) -> str:
        """'' when never extracted, 'current', or 'stale' when the ROI or ring changed since."""
        stored = self.traces.get(key)
        if stored is None:
            return ""
        return (
            "current" if stored.fingerprint == self.fingerprint(key, self.trace_movie) else "stale"
        )

    def keys_to_extract(self, movie_token) -> list:
        """ROIs whose traces are missing or stale for this movie."""
        return [
            key
            for key in self.roi_keys()
            if key not in self.traces
            or self.traces[key].fingerprint != self.fingerprint(key, movie_token)
        ]

    def store_traces(self, movie_token, results: Mapping[Hashable, RoiTraces]) -> None:
        """Keep extracted traces; traces of another movie are dropped."""
        if movie_token != self.trace_movie:
            self.traces = {}
            self.trace_movie = movie_token
        self.traces.update(results)
        self.traces_changed.emit(set(results))

    def contamination_ratios(self, *, fitted: bool, fixed_r: float) -> dict:
        """The r each ROI's correction uses: ``fixed_r``, or the fitted r with the Allen
        pipeline's replacement of r > 1 (the mean of the usable r over all current ROIs)."""
        from .core.neuropil_correction import replace_unusable_ratios

        keys = [k for k in self.roi_keys() if k in self.traces]
        if not fitted:
            return dict.fromkeys(keys, float(fixed_r))
        ratios = replace_unusable_ratios([self.traces[k].fitted_r for k in keys])
        return dict(zip(keys, ratios.tolist(), strict=True))

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
