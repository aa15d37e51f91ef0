"""Blockwise trace extraction: the mean of every mask in every frame, in one pass.

A frame source is anything with ``.shape == (frames, rows, columns)`` that
slices by frame range: a numpy array or memmap, an ``h5py.Dataset``, a dask or
zarr array. The movie is read one block of frames at a time, each frame once,
while a second thread reads the next block; every mask's sum over the block
is computed together by a compiled loop over the masks' row runs (for
integer movies: one running sum per frame, two look-ups per run), split across
the machine's cores. Memory holds two blocks, the masks and the output,
whatever the movie's length.

Sums are exact for integer movies (64-bit integer accumulation), so the means
equal AllenSDK's; float movies are summed in float64.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Generator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from numbers import Integral

import numpy as np

from .masks import MaskCrop

__all__ = [
    "DEFAULT_BLOCK_BYTES",
    "ExtractionCancelled",
    "MaskRuns",
    "accumulator_dtype",
    "as_kernel_input",
    "check_frame_source",
    "extract_traces",
    "run_steps",
    "trace_extraction",
]

#: Largest block read at once, in bytes, whatever ``block_size`` says: two
#: blocks are in memory at a time (one read ahead), and small blocks also keep
#: progress and cancel responsive.
DEFAULT_BLOCK_BYTES = 32 * 2**20


class ExtractionCancelled(RuntimeError):
    """Raised when the caller asked trace extraction to stop; no traces are returned."""


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


def accumulator_dtype(movie_dtype: np.dtype) -> np.dtype:
    """The dtype masks' pixel sums are accumulated in for a movie of ``movie_dtype``.

    Integer sums are exact, so the means equal AllenSDK's (numpy's own sums).

    Parameters
    ----------
    movie_dtype : numpy dtype
        The movie's pixel type.

    Returns
    -------
    numpy dtype
        uint64 for a uint64 movie (wrapping around like numpy's sum), int64 for
        other integer and boolean movies, float64 for float movies.

    Raises
    ------
    TypeError
        If the movie does not hold numbers.
    """
    movie_dtype = np.dtype(movie_dtype)
    if movie_dtype.kind == "u" and movie_dtype.itemsize == 8:
        return np.dtype(np.uint64)  # numpy's own sum of uint64, wrap-around included
    if movie_dtype.kind in "biu":
        return np.dtype(np.int64)
    if movie_dtype.kind == "f":
        return np.dtype(np.float64)
    raise TypeError(f"the movie must hold numbers, got dtype {movie_dtype}")


@dataclass(frozen=True)
class MaskRuns:
    """All masks as runs along rows, as flat pixel ranges sorted by position, with their owners.

    What the compiled summing loops take (see ``_sum_runs``): pixel ``(row, column)``
    of a frame is flat pixel ``row * columns + column``.

    Attributes
    ----------
    begin, end : (n_runs,) int64 ndarray
        Flat pixel range ``[begin, end)`` of every run, sorted by ``begin``.
    owner : (n_runs,) int64 ndarray
        The index of the mask each run belongs to.
    areas : (n_masks,) float64 ndarray
        Each mask's pixel count; NaN for an absent mask, so its means come out NaN.
    """

    begin: np.ndarray
    end: np.ndarray
    owner: np.ndarray
    areas: np.ndarray

    @classmethod
    def from_masks(cls, masks: Sequence[MaskCrop | None], image_shape: tuple[int, int]) -> MaskRuns:
        """The runs of ``masks`` in frames of ``image_shape``.

        Parameters
        ----------
        masks : sequence of MaskCrop or None
            None is an absent mask: no runs, area NaN.
        image_shape : (rows, columns)
            The frames' shape.

        Raises
        ------
        ValueError
            If a mask lies partly outside the frame or has no pixels.
        """
        none = np.zeros(0, np.int64)
        runs = []
        for i, mask in enumerate(masks):
            if mask is None:
                runs.append((none, none, none))
                continue
            if (
                mask.top < 0
                or mask.left < 0
                or mask.bottom > image_shape[0]
                or mask.right > image_shape[1]
            ):
                raise ValueError(
                    f"mask {i} lies partly outside the {image_shape[0]}x{image_shape[1]} frame"
                )
            runs.append(mask.row_runs())
            if len(runs[-1][0]) == 0:
                raise ValueError(f"mask {i} has no pixels")
        counts = np.array([len(r[0]) for r in runs], dtype=np.int64)
        rows, starts, stops = (
            np.concatenate([r[k] for r in runs]) if runs else none for k in range(3)
        )
        # an absent mask has area NaN, so its row of means comes out NaN
        areas = np.array([np.nan if m is None else m.area for m in masks], dtype=np.float64)
        begin = rows * image_shape[1] + starts
        order = np.argsort(begin, kind="stable")
        owner = np.repeat(np.arange(len(masks), dtype=np.int64), counts)
        end = rows * image_shape[1] + stops
        return cls(begin[order], end[order], owner[order], areas)


def _frames_per_block(block_size, frame_bytes: int, max_block_bytes: int) -> int:
    if isinstance(block_size, bool) or not isinstance(block_size, Integral) or block_size < 1:
        raise ValueError(f"block_size must be a whole number of frames >= 1, got {block_size!r}")
    return int(max(1, min(block_size, max_block_bytes // max(frame_bytes, 1))))


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
    """``block`` as the compiled summing loops take it, with the same values.

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


def extract_traces(
    frames,
    masks: Sequence[MaskCrop | None],
    *,
    block_size: int = 1000,
    max_block_bytes: int = DEFAULT_BLOCK_BYTES,
    progress: Callable[[int, int], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    threads: int | None = None,
    image_shape: tuple[int, int] | None = None,
) -> np.ndarray:
    """Mean of each mask in each frame.

    Parameters
    ----------
    frames : (n_frames, rows, columns) array-like
        The movie; read one block of frames at a time, each frame once.
    masks : sequence of MaskCrop or None
        The masks, each with at least one pixel, inside the frame; None gives
        a row of NaN (a mask that is excluded but keeps its place).
    block_size : int, optional
        Most frames read at once.
    max_block_bytes : int, optional
        Most bytes read at once; blocks shrink to fit (at least one frame).
    progress : callable(frames_done, frames_total), optional
        Called after every block.
    should_stop : callable() -> bool, optional
        Checked before every block; when it returns True extraction stops and
        :class:`ExtractionCancelled` is raised.
    threads : int, optional
        Threads that sum a block; default: one fewer than the machine's cores
        (one core reads ahead), at least 1, at most 8.
    image_shape : (rows, columns), optional
        The image the masks were drawn on; the movie's frames must match it.

    Returns
    -------
    traces : (n_masks, n_frames) float64 ndarray

    Raises
    ------
    TypeError, ValueError
        Before any frame is read, for a bad frame source, mask or block size.
    ExtractionCancelled
        When ``should_stop`` asked to stop; the in-flight read is finished first.

    See Also
    --------
    trace_extraction : the same work as a generator, for GUI workers.
    """
    steps = trace_extraction(
        frames,
        masks,
        block_size=block_size,
        max_block_bytes=max_block_bytes,
        threads=threads,
        image_shape=image_shape,
    )
    return run_steps(steps, progress, should_stop, unit="frame")


def run_steps(steps, progress=None, should_stop=None, *, unit: str = "frame"):
    """Drive an extraction generator: report each ``(done, total)``, stop when asked, return its result.

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
            raise ExtractionCancelled(f"trace extraction stopped at {unit} {done} of {total}")


def trace_extraction(
    frames,
    masks: Sequence[MaskCrop | None],
    *,
    block_size: int = 1000,
    max_block_bytes: int = DEFAULT_BLOCK_BYTES,
    threads: int | None = None,
    image_shape: tuple[int, int] | None = None,
) -> Generator[tuple[int, int], None, np.ndarray]:
    """:func:`extract_traces` as a generator: yields ``(frames_done, frames_total)`` after every block.

    The traces are the generator's return value (``StopIteration.value``).
    Closing the generator stops the extraction within one block. Bad input
    raises before the first frame is read, when the generator is first advanced.
    """
    n_frames, n_rows, n_columns = check_frame_source(frames, image_shape)
    dtype = np.dtype(getattr(frames, "dtype", np.float64))
    accumulator = accumulator_dtype(dtype)
    per_block = _frames_per_block(block_size, n_rows * n_columns * dtype.itemsize, max_block_bytes)
    runs = MaskRuns.from_masks(masks, (n_rows, n_columns))
    traces = np.empty((len(masks), n_frames), dtype=np.float64)
    if len(runs.begin) == 0 or n_frames == 0:  # nothing to sum: no need to read the movie
        traces[:] = np.nan
        yield n_frames, n_frames
        return traces

    from ._sum_runs import sum_runs_by_prefix, sum_runs_directly

    sum_runs = sum_runs_directly if accumulator.kind == "f" else sum_runs_by_prefix
    threads = threads or max(1, min((os.cpu_count() or 1) - 1, 8))
    reader = _BlockReader(frames, per_block)
    starts = list(range(0, n_frames, per_block))

    scratch = [np.empty(n_rows * n_columns + 1, dtype=accumulator) for _ in range(threads)]

    def sum_block(block: np.ndarray, pool: ThreadPoolExecutor) -> np.ndarray:
        sums = np.zeros((len(block), len(masks)), dtype=accumulator)
        flat = block.reshape(len(block), -1)
        bounds = np.linspace(0, len(block), min(threads, len(block)) + 1).astype(int)

        def sum_frames(k: int) -> None:
            sum_runs(
                flat, bounds[k], bounds[k + 1], runs.begin, runs.end, runs.owner, sums, scratch[k]
            )

        # the compiled loops release the GIL, so threads sum their frames in parallel
        list(pool.map(sum_frames, range(len(bounds) - 1)))
        return sums

    with ThreadPoolExecutor(1) as read_ahead, ThreadPoolExecutor(threads) as pool:
        pending = read_ahead.submit(reader.read, 0, min(per_block, n_frames), 0)
        for k, start in enumerate(starts):
            stop = min(start + per_block, n_frames)
            block = pending.result()
            if k + 1 < len(starts):
                pending = read_ahead.submit(
                    reader.read, stop, min(stop + per_block, n_frames), (k + 1) % 2
                )
            traces[:, start:stop] = (sum_block(block, pool) / runs.areas).T
            yield stop, n_frames
    return traces
