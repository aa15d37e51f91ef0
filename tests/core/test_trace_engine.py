"""The trace engine: progress, cancel, read-ahead and its bad input."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest

from napari_roimasks.core import ExtractionCancelled, extract_traces
from napari_roimasks.core.masks import MaskCrop

CROSS = MaskCrop(1, 1, np.array([[0, 1, 0], [1, 1, 1], [0, 1, 0]], dtype=bool))
CORNER = MaskCrop(0, 3, np.array([[1, 1], [0, 1]], dtype=bool))


def means(movie, mask):
    return movie[:, mask.slices[0], mask.slices[1]][:, mask.pixels].mean(axis=1)


class RecordingFrames:
    """A frame source that records which frame ranges were read."""

    def __init__(self, movie):
        self.movie, self.shape, self.dtype = movie, movie.shape, movie.dtype
        self.reads = []

    def __getitem__(self, key):
        self.reads.append((key.start, key.stop))
        return self.movie[key]


def test_progress_is_reported_after_every_block(rng):
    movie = rng.random((10, 4, 5))
    seen = []
    traces = extract_traces(
        movie,
        [CROSS, CORNER],
        block_size=4,
        progress=lambda done, total: seen.append((done, total)),
    )
    assert seen == [(4, 10), (8, 10), (10, 10)]
    np.testing.assert_allclose(traces, [means(movie, CROSS), means(movie, CORNER)], rtol=1e-12)


def test_cancel_stops_within_one_block_and_returns_nothing(rng):
    frames = RecordingFrames(rng.integers(0, 100, (100, 4, 5), dtype=np.uint16))
    done = []
    with pytest.raises(ExtractionCancelled, match="stopped at frame 20 of 100"):
        extract_traces(
            frames,
            [CROSS],
            block_size=10,
            progress=lambda d, t: done.append(d),
            should_stop=lambda: len(done) >= 2,
        )
    assert done == [10, 20]
    # one block is read ahead while the current one is summed, never more
    assert frames.reads == [(0, 10), (10, 20), (20, 30)]


def test_each_frame_is_read_once_in_order(rng):
    frames = RecordingFrames(rng.integers(0, 100, (23, 4, 5), dtype=np.uint8))
    traces = extract_traces(frames, [CROSS], block_size=5)
    assert frames.reads == [(0, 5), (5, 10), (10, 15), (15, 20), (20, 23)]
    np.testing.assert_array_equal(traces[0], means(frames.movie, CROSS))


def test_blocks_shrink_to_the_byte_budget(rng):
    frames = RecordingFrames(rng.random((10, 4, 5)))  # 160 bytes per frame
    extract_traces(frames, [CROSS], block_size=1000, max_block_bytes=500)
    assert frames.reads == [(0, 3), (3, 6), (6, 9), (9, 10)]


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_threads_do_not_change_a_number(rng, threads):
    movie = rng.random((37, 4, 5)).astype(np.float32)
    expected = extract_traces(movie, [CROSS, CORNER], threads=1)
    np.testing.assert_array_equal(extract_traces(movie, [CROSS, CORNER], threads=threads), expected)


@pytest.mark.parametrize("threads", [3, 4])
@pytest.mark.parametrize("dtype", [np.uint16, np.int32])
def test_threads_summing_an_integer_movie_give_its_exact_means(rng, random_masks, threads, dtype):
    # integer movies are summed through a running sum per frame kept in scratch memory, which
    # each thread needs for itself; the default thread count on a 2-core machine is 1, so the
    # threads are asked for here, with blocks of 24 frames: 6 or more frames for each thread
    movie = rng.integers(0, 4000, (480, 96, 80)).astype(dtype)
    masks = random_masks(rng, 60, movie.shape[1:])
    expected = np.array([means(movie, mask) for mask in masks])
    # threads that shared scratch memory would clash only when they run at the same moment,
    # which a busy machine's other work can prevent for a while: several runs, more chances
    for _ in range(5):
        traces = extract_traces(movie, masks, block_size=24, threads=threads)
        np.testing.assert_array_equal(traces, expected, strict=True)


def test_no_masks_or_no_frames(rng):
    assert extract_traces(rng.random((5, 4, 5)), []).shape == (0, 5)
    assert extract_traces(np.zeros((0, 4, 5)), [CROSS]).shape == (1, 0)


def test_bad_masks_are_refused_before_reading(rng):
    frames = RecordingFrames(rng.random((3, 4, 5)))
    with pytest.raises(ValueError, match="mask 1 has no pixels"):
        extract_traces(frames, [CROSS, MaskCrop(0, 0, np.zeros((2, 2), bool))])
    with pytest.raises(ValueError, match="mask 0 lies partly outside the 4x5 frame"):
        extract_traces(frames, [MaskCrop(3, 4, np.ones((2, 2), bool))])
    assert frames.reads == []


def test_movie_that_is_not_numbers_is_refused():
    with pytest.raises(TypeError, match="must hold numbers"):
        extract_traces(np.zeros((2, 4, 5), dtype="U1"), [CROSS])


def test_absent_masks_keep_their_place_as_nan_rows(rng):
    movie = rng.integers(0, 100, (6, 4, 5), dtype=np.uint16)
    traces = extract_traces(movie, [None, CROSS, None])
    assert np.isnan(traces[[0, 2]]).all()
    np.testing.assert_array_equal(traces[1], means(movie, CROSS))


def test_only_absent_masks_do_not_read_the_movie(rng):
    frames = RecordingFrames(rng.random((6, 4, 5)))
    assert np.isnan(extract_traces(frames, [None, None])).all()
    assert frames.reads == []


def test_movie_for_another_image_size_is_refused_before_reading(rng):
    frames = RecordingFrames(rng.random((3, 4, 6)))
    with pytest.raises(
        ValueError, match="frames are 4 rows x 6 columns but the masks were made for 4 rows x 5"
    ):
        extract_traces(frames, [CROSS], image_shape=(4, 5))
    assert frames.reads == []


@pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() != 0 or shutil.which("setpriv") is None,
    reason="needs root and setpriv, to run as a user who can write nowhere",
)
def test_traces_are_extracted_by_a_user_who_cannot_write_numbas_cache():
    """A shared install: the package folder and HOME are read-only for the user (nobody)."""
    work = Path(tempfile.mkdtemp(prefix="numba-readonly-"))
    try:
        home = work / "home"
        home.mkdir()
        script = work / "extract.py"
        script.write_text(
            "import numpy as np\n"
            "from napari_roimasks import roi_masks\n"
            "movie = np.arange(5 * 8 * 8, dtype=np.uint16).reshape(5, 8, 8)\n"
            "mask = np.zeros((8, 8), bool)\n"
            "mask[2:4, 2:5] = True\n"
            "roi = roi_masks.create_roi_mask(8, 8, [0, 0, 0, 0], roi_mask=mask, label=1)\n"
            "print(roi_masks.calculate_traces(movie, [roi])[0][0].tolist())\n"
        )
        for path in (work, home, script):
            path.chmod(0o555 if path.is_dir() else 0o444)
        as_nobody = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"]
        run = {
            "env": {"PATH": "/usr/bin:/bin", "HOME": str(home)},
            "cwd": work,
            "capture_output": True,
            "text": True,
            "timeout": 300,
        }
        # the package must be readable by that user (a checkout in a private folder is not)
        reachable = subprocess.run(
            [*as_nobody, sys.executable, "-c", "import napari_roimasks"], **run
        )
        if reachable.returncode != 0:
            pytest.skip(f"nobody cannot import this checkout: {reachable.stderr.strip()[-200:]}")
        result = subprocess.run([*as_nobody, sys.executable, str(script)], **run)
        assert result.returncode == 0, result.stderr
        expected = [float(np.arange(5 * 64).reshape(5, 8, 8)[t, 2:4, 2:5].mean()) for t in range(5)]
        assert result.stdout.strip() == str(expected)
        assert "cannot cache" not in result.stderr
    finally:
        for path in (work, work / "home"):
            path.chmod(0o755)
        shutil.rmtree(work)
