"""One pass over a movie's frames, block by block, feeding every computation that wants them.

A frame source is anything with ``.shape == (frames, rows, columns)`` that
slices by frame range: a numpy array or memmap, an ``h5py.Dataset``, a dask or
zarr array. :func:`frame_pass` reads it one block of frames at a time, each
frame once, while a second thread reads the next block, and hands each block
to every :class:`BlockSink` (the trace sums, the summary images' sums, or
both); their work on a block runs in parallel on the machine's cores. So
extracting traces and computing the summary images together reads the movie
once.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Generator, Sequence
from concurrent.futures import ThreadPoolExecutor
from numbers import Integral
from typing import Protocol

import numpy as np

__all__ = [
    "DEFAULT_BLOCK_BYTES",
    "BlockSink",
    "ExtractionCancelled",
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


class ExtractionCancelled(RuntimeError):
    """Raised when the caller asked a pass over the movie to stop; nothing is returned."""


class BlockSink(Protocol):
    """A computation fed one block of frames at a time by :func:`frame_pass`."""

    def tasks(self, start: int, block: np.ndarray) -> list[Callable[[], None]]:
        """Work on frames ``start:start + len(block)``, split into tasks that may run in
        parallel (compiled loops that release the GIL). ``block`` is reused after them."""

    def block_done(self, start: int, block: np.ndarray) -> None:
        """Called once every task of the block has finished."""


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
    n_frames = int(frames.shape[0])
    reader = _BlockReader(frames, per_block)
    starts = list(range(0, n_frames, per_block))
    with (
        ThreadPoolExecutor(1) as read_ahead,
        ThreadPoolExecutor(threads or default_threads()) as pool,
    ):
        pending = read_ahead.submit(reader.read, 0, min(per_block, n_frames), 0) if starts else None
        for k, start in enumerate(starts):
            stop = min(start + per_block, n_frames)
            block = pending.result()
            if k + 1 < len(starts):
                pending = read_ahead.submit(
                    reader.read, stop, min(stop + per_block, n_frames), (k + 1) % 2
                )
            tasks = [task for sink in sinks for task in sink.tasks(start, block)]
            # the compiled loops release the GIL, so the tasks run in parallel
            for done in [pool.submit(task) for task in tasks]:
                done.result()
            for sink in sinks:
                sink.block_done(start, block)
            yield stop, n_frames


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
