"""The "ROI quality" dock: colour the ROIs by a metric, set threshold rules, train the classifier.

Thin, like the other docks: the metrics, rules, classifier and suggestions are the
viewer's :class:`~napari_roimasks.model.RoiModel`'s (``model.quality``); the
dock forwards what the curator sets and redraws on the model's events. The ROI
masks dock's table shows each metric (sortable) and each suggestion beside the
decision; its Q key takes the selected ROI's suggestion, Shift+Q every unlabeled
one the table shows (see :mod:`._triage`).

*Colour by* adds a Labels layer, "ROIs by <metric>", each ROI in its value's
colour (viridis, from the lowest value to the highest; grey: not known), with the
colour bar in the dock. The classifier is trained in a worker thread
(scikit-learn's first import takes a second) and exported as plain JSON.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from napari.qt.threading import create_worker
from napari.utils.notifications import show_info, show_warning
from qtpy.QtCore import Qt
from qtpy.QtGui import QColor, QLinearGradient, QPainter
from qtpy.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QSlider,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from ..core.classifier import MIN_PER_CLASS, CellClassifier, ClassifierError
from ..core.geometry import labels_from_masks
from ..core.metrics import METRICS
from ..io.atomic import write_atomically
from ..io.roi_set import Decision
from ..model import model_for
from ..model.quality import METRIC_TITLES
from ..model.suggestions import ThresholdRule
from ._napari import DockWidget, connect_all, disconnect_all, save_path, unwrap
from ._roi_overlays import OVERLAY_KEY

__all__ = ["COLOURMAP", "RoiQualityWidget"]

#: The colour map the ROIs are coloured by a metric with (napari's name).
COLOURMAP = "viridis"
#: An ROI whose metric is not known (no traces yet, no summary images).
UNKNOWN_COLOUR = (0.55, 0.55, 0.55, 0.6)
_NO_COLOUR = "none"
#: The longest classifier file read (a classifier is a few hundred bytes).
_MAX_CLASSIFIER_BYTES = 1 << 20
#: A new rule's bound: what a curator starts from (others: the metric's median).
_FIRST_RULES = {"snr": ("at least", 3.0), "compactness": ("at most", 1.5)}
_SLIDER_STEPS = 1000


def _title(metric: str) -> str:
    return METRIC_TITLES[metric][0]


class ColourBar(QWidget):
    """A horizontal colour bar: the colour map from its low value to its high value, labelled."""

    def __init__(self):
        super().__init__()
        self.colours: np.ndarray | None = None  # (n, 4) RGBA in 0..1
        self.low = self.high = math.nan
        self.title = ""
        self.setMinimumHeight(34)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)

    def show_range(self, title: str, low: float, high: float, colours: np.ndarray) -> None:
        self.title, self.low, self.high, self.colours = title, low, high, colours
        self.setToolTip(f"{title}: {low:.3g} (left) to {high:.3g} (right); grey: not known")
        self.update()

    def paintEvent(self, event) -> None:
        if self.colours is None:
            return
        painter = QPainter(self)
        bar = self.rect().adjusted(4, 2, -4, -self.fontMetrics().height() - 4)
        gradient = QLinearGradient(bar.left(), 0, bar.right(), 0)
        for i, (r, g, b, a) in enumerate(self.colours):
            gradient.setColorAt(i / (len(self.colours) - 1), QColor.fromRgbF(r, g, b, a))
        painter.fillRect(bar, gradient)
        text = self.rect().adjusted(4, bar.height() + 4, -4, 0)
        painter.setPen(self.palette().windowText().color())
        painter.drawText(text, Qt.AlignmentFlag.AlignLeft, _number(self.low))
        painter.drawText(text, Qt.AlignmentFlag.AlignHCenter, self.title)
        painter.drawText(text, Qt.AlignmentFlag.AlignRight, _number(self.high))
        painter.end()


class RuleRow(QWidget):
    """One threshold rule: a metric, at least or at most, and the bound (a slider over the
    ROIs' values, and a box to type it)."""

    def __init__(self, metric: str, side: str, bound: float, on_change, on_remove):
        super().__init__()
        self._on_change = on_change
        self.metric_box = QComboBox()
        for name in METRICS:
            self.metric_box.addItem(_title(name), name)
        self.metric_box.setCurrentIndex(METRICS.index(metric))
        self.metric_box.setToolTip("The metric a cell must meet the bound on")
        self.side_box = QComboBox()
        self.side_box.addItems(["at least", "at most"])
        self.side_box.setCurrentText(side)
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(0, _SLIDER_STEPS)
        self.slider.setToolTip("The bound, between the lowest and the highest value of the ROIs")
        self.value_box = QDoubleSpinBox()
        self.value_box.setDecimals(3)
        self.value_box.setRange(-1e9, 1e9)
        self.value_box.setValue(bound)
        self.value_box.setKeyboardTracking(False)
        self.remove = QToolButton()
        self.remove.setText("✕")
        self.remove.setToolTip("Remove this rule")
        layout = QGridLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setVerticalSpacing(0)
        layout.addWidget(self.metric_box, 0, 0)
        layout.addWidget(self.side_box, 0, 1)
        layout.addWidget(self.remove, 0, 2)
        layout.addWidget(self.slider, 1, 0)
        layout.addWidget(self.value_box, 1, 1, 1, 2)
        layout.setColumnStretch(0, 1)
        self._low, self._high = 0.0, 1.0
        self.metric_box.currentIndexChanged.connect(lambda _: on_change(self, metric=True))
        self.side_box.currentIndexChanged.connect(lambda _: on_change(self))
        self.value_box.valueChanged.connect(self._typed)
        self.slider.valueChanged.connect(self._slid)
        self.remove.clicked.connect(lambda: on_remove(self))

    @property
    def metric(self) -> str:
        return self.metric_box.currentData()

    def rule(self) -> ThresholdRule:
        bound = float(self.value_box.value())
        if self.side_box.currentText() == "at least":
            return ThresholdRule(self.metric, minimum=bound)
        return ThresholdRule(self.metric, maximum=bound)

    def set_range(self, low: float, high: float) -> None:
        """The slider's ends: the ROIs' lowest and highest value (the bound is kept)."""
        if not (math.isfinite(low) and math.isfinite(high)):
            low, high = 0.0, 1.0
        if high <= low:
            high = low + 1.0
        self._low, self._high = low, high
        self._place_slider()

    def _place_slider(self) -> None:
        value = self.value_box.value()
        position = round((value - self._low) / (self._high - self._low) * _SLIDER_STEPS)
        self.slider.blockSignals(True)
        self.slider.setValue(min(max(position, 0), _SLIDER_STEPS))
        self.slider.blockSignals(False)

    def _slid(self, position: int) -> None:
        value = self._low + (self._high - self._low) * position / _SLIDER_STEPS
        self.value_box.blockSignals(True)
        self.value_box.setValue(float(f"{value:.3g}"))
        self.value_box.blockSignals(False)
        self._on_change(self)

    def _typed(self, _value: float) -> None:
        self._place_slider()
        self._on_change(self)


class RoiQualityWidget(DockWidget):
    """Dock widget "ROI quality"."""

    #: beside the Traces dock: the ROI masks dock keeps its height for the table, whose
    #: columns show what this dock sets, and the window its height
    preferred_area = "bottom"

    def __init__(self, napari_viewer):
        super().__init__()
        self.viewer = napari_viewer
        self.model = model_for(unwrap(napari_viewer))
        self.metric_layer = None  # the "ROIs by <metric>" layer this dock added
        self._worker = None
        self._rules: list[RuleRow] = []

        self.colour_box = QComboBox()
        self.colour_box.addItem(_NO_COLOUR, None)
        for name in METRICS:
            self.colour_box.addItem(_title(name), name)
            self.colour_box.setItemData(
                self.colour_box.count() - 1, METRIC_TITLES[name][1], Qt.ItemDataRole.ToolTipRole
            )
        self.colour_box.setToolTip(
            "Colour every ROI by this metric, in a layer of its own (the ROI layer is not changed)"
        )
        self.colour_bar = ColourBar()
        self.colour_bar.setVisible(False)

        self.rules_area = QVBoxLayout()
        self.rules_area.setSpacing(4)
        self.add_rule_button = QPushButton("Add rule")
        self.add_rule_button.setToolTip(
            "An ROI that fails a rule is suggested 'not cell', with the rule it failed"
        )

        self.train_button = QPushButton("Train on my decisions")
        self.train_button.setToolTip(
            f"Logistic regression on the metrics of the ROIs you decided (at least {MIN_PER_CLASS} "
            "cells and as many not cells). It suggests; it never changes a decision"
        )
        self.load_button = QPushButton("Load…")
        self.load_button.setToolTip("Use a classifier exported from another recording (JSON)")
        self.export_button = QPushButton("Export…")
        self.export_button.setToolTip("Write the classifier as JSON: feature names and numbers")
        self.forget_button = QPushButton("Forget")
        self.forget_button.setToolTip("Stop suggesting with the classifier")
        self.classifier_label = QLabel()
        self.classifier_label.setWordWrap(True)

        self.suggestions_label = QLabel()
        self.suggestions_label.setWordWrap(True)
        self.why_label = QLabel()
        self.why_label.setWordWrap(True)
        self.why_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self._layout()

        self.colour_box.currentIndexChanged.connect(lambda _: self.draw_colours(rebuild=True))
        self.add_rule_button.clicked.connect(lambda: self.add_rule())
        self.train_button.clicked.connect(lambda: self.train())
        self.load_button.clicked.connect(lambda: self.load_classifier())
        self.export_button.clicked.connect(lambda: self.export_classifier())
        self.forget_button.clicked.connect(self.forget_classifier)
        self._connections = [
            (self.model.quality_changed, self._on_quality_changed),
            (self.model.rois_changed, self._on_rois_changed),
            (self.model.traces_changed, self._on_quality_changed),
            (self.model.decisions_changed, self._on_decisions_changed),
            (self.model.selection_changed, self._show_why),
            (self.viewer.layers.events.removed, self._on_layer_removed),
        ]
        connect_all(self._connections)
        self._show_rules_from_model()
        self.show_state()

    def _layout(self) -> None:
        # the controls scroll: under napari's layer controls and list, the dock never makes the
        # window taller than the screen
        content = QWidget()
        scroll = QScrollArea()
        scroll.setWidget(content)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(scroll)
        layout = QVBoxLayout(content)
        layout.setContentsMargins(4, 4, 4, 4)
        colour = QHBoxLayout()
        colour.addWidget(QLabel("Colour by"))
        colour.addWidget(self.colour_box, stretch=1)
        layout.addLayout(colour)
        layout.addWidget(self.colour_bar)
        layout.addWidget(_heading("Rules: a cell meets every one"))
        layout.addLayout(self.rules_area)
        layout.addWidget(self.add_rule_button)
        layout.addWidget(_heading("Classifier"))
        layout.addWidget(self.train_button)
        buttons = QHBoxLayout()
        buttons.addWidget(self.load_button)
        buttons.addWidget(self.export_button)
        buttons.addWidget(self.forget_button)
        layout.addLayout(buttons)
        layout.addWidget(self.classifier_label)
        layout.addWidget(_heading("Suggestions"))
        layout.addWidget(self.suggestions_label)
        layout.addWidget(self.why_label)
        layout.addStretch(1)
        # as wide as the controls need (they scroll up and down only)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setMinimumWidth(
            content.minimumSizeHint().width() + scroll.verticalScrollBar().sizeHint().width()
        )

    # -- colour by a metric ---------------------------------------------------------------------
    @property
    def colour_metric(self) -> str | None:
        """The metric the ROIs are coloured by (None: not coloured)."""
        return self.colour_box.currentData()

    def draw_colours(self, *, rebuild: bool = False) -> None:
        """Draw the "ROIs by <metric>" layer and the colour bar (``rebuild``: the ROIs changed)."""
        metric = self.colour_metric
        if metric is None or self.model.rings is None:
            self._remove_metric_layer()
            self.colour_bar.setVisible(False)
            return
        from napari.utils.colormaps import DirectLabelColormap, ensure_colormap

        keys = self.model.roi_keys()
        values = self.model.quality.values(metric, keys)
        known = values[np.isfinite(values)]
        low, high = (known.min(), known.max()) if known.size else (math.nan, math.nan)
        colourmap = ensure_colormap(COLOURMAP)
        scale = (values - low) / (high - low) if high > low else np.full(len(values), 0.5)
        colours = colourmap.map(np.nan_to_num(scale, nan=0.0))
        colours[~np.isfinite(values)] = UNKNOWN_COLOUR
        colour_dict = {None: (0.0, 0.0, 0.0, 0.0), 0: (0.0, 0.0, 0.0, 0.0)}
        colour_dict.update({i + 1: tuple(c) for i, c in enumerate(colours)})
        layer = self.metric_layer
        if layer is None or layer not in self.viewer.layers:
            rebuild = True
        if rebuild:
            masks = [self.model.roi(k) for k in keys]
            labels, _ = labels_from_masks(masks, self.model.image_shape)
            if layer is None or layer not in self.viewer.layers:
                active = self.viewer.layers.selection.active
                layer = self.viewer.add_labels(
                    labels,
                    name=self._layer_name(metric),
                    opacity=0.8,
                    metadata={OVERLAY_KEY: "ROIs by a metric"},  # never offered as ROIs
                )
                self.metric_layer = unwrap(layer)
                if active is not None:  # the ROI layer stays the one clicks and edits go to
                    self.viewer.layers.selection.active = active
            else:
                layer.data = labels
        layer = self.metric_layer
        layer.name = self._layer_name(metric)
        layer.colormap = DirectLabelColormap(color_dict=colour_dict)
        self.colour_bar.show_range(_title(metric), low, high, colourmap.colors)
        self.colour_bar.setVisible(True)

    def _layer_name(self, metric: str) -> str:
        return f"ROIs by {_title(metric)}"

    def _remove_metric_layer(self) -> None:
        layer, self.metric_layer = self.metric_layer, None
        if layer is not None and layer in self.viewer.layers:
            self.viewer.layers.remove(layer)

    def _on_layer_removed(self, event) -> None:
        if event.value is self.metric_layer:  # the curator removed it: colour by nothing
            self.metric_layer = None
            self.colour_box.blockSignals(True)
            self.colour_box.setCurrentIndex(0)
            self.colour_box.blockSignals(False)
            self.colour_bar.setVisible(False)

    # -- rules ------------------------------------------------------------------------------------
    def add_rule(self, metric: str = "snr", side: str | None = None, bound: float | None = None):
        """Add a threshold rule (default: the metric's usual bound, or its median) and suggest."""
        usual_side, usual_bound = _FIRST_RULES.get(metric, ("at least", None))
        side = side or usual_side
        if bound is None:
            bound = usual_bound if usual_bound is not None else self._median(metric)
        row = RuleRow(metric, side, bound, self._on_rule_changed, self._remove_rule)
        self._rules.append(row)
        self.rules_area.addWidget(row)
        self._fit_slider(row)
        self.apply_rules()
        return row

    def _median(self, metric: str) -> float:
        values = self.model.quality.values(metric)
        known = values[np.isfinite(values)]
        return float(f"{np.median(known):.3g}") if known.size else 0.0

    def _fit_slider(self, row: RuleRow) -> None:
        values = self.model.quality.values(row.metric)  # none without ROIs
        known = values[np.isfinite(values)]
        row.set_range(*((known.min(), known.max()) if known.size else (math.nan, math.nan)))

    def _on_rule_changed(self, row: RuleRow, *, metric: bool = False) -> None:
        if metric:
            self._fit_slider(row)
        self.apply_rules()

    def _remove_rule(self, row: RuleRow) -> None:
        self._rules.remove(row)
        self.rules_area.removeWidget(row)
        row.deleteLater()
        self.apply_rules()

    def apply_rules(self) -> None:
        """Give the model the rules the rows say (its suggestions follow)."""
        self.model.quality.set_rules([row.rule() for row in self._rules])

    def _show_rules_from_model(self) -> None:
        """Rows for the model's rules (e.g. a restored session's)."""
        wanted = self.model.quality.rules
        if tuple(row.rule() for row in self._rules) == wanted:
            return
        for row in list(self._rules):
            self._rules.remove(row)
            self.rules_area.removeWidget(row)
            row.deleteLater()
        for rule in wanted:
            side, bound = (
                ("at least", rule.minimum)
                if rule.minimum is not None
                else ("at most", rule.maximum)
            )
            row = RuleRow(rule.metric, side, bound, self._on_rule_changed, self._remove_rule)
            self._rules.append(row)
            self.rules_area.addWidget(row)
            self._fit_slider(row)

    # -- the classifier ---------------------------------------------------------------------------
    def train(self) -> bool:
        """Train the classifier on the decided ROIs in a worker; False (and a notification)
        when it cannot start (no ROIs, training already)."""
        if self.model.rings is None:
            show_warning("No ROIs: choose an ROI layer in the ROI masks dock first")
            return False
        if self._worker is not None:
            return False
        table, is_cell = self.model.quality.training_set()
        keys = tuple(self.model.roi_keys())
        self.train_button.setEnabled(False)
        self.classifier_label.setText("Training…")
        worker = create_worker(
            CellClassifier.train,
            table,
            is_cell,
            _start_thread=False,
            _connect={
                "returned": lambda classifier: self._trained(keys, classifier),
                "errored": self._training_failed,
                "finished": self._training_finished,
            },
        )
        self._worker = worker
        worker.start()
        return True

    def _trained(self, keys, classifier: CellClassifier) -> None:
        if self._torn_down:
            return
        if tuple(self.model.roi_keys()) != keys:
            show_warning("The ROIs changed while the classifier trained: train it again")
            return
        self.model.quality.set_classifier(classifier)
        cells, not_cells = classifier.trained_on
        show_info(f"Classifier trained on {cells} cells and {not_cells} not cells")

    def _training_failed(self, error) -> None:
        message = str(error) if isinstance(error, ClassifierError) else repr(error)
        show_warning(f"Classifier not trained: {message}")

    def _training_finished(self) -> None:
        self._worker = None
        if not self._torn_down:
            self.train_button.setEnabled(True)
            self.show_state()

    def export_classifier(self, path=None, *, overwrite: bool = False) -> Path | None:
        """Write the classifier as JSON (atomically); the file, or None (and a notification)."""
        classifier = self.model.quality.classifier
        if classifier is None:
            show_warning("No classifier to export: train it first")
            return None
        path, overwrite = save_path(
            self, path, overwrite, "Export the classifier", "classifier.json", "JSON (*.json)"
        )
        if path is None:
            return None
        text = classifier.to_json().encode()
        try:
            write_atomically(path, lambda file: file.write(text), overwrite=overwrite)
        except OSError as error:
            show_warning(f"Classifier not exported to {path}: {error.strerror or error}")
            return None
        show_info(f"Classifier written to {path}")
        return path

    def load_classifier(self, path=None) -> bool:
        """Suggest with a classifier from a JSON file; False (and a notification naming the
        file) when it cannot be read; the classifier in use stays then."""
        if path is None:
            chosen, _ = QFileDialog.getOpenFileName(
                self, "Load a classifier", "", "JSON (*.json);;All files (*)"
            )
            if not chosen:
                return False
            path = chosen
        path = Path(path)
        try:
            if path.stat().st_size > _MAX_CLASSIFIER_BYTES:
                raise ClassifierError("too large for a classifier file")
            classifier = CellClassifier.from_json(path.read_text(encoding="utf-8"))
            self.model.quality.set_classifier(classifier)
        except (OSError, UnicodeDecodeError, ClassifierError) as error:
            reason = error.strerror if isinstance(error, OSError) and error.strerror else error
            show_warning(f"{path}: classifier not loaded: {reason}")
            return False
        show_info(f"Suggesting with the classifier from {path.name}")
        return True

    def forget_classifier(self) -> None:
        """Stop suggesting with the classifier."""
        self.model.quality.set_classifier(None)

    # -- drawing ----------------------------------------------------------------------------------
    def _on_quality_changed(self, keys=None) -> None:
        if self.colour_metric is not None:
            self.draw_colours()
        for row in self._rules:
            self._fit_slider(row)
        self._show_rules_from_model()
        self.show_state()

    def _on_rois_changed(self, keys) -> None:
        if self.colour_metric is not None:
            self.draw_colours(rebuild=True)
        self.show_state()

    def _on_decisions_changed(self, keys) -> None:
        self.show_state()

    def show_state(self) -> None:
        """The classifier's state, the suggestions' counts, the selected ROI's why."""
        quality = self.model.quality
        classifier = quality.classifier
        has_rois = self.model.rings is not None
        self.train_button.setEnabled(has_rois and self._worker is None)
        self.export_button.setEnabled(classifier is not None)
        self.forget_button.setEnabled(classifier is not None)
        rows = self.model.rows()
        decided = sum(row.decision is not Decision.UNLABELED for row in rows)
        if classifier is None:
            cells = sum(row.decision is Decision.CELL for row in rows)
            self.classifier_label.setText(
                f"None yet: decide at least {MIN_PER_CLASS} cells and {MIN_PER_CLASS} not cells "
                f"(so far {cells} and {decided - cells}), then train"
            )
        else:
            cells, not_cells = classifier.trained_on
            self.classifier_label.setText(
                f"Trained on {cells} cells and {not_cells} not cells; reads "
                + ", ".join(_title(name) for name in classifier.features)
            )
        suggested = [row for row in rows if row.suggestion is not None]
        if not suggested:
            self.suggestions_label.setText(
                "None: add a rule or train the classifier. Q in the viewer takes the selected "
                "ROI's suggestion, Shift+Q every unlabeled one the ROI table shows"
            )
        else:
            cells = sum(row.suggestion.decision is Decision.CELL for row in suggested)
            disagree = sum(
                row.decision is not Decision.UNLABELED
                and row.decision is not row.suggestion.decision
                for row in suggested
            )
            self.suggestions_label.setText(
                f"{cells} cell, {len(suggested) - cells} not cell; {disagree} differ from your "
                "decisions (never changed by a suggestion). Q takes the selected ROI's, Shift+Q "
                "every unlabeled one the ROI table shows"
            )
        self._show_why()

    def _show_why(self, *_) -> None:
        present = set(self.model.roi_keys())
        keys = [k for k in self.model.selection if k in present]
        if len(keys) != 1:
            self.why_label.setText("")
            return
        suggestion = self.model.summary(keys[0]).suggestion
        self.why_label.setText(
            ""
            if suggestion is None
            else f"ROI {keys[0]}: {suggestion.decision.value.replace('_', ' ')}, "
            f"{suggestion.reason}"
        )

    # -- closing ----------------------------------------------------------------------------------
    def teardown(self) -> None:
        """Disconnect from the model and the viewer; the metric layer goes."""
        disconnect_all(self._connections)
        self._connections = []
        if self._worker is not None:
            self._worker.quit()
        self._remove_metric_layer()


def _heading(text: str) -> QLabel:
    label = QLabel(f"<b>{text}</b>")
    return label


def _number(value: float) -> str:
    return "" if not math.isfinite(value) else f"{value:.3g}"
