"""Following the ROI layer: its edits go to the model as plain data (napari events, no Qt).

A :class:`RoiLayerLink` connects to one Labels or Shapes layer at a time.
With ``live`` on, every edit (paint, fill, erase, undo, redo, data replaced;
shapes added, moved, restyled or deleted) is read from the layer and handed
to the :class:`RoiModel`, which recomputes only the rings the edit can reach.

Shapes are ROIs 1..n in the layer's order, so deleting shape 3 of 10 makes
shapes 4..10 ROIs 3..9: the model renumbers their decisions, traces and
selection (:meth:`RoiModel.renumber`) whether or not ``live`` is on, since
those follow the layer's numbering, not the rings.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Iterable
from contextlib import contextmanager

import numpy as np
from napari.layers import Labels

from ..io.layer_metadata import LAYER_METADATA_IMAGE_SHAPE
from ..layers import (
    LayerConversionError,
    edited_shapes,
    image_sizes,
    labels_plane,
    roi_crops_from_shapes_layer,
)


class RoiLayerLink:
    """Reads one ROI layer into a model and keeps it current.

    Parameters
    ----------
    viewer : napari.Viewer
    model : RoiModel
    warn : callable(str)
        Shows a problem to the user (a notification).
    is_overlay : callable(layer) -> bool
        Whether a layer is one of the plugin's own (never the image shapes are drawn on).
    on_selected : callable()
        Called when the layer's own selection changes (label picker, selected shapes).
    on_click : generator function(layer, event)
        A mouse-drag callback for the layer (click-to-select).
    on_added : callable(), optional
        Called once shapes added to a Shapes layer are ROIs of the model (napari gives a
        new shape the last shape's features, its decision too).
    """

    def __init__(self, viewer, model, *, warn, is_overlay, on_selected, on_click, on_added=None):
        self.viewer = viewer
        self.model = model
        self.layer = None
        self.live = True
        self.read_current_frame = False  # a 3D Labels layer is read at the viewer's frame
        self._warn: Callable[[str], None] = warn
        self._is_overlay = is_overlay
        self._on_selected = on_selected
        self._on_click = on_click
        self._on_added: Callable[[], None] = on_added or (lambda: None)
        self._removing: tuple[list[int], int] | None = None  # shapes being deleted, and of how many
        self._paused = False  # see paused()

    @contextmanager
    def paused(self):
        """Within it, the layer's edits are not followed (the caller reads the layer after)."""
        paused, self._paused = self._paused, True
        try:
            yield
        finally:
            self._paused = paused

    def follow(self, layer) -> None:
        """Follow ``layer``'s edits (None: none); :meth:`read` reads it whole."""
        self.stop()
        self.layer = layer
        if layer is None:
            return
        for event, handler in self._events(layer):
            if isinstance(event, list):  # a layer's mouse callbacks
                event.append(handler)
            else:
                event.connect(handler)

    def stop(self) -> None:
        """Stop following the layer (disconnect everything connected to it)."""
        if self.layer is None:
            return
        for event, handler in self._events(self.layer):
            if isinstance(event, list):
                if handler in event:
                    event.remove(handler)
            else:
                event.disconnect(handler)
        self.layer = None
        self._removing = None

    def read(self, **settings) -> str | None:
        """Read the whole layer into the model; the problem's text when it cannot be read.

        ``settings`` (``border``, ``ring_options``) are applied with the ROIs, in one build.
        """
        layer = self.layer
        try:
            if isinstance(layer, Labels):
                plane = labels_plane(layer, frame=self.frame())
                self.model.set_rois_from_labels(plane, **settings)
            else:
                image_shape = self.image_shape_for_shapes()
                crops = roi_crops_from_shapes_layer(layer, image_shape)
                self.model.set_rois(crops, image_shape, **settings)
        except (LayerConversionError, ValueError, TypeError) as error:
            return str(error)
        return None

    def frame(self) -> tuple[int, ...] | None:
        """Where the viewer stands along a 3D layer's leading axes, when the user asked to read it there."""
        layer = self.layer
        if layer is None or layer.ndim <= 2 or not self.read_current_frame:
            return None
        point = layer.world_to_data(self.viewer.dims.point)
        return tuple(
            int(np.clip(round(p), 0, n - 1))
            for p, n in zip(point[:-2], layer.data.shape[:-2], strict=True)
        )

    def image_shape_for_shapes(self) -> tuple[int, int]:
        """The image grid shapes are rasterised on: the first movie or image open (as the
        reader and writer choose, :func:`napari_roimasks.layers.image_sizes`), else the size
        the layer records (e.g. opened from a file), else the first other Labels layer's."""
        sizes = image_sizes(self.viewer.layers, skip=self._is_overlay)
        if sizes:
            return sizes[0][1]
        recorded = self.layer.metadata.get(LAYER_METADATA_IMAGE_SHAPE)
        if recorded:
            return int(recorded[0]), int(recorded[1])
        for candidate in self.viewer.layers:
            if candidate is self.layer or self._is_overlay(candidate):
                continue
            if isinstance(candidate, Labels) and candidate.ndim >= 2:
                return tuple(int(n) for n in candidate.data.shape[-2:])
        raise LayerConversionError(
            "shapes need an image to be rasterised on: add the movie or its mean image first"
        )

    # -- the layer's events -----------------------------------------------------------------------
    def _events(self, layer) -> list:
        if isinstance(layer, Labels):
            # paint/fill/erase, their live partial updates, undo/redo (a refresh), data replaced
            events = (
                layer.events.paint,
                layer.events.labels_update,
                layer.events.set_data,
                layer.events.data,
            )
            return [(event, self._labels_edited) for event in events] + [
                (layer.events.selected_label, self._selected),
                (layer.mouse_drag_callbacks, self._on_click),
            ]
        return [
            (layer.events.data, self._shapes_edited),
            (layer.events.edge_width, self._shapes_restyled),  # a path's width is its ROI's
            (layer.events.highlight, self._selected),
        ]

    def _selected(self, event=None) -> None:
        if (
            self._removing is None and not self._paused
        ):  # while shapes go, napari renumbers the selection first
            self._on_selected()

    def _labels_edited(self, event=None) -> None:
        if not self.live or self._paused:
            return
        try:
            plane = labels_plane(self.layer, frame=self.frame())
        except LayerConversionError:
            return
        self.model.labels_edited(plane)

    def _shapes_edited(self, event) -> None:
        if self._paused:
            return
        removed = self._follow_removal(event)
        if self.live:
            self._update_shapes(event)
        if removed:  # the layer's selection, in the new numbers, as the rows are now
            self._on_selected()
        elif str(getattr(event, "action", "")) == "added":
            self._on_added()

    def _update_shapes(self, event) -> None:
        if self.model.rings is None:
            self._read_or_warn()
            return
        try:
            changes = edited_shapes(
                self.layer, event, self.image_shape_for_shapes(), len(self.model.roi_keys())
            )
        except (LayerConversionError, ValueError) as error:
            self._warn(f"Rings not updated: {error}")
            return
        if changes is None:
            self._read_or_warn()  # shapes after a removed one change their numbers
        elif changes:
            self.model.update_rois(changes)

    def _follow_removal(self, event) -> bool:
        """Shapes deleted (``layer.remove``, the Delete key, ``layer.data = []``): the shapes
        after them take new numbers, and the model renumbers what it keeps by number.
        True when shapes were removed.

        napari tells which shapes go, and how many there are, before removing them
        ("removing"); between that and "removed" it shifts the layer's selection, which
        the model takes once it is renumbered too.
        """
        action = str(getattr(event, "action", ""))
        if action == "removing":
            indices = [int(i) for i in getattr(event, "data_indices", ()) or ()]
            self._removing = (indices, len(self.layer.data))
            return False
        removing, self._removing = self._removing, None
        if action != "removed" or removing is None:
            return False
        mapping = renumbering_after_removal(*removing)
        if mapping:
            self.model.renumber(mapping)
        return True

    def _shapes_restyled(self, event=None) -> None:
        if (
            self.live
            and not self._paused
            and any(t in ("path", "line") for t in self.layer.shape_type)
        ):
            self._read_or_warn()

    def _read_or_warn(self) -> None:
        problem = self.read()
        if problem is not None:
            self._warn(f"Rings not updated: {problem}")


def renumbering_after_removal(indices: Iterable[int], n_shapes: int) -> dict:
    """The new ROI keys once shapes at ``indices`` (0-based) are removed from ``n_shapes``.

    Returns
    -------
    dict
        Old key (1-based) -> new key, or None for a removed shape, for every shape from
        the first removed on; {} when ``indices`` names no shape of the layer (then
        nothing can be said: e.g. napari's "a shape was added" index -1).
    """
    removed = sorted(set(indices))
    if not removed or removed[0] < 0 or removed[-1] >= n_shapes:
        return {}
    gone = set(removed)
    return {
        index + 1: None if index in gone else index + 1 - bisect_left(removed, index)
        for index in range(removed[0], n_shapes)
    }
