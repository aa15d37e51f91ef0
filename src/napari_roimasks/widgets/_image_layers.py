"""The Image layers the "Traces" dock draws: summary images and an ROI's correlation map.

- ``<movie> mean``, ``<movie> max``, ``<movie> std``, ``<movie> correlation``,
  ``<movie> enhanced mean`` (and ``... (suite2p)`` for suite2p's images);
- ``<ROI layer> ROI <id> correlation``: one map, at its window (``translate``),
  replaced when made for another ROI.

Each is placed below the ROI layers and their overlays (below the lowest
layer that is not an Image), so the ROIs and rings draw on top of it, and is
updated in place (same layer, data replaced) when it exists. The layers are
known by a token in their own metadata (what they show and the movie's or the
ROI layer's ``unique_id``), never by name: a user's layer called
``movie correlation`` is left alone.
"""

from __future__ import annotations

import numpy as np
from napari.layers import Image

from ._napari import unwrap

#: ``layer.metadata`` key that marks the layers drawn here: ``"<what>:<owner's unique_id>"``.
IMAGE_KEY = "napari_roimasks_image"


class ImageLayers:
    """Adds and updates the dock's Image layers in a viewer, only ever touching its own."""

    def __init__(self, viewer):
        self.viewer = viewer

    @staticmethod
    def owns(layer) -> bool:
        """Whether ``layer`` is one of the layers drawn here."""
        return IMAGE_KEY in unwrap(layer).metadata

    def find(self, what: str, owner: str):
        """Our layer for ``what`` of ``owner`` (a ``unique_id``), if it is in the viewer."""
        token = f"{what}:{owner}"
        return next(
            (layer for layer in self.viewer.layers if layer.metadata.get(IMAGE_KEY) == token),
            None,
        )

    def show_summary(self, layers, owner: str) -> list:
        """Show :class:`~napari_roimasks.model.SummaryLayer` s, each updated in place or added.

        Returns the layers, in the order given.
        """
        shown = []
        for spec in layers:
            layer = self.find(spec.key, owner)
            if layer is None:
                layer = self._add(
                    spec.key,
                    owner,
                    Image(
                        spec.data,
                        name=spec.name,
                        contrast_limits=spec.contrast_limits,
                        visible=spec.visible,
                        colormap="gray",
                    ),
                )
            else:
                _replace(layer, spec.data, spec.contrast_limits, name=spec.name)
            shown.append(layer)
        return shown

    def show_roi_map(self, correlation, owner: str, name: str):
        """Show an ROI's correlation map (a :class:`~napari_roimasks.model.RoiCorrelation`)
        at its window, in the one map layer of the ROI layer ``owner``."""
        window = correlation.window
        translate = (float(window.top), float(window.left))
        limits = (0.0, 1.0)  # a correlation: 1 is the ROI's own F
        layer = self.find("roi correlation", owner)
        if layer is None:
            return self._add(
                "roi correlation",
                owner,
                Image(
                    correlation.image,
                    name=name,
                    translate=translate,
                    contrast_limits=limits,
                    colormap="inferno",
                ),
            )
        layer.translate = translate
        _replace(layer, correlation.image, limits, name=name)
        return layer

    def _add(self, what: str, owner: str, layer):
        """Insert our new ``layer`` below the lowest layer that is not an Image (the ROI
        layers and their overlays draw on top of it), marked as ours before anyone sees it,
        keeping the user's active layer."""
        active = self.viewer.layers.selection.active
        layer.metadata[IMAGE_KEY] = f"{what}:{owner}"
        self.viewer.layers.insert(below_rois(self.viewer.layers), layer)
        if active is not None and active in self.viewer.layers:
            self.viewer.layers.selection.active = active  # keep the user's tool where it was
        return layer


def below_rois(layers) -> int:
    """Where in the layer list a picture to draw ROIs on goes: below the lowest layer that is
    not an Image (Labels, Shapes, Points...), else on top."""
    return next(
        (index for index, layer in enumerate(layers) if not isinstance(layer, Image)),
        len(layers),
    )


def _replace(layer, data, limits, *, name: str) -> None:
    """New data and contrast in the same layer (its visibility, colormap and place are the user's)."""
    layer.data = data
    finite = data[np.isfinite(data)]
    low, high = limits
    if finite.size:
        low, high = min(low, float(finite.min())), max(high, float(finite.max()))
    layer.contrast_limits_range = (low, high)  # first: limits outside the old range would stick
    layer.contrast_limits = limits
    if layer.name != name:
        layer.name = name
