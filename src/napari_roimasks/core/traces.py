"""Blockwise trace extraction: the mean of every mask in every frame, one pass.

A frame source is anything with ``.shape == (frames, rows, columns)`` that
slices by frame range: a numpy array or memmap, an ``h5py.Dataset``, a dask or
zarr array. Each block of frames is read once and every mask's sum over that
block is computed together, as one sparse product.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from numbers import Integral

import numpy as np
from scipy import sparse

__all__ = ["ExtractionCancelled", "check_frame_source", "extract_traces"]


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


def _accumulator_dtype(movie_dtype: np.dtype) -> np.dtype:
    # float64 holds every sum of <= 32-bit integers exactly (below 2**53), so
    # integer movies give AllenSDK's exact answer; 64-bit integers keep integer sums.
    movie_dtype = np.dtype(movie_dtype)
    if movie_dtype.kind in "iu" and movie_dtype.itemsize == 8:
        return np.dtype(movie_dtype.kind + "8")
    if movie_dtype.kind in "biuf":
        return np.dtype(np.float64)
    raise TypeError(f"the movie must hold numbers, got dtype {movie_dtype}")


def extract_traces(
    frames,
    pixel_sets: Sequence[np.ndarray],
    *,
    block_size: int = 1000,
    progress: Callable[[int, int], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> np.ndarray:
    """Mean of each pixel set in each frame.

    Parameters
    ----------
    frames : (n_frames, rows, columns) array-like
        The movie; read one block of frames at a time.
    pixel_sets : sequence of (n_pixels,) int ndarray
        Flat pixel indices (``row * columns + column``) of each mask; none empty.
    block_size : int, optional
        Frames read at once.
    progress : callable(frames_done, frames_total), optional
        Called after every block.
    should_stop : callable() -> bool, optional
        Checked before every block; when it returns True extraction stops and
        :class:`ExtractionCancelled` is raised.

    Returns
    -------
    traces : (n_masks, n_frames) float64 ndarray

    Raises
    ------
    TypeError, ValueError
        Before any frame is read, for a bad frame source or block size.
    ExtractionCancelled
        When ``should_stop`` asked to stop.
    """
    if isinstance(block_size, bool) or not isinstance(block_size, Integral) or block_size < 1:
        raise ValueError(f"block_size must be a whole number of frames >= 1, got {block_size!r}")
    n_frames, rows, columns = check_frame_source(frames)
    n_pixels = rows * columns
    accumulator = _accumulator_dtype(getattr(frames, "dtype", np.float64))
    sizes = np.array([len(p) for p in pixel_sets], dtype=np.int64)
    if np.any(sizes == 0):
        raise ValueError("every pixel set must hold at least one pixel")
    indices = np.concatenate(pixel_sets) if len(pixel_sets) else np.zeros(0, np.int64)
    if indices.size and (indices.min() < 0 or indices.max() >= n_pixels):
        raise ValueError(f"a pixel index lies outside the {rows}x{columns} frame")
    indptr = np.concatenate([[0], np.cumsum(sizes)])
    weights = sparse.csr_matrix(
        (np.ones(indices.size, dtype=accumulator), indices, indptr),
        shape=(len(pixel_sets), n_pixels),
    )

    traces = np.empty((len(pixel_sets), n_frames), dtype=np.float64)
    for start in range(0, n_frames, block_size):
        if should_stop is not None and should_stop():
            raise ExtractionCancelled(f"trace extraction stopped at frame {start} of {n_frames}")
        stop = min(start + block_size, n_frames)
        block = np.asarray(frames[start:stop])
        if block.shape != (stop - start, rows, columns):
            raise ValueError(
                f"frames {start}:{stop} of the movie came back with shape {block.shape}, "
                f"expected {(stop - start, rows, columns)}"
            )
        if len(pixel_sets):
            sums = weights @ block.reshape(stop - start, n_pixels).astype(accumulator).T
            traces[:, start:stop] = sums / sizes[:, None]
        if progress is not None:
            progress(stop, n_frames)
    return traces
