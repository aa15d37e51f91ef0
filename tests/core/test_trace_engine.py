"""The trace engine's progress reports and cancel flag."""

from __future__ import annotations

import numpy as np
import pytest

from napari_roimasks.core import ExtractionCancelled, extract_traces


def test_progress_is_reported_after_every_block(rng):
    movie = rng.random((10, 4, 5))
    seen = []
    traces = extract_traces(
        movie,
        [np.array([0, 7, 19])],
        block_size=4,
        progress=lambda done, total: seen.append((done, total)),
    )
    assert seen == [(4, 10), (8, 10), (10, 10)]
    np.testing.assert_allclose(traces[0], movie.reshape(10, -1)[:, [0, 7, 19]].mean(axis=1))


def test_cancel_stops_within_one_block_and_returns_nothing(rng):
    movie = rng.random((100, 4, 5))
    blocks_read = []

    class Frames:
        shape, dtype = movie.shape, movie.dtype

        def __getitem__(self, key):
            blocks_read.append(key.start)
            return movie[key]

    with pytest.raises(ExtractionCancelled, match="stopped at frame 30 of 100"):
        extract_traces(
            Frames(), [np.array([1, 2])], block_size=10, should_stop=lambda: len(blocks_read) >= 3
        )
    assert blocks_read == [0, 10, 20]


def test_empty_pixel_set_and_out_of_frame_pixels_are_refused(rng):
    movie = rng.random((3, 4, 5))
    with pytest.raises(ValueError, match="at least one pixel"):
        extract_traces(movie, [np.array([], dtype=np.int64)])
    with pytest.raises(ValueError, match="outside the 4x5 frame"):
        extract_traces(movie, [np.array([20])])
