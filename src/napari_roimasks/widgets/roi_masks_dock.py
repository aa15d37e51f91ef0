"""The "ROI masks" dock: pick the ROI layer, set the motion border and ring options, see rings live.

The dock is thin: it reads the ROI layer into the viewer's :class:`RoiModel`
(see :mod:`napari_roimasks.layers`), and draws what the model holds into three
layers of its own, updated in place (see :mod:`._roi_overlays`).

With "live" on, every edit of the ROI layer (paint, fill, erase, undo, redo,
data replaced; shapes added, moved or deleted) updates only the rings it can
reach. The user's own layers are never changed.
"""

from __future__ import annotations

import numpy as np
from magicgui.widgets import CheckBox, ComboBox, Container, FloatSpinBox, Label, PushButton, SpinBox
from napari.layers import Labels, Shapes
from napari.layers.base._base_constants import ActionType
from napari.utils.notifications import show_error, show_info, show_warning
from qtpy.QtCore import QModelIndex
from qtpy.QtWidgets import (
    QAbstractItemView,
    QFileDialog,
    QHeaderView,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from ..core.border import MotionBorder
from ..core.geometry import labels_from_masks, mask_outlines
from ..core.neuropil import RingOptions
from ..io.motion_offsets import MotionOffsetsError, border_from_offsets_file
from ..layers import (
    LayerConversionError,
    labels_plane,
    roi_crops_from_shapes_layer,
    shape_crop,
)
from ..roi_model import model_for
from ._napari import camera, connect_all, disconnect_all, unwrap
from ._roi_overlays import RoiOverlays
from ._roi_table import RoiTableModel

_SIDES = (
    ("left", "RIGHT_SHIFT = 0", "the frame was shifted right, so its left edge is empty"),
    ("right", "LEFT_SHIFT = 1", "the frame was shifted left, so its right edge is empty"),
    ("top", "DOWN_SHIFT = 2", "the frame was shifted down, so its top edge is empty"),
    ("bottom", "UP_SHIFT = 3", "the frame was shifted up, so its bottom edge is empty"),
)


class RoiMasksWidget(QWidget):
    """Dock widget "ROI masks"."""

    def __init__(self, napari_viewer):
        super().__init__()
        self.viewer = napari_viewer
        self.model = model_for(unwrap(napari_viewer))
        self._source = None
        self._snapshot: np.ndarray | None = (
            None  # the label image last read, to find what an edit changed
        )
        self.overlays = RoiOverlays(napari_viewer, self.model)
        self._summaries: dict = {}  # key -> RoiSummary, kept current with the model

        self._layer_box = ComboBox(
            label="ROI layer", choices=self._roi_layer_choices, nullable=True
        )
        self._layer_box.tooltip = (
            "The Labels layer (painted ROIs) or Shapes layer (drawn ROIs) to curate"
        )
        self._use_frame = CheckBox(text="3D ROI layer: read the current frame", value=False)
        self._border = {}
        for side, index_name, why in _SIDES:
            box = FloatSpinBox(label=f"border {side} (px)", min=0, max=10_000, step=0.5)
            box.tooltip = f"Unusable band on the {side}: AllenSDK's border[{index_name}] ({why})"
            self._border[side] = box
        self._from_offsets = PushButton(text="Border from motion offsets…")
        self._from_offsets.tooltip = (
            "Set the border from a motion-correction file: CSV or HDF5 with x and y shifts, "
            "or suite2p's ops.npy (xoff, yoff). Border = the largest shift in each direction."
        )
        self._radius = SpinBox(label="ring outer radius", min=1, max=500, value=13)
        self._radius.tooltip = (
            "How far the neuropil ring reaches from the ROI, in pixels (AllenSDK: 13)"
        )
        self._gap = SpinBox(label="ring inner gap", min=0, max=499, value=0)
        self._gap.tooltip = "Pixels next to the ROI left out of its ring (suite2p's inner_neuropil_radius; AllenSDK: 0)"
        self._min_pixels = SpinBox(label="ring min pixels", min=0, max=1_000_000, value=0)
        self._min_pixels.tooltip = "Grow a ring until it has at least this many pixels (suite2p's min_neuropil_pixels; 0: off)"
        self._live = CheckBox(text="live neuropil rings", value=True)
        self._live.tooltip = "Update the rings on every edit of the ROI layer"
        self._rebuild_button = PushButton(text="Update rings")
        self._convert = PushButton(text="Copy ROIs to a new layer")
        self._convert.tooltip = (
            "Painted ROIs become outline polygons in a new Shapes layer, drawn ROIs a new Labels "
            "layer, so you can switch between painting and drawing. The ROI layer is not changed."
        )
        self._status = Label(value="")
        controls = Container(
            widgets=[
                self._layer_box,
                self._use_frame,
                *self._border.values(),
                self._from_offsets,
                self._radius,
                self._gap,
                self._min_pixels,
                self._live,
                self._rebuild_button,
                self._convert,
                self._status,
            ]
        )
        self._controls = controls

        self.table_model = RoiTableModel(self)
        self.table = QTableView()
        self.table.setModel(self.table_model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.clicked.connect(
            lambda index: self.select_roi(self.table_model.key_at(index.row()))
        )
        # ctrl/shift-clicks select several rows: the Traces dock plots them all
        self.table.selectionModel().selectionChanged.connect(self._on_table_selection)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(controls.native)
        layout.addWidget(self.table, stretch=1)

        self._layer_box.changed.connect(self._on_layer_chosen)
        self._use_frame.changed.connect(lambda: self.rebuild())
        for box in self._border.values():
            box.changed.connect(self._on_border_edited)
        self._from_offsets.changed.connect(lambda: self.border_from_offsets())
        for box in (self._radius, self._gap, self._min_pixels):
            box.changed.connect(self._on_ring_options_edited)
        self._live.changed.connect(lambda on: self.rebuild() if on else None)
        self._rebuild_button.changed.connect(lambda: self.rebuild(explicit=True))
        self._convert.changed.connect(lambda: self.copy_rois_to_new_layer())
        self._connections = [
            (self.model.rois_changed, self._on_rois_changed),
            (self.model.settings_changed, self._show_settings),
            (self.model.traces_changed, self._on_traces_changed),
            (self.viewer.layers.events.inserted, self._on_layers_changed),
            (self.viewer.layers.events.removed, self._on_layers_changed),
            (self.viewer.dims.events.current_step, self._on_frame_changed),
        ]
        connect_all(self._connections)

        self._show_settings()
        self._on_layers_changed()

    # -- public API (what the controls do) ------------------------------------------------------
    @property
    def source(self):
        """The ROI layer being curated, or None."""
        return self._source

    def set_source(self, layer) -> None:
        """Curate this Labels or Shapes layer (as choosing it in the picker does)."""
        layer = unwrap(layer)
        if layer is not None and not isinstance(layer, (Labels, Shapes)):
            show_warning(
                f"{layer.name!r} is an {type(layer).__name__} layer: ROIs come from a Labels layer "
                "(paint them) or a Shapes layer (draw them)"
            )
            return
        self._layer_box.reset_choices()
        self._layer_box.value = layer

    def set_border(self, border: MotionBorder) -> bool:
        """Apply a motion border; False (and a notification) when the image cannot take it."""
        try:
            self.model.set_border(border)
        except ValueError as error:
            show_warning(f"Border not changed: {error}. Use smaller values.")
            self._show_settings()
            return False
        return True

    def border_from_offsets(self, path=None) -> bool:
        """Set the border from a motion-correction offsets file (asks for one without ``path``)."""
        if path is None:
            path, _ = QFileDialog.getOpenFileName(
                self,
                "Motion-correction offsets",
                "",
                "Motion offsets (*.csv *.tsv *.txt *.h5 *.hdf5 *.npy);;All files (*)",
            )
            if not path:
                return False
        try:
            border = border_from_offsets_file(path)
        except MotionOffsetsError as error:
            show_error(f"Border not changed: {error}")
            return False
        if self.set_border(border):
            show_info(
                f"Motion border from {path}: left {border.left:g}, right {border.right:g}, "
                f"top {border.top:g}, bottom {border.bottom:g} px"
            )
            return True
        return False

    def rebuild(self, *, explicit: bool = False) -> bool:
        """Read the whole ROI layer again and rebuild every ring."""
        layer = self._source
        if layer is None:
            if explicit:
                show_warning(
                    "No ROI layer: add a Labels layer (paint ROIs) or a Shapes layer (draw them) and choose it"
                )
            return False
        try:
            if isinstance(layer, Labels):
                plane = labels_plane(layer, frame=self._frame())
                self._snapshot = np.array(plane, copy=True)
                self.model.set_rois_from_labels(plane)
            else:
                image_shape = self._image_shape_for_shapes(layer)
                self.model.set_rois(roi_crops_from_shapes_layer(layer, image_shape), image_shape)
        except (LayerConversionError, ValueError, TypeError) as error:
            show_warning(f"Rings not updated: {error}")
            self._status.value = f"Cannot read {layer.name!r}: see the notification"
            return False
        return True

    def copy_rois_to_new_layer(self):
        """Painted ROIs to a new Shapes layer (outlines), drawn ROIs to a new Labels layer."""
        layer = self._source
        if layer is None or self.model.rings is None:
            show_warning("No ROIs to copy: choose an ROI layer first")
            return None
        masks = [self.model.roi(k) for k in self.model.roi_keys()]
        if isinstance(layer, Labels):
            outlines = mask_outlines(masks)
            shapes = self.viewer.add_shapes(
                outlines,
                shape_type="polygon",
                name=f"{layer.name} as shapes",
                face_color="transparent",
                edge_color="yellow",
                edge_width=1,
            )
            return unwrap(shapes)
        labels, overlapping = labels_from_masks(masks, self.model.image_shape)
        if overlapping:
            show_warning(
                f"{overlapping} pixels belong to more than one shape; in the new Labels layer each "
                "keeps the label of the shape drawn last"
            )
        return unwrap(self.viewer.add_labels(labels, name=f"{layer.name} as labels"))

    def _on_table_selection(self, *_) -> None:
        rows = sorted({index.row() for index in self.table.selectionModel().selectedRows()})
        self.model.set_selection([self.table_model.key_at(r) for r in rows])

    def _on_layer_selection(self, event=None) -> None:
        layer = self._source
        if isinstance(layer, Labels):
            keys = (
                [layer.selected_label] if layer.selected_label in set(self.model.roi_keys()) else []
            )
        else:
            keys = [i + 1 for i in sorted(layer.selected_data)]
        if keys and list(self.model.selection[:1]) != keys[:1]:
            self.model.set_selection(keys)
            row = self.table_model.row_of(keys[0])
            if row is not None:
                self.table.selectRow(row)

    def _on_click(self, layer, event):
        """A click (no drag) on an ROI in pan/zoom mode selects it, as a row of the table does."""
        if event.type != "mouse_press" or str(layer.mode) != "pan_zoom":
            return
        start = event.position
        yield
        while event.type == "mouse_move":
            yield
        if np.allclose(event.position, start):
            value = layer.get_value(event.position, world=True)
            if value:
                self.select_roi(int(value))

    def _on_traces_changed(self, keys) -> None:
        present = set(self.model.roi_keys())
        for key in keys:
            if key in present:
                self._summaries[key] = self.model.summary(key)
        self.table_model.update_rows([self._summaries[k] for k in keys if k in self._summaries])

    def select_roi(self, key) -> None:
        """Select an ROI in its layer and centre the view on it."""
        layer = self._source
        roi = self.model.roi(key)
        if layer is None:
            return
        if isinstance(layer, Labels):
            layer.selected_label = int(key)
        else:
            layer.selected_data = {int(key) - 1}
        row = self.table_model.row_of(key)
        if row is not None and not self.table.selectionModel().isRowSelected(row, QModelIndex()):
            self.table.selectRow(row)
        if key not in self.model.selection:  # e.g. the row was selected already
            self.model.set_selection([key])
        if roi is not None:
            centre = ((roi.top + roi.bottom - 1) / 2, (roi.left + roi.right - 1) / 2)
            point = list(self.viewer.dims.point[: layer.ndim - 2]) + list(centre)
            world = layer.data_to_world(point)
            camera(self.viewer).center = tuple(world[-2:])

    # -- reacting to the viewer -----------------------------------------------------------------
    def _roi_layer_choices(self, _widget=None):
        return [
            (layer.name, unwrap(layer))
            for layer in self.viewer.layers
            if isinstance(layer, (Labels, Shapes)) and layer.name not in self.overlays.names
        ]

    def _on_layers_changed(self, event=None) -> None:
        current = self._source
        with self._layer_box.changed.blocked():  # refreshing the list is not a choice
            self._layer_box.reset_choices()
            if current is not None and current in self.viewer.layers:
                self._layer_box.value = current
        if current is not None and current not in self.viewer.layers:
            self._layer_box.value = None
            self._on_layer_chosen(None)
        if self._source is None:
            first = next((layer for layer in self._layer_box.choices if layer is not None), None)
            if first is not None:
                self._layer_box.value = first
        if self._source is None:
            self._status.value = (
                "Add a Labels layer (paint) or a Shapes layer (draw) with your ROIs"
            )

    def _on_layer_chosen(self, layer) -> None:
        layer = unwrap(layer)
        if layer is self._source:
            return
        self._disconnect_source()
        self._source = layer
        self._snapshot = None
        if layer is None:
            return
        for event, handler in self._edit_events(layer):
            if isinstance(event, list):  # a layer's mouse callbacks
                event.append(handler)
            else:
                event.connect(handler)
        self.model.source_layer = layer
        self.overlays.claim(layer)
        self.rebuild()

    def _disconnect_source(self) -> None:
        layer = self._source
        if layer is None:
            return
        for event, handler in self._edit_events(layer):
            if isinstance(event, list):  # a layer's mouse callbacks
                if handler in event:
                    event.remove(handler)
            else:
                event.disconnect(handler)
        self.model.source_layer = None

    def _edit_events(self, layer) -> list:
        """The ROI layer's events that signal an edit, each with the handler that follows it."""
        if isinstance(layer, Labels):
            # paint/fill/erase, their live partial updates, undo/redo (a refresh), data replaced
            events = (
                layer.events.paint,
                layer.events.labels_update,
                layer.events.set_data,
                layer.events.data,
            )
            return [(event, self._on_labels_edited) for event in events] + [
                (layer.events.selected_label, self._on_layer_selection),
                (layer.mouse_drag_callbacks, self._on_click),
            ]
        return [
            (layer.events.data, self._on_shapes_edited),
            (
                layer.events.edge_width,
                self._on_shapes_restyled,
            ),  # a path's width is its ROI's width
            (layer.events.highlight, self._on_layer_selection),
        ]

    def _frame(self) -> tuple[int, ...] | None:
        """Where the viewer stands along the ROI layer's leading axes, when the user asked to read it there."""
        layer = self._source
        if layer is None or layer.ndim <= 2 or not self._use_frame.value:
            return None
        point = layer.world_to_data(self.viewer.dims.point)
        return tuple(
            int(np.clip(round(p), 0, n - 1))
            for p, n in zip(point[:-2], layer.data.shape[:-2], strict=True)
        )

    def _on_frame_changed(self, event=None) -> None:
        layer = self._source
        if (
            layer is not None
            and layer in self.viewer.layers
            and layer.ndim > 2
            and self._use_frame.value
        ):
            self.rebuild()

    def _on_labels_edited(self, event=None) -> None:
        if not self._live.value or self._source is None:
            return
        if self._snapshot is None or self.model.rings is None:
            self.rebuild()
            return
        try:
            plane = labels_plane(self._source, frame=self._frame())
        except LayerConversionError:
            return
        if plane.shape != self._snapshot.shape:
            self.rebuild()
            return
        changed = plane != self._snapshot
        rows = np.flatnonzero(changed.any(axis=1))
        if rows.size == 0:
            return
        columns = np.flatnonzero(changed.any(axis=0))
        where = (slice(rows[0], rows[-1] + 1), slice(columns[0], columns[-1] + 1))
        moved = changed[where]
        labels = set(np.unique(self._snapshot[where][moved]).tolist()) | set(
            np.unique(plane[where][moved]).tolist()
        )
        self._snapshot[where] = plane[where]
        self.model.update_from_labels(plane, labels, where=where)

    def _on_shapes_edited(self, event) -> None:
        if not self._live.value or self._source is None:
            return
        action = getattr(event, "action", None)
        if action in (ActionType.ADDING, ActionType.REMOVING):
            return  # wait until the edit is done
        indices = getattr(event, "data_indices", None)
        if action == ActionType.REMOVED or self.model.rings is None or not indices or -1 in indices:
            self.rebuild()  # shapes after a removed one change their numbers
            return
        layer = self._source
        try:
            image_shape = self._image_shape_for_shapes(layer)
            changes = {index + 1: shape_crop(layer, index, image_shape) for index in indices}
        except (LayerConversionError, ValueError) as error:
            show_warning(f"Rings not updated: {error}")
            return
        if len(layer.data) != len(self.model.roi_keys()) and action != ActionType.ADDED:
            self.rebuild()
            return
        self.model.update_rois(changes)

    def _on_shapes_restyled(self, event=None) -> None:
        if self._live.value and any(t in ("path", "line") for t in self._source.shape_type):
            self.rebuild()

    def _image_shape_for_shapes(self, layer) -> tuple[int, int]:
        for candidate in self.viewer.layers:
            if candidate is layer or candidate.name in self.overlays.names:
                continue
            if type(candidate).__name__ in ("Image", "Labels") and candidate.ndim >= 2:
                return tuple(int(n) for n in candidate.data.shape[-2:])
        raise LayerConversionError(
            "shapes need an image to be rasterised on: add the movie or its mean image first"
        )

    # -- settings controls ----------------------------------------------------------------------
    def _on_border_edited(self, _value=None) -> None:
        border = MotionBorder(*(self._border[side].value for side, _, _ in _SIDES))
        if border != self.model.border:
            self.set_border(border)

    def _on_ring_options_edited(self, _value=None) -> None:
        try:
            options = RingOptions(self._radius.value, self._gap.value, self._min_pixels.value)
        except ValueError as error:
            show_warning(f"Ring options not changed: {error}")
            self._show_settings()
            return
        if options != self.model.ring_options:
            self.model.set_ring_options(options)

    def _show_settings(self) -> None:
        border, options = self.model.border, self.model.ring_options
        for side, box in self._border.items():
            with box.changed.blocked():
                box.value = getattr(border, side)
        for box, value in (
            (self._radius, options.outer_radius),
            (self._gap, options.inner_gap),
            (self._min_pixels, options.min_pixels),
        ):
            with box.changed.blocked():
                box.value = value
        self.overlays.draw_border()

    # -- drawing the model into the viewer ------------------------------------------------------
    def _on_rois_changed(self, keys) -> None:
        if (
            self._source is None
            or self._source not in self.viewer.layers
            or self.model.rings is None
        ):
            return
        current = self.model.roi_keys()
        if keys is None:
            self._summaries = {k: self.model.summary(k) for k in current}
            self.overlays.draw_border()
        else:
            present = set(current)
            for key in keys:
                if key in present:
                    self._summaries[key] = self.model.summary(key)
                else:
                    self._summaries.pop(key, None)
        self.overlays.draw_rings(self._source)
        self.overlays.draw_excluded(self._source, self._summaries)
        if keys is None or self.table_model.roi_keys() != current:
            self.table_model.set_rows([self._summaries[k] for k in current])
        else:
            self.table_model.update_rows([self._summaries[k] for k in keys if k in self._summaries])
        excluded = sum(s.excluded for s in self._summaries.values())
        self._status.value = f"{len(current)} ROIs, {excluded} excluded by AllenSDK's rules"

    # -- closing --------------------------------------------------------------------------------
    def closeEvent(self, event) -> None:
        self._disconnect_source()
        disconnect_all(self._connections)
        super().closeEvent(event)
