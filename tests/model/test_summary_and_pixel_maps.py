"""The model's summary-image, ROI-correlation and pixel-trace jobs, headless, as the dock runs them."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from napari_roimasks.core.pixel_traces import Window
from napari_roimasks.core.summary_images import compute_summary_images
from napari_roimasks.model import (
    JobFailed,
    RoiMapInputs,
    RoiModel,
    cancellable_job,
    display_limits,
    extraction_job,
    movie_token,
    pixel_series,
    pixel_trace_job,
    roi_correlation_job,
    roi_correlation_problem,
    roi_correlation_window,
    summary_job,
    summary_layers,
)
from napari_roimasks.pipeline import MovieMasks
from napari_roimasks.synthetic import make_recording


def finish(job, *, on_step=None):
    """Drive a job as napari's worker does: its steps and its result."""
    steps = []
    while True:
        try:
            step = next(job)
        except StopIteration as finished:
            return steps, finished.value
        steps.append(step)
        if on_step is not None:
            on_step(step)


@pytest.fixture(scope="module")
def recording():
    return make_recording(n_frames=90, shape=(96, 120), n_cells=20, seed=5)


@pytest.fixture
def model(recording):
    model = RoiModel()
    model.set_border(recording.motion_border)
    model.set_rois_from_labels(recording.roi_labels)
    return model


def extract(model, movie):
    token = movie_token(movie)
    plan = model.plan_extraction(token)
    _, results = finish(extraction_job(plan, MovieMasks(plan.masks, len(movie), frames=movie)))
    model.store_traces(token, results)
    model.set_movie(token)
    return token


# -- summary images -----------------------------------------------------------------------------
def test_summary_job_gives_the_cores_images_and_cancel_gives_none(recording):
    steps, images = finish(summary_job(recording.movie))
    images = images.as_dict()
    expected = compute_summary_images(recording.movie).as_dict()
    assert list(images) == list(expected)
    for name in expected:
        np.testing.assert_array_equal(images[name], expected[name])
    assert steps[-1] == (90, 90)
    cancel = threading.Event()
    _, cancelled = finish(
        summary_job(recording.movie, cancel=cancel), on_step=lambda _: cancel.set()
    )
    assert cancelled is None


def test_summary_layers_are_named_after_the_movie_with_only_the_correlation_shown(recording):
    images = compute_summary_images(recording.movie).as_dict()
    layers = summary_layers(images, "session")
    assert [layer.name for layer in layers] == [
        "session mean",
        "session max",
        "session std",
        "session correlation",
        "session enhanced mean",
    ]
    assert [layer.visible for layer in layers] == [False, False, False, True, False]
    suite2p = summary_layers(
        {"mean": images["mean"], "correlation": images["correlation"]}, "s", suite2p=True
    )
    assert [(layer.key, layer.name) for layer in suite2p] == [
        ("mean (suite2p)", "s mean (suite2p)"),
        ("correlation (suite2p)", "s correlation (suite2p)"),
    ]


def test_contrast_limits_ignore_a_few_extreme_pixels():
    image = np.arange(10_000, dtype=np.float32).reshape(100, 100)
    image[0, 0] = 1e9  # one hot pixel
    low, high = display_limits("mean", image)
    assert low == pytest.approx(np.percentile(image, 1)) and high < 1e5
    assert display_limits("enhanced_mean", image) == (0.0, 1.0)
    correlation = np.linspace(-0.2, 0.8, 10_000).reshape(100, 100)
    low, high = display_limits("correlation", correlation)
    assert (low, high) == pytest.approx(tuple(np.percentile(correlation, [1, 99.5])))
    assert display_limits("std", np.zeros((4, 4))) == (0.0, 1.0)  # never low == high
    assert display_limits("mean", np.full((4, 4), np.nan)) == (0.0, 1.0)


# -- an ROI's correlation map ---------------------------------------------------------------------
def test_roi_correlation_map_is_its_f_against_each_pixel_in_three_times_its_box(model, recording):
    movie = recording.movie
    token = extract(model, movie)
    key = next(k for k in model.roi_keys() if not model.summary(k).excluded)
    assert roi_correlation_problem(model, key, token, len(movie)) is None
    roi = model.roi(key)
    window = roi_correlation_window(model, key)
    height, width = roi.bottom - roi.top, roi.right - roi.left
    assert window == Window(
        max(0, roi.top - height),
        max(0, roi.left - width),
        min(96, roi.bottom + height),
        min(120, roi.right + width),
    )
    inputs = RoiMapInputs.of(model, key)
    f = model.traces[key].roi.copy()
    model.labels_edited(np.zeros_like(recording.roi_labels))  # the ROIs change: the map does not
    _, result = finish(roi_correlation_job(inputs, movie))
    assert result.key == key and result.window == window
    top, left, bottom, right = window
    pixels = movie[:, top:bottom, left:right].reshape(len(movie), -1).astype(float)
    expected = np.array([np.corrcoef(f, p)[0, 1] if p.std() else 0 for p in pixels.T])
    np.testing.assert_allclose(result.image.ravel(), expected, atol=1e-6)
    # the cell's own pixels follow its F better than the window's average pixel
    inside = roi.plane(model.image_shape)[top:bottom, left:right]
    assert result.image[inside].mean() > result.image[~inside].mean() + 0.2


def test_roi_correlation_problems_say_what_to_do(model, recording):
    movie = recording.movie
    token = movie_token(movie)
    key = model.roi_keys()[0]
    assert "Select an ROI first" in roi_correlation_problem(model, None, token, 90)
    assert "Extract the traces of ROI" in roi_correlation_problem(model, key, token, 90)
    extract(model, movie)
    assert "Extract the traces of ROI" in roi_correlation_problem(model, key, "another movie", 90)
    excluded = next(k for k in model.roi_keys() if model.summary(k).excluded)
    assert "holds NaN" in roi_correlation_problem(model, excluded, token, 90)
    labels = recording.roi_labels.copy()
    labels[labels == key] = 0
    labels[np.nonzero(recording.roi_labels == key)[0][0], 0] = key  # moved: traces stale
    model.labels_edited(labels)
    assert "stale" in roi_correlation_problem(model, key, token, 90)


def test_cancelled_roi_map_is_none(model, recording):
    extract(model, recording.movie)
    key = next(k for k in model.roi_keys() if not model.summary(k).excluded)
    cancel = threading.Event()
    cancel.set()
    inputs = RoiMapInputs.of(model, key)
    _, result = finish(roi_correlation_job(inputs, recording.movie, cancel=cancel))
    assert result is None


# -- pixel traces -------------------------------------------------------------------------------
def test_pixel_trace_job_and_its_label(recording):
    movie = recording.movie
    _, trace = finish(pixel_trace_job(movie, 40, 50))
    np.testing.assert_array_equal(trace.values, movie[:, 39:42, 49:52].reshape(90, -1).mean(axis=1))
    assert trace.label == "3x3 around (row 40, column 50)"
    _, one = finish(pixel_trace_job(movie, 40, 50, neighbourhood=0))
    assert one.label == "pixel (row 40, column 50)"
    np.testing.assert_array_equal(one.values, movie[:, 40, 50])
    ((label, values),) = pixel_series(one, dff=True, window=31)
    assert label == "pixel (row 40, column 50) dF/F" and values.shape == (90,)


def test_a_cancel_while_the_result_is_finished_shows_nothing():
    cancel = threading.Event()

    def steps():
        yield 1, 1
        cancel.set()  # Cancel pressed during the last step, which finishes the images
        return "images"

    _, result = finish(cancellable_job(steps(), cancel))
    assert result is None


def test_a_failure_while_reading_is_a_job_failure():
    def steps():
        yield 1, 2
        raise RuntimeError("the disk went away")

    with pytest.raises(JobFailed, match="the disk went away"):
        finish(cancellable_job(steps()))
