"""Time series of a few pixels, read without reading the rest of the frame.

- :func:`pixel_trace`: one pixel's trace, or the mean of its neighbourhood
  (3x3 by default), to plot beside an ROI's;
- :func:`trace_correlation_steps`: the Pearson correlation of a trace (an
  ROI's F) with every pixel's time series in a window of the frame, which
  shows the cell's true footprint and what its mask misses or includes;
- :func:`correlation_window`: the window around an ROI's box.

Both read ``frames[start:stop, r0:r1, c0:c1]`` a block of frames at a time
(through :func:`~napari_roimasks.core.frame_pass.frame_pass`, so each frame
once, with read-ahead), so an ``h5py`` dataset or a dask array reads only
the chunks under the window.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import NamedTuple

import numpy as np

from .frame_pass import (
    DEFAULT_BLOCK_BYTES,
    check_frame_source,
    frame_pass,
    frames_per_block,
    run_steps,
)

__all__ = [
    "Window",
    "correlation_window",
    "pixel_trace",
    "pixel_trace_steps",
    "trace_correlation",
    "trace_correlation_steps",
]


class Window(NamedTuple):
    """Rows ``top:bottom`` and columns ``left:right`` of a frame."""

    top: int
    left: int
    bottom: int
    right: int

    @property
    def shape(self) -> tuple[int, int]:
        """(rows, columns) of the window."""
        return self.bottom - self.top, self.right - self.left


def correlation_window(
    box: tuple[int, int, int, int], image_shape: tuple[int, int], *, scale: float = 3
) -> Window:
    """The window ``scale`` times an ROI's box in height and width, centred on it, inside the frame.

    Parameters
    ----------
    box : (top, left, bottom, right)
        The ROI's bounding box (bottom and right exclusive).
    image_shape : (rows, columns)
        The frame's size; the window is clipped to it.
    scale : float
        The window's size relative to the box (>= 1).

    Returns
    -------
    Window
    """
    if scale < 1:
        raise ValueError(f"the window must be at least the ROI's box (scale >= 1), got {scale}")
    top, left, bottom, right = (int(v) for v in box)
    rows, columns = (int(v) for v in image_shape)
    if not (0 <= top < bottom <= rows and 0 <= left < right <= columns):
        raise ValueError(f"the box {box} is not inside a {rows}x{columns} frame")
    grow_rows = round((scale - 1) * (bottom - top) / 2)
    grow_columns = round((scale - 1) * (right - left) / 2)
    return Window(
        max(0, top - grow_rows),
        max(0, left - grow_columns),
        min(rows, bottom + grow_rows),
        min(columns, right + grow_columns),
    )


class _WindowFrames:
    """A frame source of one window of another: slicing frames reads only the window."""

    def __init__(self, frames, window: Window):
        self.frames = frames
        self.window = window
        self.shape = (int(frames.shape[0]), *window.shape)
        self.dtype = np.dtype(getattr(frames, "dtype", np.float64))

    def __getitem__(self, frames_slice):
        w = self.window
        return np.asarray(self.frames[frames_slice, w.top : w.bottom, w.left : w.right])


def _check_window(frames, window) -> tuple[_WindowFrames, int]:
    n_frames, rows, columns = check_frame_source(frames)
    window = Window(*(int(v) for v in window))
    if not (0 <= window.top < window.bottom <= rows and 0 <= window.left < window.right <= columns):
        raise ValueError(f"the window {tuple(window)} is not inside the {rows}x{columns} frame")
    if n_frames == 0:
        raise ValueError("the movie has no frames")
    if np.dtype(getattr(frames, "dtype", np.float64)).kind not in "biuf":
        raise TypeError(f"the movie must hold numbers, got dtype {frames.dtype}")
    return _WindowFrames(frames, window), n_frames


def _sum_dtype(dtype: np.dtype) -> np.dtype:
    """Integers are summed exactly in int64, floats in float64."""
    return np.dtype(np.int64) if np.dtype(dtype).kind in "biu" else np.dtype(np.float64)


class _MeanSink:
    """Sums each frame's window (a BlockSink): the neighbourhood's mean trace."""

    def __init__(self, n_frames: int, dtype):
        self.sums = np.zeros(n_frames, dtype=_sum_dtype(dtype))

    def tasks(self, start, block):
        def add():
            self.sums[start : start + len(block)] = block.reshape(len(block), -1).sum(
                axis=1, dtype=self.sums.dtype
            )

        return [add]

    def block_done(self, start, block) -> None:
        """Nothing to do: the block's sums are in."""


def pixel_trace_steps(
    frames,
    row: int,
    column: int,
    *,
    neighbourhood: int = 1,
    block_size: int = 1000,
    max_block_bytes: int = DEFAULT_BLOCK_BYTES,
) -> Generator[tuple[int, int], None, np.ndarray]:
    """:func:`pixel_trace` as a generator: yields ``(frames_done, frames_total)`` after every
    block and returns the trace. Closing it stops within one block."""
    n_frames, rows, columns = check_frame_source(frames)
    if not (0 <= row < rows and 0 <= column < columns):
        raise ValueError(f"pixel ({row}, {column}) is outside the {rows}x{columns} frame")
    if neighbourhood < 0:
        raise ValueError(f"neighbourhood must be >= 0 pixels, got {neighbourhood}")
    window = Window(
        max(0, row - neighbourhood),
        max(0, column - neighbourhood),
        min(rows, row + neighbourhood + 1),
        min(columns, column + neighbourhood + 1),
    )
    source, n_frames = _check_window(frames, window)
    sink = _MeanSink(n_frames, source.dtype)
    per_block = frames_per_block(
        block_size, int(np.prod(window.shape)) * source.dtype.itemsize, max_block_bytes
    )
    yield from frame_pass(source, [sink], per_block=per_block, threads=1)
    return sink.sums / float(window.shape[0] * window.shape[1])


def pixel_trace(frames, row: int, column: int, *, neighbourhood: int = 1) -> np.ndarray:
    """A pixel's trace, or the mean trace of the pixels around it.

    Parameters
    ----------
    frames : (n_frames, rows, columns) array-like
        The movie (numpy, memmap, h5py, dask, zarr); only
        ``frames[:, row - n:row + n + 1, column - n:column + n + 1]`` is read.
    row, column : int
        The pixel.
    neighbourhood : int
        ``n``: the mean over the ``(2n + 1) x (2n + 1)`` pixels centred on it
        (those inside the frame); 0 is the pixel alone, 1 (default) its 3x3.

    Returns
    -------
    (n_frames,) float64 ndarray

    Raises
    ------
    ValueError
        For a pixel outside the frame or a negative neighbourhood.
    """
    steps = pixel_trace_steps(frames, row, column, neighbourhood=neighbourhood)
    return run_steps(steps)


class _CorrelationSums:
    """Per-pixel sums of values, squares and products with the centred trace (a BlockSink).

    Values are taken relative to the first frame; integer movies' sums of values
    and squares are exact (int64).
    """

    def __init__(self, centred_trace: np.ndarray, shape, dtype):
        self.trace = centred_trace
        self.sum_dtype = _sum_dtype(dtype)
        self.shift = None
        self.total = np.zeros(shape, dtype=self.sum_dtype)
        self.squares = np.zeros(shape, dtype=self.sum_dtype)
        self.products = np.zeros(shape, dtype=np.float64)

    def tasks(self, start, block):
        def add():
            values = block.astype(self.sum_dtype)
            if self.shift is None:
                self.shift = values[0].copy()
            values -= self.shift
            self.total += values.sum(axis=0)
            self.squares += np.einsum("fij,fij->ij", values, values)
            weights = self.trace[start : start + len(block)]
            self.products += np.tensordot(weights, values.astype(np.float64), axes=(0, 0))

        return [add]

    def block_done(self, start, block) -> None:
        """Nothing to do: the block's sums are in."""

    def result(self) -> np.ndarray:
        n = float(len(self.trace))
        total = self.total.astype(np.float64)
        spread = self.squares.astype(np.float64) - total * total / n  # sum((x - mean)^2)
        pixel_norm = np.sqrt(np.maximum(spread, 0.0))
        trace_norm = float(np.sqrt(np.sum(self.trace * self.trace)))
        # sum(x * t') = sum((x - mean) * t'), as t' sums to 0
        denominator = pixel_norm * trace_norm
        return np.divide(
            self.products,
            denominator,
            out=np.zeros_like(self.products),
            where=denominator > 0,
        ).astype(np.float32)


def trace_correlation_steps(
    frames,
    trace,
    window,
    *,
    block_size: int = 1000,
    max_block_bytes: int = DEFAULT_BLOCK_BYTES,
) -> Generator[tuple[int, int], None, np.ndarray]:
    """:func:`trace_correlation` as a generator: yields ``(frames_done, frames_total)`` after
    every block and returns the image. Closing it stops within one block. Bad input raises
    before any frame is read."""
    source, n_frames = _check_window(frames, window)
    trace = np.asarray(trace, dtype=np.float64)
    if trace.shape != (n_frames,):
        raise ValueError(f"the trace has {trace.shape} values but the movie {n_frames} frames")
    if not np.isfinite(trace).all():
        raise ValueError(
            "the trace holds NaN or inf (an ROI AllenSDK excludes, or frames without numbers)"
        )
    # centred in float64: a bright ROI's large mean would otherwise cost precision
    centred = trace - trace.mean()
    sink = _CorrelationSums(centred, source.shape[1:], source.dtype)
    per_block = frames_per_block(
        block_size, int(np.prod(source.shape[1:])) * source.dtype.itemsize, max_block_bytes
    )
    yield from frame_pass(source, [sink], per_block=per_block, threads=1)
    return sink.result()


def trace_correlation(
    frames,
    trace,
    window,
    *,
    block_size: int = 1000,
    progress: Callable[[int, int], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> np.ndarray:
    """The Pearson correlation of ``trace`` with every pixel's time series in ``window``.

    Parameters
    ----------
    frames : (n_frames, rows, columns) array-like
        The movie (numpy, memmap, h5py, dask, zarr); only
        ``frames[:, top:bottom, left:right]`` is read, each frame once.
    trace : (n_frames,) array-like
        E.g. an ROI's F; it must be finite.
    window : Window or (top, left, bottom, right)
        The pixels to correlate with, inside the frame.
    block_size : int
        Most frames read at once.
    progress : callable(frames_done, frames_total), optional
        Called after every block.
    should_stop : callable() -> bool, optional
        Checked after every block; True stops with
        :class:`~napari_roimasks.core.frame_pass.ExtractionCancelled`.

    Returns
    -------
    (bottom - top, right - left) float32 ndarray
        In [-1, 1]; 0 where the pixel's value, or the trace, never changes.

    Raises
    ------
    TypeError, ValueError
        Before any frame is read: not a movie of numbers, a window outside the
        frame, a trace of another length or with NaN.
    """
    steps = trace_correlation_steps(frames, trace, window, block_size=block_size)
    return run_steps(steps, progress, should_stop)
