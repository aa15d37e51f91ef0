"""The Traces dock's event review: the selected ROI's largest transients, and the movie around one.

The list shows the ROI's transients (:func:`~napari_roimasks.model.events.roi_transients`),
largest first, as ``frame 123  +450  (8.1 sigma)``. Clicking a row, or moving to it
with Up/Down, or Enter on it, moves the frame slider to its frame and
computes, in a worker, the mean change of the movie around it (dF) in a crop
around the ROI (:func:`~napari_roimasks.model.events.event_image_job`),
shown as one Image layer ``ROI 12 dF at frame 123 (-10/+5)`` lying at the
crop, under the ROI layers; choosing another event replaces it, selecting
another ROI (or closing the dock) removes it. Under the list, one row of spin
boxes sets the frames averaged before the event and from it on, and the crop's
margin; changing one computes the chosen event's image again. A result for an
event, ROI, frames or margin no longer chosen is dropped.
"""

from __future__ import annotations

import threading

import numpy as np
from napari.layers import Image
from napari.qt.threading import create_worker
from napari.utils.notifications import show_error, show_warning
from qtpy.QtGui import QFontDatabase
from qtpy.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from ..core.metrics import EVENT_SIGMAS
from ..model.events import (
    EVENT_CROP_MARGIN,
    EVENT_FRAMES_AFTER,
    EVENT_FRAMES_BEFORE,
    MAX_EVENT_CROP_MARGIN,
    MAX_EVENT_FRAMES,
    SIGMA,
    aligned_labels,
    event_crop,
    event_image_job,
    roi_transients,
    transients_problem,
)
from ..model.traces import movie_token
from ._image_layers import IMAGE_KEY, below_rois
from ._napari import connect_all, disconnect_all

#: What the layer drawn here shows, in its ``IMAGE_KEY`` token (``"event dF:<ROI layer id>"``).
EVENT_IMAGE = "event dF"

ROW_HELP = (
    "The dF image of the event chosen: the frames averaged before and from its frame, and "
    "the pixels shown around the ROI"
)
BEFORE_HELP = (
    "dF image: the baseline is the mean of this many frames before the event's frame "
    f"(fewer at the movie's start; 1 to {MAX_EVENT_FRAMES})"
)
AFTER_HELP = (
    "dF image: the response is the mean of this many frames from the event's frame on "
    f"(fewer at the movie's end; 1 to {MAX_EVENT_FRAMES})"
)
MARGIN_HELP = (
    "dF image: the pixels shown around the ROI's box on every side (clipped at the frame's edge; "
    f"0 to {MAX_EVENT_CROP_MARGIN})"
)


def list_help(before: int, after: int, margin: int) -> str:
    """The list's tooltip, with the dF image's frames and margin as set."""
    return (
        "The selected ROI's largest transients (peaks of F - r·Fneu): the frame, the height over "
        f"the trace's median, and that height in noise {SIGMA}. Click a row, or Up/Down and "
        f"Enter: the frame slider goes there, and a layer shows the mean of the {after} frames "
        f"from it minus the mean of the {before} before (dF), {margin} pixels around the ROI "
        "(set under the list)"
    )


def event_layer_name(key, frame: int, before: int, after: int) -> str:
    """The dF layer's name, with the frames averaged before and after the event's frame:
    ``"ROI 12 dF at frame 123 (-10/+5)"`` (short: napari's layer list elides long names)."""
    return f"ROI {key} dF at frame {frame} (-{before}/+{after})"


def _spin_box(value: int, low: int, high: int, tooltip: str, prefix="", suffix="") -> QSpinBox:
    """A narrow spin box of whole numbers that says what it holds (``10 before``)."""
    box = QSpinBox()
    box.setRange(low, high)
    box.setValue(value)
    box.setPrefix(prefix)
    box.setSuffix(suffix)
    box.setToolTip(tooltip)
    box.setKeyboardTracking(False)  # typing "12" is one change (on Enter), not "1" then "12"
    # three fit beside the list: no buttons (Up/Down and the wheel step), napari's width undone
    box.setButtonSymbols(QSpinBox.ButtonSymbols.NoButtons)
    box.setStyleSheet("QSpinBox { min-width: 0px; padding: 1px 3px; }")
    return box


class EventReview(QWidget):
    """The list of the selected ROI's transients and the dF layer of the one chosen.

    Parameters
    ----------
    viewer : napari.Viewer
    model : RoiModel
    movie_layer : callable() -> napari.layers.Image or None
        The dock's chosen movie (the traces' movie when they are current).
    parent : QWidget, optional
    """

    def __init__(self, viewer, model, movie_layer, parent=None):
        super().__init__(parent)
        self.viewer = viewer
        self.model = model
        self._movie_layer = movie_layer
        self.key = None  # the ROI listed
        self.transients: list = []
        self.wanted = None  # (key, frame) of the dF image asked for last
        self._cancel = threading.Event()
        self._worker = None  # the worker reading the image asked for last
        #: the token of the dF layer added last: found by it even after another ROI layer is chosen
        self._layer_token = None
        #: the dF image's ``(before, after, margin)`` as the spin boxes show them: frames averaged
        #: before the event and from it on, pixels around the ROI's box (kept here: a result
        #: arriving as the dock closes compares with it after the spin boxes are gone)
        self.df_settings = (EVENT_FRAMES_BEFORE, EVENT_FRAMES_AFTER, EVENT_CROP_MARGIN)
        self.title = QLabel()
        self.title.setWordWrap(True)
        self.list = QListWidget()
        self.list.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.list.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.df_settings_row = self._df_settings_row()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.title)
        layout.addWidget(self.list, stretch=1)
        layout.addWidget(self.df_settings_row)
        # one row at the least: beside the plot (the bottom dock) the list is as tall as the plot
        # anyway; above it (a tall dock, as napari first docks it) its least height adds to the
        # dock's for good: napari's dock keeps the largest least height its content ever had
        self.list.setMinimumHeight(self.list.fontMetrics().height() + 2 * self.list.frameWidth())
        self.setMinimumWidth(190)
        self.setMaximumWidth(260)
        self._show_help()

        # a click or Up/Down changes the current row; a click on it again, or Enter, goes back
        self.list.currentRowChanged.connect(self.choose)
        self.list.itemClicked.connect(self._on_item)
        self.list.itemActivated.connect(self._on_item)
        for box in (self.frames_before, self.frames_after, self.crop_margin):
            box.valueChanged.connect(self._on_settings_changed)
        self._connections = [
            (self.model.selection_changed, self.refresh),
            (self.model.traces_changed, self.refresh),
            (self.model.rois_changed, self.refresh),
            (self.model.correction_changed, self.refresh),
        ]
        connect_all(self._connections)
        self.refresh()

    def _df_settings_row(self) -> QWidget:
        """The spin boxes of the dF image's frames before and after the event and its margin."""
        self.frames_before = _spin_box(
            EVENT_FRAMES_BEFORE, 1, MAX_EVENT_FRAMES, BEFORE_HELP, suffix=" before"
        )
        self.frames_after = _spin_box(
            EVENT_FRAMES_AFTER, 1, MAX_EVENT_FRAMES, AFTER_HELP, suffix=" after"
        )
        self.crop_margin = _spin_box(
            EVENT_CROP_MARGIN,
            0,
            MAX_EVENT_CROP_MARGIN,
            MARGIN_HELP,
            prefix="\N{PLUS-MINUS SIGN}",
            suffix=" px",
        )
        widget = QWidget()
        row = QHBoxLayout(widget)
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(3)
        label = QLabel("dF")
        label.setToolTip(ROW_HELP)
        row.addWidget(label)
        for box in (self.frames_before, self.frames_after, self.crop_margin):
            row.addWidget(box, stretch=1)
        return widget

    # -- the list -------------------------------------------------------------------------------
    def refresh(self, _keys=None) -> None:
        """List the selected ROI's transients (or say why there are none)."""
        selection = self.model.selection
        key = selection[0] if len(selection) == 1 else None
        problem = transients_problem(self.model, key)
        self.key = key
        self.transients = [] if problem is not None else roi_transients(self.model, key)
        if problem is not None:
            self.title.setText(problem)
        elif self.transients:
            self.title.setText(  # the columns are explained in the tooltip
                f"ROI {key}: {len(self.transients)} transients; click: go there, show its dF"
            )
        else:
            self.title.setText(f"ROI {key}: no transient above {EVENT_SIGMAS:g} {SIGMA}")
        frames = [t.frame for t in self.transients]
        shown = self.wanted is not None and self.wanted[0] == key and self.wanted[1] in frames
        self.list.blockSignals(True)  # refilling is not the user's choice
        self.list.clear()
        self.list.addItems(aligned_labels(self.transients))
        if shown:
            self.list.setCurrentRow(frames.index(self.wanted[1]))
        self.list.blockSignals(False)
        # the dF settings go with the list: nothing to set while nothing is listed (and a dock
        # opened with no ROI selected asks for no more height than the title's)
        self.list.setVisible(bool(self.transients))
        self.df_settings_row.setVisible(bool(self.transients))
        if not shown:  # another ROI, or its event is no longer listed
            self._forget_image()

    def _on_item(self, item) -> None:
        self.choose(self.list.row(item))

    def choose(self, row: int) -> None:
        """Go to the ``row``'th transient's frame and show its dF image."""
        if not 0 <= row < len(self.transients):
            return
        frame = self.transients[row].frame
        self.viewer.dims.set_current_step(0, frame)
        shown_or_coming = self.layer is not None or self._worker is not None
        if (self.key, frame) != self.wanted or not shown_or_coming:  # e.g. its layer deleted
            self.show_event_image(frame)

    # -- the dF image ---------------------------------------------------------------------------
    def _show_help(self) -> None:
        help_text = list_help(*self.df_settings)
        self.list.setToolTip(help_text)
        self.title.setToolTip(help_text)

    def _on_settings_changed(self, _value=None) -> None:
        """The chosen event's image again, for the frames and margin now set."""
        self.df_settings = (
            self.frames_before.value(),
            self.frames_after.value(),
            self.crop_margin.value(),
        )
        self._show_help()
        if self.wanted is not None:
            self.show_event_image(self.wanted[1])

    @property
    def layer(self):
        """The dF layer in the viewer, or None (e.g. the user deleted it)."""
        token = self._layer_token
        if token is None:  # none added yet: no layer of the viewer is ours
            return None
        return next(
            (layer for layer in self.viewer.layers if layer.metadata.get(IMAGE_KEY) == token),
            None,
        )

    def show_event_image(self, frame: int) -> bool:
        """Compute the listed ROI's dF image at ``frame`` in a worker; False (and a
        notification) when it cannot be computed."""
        key, movie = self.key, self._movie_layer()
        if movie is None or getattr(movie, "multiscale", False):
            show_warning("No movie: choose the movie the traces come from in the Traces dock")
            return False
        if movie_token(movie.data) != self.model.trace_movie:
            show_warning(
                f"ROI {key}'s traces come from another movie than {movie.name!r}: extract again"
            )
            return False
        settings = before, after, margin = self.df_settings
        try:
            window = event_crop(self.model, key, margin=margin)
        except ValueError as error:
            show_warning(f"No dF image: {error}")
            return False
        self._cancel.set()  # an image still being read is not wanted any more
        cancel = self._cancel = threading.Event()
        self.wanted = (key, frame)
        worker = create_worker(
            event_image_job,
            movie.data,
            key,
            frame,
            window,
            before=before,
            after=after,
            cancel=cancel,
            _start_thread=False,
            _connect={
                "returned": lambda image: self._on_image(image, cancel, movie, settings),
                "errored": lambda error: self._on_failed(error, cancel, key, frame),
                "finished": lambda: self._on_finished(worker),
            },
        )
        self._worker = worker
        worker.start()
        return True

    def _on_image(self, image, cancel, movie, settings) -> None:
        # dropped when another event, ROI, frames or margin were chosen meanwhile, or the
        # movie is gone
        if image is None or cancel.is_set() or (image.key, image.frame) != self.wanted:
            return
        if settings != self.df_settings:
            return
        if movie not in self.viewer.layers:
            return
        top, left = image.window.top, image.window.left
        scale = tuple(movie.scale[-2:])
        translate = tuple(
            float(t + s * v)
            for t, s, v in zip(movie.translate[-2:], scale, (top, left), strict=True)
        )
        finite = image.image[np.isfinite(image.image)]
        high = float(finite.max()) if finite.size else 0.0
        limits = (0.0, high if high > 0 else 1.0)  # what rose: the cell that fired
        name = event_layer_name(image.key, image.frame, *settings[:2])
        shown = {  # what the image averages, exactly (the frames clipped at the movie's ends)
            "dF baseline frames": (image.frames.baseline.start, image.frames.baseline.stop),
            "dF response frames": (image.frames.response.start, image.frames.response.stop),
            "dF crop": tuple(image.window),
        }
        layer = self.layer
        if layer is None:
            layer = Image(
                image.image,
                name=name,
                translate=translate,
                scale=scale,
                contrast_limits=limits,
                colormap="inferno",
                metadata=shown,
            )
            self._add(layer)
            return
        layer.data = image.image
        layer.translate, layer.scale = translate, scale
        layer.contrast_limits_range = (min(0.0, float(finite.min(initial=0.0))), limits[1])
        layer.contrast_limits = limits
        layer.metadata.update(shown)
        layer.name = name

    def _add(self, layer) -> None:
        """Insert the dF layer under the ROI layers (their outlines draw on it), marked as ours,
        keeping the user's active layer."""
        active = self.viewer.layers.selection.active
        self._layer_token = f"{EVENT_IMAGE}:{self.model.source_id or ''}"
        layer.metadata[IMAGE_KEY] = self._layer_token
        self.viewer.layers.insert(below_rois(self.viewer.layers), layer)
        if active is not None and active in self.viewer.layers:
            self.viewer.layers.selection.active = active

    def _on_failed(self, error, cancel, key, frame) -> None:
        if not cancel.is_set():
            show_error(f"The dF image of ROI {key} at frame {frame} failed: {error}")

    def _on_finished(self, worker) -> None:
        if worker is self._worker:
            self._worker = None

    def _forget_image(self) -> None:
        """Stop the image being read and remove the layer (another ROI, or none listed)."""
        self._cancel.set()
        self.wanted = None
        layer = self.layer
        if layer is not None:
            self.viewer.layers.remove(layer)

    # -- closing --------------------------------------------------------------------------------
    def teardown(self) -> None:
        """Stop the worker, remove the dF layer, let go of the model (the dock closes)."""
        disconnect_all(self._connections)
        self._connections = []
        self._forget_image()
