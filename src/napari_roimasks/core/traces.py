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
    "run_steps",
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
    """The trace engine as a :class:`~napari_roimasks.core.frame_pass.BlockSink`: every mask's
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
        How many tasks a block is split into (by frames).
    """

    def __init__(self, masks, shape: tuple[int, int, int], dtype, threads: int):
        n_frames, n_rows, n_columns = shape
        self.accumulator = accumulator_dtype(dtype)
        self.runs = MaskRuns.from_masks(masks, (n_rows, n_columns))
        self.n_masks = len(masks)
        self.threads = threads
        self.traces = np.empty((len(masks), n_frames), dtype=np.float64)
        self.scratch = [
            np.empty(n_rows * n_columns + 1, dtype=self.accumulator) for _ in range(threads)
        ]
        self.needs_frames = len(self.runs.begin) > 0
        if not self.needs_frames:
            self.traces[:] = np.nan

    def tasks(self, start: int, block: np.ndarray) -> list[Callable[[], None]]:
        """Tasks summing the masks in the block's frames, a share of its frames each."""
        from ._sum_runs import sum_runs_by_prefix, sum_runs_directly

        if not self.needs_frames:
            return []
        sum_runs = sum_runs_directly if self.accumulator.kind == "f" else sum_runs_by_prefix
        runs, n = self.runs, len(block)
        sums = self._sums = np.zeros((n, self.n_masks), dtype=self.accumulator)
        flat = block.reshape(n, -1)
        bounds = np.linspace(0, n, min(self.threads, n) + 1).astype(int)

        def sum_frames(k: int) -> None:
            sum_runs(
                flat,
                bounds[k],
                bounds[k + 1],
                runs.begin,
                runs.end,
                runs.owner,
                sums,
                self.scratch[k],
            )

        return [lambda k=k: sum_frames(k) for k in range(len(bounds) - 1)]

    def block_done(self, start: int, block: np.ndarray) -> None:
        """The block's sums become its frames' means."""
        if self.needs_frames:
            self.traces[:, start : start + len(block)] = (self._sums / self.runs.areas).T

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
