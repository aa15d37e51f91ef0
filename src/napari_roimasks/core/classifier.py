"""A cell classifier on the ROI metrics: it suggests, it never decides.

:meth:`CellClassifier.train` fits scikit-learn's logistic regression on the
metrics of the ROIs a curator has already decided (at least
:data:`MIN_PER_CLASS` cells and as many not cells), each metric standardised
first. What it learned is a handful of plain numbers (feature names, means,
scales, coefficients, intercept): :meth:`CellClassifier.to_json` writes them
as JSON (never pickle) and :meth:`CellClassifier.from_json` reads them back,
so a classifier trained on one recording is applied to another, with numpy
only.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["MIN_PER_CLASS", "NOT_LEARNED", "CellClassifier", "ClassifierError"]

#: Fewest decided cells, and fewest decided not cells, a classifier is trained on.
MIN_PER_CLASS = 5

#: Metrics the classifier does not learn from unless asked: an ROI's size and place are for
#: rules (a curator's size limits, the motion border), and from a few decided ROIs the
#: classifier would learn their sizes instead of what a cell looks like.
NOT_LEARNED = ("area", "border_distance")

_FORMAT = "napari-roimasks cell classifier"
_VERSION = 1


class ClassifierError(ValueError):
    """Training or reading a classifier failed; the message says why, for the user."""


@dataclass(frozen=True)
class CellClassifier:
    """Logistic regression on standardised ROI metrics.

    ``P(cell) = 1 / (1 + exp(-(intercept + sum_i coefficients[i] * (x_i - means[i]) / scales[i])))``;
    a metric that is NaN for an ROI counts as its training mean (no evidence either way).

    Attributes
    ----------
    features : tuple of str
        The metrics it reads, by name.
    means, scales : (n_features,) float64 ndarray
        Each metric's mean and standard deviation over the training ROIs.
    coefficients : (n_features,) float64 ndarray
    intercept : float
    trained_on : (int, int)
        How many cells and not cells it was trained on.
    """

    features: tuple[str, ...]
    means: np.ndarray
    scales: np.ndarray
    coefficients: np.ndarray
    intercept: float
    trained_on: tuple[int, int]

    @classmethod
    def train(
        cls,
        metrics: Mapping[str, np.ndarray],
        is_cell: np.ndarray,
        features: Sequence[str] | None = None,
    ) -> CellClassifier:
        """Fit on the decided ROIs.

        Parameters
        ----------
        metrics : mapping of name -> (n_rois,) float ndarray
        is_cell : (n_rois,) float ndarray
            1 for a decided cell, 0 for a decided not cell, NaN for an ROI not
            decided (left out).
        features : sequence of str, optional
            The metrics to use (default: every metric but :data:`NOT_LEARNED` that is known
            for every decided ROI and not the same for all of them).

        Raises
        ------
        ClassifierError
            With fewer than :data:`MIN_PER_CLASS` cells or not cells, or no usable metric.
        """
        from sklearn.linear_model import LogisticRegression

        is_cell = np.asarray(is_cell, dtype=np.float64)
        decided = np.isfinite(is_cell)
        cells = int(np.sum(is_cell[decided] == 1))
        not_cells = int(np.sum(is_cell[decided] == 0))
        if cells < MIN_PER_CLASS or not_cells < MIN_PER_CLASS:
            raise ClassifierError(
                f"the classifier learns from decided ROIs: at least {MIN_PER_CLASS} cells and "
                f"{MIN_PER_CLASS} not cells, so far {cells} and {not_cells}"
            )
        if features is None:
            features = [
                name
                for name, values in metrics.items()
                if name not in NOT_LEARNED
                and np.all(np.isfinite(np.asarray(values, dtype=np.float64)[decided]))
                and np.ptp(np.asarray(values, dtype=np.float64)[decided]) > 0
            ]
        features = tuple(features)
        if not features:
            raise ClassifierError(
                "no metric is known for every decided ROI (extract the traces, or compute the "
                "summary images, first)"
            )
        table = _table(metrics, features)[decided]
        means = np.nanmean(table, axis=0)
        scales = np.nanstd(table, axis=0)
        scales[~(scales > 0)] = 1.0
        standard = np.nan_to_num((table - means) / scales, nan=0.0)
        model = LogisticRegression(C=1.0, class_weight="balanced", max_iter=1000)
        model.fit(standard, is_cell[decided].astype(int))
        return cls(
            features,
            means,
            scales,
            model.coef_[0].astype(np.float64),
            float(model.intercept_[0]),
            (cells, not_cells),
        )

    def probabilities(self, metrics: Mapping[str, np.ndarray]) -> np.ndarray:
        """(n_rois,) float64: each ROI's probability of being a cell.

        Raises
        ------
        ClassifierError
            When ``metrics`` lacks one of :attr:`features`.
        """
        return 1.0 / (1.0 + np.exp(-self._evidence(metrics).sum(axis=1) - self.intercept))

    def reasons(self, metrics: Mapping[str, np.ndarray], top: int = 2) -> list[str]:
        """For each ROI, the metrics that weighed most, e.g. ``"snr 8.1 (+2.3), skew 0.2 (-0.9)"``
        (each metric's value and its push towards cell, +, or not cell, -)."""
        evidence = self._evidence(metrics)
        table = _table(metrics, self.features)
        out = []
        for row, values in zip(evidence, table, strict=True):
            order = np.argsort(-np.abs(row), kind="stable")[:top]
            out.append(
                ", ".join(f"{self.features[k]} {_number(values[k])} ({row[k]:+.1f})" for k in order)
            )
        return out

    def _evidence(self, metrics: Mapping[str, np.ndarray]) -> np.ndarray:
        missing = [name for name in self.features if name not in metrics]
        if missing:
            raise ClassifierError(
                f"the classifier reads {', '.join(missing)}, which these ROIs do not have"
            )
        standard = (_table(metrics, self.features) - self.means) / self.scales
        return np.nan_to_num(standard, nan=0.0) * self.coefficients

    def to_json(self) -> str:
        """The classifier as JSON: plain numbers and names, readable by any program."""
        return json.dumps(
            {
                "format": _FORMAT,
                "version": _VERSION,
                "model": "logistic regression on standardised metrics",
                "features": list(self.features),
                "means": self.means.tolist(),
                "scales": self.scales.tolist(),
                "coefficients": self.coefficients.tolist(),
                "intercept": self.intercept,
                "trained_on": {"cells": self.trained_on[0], "not_cells": self.trained_on[1]},
            },
            indent=2,
        )

    @classmethod
    def from_json(cls, text: str) -> CellClassifier:
        """Read :meth:`to_json`'s text.

        Raises
        ------
        ClassifierError
            For text that is not such a classifier (one line saying what is wrong).
        """
        try:
            data = json.loads(text)
        except ValueError as error:
            raise ClassifierError(f"not JSON ({error})") from None
        if not isinstance(data, dict) or data.get("format") != _FORMAT:
            raise ClassifierError(f"not a classifier file (expected format {_FORMAT!r})")
        if data.get("version") != _VERSION:
            raise ClassifierError(
                f"classifier file version {data.get('version')!r}; this version reads {_VERSION}"
            )
        try:
            features = tuple(str(name) for name in data["features"])
            arrays = [
                np.asarray(data[key], dtype=np.float64)
                for key in ("means", "scales", "coefficients")
            ]
            intercept = float(data["intercept"])
            trained = data.get("trained_on", {})
            trained_on = (int(trained.get("cells", 0)), int(trained.get("not_cells", 0)))
        except (KeyError, TypeError, ValueError) as error:
            raise ClassifierError(f"a classifier file needs {error}") from None
        if any(a.shape != (len(features),) for a in arrays) or not features:
            raise ClassifierError(
                "a classifier file needs one mean, scale and coefficient per feature"
            )
        if not all(np.all(np.isfinite(a)) for a in arrays) or not math.isfinite(intercept):
            raise ClassifierError("a classifier file's numbers must be finite")
        if np.any(arrays[1] <= 0):
            raise ClassifierError("a classifier file's scales must be positive")
        return cls(features, *arrays, intercept, trained_on)


def _table(metrics: Mapping[str, np.ndarray], features: Sequence[str]) -> np.ndarray:
    """(n_rois, n_features) float64: the metrics side by side."""
    return np.stack([np.asarray(metrics[name], dtype=np.float64) for name in features], axis=1)


def _number(value: float) -> str:
    return "NaN" if not np.isfinite(value) else f"{value:.3g}"
