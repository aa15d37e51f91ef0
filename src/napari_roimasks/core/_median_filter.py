"""A square median filter with zero padding, equal to ``scipy.signal.medfilt2d``, fast for
the large windows of the enhanced mean image (49 x 49 for suite2p's default cell).

``medfilt2d`` sorts every window: 5 s for a 512 x 512 image with a 49 x 49 window.
Here the pixels are replaced by their ranks, and a window of ranks slides along
each row, kept as a two-level histogram (fine bins, and coarse bins of
``coarse`` fine ones): a step removes one column and adds another, and the
median is found by moving from the last median's coarse bin, then walking at
most one coarse bin's fine counts. The padding's zeros are one more rank, between the negative and
the non-negative values, counted in bulk. Bands of rows run on threads.
"""

from concurrent.futures import ThreadPoolExecutor

import numpy as np

from ._sum_runs import compiled_loop


@compiled_loop
def _filter_rows(ranks, size, zero_rank, first_row, last_row, coarse, out):  # pragma: no cover
    """The rank of each window's median for rows ``first_row:last_row`` into ``out``."""
    n_rows, n_columns = ranks.shape
    n_bins = zero_rank + 1 + ranks.size
    half = size // 2
    middle = (size * size) // 2
    fine = np.zeros(n_bins, np.int32)
    counts = np.zeros(n_bins // coarse + 1, np.int32)
    for r in range(first_row, last_row):
        top, bottom = max(0, r - half), min(n_rows, r + half + 1)
        fine[:] = 0
        counts[:] = 0
        # the coarse bin the median was last found in, and how many ranks lie below it
        k, below = 0, 0
        inside_rows = bottom - top
        for c in range(0, min(n_columns, half + 1)):
            for rr in range(top, bottom):
                b = ranks[rr, c]
                fine[b] += 1
                counts[b // coarse] += 1
        for c in range(n_columns):
            if c > 0:
                gone, new = c - half - 1, c + half
                if gone >= 0:
                    for rr in range(top, bottom):
                        b = ranks[rr, gone]
                        fine[b] -= 1
                        counts[b // coarse] -= 1
                        if b // coarse < k:
                            below -= 1
                if new < n_columns:
                    for rr in range(top, bottom):
                        b = ranks[rr, new]
                        fine[b] += 1
                        counts[b // coarse] += 1
                        if b // coarse < k:
                            below += 1
            inside = inside_rows * (min(n_columns, c + half + 1) - max(0, c - half))
            padding = size * size - inside
            fine[zero_rank] += padding
            counts[zero_rank // coarse] += padding
            if zero_rank // coarse < k:
                below += padding
            while below > middle:
                k -= 1
                below -= counts[k]
            while below + counts[k] <= middle:
                below += counts[k]
                k += 1
            b, at = k * coarse, below
            while at + fine[b] <= middle:
                at += fine[b]
                b += 1
            out[r, c] = b
            fine[zero_rank] -= padding
            counts[zero_rank // coarse] -= padding
            if zero_rank // coarse < k:
                below -= padding


def median_filter(image: np.ndarray, size: int, *, threads: int = 2) -> np.ndarray:
    """``scipy.signal.medfilt2d(image, [size, size])``: each pixel's median over a
    ``size`` x ``size`` window, zeros outside the image.

    Parameters
    ----------
    image : (rows, columns) float ndarray, no NaN
    size : int
        The window's side, odd.

    Returns
    -------
    (rows, columns) ndarray of the image's dtype
    """
    if size % 2 != 1:
        raise ValueError(f"the window's side must be odd, got {size}")
    image = np.ascontiguousarray(image)
    flat = image.ravel()
    order = np.argsort(flat, kind="stable")
    ordered = flat[order]
    zero_rank = int(np.searchsorted(ordered, 0, side="left"))  # the padding sorts here
    ranks = np.empty(flat.size, np.int64)
    ranks[order] = np.arange(flat.size)
    ranks[ranks >= zero_rank] += 1
    value_of = np.insert(ordered, zero_rank, 0)
    ranks = ranks.reshape(image.shape)
    coarse = 64  # fine bins per coarse bin: the last walk is at most this long
    out = np.empty(image.shape, np.int64)
    bands = np.linspace(0, image.shape[0], min(threads, image.shape[0]) + 1).astype(int)
    with ThreadPoolExecutor(len(bands) - 1) as pool:
        jobs = [
            pool.submit(_filter_rows, ranks, size, zero_rank, bands[k], bands[k + 1], coarse, out)
            for k in range(len(bands) - 1)
        ]
        for job in jobs:
            job.result()
    return value_of[out].astype(image.dtype)
