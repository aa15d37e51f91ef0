"""Reading an HDF5 movie straight from its chunks: the same frames and traces as h5py's reads.

Every layout a movie comes in is written here with h5py, and read both ways;
layouts the direct reads do not handle must fall back to h5py and still give
the same traces.
"""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from napari_roimasks.core import extract_traces
from napari_roimasks.core.hdf5_chunks import direct_reads
from napari_roimasks.core.summary_images import compute_summary_images

SHAPE = (23, 20, 17)  # a prime number of frames: the last chunk is partly empty

DIRECT_LAYOUTS = {
    "contiguous": {},
    "one frame per chunk": {"chunks": (1, 20, 17)},
    "5 frames per chunk": {"chunks": (5, 20, 17)},
    "gzip": {"chunks": (4, 20, 17), "compression": "gzip"},
    "gzip after shuffle": {"chunks": (4, 20, 17), "compression": "gzip", "shuffle": True},
    "shuffle alone": {"chunks": (3, 20, 17), "shuffle": True},
}

H5PY_LAYOUTS = {
    "chunks that split frames": {"chunks": (4, 10, 17)},
    "checksums": {"chunks": (4, 20, 17), "fletcher32": True},
    "lzf": {"chunks": (4, 20, 17), "compression": "lzf"},
}


def write_movie(path, movie, **layout):
    with h5py.File(path, "w") as f:
        f.create_dataset("data", data=movie, **layout)
    return path


@pytest.fixture
def movie(rng):
    return rng.integers(0, 4000, SHAPE).astype(np.uint16)


@pytest.mark.parametrize("layout", DIRECT_LAYOUTS)
@pytest.mark.parametrize("dtype", ["<u2", ">u2", "<i4", "<f4", ">f8"])
def test_direct_reads_give_the_frames_h5py_gives(tmp_path, movie, layout, dtype):
    movie = movie.astype(dtype) - (500 if dtype[1] != "u" else 0)
    path = write_movie(tmp_path / "movie.h5", movie, **DIRECT_LAYOUTS[layout])
    with h5py.File(path, "r") as f:
        reads = direct_reads(f["data"])
        assert reads is not None
        for start, stop in [(0, 23), (0, 1), (3, 11), (7, 8), (19, 23), (22, 23)]:
            out = np.empty((stop - start, *SHAPE[1:]), dtype=reads.dtype)
            reads.read(out, start, stop)
            np.testing.assert_array_equal(out, movie[start:stop], strict=False)


@pytest.mark.parametrize("layout", [*DIRECT_LAYOUTS, *H5PY_LAYOUTS])
@pytest.mark.parametrize("dtype", [np.uint16, np.int16, np.float32])
def test_traces_from_the_file_equal_traces_from_memory(
    tmp_path, rng, random_masks, movie, layout, dtype
):
    movie = movie.astype(dtype)
    masks = random_masks(rng, 40, SHAPE[1:])
    path = write_movie(tmp_path / "movie.h5", movie, **{**DIRECT_LAYOUTS, **H5PY_LAYOUTS}[layout])
    expected = extract_traces(movie, masks, block_size=6)
    with h5py.File(path, "r") as f:
        assert (direct_reads(f["data"]) is None) == (layout in H5PY_LAYOUTS)
        for threads in (1, 3):
            traces = extract_traces(f["data"], masks, block_size=6, threads=threads)
            np.testing.assert_array_equal(traces, expected, strict=True)


def test_traces_and_summary_images_in_one_direct_pass_equal_separate_passes(
    tmp_path, rng, random_masks, movie
):
    from napari_roimasks.core.frame_pass import frame_pass
    from napari_roimasks.core.summary_images import SummarySums
    from napari_roimasks.core.traces import TraceSums

    masks = random_masks(rng, 30, SHAPE[1:])
    path = write_movie(tmp_path / "movie.h5", movie, chunks=(4, 20, 17), compression="gzip")
    with h5py.File(path, "r") as f:
        traces = TraceSums(masks, SHAPE, movie.dtype, threads=2)
        summary = SummarySums(SHAPE[1:], movie.dtype, threads=2)
        for _ in frame_pass(f["data"], [traces, summary], per_block=7, threads=2):
            pass
    np.testing.assert_array_equal(traces.result(), extract_traces(movie, masks), strict=True)
    expected = compute_summary_images(movie, block_size=7, cell_diameter=10.0)
    for name in ("mean", "max", "std", "correlation"):
        np.testing.assert_array_equal(
            getattr(summary.result(10.0), name), getattr(expected, name), err_msg=name
        )


def test_files_h5py_must_read_are_left_to_it(tmp_path, random_masks, movie):
    path = write_movie(tmp_path / "movie.h5", movie, chunks=(1, 20, 17))
    with h5py.File(path, "r+") as f:  # still being written: its bytes may change under us
        assert direct_reads(f["data"]) is None
    with h5py.File(tmp_path / "unwritten.h5", "w") as f:
        f.create_dataset("data", shape=SHAPE, dtype=np.uint16, chunks=(1, 20, 17), fillvalue=7)
        f["data"][:5] = movie[:5]
    with h5py.File(tmp_path / "unwritten.h5", "r") as f:
        assert direct_reads(f["data"]) is None  # HDF5 makes up the frames never written
        traces = extract_traces(f["data"], random_masks(np.random.default_rng(1), 5, SHAPE[1:]))
        assert traces.shape == (5, 23)
    with h5py.File(tmp_path / "bool.h5", "w") as f:
        f.create_dataset("data", data=movie > 2000)
    with h5py.File(tmp_path / "bool.h5", "r") as f:
        assert direct_reads(f["data"]) is None


def test_a_corrupt_compressed_chunk_is_an_error_naming_its_frames(tmp_path, random_masks, movie):
    path = write_movie(tmp_path / "movie.h5", movie, chunks=(4, 20, 17), compression="gzip")
    with h5py.File(path, "r") as f:
        reads = direct_reads(f["data"])
        offset, size = int(reads.offsets[2]), int(reads.sizes[2])
    with open(path, "r+b") as raw:
        raw.seek(offset + size // 2)
        raw.write(b"\xff" * 16)
    with h5py.File(path, "r") as f, pytest.raises(OSError, match="frames 8-11"):
        extract_traces(f["data"], random_masks(np.random.default_rng(2), 5, SHAPE[1:]))


def test_pieces_hold_whole_groups_of_the_frames_the_trace_loop_sums_at_once():
    from napari_roimasks.core._sum_runs import FRAMES_AT_ONCE
    from napari_roimasks.core.frame_pass import PIECE_FRAMES

    assert PIECE_FRAMES % FRAMES_AT_ONCE == 0


def test_closing_the_file_during_a_pass_changes_no_number(tmp_path, random_masks, movie):
    # the engine reads the file through its own descriptor: a file opened meanwhile that gets
    # the closed file's descriptor number is never read in its place
    path = write_movie(tmp_path / "movie.h5", movie, chunks=(1, 20, 17))
    write_movie(tmp_path / "other.h5", movie + 1, chunks=(1, 20, 17))
    masks = random_masks(np.random.default_rng(3), 10, SHAPE[1:])
    handle = h5py.File(path, "r")
    opened = []

    def close_and_open_another(done, total):
        if not opened:
            handle.close()
            opened.append(h5py.File(tmp_path / "other.h5", "r"))

    try:
        traces = extract_traces(
            handle["data"], masks, block_size=5, progress=close_and_open_another
        )
    finally:
        for other in opened:
            other.close()
    np.testing.assert_array_equal(traces, extract_traces(movie, masks), strict=True)


def test_a_file_cut_short_names_the_frames_it_cannot_read(tmp_path, random_masks, movie):
    path = write_movie(tmp_path / "movie.h5", movie)  # contiguous: the frames are the file's end
    with h5py.File(path, "r") as f:
        reads = direct_reads(f["data"])
        with open(path, "r+b") as raw:
            raw.truncate(int(reads.offsets[0]) + 5 * reads.frame_bytes)
        out = np.empty((10, *SHAPE[1:]), dtype=reads.dtype)
        with pytest.raises(OSError, match=r"frames 0-9 cannot be read \(the file ends"):
            reads.read(out, 0, 10)
