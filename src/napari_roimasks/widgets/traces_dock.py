"""The "Traces" dock: extract ROI and neuropil traces in the background and plot them.

It reads ROIs, border and ring settings from the viewer's :class:`RoiModel`
(the same model the "ROI masks" dock edits) and the movie from an Image layer.
Extraction runs in a napari worker with a progress bar and a Cancel button;
only ROIs whose pixels or ring changed since the last extraction are read
again. The plot shows the selected ROIs' F, Fneu and ``F - r * Fneu`` (or the
dF/F of the corrected trace), a line at the viewer's current frame, and a
click on the plot moves the frame slider there. The plotted traces export as
CSV, the figure as PNG/SVG, and every ROI with its traces as NWB.

The movie's summary images (or suite2p's), an ROI's correlation map and
Alt+click pixel traces are in :mod:`._image_tools`; one job reads the movie
at a time.
"""

from __future__ import annotations

import threading
import time
from functools import partial
from pathlib import Path

import numpy as np
from magicgui.widgets import (
    ComboBox,
    Container,
    Label,
    LineEdit,
    PushButton,
)
from napari.layers import Image
from napari.qt.threading import create_worker
from napari.utils import progress
from napari.utils.notifications import show_error, show_info, show_warning
from qtpy.QtWidgets import QBoxLayout, QFileDialog

from ..core.traces import check_frame_source
from ..io.movies import MovieFileError, open_movie
from ..model import (
    DaskClients,
    extraction_job,
    frames_without_numbers,
    model_for,
    movie_token,
)
from ..pipeline import MovieMasks
from ._event_review import EventReview
from ._image_tools import ImageTools
from ._napari import DockWidget, connect_all, disconnect_all, unwrap
from ._rows_scroll_area import RowsScrollArea
from ._trace_view import TraceView


class TracesWidget(DockWidget):
    """Dock widget "Traces"."""

    #: time runs left to right: the plot wants the window's width, at the bottom
    preferred_area = "bottom"

    def __init__(self, napari_viewer):
        super().__init__()
        self.viewer = napari_viewer
        self.model = model_for(unwrap(napari_viewer))
        self._worker = None
        self._cancel_requested = threading.Event()
        self._progress = None
        self._movie = ComboBox(label="movie", choices=self._movie_choices, nullable=True)
        self._movie.tooltip = "The (frames, rows, columns) movie to extract from: an Image layer"
        self._open = PushButton(text="Open movie file…")
        self._open.tooltip = (
            "HDF5 (dataset 'data') or TIFF, read lazily: only the frames shown are loaded"
        )
        self._extract = PushButton(text="Extract traces")
        self._cancel = PushButton(text="Cancel", enabled=False)
        self._status = Label(value="")
        self._scheduler = LineEdit(label="Dask scheduler", value="")
        self._scheduler.tooltip = (
            "Empty: extract on this machine. tcp://host:port: on that Dask cluster (its workers open "
            "the movie file); 'local': on a local Dask cluster"
        )
        self._clients = DaskClients()  # made in the extraction's thread, closed with the dock
        self._followed_movie = None  # the movie layer whose data replacements we follow
        self.view = TraceView(napari_viewer, self.model, lambda: self.movie_layer, self)
        self.images = ImageTools(
            napari_viewer,
            self.model,
            lambda: self.movie_layer,
            self.view,
            extracting=lambda: self.running,
            on_busy=self._show_busy,
            status=self._show_status,
        )
        controls = Container(
            widgets=[
                self._movie,
                self._open,
                self._scheduler,
                Container(widgets=[self._extract, self._cancel], layout="horizontal", labels=False),
                *self.images.widgets,
                self._status,
                *self.view.options,
            ]
        )
        # controls above the plot in a tall dock, beside it in a wide one (the bottom area)
        self._layout = QBoxLayout(QBoxLayout.Direction.TopToBottom, self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        scroll = RowsScrollArea(controls.native)  # the dock may be shorter than its controls
        scroll.setMaximumWidth(480)
        self._layout.addWidget(scroll)
        self._layout.addWidget(self.view.plot, stretch=1)
        self.events = EventReview(napari_viewer, self.model, lambda: self.movie_layer)
        self._layout.addWidget(self.events)  # the selected ROI's transients, beside the plot

        self._open.changed.connect(lambda: self.open_movie_file())
        self._extract.changed.connect(lambda: self.extract())
        self._cancel.changed.connect(lambda: self.cancel())
        self._movie.changed.connect(self._follow_movie)
        self._connections = [
            (self.viewer.layers.events.inserted, self._on_layers_changed),
            (self.viewer.layers.events.removed, self._on_layers_changed),
        ]
        connect_all(self._connections)
        self._on_layers_changed()

    def _show_status(self, text: str) -> None:
        self._status.value = text

    def _show_busy(self) -> None:
        """Extract and the image buttons wait while the movie is being read; Cancel stops it."""
        busy = self.running or bool(self.images.running)
        self._extract.enabled, self._cancel.enabled = not busy, busy
        self.images.set_jobs_enabled(not busy)

    # -- the movie ------------------------------------------------------------------------------
    def _movie_choices(self, _widget=None):
        return [
            (layer.name, unwrap(layer))
            for layer in self.viewer.layers
            if isinstance(layer, Image) and layer.ndim >= 3 and not layer.rgb
        ]

    def _on_layers_changed(self, event=None) -> None:
        current = self._movie.value
        with self._movie.changed.blocked():
            self._movie.reset_choices()
            choices = [c for c in self._movie.choices if c is not None]
            if current in choices:
                self._movie.value = current
            elif choices:
                self._movie.value = choices[0]
        self._follow_movie()

    def _follow_movie(self, _value=None) -> None:
        """Tell the model which movie is chosen; a replacement of its data makes traces stale."""
        layer = self._movie.value
        if layer is not self._followed_movie:
            if self._followed_movie is not None:
                self._followed_movie.events.data.disconnect(self._on_movie_data)
            if layer is not None:
                layer.events.data.connect(self._on_movie_data)
            self._followed_movie = layer
        self._on_movie_data()
        self.images.find_suite2p()

    def _on_movie_data(self, event=None) -> None:
        layer = self._followed_movie
        if layer is None:
            self.model.set_movie(None)
            return
        token, path = movie_token(layer.data), layer.metadata.get("path")
        shows_file = path is not None and layer.metadata.get("movie_token") == token
        dataset = (
            layer.metadata.get("dataset") if str(path).lower().endswith((".h5", ".hdf5")) else None
        )
        self.model.set_movie(token, (str(path), dataset) if shows_file else None)

    @property
    def movie_layer(self):
        """The Image layer traces are extracted from, or None."""
        return self._movie.value

    def open_movie_file(self, path=None):
        """Open an HDF5 or TIFF movie lazily as a new Image layer (asks for a file without ``path``)."""
        if path is None:
            path, _ = QFileDialog.getOpenFileName(
                self, "Open a movie", "", "Movies (*.h5 *.hdf5 *.tif *.tiff);;All files (*)"
            )
            if not path:
                return None
        try:
            frames, first = open_movie(path)
        except MovieFileError as error:
            show_error(f"Movie not opened: {error}")
            return None
        low, high = float(np.min(first)), float(np.max(first))
        layer = self.viewer.add_image(
            frames, name=Path(path).stem, contrast_limits=(low, high if high > low else low + 1)
        )
        layer.metadata["path"] = str(path)
        layer.metadata.setdefault("dataset", "data")
        layer.metadata["movie_token"] = movie_token(frames)  # the layer still shows the file
        self._on_layers_changed()
        self._movie.value = unwrap(layer)
        self._follow_movie()
        return unwrap(layer)

    # -- extraction -----------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        """True while an extraction runs."""
        return self._worker is not None

    def extract(self) -> bool:
        """Start extracting the traces that are missing or stale; False (and a notification) if it cannot."""
        if self.running:
            show_info("Traces are being extracted already: wait for it, or Cancel")
            return False
        if self.images.running:
            show_info(f"Still computing the {self.images.running}: wait for it, or Cancel")
            return False
        movie = self.movie_layer
        if movie is None:
            show_warning(
                "No movie: add the movie as an Image layer (frames, rows, columns) or open a movie file"
            )
            return False
        if self.model.rings is None or not self.model.roi_keys():
            show_warning(
                "No ROIs to extract: open Plugins > ROI masks and choose a layer with ROIs"
            )
            return False
        if getattr(movie, "multiscale", False):
            show_warning(f"{movie.name!r} is multiscale: extract from a single-resolution movie")
            return False
        try:
            n_frames, _, _ = check_frame_source(movie.data, self.model.image_shape)
        except (TypeError, ValueError) as error:
            show_warning(f"Traces not extracted: {error} (movie {movie.name!r})")
            return False
        token = movie_token(movie.data)
        plan = self.model.plan_extraction(token)
        if not plan.keys:
            show_info("Every trace is current: nothing to extract")
            return False
        cluster = self._cluster(movie)
        if cluster is False:
            return False
        connect, path, dataset = cluster or (None, None, None)
        source = MovieMasks(plan.masks, n_frames, frames=movie.data, path=path, dataset=dataset)
        self._progress = progress(total=n_frames, desc=f"Extracting {len(plan.keys)} ROIs")
        self._status.value = f"extracting {len(plan.keys)} ROIs from {movie.name!r}…"
        self._cancel_requested = threading.Event()
        worker = create_worker(
            extraction_job,
            plan,
            source,
            connect=connect,
            cancel=self._cancel_requested,
            _start_thread=False,
            _connect={
                "yielded": self._on_progress,
                "returned": lambda results: self._on_extracted(token, results),
                "errored": self._on_failed,  # handled here: napari would re-raise it otherwise
                "finished": self._on_finished,
            },
        )
        self._worker = worker
        self._show_busy()
        self._started = time.perf_counter()
        worker.start()
        return True

    def _cluster(self, movie):
        """(connect, path, dataset) when a Dask scheduler is set, None for this machine, False
        when it cannot be used (after a notification). ``connect()`` gives the client in the
        extraction's thread, since starting a cluster or reaching a scheduler takes seconds."""
        address = self._scheduler.value.strip()
        if not address:
            return None
        path = movie.metadata.get("path")
        if not path or not str(path).lower().endswith((".h5", ".hdf5")):
            show_warning(
                "The Dask scheduler reads movie files: open the movie with 'Open movie file…' "
                "(HDF5), or clear the scheduler field to extract here"
            )
            return False
        if movie.metadata.get("movie_token") != movie_token(movie.data):
            show_warning(
                f"{movie.name!r} no longer shows the frames of {path} (its data was replaced), "
                "and the cluster reads the file: open the file again, or clear the scheduler "
                "field to extract here"
            )
            return False
        from ..core.distributed_traces import INSTALL_DISTRIBUTED, has_distributed

        if not has_distributed():
            show_warning(INSTALL_DISTRIBUTED)
            return False
        return (
            partial(self._clients.connect, address),
            str(path),
            movie.metadata.get("dataset", "data"),
        )

    def cancel(self) -> None:
        """Stop the running extraction (or image job) within one block; nothing of it is kept.

        The job stops itself in its own thread (the worker's quit would leave it
        suspended, its read-ahead thread or the cluster's tasks still running).
        """
        if self._worker is not None:
            self._status.value = "cancelling…"
            self._cancel_requested.set()
        self.images.cancel()

    def _on_progress(self, step) -> None:
        stage, done, total = step
        bar = self._progress  # updating the bar lets Qt run queued events, which may finish the run
        if bar is None:
            return
        if stage == "connecting":
            bar.set_description(
                "Starting a local Dask cluster"
                if self._scheduler.value.strip() == "local"
                else "Connecting to the Dask scheduler"
            )
        elif stage in ("frames", "cluster frames"):
            if bar.total != total:
                bar.total = total
            rate = done / max(time.perf_counter() - self._started, 1e-9)
            where = " on the cluster" if stage == "cluster frames" else ""
            bar.set_description(f"Extracting traces{where}: {rate:,.1f} frames/s")
            bar.update(done - bar.n)
        else:
            bar.set_description(f"Fitting neuropil ratios: {done}/{total} ROIs")

    def _on_extracted(self, token, results) -> None:
        if results is None:  # cancelled
            self._status.value = "cancelled: no traces were kept from that run"
            return
        self.model.store_traces(token, results)
        seconds = time.perf_counter() - self._started
        self._status.value = f"{len(results)} ROIs extracted in {seconds:.1f} s"
        self._warn_about_nan(results)

    def _warn_about_nan(self, results) -> None:
        frames = frames_without_numbers(results)
        if frames:
            show_warning(
                f"{len(frames)} frames of the movie hold NaN or inf inside ROIs (first: "
                f"{frames[:5]}); those frames' trace values are NaN and are left out of the ratio fit"
            )

    def _on_failed(self, error) -> None:
        show_error(f"Trace extraction failed, nothing was kept: {error}")
        self._status.value = "extraction failed: see the notification"

    def _on_finished(self) -> None:
        if self._progress is not None:
            self._progress.close()
            self._progress = None
        self._worker = None
        self._show_busy()

    # -- what the traces mean --------------------------------------------------------------------
    def ratios(self) -> dict:
        """The r each ROI's correction uses."""
        return self.model.contamination_ratios()

    # -- the plot (see ._trace_view) ---------------------------------------------------------------
    @property
    def lines(self) -> list:
        """(label, Line2D) of what is plotted, in legend order."""
        return self.view.lines

    def redraw(self) -> None:
        """Draw the selected ROIs' traces."""
        self.view.redraw()

    def export_csv(self, path=None, *, overwrite: bool = False) -> Path | None:
        """Write the plotted traces as CSV (see :meth:`TraceView.export_csv`)."""
        return self.view.export_csv(path, overwrite=overwrite)

    def save_figure(self, path=None, *, overwrite: bool = False) -> Path | None:
        """Save the figure as shown (see :meth:`TraceView.save_figure`)."""
        return self.view.save_figure(path, overwrite=overwrite)

    def export_nwb(self, path=None, *, session=None, overwrite: bool = False) -> Path | None:
        """Write the ROIs, neuropil masks and traces as NWB (see :meth:`TraceView.export_nwb`)."""
        return self.view.export_nwb(path, session=session, overwrite=overwrite)

    def resizeEvent(self, event) -> None:
        wide = self.width() > 1.6 * self.height()
        direction = QBoxLayout.Direction.LeftToRight if wide else QBoxLayout.Direction.TopToBottom
        if self._layout.direction() != direction:
            self._layout.setDirection(direction)
        super().resizeEvent(event)

    # -- closing --------------------------------------------------------------------------------
    def teardown(self) -> None:
        """Stop the extraction, close the Dask clients, let go of the viewer and the model."""
        self.cancel()
        disconnect_all(self._connections)
        self._connections = []
        self._movie.changed.disconnect(self._follow_movie)
        if self._followed_movie is not None:
            self._followed_movie.events.data.disconnect(self._on_movie_data)
            self._followed_movie = None
        self.images.close()
        self.events.teardown()
        self.view.close()
        self._clients.close()
