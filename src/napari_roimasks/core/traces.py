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

from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass

import numpy as np

from .frame_pass import (
    DEFAULT_BLOCK_BYTES,
    ExtractionCancelled,
    as_kernel_input,
    check_frame_source,
    default_threads,
    frame_pass,
    frames_per_block,
    run_steps,
)
from .kept import LastBuilt, content_digest
from .masks import MaskCrop

__all__ = [
    "DEFAULT_BLOCK_BYTES",
    "ExtractionCancelled",
    "MaskRuns",
    "TraceSums",
    "accumulator_dtype",
    "as_kernel_input",
    "check_frame_source",
    "extract_traces",
    "mask_runs",
    "run_steps",
    "sum_masks",
    "sum_scratch",
    "trace_extraction",
]


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
    of a frame is flat pixel ``row * columns + column``. Build them with
    :func:`mask_runs`, which keeps the last few sets built.

    Attributes
    ----------
    begin, end : (n_runs,) int64 ndarray
        Flat pixel range ``[begin, end)`` of every run, sorted by ``begin`` (so by row).
    owner : (n_runs,) int64 ndarray
        The index of the mask each run belongs to.
    areas : (n_masks,) float64 ndarray
        Each mask's pixel count; NaN for an absent mask, so its means come out NaN.
    row_runs : (rows + 1,) int64 ndarray
        Row ``r``'s runs are ``row_runs[r]:row_runs[r + 1]``.
    row_span : (rows, 2) int64 ndarray
        The columns ``[first, last)`` that row ``r``'s runs cover together (0, 0 for none).
    slot : (n_runs,) int64 ndarray
        Each run's mask's slot: masks numbered by where they begin, so that the masks
        one row touches are summed side by side.
    slot_mask : (n_masks,) int64 ndarray
        The mask each slot holds.
    """

    begin: np.ndarray
    end: np.ndarray
    owner: np.ndarray
    areas: np.ndarray
    row_runs: np.ndarray
    row_span: np.ndarray
    slot: np.ndarray
    slot_mask: np.ndarray

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
        n_rows, n_columns = (int(n) for n in image_shape)
        none = np.zeros(0, np.int64)
        runs = []
        for i, mask in enumerate(masks):
            if mask is None:
                runs.append((none, none, none))
                continue
            if mask.top < 0 or mask.left < 0 or mask.bottom > n_rows or mask.right > n_columns:
                raise ValueError(f"mask {i} lies partly outside the {n_rows}x{n_columns} frame")
            runs.append(mask.row_runs())
            if len(runs[-1][0]) == 0:
                raise ValueError(f"mask {i} has no pixels")
        counts = np.array([len(r[0]) for r in runs], dtype=np.int64)
        rows, starts, stops = (
            np.concatenate([r[k] for r in runs]).astype(np.int64) if runs else none
            for k in range(3)
        )
        # an absent mask has area NaN, so its row of means comes out NaN
        areas = np.array([np.nan if m is None else m.area for m in masks], dtype=np.float64)
        begin = rows * n_columns + starts
        order = np.argsort(begin, kind="stable")
        owner = np.repeat(np.arange(len(masks), dtype=np.int64), counts)
        rows, starts, stops = rows[order], starts[order], stops[order]
        row_runs = np.searchsorted(rows, np.arange(n_rows + 1)).astype(np.int64)
        row_span = np.zeros((n_rows, 2), dtype=np.int64)
        used = np.flatnonzero(np.diff(row_runs))
        if len(used):
            row_span[used, 0] = np.minimum.reduceat(starts, row_runs[used])
            row_span[used, 1] = np.maximum.reduceat(stops, row_runs[used])
        begin, end, owner = begin[order], rows * n_columns + stops, owner[order]
        first_pixel = np.full(len(masks), np.iinfo(np.int64).max, dtype=np.int64)
        np.minimum.at(first_pixel, owner, begin)
        slot_mask = np.argsort(first_pixel, kind="stable").astype(np.int64)
        mask_slot = np.empty_like(slot_mask)
        mask_slot[slot_mask] = np.arange(len(slot_mask))
        return cls(begin, end, owner, areas, row_runs, row_span, mask_slot[owner], slot_mask)


#: The last few mask sets' runs, by their content: extracting again from the same masks
#: (another movie, another call) does not build them again.
_RUNS_BUILT: LastBuilt[MaskRuns] = LastBuilt(4)


def mask_runs(masks: Sequence[MaskCrop | None], image_shape: tuple[int, int]) -> MaskRuns:
    """:meth:`MaskRuns.from_masks`, kept for the last few sets of masks (by their pixels).

    Raises
    ------
    ValueError
        As :meth:`MaskRuns.from_masks` does.
    """
    parts = [tuple(image_shape)]
    for mask in masks:
        parts += ["-"] if mask is None else [(mask.top, mask.left), mask.pixels.astype(bool)]
    return _RUNS_BUILT.get(content_digest(parts), lambda: MaskRuns.from_masks(masks, image_shape))


def sum_scratch(n_columns: int, n_masks: int, accumulator) -> tuple[np.ndarray, np.ndarray]:
    """Scratch memory for one thread of :func:`sum_masks` (made once: no page faults per call)."""
    from ._sum_runs import FRAMES_AT_ONCE

    return (
        np.zeros((n_columns + 1, FRAMES_AT_ONCE), dtype=accumulator),
        np.zeros((n_masks, FRAMES_AT_ONCE), dtype=accumulator),
    )


def sum_masks(frames: np.ndarray, runs: MaskRuns, sums: np.ndarray, scratch) -> None:
    """Every mask's pixel sum in every frame, into ``sums``.

    Parameters
    ----------
    frames : (n_frames, rows, columns) ndarray
        Kernel input (see :func:`as_kernel_input`).
    runs : MaskRuns
        The masks, for frames of this shape.
    sums : (n_masks, n_frames) ndarray of :func:`accumulator_dtype`
        Overwritten.
    scratch : tuple
        This thread's :func:`sum_scratch`.
    """
    from ._sum_runs import sum_rows_by_prefix, sum_runs_directly

    n = len(frames)
    if sums.dtype.kind == "f":
        sum_runs_directly(frames.reshape(n, -1), 0, n, runs.begin, runs.end, runs.owner, sums)
        return
    prefix, totals = scratch
    sum_rows_by_prefix(
        frames,
        0,
        n,
        runs.begin,
        runs.end,
        runs.slot,
        runs.slot_mask,
        runs.row_runs,
        runs.row_span,
        sums,
        prefix,
        totals,
    )


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


class TraceSums:
    """The trace engine as a :class:`~napari_roimasks.core.frame_pass.FrameSink`: every mask's
    mean in every frame it is fed.

    Parameters
    ----------
    masks : sequence of MaskCrop or None
        As :func:`extract_traces` takes them.
    shape : (n_frames, rows, columns)
        The movie's shape.
    dtype : numpy dtype
        The movie's pixel type.
    threads : int
        How many tasks a block is split into (by frames) when it is fed whole.
    """

    def __init__(self, masks, shape: tuple[int, int, int], dtype, threads: int):
        n_frames, n_rows, n_columns = shape
        self.accumulator = accumulator_dtype(dtype)
        self.runs = mask_runs(masks, (n_rows, n_columns))
        self.n_masks = len(masks)
        self.n_columns = n_columns
        self.threads = max(1, int(threads))
        self.traces = np.empty((len(masks), n_frames), dtype=np.float64)
        self._scratch: list = []  # per worker thread: (sum_scratch, room for its frames' sums)
        self.needs_frames = len(self.runs.begin) > 0
        if not self.needs_frames:
            self.traces[:] = np.nan

    def prepare(self) -> None:
        """Load the compiled loops (numba), e.g. in a thread while the first frames are read."""
        from . import _sum_runs  # noqa: F401

    def begin_block(self, start: int, n_frames: int, workers: int) -> None:
        """Frames ``start:start + n_frames`` are coming, from threads numbered ``0:workers``."""
        self._scratch += [None] * (workers - len(self._scratch))

    def add_frames(self, start: int, frames: np.ndarray, worker: int) -> None:
        """The masks' means in frames ``start:start + len(frames)``, with worker ``worker``'s
        scratch; workers take disjoint frames, at the same time, and each turns its own sums
        into means (so no thread waits for that at the end of a block)."""
        n = len(frames)
        if self._scratch[worker] is None:  # made here, in the worker: the main thread never
            # waits for the compiled loops to load (sum_scratch imports them)
            scratch = sum_scratch(self.n_columns, self.n_masks, self.accumulator)
            self._scratch[worker] = (scratch, np.empty(0, dtype=self.accumulator))
        scratch, room = self._scratch[worker]
        if len(room) < self.n_masks * n:
            room = np.empty(self.n_masks * n, dtype=self.accumulator)
            self._scratch[worker] = (scratch, room)
        sums = room[: self.n_masks * n].reshape(self.n_masks, n)  # always C-contiguous
        sum_masks(frames, self.runs, sums, scratch)
        np.divide(sums, self.runs.areas[:, None], out=self.traces[:, start : start + n])

    def tasks(self, start: int, block: np.ndarray) -> list[Callable[[], None]]:
        """Tasks summing the masks in the block's frames, a share of its frames each."""
        if not self.needs_frames:
            return []
        n = len(block)
        parts = min(self.threads, n)
        self.begin_block(start, n, parts)
        bounds = np.linspace(0, n, parts + 1).astype(int)
        return [
            lambda k=k: self.add_frames(start + bounds[k], block[bounds[k] : bounds[k + 1]], k)
            for k in range(parts)
        ]

    def block_done(self, start: int, block: np.ndarray | None) -> None:
        """Nothing left to do: every task turned its frames' sums into means."""

    def result(self) -> np.ndarray:
        """(n_masks, n_frames) float64: each mask's mean in each frame."""
        return self.traces


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
    shape = check_frame_source(frames, image_shape)
    dtype = np.dtype(getattr(frames, "dtype", np.float64))
    per_block = frames_per_block(block_size, shape[1] * shape[2] * dtype.itemsize, max_block_bytes)
    threads = threads or default_threads()
    sink = TraceSums(masks, shape, dtype, threads)
    if not sink.needs_frames or shape[0] == 0:  # nothing to sum: no need to read the movie
        yield shape[0], shape[0]
        return sink.result()
    yield from frame_pass(frames, [sink], per_block=per_block, threads=threads)
    return sink.result()
