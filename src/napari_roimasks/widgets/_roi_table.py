"""The ROI table of the "ROI masks" dock: a Qt model over the RoiModel's rows, and its view."""

from __future__ import annotations

from qtpy.QtCore import QAbstractTableModel, QModelIndex, Qt
from qtpy.QtGui import QBrush, QColor
from qtpy.QtWidgets import QAbstractItemView, QHeaderView, QTableView

from ..core.exclusions import EXCLUSION_TEXT
from ..model import RoiSummary

COLUMNS = ("ROI", "area", "ring", "trace", "exclusions")
COLUMN_TIPS = (
    "The ROI's label (Labels layer) or shape number (Shapes layer)",
    "ROI pixels",
    "Neuropil ring pixels, inside the usable area",
    "Extracted traces: ✓ current, 'stale' when the ROI or its ring changed since (Extract again)",
    "Why AllenSDK would give this ROI's trace as NaN",
)
#: A translucent red that reads on napari's dark and light themes alike.
FLAGGED = QBrush(QColor(220, 60, 60, 110))


class RoiTableModel(QAbstractTableModel):
    """One row per ROI: key, area, ring size and AllenSDK's exclusions; excluded rows tinted."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self._rows: list[RoiSummary] = []
        self._row_of: dict = {}

    # -- filling ------------------------------------------------------------------------------
    def set_rows(self, rows: list[RoiSummary]) -> None:
        """Replace every row."""
        self.beginResetModel()
        self._rows = list(rows)
        self._row_of = {row.key: i for i, row in enumerate(self._rows)}
        self.endResetModel()

    def update_rows(self, rows: list[RoiSummary]) -> bool:
        """Update rows in place; False (nothing done) when a key is new, so the caller resets."""
        if any(row.key not in self._row_of for row in rows):
            return False
        for row in rows:
            i = self._row_of[row.key]
            self._rows[i] = row
            self.dataChanged.emit(self.index(i, 0), self.index(i, len(COLUMNS) - 1))
        return True

    def roi_keys(self) -> list:
        return [row.key for row in self._rows]

    def key_at(self, row: int):
        return self._rows[row].key

    def row_of(self, key) -> int | None:
        return self._row_of.get(key)

    def summary(self, row: int) -> RoiSummary:
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
            return COLUMN_TIPS[section]
        return None

    def data(self, index, role=Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        row = self._rows[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return (
                str(row.key),
                str(row.area),
                str(row.ring_pixels),
                {"current": "✓", "stale": "stale"}.get(row.trace, ""),
                ", ".join(EXCLUSION_TEXT[e] for e in row.exclusions),
            )[index.column()]
        if role == Qt.ItemDataRole.BackgroundRole and row.excluded:
            return FLAGGED
        if role == Qt.ItemDataRole.ToolTipRole and row.excluded:
            return "AllenSDK excludes this ROI: " + ", ".join(row.exclusions)
        if role == Qt.ItemDataRole.TextAlignmentRole and 0 < index.column() < 3:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None


class RoiTable(QTableView):
    """The ROI table: read-only rows; ctrl/shift-clicks select several, which become the
    model's selection. ``roi_clicked(key)`` when the user clicks a row."""

    def __init__(self, model, on_roi_clicked):
        super().__init__()
        self.model_of_rois = model
        self.rows = RoiTableModel(self)
        self.setModel(self.rows)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.verticalHeader().setVisible(False)
        self.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.horizontalHeader().setStretchLastSection(True)
        self.clicked.connect(lambda index: on_roi_clicked(self.rows.key_at(index.row())))
        self.selectionModel().selectionChanged.connect(self._on_selection)

    def show_rows(self, keys, rows: list[RoiSummary]) -> None:
        """Show the model's rows: all of them (``keys`` None, or ROIs came or went), or update ``keys``."""
        if keys is None or self.rows.roi_keys() != [row.key for row in rows]:
            self.rows.set_rows(rows)
        else:
            self.update_keys(keys)

    def update_keys(self, keys) -> None:
        """Update the rows of ``keys`` from the model (those still shown)."""
        present = set(self.rows.roi_keys())
        self.rows.update_rows([self.model_of_rois.summary(k) for k in keys if k in present])

    def select_key(self, key) -> None:
        """Select the row of an ROI (when not already selected)."""
        row = self.rows.row_of(key)
        if row is not None and not self.selectionModel().isRowSelected(row, QModelIndex()):
            self.selectRow(row)

    def _on_selection(self, *_) -> None:
        rows = sorted({index.row() for index in self.selectionModel().selectedRows()})
        self.model_of_rois.set_selection([self.rows.key_at(r) for r in rows])
