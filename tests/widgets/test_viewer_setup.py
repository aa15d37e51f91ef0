"""The plugin is known to a real napari viewer, and the viewer draws on this display."""

from __future__ import annotations

import numpy as np


def test_viewer_knows_the_plugin(make_napari_viewer):
    from npe2 import PluginManager

    make_napari_viewer()
    manifest = PluginManager.instance().get_manifest("napari-roimasks")
    assert manifest.display_name == "ROI masks"


def test_viewer_renders_roi_labels_on_the_canvas(make_napari_viewer):
    # OpenGL must work here for every later widget test: draw one label and find its colour.
    viewer = make_napari_viewer(show=True)
    labels = np.zeros((64, 64), dtype=np.int32)
    labels[16:48, 16:48] = 1
    layer = viewer.add_labels(labels, opacity=1.0)
    viewer.reset_view()
    shot = viewer.screenshot(canvas_only=True, flash=False)
    label_colour = np.round(np.asarray(layer.get_color(1))[:3] * 255)
    centre = shot[shot.shape[0] // 2, shot.shape[1] // 2, :3].astype(float)
    corner = shot[2, 2, :3].astype(float)
    assert np.abs(centre - label_colour).max() <= 2
    assert np.abs(corner - label_colour).max() > 20
