"""The compiled inner loop of the summary images (numba; imported on first use).

One call adds a band of rows of a block of frames into the per-pixel sums
that the mean, the standard deviation and the local correlation image are made
from, and into the per-pixel maximum. Threads take bands of rows, so each
writes its own rows of the sums.

The frames are taken a few at a time (``frames_at_once``): every row of those
frames is shifted once into a scratch row (values relative to the movie's
first frame, which keeps float sums precise and integer sums small), serves as
the lower neighbour of the row above and then as the row itself, and all six
sums of a pixel are updated in one visit per four frames, so that they are
read and written a quarter as often. Integer movies are summed in 64-bit integers: exact, so the
result does not depend on the blocks or the order of the frames.
"""

import numpy as np

from ._sum_runs import compiled_loop


@compiled_loop
def _shift_row(block, t0, m, r, shift, out, peak, with_peak):  # pragma: no cover
    """Frames ``t0:t0 + m`` of row ``r``, minus the shift, into ``out[:m]`` (zeros beyond, up
    to the next multiple of 4); the row's largest values into ``peak[r]`` when ``with_peak``."""
    n_columns = block.shape[2]
    sh = shift[r]
    for k in range(min(out.shape[0], (m + 3) // 4 * 4)):
        target = out[k]
        if k < m:
            row = block[t0 + k, r]
            for c in range(n_columns):
                target[c] = row[c] - sh[c]
            if with_peak:
                pk = peak[r]
                for c in range(n_columns):
                    pk[c] = max(pk[c], row[c])
        else:
            for c in range(n_columns):
                target[c] = 0


@compiled_loop
def add_rows(
    block,
    first_row,
    last_row,
    shift,
    total,
    squares,
    right,
    down,
    down_right,
    down_left,
    peak,
    scratch,
):  # pragma: no cover
    """Add rows ``first_row:last_row`` of every frame of ``block`` into the sums.

    Parameters
    ----------
    block : (n_frames, rows, columns) ndarray
        The frames, any numeric dtype.
    first_row, last_row : int
        The rows this call adds (threads split the frame into bands of rows).
    shift : (rows, columns) ndarray of the sums' dtype
        Subtracted from every frame before it is summed.
    total, squares : (rows, columns) int64 or float64 ndarray
        Sums of the shifted values and of their squares.
    right, down, down_right, down_left : (rows, columns) ndarray of the same dtype
        Sums of the products of each shifted value with its neighbour at
        (row, column + 1), (row + 1, column), (row + 1, column + 1) and
        (row + 1, column - 1); left alone where that neighbour is outside the frame.
    peak : (rows, columns) ndarray of the block's dtype
        The largest value so far (updated in place).
    scratch : (2, frames_at_once, columns) ndarray of the sums' dtype
        Scratch rows, one per thread; ``frames_at_once`` is a multiple of 4.
    """
    n_frames, n_rows, n_columns = block.shape
    at_once = scratch.shape[1]
    for t0 in range(0, n_frames, at_once):
        m = min(at_once, n_frames - t0)
        here, below = scratch[0], scratch[1]
        _shift_row(block, t0, m, first_row, shift, here, peak, True)
        for r in range(first_row, last_row):
            has_below = r + 1 < n_rows
            if has_below:
                _shift_row(block, t0, m, r + 1, shift, below, peak, r + 1 < last_row)
            tr, sq, ri = total[r], squares[r], right[r]
            do, dr, dl = down[r], down_right[r], down_left[r]
            if not has_below:
                below[:, :] = 0  # no row below: its products add nothing
            last = n_columns - 1
            for k in range(0, (m + 3) // 4 * 4, 4):  # the frames there are, 4 at a time
                y0, y1, y2, y3 = here[k], here[k + 1], here[k + 2], here[k + 3]
                z0, z1, z2, z3 = below[k], below[k + 1], below[k + 2], below[k + 3]
                for c in range(n_columns):
                    a0, a1, a2, a3 = y0[c], y1[c], y2[c], y3[c]
                    tr[c] += (a0 + a1) + (a2 + a3)
                    sq[c] += (a0 * a0 + a1 * a1) + (a2 * a2 + a3 * a3)
                    do[c] += (a0 * z0[c] + a1 * z1[c]) + (a2 * z2[c] + a3 * z3[c])
                    if c < last:
                        ri[c] += (a0 * y0[c + 1] + a1 * y1[c + 1]) + (
                            a2 * y2[c + 1] + a3 * y3[c + 1]
                        )
                        dr[c] += (a0 * z0[c + 1] + a1 * z1[c + 1]) + (
                            a2 * z2[c + 1] + a3 * z3[c + 1]
                        )
                    if c > 0:
                        dl[c] += (a0 * z0[c - 1] + a1 * z1[c - 1]) + (
                            a2 * z2[c - 1] + a3 * z3[c - 1]
                        )
            here, below = below, here


def frames_at_once(n_columns: int, itemsize: int = 8) -> int:
    """How many frames :func:`add_rows` shifts at once: a multiple of 4 whose scratch rows
    (two sets) stay within about 128 KiB, the processor's faster caches."""
    fit = (128 * 1024) // (2 * max(n_columns, 1) * itemsize)
    return int(max(4, min(64, fit // 4 * 4)))


def new_scratch(n_columns: int, dtype) -> np.ndarray:
    """Scratch rows for one thread of :func:`add_rows`."""
    return np.empty((2, frames_at_once(n_columns), n_columns), dtype=dtype)
