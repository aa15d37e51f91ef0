"""Merge and split in the "ROI masks" dock: the keys' actions on the ROI layer.

Shift+M merges the selected ROIs; Shift+S splits the selected ROI into its
connected pieces, or, when it is one piece, asks for a line: a "cut line"
Shapes layer in napari's line tool, and the line drawn across the ROI cuts it.

- On a **Labels** layer each edit is written with the layer's
  ``data_setitem``: one step of napari's own paint undo (Ctrl+Z), which brings
  back the pixels, and with them (through the model, see
  :mod:`napari_roimasks.model.repairs`) the rings, the decisions and the origins.
- On a **Shapes** layer (which napari cannot undo) the merged ROI's shape takes
  an outline of exactly the merged pixels and the others go; a split ROI's
  shape takes its first piece and the other pieces are added at the end. Ctrl+Z
  on the layer undoes the last merge or split (shapes, rings, decisions and
  origins), Ctrl+Shift+Z redoes it, as long as the shapes were not edited since.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
from napari.layers import Labels, Shapes

from ..core.roi_edits import LabelEdit, RoiEditError
from ..model.repairs import ShapesRepair
from ._napari import keybinding, unwrap

__all__ = ["CUT_LINE_NAME", "RepairTools"]

#: The Shapes layer a cut line is drawn in (removed once it is drawn).
CUT_LINE_NAME = "cut line"
#: napari's key names for undo and redo of a Shapes layer's merges and splits.
UNDO_KEY, REDO_KEY = "Control-Z", "Control-Shift-Z"


class RepairTools:
    """Merge and split the ROIs of the curated Labels or Shapes layer.

    Parameters
    ----------
    viewer : napari.Viewer
    model : RoiModel
    source : callable() -> layer or None
        The ROI layer being curated.
    select_roi : callable(key)
        Moves to an ROI (the dock's).
    colours : DecisionColours, optional
        The decision colours, given back while a Shapes layer's shapes are rewritten.
    link : RoiLayerLink, optional
        Reads a Shapes layer into the model once its shapes are rewritten.
    """

    def __init__(self, viewer, model, source, select_roi, *, colours=None, link=None):
        self.viewer = viewer
        self.model = model
        self._source = source
        self._select_roi = select_roi
        self._colours = colours
        self._link = link
        self.cut_layer = None
        self._cutting = None  # the ROI a line is being drawn for
        self._cut_source = None  # the ROI layer it is drawn for
        self._shapes_layer = None  # the Shapes layer whose Ctrl+Z is bound here
        self._done: list[_ShapesStep] = []  # a Shapes layer's merges and splits, newest last
        self._undone: list[_ShapesStep] = []
        self._bound: list = []  # (key, callback) bound on that layer

    def _layer(self):
        """The curated 2D Labels or Shapes layer, or None (and the reason in the status bar)."""
        layer = self._source()
        if not isinstance(layer, (Labels, Shapes)):
            self.viewer.status = "Merge and split work on a Labels or Shapes ROI layer"
            return None
        if layer.ndim != 2:
            self.viewer.status = "Merge and split work on a 2D ROI layer"
            return None
        if isinstance(layer, Shapes):
            if self._link is None:
                self.viewer.status = "Merge and split of shapes need the ROI masks dock"
                return None
            if not self._link.live:  # shapes may have changed since the model read them
                problem = self._link.read()
                if problem is not None:
                    self.viewer.status = f"Not changed: {problem}"
                    return None
        return layer

    def _selected(self) -> list:
        present = set(self.model.roi_keys())
        return [k for k in self.model.selection if k in present]

    def merge(self) -> bool:
        """Merge the selected ROIs into the lowest of them (Shift+M); False when it cannot."""
        layer = self._layer()
        if layer is None:
            return False
        keys = self._selected()
        try:
            if isinstance(layer, Labels):
                self._write(layer, self.model.plan_merge(np.asarray(layer.data), keys))
            else:
                self._write_shapes(layer, self.model.plan_shapes_merge(keys))
        except RoiEditError as error:
            self.viewer.status = f"Not merged: {error}"
            return False
        kept = min(int(k) for k in keys)
        self._select_roi(kept)
        self.viewer.status = f"Merged into ROI {kept} (Ctrl+Z undoes it)"
        return True

    def split(self) -> bool:
        """Split the selected ROI (Shift+S): into its pieces, or along a line drawn next."""
        layer = self._layer()
        if layer is None:
            return False
        keys = self._selected()
        if len(keys) != 1:
            self.viewer.status = "Select one ROI to split"
            return False
        key = keys[0]
        try:
            new = self._split(layer, key, None)
        except RoiEditError:  # one piece: a line cuts it
            self.ask_for_line(key)
            return False
        self.viewer.status = f"ROI {key} split into ROIs {_listed(new)} (Ctrl+Z undoes it)"
        return True

    def _split(self, layer, key, line) -> list:
        """Split ROI ``key`` (along ``line``, or into its pieces); the ROIs it became."""
        if isinstance(layer, Labels):
            edit, new = self.model.plan_split(np.asarray(layer.data), key, line=line)
            self._write(layer, edit)
        else:
            repair = self.model.plan_shapes_split(key, line=line)
            self._write_shapes(layer, repair)
            new = [int(key), *repair.new_keys]
        self._select_roi(new[0])
        return new

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
        layer = self._layer()
        if layer is None:
            return False
        try:
            new = self._split(layer, key, line)
        except RoiEditError as error:
            self.viewer.status = f"Not split: {error}"
            return False
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

    # -- a Shapes layer: its own undo ----------------------------------------------------------
    def follow(self, layer) -> None:
        """The dock curates ``layer`` now: a Shapes layer gets Ctrl+Z and Ctrl+Shift+Z for its
        merges and splits; those of the layer before are forgotten."""
        previous, self._shapes_layer = self._shapes_layer, None
        self._done, self._undone = [], []
        for key, on_key in self._bound:
            if previous is not None and previous.keymap.get(keybinding(key)) is on_key:
                previous.bind_key(key, None)
        self._bound = []
        if isinstance(layer, Shapes):
            for key, action in ((UNDO_KEY, self.undo_shapes), (REDO_KEY, self.redo_shapes)):

                def on_key(layer, action=action):  # napari passes the layer
                    action()

                layer.bind_key(key, on_key, overwrite=True)
                self._bound.append((key, on_key))
            self._shapes_layer = layer

    def _write_shapes(self, layer, repair: ShapesRepair) -> None:
        """Make a merge or split of a Shapes layer (one step of its Ctrl+Z)."""
        if repair.n_shapes != len(layer.data):
            raise RoiEditError("the ROIs are not read from the layer: update the rings first")
        step = _ShapesStep(repair)
        self._put(layer, step, undo=False)
        self._done.append(step)
        self._undone = []

    def undo_shapes(self) -> bool:
        """Undo the Shapes layer's last merge or split (Ctrl+Z on it); False when it cannot."""
        return self._step(self._done, self._undone, undo=True)

    def redo_shapes(self) -> bool:
        """Redo the merge or split last undone (Ctrl+Shift+Z on the layer)."""
        return self._step(self._undone, self._done, undo=False)

    def _step(self, source: list, target: list, *, undo: bool) -> bool:
        what = "undo" if undo else "redo"
        layer = self._shapes_layer
        if not source or layer is None or layer is not self._source():
            self.viewer.status = f"No merge or split to {what}"
            return False
        step = source[-1]
        if not _same_shapes(layer, step.shapes):
            self._done, self._undone = [], []
            self.viewer.status = f"Cannot {what}: the shapes were edited since the merge or split"
            return False
        source.pop()
        self._put(layer, step, undo=undo)
        target.append(step)
        keys = sorted(step.repair.outlines)
        self._select_roi(keys[0])
        self.viewer.status = f"{what.capitalize()}: ROI {keys[0]}'s merge or split"
        return True

    def _put(self, layer, step: _ShapesStep, *, undo: bool) -> None:
        """Give the layer its shapes with ``step`` made (``undo``: undone); the model takes
        their pixels from the step (the layer is not read again)."""
        self._give_back_colours()  # the layer's own colours move with its shapes
        now = _ShapesState.of(layer)
        if undo:
            shapes = now.restored(step.repair, step.before)
        else:
            step.before = now
            shapes = now.repaired(step.repair)

        def write():
            with self._link.paused():
                shapes.put(layer)

        self.model.apply_shapes_repair(step.repair, write, undo=undo)
        step.shapes = (shapes.data, shapes.types)

    def _give_back_colours(self) -> None:
        """The layer's own colours while its shapes are moved (decisions recolour after)."""
        if self._colours is not None:
            self._colours.restore()


@dataclass(frozen=True)
class _ShapesState:
    """What a Shapes layer holds, shape by shape (shape ``i`` is ROI ``i + 1``)."""

    data: tuple  # (n, 2) vertices
    types: tuple
    widths: tuple
    z: tuple
    face: np.ndarray  # (n, 4)
    edge: np.ndarray
    features: pd.DataFrame

    @classmethod
    def of(cls, layer) -> _ShapesState:
        return cls(
            tuple(layer.data),  # napari gives its arrays anew (and never changes them in place)
            tuple(layer.shape_type),
            tuple(layer.edge_width),
            tuple(layer.z_index),
            np.array(layer.face_color, copy=True),
            np.array(layer.edge_color, copy=True),
            layer.features.copy(),
        )

    def repaired(self, repair: ShapesRepair) -> _ShapesState:
        """These shapes once ``repair`` is made: outlines replaced, shapes removed or added
        (looking like the shape split)."""
        removed = set(repair.removed)
        like = min(repair.outlines) - 1
        rows = [i for i in range(len(self.data)) if i + 1 not in removed]
        shapes = _taken([(self, i) for i in rows] + [(self, like)] * len(repair.added))
        data, types = list(shapes.data), list(shapes.types)
        outlines = {**repair.outlines, **dict(zip(repair.new_keys, repair.added, strict=True))}
        for key, outline in outlines.items():
            data[key - 1], types[key - 1] = outline, "polygon"
        return replace(shapes, data=tuple(data), types=tuple(types))

    def restored(self, repair: ShapesRepair, before: _ShapesState) -> _ShapesState:
        """These shapes (``repair`` made) with it undone: the shapes it changed or removed as
        they were ``before``, the others moved back to their places, the added ones gone."""
        moved = repair.renumbering()
        changed = set(repair.outlines) | set(repair.removed)
        return _taken(
            [
                (before, key - 1) if key in changed else (self, moved.get(key, key) - 1)
                for key in range(1, repair.n_shapes + 1)
            ]
        )

    def put(self, layer) -> None:
        """Give the layer these shapes, with their widths, order, colours and features."""
        layer.data = list(zip(self.data, self.types, strict=True))
        if tuple(layer.edge_width) != self.widths:
            layer.edge_width = list(self.widths)
        if tuple(layer.z_index) != self.z:  # napari's z_index takes long: only when needed
            layer.z_index = list(self.z)
        for name, colours in (("face_color", self.face), ("edge_color", self.edge)):
            if not np.array_equal(getattr(layer, name), colours):  # each costs a thumbnail
                setattr(layer, name, colours)
        layer.features = self.features


def _taken(rows: list) -> _ShapesState:
    """A state of the shapes ``rows`` name: (state, index) each, from one or two states."""
    states = list({id(state): state for state, _ in rows}.values())
    offsets = np.cumsum([0] + [len(state.data) for state in states])
    where = {id(state): offset for state, offset in zip(states, offsets, strict=False)}
    positions = np.array([where[id(state)] + i for state, i in rows], dtype=np.intp)

    def column(name):
        values = [value for state in states for value in getattr(state, name)]
        return tuple(values[p] for p in positions)

    def stacked(name):
        return np.concatenate([getattr(state, name) for state in states])[positions]

    features = pd.concat([state.features for state in states], ignore_index=True)
    return _ShapesState(
        column("data"),
        column("types"),
        column("widths"),
        column("z"),
        stacked("face"),
        stacked("edge"),
        features.iloc[positions].reset_index(drop=True),
    )


def _same_shapes(layer, shapes) -> bool:
    """Whether the layer holds these (vertices, types): nothing was edited since."""
    if shapes is None:
        return False
    data, types = shapes
    return (
        len(layer.data) == len(data)
        and tuple(layer.shape_type) == types
        and all(np.array_equal(a, b) for a, b in zip(layer.data, data, strict=True))
    )


@dataclass
class _ShapesStep:
    """One merge or split of a Shapes layer."""

    repair: ShapesRepair
    before: _ShapesState | None = None  # the layer before it was last made
    shapes: tuple | None = None  # (vertices, types) the layer held after it was last made or undone


def _listed(keys) -> str:
    return ", ".join(str(k) for k in keys)
