"""How ROIs decided "not cell" look in the ROI layer: as they are, grey, or hidden.

Only a Labels layer's colormap changes (a label's colour, never its pixels),
and its own colormap is given back when the style returns to "shown", another
layer is curated, or the dock closes. The neuropil rings take the ROI layer's
colours (see :mod:`._roi_overlays`), so they follow.
"""

from __future__ import annotations

import numpy as np
from napari.layers import Labels
from napari.utils.colormaps import DirectLabelColormap

from ..io.roi_set import Decision

GREY = (0.55, 0.55, 0.55, 0.6)
#: The styles offered, with the colour a not-cell gets (None: its own).
NOT_CELL_STYLES = {"shown": None, "grey": GREY, "hidden": (0.0, 0.0, 0.0, 0.0)}


class DecisionColours:
    """Colours the curated Labels layer's not-cell ROIs (see :data:`NOT_CELL_STYLES`).

    Parameters
    ----------
    model : RoiModel
    source : callable() -> layer or None
        The ROI layer being curated.
    recoloured : callable(layer), optional
        Called after the layer's colormap changed (the dock's rings follow it).
    """

    def __init__(self, model, source, recoloured=None):
        self.model = model
        self._source = source
        self._recoloured = recoloured or (lambda layer: None)
        self.style = "shown"
        self._layer = None  # the layer whose colormap we replaced
        self._own = None  # its own colormap, to give back
        self._ours = None  # the colormap we gave it
        self._not_cells: frozenset = frozenset()

    @property
    def supported(self) -> bool:
        """Whether the ROI layer can be coloured by decision (a Labels layer)."""
        return isinstance(self._source(), Labels)

    def set_style(self, style: str) -> None:
        """'shown', 'grey' or 'hidden' (see :data:`NOT_CELL_STYLES`)."""
        if style not in NOT_CELL_STYLES:
            raise ValueError(f"unknown style {style!r}: choose one of {', '.join(NOT_CELL_STYLES)}")
        self.style = style
        self._not_cells = frozenset()
        self.redraw(None)

    def redraw(self, keys=None) -> None:
        """Follow decisions or ROIs of ``keys`` (None: any) that changed."""
        layer = self._source()
        if layer is not self._layer or self._user_changed_colormap():
            self.restore()
        if self.style == "shown" or not isinstance(layer, Labels):
            self.restore()
            return
        not_cells = frozenset(
            row.key for row in self.model.rows() if row.decision is Decision.NOT_CELL
        )
        if layer is self._layer and not_cells == self._not_cells and keys is not None:
            return
        own = self._own if self._layer is layer else layer.colormap
        self._layer, self._own, self._not_cells = layer, own, not_cells
        self._ours = _with_not_cells(
            own, self.model.roi_keys(), not_cells, NOT_CELL_STYLES[self.style]
        )
        layer.colormap = self._ours
        self._recoloured(layer)

    def restore(self) -> None:
        """Give the layer its own colormap back (unless the user chose another since)."""
        layer, own, ours = self._layer, self._own, self._ours
        self._layer = self._own = self._ours = None
        self._not_cells = frozenset()
        if layer is not None and layer.colormap is ours:
            layer.colormap = own
            self._recoloured(layer)

    def _user_changed_colormap(self) -> bool:
        return self._layer is not None and self._layer.colormap is not self._ours


def _with_not_cells(own, keys, not_cells, colour) -> DirectLabelColormap:
    """``own``'s colours for every ROI key, ``colour`` for the not-cells."""
    labels = np.array([k for k in keys if isinstance(k, (int, np.integer))], dtype=np.int64)
    colours = own.map(labels) if labels.size else np.zeros((0, 4))
    color_dict = {None: (0.0, 0.0, 0.0, 0.0), 0: (0.0, 0.0, 0.0, 0.0)}
    for label, rgba in zip(labels.tolist(), colours, strict=True):
        color_dict[label] = colour if label in not_cells else tuple(rgba)
    return DirectLabelColormap(color_dict=color_dict, background_value=own.background_value)
