"""Summary images of a movie, the pictures ROIs are drawn and checked on, in one pass.

``mean``, ``max`` and ``std`` (population, ddof 0) per pixel; ``correlation``,
the local correlation image as CaImAn's ``local_correlations(Y,
eight_neighbours=True)`` defines it (each pixel's mean, over its existing 8
neighbours, of the Pearson correlation of the two pixels' time series; a pixel
whose value never changes correlates 0 with every neighbour, never NaN); and
``enhanced_mean``, the mean image high-pass filtered as suite2p's
``meanImgE``.

The movie is read once, a block of frames at a time (see
:mod:`~napari_roimasks.core.frame_pass`), and only per-pixel sums are kept:
of the values, their squares and their products with the right, lower,
lower-right and lower-left neighbours. Values are taken relative to the
movie's first frame. Integer movies are summed exactly in 64-bit integers,
so the images do not depend on the block size or on the order of the blocks
(32- and 64-bit integers whose sums could overflow go on in float64); float
movies are summed in float64. A pixel holding NaN or inf in some frame is NaN
in every image. Partial sums of different
frames combine (:meth:`SummarySums.combine`), which is how a Dask cluster
computes them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Generator
from dataclasses import dataclass

import numpy as np

from .frame_pass import (
    DEFAULT_BLOCK_BYTES,
    as_kernel_input,
    check_frame_source,
    default_threads,
    frame_pass,
    frames_per_block,
    run_steps,
)

__all__ = [
    "DEFAULT_CELL_DIAMETER",
    "SUMMARY_IMAGES",
    "SummaryImages",
    "SummarySums",
    "check_cell_diameter",
    "compute_summary_images",
    "enhanced_mean_image",
    "summary_steps",
]

#: The images, in the order they are listed and stored.
SUMMARY_IMAGES = ("mean", "max", "std", "correlation", "enhanced_mean")
#: suite2p's cell diameter (pixels) for the enhanced mean when none is given.
DEFAULT_CELL_DIAMETER = 12

#: The neighbours whose products are summed: (row step, column step). Each pair of
#: neighbouring pixels is counted once; the other four directions are these, seen
#: from the other pixel.
_NEIGHBOURS = ((0, 1), (1, 0), (1, 1), (1, -1))


@dataclass(frozen=True)
class SummaryImages:
    """A movie's summary images, each float32 (rows, columns).

    Attributes
    ----------
    mean, max, std, correlation, enhanced_mean : (rows, columns) float32 ndarray
    n_frames : int
        The frames they summarise.
    cell_diameter : float
        The cell diameter (pixels) the enhanced mean was filtered for.
    unusable_pixels : int
        Pixels that held NaN or inf in some frame: NaN in every image.
    """

    mean: np.ndarray
    max: np.ndarray
    std: np.ndarray
    correlation: np.ndarray
    enhanced_mean: np.ndarray
    n_frames: int
    cell_diameter: float = DEFAULT_CELL_DIAMETER
    unusable_pixels: int = 0

    def as_dict(self) -> dict[str, np.ndarray]:
        """Name -> image, in :data:`SUMMARY_IMAGES` order."""
        return {name: getattr(self, name) for name in SUMMARY_IMAGES}


def _sums_dtypes(movie_dtype: np.dtype) -> tuple[np.dtype, np.dtype]:
    """(dtype the shifted values are held in, dtype their sums are kept in) for a movie.

    8- and 16-bit integers: shifted values fit int32, whose products the compiled
    loop widens to int64 (as fast as float64, and exact); wider integers: int64
    throughout, exact while the sums fit (see :meth:`SummarySums._keep_sums_exact`);
    floats: float64.
    """
    movie_dtype = np.dtype(movie_dtype)
    if movie_dtype.kind == "f":
        return np.dtype(np.float64), np.dtype(np.float64)
    if movie_dtype.kind in "biu":
        if movie_dtype.itemsize <= 2:
            return np.dtype(np.int32), np.dtype(np.int64)
        return np.dtype(np.int64), np.dtype(np.int64)
    raise TypeError(f"the movie must hold numbers, got dtype {movie_dtype}")


def check_cell_diameter(cell_diameter) -> float:
    """The cell diameter as a float, or a ValueError saying what is expected.

    Raises
    ------
    ValueError
        Unless it is a finite number of pixels >= 0 (0: suite2p's default, 12).
    """
    try:
        diameter = float(cell_diameter)
    except (TypeError, ValueError):
        diameter = float("nan")
    if not math.isfinite(diameter) or diameter < 0:
        raise ValueError(
            f"cell_diameter must be a finite number of pixels >= 0, got {cell_diameter!r}"
        )
    return diameter


#: Sums of squares stay below this in 64-bit integers (a margin under 2**63).
_EXACT_LIMIT = 2**62


class SummarySums:
    """Per-pixel sums over some of a movie's frames, from which the summary images follow.

    A :class:`~napari_roimasks.core.frame_pass.BlockSink`: :func:`frame_pass`
    feeds it blocks; sums of different frames of one movie :meth:`combine`.

    Integer movies are summed exactly in 64-bit integers. For 32- and 64-bit
    integers whose values stray so far from the first frame that the sums of
    squares could pass 2**62 (values beyond about 2**31 over thousands of
    frames), the sums go on in float64 instead (``exact`` turns False).

    Parameters
    ----------
    shape : (rows, columns)
        The frames' shape.
    dtype : numpy dtype
        The movie's pixel type.
    shift : (rows, columns) ndarray, optional
        The values subtracted before summing: the movie's first frame. Sums
        that will be combined need the same shift; default: the first frame fed.
    threads : int, optional
        How many bands of rows a block is split into.
    """

    def __init__(self, shape, dtype, *, shift=None, threads: int = 1):
        self.shape = (int(shape[0]), int(shape[1]))
        self.dtype = as_kernel_input(np.empty((0, 1, 1), dtype)).dtype
        self.value_dtype, self.sums_dtype = _sums_dtypes(self.dtype)
        self.threads = max(1, int(threads))
        self.n_frames = 0
        # total, squares, and the products with the right, lower, lower right, lower left neighbour
        self._sums = np.zeros((6, *self.shape), dtype=self.sums_dtype)
        self._largest_step = 0  # the largest |value - shift| seen (wide integers)
        self.shift = None
        if shift is not None:
            self._set_shift(np.asarray(shift))
        self.peak = None  # the largest value so far, in the movie's own (kernel) dtype
        self._scratch = []

    @property
    def exact(self) -> bool:
        """Whether the sums are exact (integer movies whose sums fit 64-bit integers)."""
        return self._sums.dtype.kind == "i"

    def _set_shift(self, first: np.ndarray) -> None:
        if self.value_dtype.kind == "i" and first.size and first.max() > np.iinfo(np.int64).max:
            self._to_float()  # uint64 values beyond int64: no exact shift
        self.shift = first.astype(self.value_dtype)

    def _to_float(self) -> None:
        """Go on summing in float64 (sums that might pass 2**62 in integers)."""
        self.value_dtype = self.sums_dtype = np.dtype(np.float64)
        self._sums = self._sums.astype(np.float64)
        if self.shift is not None:
            self.shift = self.shift.astype(np.float64)
        self._scratch = []

    def _keep_sums_exact(self, block: np.ndarray) -> None:
        """For wide integers: switch to float64 before a block could overflow the sums."""
        if not self.exact or self.dtype.itemsize <= 2:
            return  # 8- and 16-bit: |value - shift| < 2**16, safe for 2**30 frames
        low, high = int(block.min()), int(block.max())
        step = max(high - int(self._shift_low), int(self._shift_high) - low, 0)
        self._largest_step = max(self._largest_step, step)
        frames = self.n_frames + len(block)
        if high > np.iinfo(np.int64).max or frames * self._largest_step**2 >= _EXACT_LIMIT:
            self._to_float()

    # -- being fed ---------------------------------------------------------------------------
    def tasks(self, start: int, block: np.ndarray) -> list[Callable[[], None]]:
        """Tasks adding the block's frames, a band of rows each."""
        from ._summary_sums import add_rows, new_scratch

        block = as_kernel_input(block)
        if len(block) == 0:
            return []
        if self.shift is None:
            self._set_shift(block[0])
        if self.peak is None:
            self.peak = block[0].copy()
        if self.exact and self.dtype.itemsize > 2:
            self._shift_low, self._shift_high = int(self.shift.min()), int(self.shift.max())
            self._keep_sums_exact(block)
        # more bands than threads: a thread that the read ahead slowed takes fewer
        parts = min(4 * self.threads if self.threads > 1 else 1, self.shape[0])
        bands = np.linspace(0, self.shape[0], parts + 1).astype(int)
        while len(self._scratch) < len(bands) - 1:
            self._scratch.append(new_scratch(self.shape[1], self.value_dtype))
        sums, shift, peak, scratch = self._sums, self.shift, self.peak, self._scratch

        def add(k: int) -> None:
            add_rows(block, bands[k], bands[k + 1], shift, *sums, peak, scratch[k])

        self.n_frames += len(block)
        return [lambda k=k: add(k) for k in range(len(bands) - 1)]

    def block_done(self, start: int, block: np.ndarray) -> None:
        """Nothing to do once a block's bands are in."""

    def add(self, block: np.ndarray) -> SummarySums:
        """Add a block of frames here, in this thread; returns self."""
        for task in self.tasks(0, np.asarray(block)):
            task()
        return self

    # -- combining, sending and finishing ------------------------------------------------------
    def state(self) -> dict:
        """What :meth:`from_state` needs, as plain arrays and numbers (to send from a Dask
        worker: no scratch, sizes Dask can count)."""
        return {
            "shape": self.shape,
            "dtype": self.dtype.str,
            "sums": self._sums,
            "peak": self.peak,
            "n_frames": self.n_frames,
        }

    @classmethod
    def from_state(cls, state: dict, shift: np.ndarray) -> SummarySums:
        """The sums :meth:`state` described, taken relative to ``shift``."""
        sums = cls(state["shape"], np.dtype(state["dtype"]), shift=shift)
        if state["sums"].dtype.kind == "f" and sums.exact:
            sums._to_float()
            sums.shift = np.asarray(shift).astype(np.float64)
        sums._sums = state["sums"]
        sums.peak, sums.n_frames = state["peak"], state["n_frames"]
        return sums

    def combine(self, other: SummarySums) -> SummarySums:
        """Add the sums of other frames of the same movie (same shift); returns self.

        Raises
        ------
        ValueError
            If the two were taken relative to different shifts or frame shapes.
        """
        if other.n_frames == 0:
            return self
        if other.shape != self.shape or (
            self.shift is not None and not np.array_equal(other.shift, self.shift)
        ):
            raise ValueError("summary sums of one movie must share its first frame as their shift")
        if self.shift is None:
            self.shift = other.shift.copy()
        if self.exact and not other.exact:
            self._to_float()
        if self.peak is None:
            self.peak = other.peak.copy()
        else:
            np.maximum(self.peak, other.peak, out=self.peak)
        self._sums += other._sums
        self.n_frames += other.n_frames
        return self

    def sums(self) -> np.ndarray:
        """(6, rows, columns): the totals, squares and the four neighbour products, relative
        to the shift; exact (int64) for integer movies (see :attr:`exact`)."""
        return self._sums

    def result(self, cell_diameter: float = DEFAULT_CELL_DIAMETER) -> SummaryImages:
        """The summary images of the frames fed so far.

        A pixel that holds NaN or inf in any frame is NaN in every image (and
        adds 0 to its neighbours' correlation); :attr:`SummaryImages.unusable_pixels`
        counts them.

        Raises
        ------
        ValueError
            If no frame was fed, or for a bad ``cell_diameter``.
        """
        cell_diameter = check_cell_diameter(cell_diameter)
        if self.n_frames == 0:
            raise ValueError("summary images need at least one frame")
        total, squares, *products = (s.astype(np.float64) for s in self.sums())
        n = float(self.n_frames)
        shift = self.shift.astype(np.float64)
        with np.errstate(invalid="ignore", over="ignore"):
            mean_step = total / n
            variance = np.maximum(squares / n - mean_step * mean_step, 0.0)
            mean = shift + mean_step
        unusable = ~(np.isfinite(mean) & np.isfinite(variance))
        std = np.sqrt(variance)
        correlation = _local_correlation(products, mean_step, std, n)
        peak = self.peak.astype(np.float32)
        enhanced = enhanced_mean_image(np.where(unusable, 0.0, mean), cell_diameter=cell_diameter)
        for image in (mean, std, correlation, peak, enhanced):
            image[unusable] = np.nan
        return SummaryImages(
            mean=mean.astype(np.float32),
            max=peak,
            std=std.astype(np.float32),
            correlation=correlation.astype(np.float32),
            enhanced_mean=enhanced,
            n_frames=self.n_frames,
            cell_diameter=cell_diameter,
            unusable_pixels=int(unusable.sum()),
        )


def _local_correlation(products, mean_step, std, n) -> np.ndarray:
    """Each pixel's mean Pearson correlation with its existing 8 neighbours (0 for a pixel
    or neighbour whose value never changes), from the sums of neighbour products."""
    rows, columns = std.shape
    summed = np.zeros((rows, columns))
    for (dr, dc), product in zip(_NEIGHBOURS, products, strict=True):
        # pixel p = (r, c) and its neighbour q = (r + dr, c + dc), for every p that has one
        p = (slice(0, rows - dr), slice(max(0, -dc), columns - max(0, dc)))
        q = (slice(dr, rows), slice(max(0, dc), columns + min(0, dc)))
        covariance = product[p] / n - mean_step[p] * mean_step[q]
        spread = std[p] * std[q]
        with np.errstate(invalid="ignore"):
            pearson = np.divide(covariance, spread, out=np.zeros_like(spread), where=spread > 0)
        summed[p] += pearson
        summed[q] += pearson
    neighbours = _neighbour_counts(rows, columns)
    return summed / np.maximum(neighbours, 1)


def _neighbour_counts(rows: int, columns: int) -> np.ndarray:
    """(rows, columns): how many of each pixel's 8 neighbours lie inside the frame."""
    along_rows = np.minimum(np.arange(rows), 1) + np.minimum(np.arange(rows)[::-1], 1) + 1
    along_columns = np.minimum(np.arange(columns), 1) + np.minimum(np.arange(columns)[::-1], 1) + 1
    return np.outer(along_rows, along_columns) - 1


def enhanced_mean_image(mean: np.ndarray, *, cell_diameter: float = DEFAULT_CELL_DIAMETER):
    """The mean image high-pass filtered as suite2p's ``meanImgE``.

    The mean minus its median over a window of ``4 * ceil(cell_diameter) + 1``
    pixels, divided by the median of that difference's absolute value over the
    same window, then mapped from [-6, 6] to [0, 1] and clipped.

    Parameters
    ----------
    mean : (rows, columns) ndarray
    cell_diameter : float
        Cells' diameter in pixels (suite2p's ``diameter``; 0 means its default, 12).

    Returns
    -------
    (rows, columns) float32 ndarray, values in [0, 1]
    """
    from ._median_filter import median_filter

    diameter = check_cell_diameter(cell_diameter) or DEFAULT_CELL_DIAMETER
    size = int(4 * np.ceil(diameter) + 1)
    image = np.asarray(mean, dtype=np.float32)
    image = image - median_filter(image, size)
    image = image / (1e-10 + median_filter(np.absolute(image), size))
    image = (image + 6) / 12
    return np.clip(image, 0, 1).astype(np.float32)


def summary_steps(
    frames,
    *,
    cell_diameter: float = DEFAULT_CELL_DIAMETER,
    block_size: int = 1000,
    max_block_bytes: int = DEFAULT_BLOCK_BYTES,
    threads: int | None = None,
) -> Generator[tuple[int, int], None, SummaryImages]:
    """:func:`compute_summary_images` as a generator: yields ``(frames_done, frames_total)``
    after every block and returns the :class:`SummaryImages`. Closing it stops within one
    block. Bad input raises before any frame is read."""
    n_frames, rows, columns = check_frame_source(frames)
    if n_frames == 0:
        raise ValueError("the movie has no frames: summary images need at least one")
    dtype = np.dtype(getattr(frames, "dtype", np.float64))
    _sums_dtypes(dtype)  # a TypeError for a movie that does not hold numbers
    cell_diameter = check_cell_diameter(cell_diameter)
    per_block = frames_per_block(block_size, rows * columns * dtype.itemsize, max_block_bytes)
    threads = threads or default_threads(heavy=True)
    sink = SummarySums((rows, columns), dtype, threads=threads)
    yield from frame_pass(frames, [sink], per_block=per_block, threads=threads)
    return sink.result(cell_diameter)


def compute_summary_images(
    frames,
    *,
    cell_diameter: float = DEFAULT_CELL_DIAMETER,
    block_size: int = 1000,
    max_block_bytes: int = DEFAULT_BLOCK_BYTES,
    progress: Callable[[int, int], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    threads: int | None = None,
) -> SummaryImages:
    """The mean, max, std, local correlation and enhanced mean images of a movie.

    Parameters
    ----------
    frames : (n_frames, rows, columns) array-like
        The movie (numpy, memmap, h5py, dask, zarr); each frame is read once.
    cell_diameter : float
        Cells' diameter in pixels, for the enhanced mean (suite2p's ``diameter``).
    block_size : int
        Most frames read at once.
    max_block_bytes : int
        Most bytes read at once.
    progress : callable(frames_done, frames_total), optional
        Called after every block.
    should_stop : callable() -> bool, optional
        Checked after every block; True stops with
        :class:`~napari_roimasks.core.frame_pass.ExtractionCancelled`.
    threads : int, optional
        Threads that sum a block (default: one per core).

    Returns
    -------
    SummaryImages
        Each image float32 (rows, columns).

    Raises
    ------
    TypeError, ValueError
        Before any frame is read: not a movie of numbers, no frames, a bad
        block size or diameter.
    """
    steps = summary_steps(
        frames,
        cell_diameter=cell_diameter,
        block_size=block_size,
        max_block_bytes=max_block_bytes,
        threads=threads,
    )
    return run_steps(steps, progress, should_stop, unit="frame")
