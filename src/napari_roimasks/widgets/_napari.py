"""Small helpers for talking to napari from the docks."""

from __future__ import annotations


def unwrap(obj):
    """The object behind napari's plugin proxy: identity needs the objects themselves."""
    return getattr(obj, "__wrapped__", obj)


def camera(viewer):
    """The viewer's camera (napari 0.9 moved it to ``viewer.scene.camera``)."""
    scene = getattr(viewer, "scene", None)
    return scene.camera if scene is not None and hasattr(scene, "camera") else viewer.camera
