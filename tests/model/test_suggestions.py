"""Suggestions from rules and the classifier: shown, never decided without the curator."""

from __future__ import annotations

import numpy as np
import pytest

from napari_roimasks.core.classifier import CellClassifier
from napari_roimasks.io.roi_set import Decision
from napari_roimasks.model import Decisions
from napari_roimasks.model.suggestions import ThresholdRule, accept, suggest


def test_a_failed_rule_suggests_not_cell_and_says_why():
    metrics = {"snr": np.array([1.2, 5.0, np.nan]), "area": np.array([80.0, 90.0, 500.0])}
    rules = [ThresholdRule("snr", minimum=3), ThresholdRule("area", maximum=400)]
    low, good, big = suggest(metrics, rules)
    assert (low.decision, low.reason) == (Decision.NOT_CELL, "snr 1.2 < 3")
    assert (good.decision, good.reason) == (Decision.CELL, "passes snr >= 3, area <= 400")
    # an unknown SNR is no evidence; the area rule still judges it
    assert (big.decision, big.reason) == (Decision.NOT_CELL, "area 500 > 400")
    assert np.isnan(low.probability)
    with pytest.raises(ValueError, match="'events', which is not a metric"):
        suggest(metrics, [ThresholdRule("events", minimum=1)])
    assert suggest(metrics) == [None, None, None]


def test_the_classifier_suggests_by_its_probability_with_its_reasons(rng):
    n = 40
    is_cell = (np.arange(n) % 2).astype(float)
    metrics = {"snr": np.where(is_cell == 1, 8.0, 2.0) + rng.normal(0, 1, n)}
    classifier = CellClassifier.train(metrics, is_cell)
    shown = {"snr": np.array([12.0, 1.0])}
    cell, not_cell = suggest(shown, classifier=classifier)
    assert cell.decision is Decision.CELL and cell.probability > 0.9
    assert not_cell.decision is Decision.NOT_CELL and not_cell.probability < 0.1
    assert cell.reason.startswith(f"classifier {cell.probability:.2f}: snr 12 (+")
    # a rule overrules the classifier's suggestion, never a decision
    (ruled,) = suggest({"snr": np.array([12.0])}, [ThresholdRule("snr", maximum=10)], classifier)
    assert ruled.decision is Decision.NOT_CELL and ruled.reason == "snr 12 > 10"


def test_accepting_never_changes_what_the_curator_decided_and_undoes_in_one_step():
    decisions = Decisions()
    decisions.decide([2], "cell", reason="I saw it fire")
    metrics = {"snr": np.array([1.0, 1.0, 1.0, 9.0])}
    suggestions = dict(
        zip([1, 2, 3, 4], suggest(metrics, [ThresholdRule("snr", minimum=3)]), strict=True)
    )
    changed = accept(decisions, suggestions, [1, 2, 3, 4])
    assert changed == {1, 3, 4}
    assert decisions.get(2).decision is Decision.CELL and decisions.get(2).reason == "I saw it fire"
    assert decisions.get(1).decision is Decision.NOT_CELL
    assert decisions.get(1).reason == "suggested: snr 1 < 3"
    assert decisions.get(4).decision is Decision.CELL
    decisions.undo()
    assert all(decisions.get(k).decision is Decision.UNLABELED for k in (1, 3, 4))
    assert decisions.get(2).decision is Decision.CELL
    # asked to, the curator's own decision is overruled (one ROI, one step)
    assert accept(decisions, suggestions, [2], overrule=True) == {2}
    assert decisions.get(2).decision is Decision.NOT_CELL
