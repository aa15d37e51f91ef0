"""The Traces plot as a matplotlib figure, for files (PNG, SVG, PDF).

The plot on screen is painted with QPainter (:mod:`._trace_plot`), fast enough
for a triage step; a saved figure is drawn by matplotlib from the same numbers,
in the same colours and view: each panel's traces, legend, notes and the
current-frame line, the frames shown, the theme's colours.
"""

from __future__ import annotations

from ._trace_plot import FRAME_LINE_COLOUR, NOTE_COLOUR


def plot_figure(plot):
    """A matplotlib Figure of what ``plot`` (a :class:`~._trace_plot.TracePlot`) shows, at
    its size on screen."""
    from matplotlib.figure import Figure

    colours = plot.colours
    dpi = 100
    size = (max(plot.width(), 200) / dpi, max(plot.height(), 150) / dpi)
    figure = Figure(figsize=size, dpi=dpi, layout="constrained")
    figure.set_facecolor(colours["background"])
    if not plot.panels:
        axes = figure.add_subplot()
        axes.text(0.5, 0.5, plot.message or "", ha="center", va="center", wrap=True)
        axes.set_axis_off()
        _theme(axes, colours)
        return figure
    all_axes = figure.subplots(len(plot.panels), 1, sharex=True, squeeze=False)[:, 0]
    for axes, panel in zip(all_axes, plot.panels, strict=True):
        axes.axvline(plot.frame, color=FRAME_LINE_COLOUR, lw=1, zorder=0)
        for line in panel.lines:
            axes.plot(line.get_xdata(), line.values, color=line.colour, lw=1.1, label=line.label)
        for n, note in enumerate(panel.notes):
            axes.text(
                0.99,
                0.97 - 0.08 * n,
                note,
                transform=axes.transAxes,
                ha="right",
                va="top",
                color=NOTE_COLOUR,
            )
        axes.set_ylim(*panel.ylim)
        axes.set_ylabel(plot.ylabel)
        if panel.lines:
            axes.legend(loc="upper left", fontsize="small")
        _theme(axes, colours)
    all_axes[-1].set_xlim(*plot.xlim)
    all_axes[-1].set_xlabel("frame")
    return figure


def _theme(axes, colours) -> None:
    axes.set_facecolor(colours["background"])
    for spine in axes.spines.values():
        spine.set_color(colours["axes"])
    axes.tick_params(colors=colours["text"], which="both")
    axes.xaxis.label.set_color(colours["text"])
    axes.yaxis.label.set_color(colours["text"])
    for text in axes.texts:
        if text.get_color() != NOTE_COLOUR:
            text.set_color(colours["text"])
    legend = axes.get_legend()
    if legend is not None:
        legend.get_frame().set_facecolor(colours["background"])
        legend.get_frame().set_edgecolor(colours["axes"])
        for text in legend.get_texts():
            text.set_color(colours["text"])
