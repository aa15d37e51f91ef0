"""The layers the "ROI masks" dock draws into the viewer, each updated in place.

- ``<ROI layer> neuropil``: a Labels layer, ring of ROI k labelled k, in the ROIs' colours;
- ``motion border``: the unusable bands, shaded;
- ``<ROI layer> excluded``: a red box around every ROI that AllenSDK would exclude.

The dock's layers are known by a token in their own metadata (what they show
and the ROI layer's ``unique_id``), never by name: a user's own layer called
"motion border" is left alone (napari names ours "motion border [1]"), and a
dock opened again finds the layers the last one drew.
"""

from __future__ import annotations

import numpy as np
from napari.layers import Labels, Shapes
from napari.utils.colormaps import DirectLabelColormap

from ._napari import colours_changed, refresh_labels_box, unwrap

BORDER_LAYER = "motion border"
#: ``layer.metadata`` key that marks the layers drawn here: ``"<what>:<ROI layer's unique_id>"``.
OVERLAY_KEY = "napari_roimasks_overlay"
BAND_COLOUR = [1.0, 0.85, 0.2, 0.35]


class RoiOverlays:
    """Draws a :class:`RoiModel` into a viewer, only ever touching its own layers."""

    def __init__(self, viewer, model):
        self.viewer = viewer
        self.model = model
        self._excluded_boxes: list | None = None

    @staticmethod
    def owns(layer) -> bool:
        """Whether ``layer`` is one of the layers drawn here (never offered as ROIs)."""
        return OVERLAY_KEY in unwrap(layer).metadata

    def _find(self, what: str, source=None):
        """Our layer for ``what`` (of the ROI layer ``source``), if it is in the viewer."""
        token = _token(what, source)
        return next(
            (layer for layer in self.viewer.layers if layer.metadata.get(OVERLAY_KEY) == token),
            None,
        )

    def _add(self, what: str, source, layer):
        """Add our new ``layer`` for ``what``, marked as ours before the viewer (and anyone
        listening to it, this dock included) sees it."""
        active = self.viewer.layers.selection.active
        layer.metadata[OVERLAY_KEY] = _token(what, source)
        self.viewer.add_layer(layer)
        if active is not None and active in self.viewer.layers:
            self.viewer.layers.selection.active = active  # keep the user's tool where it was
        return layer

    def _rectangles(self, what: str, source, name: str, boxes, **style) -> None:
        """Make our Shapes layer for ``what`` hold exactly these rectangles (adding it when needed)."""
        layer = self._find(what, source)
        if layer is None:
            if boxes:
                self._add(what, source, Shapes(boxes, shape_type="rectangle", name=name, **style))
            return
        if len(layer.data):
            layer.data = []
        if boxes:
            layer.add_rectangles(boxes, **style)

    def draw_rings(self, source, *, recoloured: bool = False) -> None:
        """Repaint the rings where they changed (all of them for a new layer); ``recoloured``:
        the ROI layer's colours changed (the rings take them)."""
        rings = self.model.rings
        existing = self._find("rings", source)
        box = rings.take_dirty_box()
        fits = (
            isinstance(existing, Labels)
            and existing.data.shape == self.model.image_shape
            and np.can_cast(rings.label_dtype(), existing.data.dtype)
        )
        if fits:
            if box is not None:
                rings.paint_ring_labels(existing.data, box)
                refresh_labels_box(existing, box)
            layer = existing
        else:
            if existing is not None:
                self.viewer.layers.remove(existing)
            layer = self._add(
                "rings",
                source,
                Labels(
                    rings.ring_labels(),
                    name=f"{source.name} neuropil",
                    opacity=0.8,
                    blending="translucent",
                ),
            )
            # outlines (a ring's inner and outer edge): filled rings hide the picture a
            # curator judges the ROIs on; the layer's contour control (0) fills them again
            layer.contour = 1
        _match_colours(layer, source, recoloured=recoloured)

    def draw_excluded(self, source, rows) -> None:
        """Red boxes around the ROIs AllenSDK excludes (``rows``: the table's rows)."""
        boxes = []
        for row in rows:
            roi = self.model.roi(row.key)
            if roi is not None and row.excluded:
                boxes.append(((roi.top - 1.5, roi.left - 1.5), (roi.bottom + 0.5, roi.right + 0.5)))
        if boxes == self._excluded_boxes and self._find("excluded", source) is not None:
            return
        self._excluded_boxes = boxes
        arrays = [np.array(b, dtype=float) for b in boxes]
        self._rectangles(
            "excluded",
            source,
            f"{source.name} excluded",
            arrays,
            edge_color="red",
            face_color="transparent",
            edge_width=1,
        )

    def draw_border(self) -> None:
        """The motion border's bands, shaded."""
        if self.model.image_shape is None:
            return
        h, w = self.model.image_shape
        area = self.model.border.usable_area(h, w)
        bands = [
            np.array([[top - 0.5, left - 0.5], [bottom - 0.5, right - 0.5]], dtype=float)
            for top, left, bottom, right in (
                (0, 0, h, area.first_column),
                (0, area.last_column + 1, h, w),
                (0, 0, area.first_row, w),
                (area.last_row + 1, 0, h, w),
            )
            if bottom > top and right > left
        ]
        self._rectangles("border", None, BORDER_LAYER, bands, face_color=BAND_COLOUR, edge_width=0)


def _token(what: str, source) -> str:
    return f"{what}:{'' if source is None else unwrap(source).unique_id}"


def _match_colours(rings_layer, source, *, recoloured: bool = False) -> None:
    """Ring k in ROI k's colour (``recoloured``: the source's colours changed, maybe in
    its colormap itself, which the rings share)."""
    if isinstance(source, Labels):
        if rings_layer.colormap is not source.colormap:
            rings_layer.colormap = source.colormap
        elif recoloured:
            colours_changed(rings_layer)
        return
    colours = {None: (0, 0, 0, 0), 0: (0, 0, 0, 0)}
    for index, colour in enumerate(np.asarray(source.edge_color)):
        colours[index + 1] = tuple(colour)
    shown = getattr(rings_layer.colormap, "color_dict", None)
    if shown is not None and _same_colours(shown, colours):
        return  # a new colormap costs napari a new texture: only when a colour changed
    rings_layer.colormap = DirectLabelColormap(color_dict=colours)


def _same_colours(shown: dict, colours: dict) -> bool:
    """Whether a colormap's ``color_dict`` gives each label of ``colours`` its colour (a
    label it has beside, of a shape removed since, labels no ring)."""
    if not shown.keys() >= colours.keys():
        return False
    keys = list(colours)
    return np.allclose(
        np.array([shown[k] for k in keys], dtype=float),
        np.array([colours[k] for k in keys], dtype=float),
        atol=1e-6,
    )
