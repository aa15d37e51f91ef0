"""The model's extraction, headless: extract, cancel, re-extract what is stale, another movie."""

from __future__ import annotations

import threading

import dask.array as da
import numpy as np
import pytest

from napari_roimasks import roi_masks
from napari_roimasks.core import MotionBorder
from napari_roimasks.model import Correction, RoiModel, extraction_job, movie_token
from napari_roimasks.pipeline import MovieMasks
from napari_roimasks.synthetic import make_recording


@pytest.fixture
def recording():
    return make_recording(n_frames=80, shape=(96, 120), n_cells=20, seed=5)


@pytest.fixture
def model(recording):
    model = RoiModel()
    model.set_border(recording.motion_border)
    model.set_rois_from_labels(recording.roi_labels)
    return model


def run(model, movie, *, cancel=None, on_step=None):
    """Extract what is missing or stale, as the Traces dock does in its worker; the steps seen."""
    token = movie_token(movie)
    plan = model.plan_extraction(token)
    job = extraction_job(plan, MovieMasks(plan.masks, len(movie), frames=movie), cancel=cancel)
    steps = []
    while True:
        try:
            step = next(job)
        except StopIteration as finished:
            results = finished.value
            break
        steps.append(step)
        if on_step is not None:
            on_step(step)
    if results is not None:
        model.store_traces(token, results)
    return plan, steps, results


def allensdk_traces(recording):
    labels, border = recording.roi_labels, recording.motion_border.as_allen()
    h, w = labels.shape
    rois = [
        roi_masks.create_roi_mask(w, h, border, roi_mask=labels == k, label=k)
        for k in range(1, labels.max() + 1)
    ]
    traces, _ = roi_masks.calculate_traces(
        recording.movie, rois + roi_masks.create_neuropil_masks(rois, border)
    )
    return traces[: len(rois)], traces[len(rois) :]


def test_extracted_traces_are_allensdks_and_every_row_is_current(model, recording):
    plan, steps, results = run(model, recording.movie)
    assert plan.keys == model.roi_keys()
    assert steps[-1] == ("fit", len(plan.keys), len(plan.keys))
    assert ("frames", 80, 80) in steps
    roi_expected, neuropil_expected = allensdk_traces(recording)
    for k in model.roi_keys():
        np.testing.assert_array_equal(model.traces[k].roi, roi_expected[k - 1])
        np.testing.assert_array_equal(model.traces[k].neuropil, neuropil_expected[k - 1])
    assert {row.trace for row in model.rows()} == {"current"}
    assert model.plan_extraction(movie_token(recording.movie)).keys == []


def test_an_edit_makes_only_the_rois_it_reaches_stale_and_only_those_are_read_again(
    model, recording
):
    run(model, recording.movie)
    labels = recording.roi_labels.copy()
    key = next(row.key for row in model.rows() if not row.excluded)
    row, column = np.argwhere(labels == key)[0]
    labels[row - 1 : row + 1, column : column + 2] = key
    model.labels_edited(labels)
    stale = {row.key for row in model.rows() if row.trace == "stale"}
    assert key in stale and len(stale) < len(model.roi_keys())
    before = {k: model.traces[k].roi for k in model.roi_keys()}
    plan, _, _ = run(model, recording.movie)
    assert set(plan.keys) == stale
    assert {row.trace for row in model.rows()} == {"current"}
    for k in set(model.roi_keys()) - stale:
        assert model.traces[k].roi is before[k]


def test_a_border_that_excludes_an_roi_makes_its_traces_stale(model, recording):
    run(model, recording.movie)
    inside = {row.key for row in model.rows() if "motion_border" not in row.exclusions}
    model.set_border(MotionBorder(20, 3, 3, 3))  # a wide left band
    newly = {row.key for row in model.rows() if "motion_border" in row.exclusions} & inside
    assert newly  # some ROIs the wider border disqualifies
    for key in newly:
        assert model.summary(key).trace == "stale"
    plan, _, _ = run(model, recording.movie)
    assert newly <= set(plan.keys)
    for key in newly:  # AllenSDK gives an excluded ROI's trace as NaN
        assert np.isnan(model.traces[key].roi).all()
    assert {row.trace for row in model.rows()} == {"current"}


class CountingFrames:
    """A movie that counts the frames read from it."""

    def __init__(self, movie):
        self.movie, self.read = movie, 0
        self.shape, self.dtype = movie.shape, movie.dtype

    def __getitem__(self, index):
        block = self.movie[index]
        self.read += len(block)
        return block


def test_cancel_stops_reading_and_keeps_nothing(model, recording):
    cancel = threading.Event()
    movie = CountingFrames(np.concatenate([recording.movie] * 40))  # 3200 frames: 4 blocks
    plan = model.plan_extraction(movie_token(movie))
    job = extraction_job(plan, MovieMasks(plan.masks, 3200, frames=movie), cancel=cancel)
    assert next(job) == ("frames", 1000, 3200)  # the first block is in
    cancel.set()
    with pytest.raises(StopIteration) as finished:
        next(job)
    assert finished.value.value is None  # nothing to store
    assert movie.read <= 2000  # the block in hand and the one read ahead, not the whole movie


def test_another_movie_or_replaced_data_makes_every_trace_stale(model, recording):
    run(model, recording.movie)
    model.set_movie(movie_token(recording.movie))
    assert {row.trace for row in model.rows()} == {"current"}
    seen = []
    model.traces_changed.connect(seen.append)
    replaced = recording.movie.copy()  # e.g. `layer.data = other_movie`: same shape, new data
    model.set_movie(movie_token(replaced))
    assert {row.trace for row in model.rows()} == {"stale"}
    assert seen == [set(model.roi_keys())]
    plan, _, _ = run(model, replaced)
    assert plan.keys == model.roi_keys()


def test_a_movie_token_follows_the_data_object():
    movie = np.zeros((3, 4, 4), np.uint16)
    assert movie_token(movie) == movie_token(movie)
    assert movie_token(movie) != movie_token(movie.copy())
    seen = set()
    for _ in range(20):  # new arrays often reuse a freed one's memory (its id): new tokens still
        fresh = np.zeros((3, 4, 4), np.uint16)
        token = movie_token(fresh)
        assert token not in seen
        seen.add(token)
        del fresh
    lazy = da.zeros((3, 4, 4), chunks=1)
    assert movie_token(lazy) == movie_token(lazy) == f"dask:{lazy.name}"
    assert movie_token(lazy) != movie_token(lazy + 1)


def test_correction_picks_r_and_tells_the_views(model, recording):
    run(model, recording.movie)
    seen = []
    model.correction_changed.connect(lambda: seen.append(model.correction))
    assert set(model.contamination_ratios().values()) == {0.7}
    model.set_correction(Correction(fitted=True))
    fitted = model.contamination_ratios()
    raw = {k: model.traces[k].fitted_r for k in model.roi_keys()}
    usable = [r for r in raw.values() if np.isfinite(r) and r <= 1]
    for k, r in fitted.items():  # the Allen pipeline's rule: r > 1 becomes the usable r's mean
        expected = np.mean(usable) if raw[k] > 1 else raw[k]
        np.testing.assert_allclose(r, expected)
    model.set_correction(Correction(fitted=True))  # no change: nobody is told
    assert seen == [Correction(fitted=True)]
    features = model.features()
    assert set(features) == set(model.roi_keys())
    excluded = next(row.key for row in model.rows() if "motion_border" in row.exclusions)
    assert (
        np.isnan(features[excluded]["mean_F"])
        and features[excluded]["exclusion"] == "motion_border"
    )


def test_a_negative_r_is_refused():
    with pytest.raises(ValueError, match="must be >= 0"):
        Correction(fitted=False, fixed_r=-0.1)


def test_no_rois_no_plan():
    model = RoiModel()
    with pytest.raises(RuntimeError, match="no ROIs yet"):
        model.plan_extraction("movie:1")
    model.set_rois({}, (10, 10))
    assert model.plan_extraction("movie:1").keys == []
