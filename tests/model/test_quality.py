"""The model's quality metrics and suggestions: current in every table row, following edits,
traces, the correction and the summary images; accepted only by the curator."""

from __future__ import annotations

import math

import numpy as np
import pytest

from napari_roimasks.core.classifier import ClassifierError
from napari_roimasks.core.metrics import METRICS, roi_metrics
from napari_roimasks.core.summary_images import compute_summary_images
from napari_roimasks.io.roi_set import Decision
from napari_roimasks.model import Correction, RoiModel, RoiTraces
from napari_roimasks.model.suggestions import ThresholdRule
from napari_roimasks.model.triage import TriageView
from napari_roimasks.synthetic import make_recording


@pytest.fixture
def recording():
    return make_recording(n_frames=300, shape=(96, 120), n_cells=16, seed=11)


@pytest.fixture
def model(recording):
    model = RoiModel()
    model.set_border(recording.motion_border)
    model.set_rois_from_labels(recording.roi_labels)
    return model


def extract(model, recording) -> None:
    """Traces as extraction stores them: each ROI's and its ring's mean over the movie."""
    movie = recording.movie.astype(np.float64)
    results = {}
    for key in model.roi_keys():
        roi, ring = model.roi(key), model.ring(key)
        f = movie[(slice(None), *roi.slices)][:, roi.pixels].mean(axis=1)
        fneu = movie[(slice(None), *ring.slices)][:, ring.pixels].mean(axis=1)
        results[key] = RoiTraces(model.fingerprint(key, "movie"), f, fneu, 0.5)
    model.store_traces("movie", results)


def expected(model, *, r=0.7, images=None) -> dict:
    keys = model.roi_keys()
    corrected = None
    if model.traces:
        corrected = np.stack([model.traces[k].roi - r * model.traces[k].neuropil for k in keys])
    return roi_metrics(
        [model.roi(k) for k in keys],
        [model.ring(k) for k in keys],
        border=model.border,
        image_shape=model.image_shape,
        corrected=corrected,
        correlation=None if images is None else images.correlation,
        mean=None if images is None else images.mean,
    )


def shown(model) -> dict:
    """The metrics the table rows carry, as name -> (n,) array."""
    rows = model.rows()
    return {name: np.array([row.metrics[name] for row in rows]) for name in METRICS}


def assert_equal(actual: dict, wanted: dict) -> None:
    for name in METRICS:
        np.testing.assert_array_equal(actual[name], wanted[name], err_msg=name)


def test_every_row_carries_the_metrics_the_core_gives_and_they_follow_traces_and_r(
    model, recording
):
    assert_equal(shown(model), expected(model))  # shape metrics at once, trace metrics NaN
    assert all(math.isnan(row.metrics["snr"]) for row in model.rows())
    extract(model, recording)
    assert_equal(shown(model), expected(model))
    heard = []
    model.quality_changed.connect(heard.append)
    model.set_correction(Correction(fixed_r=0.3))
    assert_equal(shown(model), expected(model, r=0.3))
    assert heard == [None]


def test_the_image_metrics_follow_the_summary_images(model, recording):
    images = compute_summary_images(recording.movie)
    model.quality.set_images(mean=images.mean, correlation=images.correlation)
    assert_equal(shown(model), expected(model, images=images))
    assert np.isfinite(shown(model)["brightness_z"]).all()
    with pytest.raises(ValueError, match="the mean image is 10x10 pixels"):
        model.quality.set_images(mean=np.zeros((10, 10)))
    assert_equal(shown(model), expected(model, images=images))  # nothing changed


def test_an_edit_recomputes_the_rois_it_reaches(model, recording):
    extract(model, recording)
    labels = recording.roi_labels.copy()
    labels[labels == 3] = 0  # erased
    model.labels_edited(labels)
    assert 3 not in model.roi_keys()
    assert_equal(shown(model), expected(model))


def test_each_metric_sorts_the_table_unknown_values_last(model, recording):
    extract(model, recording)
    for name in ("snr", "compactness", "border_distance"):
        view = TriageView(model.rows(), sort_by=name, descending=True)
        values = [model.summary(k).metrics[name] for k in view.keys]
        assert values == sorted(values, reverse=True)
    view = TriageView(model.rows(), sort_by="snr")  # no traces for one ROI: last either way
    model.traces.pop(view.keys[0])
    model.quality.refresh([view.keys[0]])
    model.quality_changed_for([view.keys[0]])
    for descending in (False, True):
        view = TriageView(model.rows(), sort_by="snr", descending=descending)
        assert math.isnan(model.summary(view.keys[-1]).metrics["snr"])


def test_rules_suggest_and_accepting_is_the_curators_one_undo_step(model, recording):
    extract(model, recording)
    snr = {row.key: row.metrics["snr"] for row in model.rows()}
    cut = float(np.median(list(snr.values())))
    model.decide([1], Decision.CELL, reason="I saw it fire")
    model.quality.set_rules([ThresholdRule("snr", minimum=cut)])
    for row in model.rows():
        wanted = Decision.NOT_CELL if snr[row.key] < cut else Decision.CELL
        assert row.suggestion.decision is wanted
    changed = model.accept_suggestions(model.roi_keys())
    assert 1 not in changed and model.summary(1).decision is Decision.CELL
    assert model.summary(1).reason == "I saw it fire"
    low = next(k for k in model.roi_keys() if snr[k] < cut and k != 1)
    assert model.summary(low).decision is Decision.NOT_CELL
    assert model.summary(low).reason == f"suggested: snr {snr[low]:.3g} < {cut:g}"
    model.undo_decision()
    assert all(model.summary(k).decision is Decision.UNLABELED for k in changed)
    with pytest.raises(ValueError, match="'loudness' is not a metric"):
        model.quality.set_rules([ThresholdRule("loudness", minimum=1)])


def test_the_classifier_trains_on_decisions_and_a_retrain_never_changes_one(model, recording):
    extract(model, recording)
    with pytest.raises(ClassifierError, match="so far 0 and 0"):
        model.quality.train()
    keys = sorted(model.roi_keys(), key=lambda k: model.summary(k).metrics["snr"])
    model.decide(keys[:5], Decision.NOT_CELL)
    model.decide(keys[-5:], Decision.CELL)
    before = {k: model.summary(k).decision for k in keys}
    classifier = model.quality.train()
    assert classifier.trained_on == (5, 5)
    assert {k: model.summary(k).decision for k in keys} == before  # suggests, never decides
    suggestions = [model.summary(k).suggestion for k in keys]
    assert all(s is not None and s.reason.startswith("classifier ") for s in suggestions)
    assert suggestions[-1].probability > suggestions[0].probability


def test_rules_and_classifier_go_through_json_and_bad_text_changes_nothing(model, recording):
    extract(model, recording)
    keys = sorted(model.roi_keys(), key=lambda k: model.summary(k).metrics["snr"])
    model.decide(keys[:5], Decision.NOT_CELL)
    model.decide(keys[-5:], Decision.CELL)
    model.quality.train()
    model.quality.set_rules([ThresholdRule("area", minimum=20, maximum=None)])
    text = model.quality.to_json()
    other = RoiModel()
    other.set_border(recording.motion_border)
    other.set_rois_from_labels(recording.roi_labels)
    extract(other, recording)
    other.quality.restore_json(text)
    assert other.quality.rules == model.quality.rules
    assert [r.suggestion for r in other.rows()] == [r.suggestion for r in model.rows()]
    with pytest.raises(ValueError, match="rules and classifier cannot be read"):
        other.quality.restore_json('{"format": "napari-roimasks quality", "rules": 3}')
    assert other.quality.rules == model.quality.rules


def test_the_session_file_keeps_the_rules_and_the_classifier(model, recording, tmp_path):
    from napari_roimasks.io.session_file import read_session, write_session
    from napari_roimasks.model import restore_session, session_contents

    extract(model, recording)
    keys = sorted(model.roi_keys(), key=lambda k: model.summary(k).metrics["snr"])
    model.decide(keys[:5], Decision.NOT_CELL)
    model.decide(keys[-5:], Decision.CELL)
    model.quality.train()
    model.quality.set_rules([ThresholdRule("compactness", maximum=1.6)])
    path = tmp_path / "s.session.roimasks.h5"
    write_session(path, session_contents(model), overwrite=True)
    reopened = RoiModel()
    restore_session(reopened, read_session(path))
    assert reopened.quality.rules == model.quality.rules
    assert reopened.quality.classifier.features == model.quality.classifier.features
    np.testing.assert_array_equal(
        reopened.quality.classifier.coefficients, model.quality.classifier.coefficients
    )
    assert [r.suggestion for r in reopened.rows()] == [r.suggestion for r in model.rows()]


def test_an_unknown_metric_gives_no_suggestion_from_rules(model):
    model.quality.set_rules([ThresholdRule("snr", minimum=3)])  # no traces: SNR not known
    assert all(row.suggestion is None for row in model.rows())
    assert model.accept_suggestions(model.roi_keys()) == set()


def test_a_session_rule_without_a_bound_is_refused_and_nothing_changes(model):
    model.quality.set_rules([ThresholdRule("area", minimum=10)])
    text = '{"format": "napari-roimasks quality", "rules": [["snr", null, null]]}'
    with pytest.raises(ValueError, match="rules and classifier cannot be read"):
        model.quality.restore_json(text)
    assert model.quality.rules == (ThresholdRule("area", minimum=10),)
