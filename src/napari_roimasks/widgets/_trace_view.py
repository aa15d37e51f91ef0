"""The Traces dock's plot: the selected ROIs' traces, its options, and its exports.

F, Fneu and ``F - r * Fneu`` (or the dF/F of the corrected trace) of the ROIs
the model has selected, stacked or overlaid; a line follows the viewer's
frame, and a click on the plot moves the frame slider there. The plotted
numbers go to CSV exactly, the figure to PNG/SVG, both written atomically;
"Export NWB…" writes every ROI, its neuropil mask and its traces with the
session's metadata (asked for in :mod:`._nwb_export`), in a worker.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from magicgui.widgets import ComboBox, Container, FloatSpinBox, PushButton, SpinBox
from napari.qt.threading import create_worker
from napari.utils.notifications import show_error, show_info, show_warning

from ..core.exclusions import EXCLUSION_TEXT
from ..core.neuropil_correction import DEFAULT_CONTAMINATION_RATIO
from ..io.allen_traces import write_traces_csv
from ..io.atomic import write_atomically
from ..io.nwb import write_nwb
from ..io.nwb_session import NwbSession
from ..model import Correction, nwb_contents, pixel_series, trace_series
from ._napari import connect_all, disconnect_all, save_path
from ._nwb_export import ask_session, remember
from ._trace_figure import plot_figure
from ._trace_plot import TracePlot

FIXED, FITTED = "fixed r", "fitted r per ROI (AllenSDK)"
TRACES, DFF = "F, Fneu and F - r·Fneu", "dF/F of F - r·Fneu"
STACK, OVERLAY = "stack", "overlay"
MEDIAN, PERCENTILE = "running median", "running 10th percentile"


class TraceView:
    """The plot of the selected ROIs' traces, with its options (``options``) and export buttons.

    Parameters
    ----------
    viewer : napari.Viewer
    model : RoiModel
    movie_layer : callable() -> napari.layers.Image or None
        The movie the traces come from (its frame axis is the plot's x axis).
    parent : QWidget
        The dock, for the file dialogs.
    """

    def __init__(self, viewer, model, movie_layer, parent):
        self.viewer = viewer
        self.model = model
        self._movie_layer = movie_layer
        self._parent = parent
        self.lines: list = []  # (label, PlottedLine) of what is plotted, in legend order
        self.pixel_trace = None  # the Alt+clicked pixel's PixelTrace, plotted beside the ROIs'
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
        self._export_csv = PushButton(text="Export plotted traces (CSV)…")
        self._export_figure = PushButton(text="Save figure (PNG/SVG)…")
        self._export_nwb = PushButton(text="Export NWB…")
        self._export_nwb.tooltip = (
            "Every ROI, its neuropil mask and its F, Fneu and F - r·Fneu, with the session's "
            "metadata (experimenter, animal, indicator…), as one NWB file"
        )
        self._nwb_worker = None
        plot_options = (
            self._correction,
            self._r,
            self._show,
            self._arrange,
            self._baseline,
            self._window,
        )
        #: the controls, for the dock to place
        self.options = [
            *plot_options,
            Container(
                widgets=[self._export_csv, self._export_figure], layout="horizontal", labels=False
            ),
            Container(widgets=[self._export_nwb], layout="horizontal", labels=False),
        ]
        self.plot = TracePlot(viewer)
        for control in plot_options:
            control.changed.connect(self._on_plot_option)
        self._export_csv.changed.connect(lambda: self.export_csv())
        self._export_figure.changed.connect(lambda: self.save_figure())
        self._export_nwb.changed.connect(lambda: self.export_nwb())
        self._connections = [
            (self.model.selection_changed, self._on_selection),
            (self.model.traces_changed, self._on_traces_changed),
            (self.model.rois_changed, self._on_rois_changed),
            (self.model.correction_changed, self._on_correction_changed),
            (self.viewer.dims.events.current_step, self._move_frame_line),
            (self.viewer.events.theme, self._on_theme),
        ]
        connect_all(self._connections)
        self.plot.frame_clicked.connect(self._on_plot_click)
        self._show_correction()  # the model's, e.g. chosen in a Traces dock closed since
        self._on_plot_option()

    def close(self) -> None:
        """Disconnect from the model and the viewer."""
        disconnect_all(self._connections)

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
        correction = Correction(self._correction.value == FITTED, self._r.value)
        if correction != self.model.correction:
            self.model.set_correction(correction)  # redraws
        else:
            self.redraw()

    def _show_correction(self) -> None:
        """Show the model's correction (set here, by another view, or by a script)."""
        correction = self.model.correction
        for control, value in (
            (self._correction, FITTED if correction.fitted else FIXED),
            (self._r, correction.fixed_r),
        ):
            with control.changed.blocked():
                control.value = value
        self._r.enabled = not correction.fitted

    def _on_correction_changed(self) -> None:
        self._show_correction()
        self.redraw()

    def _on_theme(self, event=None) -> None:
        self.plot.apply_theme()

    def set_pixel_trace(self, trace) -> None:
        """Plot this :class:`~napari_roimasks.model.PixelTrace` beside the ROIs' (None: none)."""
        self.pixel_trace = trace
        self.redraw()

    def redraw(self) -> None:
        """Draw the selected ROIs' traces, and the pixel trace if there is one."""
        keys = [k for k in self.model.selection if k in self.model.traces]
        if not keys and self.pixel_trace is None:
            self.lines = []
            if self.model.traces:
                self.plot.show_message(
                    "Select an ROI (a row of the ROI table, the label picker, or click it)"
                )
            else:
                self.plot.show_message("Extract traces, then select an ROI")
            return
        ratios = self.model.contamination_ratios()
        groups = [self._series(key, ratios.get(key, np.nan)) for key in keys]
        if self.pixel_trace is not None:
            pixel = pixel_series(
                self.pixel_trace,
                dff=self._show.value == DFF,
                baseline="median" if self._baseline.value == MEDIAN else "percentile",
                window=self._window.value,
            )
            groups.append((pixel, ""))
        self.lines = self.plot.show_series(
            groups,
            stacked=self._arrange.value == STACK,
            frame=self._current_frame(),
            ylabel="fluorescence" if self._show.value == TRACES else "dF/F",
        )

    def _series(self, key, r) -> tuple[list, str]:
        """What to plot for one ROI: (label, values) pairs, and a note when it is excluded."""
        baseline = "median" if self._baseline.value == MEDIAN else "percentile"
        series = trace_series(
            key,
            self.model.traces[key],
            r,
            dff=self._show.value == DFF,
            baseline=baseline,
            window=self._window.value,
        )
        exclusions = self.model.summary(key).exclusions
        note = f"ROI {key} excluded: " + ", ".join(EXCLUSION_TEXT[e] for e in exclusions)
        return series, note if exclusions else ""

    def _frame_axis(self) -> int:
        movie = self._movie_layer()
        ndim = self.viewer.dims.ndim
        return ndim - movie.ndim if movie is not None else 0

    def _current_frame(self) -> int:
        return int(self.viewer.dims.current_step[self._frame_axis()])

    def _move_frame_line(self, event=None) -> None:
        self.plot.set_frame(self._current_frame())

    def _on_plot_click(self, at: float) -> None:
        if not self.lines:
            return
        n_frames = len(self.lines[0][1].get_xdata())
        frame = int(np.clip(round(at), 0, n_frames - 1))
        self.viewer.dims.set_current_step(self._frame_axis(), frame)

    # -- export ---------------------------------------------------------------------------------
    def _save_path(self, path, overwrite: bool, title: str, default: str, filters: str):
        return save_path(self._parent, path, overwrite, title, default, filters)

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
        figure = plot_figure(self.plot)
        try:
            write_atomically(
                path,
                lambda f: figure.savefig(
                    f, format=path.suffix.lstrip(".") or "png", facecolor=figure.get_facecolor()
                ),
                overwrite=overwrite,
            )
        except (OSError, ValueError) as error:
            show_error(f"Figure not saved to {path}: {error}")
            return None
        return path

    @property
    def exporting(self) -> bool:
        """True while an NWB file is being written."""
        return self._nwb_worker is not None

    def export_nwb(
        self, path=None, *, session: NwbSession | None = None, overwrite: bool = False
    ) -> Path | None:
        """Write every ROI, its neuropil mask and its traces as NWB, in a worker thread.

        The traces are F, Fneu and ``F - r * Fneu`` with the plot's correction;
        without traces (none extracted yet) the file holds the masks. A
        notification says when the file is written, or why not.

        Parameters
        ----------
        path : str or os.PathLike, optional
            Without it, a file dialog asks (and asks before replacing a file).
        session : NwbSession, optional
            Without it, a dialog asks, filled with the fields last used.
        overwrite : bool
            Replace ``path`` if it exists.

        Returns
        -------
        Path or None
            The file being written; None when nothing is (refused or cancelled).
        """
        if self.exporting:
            show_info("An NWB file is being written already: wait for it")
            return None
        try:
            contents = nwb_contents(self.model)
        except ValueError as error:
            show_warning(f"NWB not exported: {error}")
            return None
        session = session or ask_session(self._parent)
        if session is None:
            return None
        remember(session)
        path, overwrite = self._save_path(
            path, overwrite, "Export NWB", "session.nwb", "NWB (*.nwb)"
        )
        if path is None:
            return None
        worker = create_worker(
            write_nwb,
            path,
            contents.rois,
            session=session,
            neuropils=contents.neuropils,
            traces=contents.traces,
            overwrite=overwrite,
            _start_thread=False,
            _connect={
                "returned": lambda _: self._on_nwb_written(path, contents),
                "errored": lambda error: show_error(_not_written(path, error)),
                "finished": self._on_nwb_finished,
            },
        )
        self._nwb_worker = worker
        worker.start()
        return path

    def _on_nwb_written(self, path: Path, contents) -> None:
        n = len(contents.rois.rois)
        what = (
            f"and their traces ({contents.n_frames} frames)"
            if contents.traces
            else "without traces (extract them first to include them)"
        )
        show_info(f"Wrote {path}: {n} ROIs with their neuropil masks {what}")

    def _on_nwb_finished(self) -> None:
        self._nwb_worker = None


def _not_written(path: Path, error: Exception) -> str:
    text = str(error)
    if text.startswith(str(path)):  # file errors name the file already
        return f"NWB not exported: {text}"
    return f"NWB not exported to {path}: {text}"
