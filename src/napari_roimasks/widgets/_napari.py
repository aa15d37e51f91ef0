"""Small helpers for talking to napari from the docks."""

from __future__ import annotations

from qtpy.QtCore import QEvent
from qtpy.QtWidgets import QWidget


class DockWidget(QWidget):
    """A dock that lets go of the viewer when napari closes or removes it.

    napari's close button removes a dock by taking it out of its window
    (``setParent(None)``), without a close event: a dock that stayed connected
    would go on drawing, and keep its Dask cluster running. Subclasses free
    everything in :meth:`teardown`, called once.
    """

    _docked = False
    _torn_down = False

    def teardown(self) -> None:
        """Disconnect from the viewer, its layers and the model; stop background work."""

    def _finish(self) -> None:
        if not self._torn_down:
            self._torn_down = True
            self.teardown()

    def event(self, event) -> bool:
        if event.type() == QEvent.Type.ParentChange:
            if self.parent() is not None:
                self._docked = True
            elif self._docked:  # taken out of napari's window
                self._finish()
        return super().event(event)

    def closeEvent(self, event) -> None:
        self._finish()
        super().closeEvent(event)


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
