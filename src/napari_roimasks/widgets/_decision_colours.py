"""How ROIs decided "not cell" look in the ROI layer: as they are, grey, or hidden.

Only colours change, never the layer's data: a Labels layer's colormap (a
label's colour), a Shapes layer's face and edge colours (of the not-cell shapes
only; a shape without a face keeps none). The layer's own colours are given back
when the style returns to "shown", another layer is curated, or the dock
closes; colours the user chose meanwhile stay theirs. The neuropil rings take
the ROI layer's colours (see :mod:`._roi_overlays`), so they follow.

A decision recolours only the ROIs it changed: a Labels layer's colours are
kept by label, and a changed colour is changed in napari's colormap in place,
so napari uploads its small table of colours rather than the whole labels
image again (a new colormap: about 50 ms a "not cell" under software OpenGL,
for the ROI layer and its rings). That needs every label's colour distinct:
each label's colour is moved by less than a screen's colour step (at most
1/1000, see :func:`_distinct`). A Shapes layer's colours are set only when
they differ from what it shows.
"""

from __future__ import annotations

import numpy as np
from napari.layers import Labels, Shapes
from napari.utils.colormaps import DirectLabelColormap

from ..io.roi_set import Decision
from ._napari import recolour_labels_in_place

GREY = (0.55, 0.55, 0.55, 0.6)
#: The styles offered, with the colour a not-cell gets (None: its own).
NOT_CELL_STYLES = {"shown": None, "grey": GREY, "hidden": (0.0, 0.0, 0.0, 0.0)}
_TRANSPARENT = (0.0, 0.0, 0.0, 0.0)
_CLOSE = 1e-6  # colours the layer keeps as float32


class DecisionColours:
    """Colours the curated ROI layer's not-cell ROIs (see :data:`NOT_CELL_STYLES`).

    Parameters
    ----------
    model : RoiModel
    source : callable() -> layer or None
        The ROI layer being curated (Labels or Shapes).
    recoloured : callable(layer), optional
        Called after the layer's colours changed (the dock's rings follow them).
    """

    def __init__(self, model, source, recoloured=None):
        self.model = model
        self._source = source
        self._recoloured = recoloured or (lambda layer: None)
        self.style = "shown"
        self._painter = None  # how the layer we recoloured gets its colours, and gets them back
        self._not_cells: frozenset = frozenset()

    @property
    def supported(self) -> bool:
        """Whether the ROI layer can be coloured by decision (a Labels or Shapes layer)."""
        return isinstance(self._source(), (Labels, Shapes))

    def set_style(self, style: str) -> None:
        """'shown', 'grey' or 'hidden' (see :data:`NOT_CELL_STYLES`)."""
        if style not in NOT_CELL_STYLES:
            raise ValueError(f"unknown style {style!r}: choose one of {', '.join(NOT_CELL_STYLES)}")
        self.style = style
        self.redraw(None)

    def redraw(self, keys=None) -> None:
        """Follow decisions or ROIs of ``keys`` (None: any) that changed."""
        layer = self._source()
        painter = self._painter
        if painter is not None and (painter.layer is not layer or painter.user_replaced()):
            self.restore()
        if self.style == "shown" or not isinstance(layer, (Labels, Shapes)):
            self.restore()
            return
        colour = NOT_CELL_STYLES[self.style]
        if self._painter is None or keys is None:
            self._not_cells = frozenset(
                row.key for row in self.model.rows() if row.decision is Decision.NOT_CELL
            )
            if self._painter is None:
                kind = _LabelsColours if isinstance(layer, Labels) else _ShapesColours
                self._painter = kind(layer)
            changed = self._painter.paint(self.model.roi_keys(), self._not_cells, colour)
        else:
            keys = set(keys)
            now = {k for k in keys if self._decision(k) is Decision.NOT_CELL}
            self._not_cells = frozenset((self._not_cells - keys) | now)
            changed = self._painter.paint_some(keys, self._not_cells, colour)
        if changed:
            self._recoloured(layer)

    def restore(self) -> None:
        """Give the layer its own colours back (those the user chose since stay)."""
        painter, self._painter = self._painter, None
        self._not_cells = frozenset()
        if painter is not None and painter.give_back():
            self._recoloured(painter.layer)

    def _decision(self, key):
        try:
            return self.model.summary(key).decision
        except KeyError:  # no ROI (deleted): nothing to colour
            return None


class _LabelsColours:
    """A Labels layer's colormap with the not-cells' colours replaced."""

    def __init__(self, layer):
        self.layer = layer
        self._own = layer.colormap  # to give back
        self._ours = None  # the colormap we gave it
        self._colours: dict = {}  # label -> the colour we give it (RGBA tuple)
        self._arrays: dict = {}  # the same as arrays, as the colormap takes them fastest

    def user_replaced(self) -> bool:
        """Whether the user chose another colormap since ours."""
        return self._ours is not None and self.layer.colormap is not self._ours

    def paint(self, keys, not_cells, colour) -> bool:
        """Colour every ROI of ``keys`` (the others lose their colour); True when the
        colormap changed."""
        before, self._colours, self._arrays = self._colours, {}, {}
        self._fill(keys, not_cells, colour)
        if self._ours is not None and self._colours == before:
            return False
        return self._apply()

    def paint_some(self, keys, not_cells, colour) -> bool:
        """Colour the ROIs of ``keys``; True when the colours changed (in place when the
        layer's colormap is ours and keeps its table, else in a new colormap)."""
        changed = self._fill(keys, not_cells, colour)
        if not changed:
            return False
        ours = self._ours is not None and self.layer.colormap is self._ours
        if ours and recolour_labels_in_place(self.layer, {k: self._arrays[k] for k in changed}):
            return True
        return self._apply()

    def _fill(self, keys, not_cells, colour) -> list:
        """Keep the colours of ``keys``' labels; the labels whose colour changed."""
        labels = np.array([k for k in keys if isinstance(k, (int, np.integer))], dtype=np.int64)
        own = self._own.map(labels) if labels.size else np.zeros((0, 4))
        changed = []
        for label, rgba in zip(labels.tolist(), own.astype(np.float32), strict=True):
            if label in not_cells:
                rgba = np.array(colour, dtype=np.float32)
            rgba = _distinct(rgba, label)
            wanted = tuple(rgba.tolist())
            if self._colours.get(label) != wanted:
                self._colours[label] = wanted
                self._arrays[label] = rgba
                changed.append(label)
        return changed

    def _apply(self) -> bool:
        color_dict = {None: _TRANSPARENT, 0: _TRANSPARENT, **self._arrays}
        self._ours = DirectLabelColormap(
            color_dict=color_dict, background_value=self._own.background_value
        )
        self.layer.colormap = self._ours
        return True

    def give_back(self) -> bool:
        """The layer's own colormap again, unless the user chose another; True if given."""
        if self._ours is None or self.layer.colormap is not self._ours:
            return False
        self.layer.colormap = self._own
        return True


class _ShapesColours:
    """A Shapes layer's face and edge colours, the not-cell shapes' replaced.

    The layer's own colours are kept row by row, and follow shapes drawn or
    deleted since (napari says which shapes go before they do)."""

    def __init__(self, layer):
        self.layer = layer
        self._own_modes = (layer.face_color_mode, layer.edge_color_mode)
        self._own = [
            np.array(layer.face_color, dtype=float),
            np.array(layer.edge_color, dtype=float),
        ]
        self._ours = [colours.copy() for colours in self._own]  # what we last set (or found)
        self._removing: list = []  # shapes napari announced it is removing
        layer.events.data.connect(self._on_data)

    def user_replaced(self) -> bool:
        return False  # a colour the user gives a shape becomes its own (see _follow_layer)

    def paint(self, keys, not_cells, colour) -> bool:
        """Colour the not-cell shapes, the others their own; True when colours changed."""
        return self._paint(not_cells, colour)

    paint_some = paint  # every shape's colour is compared: a few thousand rows at most

    def _paint(self, not_cells, colour) -> bool:
        self._follow_layer()
        face, edge = (colours.copy() for colours in self._own)
        rows = np.array([k - 1 for k in not_cells if 1 <= k <= len(face)], dtype=np.intp)
        if rows.size:
            edge[rows] = colour
            has_face = face[rows, 3] > 0  # a shape drawn as an outline stays one
            face[rows[has_face]] = colour
        return self._set(face, edge)

    def give_back(self) -> bool:
        """The layer's own colours again (those the user changed since stay); True if changed."""
        self.layer.events.data.disconnect(self._on_data)
        self._follow_layer()
        changed = self._set(*self._own)
        for mode, name in zip(self._own_modes, ("face_color_mode", "edge_color_mode"), strict=True):
            if str(mode) != "direct" and str(getattr(self.layer, name)) != str(mode):
                setattr(self.layer, name, mode)  # colours mapped from features again
                changed = True
        return changed

    def _set(self, face, edge) -> bool:
        changed = False
        for i, (name, colours) in enumerate((("face_color", face), ("edge_color", edge))):
            if not _same(getattr(self.layer, name), colours):
                setattr(self.layer, name, colours)
                changed = True
            self._ours[i] = np.array(getattr(self.layer, name), dtype=float)  # as it keeps them
        return changed

    # -- keeping the own colours row by row -------------------------------------------------------
    def _on_data(self, event) -> None:
        if getattr(event, "action", None) == "removing":
            self._removing = sorted(int(i) for i in event.data_indices)
        elif getattr(event, "action", None) == "removed":
            self._follow_layer()

    def _follow_layer(self) -> None:
        """Rows for shapes drawn or deleted since, and colours the user chose since."""
        shown = [np.asarray(self.layer.face_color, dtype=float)]
        shown.append(np.asarray(self.layer.edge_color, dtype=float))
        n = len(shown[0])
        if self._removing and len(self._own[0]) - len(self._removing) == n:
            self._own = [np.delete(colours, self._removing, axis=0) for colours in self._own]
            self._ours = [np.delete(colours, self._removing, axis=0) for colours in self._ours]
        self._removing = []
        if len(self._own[0]) < n:  # shapes drawn since: their colours are their own
            self._own = [_extended(o, s) for o, s in zip(self._own, shown, strict=True)]
            self._ours = [_extended(o, s) for o, s in zip(self._ours, shown, strict=True)]
        elif len(self._own[0]) > n:  # replaced in a way napari did not announce: start again
            self._own = [s.copy() for s in shown]
            self._ours = [s.copy() for s in shown]
        for own, ours, now in zip(self._own, self._ours, shown, strict=True):
            user = ~np.all(np.isclose(ours, now, atol=_CLOSE), axis=1)  # recoloured: theirs
            own[user] = now[user]
            ours[user] = now[user]


def _distinct(rgba: np.ndarray, label: int) -> np.ndarray:
    """``rgba`` moved by a label's own few 1/65536 steps (at most 63 in a channel, less than
    a screen's colour step of 1/255): every label's colour differs from every other's, so
    napari keeps one place per label in its table of colours and a colour can change in
    place (see :func:`~._napari.recolour_labels_in_place`)."""
    steps = np.array([label % 64, label // 64 % 64, label // 4096 % 64, 0], dtype=np.float32)
    offset = steps / 65536
    return np.where(rgba > 0.5, rgba - offset, rgba + offset).astype(np.float32)


def _extended(kept, shown):
    """``kept``'s rows, then ``shown``'s rows beyond them."""
    return np.concatenate([kept, shown[len(kept) :]])


def _same(shown, colours) -> bool:
    shown = np.asarray(shown, dtype=float)
    return shown.shape == colours.shape and np.allclose(shown, colours, atol=_CLOSE)
