"""A matplotlib canvas in napari's colours, with a navigation toolbar (after napari-matplotlib).

A triage step redraws the plot, so the plot changes in place and draws only
what changed:

- a new selection sets the data of the Line2D objects already there (axes are
  made only when their number changes) and the labels of the legend;
- the constrained layout is recomputed only when something it depends on
  changed (the figure's size, the axes, their labels and notes, the shapes of
  their tick labels: :class:`LayoutWhenChanged`), not on every draw;
- what a new selection changes (the traces, the y axis, the legend, the notes,
  the frame line, and the spines drawn over them) is drawn over a copy of the
  rest (the background, the frame axis), kept from the last full draw while
  the figure's size, layout and frame axis stay; anything else draws it all.
  That quick draw happens in the canvas's paint, with the rest of the window's.
"""

from __future__ import annotations

import re
from operator import methodcaller

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg, NavigationToolbar2QT
from matplotlib.figure import Figure
from matplotlib.layout_engine import ConstrainedLayoutEngine
from napari.utils.theme import get_theme
from qtpy.QtCore import Signal
from qtpy.QtWidgets import QVBoxLayout, QWidget

#: where a group's note (e.g. why AllenSDK excludes the ROI) stands, in axes coordinates
_NOTE_PLACE = (0.01, 0.95)
#: the artists' ids of the current-frame lines and the notes, among the plotted lines and texts
_FRAME, _NOTE = "current frame", "note"
_DIGIT = re.compile(r"\d")


class ThemedCanvas(QWidget):
    """Figure, canvas and toolbar; :meth:`apply_theme` recolours the figure like the viewer.

    Signals
    -------
    drawn()
        The figure was drawn (whole, or what changed over the kept background).
    """

    drawn = Signal()

    def __init__(self, viewer, parent=None):
        super().__init__(parent)
        self.viewer = viewer
        self.figure = Figure(figsize=(5, 4), layout=LayoutWhenChanged())
        self.canvas = _PaintingCanvas(self.figure, before_paint=self._draw_changes_asked)
        self.toolbar = NavigationToolbar2QT(self.canvas, self)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.toolbar)
        layout.addWidget(self.canvas, stretch=1)
        self.setMinimumHeight(260)
        self._message = None  # the Text of the empty plot, while it is shown
        self._series_axes: list = []  # the axes of the series, while they are shown
        self._frames: dict[int, np.ndarray] = {}  # x values by length, shared by the lines
        self._background = None  # (what it shows, the figure without the changing artists)
        self._changes_asked = False
        self.canvas.mpl_connect("draw_event", self._on_full_draw)

    @property
    def colours(self) -> dict:
        theme = get_theme(self.viewer.theme)
        return {
            "background": theme.canvas.as_hex(),
            "text": theme.text.as_hex(),
            "axes": theme.foreground.as_hex(),
        }

    def apply_theme(self) -> None:
        """Colour the figure, its axes and their legends like the viewer's theme."""
        colours = self.colours
        self.figure.set_facecolor(colours["background"])
        for axes in self.figure.axes:
            _theme_axes(axes, colours)

    def show_message(self, message: str) -> None:
        """An empty plot that says what to do."""
        if self._message is None:
            self._clear()
            axes = self.figure.add_subplot()
            self._message = axes.text(
                0.5, 0.5, message, ha="center", va="center", transform=axes.transAxes, wrap=True
            )
            axes.set_axis_off()
            self.apply_theme()
        self._message.set_text(message)
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
        ylabel : str

        Returns
        -------
        lines : list of (label, Line2D)
            What was plotted, in legend order: exports read their numbers from these.
        frame_lines : list of Line2D
            The current-frame line of every axes.
        """
        stacked = stacked and len(groups) > 1
        all_axes = self._axes_for(len(groups) if stacked else 1, frame)
        series = [[] for _ in all_axes]  # (label, values, colour) per axes
        notes = [[] for _ in all_axes]
        for g, (group, note) in enumerate(groups):
            place = g if stacked else 0
            first_colour = 0 if stacked else 3 * g
            for n, (label, values) in enumerate(group):
                series[place].append((label, values, f"C{(first_colour + n) % 10}"))
            if note:
                notes[place].append(note)
        lines = []
        for axes, axes_series, axes_notes in zip(all_axes, series, notes, strict=True):
            axes_lines = self._set_lines(axes, axes_series)
            _set_notes(axes, axes_notes)
            axes.set_ylabel(ylabel)
            self._set_legend(axes, axes_lines)
            axes.set_autoscale_on(True)  # a new plot shows all of it, as zoomed out
            axes.relim()
            axes.autoscale_view()
            lines += axes_lines
        frame_lines = [line for axes in all_axes for line in _frame_lines(axes)]
        for line in frame_lines:
            line.set_xdata([frame, frame])
        self.toolbar.update()  # the toolbar's home is the new view
        self.refresh()
        return lines, frame_lines

    def refresh(self) -> None:
        """Show the figure's changes: drawn over the kept background in the canvas's next
        paint when only the changing artists changed, else a whole draw then."""
        self._changes_asked = True
        self.canvas.update()

    def panning_or_zooming(self) -> bool:
        """True while the toolbar's pan or zoom tool is active (clicks belong to it)."""
        return bool(getattr(self.toolbar, "mode", ""))

    # -- in place ---------------------------------------------------------------------------------
    def _clear(self) -> None:
        self.figure.clear()
        self._message = None
        self._series_axes = []

    def _axes_for(self, n_axes: int, frame: int) -> list:
        """The series' axes, made again only when their number changes."""
        if len(self._series_axes) != n_axes:
            self._clear()
            all_axes = self.figure.subplots(n_axes, 1, sharex=True, squeeze=False)[:, 0]
            for axes in all_axes:
                axes.axvline(frame, color="#ffcc33", lw=1, zorder=0, gid=_FRAME, animated=True)
                axes.yaxis.set_animated(True)
                for spine in axes.spines.values():  # drawn over the traces
                    spine.set_animated(True)
            all_axes[-1].set_xlabel("frame")
            self._series_axes = list(all_axes)
            self.apply_theme()
        return self._series_axes

    def _set_lines(self, axes, series) -> list:
        """Give the axes' lines these (label, values, colour), reusing the Line2D there."""
        lines = [line for line in axes.lines if line.get_gid() != _FRAME]
        for line in lines[len(series) :]:
            line.remove()
        plotted = []
        for n, (label, values, colour) in enumerate(series):
            frames = self._frame_numbers(len(values))
            if n < len(lines):
                line = lines[n]
                line.set_data(frames, values)
                line.set_label(label)
                line.set_color(colour)
            else:
                (line,) = axes.plot(frames, values, color=colour, lw=1.1, label=label)
                line.set_animated(True)
            plotted.append((label, line))
        return plotted

    def _set_legend(self, axes, lines) -> None:
        """The axes' legend of these lines: its labels changed in place when its handles
        have the lines' colours already."""
        legend = axes.get_legend()
        if legend is not None and [h.get_color() for h in legend.legend_handles] == [
            line.get_color() for _, line in lines
        ]:
            for text, (label, _) in zip(legend.get_texts(), lines, strict=True):
                text.set_text(label)
            return
        legend = axes.legend(loc="upper left", fontsize="small")
        legend.set_animated(True)
        _theme_legend(legend, self.colours)

    def _frame_numbers(self, n: int) -> np.ndarray:
        frames = self._frames.get(n)
        if frames is None:
            frames = self._frames[n] = np.arange(n)
            frames.flags.writeable = False
        return frames

    # -- drawing ----------------------------------------------------------------------------------
    def _drawn_state(self):
        """What the background shows (None: a layout is due, which moves everything)."""
        figure = self.figure
        engine = figure.get_layout_engine()
        if not isinstance(engine, LayoutWhenChanged) or not engine.is_current(figure):
            return None
        return (
            self.canvas.get_width_height(physical=True),
            figure.get_facecolor(),
            tuple(
                (id(axes), axes.get_position().bounds, axes.get_xlim(), axes.get_facecolor())
                for axes in figure.axes
            ),
        )

    def _on_full_draw(self, event) -> None:
        """After a whole draw: keep its background, then draw the changing artists over it."""
        if event.canvas is not self.canvas or self.canvas.is_saving():
            self._background = None  # a figure saved to a file: the canvas' buffer is not ours
            return
        self._background = (self._drawn_state(), self.canvas.copy_from_bbox(self.figure.bbox))
        self._changes_asked = False  # drawn here
        self._draw_changing_artists()

    def _draw_changes_asked(self) -> None:
        """In the canvas' paint: draw the changes :meth:`refresh` asked for."""
        if not self._changes_asked:
            return
        self._changes_asked = False
        if self._background is None or self._background[0] != self._drawn_state():
            FigureCanvasAgg.draw(self.canvas)  # all of it (and no second paint)
            return
        self.canvas.restore_region(self._background[1])
        self._draw_changing_artists()

    def _draw_changing_artists(self) -> None:
        for axes in self.figure.axes:
            changing = [a for a in axes.get_children() if a.get_animated() and a.get_visible()]
            for artist in sorted(changing, key=methodcaller("get_zorder")):
                axes.draw_artist(artist)
        self.drawn.emit()


class _PaintingCanvas(FigureCanvasQTAgg):
    """The Qt canvas, which calls ``before_paint`` in its paint, after a pending whole draw."""

    def __init__(self, figure, *, before_paint):
        super().__init__(figure)
        self._before_paint = before_paint

    def paintEvent(self, event):
        self._draw_idle()  # a whole draw asked for comes first
        self._before_paint()
        super().paintEvent(event)


def _frame_lines(axes) -> list:
    return [line for line in axes.lines if line.get_gid() == _FRAME]


def _set_notes(axes, notes) -> None:
    """The axes' notes (red, top left), reusing the Text there."""
    texts = [text for text in axes.texts if text.get_gid() == _NOTE]
    for text in texts[len(notes) :]:
        text.remove()
    for n, note in enumerate(notes):
        if n < len(texts):
            texts[n].set_text(note)
        else:
            axes.text(
                *_NOTE_PLACE,
                note,
                transform=axes.transAxes,
                va="top",
                color="#ff6666",
                gid=_NOTE,
                animated=True,
            )


def _theme_axes(axes, colours) -> None:
    axes.set_facecolor(colours["background"])
    for spine in axes.spines.values():
        spine.set_color(colours["axes"])
    axes.tick_params(colors=colours["text"], which="both")
    axes.xaxis.label.set_color(colours["text"])
    axes.yaxis.label.set_color(colours["text"])
    axes.title.set_color(colours["text"])
    _theme_legend(axes.get_legend(), colours)


def _theme_legend(legend, colours) -> None:
    if legend is not None:
        legend.get_frame().set_facecolor(colours["background"])
        legend.get_frame().set_edgecolor(colours["axes"])
        for text in legend.get_texts():
            text.set_color(colours["text"])


class LayoutWhenChanged(ConstrainedLayoutEngine):
    """Constrained layout, recomputed only when what it depends on changed (see
    :func:`layout_key`); the axes keep their places between."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._laid_out = None  # the key of the last layout

    def is_current(self, fig) -> bool:
        """Whether the axes stand where a layout now would put them."""
        return self._key(fig) == self._laid_out

    def execute(self, fig):
        key = self._key(fig)
        if key != self._laid_out:
            # twice: a layout starts from where the axes stand, and a second pass settles
            # them where a layout on every draw would
            for _ in range(2):
                super().execute(fig)
            self._laid_out = key

    def _key(self, fig) -> tuple:
        return layout_key(fig), tuple(self._params.items())


def layout_key(fig) -> tuple:
    """What a constrained layout of ``fig`` depends on: its size, its axes' grid places,
    labels and texts, and the shapes of their tick labels (digits alike: the font's digits
    are equally wide). Legends stand inside their axes, so their labels do not count."""
    key = [tuple(fig.get_size_inches()), fig.dpi]
    for axes in fig.axes:
        spec = axes.get_subplotspec()
        key.append(
            (
                None if spec is None else (spec.get_geometry(), spec.rowspan, spec.colspan),
                axes.axison,
                axes.get_xlabel(),
                axes.get_ylabel(),
                axes.get_title(),
                tuple(_shape(text.get_text()) for text in axes.texts),
                _tick_shapes(axes.xaxis) if axes.axison else (),
                _tick_shapes(axes.yaxis) if axes.axison else (),
            )
        )
    return tuple(key)


def _tick_shapes(axis) -> tuple:
    """The shapes of the tick labels drawn (those in the view) and of the axis' offset text."""
    formatter = axis.get_major_formatter()
    locs = axis.get_majorticklocs()
    labels = formatter.format_ticks(locs)
    low, high = sorted(axis.get_view_interval())
    slack = 1e-9 * (high - low)
    shown = {
        _shape(label)
        for label, loc in zip(labels, locs, strict=True)
        if low - slack <= loc <= high + slack
    }
    return tuple(sorted(shown)), _shape(formatter.get_offset())


def _shape(text: str) -> str:
    return _DIGIT.sub("0", text)
