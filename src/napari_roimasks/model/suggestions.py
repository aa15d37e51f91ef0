"""Suggested decisions from threshold rules and the classifier: shown beside the curator's own,
accepted only when the curator says so.

A :class:`ThresholdRule` ("snr at least 3") that an ROI fails suggests *not cell*
with the reason ("snr 1.2 < 3"); otherwise the classifier, when there is one,
suggests by its probability (cell from 0.5) and names the metrics that weighed
most; with rules only, an ROI that passes them all is suggested *cell*, and one
whose ruled metric is not known (NaN) gets no suggestion. A
suggestion never changes a decision by itself: :func:`accept` turns the
suggestions the curator picked into one undoable step, and only for ROIs still
unlabeled unless asked otherwise.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from ..core.classifier import CellClassifier
from ..io.roi_set import Decision

__all__ = ["Suggestion", "ThresholdRule", "accept", "suggest"]


@dataclass(frozen=True)
class ThresholdRule:
    """A bound on one metric that a cell must meet.

    Attributes
    ----------
    metric : str
        The metric's name (see :data:`~napari_roimasks.core.metrics.METRICS`).
    minimum, maximum : float or None
        The bounds (inclusive); None for no bound on that side.
    """

    metric: str
    minimum: float | None = None
    maximum: float | None = None

    def failure(self, value: float) -> str | None:
        """Why ``value`` fails the rule (``"snr 1.2 < 3"``), or None when it passes; a NaN
        value (not known) fails no rule (see :func:`suggest` for what it suggests)."""
        if value is None or not math.isfinite(value):
            return None
        if self.minimum is not None and value < self.minimum:
            return f"{self.metric} {value:.3g} < {self.minimum:g}"
        if self.maximum is not None and value > self.maximum:
            return f"{self.metric} {value:.3g} > {self.maximum:g}"
        return None

    def __str__(self) -> str:
        if self.minimum is not None and self.maximum is not None:
            return f"{self.minimum:g} <= {self.metric} <= {self.maximum:g}"
        if self.minimum is not None:
            return f"{self.metric} >= {self.minimum:g}"
        return f"{self.metric} <= {self.maximum:g}"


@dataclass(frozen=True)
class Suggestion:
    """What the rules or the classifier suggest for one ROI.

    Attributes
    ----------
    decision : Decision
        CELL or NOT_CELL.
    probability : float
        The classifier's probability that it is a cell (NaN without a classifier).
    reason : str
        Why, in words a curator reads ("snr 1.2 < 3"; "classifier 0.91: snr 8.1 (+2.3), ...").
    """

    decision: Decision
    probability: float
    reason: str


def suggest(
    metrics: Mapping[str, np.ndarray],
    rules: Sequence[ThresholdRule] = (),
    classifier: CellClassifier | None = None,
) -> list[Suggestion | None]:
    """Each ROI's suggestion (None when there are neither rules nor a classifier).

    Parameters
    ----------
    metrics : mapping of name -> (n_rois,) float ndarray
    rules : sequence of ThresholdRule
        A rule on a metric ``metrics`` lacks is an error.
    classifier : CellClassifier, optional

    Raises
    ------
    ValueError
        For a rule on an unknown metric, or a classifier that reads one.
    """
    n = len(next(iter(metrics.values()))) if metrics else 0
    for rule in rules:
        if rule.metric not in metrics:
            raise ValueError(f"a rule on {rule.metric!r}, which is not a metric of these ROIs")
    if not rules and classifier is None:
        return [None] * n
    probability = np.full(n, np.nan)
    reasons = [""] * n
    if classifier is not None:
        probability = classifier.probabilities(metrics)
        reasons = classifier.reasons(metrics)
    passed = "passes " + ", ".join(str(rule) for rule in rules)
    out = []
    for i in range(n):
        failures = [
            text for rule in rules if (text := rule.failure(float(metrics[rule.metric][i])))
        ]
        p = float(probability[i])
        if failures:
            out.append(Suggestion(Decision.NOT_CELL, p, "; ".join(failures)))
        elif classifier is not None:
            decision = Decision.CELL if p >= 0.5 else Decision.NOT_CELL
            out.append(Suggestion(decision, p, f"classifier {p:.2f}: {reasons[i]}"))
        elif any(not math.isfinite(float(metrics[rule.metric][i])) for rule in rules):
            out.append(None)  # a metric the rules read is not known: no evidence for a cell
        else:
            out.append(Suggestion(Decision.CELL, p, passed))
    return out


def accept(
    decisions,
    suggestions: Mapping[object, Suggestion | None],
    keys: Iterable,
    *,
    overrule: bool = False,
) -> set:
    """Make the suggestions of ``keys`` the curator's decisions, in one undoable step, each
    with its suggestion's reason ("suggested: snr 1.2 < 3").

    Parameters
    ----------
    decisions : Decisions
        The model's decisions (see :class:`~napari_roimasks.model.Decisions`).
    suggestions : mapping of ROI key -> Suggestion or None
    keys : iterable
        The ROIs the curator picked (one, or all the table shows).
    overrule : bool
        False (the default): ROIs the curator already decided keep their decision.

    Returns
    -------
    set
        The keys whose decision changed.
    """
    choices = {}
    for key in keys:
        suggestion = suggestions.get(key)
        if suggestion is None:
            continue
        if not overrule and decisions.get(key).decision is not Decision.UNLABELED:
            continue
        choices[key] = (suggestion.decision, f"suggested: {suggestion.reason}")
    return decisions.decide_each(choices) if choices else set()
