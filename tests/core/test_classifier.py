"""The cell classifier: scikit-learn's answers, kept as plain JSON numbers."""

from __future__ import annotations

import json

import numpy as np
import pytest

from napari_roimasks.core.classifier import MIN_PER_CLASS, CellClassifier, ClassifierError


def decided_rois(rng, n=60):
    """Cells with high SNR and skew, not cells with low; area says nothing."""
    is_cell = (np.arange(n) % 2).astype(float)
    metrics = {
        "snr": np.where(is_cell == 1, 8.0, 2.0) + rng.normal(0, 1.5, n),
        "skew": np.where(is_cell == 1, 1.5, 0.2) + rng.normal(0, 0.5, n),
        "area": rng.normal(100, 20, n),
    }
    return metrics, is_cell


def test_probabilities_are_scikit_learns_for_the_same_standardised_metrics(rng):
    from sklearn.linear_model import LogisticRegression

    metrics, is_cell = decided_rois(rng)
    classifier = CellClassifier.train(metrics, is_cell)
    table = np.stack([metrics[name] for name in classifier.features], axis=1)
    standard = (table - table.mean(axis=0)) / table.std(axis=0)
    reference = LogisticRegression(C=1.0, class_weight="balanced", max_iter=1000)
    reference.fit(standard, is_cell.astype(int))
    np.testing.assert_allclose(
        classifier.probabilities(metrics), reference.predict_proba(standard)[:, 1], rtol=1e-10
    )
    assert classifier.trained_on == (30, 30)
    assert np.mean((classifier.probabilities(metrics) >= 0.5) == (is_cell == 1)) > 0.9


def test_undecided_rois_are_left_out_of_training_and_nan_metrics_count_as_the_mean(rng):
    metrics, is_cell = decided_rois(rng)
    is_cell[:20] = np.nan
    classifier = CellClassifier.train(metrics, is_cell, features=["snr", "skew"])
    assert classifier.trained_on == (20, 20)
    unknown = {"snr": np.array([np.nan]), "skew": np.array([np.nan])}
    no_evidence = 1 / (1 + np.exp(-classifier.intercept))
    assert classifier.probabilities(unknown)[0] == pytest.approx(no_evidence)


def test_too_few_decisions_is_one_clear_error(rng):
    metrics, is_cell = decided_rois(rng)
    is_cell[:] = np.nan
    is_cell[:MIN_PER_CLASS] = 1
    is_cell[MIN_PER_CLASS : 2 * MIN_PER_CLASS - 1] = 0
    with pytest.raises(ClassifierError, match=r"at least 5 cells and 5 not cells, so far 5 and 4"):
        CellClassifier.train(metrics, is_cell)


def test_json_round_trip_applies_to_another_recording_without_pickle(rng):
    metrics, is_cell = decided_rois(rng)
    classifier = CellClassifier.train(metrics, is_cell)
    text = classifier.to_json()
    data = json.loads(text)
    assert data["features"] == list(classifier.features)
    assert all(isinstance(c, float) for c in data["coefficients"])
    again = CellClassifier.from_json(text)
    other, _ = decided_rois(np.random.default_rng(7))
    np.testing.assert_array_equal(again.probabilities(other), classifier.probabilities(other))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{", "not JSON"),
        ('{"format": "something else"}', "not a classifier file"),
        (
            '{"format": "napari-roimasks cell classifier", "version": 9}',
            "version 9; this version reads 1",
        ),
        (
            '{"format": "napari-roimasks cell classifier", "version": 1, "features": ["snr"],'
            ' "means": [0, 1], "scales": [1], "coefficients": [1], "intercept": 0}',
            "one mean, scale and coefficient per feature",
        ),
        (
            '{"format": "napari-roimasks cell classifier", "version": 1, "features": ["snr"],'
            ' "means": [0], "scales": [0], "coefficients": [1], "intercept": 0}',
            "scales must be positive",
        ),
    ],
)
def test_a_bad_classifier_file_is_one_line_saying_what_is_wrong(text, message):
    with pytest.raises(ClassifierError, match=message):
        CellClassifier.from_json(text)


def test_reasons_name_the_metrics_that_weighed_most(rng):
    metrics, is_cell = decided_rois(rng)
    classifier = CellClassifier.train(metrics, is_cell)
    strong = {"snr": np.array([15.0]), "skew": np.array([0.85]), "area": np.array([100.0])}
    reason = classifier.reasons(strong)[0]
    assert reason.startswith("snr 15 (+")
    with pytest.raises(ClassifierError, match="reads snr"):
        classifier.probabilities({"skew": np.array([1.0]), "area": np.array([1.0])})
