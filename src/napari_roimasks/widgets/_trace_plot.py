"""A matplotlib canvas in napari's colours, with a navigation toolbar (after napari-matplotlib)."""

from __future__ import annotations

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

    def panning_or_zooming(self) -> bool:
        """True while the toolbar's pan or zoom tool is active (clicks belong to it)."""
        return bool(getattr(self.toolbar, "mode", ""))
