"""The "Traces" dock: extract ROI and neuropil traces in the background and plot them.

It reads ROIs, border and ring settings from the viewer's :class:`RoiModel`
(the same model the "ROI masks" dock edits) and the movie from an Image layer.
Extraction runs in a napari worker with a progress bar and a Cancel button;
only ROIs whose pixels or ring changed since the last extraction are read
again. The plot shows the selected ROIs' F, Fneu and ``F - r * Fneu`` (or the
dF/F of the corrected trace), a line at the viewer's current frame, and a
click on the plot moves the frame slider there.
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
    FloatSpinBox,
    Label,
    LineEdit,
    PushButton,
    SpinBox,
)
from napari.layers import Image, Labels
from napari.qt.threading import create_worker
from napari.utils import progress
from napari.utils.notifications import show_error, show_info, show_warning
from qtpy.QtCore import Qt
from qtpy.QtWidgets import QBoxLayout, QFileDialog, QFrame, QScrollArea, QWidget

from ..core.neuropil_correction import (
    DEFAULT_CONTAMINATION_RATIO,
    delta_f_over_f,
    estimate_contamination_ratio,
)
from ..core.traces import check_frame_source, trace_extraction
from ..io.allen_traces import write_traces_csv
from ..io.atomic import write_atomically
from ..io.movies import MovieFileError, open_movie
from ..roi_model import EXCLUSION_TEXT, RoiTraces, model_for
from ._napari import connect_all, disconnect_all, unwrap
from ._trace_plot import ThemedCanvas

FIXED, FITTED = "fixed r", "fitted r per ROI (AllenSDK)"
TRACES, DFF = "F, Fneu and F - r·Fneu", "dF/F of F - r·Fneu"
STACK, OVERLAY = "stack", "overlay"
MEDIAN, PERCENTILE = "running median", "running 10th percentile"


class TracesWidget(QWidget):
    """Dock widget "Traces"."""

    def __init__(self, napari_viewer):
        super().__init__()
        self.viewer = napari_viewer
        self.model = model_for(unwrap(napari_viewer))
        self._worker = None
        self._cancel_requested = threading.Event()
        self._progress = None
        self.lines: list = []  # (label, Line2D) of what is plotted, in legend order
        self._frame_lines: list = []  # the current-frame marker on every axes

        self._movie = ComboBox(label="movie", choices=self._movie_choices, nullable=True)
        self._movie.tooltip = "The (frames, rows, columns) movie to extract from: an Image layer"
        self._open = PushButton(text="Open movie file…")
        self._open.tooltip = (
            "HDF5 (dataset 'data') or TIFF, read lazily: only the frames shown are loaded"
        )
        self._extract = PushButton(text="Extract traces")
        self._cancel = PushButton(text="Cancel", enabled=False)
        self._status = Label(value="")
        self._correction = ComboBox(
            label="neuropil correction", choices=[FIXED, FITTED], value=FIXED
        )
        self._correction.tooltip = (
            "F - r·Fneu with a fixed r, or with r fitted per ROI as AllenSDK does (cross-validated, "
            "r > 1 replaced by the mean of the other ROIs' r)"
        )
        self._r = FloatSpinBox(
            label="r", min=0, max=5, step=0.05, value=DEFAULT_CONTAMINATION_RATIO
        )
        self._show = ComboBox(label="show", choices=[TRACES, DFF], value=TRACES)
        self._arrange = ComboBox(label="several ROIs", choices=[STACK, OVERLAY], value=STACK)
        self._baseline = ComboBox(label="dF/F baseline", choices=[MEDIAN, PERCENTILE], value=MEDIAN)
        self._window = SpinBox(label="baseline window (frames)", min=1, max=1_000_000, value=301)
        self._window.tooltip = (
            "F0 is the running median (or 10th percentile) over this many frames, centred"
        )
        self._scheduler = LineEdit(label="Dask scheduler", value="")
        self._scheduler.tooltip = (
            "Empty: extract on this machine. tcp://host:port: on that Dask cluster (its workers open "
            "the movie file); 'local': on a local Dask cluster"
        )
        self._clients: dict = {}  # scheduler address -> Client, made in the extraction's thread
        self._clients_lock = threading.Lock()
        self._closed = False
        self._export_csv = PushButton(text="Export plotted traces (CSV)…")
        self._export_figure = PushButton(text="Save figure (PNG/SVG)…")
        # what changes the plot, not the traces
        plot_options = (
            self._correction,
            self._r,
            self._show,
            self._arrange,
            self._baseline,
            self._window,
        )
        controls = Container(
            widgets=[
                self._movie,
                self._open,
                self._scheduler,
                Container(widgets=[self._extract, self._cancel], layout="horizontal", labels=False),
                self._status,
                *plot_options,
                Container(
                    widgets=[self._export_csv, self._export_figure],
                    layout="horizontal",
                    labels=False,
                ),
            ]
        )
        self.plot = ThemedCanvas(napari_viewer)
        # controls above the plot in a tall dock, beside it in a wide one (the bottom area)
        self._layout = QBoxLayout(QBoxLayout.Direction.TopToBottom, self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        scroll = QScrollArea()  # the dock may be shorter than its controls
        scroll.setWidget(controls.native)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setMaximumWidth(480)
        self._layout.addWidget(scroll)
        self._layout.addWidget(self.plot, stretch=1)

        self._open.changed.connect(lambda: self.open_movie_file())
        self._extract.changed.connect(lambda: self.extract())
        self._cancel.changed.connect(lambda: self.cancel())
        for control in plot_options:
            control.changed.connect(self._on_plot_option)
        self._export_csv.changed.connect(lambda: self.export_csv())
        self._export_figure.changed.connect(lambda: self.save_figure())
        self._connections = [
            (self.model.selection_changed, self._on_selection),
            (self.model.traces_changed, self._on_traces_changed),
            (self.model.rois_changed, self._on_rois_changed),
            (self.viewer.layers.events.inserted, self._on_layers_changed),
            (self.viewer.layers.events.removed, self._on_layers_changed),
            (self.viewer.dims.events.current_step, self._move_frame_line),
            (self.viewer.events.theme, self._on_theme),
        ]
        connect_all(self._connections)
        self.plot.canvas.mpl_connect("button_press_event", self._on_plot_click)
        self._on_layers_changed()
        self.redraw()

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
        self._on_layers_changed()
        self._movie.value = unwrap(layer)
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
        token = ("layer", id(movie), tuple(movie.data.shape))
        keys = self.model.keys_to_extract(token)
        if not keys:
            show_info("Every trace is current: nothing to extract")
            return False
        cluster = self._cluster(movie)
        if cluster is False:
            return False
        plan = self._extraction_plan(keys, token)
        self._progress = progress(total=n_frames, desc=f"Extracting {len(keys)} ROIs")
        self._status.value = f"extracting {len(keys)} ROIs from {movie.name!r}…"
        self._cancel_requested = threading.Event()
        worker = create_worker(
            _extraction_job,
            movie.data,
            plan,
            self.model.image_shape,
            cluster,
            self._cancel_requested,
            _start_thread=False,
            _connect={
                "yielded": self._on_progress,
                "returned": lambda results: self._on_extracted(token, results),
                "errored": self._on_failed,  # handled here: napari would re-raise it otherwise
                "finished": self._on_finished,
            },
        )
        self._worker = worker
        self._extract.enabled, self._cancel.enabled = False, True
        self._started = time.perf_counter()
        worker.start()
        return True

    def _cluster(self, movie):
        """(connect, path, dataset) when a Dask scheduler is set, None for this machine, False
        when it cannot be used (after a notification). ``connect()`` gives the client; it runs
        in the extraction's thread, since starting a cluster or reaching a scheduler takes
        seconds."""
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
        from ..core.distributed_traces import INSTALL_DISTRIBUTED, has_distributed

        if not has_distributed():
            show_warning(INSTALL_DISTRIBUTED)
            return False
        return partial(self._connect, address), str(path), movie.metadata.get("dataset", "data")

    def _connect(self, address: str):
        """In the extraction's thread: this dock's client for ``address``, made once."""
        from ..core.distributed_traces import start_client

        with self._clients_lock:
            if self._closed:
                raise OSError("the Traces dock was closed")
            client = self._clients.get(address)
            if client is None:
                try:
                    client = self._clients[address] = start_client(address)
                except OSError as error:
                    raise OSError(f"cannot reach the Dask scheduler {address} ({error})") from None
        return client

    def _extraction_plan(self, keys, token) -> list:
        """(key, fingerprint, ROI crop or None, ring crop or None): None where AllenSDK gives NaN."""
        plan = []
        for key in keys:
            summary = self.model.summary(key)
            roi_excluded = {"empty_roi_mask", "motion_border"} & set(summary.exclusions)
            roi = None if roi_excluded else self.model.roi(key)
            plan.append((key, self.model.fingerprint(key, token), roi, self.model.ring(key)))
        return plan

    def cancel(self) -> None:
        """Stop the running extraction within one block; nothing of it is kept.

        The job stops itself in its own thread (the worker's quit would leave it
        suspended, its read-ahead thread or the cluster's tasks still running).
        """
        if self._worker is not None:
            self._status.value = "cancelling…"
            self._cancel_requested.set()

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
        self._write_features()

    def _warn_about_nan(self, results) -> None:
        frames = set()
        for traces in results.values():
            for trace in (traces.roi, traces.neuropil):
                if np.isfinite(trace).any():  # an excluded mask is all NaN, as expected
                    frames.update(np.flatnonzero(~np.isfinite(trace)).tolist())
        if frames:
            first = sorted(frames)[:5]
            show_warning(
                f"{len(frames)} frames of the movie hold NaN or inf inside ROIs (first: {first}); "
                "those frames' trace values are NaN and are left out of the ratio fit"
            )

    def _on_failed(self, error) -> None:
        show_error(f"Trace extraction failed, nothing was kept: {error}")
        self._status.value = "extraction failed: see the notification"

    def _on_finished(self) -> None:
        if self._progress is not None:
            self._progress.close()
            self._progress = None
        self._worker = None
        self._extract.enabled, self._cancel.enabled = True, False

    # -- what the traces mean --------------------------------------------------------------------
    def ratios(self) -> dict:
        """The r each ROI's correction uses."""
        return self.model.contamination_ratios(
            fitted=self._correction.value == FITTED, fixed_r=self._r.value
        )

    def _write_features(self) -> None:
        """Per-ROI summaries into the ROI layer's features, for other plugins to read."""
        import pandas as pd

        layer = self.model.source_layer
        if layer is None:
            return
        ratios = self.ratios()
        rows = {}
        for key in self.model.roi_keys():
            traces = self.model.traces.get(key)
            if traces is None:
                continue
            rows[key] = {
                "mean_F": float(np.nanmean(traces.roi))
                if np.isfinite(traces.roi).any()
                else np.nan,
                "mean_Fneu": float(np.nanmean(traces.neuropil))
                if np.isfinite(traces.neuropil).any()
                else np.nan,
                "r": ratios.get(key, np.nan),
                "exclusion": ";".join(self.model.summary(key).exclusions),
            }
        columns = ["mean_F", "mean_Fneu", "r", "exclusion"]
        features = layer.features.copy()
        if isinstance(layer, Labels):
            n = max(int(np.max(layer.data)) if layer.data.size else 0, max(rows, default=0)) + 1
            table = pd.DataFrame({"index": np.arange(n)})
            if "index" in features.columns:
                table = table.merge(
                    features.drop(columns=columns, errors="ignore"), on="index", how="left"
                )
            keys = table["index"]
        else:
            table = features.drop(columns=columns, errors="ignore").reset_index(drop=True)
            table = table.reindex(range(len(layer.data)))
            keys = pd.Series(np.arange(1, len(layer.data) + 1))
        for column in columns:
            default = "" if column == "exclusion" else np.nan
            table[column] = [rows.get(int(k), {}).get(column, default) for k in keys]
        layer.features = table

    # -- the plot -------------------------------------------------------------------------------
    def _on_selection(self, keys) -> None:
        self.redraw()

    def _on_traces_changed(self, keys) -> None:
        if set(keys) & set(self.model.selection) or not self.lines:
            self.redraw()

    def _on_rois_changed(self, keys) -> None:
        if keys is None or set(keys) & set(self.model.selection):
            self.redraw()

    def _on_plot_option(self, _value=None) -> None:
        self._r.enabled = self._correction.value == FIXED
        self._window.enabled = self._baseline.enabled = self._show.value == DFF
        if self.model.traces:
            self._write_features()
        self.redraw()

    def _on_theme(self, event=None) -> None:
        self.plot.apply_theme()
        self.plot.canvas.draw_idle()

    def redraw(self) -> None:
        """Draw the selected ROIs' traces."""
        keys = [k for k in self.model.selection if k in self.model.traces]
        if not keys:
            self.lines, self._frame_lines = [], []
            if self.model.traces:
                self.plot.show_message(
                    "Select an ROI (a row of the ROI table, the label picker, or click it)"
                )
            else:
                self.plot.show_message("Extract traces, then select an ROI")
            return
        ratios = self.ratios()
        groups = [self._series(key, ratios.get(key, np.nan)) for key in keys]
        self.lines, self._frame_lines = self.plot.show_series(
            groups,
            stacked=self._arrange.value == STACK,
            frame=self._current_frame(),
            ylabel="fluorescence" if self._show.value == TRACES else "dF/F",
        )

    def _series(self, key, r) -> tuple[list, str]:
        """What to plot for one ROI: (label, values) pairs, and a note when it is excluded."""
        traces = self.model.traces[key]
        corrected = traces.roi - r * traces.neuropil
        if self._show.value == TRACES:
            series = [
                (f"ROI {key} F", traces.roi),
                (f"ROI {key} Fneu", traces.neuropil),
                (f"ROI {key} F - {r:.2f} Fneu", corrected),
            ]
        else:
            baseline = "median" if self._baseline.value == MEDIAN else "percentile"
            series = [
                (
                    f"ROI {key} dF/F (r = {r:.2f})",
                    delta_f_over_f(corrected, self._window.value, baseline=baseline),
                )
            ]
        exclusions = self.model.summary(key).exclusions
        note = (
            f"ROI {key} excluded: " + ", ".join(EXCLUSION_TEXT[e] for e in exclusions)
            if exclusions
            else ""
        )
        return series, note

    def _frame_axis(self) -> int:
        movie = self.movie_layer
        ndim = self.viewer.dims.ndim
        return ndim - movie.ndim if movie is not None else 0

    def _current_frame(self) -> int:
        return int(self.viewer.dims.current_step[self._frame_axis()])

    def _move_frame_line(self, event=None) -> None:
        frame = self._current_frame()
        for line in self._frame_lines:
            line.set_xdata([frame, frame])
        self.plot.canvas.draw_idle()

    def _on_plot_click(self, event) -> None:
        if (
            event.inaxes is None
            or event.xdata is None
            or self.plot.panning_or_zooming()
            or not self.lines
        ):
            return
        n_frames = len(self.lines[0][1].get_xdata())
        frame = int(np.clip(round(event.xdata), 0, n_frames - 1))
        self.viewer.dims.set_current_step(self._frame_axis(), frame)

    # -- export ---------------------------------------------------------------------------------
    def _save_path(self, path, overwrite: bool, title: str, default: str, filters: str):
        """``(path, overwrite)``: the given path, or one chosen in a file dialog, which itself
        asks before replacing a file (so a chosen path may be replaced). ``(None, _)``: cancelled."""
        if path is not None:
            return Path(path), overwrite
        chosen, _ = QFileDialog.getSaveFileName(self, title, default, filters)
        return (Path(chosen), True) if chosen else (None, overwrite)

    def export_csv(self, path=None, *, overwrite: bool = False) -> Path | None:
        """Write the plotted traces as CSV: frame, then one column per plotted trace.

        Without ``path`` a file dialog asks (and asks before replacing a file).
        """
        if not self.lines:
            show_warning("Nothing to export: extract traces and select an ROI first")
            return None
        path, overwrite = self._save_path(
            path, overwrite, "Export plotted traces", "traces.csv", "CSV (*.csv)"
        )
        if path is None:
            return None
        columns = {label: np.asarray(line.get_ydata(), dtype=float) for label, line in self.lines}
        try:
            write_traces_csv(path, columns, overwrite=overwrite)
        except OSError as error:
            show_error(f"Traces not exported to {path}: {error}")
            return None
        return path

    def save_figure(self, path=None, *, overwrite: bool = False) -> Path | None:
        """Save the figure as shown; the format follows the suffix (.png, .svg, .pdf)."""
        path, overwrite = self._save_path(
            path, overwrite, "Save figure", "traces.png", "PNG (*.png);;SVG (*.svg)"
        )
        if path is None:
            return None
        try:
            write_atomically(
                path,
                lambda f: self.plot.figure.savefig(
                    f,
                    format=path.suffix.lstrip(".") or "png",
                    facecolor=self.plot.figure.get_facecolor(),
                ),
                overwrite=overwrite,
            )
        except (OSError, ValueError) as error:
            show_error(f"Figure not saved to {path}: {error}")
            return None
        return path

    def resizeEvent(self, event) -> None:
        wide = self.width() > 1.6 * self.height()
        direction = QBoxLayout.Direction.LeftToRight if wide else QBoxLayout.Direction.TopToBottom
        if self._layout.direction() != direction:
            self._layout.setDirection(direction)
        super().resizeEvent(event)

    # -- closing --------------------------------------------------------------------------------
    def closeEvent(self, event) -> None:
        self.cancel()
        disconnect_all(self._connections)
        with self._clients_lock:  # a client being made now is closed with the others
            self._closed = True
            for client in self._clients.values():
                cluster = getattr(client, "cluster", None)  # a local cluster this dock started
                client.close()
                if cluster is not None:
                    cluster.close()
            self._clients.clear()
        super().closeEvent(event)


#: Seconds between progress updates from the extraction's thread.
PROGRESS_INTERVAL = 0.05


class ExtractionFailed(Exception):
    """Any failure of the extraction job, RuntimeErrors included (see :func:`_extraction_job`)."""


def _extraction_job(frames, plan, image_shape, cluster=None, cancel=None):
    """The worker's generator: extract (here, or on a Dask cluster), then fit each ROI's ratio.

    Yields ``(stage, done, total)``; returns the ROIs' traces, or None when ``cancel``
    (a ``threading.Event``) was set: the job then stops after the block in hand,
    closing the engine (its read-ahead thread, or the cluster's tasks) in this
    thread. ``cluster`` is ``(connect, path, dataset)``, ``connect()`` giving the
    Dask client. Failures are raised as ExtractionFailed: napari's worker takes
    a RuntimeError for a deleted thread, never reports it, and the run would
    never finish.
    """
    try:
        return (yield from _extract_and_fit(frames, plan, image_shape, cluster, cancel))
    except RuntimeError as error:
        raise ExtractionFailed(str(error)) from error


def _extract_and_fit(frames, plan, image_shape, cluster, cancel):
    def cancelled() -> bool:
        return cancel is not None and cancel.is_set()

    masks = []
    for _, _, roi, ring in plan:
        masks.extend([roi, ring])
    if cluster is None:
        stage, steps = "frames", trace_extraction(frames, masks, image_shape=image_shape)
    else:
        from ..core.distributed_traces import MovieJob, distributed_trace_extraction

        connect, path, dataset = cluster
        yield "connecting", 0, 0
        client = connect()
        if cancelled():
            return None
        stage, steps = (
            "cluster frames",
            distributed_trace_extraction(client, [MovieJob(path, dataset, masks)]),
        )
    try:
        shown = 0.0
        while True:
            try:
                done, total = next(steps)
            except StopIteration as finished:
                traces = finished.value if cluster is None else finished.value[0]
                break
            if time.perf_counter() - shown >= PROGRESS_INTERVAL or done == total:
                # at most ~20 updates a second: each redraws napari's activity panel
                yield stage, done, total
                shown = time.perf_counter()
            if cancelled():
                return None
    finally:
        steps.close()  # the engine stops within one block, the cluster's tasks are cancelled
    results = {}
    for i, (key, fingerprint, _, _) in enumerate(plan):
        if cancelled():
            return None
        roi, neuropil = traces[2 * i], traces[2 * i + 1]
        fitted = (
            estimate_contamination_ratio(roi, neuropil).r
            if np.isfinite(roi).any() and np.isfinite(neuropil).any()
            else np.nan
        )
        results[key] = RoiTraces(fingerprint, roi, neuropil, float(fitted))
        yield "fit", i + 1, len(plan)
    return results
