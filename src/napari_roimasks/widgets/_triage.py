"""Keyboard triage in the "ROI masks" dock: decide ROIs, move through the table, undo.

:class:`TriageControls` builds the dock's curation controls (decision and text
filters, the counts, the current ROI's reason, Undo/Redo, what happens after a
decision, how not-cells look) and binds the single-key shortcuts on the viewer,
so they work whichever layer is active. Everything it does is a call to the
:class:`~napari_roimasks.model.RoiModel` (``decide``, ``set_reason``,
``undo_decision``, ``redo_decision``) or a move in the table's
:class:`~napari_roimasks.model.triage.TriageView`; it redraws on the model's
``decisions_changed`` and ``selection_changed``.
"""

from __future__ import annotations

from collections.abc import Callable

from qtpy.QtWidgets import (
    QComboBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QWidget,
)

from ..io.roi_set import Decision
from ..model.triage import AfterDecision, decision_counts
from ._decision_colours import NOT_CELL_STYLES, DecisionColours
from ._napari import keybinding
from ._repair_tools import RepairTools

#: The shortcuts, bound on the viewer: (key, what it does). Single keys napari binds in no
#: layer (see ``napari.utils.shortcuts.default_shortcuts``), and Alt+Z apart from napari's
#: own Ctrl+Z (paint undo).
SHORTCUTS = (
    ("G", "cell (good)"),
    ("N", "not cell"),
    ("U", "unlabeled"),
    ("J", "next ROI"),
    ("K", "previous ROI"),
    ("Q", "take the selected ROI's suggestion"),
    ("Shift+Q", "take every suggestion the table shows (unlabeled ROIs)"),
    ("Shift+M", "merge the selected ROIs"),
    ("Shift+S", "split the selected ROI (into its pieces, or along a line you draw)"),
    ("Alt+Z", "undo decision"),
    ("Alt+Shift+Z", "redo decision"),
)
#: The keys in two lines of the dock (each key's whole text is in the tooltip).
SHORTCUTS_TEXT = (
    "Keys: G cell, N not cell, U unlabeled, J/K next/previous, Q suggestion (Shift: all), "
    "Shift+M merge, Shift+S split, Alt+Z undo"
)

_NOT_CELLS_TIP = (
    "How ROIs decided 'not cell' look in the ROI layer (and their rings): as they are, grey, "
    "or hidden (a Labels layer's label colours, a Shapes layer's face and edge colours). The "
    "layer's data never changes, and its own colours come back with 'shown'."
)
_FILTERS = {
    "all ROIs": None,
    "cells": {Decision.CELL},
    "not cells": {Decision.NOT_CELL},
    "unlabeled": {Decision.UNLABELED},
}
_AFTER = {
    "advance to the next unlabeled": AfterDecision.ADVANCE_TO_NEXT_UNLABELED,
    "stay": AfterDecision.STAY,
}


class TriageControls(QWidget):
    """The dock's curation controls and keyboard shortcuts.

    Parameters
    ----------
    viewer : napari.Viewer
        The shortcuts are bound on it (and unbound by :meth:`teardown`).
    model : RoiModel
    table : RoiTable
        Its :attr:`~RoiTable.view` is the order next and previous follow.
    select_roi : callable(key)
        Moves to an ROI: selects its row and layer label, centres the view (the dock's).
    source : callable() -> layer or None
        The ROI layer being curated (coloured by decision).
    recoloured : callable(layer), optional
        Called when the ROI layer's colours changed (see :class:`DecisionColours`).
    link : RoiLayerLink, optional
        The ROI layer's link to the model (merge and split write a Shapes layer through it).
    """

    def __init__(
        self,
        viewer,
        model,
        table,
        select_roi: Callable,
        source: Callable,
        *,
        recoloured=None,
        link=None,
    ):
        super().__init__()
        self.viewer = viewer
        self.model = model
        self.table = table
        self._select_roi = select_roi
        self.colours = DecisionColours(model, source, recoloured)
        self.repairs = RepairTools(
            viewer, model, source, select_roi, colours=self.colours, link=link
        )

        self.filter_box = QComboBox()
        self.filter_box.addItems(list(_FILTERS))
        self.filter_box.setToolTip("Show only the ROIs with this decision")
        self.text_filter = QLineEdit()
        self.text_filter.setPlaceholderText("filter: ROI, reason, exclusion")
        self.text_filter.setClearButtonEnabled(True)
        self.text_filter.setToolTip("Show only the ROIs whose id, reason or exclusions hold this")
        self.counts = QLabel()
        self.reason = QLineEdit()
        self.reason.setPlaceholderText("reason for the selected ROI (Enter)")
        self.reason.setToolTip("Why you decided so: Enter gives it to the selected ROIs")
        self.undo_button = QPushButton("Undo")
        self.redo_button = QPushButton("Redo")
        self.after_box = QComboBox()
        self.after_box.addItems(list(_AFTER))
        self.after_box.setToolTip(
            "After a decision, go on to the next unlabeled ROI in the table's order (triage), "
            "or stay on the ROI just decided (review)"
        )
        self.not_cells_box = QComboBox()
        self.not_cells_box.addItems(list(NOT_CELL_STYLES))
        self.not_cells_box.setToolTip(_NOT_CELLS_TIP)
        self.keys_label = QLabel(SHORTCUTS_TEXT)
        self.keys_label.setWordWrap(True)
        self.keys_label.setToolTip(
            "Keys in the viewer, whichever layer is active:\n"
            + "\n".join(f"{key}: {what}" for key, what in SHORTCUTS)
            + "\nNext and previous follow the table's sort and filter. Ctrl+Z stays napari's "
            "paint undo (it also undoes a merge or split)."
        )
        self._layout()

        self.filter_box.currentTextChanged.connect(self._on_filter)
        self.text_filter.textChanged.connect(self._on_filter)
        self.reason.returnPressed.connect(self.apply_reason)
        self.undo_button.clicked.connect(self.undo)
        self.redo_button.clicked.connect(self.redo)
        self.not_cells_box.currentTextChanged.connect(self.colours.set_style)
        self._connections = [
            (model.decisions_changed, self._on_decisions_changed),
            (model.selection_changed, self._on_selection),
        ]
        for signal, callback in self._connections:
            signal.connect(callback)
        self._bound = self._bind_keys()
        self.show_state()

    def _layout(self) -> None:
        grid = QGridLayout(self)
        grid.setContentsMargins(4, 2, 4, 2)
        grid.setVerticalSpacing(2)
        show = QHBoxLayout()
        show.addWidget(self.filter_box)
        show.addWidget(self.text_filter, stretch=1)
        grid.addWidget(QLabel("Show"), 0, 0)
        grid.addLayout(show, 0, 1)
        grid.addWidget(QLabel("Reason"), 1, 0)
        grid.addWidget(self.reason, 1, 1)
        then = QHBoxLayout()
        then.addWidget(self.after_box, stretch=1)
        then.addWidget(self.undo_button)
        then.addWidget(self.redo_button)
        grid.addWidget(QLabel("Then"), 2, 0)
        grid.addLayout(then, 2, 1)
        grid.addWidget(QLabel("Not cells"), 3, 0)
        grid.addWidget(self.not_cells_box, 3, 1)
        grid.addWidget(self.keys_label, 4, 0, 1, 2)
        grid.addWidget(self.counts, 5, 0, 1, 2)

    # -- shortcuts ----------------------------------------------------------------------------
    def _bind_keys(self) -> list:
        actions = {
            "G": lambda: self.decide(Decision.CELL),
            "N": lambda: self.decide(Decision.NOT_CELL),
            "U": lambda: self.decide(Decision.UNLABELED),
            "J": self.next_roi,
            "K": self.previous_roi,
            "Q": self.take_suggestion,
            "Shift+Q": self.take_shown_suggestions,
            "Shift+M": self.repairs.merge,
            "Shift+S": self.split,
            "Alt+Z": self.undo,
            "Alt+Shift+Z": self.redo,
        }
        bound = []
        for key, action in actions.items():

            def on_key(viewer, action=action):  # napari passes the viewer
                action()

            previous = self.viewer.bind_key(key, on_key, overwrite=True)
            bound.append((key, on_key, previous))
        return bound

    def _unbind_keys(self) -> None:
        for key, on_key, previous in self._bound:
            if self.viewer.keymap.get(keybinding(key)) is on_key:  # still ours
                self.viewer.bind_key(key, previous, overwrite=True)
        self._bound = []

    # -- what the keys and buttons do -----------------------------------------------------------
    @property
    def after_decision(self) -> AfterDecision:
        """Where the cursor goes after a decision (the dock's option)."""
        return _AFTER[self.after_box.currentText()]

    def _current(self):
        """The selected ROI lowest in the table (decisions advance from there), or None."""
        view = self.table.view
        shown = [k for k in self.model.selection if k in view]
        if shown:
            return max(shown, key=view.row_index)
        return self.model.selection[-1] if self.model.selection else None

    def _selected_rois(self) -> list:
        present = set(self.model.roi_keys())
        return [k for k in self.model.selection if k in present]

    def decide(self, decision: Decision) -> None:
        """Decide the selected ROIs, then stay or go on (see :attr:`after_decision`)."""
        keys = self._selected_rois()
        if not keys:
            self.viewer.status = "Select an ROI first (J: the first one in the table)"
            return
        view = self.table.view
        place = view.place(self._current())
        self.model.decide(keys, decision)  # the table redraws on decisions_changed
        target = view.after_decision(place, self.after_decision)
        if len(keys) == 1 or target != place.key or place.key not in view:
            self.move_to(target)

    def take_suggestion(self) -> None:
        """Make the selected ROIs' suggestions (the ROI quality dock's rules and classifier)
        their decisions, as the curator's own (one undo step), then stay or go on."""
        keys = self._selected_rois()
        if not keys:
            self.viewer.status = "Select an ROI first (J: the first one in the table)"
            return
        if all(self.model.summary(k).suggestion is None for k in keys):
            self.viewer.status = (
                "No suggestion: set a rule or train the classifier in the ROI quality dock"
            )
            return
        view = self.table.view
        place = view.place(self._current())
        self.model.accept_suggestions(keys, overrule=True)  # this ROI, chosen by the curator
        target = view.after_decision(place, self.after_decision)
        if len(keys) == 1 or target != place.key or place.key not in view:
            self.move_to(target)

    def take_shown_suggestions(self) -> None:
        """Make the suggestions of every unlabeled ROI the table shows their decisions (one
        undo step); an ROI already decided keeps its decision."""
        keys = self.table.view.keys
        changed = self.model.accept_suggestions(keys)
        self.viewer.status = (
            f"Took {len(changed)} suggestions (Alt+Z undoes them); decided ROIs kept theirs"
            if changed
            else "No unlabeled ROI shown has a suggestion"
        )

    def split(self) -> None:
        """Split the selected ROI (Shift+S); pressed while a cut line is awaited, cancel it."""
        if self.repairs.waiting_for_line:
            self.repairs.cancel_line()
            self.viewer.status = "Not split"
        else:
            self.repairs.split()

    def next_roi(self) -> None:
        """Move to the ROI after the current one in the table (stays at the last)."""
        self.move_to(self.table.view.next_roi(self._current()), keep=self._current())

    def previous_roi(self) -> None:
        """Move to the ROI before the current one in the table (stays at the first)."""
        self.move_to(self.table.view.previous_roi(self._current()), keep=self._current())

    def move_to(self, key, keep=None) -> None:
        """Select ``key`` (None: ``keep``, e.g. at the table's end), its row and its traces."""
        key = keep if key is None else key
        if key is not None:
            self._select_roi(key)

    def undo(self) -> None:
        """Undo the last decision step and show its ROI."""
        self._show_changed(self.model.undo_decision())

    def redo(self) -> None:
        """Redo the last undone decision step and show its ROI."""
        self._show_changed(self.model.redo_decision())

    def _show_changed(self, keys) -> None:
        shown = [k for k in keys if k in self.table.view]
        if len(keys) == 1 and shown:
            self.move_to(shown[0])

    def apply_reason(self) -> None:
        """Give the selected ROIs the reason typed (one undo step)."""
        keys = self._selected_rois()
        if keys:
            self.model.set_reason(keys, self.reason.text().strip())

    # -- drawing ------------------------------------------------------------------------------
    def _on_filter(self, *_) -> None:
        self.table.set_filter(
            decisions=_FILTERS[self.filter_box.currentText()], text=self.text_filter.text()
        )
        self.show_counts()

    def _on_decisions_changed(self, keys) -> None:
        self.table.show_rows(keys)
        self.colours.redraw(keys)
        self.show_state()

    def _on_selection(self, keys) -> None:
        self.show_reason()

    def rois_changed(self, keys) -> None:
        """The dock's ROIs changed (the table has redrawn): counts and colours follow."""
        self.colours.redraw(keys)
        self.not_cells_box.setEnabled(self.colours.supported)
        self.not_cells_box.setToolTip(
            _NOT_CELLS_TIP if self.colours.supported else "Choose an ROI layer first"
        )
        self.show_state()

    def show_state(self) -> None:
        """Counts, the current ROI's reason, and Undo/Redo with what they would do."""
        self.show_counts()
        self.show_reason()
        decisions = self.model.decisions
        for button, can, text, nothing in (
            (self.undo_button, decisions.can_undo, decisions.undo_text, "No decision to undo"),
            (self.redo_button, decisions.can_redo, decisions.redo_text, "No decision to redo"),
        ):
            button.setEnabled(can)
            key = "Alt+Z" if button is self.undo_button else "Alt+Shift+Z"
            button.setToolTip(f"{text} ({key})" if can else nothing)

    def show_counts(self) -> None:
        """'40 ROIs: 12 cell, 5 not cell, 23 unlabeled' (and how many the filter shows)."""
        rows = self.model.rows()
        counts = decision_counts(rows)
        text = (
            f"{len(rows)} ROIs: {counts[Decision.CELL]} cell, {counts[Decision.NOT_CELL]} not "
            f"cell, {counts[Decision.UNLABELED]} unlabeled"
        )
        if len(self.table.view) != len(rows):
            text += f" ({len(self.table.view)} shown)"
        self.counts.setText(text)

    def show_reason(self) -> None:
        """The selected ROI's reason in the reason field (unless the user is typing there)."""
        if self.reason.hasFocus():
            return
        reasons = {
            self.model.summary(k).reason for k in self.model.selection if k in self.table.view
        }
        self.reason.setText(next(iter(reasons)) if len(reasons) == 1 else "")
        self.reason.setEnabled(bool(self.model.selection))

    # -- closing ------------------------------------------------------------------------------
    def teardown(self) -> None:
        """Unbind the shortcuts, disconnect from the model, give the layer its colours back."""
        self._unbind_keys()
        self.repairs.cancel_line()
        for signal, callback in self._connections:
            signal.disconnect(callback)
        self._connections = []
        self.colours.restore()
