"""The "ROI masks" dock: pick the ROI layer, set the motion border and ring options, see rings live.

The dock is thin: it reads the ROI layer into the viewer's :class:`RoiModel`
(see :mod:`napari_roimasks.layers`), forwards every edit and setting to it,
and draws what the model holds into three layers of its own, updated in
place (see :mod:`._roi_overlays`). The border and ring options are kept in
the ROI layer's metadata, so File > Save writes them with the ROIs.

With "live" on, every edit of the ROI layer (paint, fill, erase, undo, redo,
data replaced; shapes added, moved or deleted) updates only the rings it can
reach. The user's own layers are never changed, but for their metadata and
features. *Export table (CSV)…* writes the rows the table shows.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from magicgui.widgets import CheckBox, ComboBox, Container, Label, PushButton
from napari.layers import Labels, Shapes
from napari.utils.notifications import show_error, show_info, show_warning
from qtpy.QtWidgets import QVBoxLayout

from ..core.border import MotionBorder
from ..core.geometry import labels_from_masks, mask_outlines
from ..io.image_size import first_image_holding, rois_extent, size_text
from ..io.layer_metadata import border_from_metadata, layer_metadata, ring_options_from_metadata
from ..io.roi_table_csv import write_roi_table_csv
from ..layers import (
    DECISION_COLUMNS,
    QUALITY_COLUMNS,
    LayerConversionError,
    decision_features,
    decisions_from_features,
    image_sizes,
    mask_groups_from_features,
    resize_labels,
    update_roi_features,
    write_roi_features,
)
from ..model import RoiDecision, model_for
from ._napari import DockWidget, camera, connect_all, disconnect_all, save_path, unwrap
from ._roi_layer_link import RoiLayerLink
from ._roi_overlays import RoiOverlays
from ._roi_table import RoiTable
from ._rows_scroll_area import RowsScrollArea
from ._session import SessionControls
from ._settings_controls import SettingsControls
from ._triage import TriageControls

#: ``layer.metadata`` mark of an ROI layer curated here: its settings are the session's
_CURATED = "napari_roimasks_curated"


#: Rows of the ROI table always in view, however short the dock (its settings scroll instead).
TABLE_ROWS_SHOWN = 9


class RoiMasksWidget(DockWidget):
    """Dock widget "ROI masks"."""

    def __init__(self, napari_viewer):
        super().__init__()
        self.viewer = napari_viewer
        self.model = model_for(unwrap(napari_viewer))
        self.overlays = RoiOverlays(napari_viewer, self.model)
        self.link = RoiLayerLink(
            napari_viewer,
            self.model,
            warn=self._show_problem,
            is_overlay=self.overlays.owns,
            on_selected=self._on_layer_selection,
            on_click=self._on_click,
            on_added=self._write_decisions,  # napari gives new shapes the last one's decision
        )

        self._layer_box = ComboBox(
            label="ROI layer", choices=self._roi_layer_choices, nullable=True
        )
        self._layer_box.tooltip = (
            "The Labels layer (painted ROIs) or Shapes layer (drawn ROIs) to curate"
        )
        self._use_frame = CheckBox(text="3D ROI layer: read the current frame", value=False)
        self._resize = PushButton(text="Resize to the movie")
        self._resize.tooltip = (
            "The ROI layer's frame size is not the movie's (its file did not record one), so the "
            "motion border and the exclusions would be wrong: give it the movie's size. Every "
            "ROI keeps its pixels."
        )
        self._resize.visible = False
        self.settings = SettingsControls(self.model, parent=self)
        self._live = CheckBox(text="live neuropil rings", value=True)
        self._live.tooltip = "Update the rings on every edit of the ROI layer"
        self._rebuild_button = PushButton(text="Update rings")
        self._convert = PushButton(text="Copy ROIs to a new layer")
        self._convert.tooltip = (
            "Painted ROIs become outline polygons in a new Shapes layer, drawn ROIs a new Labels "
            "layer, so you can switch between painting and drawing. The ROI layer is not changed."
        )
        self._status = Label(value="")
        self._read_from = None  # the layer whose ROIs the model holds (its unique_id)
        self.session = SessionControls(
            napari_viewer, self.model, lambda: self.source, self.set_source, lambda: self.curating
        )
        controls = Container(
            widgets=[
                self._layer_box,
                self._use_frame,
                self._resize,
                *self.settings.border.values(),
                self.settings.from_offsets,
                *self.settings.ring_boxes,
                self._live,
                self._rebuild_button,
                self._convert,
                *self.session.options,
                self._status,
            ]
        )
        self.table = RoiTable(self.model, self.select_roi)
        self.table_model = self.table.rows
        self.triage = TriageControls(
            unwrap(napari_viewer),
            self.model,
            self.table,
            self.select_roi,
            lambda: self.source,
            recoloured=self._on_recoloured,
            link=self.link,
        )
        self._export_table = PushButton(text="Export table (CSV)…")
        self._export_table.tooltip = (
            "Write the rows the table shows, in its order (its Show filter and sort: choose "
            "'all ROIs' for every ROI), as CSV: id, decision, reason, decided_at, probability, "
            "mask_group, area, exclusion"
        )
        # the settings scroll (by whole rows) when the dock is short; the curation controls and
        # rows enough of the table to triage stay in view
        self.settings_area = RowsScrollArea(controls.native)
        self.table.rows_in_view = TABLE_ROWS_SHOWN
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(self.settings_area)
        layout.addWidget(self.session.widget.native)
        layout.addWidget(self.triage)
        layout.addWidget(self.table, stretch=1)
        layout.addWidget(self._export_table.native)

        self._layer_box.changed.connect(self._on_layer_chosen)
        self._use_frame.changed.connect(self._on_use_frame)
        self._resize.changed.connect(lambda: self.resize_to_movie())
        self._live.changed.connect(self._on_live)
        self._rebuild_button.changed.connect(lambda: self.rebuild(explicit=True))
        self._convert.changed.connect(lambda: self.copy_rois_to_new_layer())
        self._export_table.changed.connect(lambda: self.export_table_csv())
        self._connections = [
            (self.model.rois_changed, self._on_rois_changed),
            (self.model.settings_changed, self._on_settings_changed),
            (self.model.traces_changed, self._on_traces_changed),
            (self.model.correction_changed, self._write_features),
            (self.model.decisions_changed, self._write_decisions),
            (self.model.quality_changed, self._on_quality_changed),
            (self.viewer.layers.events.inserted, self._on_layers_changed),
            (self.viewer.layers.events.removed, self._on_layers_changed),
            (self.viewer.dims.events.current_step, self._on_frame_changed),
        ]
        connect_all(self._connections)
        self._show_settings()
        self._on_layers_changed()

    # -- what the controls do -------------------------------------------------------------------
    @property
    def source(self):
        """The ROI layer being curated, or None."""
        return self.link.layer

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
        return self.settings.set_border(border)

    def border_from_offsets(self, path=None) -> bool:
        """Set the border from a motion-correction offsets file (asks for one without ``path``)."""
        return self.settings.border_from_offsets(path)

    def rebuild(self, *, explicit: bool = False, **settings) -> bool:
        """Read the whole ROI layer again and rebuild every ring (with ``settings``, if given)."""
        if self.source is None:
            if explicit:
                show_warning(
                    "No ROI layer: add a Labels layer (paint ROIs) or a Shapes layer (draw them) and choose it"
                )
            return False
        problem = self.link.read(**settings)
        if problem is not None:
            self._show_problem(f"Rings not updated: {problem}")
            return False
        self._read_from = self.source.unique_id
        return True

    @property
    def curating(self) -> bool:
        """Whether the model holds the ROI layer's ROIs (its last read did not fail)."""
        return self.source is not None and self._read_from == self.source.unique_id

    def movie_size_offer(self) -> tuple[str, tuple[int, int]] | None:
        """The movie or image (name, (rows, columns)) the ROI layer should be resized to; None
        when the layer is a Labels layer of an open image's size already (or there is none)."""
        layer = self.source
        shape = self.model.image_shape
        if not isinstance(layer, Labels) or shape is None:
            return None
        sizes = image_sizes(self.viewer.layers, skip=self.overlays.owns)
        if any(size == tuple(shape) for _, size in sizes):
            return None
        return first_image_holding(rois_extent(self.model.roi_set()), sizes)

    def resize_to_movie(self) -> bool:
        """Give the ROI layer the frame size of the movie it belongs to (see :meth:`movie_size_offer`)."""
        offer = self.movie_size_offer()
        if offer is None:
            show_warning("No movie to resize the ROI layer to: it fits the open images already")
            return False
        name, size = offer
        layer = self.source
        try:
            resize_labels(layer, size)
        except LayerConversionError as error:
            show_warning(str(error))
            return False
        self.rebuild()
        show_info(f"{layer.name!r} now has the frame size of {name!r}, {size_text(size)}")
        return True

    def _show_resize_offer(self) -> None:
        offer = self.movie_size_offer()
        self._resize.visible = offer is not None
        if offer is not None:
            name, size = offer
            rows, columns = self.model.image_shape
            self._resize.text = f"Resize {self.source.name!r} to {name!r} ({size_text(size)})"
            self._status.value = (
                f"{self.source.name!r} is {size_text((rows, columns))}, the movie "
                f"{size_text(size)}: resize it before judging the border"
            )

    def _show_problem(self, message: str) -> None:
        show_warning(message)
        self._status.value = f"Cannot read {self.source.name!r}: see the notification"

    def copy_rois_to_new_layer(self):
        """Painted ROIs to a new Shapes layer (outlines), drawn ROIs to a new Labels layer."""
        layer = self.source
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

    def export_table_csv(self, path=None, *, overwrite: bool = False) -> Path | None:
        """Write the rows the table shows, in its order (its filter and sort), as CSV, atomically
        (see :mod:`napari_roimasks.io.roi_table_csv` for the columns).

        Parameters
        ----------
        path : str or os.PathLike, optional
            Without it, a file dialog asks (and asks before replacing a file).
        overwrite : bool
            Replace ``path`` if it exists.

        Returns
        -------
        Path or None
            The file written; None when nothing was (no ROIs, cancelled, or an error,
            which a notification names).
        """
        if self.model.rings is None:
            show_warning("No ROIs to export: choose an ROI layer first")
            return None
        path, overwrite = save_path(
            self, path, overwrite, "Export the ROI table", "rois.csv", "CSV (*.csv)"
        )
        if path is None:
            return None
        keys = self.table.view.keys
        entries = {entry.id: entry for entry in self.model.roi_set().rois}
        exclusions = {key: self.model.summary(key).exclusions for key in keys}
        try:
            write_roi_table_csv(
                path, [entries[k] for k in keys], exclusions=exclusions, overwrite=overwrite
            )
        except OSError as error:  # the system's words, not the temporary file's name
            show_error(f"Table not exported to {path}: {error.strerror or error}")
            return None
        show_info(f"{len(keys)} ROIs written to {path}")
        return path

    def select_roi(self, key) -> None:
        """Select an ROI in its layer and centre the view on it."""
        layer = self.source
        if layer is None:
            return
        if isinstance(layer, Labels):
            layer.selected_label = int(key)
        else:  # the shapes of every ROI selected (rows picked with Ctrl), or this one's
            keys = self.model.selection if key in self.model.selection else (key,)
            layer.selected_data = {int(k) - 1 for k in keys}
        self.table.select_key(key)
        if key not in self.model.selection:  # e.g. the row was selected already
            self.model.set_selection([key])
        roi = self.model.roi(key)
        if roi is not None:
            centre = ((roi.top + roi.bottom - 1) / 2, (roi.left + roi.right - 1) / 2)
            point = list(self.viewer.dims.point[: layer.ndim - 2]) + list(centre)
            camera(self.viewer).center = tuple(layer.data_to_world(point)[-2:])

    # -- selection --------------------------------------------------------------------------------
    def _on_layer_selection(self, event=None) -> None:
        """The label picker or the selected shapes changed: select those ROIs (a label that is
        selected already, e.g. one of several rows, keeps the selection as it is)."""
        layer = self.source
        if isinstance(layer, Labels):
            key = layer.selected_label
            keys = [key] if key not in self.model.selection and key in self.model.roi_keys() else []
        else:
            keys = [i + 1 for i in sorted(layer.selected_data)]
            keys = keys if tuple(keys) != self.model.selection else []
        if keys:
            self.model.set_selection(keys)
            self.table.select_key(keys[0])

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

    # -- the ROI layer ----------------------------------------------------------------------------
    def _roi_layer_choices(self, _widget=None):
        return [
            (layer.name, unwrap(layer))
            for layer in self.viewer.layers
            if isinstance(layer, (Labels, Shapes)) and not self.overlays.owns(layer)
        ]

    def _on_layers_changed(self, event=None) -> None:
        current = self.source
        with self._layer_box.changed.blocked():  # refreshing the list is not a choice
            self._layer_box.reset_choices()
            if current is not None and current in self.viewer.layers:
                self._layer_box.value = current
        if current is not None and current not in self.viewer.layers:
            self._layer_box.value = None
            self._on_layer_chosen(None)
        if self.source is None:
            first = next((layer for layer in self._layer_box.choices if layer is not None), None)
            if first is not None:
                self._layer_box.value = first
        if self.source is None:
            self._status.value = (
                "Add a Labels layer (paint) or a Shapes layer (draw) with your ROIs"
            )
        self._show_resize_offer()
        self.session.follow()

    def _on_layer_chosen(self, layer) -> None:
        layer = unwrap(layer)
        if layer is self.source:
            return
        self.link.stop()
        self.model.source_id = None if layer is None else layer.unique_id
        self.session.stop()  # the last changes go to the session they belong to
        self.triage.repairs.cancel_line()  # a cut line asked for the layer curated so far
        self.triage.repairs.follow(layer)  # a Shapes layer's Ctrl+Z undoes its merges and splits
        self.model.forget_repairs()  # its merges and splits are not the new layer's
        if layer is None:
            self.session.follow()
            return
        self.link.follow(layer)
        settings = self._layer_settings(layer)
        if not (settings and self.rebuild(**settings)):
            if settings:
                show_warning(
                    f"{layer.name!r}: its saved settings do not fit it; the dock's are used"
                )
            self.rebuild()
        self._take_layer_decisions(layer)
        self.session.follow()  # after the read: a layer that cannot be read gets no session

    def _take_layer_decisions(self, layer) -> None:
        """The decisions and groups a layer arrived with (its features, e.g. opened from a
        file)."""
        if layer is self.source:
            self.model.set_mask_groups(mask_groups_from_features(layer))
        try:
            found = decisions_from_features(layer)
        except ValueError as error:
            show_warning(f"{layer.name!r}: its decisions are not read ({error})")
            return
        if found and layer is self.source:
            self.model.take_decisions(
                {key: RoiDecision(d, r, t) for key, (d, r, t, _) in found.items()},
                {key: p for key, (_, _, _, p) in found.items()},
            )

    def _layer_settings(self, layer) -> dict:
        """The border and ring options a layer arrived with (e.g. opened from a .roimasks.h5);
        none for a layer this plugin curated before: the session's settings stay."""
        if layer.metadata.get(_CURATED):
            return {}
        try:
            border = border_from_metadata(layer.metadata)
            options = ring_options_from_metadata(layer.metadata)
        except ValueError as error:
            show_warning(f"{layer.name!r}: {error}; the dock's settings are used")
            return {}
        return {
            name: value
            for name, value in (("border", border), ("ring_options", options))
            if value is not None
        }

    def _store_session(self) -> None:
        """Keep the border, ring options and image size in the ROI layer: File > Save writes them."""
        model = self.model
        self.source.metadata.update(
            layer_metadata(model.border, model.ring_options, model.image_shape)
        )
        self.source.metadata[_CURATED] = True

    def _on_use_frame(self, on: bool) -> None:
        self.link.read_current_frame = on
        self.rebuild()

    def _on_live(self, on: bool) -> None:
        self.link.live = on
        if on:
            self.rebuild()

    def _on_frame_changed(self, event=None) -> None:
        layer = self.source
        if layer is not None and layer in self.viewer.layers and self.link.frame() is not None:
            self.rebuild()

    # -- settings ---------------------------------------------------------------------------------
    def _on_settings_changed(self) -> None:
        self._show_settings()
        if self.source is not None:
            self._store_session()

    def _show_settings(self) -> None:
        self.settings.show()
        self.overlays.draw_border()

    # -- drawing the model ------------------------------------------------------------------------
    def _on_rois_changed(self, keys) -> None:
        source = self.source
        if source is None or source not in self.viewer.layers or self.model.rings is None:
            return
        if keys is None:
            self.overlays.draw_border()
            self._store_session()
        rows = self.model.rows()
        self.overlays.draw_rings(source)
        self.overlays.draw_excluded(source, rows)
        self.table.show_rows(keys, rows)
        self.triage.rois_changed(keys)
        self._write_quality(keys)
        excluded = sum(row.excluded for row in rows)
        self._status.value = f"{len(rows)} ROIs, {excluded} excluded by AllenSDK's rules"
        if keys is None:
            self._show_resize_offer()

    def _on_recoloured(self, layer) -> None:
        if layer is self.source and layer in self.viewer.layers and self.model.rings is not None:
            self.overlays.draw_rings(layer, recoloured=True)  # the rings take its colours

    def _on_traces_changed(self, keys) -> None:
        self.table.show_rows(keys)
        self._write_features()
        self._write_quality(keys)

    def _on_quality_changed(self, keys) -> None:
        self.table.show_rows(keys)
        self._write_quality(keys)

    def _write_quality(self, keys=None) -> None:
        """Keep each ROI's metrics and suggestion in the layer's features (other plugins and
        File > Save read them); only the rows of ``keys`` (None: all) when the table has them."""
        layer = self.source
        if layer is None or layer not in self.viewer.layers or self.model.rings is None:
            return
        if keys is not None and update_roi_features(
            layer, self.model.quality_features(keys), QUALITY_COLUMNS
        ):
            return
        write_roi_features(
            layer, self.model.quality_features(), QUALITY_COLUMNS, labels=self._labels_held()
        )

    def _labels_held(self):
        """The labels the ROI layer holds, as the model read them (None: unknown, e.g. a
        Shapes layer or live rings off)."""
        layer = self.source
        if isinstance(layer, Labels) and layer.ndim == 2 and self.curating and self._live.value:
            return self.model.roi_keys()  # a label image has no empty ROI
        return None

    def _write_decisions(self, keys=None) -> None:
        """Keep each ROI's decision in the layer's features: File > Save writes them. Only the
        rows of ``keys`` (None: all) change, when the table has them."""
        layer = self.source
        if layer is None or layer not in self.viewer.layers:
            return
        if keys is not None:
            try:
                changed = decision_features([self.model.summary(k) for k in keys])
            except KeyError:  # a deleted ROI's decision came back (undo): no row to write
                changed = None
            if changed is not None and update_roi_features(layer, changed, DECISION_COLUMNS):
                return
        write_roi_features(
            layer,
            decision_features(self.model.rows()),
            DECISION_COLUMNS,
            labels=self._labels_held(),
        )

    def _write_features(self) -> None:
        if self.source is not None and self.model.traces:
            write_roi_features(self.source, self.model.features())

    # -- closing ----------------------------------------------------------------------------------
    def teardown(self) -> None:
        """Let go of the layer, the model and the viewer (napari removed or closed the dock)."""
        self.triage.teardown()  # gives the layer its colours back while the dock still follows it
        self.session.close()  # writes what is unsaved
        self.triage.repairs.follow(None)
        self.link.stop()
        disconnect_all(self._connections)
        self._connections = []
