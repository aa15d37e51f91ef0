"""A scroll area for a column of controls that never shows a control cut in half.

A dock's settings scroll when the dock is short; a plain scroll area then shows
the last control it reaches cut through (a spin box without its lower half, a
button's top edge). :class:`RowsScrollArea` shows whole rows only: its view
ends below the last row that fits (the rest of it stays empty), and scrolling
stops at the top of a row.
"""

from __future__ import annotations

from qtpy.QtCore import QEvent, Qt
from qtpy.QtWidgets import QFrame, QScrollArea


class RowsScrollArea(QScrollArea):
    """Scrolls ``content`` (a widget whose layout stacks rows) by whole rows.

    Parameters
    ----------
    content : QWidget
        Its layout's widgets are the rows.
    """

    def __init__(self, content, parent=None):
        super().__init__(parent)
        self.setWidget(content)
        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self._cut = 0  # pixels left empty below the last whole row
        content.installEventFilter(self)  # rows shown, hidden or resized
        self.verticalScrollBar().valueChanged.connect(self._snap)

    def row_spans(self) -> list[tuple[int, int]]:
        """(top, bottom) of each shown row, in the content's coordinates, top to bottom."""
        layout = self.widget().layout()
        rows = (layout.itemAt(i).widget() for i in range(layout.count()))
        return sorted(
            (w.geometry().top(), w.geometry().bottom() + 1)
            for w in rows
            if w is not None and not w.isHidden()
        )

    def visible_rows(self) -> list[tuple[int, int]]:
        """The rows in view (whole), in the view's coordinates."""
        top = self.verticalScrollBar().value()
        height = self.viewport().height()
        return [(a - top, b - top) for a, b in self.row_spans() if a >= top and b - top <= height]

    # -- keeping rows whole -------------------------------------------------------------------
    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._fit()

    def eventFilter(self, watched, event) -> bool:
        if watched is self.widget() and event.type() in (QEvent.Type.Resize, QEvent.Type.Show):
            self._fit()
        return False

    def _snap(self, value: int) -> None:
        """Scrolled: start at a row's top (the nearest), then end below a whole row."""
        tops = [a for a, _ in self.row_spans() if a <= self.verticalScrollBar().maximum()]
        if tops:
            nearest = min(tops, key=lambda top: abs(top - value))
            if nearest != value and value != self.verticalScrollBar().maximum():
                self.verticalScrollBar().setValue(nearest)  # calls back, then fits
                return
        self._fit()

    def _fit(self) -> None:
        """Leave empty the part of the view below the last whole row."""
        spans = self.row_spans()
        if not spans:
            return
        top = self.verticalScrollBar().value()
        height = self.viewport().height() + self._cut  # all the room there is
        bottoms = [b - top for a, b in spans if a >= top and b - top <= height]
        cut = height - max(bottoms) if bottoms else 0
        if spans[-1][1] - top <= height:
            cut = 0  # everything below is in view: nothing is cut
        if cut != self._cut:
            self._cut = cut
            self.setViewportMargins(0, 0, 0, cut)
