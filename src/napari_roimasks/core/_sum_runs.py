"""The compiled inner loops of trace extraction (numba; imported on first use).

Frames are flat (``row * columns + column``) and every mask is a set of runs
of pixels along a row, given as flat ``[begin, end)`` ranges. Runs are sorted
by position, so one sweep over a frame serves every mask with cache-friendly
reads, and each run's sum is added to the mask that owns it.

Integer movies go through :func:`sum_rows_by_prefix`: eight frames at a time,
one running sum over each row, then two look-ups per run, whatever the run's
length. Integer sums are exact (64-bit, wrapping like numpy's), so this changes
no number. Float movies go through :func:`sum_runs_directly`, which adds each
run's pixels, so that a NaN or inf outside a mask cannot leak into its sum
through the running sum.

The compiled loops are cached on disk where numba finds a writable place (the
package's ``__pycache__``, else the user's cache folder, or ``NUMBA_CACHE_DIR``);
where there is none (a read-only install and home), they are compiled in each
process instead, with no error.
"""

import numba


def compiled_loop(function):
    """``numba.njit(nogil=True)``, cached on disk when numba has somewhere to write the cache."""
    try:
        return numba.njit(nogil=True, cache=True)(function)
    except RuntimeError as error:  # "cannot cache function ...: no locator available"
        if "cannot cache" not in str(error):
            raise
        return numba.njit(nogil=True)(function)


#: Frames :func:`sum_rows_by_prefix` takes at once: each run's two look-ups serve them all
#: (8 int64 running sums are one cache line), and a row's running sums (513 x 8 int64 for a
#: 512-pixel row) stay in the processor's fastest cache.
FRAMES_AT_ONCE = 8


@compiled_loop
def sum_rows_by_prefix(
    frames,
    first,
    last,
    run_begin,
    run_end,
    run_slot,
    slot_mask,
    row_runs,
    row_span,
    sums,
    prefix,
    totals,
):  # pragma: no cover
    """Each mask's pixel sum in frames ``first:last``, into ``sums`` (integer movies).

    :data:`FRAMES_AT_ONCE` frames at a time, row by row: the running sums of those
    frames' row (only over the columns its runs cover) are kept side by side in
    ``prefix``, and each run of the row then costs two look-ups that serve every
    frame. Masks are summed in slots numbered by where they begin, so the masks a
    row touches sit together in ``totals``. Integer sums are exact (64-bit,
    wrapping like numpy's), so the order changes no number.

    Parameters
    ----------
    frames : (n_frames, rows, columns) integer ndarray
    first, last : int
        Frames this call handles.
    run_begin, run_end : (n_runs,) int64 ndarray
        Flat pixel range of every run, sorted by ``run_begin`` (so grouped by row).
    run_slot : (n_runs,) int64 ndarray
        The slot of the mask each run belongs to.
    slot_mask : (n_masks,) int64 ndarray
        The mask each slot holds.
    row_runs : (rows + 1,) int64 ndarray
        Row ``r``'s runs are ``row_runs[r]:row_runs[r + 1]``.
    row_span : (rows, 2) int64 ndarray
        The columns ``[first, last)`` row ``r``'s runs cover together.
    sums : (n_masks, n_frames) int64 or uint64 ndarray
        Overwritten for frames ``first:last``.
    prefix : (columns + 1, FRAMES_AT_ONCE) ndarray of the dtype of ``sums``
        Scratch space, one per thread (allocated by the caller: no page faults per call).
    totals : (n_masks, FRAMES_AT_ONCE) ndarray of the dtype of ``sums``
        Scratch space, one per thread.
    """
    n_rows, n_columns = frames.shape[1], frames.shape[2]
    n_masks = sums.shape[0]
    k = FRAMES_AT_ONCE
    zero = prefix[0, 0] - prefix[0, 0]  # a zero of the sums' type (uint64 stays uint64)
    for t0 in range(first, last, k):
        m = min(k, last - t0)  # the last frames fill the spare columns again, never read out
        totals[:, :] = zero
        for r in range(n_rows):
            if row_runs[r + 1] == row_runs[r]:
                continue
            left = row_span[r, 0]
            width = row_span[r, 1] - left
            base = r * n_columns + left
            for f in range(k):
                prefix[0, f] = zero
            for c in range(width):
                for f in range(k):
                    prefix[c + 1, f] = prefix[c, f] + frames[t0 + min(f, m - 1), r, left + c]
            for q in range(row_runs[r], row_runs[r + 1]):
                b = run_begin[q] - base
                e = run_end[q] - base
                total = totals[run_slot[q]]
                for f in range(k):
                    total[f] += prefix[e, f] - prefix[b, f]
        for o in range(n_masks):
            for f in range(m):
                sums[slot_mask[o], t0 + f] = totals[o, f]


@compiled_loop
def sum_runs_directly(frames, first, last, run_begin, run_end, run_owner, sums):  # pragma: no cover
    """Add each mask's pixel sum in frames ``first:last`` into ``sums`` (float movies).

    Parameters
    ----------
    frames : (n_frames, n_pixels) float ndarray
    first, last : int
        Frames this call handles.
    run_begin, run_end, run_owner : (n_runs,) int64 ndarray
        As :func:`sum_rows_by_prefix` takes them.
    sums : (n_masks, n_frames) float64 ndarray
        Overwritten for frames ``first:last``.
    """
    sums[:, first:last] = 0.0
    for t in range(first, last):
        frame = frames[t]
        for r in range(run_begin.shape[0]):
            total = sums[run_owner[r], t]
            for p in range(run_begin[r], run_end[r]):
                total += frame[p]
            sums[run_owner[r], t] = total
