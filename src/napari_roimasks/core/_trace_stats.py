"""Compiled loops for the trace metrics (see :mod:`~napari_roimasks.core.metrics`).

One trace at a time, in a thread that lets go of Python's lock: its mean and
central moments, median, 99th percentile (numpy's linear rule) and median
absolute step, in a scratch row of the caller's.
"""

import numpy as np

from ._sum_runs import compiled_loop


@compiled_loop
def trace_stats(traces, first, last, out, scratch):  # pragma: no cover
    """Moments and quantiles of traces ``first:last``.

    Parameters
    ----------
    traces : (n_traces, n_frames) float64 ndarray
        Finite values, at least 2 frames.
    first, last : int
        The rows this call handles.
    out : (n_traces, 6) float64 ndarray
        Per row: mean, second and third central moments (divided by n), median,
        99th percentile, median of the absolute steps ``|x[t+1] - x[t]|``.
    scratch : (n_frames,) float64 ndarray
        This thread's.
    """
    n = traces.shape[1]
    for i in range(first, last):
        x = traces[i]
        total = 0.0
        for t in range(n):
            total += x[t]
        mean = total / n
        m2 = 0.0
        m3 = 0.0
        for t in range(n):
            d = x[t] - mean
            m2 += d * d
            m3 += d * d * d
        out[i, 0] = mean
        out[i, 1] = m2 / n
        out[i, 2] = m3 / n
        scratch[:] = x
        out[i, 3] = _median(scratch)
        # the median split the values around n // 2: the 99th percentile is in the upper part
        upper = n // 2
        if int(np.floor(0.99 * (n - 1))) < upper:
            scratch[:] = x
            upper = 0
        out[i, 4] = _linear_quantile(scratch[upper:], 0.99, n, upper)
        for t in range(n - 1):
            scratch[t] = abs(x[t + 1] - x[t])
        out[i, 5] = _median(scratch[: n - 1])


@compiled_loop
def _kth(values, k):  # pragma: no cover
    """The k-th smallest of ``values`` (reordered in place; quickselect)."""
    low, high = 0, values.shape[0] - 1
    while low < high:
        pivot = values[(low + high) // 2]
        i, j = low, high
        while i <= j:
            while values[i] < pivot:
                i += 1
            while values[j] > pivot:
                j -= 1
            if i <= j:
                values[i], values[j] = values[j], values[i]
                i += 1
                j -= 1
        if k <= j:
            high = j
        elif k >= i:
            low = i
        else:
            return values[k]
    return values[k]


@compiled_loop
def _median(values):  # pragma: no cover
    """numpy's median of ``values`` (reordered in place)."""
    n = values.shape[0]
    upper = _kth(values, n // 2)
    if n % 2:
        return upper
    lower = values[0]
    for t in range(1, n // 2):  # the largest of the lower half, all <= upper now
        if values[t] > lower:
            lower = values[t]
    return (lower + upper) / 2.0


@compiled_loop
def _linear_quantile(values, q, n, skipped):  # pragma: no cover
    """numpy's linear-rule quantile ``q`` (0..1) of ``n`` values whose ``skipped`` smallest
    are left out of ``values`` (reordered in place)."""
    position = q * (n - 1)
    low = int(np.floor(position))
    fraction = position - low
    low -= skipped
    n = values.shape[0]
    a = _kth(values, low)
    if low + 1 >= n:
        return a
    b = values[low + 1]
    for t in range(low + 2, n):  # the smallest of the upper part, all >= a now
        if values[t] < b:
            b = values[t]
    difference = b - a
    if fraction >= 0.5:  # numpy's _lerp, for the same rounding
        return b - difference * (1.0 - fraction)
    return a + difference * fraction
