"""Merge and split in the "ROI masks" dock: the keys' actions on a Labels ROI layer.

Shift+M merges the selected ROIs; Shift+S splits the selected ROI into its
connected pieces, or, when it is one piece, asks for a line: a "cut line"
Shapes layer in napari's line tool, and the line drawn across the ROI cuts it.
Each edit is written with the layer's ``data_setitem``: one step of napari's
own paint undo (Ctrl+Z), which brings back the pixels, and with them (through
the model, see :mod:`napari_roimasks.model.repairs`) the rings, the decisions
and the origins.
"""

from __future__ import annotations

import numpy as np
from napari.layers import Labels

from ..core.roi_edits import LabelEdit, RoiEditError
from ._napari import unwrap

__all__ = ["CUT_LINE_NAME", "RepairTools"]

#: The Shapes layer a cut line is drawn in (removed once it is drawn).
CUT_LINE_NAME = "cut line"


class RepairTools:
    """Merge and split the ROIs of the curated Labels layer.

    Parameters
    ----------
    viewer : napari.Viewer
    model : RoiModel
    source : callable() -> layer or None
        The ROI layer being curated.
    select_roi : callable(key)
        Moves to an ROI (the dock's).
    """

    def __init__(self, viewer, model, source, select_roi):
        self.viewer = viewer
        self.model = model
        self._source = source
        self._select_roi = select_roi
        self.cut_layer = None
        self._cutting = None  # the ROI a line is being drawn for
        self._cut_source = None  # the ROI layer it is drawn for

    def _labels(self):
        """The curated Labels layer, or None (and the reason in the status bar)."""
        layer = self._source()
        if not isinstance(layer, Labels):
            self.viewer.status = (
                "Merge and split work on a Labels ROI layer (painted ROIs); "
                "'Copy ROIs to a new layer' makes one from shapes"
            )
            return None
        if np.ndim(layer.data) != 2:
            self.viewer.status = "Merge and split work on a 2D ROI layer"
            return None
        return layer

    def _selected(self) -> list:
        present = set(self.model.roi_keys())
        return [k for k in self.model.selection if k in present]

    def merge(self) -> bool:
        """Merge the selected ROIs into the lowest of them (Shift+M); False when it cannot."""
        layer = self._labels()
        if layer is None:
            return False
        labels = np.asarray(layer.data)
        try:
            edit = self.model.plan_merge(labels, self._selected())
        except RoiEditError as error:
            self.viewer.status = f"Not merged: {error}"
            return False
        kept = min(int(k) for k in self._selected())
        self._write(layer, edit)
        self._select_roi(kept)
        self.viewer.status = f"Merged into ROI {kept} (Ctrl+Z undoes it)"
        return True

    def split(self) -> bool:
        """Split the selected ROI (Shift+S): into its pieces, or along a line drawn next."""
        layer = self._labels()
        if layer is None:
            return False
        keys = self._selected()
        if len(keys) != 1:
            self.viewer.status = "Select one ROI to split"
            return False
        key = keys[0]
        try:
            edit, new = self.model.plan_split(np.asarray(layer.data), key)
        except RoiEditError:  # one piece: a line cuts it
            self.ask_for_line(key)
            return False
        self._write(layer, edit)
        self._select_roi(new[0])
        self.viewer.status = f"ROI {key} split into ROIs {_listed(new)} (Ctrl+Z undoes it)"
        return True

    def ask_for_line(self, key) -> None:
        """A "cut line" layer in napari's line tool: the line drawn next cuts ROI ``key``."""
        self.cancel_line()
        self._cutting = key
        source = self._source()
        self._cut_source = source
        layer = self.viewer.add_shapes(name=CUT_LINE_NAME, edge_color="red", edge_width=1, ndim=2)
        layer.metadata["napari_roimasks_overlay"] = "cut line"  # never offered as ROIs
        if source is not None:
            layer.scale, layer.translate = source.scale[-2:], source.translate[-2:]
        layer.mode = "add_line"
        layer.events.data.connect(self._on_line)
        self.cut_layer = unwrap(layer)
        self.viewer.status = f"Draw a line across ROI {key} to cut it (Shift+S again cancels)"

    def _on_line(self, event=None) -> None:
        layer, key = self.cut_layer, self._cutting
        if layer is None or not len(layer.data):
            return
        start, end = np.asarray(layer.data[-1])[[0, -1], -2:]
        asked_for = self._cut_source
        self.cancel_line()
        if self._source() is not asked_for:  # another ROI layer is curated since
            self.viewer.status = "Not split: the line was asked for another ROI layer"
            return
        self.cut(key, (start, end))

    def cut(self, key, line) -> bool:
        """Cut ROI ``key`` along ``line`` ((row, column) start and end, in the layer's data)."""
        layer = self._labels()
        if layer is None:
            return False
        try:
            edit, new = self.model.plan_split(np.asarray(layer.data), key, line=line)
        except RoiEditError as error:
            self.viewer.status = f"Not split: {error}"
            return False
        self._write(layer, edit)
        self._select_roi(new[0])
        self.viewer.status = f"ROI {key} cut into ROIs {_listed(new)} (Ctrl+Z undoes it)"
        return True

    def cancel_line(self) -> None:
        """Stop waiting for a cut line (its layer goes)."""
        layer, self.cut_layer, self._cutting = self.cut_layer, None, None
        if layer is not None:
            layer.events.data.disconnect(self._on_line)
            if layer in self.viewer.layers:
                self.viewer.layers.remove(layer)
            source = self._source()
            if source is not None and source in self.viewer.layers:
                self.viewer.layers.selection.active = source

    @property
    def waiting_for_line(self) -> bool:
        """Whether a cut line is being drawn."""
        return self.cut_layer is not None

    def _write(self, layer, edit: LabelEdit) -> None:
        """Write the edit into the layer as one step of its paint undo; the model follows."""
        changed = edit.changed
        rows, columns = np.nonzero(changed)
        layer.data_setitem((rows + edit.top, columns + edit.left), edit.after[changed])
        self.model.labels_edited(np.asarray(layer.data))  # when the live link is off, too


def _listed(keys) -> str:
    return ", ".join(str(k) for k in keys)
