"""The ROI table of the "ROI masks" dock: a Qt model over the RoiModel's rows, and its view.

The rows shown, and their order, are a :class:`~napari_roimasks.model.triage.TriageView`'s:
a click on a column's header sorts by it, the dock's filters choose the rows, and the
keyboard's next and previous follow what the table shows.

A triage step repaints rows: Qt asks each cell's text, colours and alignment (seven
questions a cell), so a row's cells are worked out once and kept until the row changes;
and the view scrolls by moving what it shows (see :meth:`RoiTable.paintEvent`) rather than
painting every row again.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from qtpy.QtCore import QAbstractTableModel, QModelIndex, Qt
from qtpy.QtGui import QBrush, QColor, QFontMetrics, QPainter
from qtpy.QtWidgets import QAbstractItemView, QHeaderView, QTableView

from ..core.exclusions import EXCLUSION_TEXT
from ..core.metrics import METRICS
from ..io.roi_set import Decision
from ..model import RoiSummary
from ..model.quality import METRIC_TITLES
from ..model.triage import TriageView

#: (title, the TriageView column it sorts by, tooltip)
COLUMN_SPECS = (
    ("ROI", "key", "The ROI's label (Labels layer) or shape number (Shapes layer)"),
    ("decision", "decision", "The curator's decision: cell, not cell, or none yet (unlabeled)"),
    (
        "suggested",
        "suggestion",
        "What the ROI quality dock's rules and classifier suggest, with the classifier's "
        "probability; the tooltip says why. Q takes it, Shift+Q takes every one shown",
    ),
    (
        "p(cell)",
        "probability",
        "A classifier's probability that the ROI is a cell (e.g. suite2p's)",
    ),
    ("area", "area", "ROI pixels"),
    ("ring", "ring_pixels", "Neuropil ring pixels, inside the usable area"),
    *(
        (METRIC_TITLES[name][0], name, METRIC_TITLES[name][1])
        for name in METRICS
        if name != "area"  # the area column's
    ),
    (
        "trace",
        "trace",
        "Extracted traces: ✓ current, 'stale' when the ROI or its ring changed since (Extract again)",
    ),
    ("exclusions", "exclusions", "Why AllenSDK would give this ROI's trace as NaN"),
    ("reason", "reason", "Why, in the curator's words"),
    (
        "origin",
        "origin",
        "The ROIs merged into it (Shift+M), or the ROI it was split from (Shift+S)",
    ),
)
COLUMNS = tuple(title for title, _, _ in COLUMN_SPECS)
COLUMN_TIPS = tuple(tip for _, _, tip in COLUMN_SPECS)
_DECISION_COLUMN = COLUMNS.index("decision")
_SUGGESTION_COLUMN = COLUMNS.index("suggested")
_REASON_COLUMN = COLUMNS.index("reason")
#: column -> the metric it shows
_METRIC_COLUMNS = {
    i: sort_by for i, (_, sort_by, _) in enumerate(COLUMN_SPECS) if sort_by in METRICS
}
_NUMBERS = {COLUMNS.index(c) for c in ("p(cell)", "area", "ring")} | set(_METRIC_COLUMNS)

#: A translucent red that reads on napari's dark and light themes alike.
FLAGGED = QBrush(QColor(220, 60, 60, 110))
#: The decision cell's colour (unlabeled: none) and text.
DECISION_BRUSHES = {
    Decision.CELL: QBrush(QColor(40, 170, 70, 200)),
    Decision.NOT_CELL: QBrush(QColor(120, 120, 120, 200)),
}
#: A suggestion that differs from the decision made (or awaits one), fainter than a decision.
SUGGESTION_BRUSHES = {
    Decision.CELL: QBrush(QColor(40, 170, 70, 80)),
    Decision.NOT_CELL: QBrush(QColor(120, 120, 120, 80)),
}
DECISION_TEXT = {Decision.CELL: "cell", Decision.NOT_CELL: "not cell", Decision.UNLABELED: ""}

_DISPLAY = Qt.ItemDataRole.DisplayRole
_BACKGROUND = Qt.ItemDataRole.BackgroundRole
_TOOLTIP = Qt.ItemDataRole.ToolTipRole
_ALIGNMENT = Qt.ItemDataRole.TextAlignmentRole
_RIGHT = int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)


class RoiTableModel(QAbstractTableModel):
    """The rows shown: key, decision, suggestion, probability, area, ring size, the quality
    metrics, trace, AllenSDK's exclusions, reason. The decision cell is coloured, a suggestion
    that differs from it faintly; excluded rows are tinted red.

    ``on_sort(column, descending)`` is called when the user asks for a sort (a header click).
    """

    def __init__(self, parent=None, on_sort: Callable[[str, bool], None] | None = None):
        super().__init__(parent)
        self._rows: list[RoiSummary] = []
        self._cells: list = []  # each row's cells (see _row_cells), once Qt asked for them
        self._row_of: dict = {}
        self._on_sort = on_sort

    # -- filling ------------------------------------------------------------------------------
    def set_rows(self, rows: list[RoiSummary]) -> None:
        """Replace every row."""
        self.beginResetModel()
        self._rows = list(rows)
        self._cells = [None] * len(self._rows)
        self._row_of = {row.key: i for i, row in enumerate(self._rows)}
        self.endResetModel()

    def update_rows(self, rows: list[RoiSummary]) -> bool:
        """Update rows in place; False (nothing done) when a key is not shown, so the caller resets."""
        if any(row.key not in self._row_of for row in rows):
            return False
        for row in rows:
            i = self._row_of[row.key]
            self._rows[i] = row
            self._cells[i] = None
            self.dataChanged.emit(self.index(i, 0), self.index(i, len(COLUMNS) - 1))
        return True

    def roi_keys(self) -> list:
        """The keys shown, top to bottom."""
        return [row.key for row in self._rows]

    def key_at(self, row: int):
        """The ROI on a row."""
        return self._rows[row].key

    def row_of(self, key) -> int | None:
        """The row an ROI is on (None: not shown)."""
        return self._row_of.get(key)

    def summary(self, row: int) -> RoiSummary:
        """The model's summary shown on a row."""
        return self._rows[row]

    # -- Qt -----------------------------------------------------------------------------------
    def rowCount(self, parent=QModelIndex()):  # noqa: B008 - Qt's signature
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent=QModelIndex()):  # noqa: B008
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):
        if orientation != Qt.Orientation.Horizontal:
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        if role == Qt.ItemDataRole.ToolTipRole:
            return COLUMN_TIPS[section] + " (click to sort)"
        return None

    def sort(self, column, order=Qt.SortOrder.AscendingOrder):
        if self._on_sort is not None and 0 <= column < len(COLUMNS):
            self._on_sort(COLUMN_SPECS[column][1], order == Qt.SortOrder.DescendingOrder)

    def data(self, index, role=_DISPLAY):
        if not index.isValid():
            return None
        if role == _TOOLTIP:
            return _tooltip(self._rows[index.row()], index.column())
        # a painted cell: text, colour and alignment (and four roles it has none of)
        row = index.row()
        cells = self._cells[row]
        if cells is None:
            cells = self._cells[row] = _row_cells(self._rows[row])
        return cells[index.column()].get(role)


def _row_cells(row: RoiSummary) -> tuple:
    """Each column's {role: value} for one row: its text, colour (if any), alignment."""
    cells = []
    for column in range(len(COLUMNS)):
        cell = {_DISPLAY: _cell_text(row, column)}
        if column == _DECISION_COLUMN:
            brush = DECISION_BRUSHES.get(row.decision)
        elif column == _SUGGESTION_COLUMN:
            brush = _suggestion_brush(row)
        else:
            brush = FLAGGED if row.excluded else None
        if brush is not None:
            cell[_BACKGROUND] = brush
        if column in _NUMBERS:
            cell[_ALIGNMENT] = _RIGHT
        cells.append(cell)
    return tuple(cells)


def _tooltip(row: RoiSummary, column: int) -> str | None:
    if column == _REASON_COLUMN and row.reason:
        return row.reason
    if column == _SUGGESTION_COLUMN and row.suggestion is not None:
        return row.suggestion.reason
    if row.excluded:
        return "AllenSDK excludes this ROI: " + ", ".join(row.exclusions)
    return None


def _suggestion_brush(row: RoiSummary):
    """The suggested decision's colour, faint; none when it agrees with the decision made."""
    suggestion = row.suggestion
    if suggestion is None or suggestion.decision is row.decision:
        return None
    return SUGGESTION_BRUSHES[suggestion.decision]


def _cell_text(row: RoiSummary, column: int) -> str:
    metric = _METRIC_COLUMNS.get(column)
    if metric is not None:
        value = row.metrics.get(metric, math.nan)
        return "" if not math.isfinite(value) else f"{value:.3g}"
    title = COLUMNS[column]
    if title == "suggested":
        suggestion = row.suggestion
        if suggestion is None:
            return ""
        text = DECISION_TEXT[suggestion.decision]
        p = suggestion.probability
        return f"{text} {p:.2f}" if math.isfinite(p) else text
    if title == "ROI":
        return str(row.key)
    if title == "decision":
        return DECISION_TEXT[row.decision]
    if title == "p(cell)":
        return "" if row.probability is None else f"{row.probability:.2f}"
    if title == "area":
        return str(row.area)
    if title == "ring":
        return str(row.ring_pixels)
    if title == "trace":
        return {"current": "✓", "stale": "stale"}.get(row.trace, "")
    if title == "exclusions":
        return ", ".join(EXCLUSION_TEXT[e] for e in row.exclusions)
    if title == "origin":
        return row.origin
    return row.reason


class RoiTable(QTableView):
    """The ROI table: read-only rows in the :attr:`view`'s order; a header click sorts;
    ctrl/shift-clicks select several rows, which become the model's selection.

    Parameters
    ----------
    model : RoiModel
    on_roi_clicked : callable(key)
        Called when the user clicks a row.
    """

    def __init__(self, model, on_roi_clicked):
        super().__init__()
        self.model_of_rois = model
        self.view = TriageView()
        self.rows = RoiTableModel(self, on_sort=self.sort_rows)
        self._resetting = False
        self.setModel(self.rows)
        # the viewport paints its own background (see paintEvent), so Qt scrolls it by moving
        # its picture and paints only the rows that came into view
        self.viewport().setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.verticalHeader().setVisible(False)
        # rows as tall as their text needs (the style's 30 px would leave the dock's settings
        # two rows at the default window size)
        row = QFontMetrics(self.font()).height() + 6
        self.verticalHeader().setMinimumSectionSize(row)
        self.verticalHeader().setDefaultSectionSize(row)
        header = self.horizontalHeader()
        # sized once per reset (see _fit_columns): sizing every row on every change costs a
        # triage step more than the rest of it
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(True)
        header.setSortIndicator(0, Qt.SortOrder.AscendingOrder)
        self.setSortingEnabled(True)
        self.clicked.connect(lambda index: on_roi_clicked(self.rows.key_at(index.row())))
        self.selectionModel().selectionChanged.connect(self._on_selection)

    #: rows always in view, however short the dock (see :meth:`minimumSizeHint`)
    rows_in_view = 0

    def minimumSizeHint(self):
        """Room for :attr:`rows_in_view` whole rows, under the header and above a horizontal
        scroll bar (asked at layout time, when the style has sized them)."""
        hint = super().minimumSizeHint()
        header = self.horizontalHeader()
        height = (
            self.rows_in_view * self.verticalHeader().defaultSectionSize()
            + max(header.height() if header.isVisible() else 0, header.sizeHint().height())
            + self.horizontalScrollBar().sizeHint().height()
            + 2 * self.frameWidth()
        )
        hint.setHeight(max(hint.height(), height))
        return hint

    def paintEvent(self, event) -> None:
        """The viewport's background, then the rows over it.

        napari's style sheet leaves the viewport transparent (the table's own background
        shows through it), and Qt scrolls a transparent widget by painting all of it again:
        every triage step that scrolls by a row would repaint every row. Painted here, the
        same colour (the style sheet's, which Qt puts in the viewport's palette) lets the
        viewport be opaque.
        """
        viewport = self.viewport()
        painter = QPainter(viewport)
        painter.fillRect(event.rect(), viewport.palette().brush(viewport.backgroundRole()))
        painter.end()
        super().paintEvent(event)

    # -- what is shown ------------------------------------------------------------------------
    def show_rows(self, keys=None, rows: list[RoiSummary] | None = None) -> None:
        """Show the model's rows (``rows``, default all of them) through the view's sort and
        filter; only ``keys`` changed (None: any may have), so when the order holds only their
        rows are redrawn."""
        self.view.set_rows(self.model_of_rois.rows() if rows is None else rows)
        shown = self.view.keys
        if keys is not None and shown == self.rows.roi_keys():
            self.update_keys(keys)
        else:  # a few ROIs came or went (an edit, a merge): the columns keep their widths
            rows = [self.model_of_rois.summary(k) for k in shown]
            self._reset(rows, fit=keys is None or not self.rows.rowCount())

    def update_keys(self, keys) -> None:
        """Update the rows of ``keys`` from the model (those shown)."""
        shown = [k for k in keys if self.rows.row_of(k) is not None]
        self.rows.update_rows([self.model_of_rois.summary(k) for k in shown])

    def sort_rows(self, column: str, descending: bool = False) -> None:
        """Sort by a :data:`~napari_roimasks.model.triage.SORT_COLUMNS` column (a header click)."""
        self.view.sort(column, descending=descending)
        section = next(i for i, spec in enumerate(COLUMN_SPECS) if spec[1] == column)
        order = Qt.SortOrder.DescendingOrder if descending else Qt.SortOrder.AscendingOrder
        header = self.horizontalHeader()
        if (header.sortIndicatorSection(), header.sortIndicatorOrder()) != (section, order):
            header.blockSignals(True)  # the indicator follows; it does not sort again
            header.setSortIndicator(section, order)
            header.blockSignals(False)
        self._reset([self.model_of_rois.summary(k) for k in self.view.keys])

    def set_filter(self, *, decisions=..., text: str | None = None) -> None:
        """Show only these decisions (None: all) and rows holding ``text``; omitted: unchanged."""
        self.view.set_filter(decisions=decisions, text=text)
        self._reset([self.model_of_rois.summary(k) for k in self.view.keys])

    def _reset(self, rows: list[RoiSummary], *, fit: bool = True) -> None:
        """Show ``rows``, keeping the model's selection selected (a reset is not a choice);
        ``fit``: the columns as wide as the rows on screen need."""
        self._resetting = True
        try:
            self.rows.set_rows(rows)
            if fit:
                self._fit_columns()
            selection = [self.rows.row_of(k) for k in self.model_of_rois.selection]
            for row in selection:
                if row is not None:
                    self.selectionModel().select(
                        self.rows.index(row, 0),
                        self.selectionModel().SelectionFlag.Select
                        | self.selectionModel().SelectionFlag.Rows,
                    )
        finally:
            self._resetting = False
        current = next((r for r in selection if r is not None), None)
        if current is not None:
            self.scrollTo(self.rows.index(current, 0))

    def _fit_columns(self) -> None:
        """Columns as wide as the rows on screen need (not every row: 1000 ROIs cost 100 ms)."""
        header = self.horizontalHeader()
        header.setResizeContentsPrecision(50)
        self.resizeColumnsToContents()

    # -- selection ----------------------------------------------------------------------------
    def select_key(self, key) -> None:
        """Select the row of an ROI (when not already selected) and scroll to it."""
        row = self.rows.row_of(key)
        if row is None:
            return
        if not self.selectionModel().isRowSelected(row, QModelIndex()):
            self.selectRow(row)
        self.scrollTo(self.rows.index(row, 0))

    def _on_selection(self, *_) -> None:
        if self._resetting:
            return
        rows = sorted({index.row() for index in self.selectionModel().selectedRows()})
        self.model_of_rois.set_selection([self.rows.key_at(r) for r in rows])
