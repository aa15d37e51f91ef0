"""The compiled inner loops of trace extraction (numba; imported on first use).

Frames are flat (``row * columns + column``) and every mask is a set of runs
of pixels along a row, given as flat ``[begin, end)`` ranges. Runs are sorted
by position, so one sweep over a frame serves every mask with cache-friendly
reads, and each run's sum is added to the mask that owns it.

Integer movies go through :func:`sum_runs_by_prefix`: one running sum over the
frame, then two look-ups per run, whatever the run's length. Integer sums are
exact (64-bit, wrapping like numpy's), so this changes no number. Float movies
go through :func:`sum_runs_directly`, which adds each run's pixels, so that a
NaN or inf outside a mask cannot leak into its sum through the running sum.

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


@compiled_loop
def sum_runs_by_prefix(
    frames, first, last, run_begin, run_end, run_owner, sums, prefix
):  # pragma: no cover
    """Add each mask's pixel sum in frames ``first:last`` into ``sums`` (integer movies).

    Parameters
    ----------
    frames : (n_frames, n_pixels) integer ndarray
    first, last : int
        Frames this call handles (threads split a block).
    run_begin, run_end : (n_runs,) int64 ndarray
        Flat pixel range of every run, sorted by ``run_begin``.
    run_owner : (n_runs,) int64 ndarray
        The mask each run belongs to.
    sums : (n_frames, n_masks) int64 or uint64 ndarray
        Zero on entry.
    prefix : (n_pixels + 1,) ndarray of the dtype of ``sums``
        Scratch space, one per thread, allocated by the caller: a fresh 2 MiB
        array per call costs page faults when the allocator hands memory back
        to the system at once (as Dask workers set it to).
    """
    n_pixels = frames.shape[1]
    prefix[0] = 0
    for t in range(first, last):
        frame = frames[t]
        running = prefix[0]
        for p in range(n_pixels):
            running += frame[p]
            prefix[p + 1] = running
        out = sums[t]
        for r in range(run_begin.shape[0]):
            out[run_owner[r]] += prefix[run_end[r]] - prefix[run_begin[r]]


@compiled_loop
def sum_runs_directly(
    frames, first, last, run_begin, run_end, run_owner, sums, prefix
):  # pragma: no cover
    """Add each mask's pixel sum in frames ``first:last`` into ``sums`` (float movies).

    Same parameters as :func:`sum_runs_by_prefix`; ``sums`` is float64 and
    ``prefix`` is not used (one signature for both loops).
    """
    for t in range(first, last):
        frame = frames[t]
        out = sums[t]
        for r in range(run_begin.shape[0]):
            total = out[run_owner[r]]
            for p in range(run_begin[r], run_end[r]):
                total += frame[p]
            out[run_owner[r]] = total
