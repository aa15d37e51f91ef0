"""Small helpers for talking to napari from the docks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from qtpy.QtCore import QEvent, Qt, QTimer
from qtpy.QtWidgets import QFileDialog, QMainWindow, QWidget

_AREAS = {
    "bottom": Qt.DockWidgetArea.BottomDockWidgetArea,
    "right": Qt.DockWidgetArea.RightDockWidgetArea,
    "left": Qt.DockWidgetArea.LeftDockWidgetArea,
    "top": Qt.DockWidgetArea.TopDockWidgetArea,
}


class DockWidget(QWidget):
    """A dock that lets go of the viewer when napari closes or removes it.

    napari's close button removes a dock by taking it out of its window
    (``setParent(None)``), without a close event: a dock that stayed connected
    would go on drawing, and keep its Dask cluster running. Subclasses free
    everything in :meth:`teardown`, called once.
    """

    _docked = False
    _torn_down = False
    #: Where the dock goes when napari opens it from the Plugins menu and the user has not
    #: put it anywhere yet (napari puts every plugin dock on the right); None: napari's choice.
    preferred_area: str | None = None

    def teardown(self) -> None:
        """Disconnect from the viewer, its layers and the model; stop background work."""

    def _finish(self) -> None:
        if not self._torn_down:
            self._torn_down = True
            self.teardown()

    def event(self, event) -> bool:
        if event.type() == QEvent.Type.ParentChange:
            if self.parent() is not None:
                if not self._docked and self.preferred_area is not None and not _placed(self):
                    QTimer.singleShot(0, self._move_to_preferred_area)  # once napari placed it
                self._docked = True
            elif self._docked:  # taken out of napari's window
                self._finish()
        return super().event(event)

    def _move_to_preferred_area(self) -> None:
        """Move napari's dock to :attr:`preferred_area` (napari then remembers it there)."""
        dock = self.parentWidget()
        window = None if dock is None else dock.parentWidget()
        if not isinstance(window, QMainWindow) or self._torn_down:
            return
        if window.dockWidgetArea(dock) == Qt.DockWidgetArea.RightDockWidgetArea:
            window.addDockWidget(_AREAS[self.preferred_area], dock)
            # napari gives its docks an explicit least size, so the dock would keep the least
            # height its content had on the right (tall: its parts stacked) at the bottom too
            dock.setMinimumSize(0, 0)

    def closeEvent(self, event) -> None:
        self._finish()
        super().closeEvent(event)


def _placed(widget) -> bool:
    """Whether napari remembers a place for the dock being made around ``widget`` (where the
    user last put it); asked before napari adds the dock, which then records its place."""
    from napari.settings import get_settings

    name = getattr(widget.parentWidget(), "name", None)
    return name in get_settings().application.plugin_widget_positions


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


def recolour_labels_in_place(layer, colours: dict) -> bool:
    """Give labels of ``layer`` (a Labels layer with a ``DirectLabelColormap``) new colours by
    changing its colormap in place: napari then uploads only the small table of colours, not
    the labels image again (which a new colormap costs: 20 ms for 512x512 under software
    OpenGL). Possible only while every label keeps its place in napari's table (every colour
    distinct); True when done, False when the layer needs a new colormap instead (nothing
    changed then). Other layers sharing the colormap follow with :func:`colours_changed`.

    Parameters
    ----------
    layer : napari.layers.Labels
    colours : dict
        label -> RGBA (four floats), for labels the colormap holds already.
    """
    from napari.utils.colormaps import DirectLabelColormap

    colormap = layer.colormap
    if not isinstance(colormap, DirectLabelColormap) or not colours:
        return False
    table = colormap.color_dict
    if any(label not in table for label in colours):
        return False
    places = colormap._label_mapping_and_color_dict[0]  # napari's private cache: label -> place
    before = {label: table[label] for label in colours}
    for label, rgba in colours.items():
        table[label] = np.asarray(rgba, dtype=before[label].dtype)
    colormap._clear_cache()
    if colormap._label_mapping_and_color_dict[0] != places:
        table.update(before)
        colormap._clear_cache()
        return False
    colours_changed(layer)
    return True


def colours_changed(layer) -> None:
    """Tell napari that the colours of ``layer``'s colormap changed in place (redraws them)."""
    layer.events.colormap()


def refresh_labels_box(layer, box) -> None:
    """Show what changed in a 2D Labels layer's data inside ``box`` ((top, left, bottom,
    right), bottom and right exclusive) without redrawing the rest: napari's own partial
    refresh, as its paint brush uses it (private; the whole layer is refreshed where that
    is missing)."""
    top, left, bottom, right = box
    try:
        layer._accumulate_updated_slice((slice(top, bottom), slice(left, right)))
        layer._partial_labels_refresh()
    except (AttributeError, TypeError, ValueError, IndexError):
        layer.refresh()


def save_path(parent, path, overwrite: bool, title: str, default: str, filters: str):
    """``(path, overwrite)``: the given path, or one chosen in a file dialog, which itself asks
    before replacing a file (so a chosen path may be replaced). ``(None, _)``: cancelled."""
    if path is not None:
        return Path(path), overwrite
    chosen, _ = QFileDialog.getSaveFileName(parent, title, default, filters)
    return (Path(chosen), True) if chosen else (None, overwrite)


def keybinding(key: str):
    """napari's form of a key name such as ``"Control-Z"`` (to find it in a keymap)."""
    from napari.utils.key_bindings import coerce_keybinding

    return coerce_keybinding(key)
