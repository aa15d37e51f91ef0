"""Event review, headless: an ROI's transients against the synthetic recording's known spikes,
and the dF image around an event, read from only its frames and its crop."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from napari_roimasks.core.pixel_traces import Window
from napari_roimasks.model import Correction, RoiModel, extraction_job, movie_token
from napari_roimasks.model.events import (
    EVENT_CROP_MARGIN,
    SIGMA,
    Transient,
    aligned_labels,
    event_crop,
    event_frames,
    event_image_job,
    roi_transients,
    trace_transients,
    transients_problem,
)
from napari_roimasks.pipeline import MovieMasks
from napari_roimasks.synthetic import make_recording


def finish(job):
    """Drive a job as napari's worker does: its steps and its result."""
    steps = []
    while True:
        try:
            steps.append(next(job))
        except StopIteration as finished:
            return steps, finished.value


def extracted_model(recording) -> RoiModel:
    model = RoiModel()
    model.set_border(recording.motion_border)
    model.set_rois_from_labels(recording.roi_labels)
    token = movie_token(recording.movie)
    plan = model.plan_extraction(token)
    source = MovieMasks(plan.masks, len(recording.movie), frames=recording.movie)
    _, results = finish(extraction_job(plan, source))
    model.store_traces(token, results)
    return model


def spikes_found(spikes, frames, tolerance=2) -> float:
    """The share of ``spikes`` within ``tolerance`` frames of one of ``frames``."""
    frames = np.asarray(frames)
    if frames.size == 0:
        return 0.0
    return float(np.mean([np.abs(frames - s).min() <= tolerance for s in spikes]))


# -- the transients ------------------------------------------------------------------------------
@pytest.mark.parametrize(("n_frames", "seed"), [(300, 0), (450, 1), (600, 2), (600, 3)])
def test_every_active_cells_known_spikes_are_among_its_listed_transients(n_frames, seed):
    recording = make_recording(n_frames=n_frames, seed=seed)
    model = extracted_model(recording)
    active = [k for k in model.roi_keys() if not model.summary(k).exclusions]
    assert len(active) >= 30  # the border excludes a few cells, not the recording
    for key in active:
        listed = roi_transients(model, key)
        spikes = recording.spike_frames[key - 1]
        assert spikes_found(spikes, [t.frame for t in listed]) >= 0.9, (key, spikes, listed)
        amplitudes = [t.amplitude for t in listed]
        assert amplitudes == sorted(amplitudes, reverse=True)
        # not a list padded with noise: about one transient per spike
        assert len(listed) <= len(spikes) + 2


def test_amplitudes_are_over_the_corrected_traces_median_and_follow_r():
    recording = make_recording(n_frames=300, seed=4)
    model = extracted_model(recording)
    key = next(k for k in model.roi_keys() if not model.summary(k).exclusions)
    stored = model.traces[key]
    for r in (0.7, 0.3):
        model.set_correction(Correction(fixed_r=r))
        corrected = stored.roi - r * stored.neuropil
        steps = np.abs(np.diff(corrected))
        sigma = 1.4826 * np.median(steps) / np.sqrt(2)
        for transient in roi_transients(model, key):
            height = corrected[transient.frame] - np.median(corrected)
            assert transient.amplitude == pytest.approx(height)
            assert transient.sigmas == pytest.approx(height / sigma)


def decay(n_frames, onsets, heights, tau=10.0):
    trace = np.zeros(n_frames)
    for onset, height in zip(onsets, heights, strict=True):
        trace[onset:] += height * np.exp(-np.arange(n_frames - onset) / tau)
    return trace


def test_a_spike_on_the_decay_of_another_is_its_own_transient_as_are_the_ends(rng):
    trace = decay(200, [0, 50, 62, 199], [400, 500, 300, 350]) + rng.normal(0, 3, 200)
    # runs of frames above the threshold would have made 50 and 62 one transient
    listed = trace_transients(trace)
    assert [t.frame for t in listed] == [50, 62, 0, 199]  # 62 is higher: it rides on 50's decay
    assert all(t.sigmas > 3 for t in listed)


def test_peaks_fewer_than_three_frames_apart_count_once_and_the_list_is_cut(rng):
    trace = decay(300, [40, 42, 100, 160, 220], [300, 600, 200, 250, 900]) + rng.normal(0, 2, 300)
    listed = trace_transients(trace)
    assert [t.frame for t in listed] == [220, 42, 160, 100]
    assert [t.frame for t in trace_transients(trace, max_transients=2)] == [220, 42]
    with pytest.raises(ValueError, match="at least 1"):
        trace_transients(trace, max_transients=0)


def test_a_trace_without_numbers_or_noise_has_no_transients():
    assert trace_transients(np.full(100, np.nan)) == []
    assert trace_transients(np.r_[np.zeros(50), np.nan, np.zeros(49)]) == []
    assert trace_transients(np.full(100, 7.0)) == []
    with pytest.raises(ValueError, match="1D"):
        trace_transients(np.zeros((2, 50)))


def test_the_label_shows_frame_amplitude_and_sigmas():
    assert Transient(123, 450.2, 8.12).label == f"frame 123  +450  (8.1 {SIGMA})"
    assert Transient(7, 2.46, 4.0).label == f"frame 7  +2.5  (4.0 {SIGMA})"
    assert Transient(7, 0.0312, 5.55).label == f"frame 7  +0.031  (5.5 {SIGMA})"
    rows = aligned_labels([Transient(183, 992.0, 197.7), Transient(40, 64.0, 9.2)])
    assert rows == [f"frame 183   +992  (197.7 {SIGMA})", f"frame  40  +64.0  (  9.2 {SIGMA})"]


def test_why_an_roi_has_no_list():
    recording = make_recording(n_frames=120, shape=(96, 120), n_cells=20, seed=5)
    model = RoiModel()
    model.set_border(recording.motion_border)
    model.set_rois_from_labels(recording.roi_labels)
    assert "Select one ROI" in transients_problem(model, None)
    assert transients_problem(model, 1).startswith("Extract traces first")
    assert roi_transients(model, 1) == []
    token = movie_token(recording.movie)
    plan = model.plan_extraction(token)
    _, results = finish(extraction_job(plan, MovieMasks(plan.masks, 120, frames=recording.movie)))
    model.store_traces(token, results)
    excluded = next(k for k in model.roi_keys() if model.summary(k).exclusions)
    assert "NaN" in transients_problem(model, excluded)
    fine = next(k for k in model.roi_keys() if not model.summary(k).exclusions)
    assert transients_problem(model, fine) is None
    model.set_movie("another movie")
    assert "stale" in transients_problem(model, fine)


# -- the dF image --------------------------------------------------------------------------------
class RecordingMovie:
    """A movie that remembers every index it is asked for."""

    def __init__(self, frames):
        self.frames = frames
        self.shape, self.dtype = frames.shape, frames.dtype
        self.asked = []

    def __getitem__(self, index):
        self.asked.append(index)
        return self.frames[index]


def expected_change(movie, frame, window, before=10, after=5):
    top, left, bottom, right = window
    crop = movie[:, top:bottom, left:right].astype(np.float64)
    baseline = crop[max(0, frame - before) : max(frame, 1)].mean(axis=0)
    return crop[frame : frame + after].mean(axis=0) - baseline


def test_the_df_image_reads_only_the_events_frames_and_the_crop(rng):
    frames = rng.integers(0, 4000, (200, 64, 80), dtype=np.uint16)
    movie = RecordingMovie(frames)
    window = Window(10, 22, 41, 57)
    steps, image = finish(event_image_job(movie, 3, 120, window))
    assert steps[-1] == (15, 15)
    for index in movie.asked:
        assert isinstance(index, tuple) and len(index) == 3
        rows, columns = index[1:]
        assert (rows.start, rows.stop, columns.start, columns.stop) == (10, 41, 22, 57)
    read = sorted(f for index in movie.asked for f in range(index[0].start, index[0].stop))
    assert read == list(range(110, 125))  # each frame of [f - 10, f + 5) once
    assert (image.key, image.frame, image.window) == (3, 120, window)
    assert image.frames.baseline == range(110, 120) and image.frames.response == range(120, 125)
    assert image.image.dtype == np.float32 and image.image.shape == (31, 35)
    np.testing.assert_allclose(image.image, expected_change(frames, 120, window), rtol=1e-6)

    # in blocks of 4 frames: each block one slice of the crop, each frame still read once
    movie.asked.clear()
    steps, blocks = finish(event_image_job(movie, 3, 120, window, block_size=4))
    assert [index[0] for index in movie.asked] == [
        slice(a, min(a + 4, 125)) for a in range(110, 125, 4)
    ]
    assert steps[-1] == (15, 15)  # progress: shown at most every PROGRESS_INTERVAL, and at the end
    np.testing.assert_allclose(blocks.image, image.image, rtol=1e-6)


def test_the_df_image_of_a_chunked_hdf5_movie_is_numpys_on_the_whole_movie(tmp_path, rng):
    h5py = pytest.importorskip("h5py")
    frames = rng.normal(1000, 50, (90, 70, 60)).astype(np.float32)
    path = tmp_path / "movie.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("data", data=frames, chunks=(4, 16, 16), compression="gzip")
    window = Window(3, 17, 45, 60)
    with h5py.File(path, "r") as f:
        _, image = finish(event_image_job(f["data"], "a", 40, window, before=7, after=3))
    np.testing.assert_allclose(
        image.image, expected_change(frames, 40, window, before=7, after=3), rtol=1e-5, atol=1e-3
    )


@pytest.mark.parametrize(
    ("frame", "baseline", "response"),
    [
        (0, range(0, 1), range(0, 5)),
        (4, range(0, 4), range(4, 9)),
        (98, range(88, 98), range(98, 100)),
    ],
)
def test_the_windows_are_clipped_at_the_movies_ends(frame, baseline, response, rng):
    assert event_frames(frame, 100) == type(event_frames(0, 1))(baseline, response)
    frames = rng.integers(0, 1000, (100, 20, 20), dtype=np.uint16)
    _, image = finish(event_image_job(frames, 1, frame, (0, 0, 20, 20)))
    crop = frames.astype(np.float64)
    expected = crop[response.start : response.stop].mean(0) - crop[
        baseline.start : baseline.stop
    ].mean(0)
    np.testing.assert_allclose(image.image, expected, rtol=1e-6)


def test_bad_requests_raise_before_reading_and_a_cancel_returns_none(rng):
    movie = RecordingMovie(rng.integers(0, 10, (30, 16, 16), dtype=np.uint16))
    with pytest.raises(ValueError, match="outside the movie"):
        finish(event_image_job(movie, 1, 30, (0, 0, 8, 8)))
    with pytest.raises(ValueError, match="not inside"):
        finish(event_image_job(movie, 1, 3, (0, 0, 8, 17)))
    with pytest.raises(ValueError, match="at least 1"):
        event_frames(3, 30, before=0)
    assert movie.asked == []
    cancel = threading.Event()
    cancel.set()
    assert finish(event_image_job(movie, 1, 3, (0, 0, 8, 8), cancel=cancel))[1] is None


@pytest.mark.parametrize("margin", [None, 0, 7, 200])
def test_the_crop_is_the_rois_box_grown_by_the_margin_inside_the_frame(margin):
    recording = make_recording(n_frames=30, shape=(96, 120), n_cells=20, seed=5)
    model = RoiModel()
    model.set_rois_from_labels(recording.roi_labels)
    for key in model.roi_keys():
        roi = model.roi(key)
        crop = event_crop(model, key) if margin is None else event_crop(model, key, margin=margin)
        m = EVENT_CROP_MARGIN if margin is None else margin
        assert crop == (
            max(0, roi.top - m),
            max(0, roi.left - m),
            min(96, roi.bottom + m),
            min(120, roi.right + m),
        )
    with pytest.raises(ValueError, match="no pixels"):
        event_crop(model, 999)
    with pytest.raises(ValueError, match="margin must be >= 0"):
        event_crop(model, model.roi_keys()[0], margin=-1)
