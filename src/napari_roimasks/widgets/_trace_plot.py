"""The Traces dock's plot: series against frame number, painted with QPainter in napari's colours.

A triage step redraws the plot, and the whole step has a few tens of
milliseconds: matplotlib took 30 ms to draw three traces of 2,000 frames with
their axes and legend (Agg strokes every segment of a noisy trace), QPainter
takes about 2 ms. So the plot on screen is painted here, from the numbers
(each panel: its traces, y ticks, legend, notes, the current-frame line; the
frame axis shared below), and matplotlib draws the same figure only for files
(:mod:`._trace_figure`).

Mouse: a click moves to the clicked frame (``frame_clicked``), a drag pans
along the frames, the wheel zooms them, a double click shows them all again.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from napari.utils.theme import get_theme
from qtpy.QtCore import QPointF, QRectF, Qt, Signal
from qtpy.QtGui import QColor, QFont, QFontMetricsF, QPainter, QPen, QPolygonF
from qtpy.QtWidgets import QWidget

#: matplotlib's default colour cycle ("C0".."C9"), which the exported figure uses too
COLOURS = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
)
FRAME_LINE_COLOUR = "#ffcc33"
NOTE_COLOUR = "#ff6666"
MARGIN = 0.05  # of the data's range, on each side (as matplotlib's autoscale)
_TICK = 4  # tick length, pixels
_PAD = 4  # between texts and what they label, pixels
_PANEL_GAP = 8  # between stacked panels, pixels
_DRAG = 4  # pixels a press must move to be a pan, not a click


@dataclass(eq=False)
class PlottedLine:
    """One plotted series: its values by frame (the exact numbers exports write)."""

    label: str
    values: np.ndarray
    colour: str

    def get_xdata(self) -> np.ndarray:
        """Frame numbers, 0 to n - 1."""
        return np.arange(len(self.values))

    def get_ydata(self) -> np.ndarray:
        """The values, as given."""
        return self.values


@dataclass(eq=False)
class Panel:
    """One axes: its lines, notes (why an ROI is excluded) and y range."""

    lines: list = field(default_factory=list)
    notes: list = field(default_factory=list)
    ylim: tuple = (0.0, 1.0)


class TracePlot(QWidget):
    """Series against frame number, one panel per group (stacked) or all in one.

    Signals
    -------
    drawn()
        The plot was painted (at the end of its paint).
    frame_clicked(float)
        The frame (as a float) under a click.
    """

    drawn = Signal()
    frame_clicked = Signal(float)

    def __init__(self, viewer, parent=None):
        super().__init__(parent)
        self.viewer = viewer
        self.setMinimumHeight(260)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)  # paints every pixel
        self.message: str | None = "Extract traces, then select an ROI"
        self.panels: list[Panel] = []
        self.ylabel = ""
        self.frame = 0
        self.n_frames = 0
        self._view: tuple | None = None  # the frames shown (zoomed), None: all
        self._press = None  # (x, view) of a press, until it is a click or a pan
        self._small = QFont(self.font())
        self._small.setPointSizeF(self.font().pointSizeF() * 0.85)

    # -- what is shown ----------------------------------------------------------------------------
    @property
    def colours(self) -> dict:
        """The viewer theme's colours: background, text, axes."""
        theme = get_theme(self.viewer.theme)
        return {
            "background": theme.canvas.as_hex(),
            "text": theme.text.as_hex(),
            "axes": theme.foreground.as_hex(),
        }

    def apply_theme(self) -> None:
        """Paint in the viewer's (new) theme."""
        self.update()

    def show_message(self, message: str) -> None:
        """An empty plot that says what to do."""
        self.message, self.panels = message, []
        self.update()

    def show_series(self, groups, *, stacked: bool, frame: int, ylabel: str) -> list:
        """Plot groups of series against frame number, one panel per group or all in one.

        Parameters
        ----------
        groups : list of (series, note)
            ``series`` is a list of (label, (n_frames,) values); ``note`` a text
            shown in the group's panel ('' for none).
        stacked : bool
            One panel per group (sharing the frame axis), else all in one.
        frame : int
            Where the current-frame line stands.
        ylabel : str

        Returns
        -------
        list of (label, PlottedLine)
            What was plotted, in legend order: exports read their numbers from these.
        """
        stacked = stacked and len(groups) > 1
        panels = [Panel() for _ in range(len(groups) if stacked else 1)]
        for g, (group, note) in enumerate(groups):
            panel = panels[g if stacked else 0]
            first_colour = 0 if stacked else 3 * g
            for n, (label, values) in enumerate(group):
                colour = COLOURS[(first_colour + n) % len(COLOURS)]
                panel.lines.append(PlottedLine(label, np.asarray(values), colour))
            if note:
                panel.notes.append(note)
        for panel in panels:
            panel.ylim = _data_limits([line.values for line in panel.lines])
        self.message, self.panels, self.ylabel, self.frame = None, panels, ylabel, frame
        self.n_frames = max((len(line.values) for p in panels for line in p.lines), default=0)
        self._view = None  # a new plot shows all of it
        self.update()
        return [(line.label, line) for panel in panels for line in panel.lines]

    def set_frame(self, frame: int) -> None:
        """Move the current-frame line."""
        if frame != self.frame:
            self.frame = frame
            self.update()

    @property
    def xlim(self) -> tuple[float, float]:
        """The frames shown (with a margin when all are)."""
        if self._view is not None:
            return self._view
        last = max(self.n_frames - 1, 1)
        return -MARGIN * last, last * (1 + MARGIN)

    def set_xlim(self, low: float, high: float) -> None:
        """Show these frames (zoom); :meth:`show_all` shows all again."""
        if high > low:
            self._view = (float(low), float(high))
            self.update()

    def show_all(self) -> None:
        """Show every frame again."""
        self._view = None
        self.update()

    # -- geometry (public for tests and clicks) ---------------------------------------------------
    def panel_rects(self) -> list[QRectF]:
        """Where each panel's axes stand in the widget, top to bottom."""
        if not self.panels:
            return []
        metrics = QFontMetricsF(self.font())
        tick_width = max(
            (
                metrics.horizontalAdvance(text)
                for panel in self.panels
                for _, text in _ticks(*panel.ylim, self._y_tick_count(panel))
            ),
            default=0.0,
        )
        left = metrics.height() + 2 * _PAD + tick_width + _TICK
        bottom = _TICK + _PAD + 2 * metrics.height() + _PAD
        top, right = 2 * _PAD, 3 * _PAD + metrics.horizontalAdvance("0000") / 2
        width = max(self.width() - left - right, 10.0)
        n = len(self.panels)
        height = max((self.height() - top - bottom - _PANEL_GAP * (n - 1)) / n, 10.0)
        return [QRectF(left, top + i * (height + _PANEL_GAP), width, height) for i in range(n)]

    def _y_tick_count(self, panel) -> int:
        n = len(self.panels)
        return max(2, int((self.height() - 60) / n / 36))

    def frame_at(self, x: float) -> float:
        """The frame under widget x."""
        rect = self.panel_rects()[0]
        low, high = self.xlim
        return low + (x - rect.left()) / rect.width() * (high - low)

    def x_of(self, frame: float) -> float:
        """Widget x of a frame."""
        rect = self.panel_rects()[0]
        low, high = self.xlim
        return rect.left() + (frame - low) / (high - low) * rect.width()

    # -- painting ---------------------------------------------------------------------------------
    def paintEvent(self, event) -> None:
        colours = {k: QColor(v) for k, v in self.colours.items()}
        painter = QPainter(self)
        painter.fillRect(self.rect(), colours["background"])
        if self.panels:
            self._paint_panels(painter, colours)
        elif self.message:
            painter.setPen(colours["text"])
            painter.drawText(
                QRectF(self.rect()).adjusted(10, 10, -10, -10),
                int(Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap),
                self.message,
            )
        painter.end()
        self.drawn.emit()

    def _paint_panels(self, painter, colours) -> None:
        rects = self.panel_rects()
        low, high = self.xlim
        x_ticks = _ticks(low, high, max(2, int(rects[0].width() / 90)))
        metrics = QFontMetricsF(self.font())
        for panel, rect in zip(self.panels, rects, strict=True):
            painter.save()
            painter.setClipRect(rect)
            frame_x = self.x_of(self.frame)
            painter.setPen(_pen(FRAME_LINE_COLOUR))  # crisp: one column of pixels
            painter.drawLine(QPointF(frame_x, rect.top()), QPointF(frame_x, rect.bottom()))
            painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
            for line in panel.lines:
                self._paint_line(painter, line, rect, panel.ylim)
            painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)
            self._paint_legend(painter, panel, rect, colours)
            painter.restore()
            self._paint_frame(painter, panel, rect, x_ticks, colours, metrics)
        last = rects[-1]
        painter.setPen(colours["text"])
        text_top = last.bottom() + _TICK + _PAD + metrics.height()
        painter.drawText(
            QRectF(last.left(), text_top, last.width(), metrics.height()),
            int(Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop),
            "frame",
        )
        if self.ylabel:
            painter.save()
            middle = (rects[0].top() + last.bottom()) / 2
            painter.translate(_PAD, middle)
            painter.rotate(-90)
            painter.drawText(
                QRectF(-200, 0, 400, metrics.height()),
                int(Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop),
                self.ylabel,
            )
            painter.restore()

    def _paint_line(self, painter, line, rect, ylim) -> None:
        low, high = self.xlim
        values = line.values
        first = max(math.floor(low), 0)
        last = min(math.ceil(high) + 1, len(values))
        if last - first < 1:
            return
        frames = np.arange(first, last, dtype=np.float64)
        xs = rect.left() + (frames - low) * (rect.width() / (high - low))
        y_low, y_high = ylim
        ys = rect.bottom() - (values[first:last] - y_low) * (rect.height() / (y_high - y_low))
        painter.setPen(_pen(line.colour))
        for start, stop in _finite_runs(ys):
            if stop - start == 1:
                painter.drawPoint(QPointF(xs[start], ys[start]))
            else:
                painter.drawPolyline(_polygon(xs[start:stop], ys[start:stop]))

    def _paint_legend(self, painter, panel, rect, colours) -> None:
        painter.setFont(self._small)
        metrics = QFontMetricsF(self._small)
        row = metrics.height()
        handle = 2 * row
        width = max((metrics.horizontalAdvance(line.label) for line in panel.lines), default=0)
        box = QRectF(rect.left() + _PAD, rect.top() + _PAD, handle + width + 3 * _PAD, 0)
        box.setHeight(row * len(panel.lines) + 2 * _PAD)
        if panel.lines:
            fill = QColor(colours["background"])
            fill.setAlphaF(0.8)
            painter.setPen(colours["axes"])
            painter.setBrush(fill)
            painter.drawRect(box)
            for n, line in enumerate(panel.lines):
                y = box.top() + _PAD + n * row
                painter.setPen(_pen(line.colour))
                x0 = box.left() + _PAD
                painter.drawLine(QPointF(x0, y + row / 2), QPointF(x0 + handle, y + row / 2))
                painter.setPen(colours["text"])
                painter.drawText(
                    QRectF(x0 + handle + _PAD, y, width + _PAD, row),
                    int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter),
                    line.label,
                )
        painter.setPen(QColor(NOTE_COLOUR))
        for n, note in enumerate(panel.notes):
            painter.drawText(
                QRectF(rect.left(), rect.top() + _PAD + n * row, rect.width() - _PAD, row),
                int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignTop),
                note,
            )
        painter.setFont(self.font())
        painter.setBrush(Qt.BrushStyle.NoBrush)

    def _paint_frame(self, painter, panel, rect, x_ticks, colours, metrics) -> None:
        """The panel's box, its y ticks and, below the last panel, the frame ticks."""
        painter.setPen(colours["axes"])
        painter.drawRect(rect)
        y_low, y_high = panel.ylim
        height = metrics.height()
        for value, text in _ticks(y_low, y_high, self._y_tick_count(panel)):
            y = rect.bottom() - (value - y_low) * rect.height() / (y_high - y_low)
            painter.setPen(colours["axes"])
            painter.drawLine(QPointF(rect.left() - _TICK, y), QPointF(rect.left(), y))
            painter.setPen(colours["text"])
            painter.drawText(
                QRectF(0, y - height / 2, rect.left() - _TICK - _PAD / 2, height),
                int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter),
                text,
            )
        low, high = self.xlim
        is_last = panel is self.panels[-1]
        for value, text in x_ticks:
            x = rect.left() + (value - low) * rect.width() / (high - low)
            painter.setPen(colours["axes"])
            painter.drawLine(QPointF(x, rect.bottom()), QPointF(x, rect.bottom() + _TICK))
            if is_last:
                painter.setPen(colours["text"])
                painter.drawText(
                    QRectF(x - 100, rect.bottom() + _TICK + _PAD / 2, 200, height),
                    int(Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop),
                    text,
                )

    # -- mouse ------------------------------------------------------------------------------------
    def mousePressEvent(self, event) -> None:
        if event.button() == Qt.MouseButton.LeftButton and self.panels:
            self._press = (event.position().x(), self.xlim)

    def mouseMoveEvent(self, event) -> None:
        if self._press is None:
            return
        x0, (low, high) = self._press
        dx = event.position().x() - x0
        if abs(dx) >= _DRAG:
            shift = dx / self.panel_rects()[0].width() * (high - low)
            self.set_xlim(low - shift, high - shift)

    def mouseReleaseEvent(self, event) -> None:
        press, self._press = self._press, None
        if press is not None and abs(event.position().x() - press[0]) < _DRAG:
            self.frame_clicked.emit(self.frame_at(event.position().x()))

    def mouseDoubleClickEvent(self, event) -> None:
        self.show_all()

    def wheelEvent(self, event) -> None:
        if not self.panels:
            return
        steps = event.angleDelta().y() / 120
        low, high = self.xlim
        at = self.frame_at(event.position().x())
        scale = 0.8**steps
        self.set_xlim(at - (at - low) * scale, at + (high - at) * scale)


def _pen(colour) -> QPen:
    pen = QPen(QColor(colour))
    pen.setCosmetic(True)
    pen.setWidthF(1.0)  # QPainter strokes other widths of a long polyline 100x slower
    return pen


def _data_limits(series) -> tuple[float, float]:
    """The series' range with :data:`MARGIN` on each side (0 to 1 without finite values)."""
    lows = [np.nanmin(v) for v in series if np.isfinite(v).any()]
    highs = [np.nanmax(v) for v in series if np.isfinite(v).any()]
    if not lows:
        return 0.0, 1.0
    low, high = float(min(lows)), float(max(highs))
    if high == low:
        pad = abs(low) * 0.05 or 0.05
        return low - pad, high + pad
    pad = (high - low) * MARGIN
    return low - pad, high + pad


def _ticks(low: float, high: float, most: int) -> list[tuple[float, str]]:
    """Round values in [low, high], at most ``most`` (steps 1, 2, 2.5, 5 x 10^k, as
    matplotlib's), with their labels."""
    span = high - low
    if not (math.isfinite(span) and span > 0):
        return []
    raw = span / max(most, 1)
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw * (1 - 1e-9))
    first = math.ceil(low / step - 1e-9)
    values = [(first + i) * step for i in range(int((high - first * step) / step + 1e-9) + 1)]
    exponent = math.floor(math.log10(step) + 1e-9)
    decimals = max(0, -exponent + (round(step / 10**exponent, 6) == 2.5))
    biggest = max(abs(low), abs(high))
    if biggest >= 1e6 or step < 1e-4:
        return [(v, f"{v:.3g}") for v in values]
    return [(v, _zero_unsigned(f"{v:.{decimals}f}")) for v in values]


def _zero_unsigned(text: str) -> str:
    return text.lstrip("-") if float(text) == 0 else text


def _finite_runs(values: np.ndarray) -> list[tuple[int, int]]:
    """(start, stop) of the runs of finite values (a NaN breaks a line)."""
    finite = np.isfinite(values)
    if finite.all():
        return [(0, len(values))]
    edges = np.flatnonzero(np.diff(np.concatenate([[False], finite, [False]]).astype(np.int8)))
    return list(zip(edges[::2].tolist(), edges[1::2].tolist(), strict=True))


def _polygon(xs: np.ndarray, ys: np.ndarray) -> QPolygonF:
    """A QPolygonF of these points, filled through its buffer where the binding allows
    (PyQt), else point by point (100x slower, still correct)."""
    n = len(xs)
    polygon = QPolygonF()
    if hasattr(polygon, "fill"):
        polygon.fill(QPointF(), n)
        buffer = polygon.data()
        if buffer is not None and hasattr(buffer, "setsize"):
            buffer.setsize(16 * n)
            points = np.frombuffer(buffer, dtype=np.float64).reshape(n, 2)
            points[:, 0] = xs
            points[:, 1] = ys
            return polygon
    return QPolygonF([QPointF(x, y) for x, y in zip(xs.tolist(), ys.tolist(), strict=True)])
