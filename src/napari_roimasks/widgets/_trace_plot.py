"""A matplotlib canvas in napari's colours, with a navigation toolbar (after napari-matplotlib)."""

from __future__ import annotations

import numpy as np
from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg, NavigationToolbar2QT
from matplotlib.figure import Figure
from napari.utils.theme import get_theme
from qtpy.QtWidgets import QVBoxLayout, QWidget


class ThemedCanvas(QWidget):
    """Figure, canvas and toolbar; :meth:`apply_theme` recolours the figure like the viewer."""

    def __init__(self, viewer, parent=None):
        super().__init__(parent)
        self.viewer = viewer
        self.figure = Figure(figsize=(5, 4), layout="constrained")
        self.canvas = FigureCanvasQTAgg(self.figure)
        self.toolbar = NavigationToolbar2QT(self.canvas, self)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.toolbar)
        layout.addWidget(self.canvas, stretch=1)
        self.setMinimumHeight(260)

    @property
    def colours(self) -> dict:
        theme = get_theme(self.viewer.theme)
        return {
            "background": theme.canvas.as_hex(),
            "text": theme.text.as_hex(),
            "axes": theme.foreground.as_hex(),
        }

    def apply_theme(self) -> None:
        colours = self.colours
        self.figure.set_facecolor(colours["background"])
        for axes in self.figure.axes:
            axes.set_facecolor(colours["background"])
            for spine in axes.spines.values():
                spine.set_color(colours["axes"])
            axes.tick_params(colors=colours["text"], which="both")
            axes.xaxis.label.set_color(colours["text"])
            axes.yaxis.label.set_color(colours["text"])
            axes.title.set_color(colours["text"])
            legend = axes.get_legend()
            if legend is not None:
                legend.get_frame().set_facecolor(colours["background"])
                legend.get_frame().set_edgecolor(colours["axes"])
                for text in legend.get_texts():
                    text.set_color(colours["text"])

    def show_message(self, message: str) -> None:
        """An empty plot that says what to do."""
        self.figure.clear()
        axes = self.figure.add_subplot()
        axes.text(0.5, 0.5, message, ha="center", va="center", transform=axes.transAxes, wrap=True)
        axes.set_axis_off()
        self.apply_theme()
        self.canvas.draw_idle()

    def show_series(self, groups, *, stacked: bool, frame: int, ylabel: str):
        """Plot groups of series against frame number, one axes per group or all on one.

        Parameters
        ----------
        groups : list of (series, note)
            ``series`` is a list of (label, (n_frames,) values); ``note`` a text
            shown in the group's axes ('' for none).
        stacked : bool
            One axes per group (sharing the frame axis), else all on one axes.
        frame : int
            Where the current-frame line stands.

        Returns
        -------
        lines : list of (label, Line2D)
            What was plotted, in legend order: exports read their numbers from these.
        frame_lines : list of Line2D
            The current-frame line of every axes.
        """
        self.figure.clear()
        stacked = stacked and len(groups) > 1
        all_axes = self.figure.subplots(
            len(groups) if stacked else 1, 1, sharex=True, squeeze=False
        )[:, 0]
        lines = []
        for g, (series, note) in enumerate(groups):
            axes = all_axes[g if stacked else 0]
            first_colour = 0 if stacked else 3 * g
            for n, (label, values) in enumerate(series):
                (line,) = axes.plot(
                    np.arange(len(values)),
                    values,
                    color=f"C{(first_colour + n) % 10}",
                    lw=1.1,
                    label=label,
                )
                lines.append((label, line))
            if note:
                axes.text(0.01, 0.95, note, transform=axes.transAxes, va="top", color="#ff6666")
            axes.set_ylabel(ylabel)
            axes.legend(loc="upper left", fontsize="small")
        all_axes[-1].set_xlabel("frame")
        frame_lines = [axes.axvline(frame, color="#ffcc33", lw=1, zorder=0) for axes in all_axes]
        self.apply_theme()
        self.canvas.draw_idle()
        return lines, frame_lines

    def panning_or_zooming(self) -> bool:
        """True while the toolbar's pan or zoom tool is active (clicks belong to it)."""
        return bool(getattr(self.toolbar, "mode", ""))
