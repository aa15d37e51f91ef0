"""Small helpers for talking to napari from the docks."""

from __future__ import annotations


def unwrap(obj):
    """The object behind napari's plugin proxy: identity needs the objects themselves."""
    return getattr(obj, "__wrapped__", obj)


def camera(viewer):
    """The viewer's camera (napari 0.9 moved it to ``viewer.scene.camera``)."""
    scene = getattr(viewer, "scene", None)
    return scene.camera if scene is not None and hasattr(scene, "camera") else viewer.camera


def connect_all(connections) -> None:
    """Connect each ``(signal, callback)`` pair (napari events and psygnal signals alike)."""
    for signal, callback in connections:
        signal.connect(callback)


def disconnect_all(connections) -> None:
    """Undo :func:`connect_all`, so a closed dock leaves nothing behind."""
    for signal, callback in connections:
        signal.disconnect(callback)
