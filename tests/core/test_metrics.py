"""Per-ROI quality metrics, each against an independent reference."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from napari_roimasks.core.border import MotionBorder
from napari_roimasks.core.masks import MaskCrop
from napari_roimasks.core.metrics import (
    METRICS,
    aspect_ratio,
    border_distances,
    compactness,
    image_metrics,
    roi_metrics,
    trace_events,
    trace_metrics,
)

SUITE2P = Path(__file__).parents[1] / "data" / "suite2p_metrics" / "suite2p_roi_stats.npz"


def test_compactness_and_aspect_ratio_are_suite2ps():
    reference = np.load(SUITE2P, allow_pickle=False)
    for name, mask, compact, aspect in zip(
        reference["names"],
        reference["masks"],
        reference["compact"],
        reference["aspect_ratio"],
        strict=True,
    ):
        crop = MaskCrop(5, 7, mask)
        assert compactness(crop) == pytest.approx(compact, rel=1e-12), name
        # suite2p weighs the pixels in float32: its covariance is rounded there
        assert aspect_ratio(crop) == pytest.approx(aspect, rel=1e-7, abs=1e-9), name


def noisy_trace_with_spikes(rng, n_frames=3000, spikes=(200, 700, 1500, 2400), size=12.0):
    trace = rng.normal(100.0, 1.0, n_frames)
    for frame in spikes:
        trace[frame : frame + 30] += size * np.exp(-np.arange(len(trace[frame : frame + 30])) / 8.0)
    return trace


def test_skew_is_the_third_standardised_moment(rng):
    traces = np.stack([rng.exponential(2.0, 5000), rng.normal(0, 1, 5000), -rng.gamma(2, 1, 5000)])
    centred = traces - traces.mean(axis=1, keepdims=True)
    by_hand = (centred**3).mean(axis=1) / (centred**2).mean(axis=1) ** 1.5
    np.testing.assert_allclose(trace_metrics(traces)["skew"], by_hand, rtol=1e-10)
    assert trace_metrics(traces)["skew"][0] > 1.5  # an exponential's skew is 2


def test_snr_and_events_on_a_trace_with_known_spikes_and_noise(rng):
    trace = noisy_trace_with_spikes(rng)
    metrics = trace_metrics(trace[None])
    # the noise sigma from frame-to-frame steps recovers the noise (1.0) despite the spikes
    steps = np.abs(np.diff(trace))
    sigma = 1.4826 * np.median(steps) / np.sqrt(2)
    assert sigma == pytest.approx(1.0, rel=0.1)
    expected_snr = (np.percentile(trace, 99) - np.median(trace)) / sigma
    assert metrics["snr"][0] == pytest.approx(expected_snr, rel=1e-12)
    frames, amplitudes = trace_events(trace)
    for spike in (200, 700, 1500, 2400):
        assert np.min(np.abs(frames - spike)) <= 2, spike
    assert metrics["events"][0] == len(frames)
    assert np.all(amplitudes > 3 * sigma)
    assert len(frames) == events_by_hand(trace, np.median(trace) + 3 * sigma)


def events_by_hand(trace, threshold):
    """Frame by frame: a frame above the threshold starts an event unless the last frame
    above was fewer than 3 frames before it."""
    count, last_above = 0, -(10**9)
    for frame, value in enumerate(trace):
        if value > threshold:
            if frame - last_above > 3:
                count += 1
            last_above = frame
    return count


def test_runs_above_the_threshold_fewer_than_3_frames_apart_are_one_event():
    trace = np.zeros(60)
    trace[::2] = 0.5  # noise of steps 0.5: sigma = 1.4826 * 0.5 / sqrt(2), about 0.52
    trace[10:13] = [9, 10, 9]
    trace[15:17] = [12, 9]  # 2 frames after the first run: the same transient, peak 15
    trace[30:32] = [9, 11]  # 14 frames later: a second one
    frames, amplitudes = trace_events(trace)
    np.testing.assert_array_equal(frames, [15, 31])
    np.testing.assert_allclose(amplitudes, [12 - np.median(trace), 11 - np.median(trace)])


def test_flat_and_unusable_traces_get_no_events_and_nan_rows(rng):
    traces = np.stack([np.full(100, 5.0), rng.normal(0, 1, 100), rng.normal(0, 1, 100)])
    traces[2, 10] = np.nan  # an excluded ROI's trace
    metrics = trace_metrics(traces)
    assert trace_events(traces[0])[0].size == 0
    assert np.isnan(metrics["skew"][2]) and np.isnan(metrics["snr"][2])
    assert np.isnan(metrics["events"][2])
    assert np.isfinite(metrics["snr"][1])


def test_border_distance_counts_pixels_to_the_usable_edge():
    border = MotionBorder(left=3, right=2, top=4, bottom=1)  # usable rows 4..18, columns 3..17
    dot = np.ones((1, 1), bool)
    masks = [
        MaskCrop(10, 10, np.ones((3, 3), bool)),  # rows 10-12, columns 10-12
        MaskCrop(4, 10, dot),  # on the first usable row
        MaskCrop(2, 10, dot),  # two rows into the top border
        MaskCrop(10, 17, dot),  # on the last usable column
        None,
        # a file's box wider than its pixels (as Allen JSON may be): the pixels count, at row 6
        MaskCrop(2, 10, np.pad(dot, ((4, 1), (1, 1)))),
    ]
    np.testing.assert_array_equal(
        border_distances(masks, border, (20, 20)), [min(6, 6, 7, 5), 0, -2, 0, np.nan, 2]
    )


def test_image_metrics_on_hand_made_images():
    mean = np.zeros((10, 10))
    mean[:, :] = [0, 1, 2, 3, 0, 1, 2, 3, 0, 1]  # the ring sees 0..3 around a bright ROI
    mean[4:6, 4:6] = 10.0
    correlation = np.full((10, 10), 0.1)
    correlation[4:6, 4:6] = 0.8
    roi = MaskCrop(4, 4, np.ones((2, 2), bool))
    ring_pixels = np.ones((6, 6), bool)
    ring_pixels[2:4, 2:4] = False
    ring = MaskCrop(2, 2, ring_pixels)
    metrics = image_metrics([roi, None], [ring, None], correlation=correlation, mean=mean)
    around = mean[2:8, 2:8][ring_pixels]
    assert metrics["correlation_roi"][0] == pytest.approx(0.8)
    assert metrics["correlation_ring"][0] == pytest.approx(0.1)
    assert metrics["brightness_z"][0] == pytest.approx((10.0 - around.mean()) / around.std())
    assert all(np.isnan(metrics[name][1]) for name in metrics)
    without = image_metrics([roi], [ring])
    assert all(np.isnan(without[name][0]) for name in without)


def test_every_metric_in_the_table_order(rng):
    roi = MaskCrop(4, 4, np.ones((2, 2), bool))
    metrics = roi_metrics(
        [roi, roi],
        [None, None],
        border=MotionBorder(),
        image_shape=(10, 10),
        corrected=rng.normal(0, 1, (2, 50)),
    )
    assert tuple(metrics) == METRICS
    assert all(metrics[name].shape == (2,) for name in METRICS)
    assert metrics["area"][0] == 4 and np.isnan(metrics["brightness_z"][0])
