"""One pass over a movie's frames, block by block, feeding every computation that wants them.

A frame source is anything with ``.shape == (frames, rows, columns)`` that
slices by frame range: a numpy array or memmap, an ``h5py.Dataset``, a dask or
zarr array. :func:`frame_pass` reads it one block of frames at a time, each
frame once, while a second thread reads the next block, and hands each block
to every :class:`BlockSink` (the trace sums, the summary images' sums, or
both); their work on a block runs in parallel on the machine's cores. So
extracting traces and computing the summary images together reads the movie
once.

An HDF5 movie in a plain layout (see :mod:`~napari_roimasks.core.hdf5_chunks`)
is read straight from its file's chunks instead, by every worker thread, a
small piece at a time: a :class:`FrameSink` (the trace sums) adds each piece
while it is still in the processor's cache, and the other sinks get the whole
block once its pieces are in.
"""

from __future__ import annotations

import itertools
import os
import threading
from collections.abc import Callable, Generator, Sequence
from concurrent.futures import ThreadPoolExecutor
from numbers import Integral
from typing import Protocol

import numpy as np

__all__ = [
    "DEFAULT_BLOCK_BYTES",
    "BlockSink",
    "ExtractionCancelled",
    "FrameSink",
    "as_kernel_input",
    "check_frame_source",
    "default_threads",
    "frame_pass",
    "frames_per_block",
    "run_steps",
]

#: Largest block read at once, in bytes, whatever ``block_size`` says: two
#: blocks are in memory at a time (one read ahead), and small blocks also keep
#: progress and cancel responsive.
DEFAULT_BLOCK_BYTES = 32 * 2**20

#: Largest piece a worker reads straight from an HDF5 file before summing it: small enough
#: to stay in the processor's cache (but at least :data:`PIECE_FRAMES` and a whole
#: compressed chunk).
PIECE_BYTES = 2**20

#: Fewest frames in a piece: the trace loop sums this many frames at once
#: (``_sum_runs.FRAMES_AT_ONCE``, which must divide it; a test checks).
PIECE_FRAMES = 8


class ExtractionCancelled(RuntimeError):
    """Raised when the caller asked a pass over the movie to stop; nothing is returned."""


class BlockSink(Protocol):
    """A computation fed one block of frames at a time by :func:`frame_pass`."""

    def tasks(self, start: int, block: np.ndarray) -> list[Callable[[], None]]:
        """Work on frames ``start:start + len(block)``, split into tasks that may run in
        parallel (compiled loops that release the GIL). ``block`` is reused after them."""

    def block_done(self, start: int, block: np.ndarray | None) -> None:
        """Called once every task of the block has finished; ``block`` is None when the pass
        fed the block's frames piece by piece (to :class:`FrameSink` only)."""


class FrameSink(BlockSink, Protocol):
    """A :class:`BlockSink` whose work on a frame does not depend on the block's other frames:
    it can be fed pieces of a block, by several threads at once (each its own frames)."""

    def prepare(self) -> None:
        """Load what the work needs (compiled loops); called in a thread while frames are read."""

    def begin_block(self, start: int, n_frames: int, workers: int) -> None:
        """Frames ``start:start + n_frames`` are coming, from threads numbered ``0:workers``."""

    def add_frames(self, start: int, frames: np.ndarray, worker: int) -> None:
        """Work on frames ``start:start + len(frames)`` (kernel input, see :func:`as_kernel_input`),
        in thread number ``worker``; ``frames`` is reused afterwards."""


def check_frame_source(frames, image_shape: tuple[int, int] | None = None) -> tuple[int, int, int]:
    """Check that ``frames`` is a (frames, rows, columns) source; return its shape.

    Raises
    ------
    TypeError
        If ``frames`` has no ``.shape`` or cannot be sliced by frame range.
    ValueError
        If it is not 3D, or its frames differ from ``image_shape``.
    """
    shape = getattr(frames, "shape", None)
    if shape is None or not hasattr(frames, "__getitem__"):
        raise TypeError(
            "the movie must be an array-like of shape (frames, rows, columns) that "
            f"slices by frame range (numpy, h5py, memmap, dask, zarr), got {type(frames).__name__}"
        )
    shape = tuple(int(n) for n in shape)
    if len(shape) != 3:
        raise ValueError(f"the movie must be 3D (frames, rows, columns), got shape {shape}")
    if image_shape is not None and shape[1:] != tuple(image_shape):
        raise ValueError(
            f"the movie's frames are {shape[1]} rows x {shape[2]} columns but the masks "
            f"were made for {image_shape[0]} rows x {image_shape[1]} columns"
        )
    return shape


def frames_per_block(block_size, frame_bytes: int, max_block_bytes: int) -> int:
    """How many frames a block holds: at most ``block_size`` and ``max_block_bytes``, at least 1.

    Raises
    ------
    ValueError
        If ``block_size`` is not a whole number >= 1.
    """
    if isinstance(block_size, bool) or not isinstance(block_size, Integral) or block_size < 1:
        raise ValueError(f"block_size must be a whole number of frames >= 1, got {block_size!r}")
    return int(max(1, min(block_size, max_block_bytes // max(frame_bytes, 1))))


def default_threads(*, heavy: bool = False) -> int:
    """Threads that work on a block: one fewer than the cores (one reads ahead), 1 to 8.

    ``heavy``: work that takes several times the read (the summary images): one per core,
    the read ahead taking its turn.
    """
    cores = os.cpu_count() or 1
    return max(1, min(cores if heavy else cores - 1, 8))


class _BlockReader:
    """Reads frame ranges; h5py datasets go into two reused buffers (no fresh allocations)."""

    def __init__(self, frames, frames_per_block: int):
        self.frames = frames
        self.read_direct = getattr(frames, "read_direct", None)
        self.buffers = None
        if self.read_direct is not None and not isinstance(frames, np.ndarray):
            shape = (frames_per_block, *frames.shape[1:])
            self.buffers = [np.empty(shape, dtype=frames.dtype) for _ in range(2)]

    def read(self, start: int, stop: int, slot: int) -> np.ndarray:
        if isinstance(self.frames, np.ndarray):
            block = self.frames[start:stop]  # a view; a memmap reads its pages on touch
        elif self.buffers is not None:
            block = self.buffers[slot][: stop - start]
            self.read_direct(block, np.s_[start:stop])
        else:
            block = np.asarray(self.frames[start:stop])
        expected = (stop - start, *self.frames.shape[1:])
        if block.shape != expected:
            raise ValueError(
                f"frames {start}:{stop} of the movie came back with shape {block.shape}, expected {expected}"
            )
        return as_kernel_input(block)


def as_kernel_input(block: np.ndarray) -> np.ndarray:
    """``block`` as the compiled loops take it, with the same values.

    Parameters
    ----------
    block : (n_frames, rows, columns) ndarray
        Frames as read from the movie.

    Returns
    -------
    (n_frames, rows, columns) ndarray
        C-contiguous and in native byte order; booleans viewed as uint8 and
        half floats widened to float32 (types the loops are not compiled for).
    """
    if block.dtype == bool:
        block = block.view(np.uint8)
    elif block.dtype.kind == "f" and block.dtype.itemsize < 4:
        block = block.astype(np.float32)
    if not block.dtype.isnative:
        block = block.astype(block.dtype.newbyteorder("="))
    return np.ascontiguousarray(block)


def frame_pass(
    frames,
    sinks: Sequence[BlockSink],
    *,
    per_block: int,
    threads: int | None = None,
) -> Generator[tuple[int, int], None, None]:
    """Feed every block of ``frames`` to every sink, reading each frame once.

    Yields ``(frames_done, frames_total)`` after every block; the sinks hold
    what was computed. Closing the generator stops within one block (the
    read in flight is finished first).

    Parameters
    ----------
    frames : (n_frames, rows, columns) array-like
        A frame source already checked with :func:`check_frame_source`.
    sinks : sequence of BlockSink
    per_block : int
        Frames per block (see :func:`frames_per_block`).
    threads : int, optional
        Threads that run the sinks' tasks (default :func:`default_threads`).
    """
    from .hdf5_chunks import direct_reads

    direct = direct_reads(frames)
    if direct is not None:
        yield from _direct_pass(direct, sinks, per_block, threads or default_threads())
        return
    if _summed_in_place(frames, sinks):
        yield from _pieces_pass(
            _FramesInMemory(frames), sinks, per_block, threads or default_threads()
        )
        return
    n_frames = int(frames.shape[0])
    reader = _BlockReader(frames, per_block)
    starts = list(range(0, n_frames, per_block))
    with (
        ThreadPoolExecutor(1) as read_ahead,
        ThreadPoolExecutor(threads or default_threads()) as pool,
    ):
        pending = read_ahead.submit(reader.read, 0, min(per_block, n_frames), 0) if starts else None
        _prepare(pool, sinks)
        for k, start in enumerate(starts):
            stop = min(start + per_block, n_frames)
            block = pending.result()
            if k + 1 < len(starts):
                pending = read_ahead.submit(
                    reader.read, stop, min(stop + per_block, n_frames), (k + 1) % 2
                )
            _finish_block(pool, sinks, sinks, start, block)
            yield stop, n_frames


def _direct_pass(reads, sinks: Sequence[BlockSink], per_block: int, threads: int):
    """:func:`frame_pass` for a movie read straight from its HDF5 chunks (see there).

    Every worker reads pieces of the block (``threads + 1`` workers: the core the read
    ahead would take reads here too, at most one per core), and each piece goes to the
    :class:`FrameSink` sinks at once; the other sinks get the whole block afterwards.
    """
    reads = reads.opened_again()
    try:
        yield from _pieces_pass(reads, sinks, per_block, threads)
    finally:
        reads.close()


def _summed_in_place(frames, sinks: Sequence[BlockSink]) -> bool:
    """Whether the sinks can work on ``frames`` where they lie: a numpy array or memory map
    the compiled loops take as it is, fed to sinks that take pieces of frames."""
    return (
        isinstance(frames, np.ndarray)
        and frames.ndim == 3
        and all(hasattr(sink, "add_frames") for sink in sinks)
        and as_kernel_input(frames[:0]).dtype == frames.dtype
        and frames[:1].flags.c_contiguous
        and frames.flags.c_contiguous
    )


class _FramesInMemory:
    """A movie in memory (or memory-mapped) as :func:`_pieces_pass` reads it: each piece is a
    view of its frames, summed by the worker that takes it, with no copy."""

    alignment = 1

    def __init__(self, frames: np.ndarray):
        self.frames = frames
        self.shape = frames.shape
        self.dtype = frames.dtype
        self.frame_bytes = frames[0].nbytes if len(frames) else 0

    def view(self, first: int, last: int) -> np.ndarray:
        return self.frames[first:last]


def _pieces_pass(reads, sinks: Sequence[BlockSink], per_block: int, threads: int):
    """Every worker takes pieces of each block in turn, reads them (``reads.read``, or a view:
    ``reads.view``) and feeds them to the sinks that take pieces; the other sinks get the
    whole block afterwards."""
    n_frames, n_rows, n_columns = reads.shape
    # blocks of whole compressed chunks: each chunk is decompressed once
    per_block = max(reads.alignment, per_block // reads.alignment * reads.alignment)
    piecewise = [sink for sink in sinks if hasattr(sink, "add_frames")]
    whole = [sink for sink in sinks if not hasattr(sink, "add_frames")]
    workers = max(1, min(threads + 1, max(os.cpu_count() or 1, threads)))
    piece = _piece_frames(reads, per_block)
    block = np.empty((per_block, n_rows, n_columns), dtype=reads.dtype) if whole else None
    buffers = [None] * workers
    with ThreadPoolExecutor(workers) as pool:
        _prepare(pool, sinks)

        def read_pieces(worker: int, pieces, lock: threading.Lock) -> None:
            while True:
                with lock:
                    first, last = next(pieces, (None, None))
                if first is None:
                    return
                if block is None and hasattr(reads, "view"):
                    for sink in piecewise:
                        sink.add_frames(first, reads.view(first, last), worker)
                    continue
                if block is not None:
                    out = block[first - start : last - start]
                else:
                    if buffers[worker] is None:
                        buffers[worker] = np.empty((piece, n_rows, n_columns), reads.dtype)
                    out = buffers[worker][: last - first]
                reads.read(out, first, last)
                frames = as_kernel_input(out)
                for sink in piecewise:
                    sink.add_frames(first, frames, worker)

        for start in range(0, n_frames, per_block):
            stop = min(start + per_block, n_frames)
            for sink in piecewise:
                sink.begin_block(start, stop - start, workers)
            pieces = iter(_pieces(start, stop, piece, reads.alignment))
            lock = threading.Lock()
            for done in [pool.submit(read_pieces, k, pieces, lock) for k in range(workers)]:
                done.result()
            kernel_block = None if block is None else as_kernel_input(block[: stop - start])
            _finish_block(pool, sinks, whole, start, kernel_block)
            yield stop, n_frames


def _prepare(pool: ThreadPoolExecutor, sinks: Sequence[BlockSink]) -> None:
    """Let the sinks load their compiled loops (numba: a good part of a second) in the pool
    while the first frames are read."""
    for sink in sinks:
        if hasattr(sink, "prepare"):
            pool.submit(sink.prepare)


def _finish_block(pool, sinks, fed_whole, start: int, block) -> None:
    """Run the tasks of the sinks fed the whole block (their compiled loops release the GIL,
    so the tasks run in parallel), then tell every sink the block is done."""
    tasks = [task for sink in fed_whole for task in sink.tasks(start, block)]
    for done in [pool.submit(task) for task in tasks]:
        done.result()
    for sink in sinks:
        sink.block_done(start, block)


def _piece_frames(reads, per_block: int) -> int:
    """Frames a worker reads at once: about :data:`PIECE_BYTES`, at least :data:`PIECE_FRAMES`
    and a whole compressed chunk."""
    fit = max(PIECE_FRAMES, PIECE_BYTES // max(reads.frame_bytes, 1))
    align = reads.alignment
    return int(min(per_block, max(align, fit // align * align)))


def _pieces(start: int, stop: int, piece: int, align: int) -> list[tuple[int, int]]:
    """Frames ``start:stop`` cut into ranges of at most ``piece`` frames that end at multiples of
    ``align`` where they can (a compressed chunk is then decoded by one worker only)."""
    bounds = [start]
    while bounds[-1] < stop:
        here = bounds[-1]
        end = min(stop, here + piece)
        if end < stop and end // align * align > here:
            end = end // align * align
        bounds.append(end)
    return list(itertools.pairwise(bounds))


def run_steps(steps, progress=None, should_stop=None, *, unit: str = "frame"):
    """Drive a pass's generator: report each ``(done, total)``, stop when asked, return its result.

    Raises
    ------
    ExtractionCancelled
        When ``should_stop`` returned True; the generator is closed first.
    """
    while True:
        try:
            done, total = next(steps)
        except StopIteration as finished:
            return finished.value
        if progress is not None:
            progress(done, total)
        if should_stop is not None and done < total and should_stop():
            steps.close()
            raise ExtractionCancelled(f"stopped at {unit} {done} of {total}")
