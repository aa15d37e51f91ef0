"""The Traces dock's pictures of the movie: summary images, suite2p's, an ROI's map, pixel traces.

- **Summary images**: mean, max, std, local correlation and enhanced mean of
  the chosen movie, in a worker with napari's progress bar and the dock's
  Cancel; the layers appear (or are updated) only once all five are made.
- **Load suite2p images**: when suite2p's ``ops.npy`` lies beside the movie's
  file or the ROI file, its ``meanImg``, ``max_proj``, ``Vcorr`` and
  ``meanImgE``, without reading the movie.
- **ROI correlation map**: the selected ROI's F correlated with every pixel
  of a window three times its box, in a worker.
- **Alt+click** on the viewer: that pixel's trace (or its 3x3 mean) in the
  plot, beside the selected ROIs'; **Clear pixel trace** removes it.

The work is the model's (:mod:`napari_roimasks.model.summary`,
:mod:`~napari_roimasks.model.pixel_maps`); this only wires controls to it and
draws the results (:mod:`._image_layers`).
"""

from __future__ import annotations

import threading
from functools import partial
from pathlib import Path

import numpy as np
from magicgui.widgets import ComboBox, Container, FloatSpinBox, Label, PushButton
from napari.qt.threading import create_worker
from napari.utils import progress
from napari.utils.notifications import show_error, show_info, show_warning

from ..core.frame_pass import check_frame_source
from ..io.roi_set import RoiFileError
from ..io.suite2p_images import ops_file_beside
from ..model import (
    RoiMapInputs,
    pixel_trace_job,
    roi_correlation_job,
    roi_correlation_problem,
    suite2p_summary,
    summary_job,
    summary_layers,
)
from ..model.traces import movie_token
from ._image_layers import ImageLayers
from ._napari import connect_all, disconnect_all

NEIGHBOURHOOD_3X3, ONE_PIXEL = "3x3 mean", "one pixel"
ALT_CLICK_HELP = "Alt+click a pixel: its trace in the plot"


class ImageTools:
    """Controls (``widgets``) and background jobs for the movie's pictures and pixel traces.

    Parameters
    ----------
    viewer : napari.Viewer
    model : RoiModel
    movie_layer : callable() -> napari.layers.Image or None
        The dock's chosen movie.
    view : TraceView
        The plot, which shows the pixel trace.
    extracting : callable() -> bool
        Whether the dock's trace extraction runs (these jobs wait for it).
    on_busy : callable()
        Called when a job starts or ends (the dock enables its buttons).
    status : callable(str)
        Shows a line in the dock.
    """

    def __init__(self, viewer, model, movie_layer, view, *, extracting, on_busy, status):
        self.viewer = viewer
        self.model = model
        self.layers = ImageLayers(viewer)
        self._movie_layer = movie_layer
        self._view = view
        self._extracting = extracting
        self._on_busy = on_busy
        self._status = status
        self._worker = None
        self._kind = ""
        self._cancel_requested = threading.Event()
        self._progress = None
        self._pixel_worker = None
        self._pixel_cancel = threading.Event()

        self._summary = PushButton(text="Summary images")
        self._summary.tooltip = (
            "Mean, max, std, local correlation and enhanced mean of the movie, in one pass, as "
            "image layers under the ROIs (only the correlation image shown)"
        )
        self._diameter = FloatSpinBox(
            label="cell diameter", value=model.cell_diameter, min=1.0, max=500.0, step=1.0
        )
        self._diameter.tooltip = (
            "In pixels: the enhanced mean image's filter (suite2p's 'diameter'); the session "
            "keeps it"
        )
        self._suite2p = PushButton(text="Load suite2p images", enabled=False)
        self._roi_map = PushButton(text="ROI correlation map")
        self._roi_map.tooltip = (
            "The selected ROI's F (extract it first) correlated with every pixel in a window "
            "3x its box: the cell's true footprint, and what its mask misses or includes"
        )
        self._neighbourhood = ComboBox(
            choices=[NEIGHBOURHOOD_3X3, ONE_PIXEL], value=NEIGHBOURHOOD_3X3
        )
        self._neighbourhood.tooltip = (
            f"{ALT_CLICK_HELP}, beside the selected ROIs' traces: the mean of the 3x3 pixels "
            "around it, or the pixel alone. Another Alt+click replaces it."
        )
        self._clear_pixel = PushButton(text="Clear pixel trace", enabled=False)
        self._help = Label(value=ALT_CLICK_HELP)
        self._help.tooltip = self._neighbourhood.tooltip
        #: the controls, for the dock to place
        self.widgets = [
            Container(widgets=[self._summary, self._suite2p], layout="horizontal", labels=False),
            self._diameter,
            Container(widgets=[self._roi_map], layout="horizontal", labels=False),
            self._help,
            Container(
                widgets=[self._neighbourhood, self._clear_pixel], layout="horizontal", labels=False
            ),
        ]
        self._summary.changed.connect(lambda: self.summary_images())
        self._suite2p.changed.connect(lambda: self.load_suite2p_images())
        self._roi_map.changed.connect(lambda: self.roi_correlation_map())
        self._clear_pixel.changed.connect(lambda: self.clear_pixel_trace())
        self._diameter.changed.connect(self.model.set_cell_diameter)
        self._connections = [
            (self.viewer.layers.events.inserted, self.find_suite2p),
            (self.viewer.layers.events.removed, self.find_suite2p),
            (self.model.rois_changed, self._on_rois_changed),
            (self.model.cell_diameter_changed, self._show_cell_diameter),
        ]
        connect_all(self._connections)
        self.viewer.mouse_drag_callbacks.append(self._on_mouse)
        self.find_suite2p()

    # -- one job at a time ------------------------------------------------------------------------
    @property
    def running(self) -> str:
        """What runs now: ``"summary images"``, ``"ROI correlation map"``, or ``""``."""
        return self._kind

    def _refused(self) -> bool:
        if self._extracting():
            show_info("Traces are being extracted: wait for them, or Cancel")
            return True
        if self._worker is not None:
            show_info(f"Still computing the {self._kind}: wait for it, or Cancel")
            return True
        return False

    def _movie(self):
        """The chosen movie as a frame source, or None (after a notification)."""
        movie = self._movie_layer()
        if movie is None:
            show_warning(
                "No movie: add the movie as an Image layer (frames, rows, columns) or open a movie file"
            )
            return None
        if getattr(movie, "multiscale", False):
            show_warning(f"{movie.name!r} is multiscale: choose a single-resolution movie")
            return None
        try:
            check_frame_source(movie.data)
        except (TypeError, ValueError) as error:
            show_warning(f"{error} (movie {movie.name!r})")
            return None
        return movie

    def _start(self, kind: str, job, args, n_frames: int, on_result) -> None:
        """Run the model's generator function ``job(*args, cancel=...)`` in a worker."""
        self._cancel_requested = threading.Event()
        self._progress = progress(total=n_frames, desc=f"Computing the {kind}")
        self._status(f"computing the {kind}…")
        worker = create_worker(
            job,
            *args,
            cancel=self._cancel_requested,
            _start_thread=False,
            _connect={
                "yielded": self._on_progress,
                "returned": lambda result: self._on_returned(kind, result, on_result),
                "errored": lambda error: self._on_failed(kind, error),
                "finished": self._on_finished,
            },
        )
        self._worker, self._kind = worker, kind
        self._on_busy()
        worker.start()

    def set_jobs_enabled(self, enabled: bool) -> None:
        """Enable or disable the buttons that start a read of the movie (one job at a time)."""
        self._summary.enabled = self._roi_map.enabled = enabled

    def cancel(self) -> None:
        """Stop the running job within one block; nothing of it is shown."""
        if self._worker is not None:
            self._status("cancelling…")
            self._cancel_requested.set()

    def _on_progress(self, step) -> None:
        done, _ = step
        bar = self._progress
        if bar is not None:
            bar.update(done - bar.n)

    def _on_returned(self, kind, result, on_result) -> None:
        if result is None or self._cancel_requested.is_set():
            self._status(f"cancelled: the {kind} was not shown")
            return
        on_result(result)

    def _on_failed(self, kind, error) -> None:
        show_error(f"The {kind} failed, nothing was shown: {error}")
        self._status(f"{kind} failed: see the notification")

    def _on_finished(self) -> None:
        if self._progress is not None:
            self._progress.close()
            self._progress = None
        self._worker, self._kind = None, ""
        self._on_busy()

    # -- summary images ---------------------------------------------------------------------------
    def summary_images(self) -> bool:
        """Compute the chosen movie's summary images in a worker; False (and a notification)
        if they cannot be computed now."""
        if self._refused():
            return False
        movie = self._movie()
        if movie is None:
            return False
        if np.dtype(movie.dtype).kind not in "biuf":
            show_warning(f"{movie.name!r} does not hold numbers (dtype {movie.dtype})")
            return False

        token = movie_token(movie.data)

        def show(images):
            if movie not in self.viewer.layers:
                self._status(f"{movie.name!r} was removed: its summary images are not shown")
                return
            if movie_token(movie.data) != token:
                self._status(
                    f"{movie.name!r} got other data meanwhile: its summary images are not shown"
                )
                return
            self.layers.show_summary(summary_layers(images.as_dict(), movie.name), movie.unique_id)
            self._status(f"summary images of {movie.name!r}: correlation shown, the rest hidden")
            self._give_to_metrics(images.as_dict(), movie.name)
            if images.unusable_pixels:
                show_warning(
                    f"{images.unusable_pixels} pixels of {movie.name!r} hold NaN or inf in some "
                    "frame: they are NaN in the summary images"
                )

        job = partial(summary_job, cell_diameter=self.model.cell_diameter)
        self._start("summary images", job, (movie.data,), movie.data.shape[0], show)
        return True

    def _show_cell_diameter(self, diameter: float) -> None:
        with self._diameter.changed.blocked():
            self._diameter.value = diameter

    # -- suite2p's images --------------------------------------------------------------------------
    def suite2p_ops(self):
        """suite2p's ``ops.npy`` beside the movie's file or the ROI file, or None."""
        movie = self._movie_layer()
        paths = [None if movie is None else movie.metadata.get("path")]
        roi_layer = self._roi_layer()
        if roi_layer is not None:
            paths.append(roi_layer.source.path)
        return ops_file_beside(paths)

    def find_suite2p(self, event=None) -> None:
        """Offer suite2p's images when an ``ops.npy`` is found (called when layers change)."""
        path = self.suite2p_ops()
        self._suite2p.enabled = path is not None
        self._suite2p.tooltip = (
            f"suite2p's meanImg, max_proj, Vcorr and meanImgE from {path}, without reading the movie"
            if path is not None
            else "No suite2p ops.npy beside the movie's file or the ROI file"
        )

    def _on_rois_changed(self, keys) -> None:
        if keys is None:  # e.g. another ROI layer was chosen
            self.find_suite2p()

    def load_suite2p_images(self, path=None) -> list:
        """Show suite2p's images from ``path`` (default: the ``ops.npy`` found); the layers,
        or [] (and a notification)."""
        path = path or self.suite2p_ops()
        if path is None:
            show_warning("No suite2p ops.npy beside the movie's file or the ROI file")
            return []
        movie = self._movie_layer()
        shape = None if movie is None else tuple(movie.data.shape[-2:])
        try:
            images = suite2p_summary(path, image_shape=shape)
        except RoiFileError as error:
            show_warning(f"suite2p images not loaded: {error}")
            return []
        named_after = movie if movie is not None else self._roi_layer()  # e.g. stat.npy's layer
        name, owner = (
            (named_after.name, named_after.unique_id)
            if named_after is not None
            else ("suite2p", f"file {path}")
        )
        shown = self.layers.show_summary(summary_layers(images, name, suite2p=True), owner)
        self._status(f"suite2p's images from {path}")
        self._give_to_metrics(images, f"suite2p's {Path(path).name}")
        return shown

    def _give_to_metrics(self, images: dict, source: str) -> None:
        """The mean and correlation images become the ones the ROI metrics read."""
        try:
            self.model.quality.set_images(
                mean=images.get("mean"), correlation=images.get("correlation")
            )
        except ValueError as error:  # another size than the ROIs'
            show_warning(f"The image metrics do not use {source}'s images: {error}")

    # -- an ROI's correlation map -----------------------------------------------------------------
    def _roi_layer(self):
        source = self.model.source_id
        return next((layer for layer in self.viewer.layers if layer.unique_id == source), None)

    def roi_correlation_map(self, key=None) -> bool:
        """Correlate the selected ROI's F (or ROI ``key``'s) with the pixels around it, in a
        worker; False (and a notification) if it cannot be done now."""
        if self._refused():
            return False
        movie = self._movie()
        if movie is None:
            return False
        if key is None:
            key = self.model.selection[0] if self.model.selection else None
        n_frames = movie.data.shape[0]
        problem = roi_correlation_problem(self.model, key, movie_token(movie.data), n_frames)
        if problem is not None:
            show_warning(problem)
            return False
        roi_layer = self._roi_layer()
        owner = self.model.source_id or ""
        prefix = roi_layer.name if roi_layer is not None else "ROIs"
        token = movie_token(movie.data)

        def show(correlation):
            if movie not in self.viewer.layers or movie_token(movie.data) != token:
                self._status(f"{movie.name!r} changed meanwhile: the map is not shown")
                return
            self.layers.show_roi_map(
                correlation, owner, f"{prefix} ROI {correlation.key} correlation"
            )
            self._status(f"ROI {correlation.key}'s correlation map")

        inputs = RoiMapInputs.of(self.model, key)  # here: the worker reads the movie only
        self._start(
            "ROI correlation map", roi_correlation_job, (inputs, movie.data), n_frames, show
        )
        return True

    # -- pixel traces -----------------------------------------------------------------------------
    @property
    def neighbourhood(self) -> int:
        """0: Alt+click plots the pixel alone; 1: its 3x3 mean."""
        return 1 if self._neighbourhood.value == NEIGHBOURHOOD_3X3 else 0

    def _on_mouse(self, viewer, event) -> None:
        if "Alt" not in event.modifiers or event.button != 1:
            return
        active = self.viewer.layers.selection.active
        mode = str(getattr(active, "mode", "pan_zoom"))
        if mode not in ("pan_zoom", "transform"):
            # the click also reaches the active layer, which would paint, fill or select
            show_info(
                f"Alt+click reads a pixel's trace in pan/zoom mode; {active.name!r} is in "
                f"{mode} mode (its move-camera button, or hold Space while clicking)"
            )
            return
        movie = self._movie_layer()
        if movie is None or movie.ndim < 3:
            return
        row, column = (int(np.round(v)) for v in movie.world_to_data(event.position)[-2:])
        self.show_pixel_trace(row, column)

    def show_pixel_trace(self, row: int, column: int) -> bool:
        """Plot the trace of the pixel at ``row, column`` of the chosen movie (or its 3x3 mean),
        replacing the last one; read in a worker unless the movie is in memory."""
        movie = self._movie_layer()
        if movie is None or getattr(movie, "multiscale", False):
            return False
        rows, columns = movie.data.shape[-2:]
        if not (0 <= row < rows and 0 <= column < columns):
            return False
        self._pixel_cancel.set()  # a trace still being read is not wanted any more
        cancel = self._pixel_cancel = threading.Event()
        args = (movie.data, row, column)
        options = {"neighbourhood": self.neighbourhood, "cancel": cancel}
        if type(movie.data) is np.ndarray:  # in memory (not a memmap): read now
            job = pixel_trace_job(*args, **options)
            while True:
                try:
                    next(job)
                except StopIteration as done:
                    self._on_pixel_trace(done.value, cancel)
                    return True
        worker = create_worker(
            pixel_trace_job,
            *args,
            **options,
            _start_thread=False,
            _connect={
                "returned": lambda trace: self._on_pixel_trace(trace, cancel),
                "errored": lambda error: show_error(f"Pixel trace not read: {error}"),
            },
        )
        self._pixel_worker = worker
        worker.start()
        return True

    def _on_pixel_trace(self, trace, cancel) -> None:
        if trace is None or cancel.is_set():  # replaced by a later click, or the dock closed
            return
        self._view.set_pixel_trace(trace)
        self._clear_pixel.enabled = True

    def clear_pixel_trace(self) -> None:
        """Remove the pixel trace from the plot."""
        self._pixel_cancel.set()
        self._view.set_pixel_trace(None)
        self._clear_pixel.enabled = False

    # -- closing ----------------------------------------------------------------------------------
    def close(self) -> None:
        """Stop the jobs, let go of the viewer's mouse and the model."""
        self.cancel()
        self._pixel_cancel.set()
        disconnect_all(self._connections)
        self._connections = []
        if self._on_mouse in self.viewer.mouse_drag_callbacks:
            self.viewer.mouse_drag_callbacks.remove(self._on_mouse)
