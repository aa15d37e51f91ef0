"""Compiled loops for the trace metrics (see :mod:`~napari_roimasks.core.metrics`).

One trace at a time, in a thread that lets go of Python's lock, in four
passes over the trace and none over a copy of it:

1. its sum (for the mean), smallest and largest value and largest step, and
   whether every value is finite;
2. its second and third central moments, while each value and each absolute
   step ``|x[t+1] - x[t]|`` is counted into a histogram of its range;
3. the values (and steps) of the histogram bins that hold the order
   statistics wanted (median, 99th percentile, median step) are gathered:
   a few dozen values each, selected among exactly (binning is monotone:
   ``(x - lo) * scale`` never puts a larger value in a lower bin);
4. its transients counted against ``median + sigmas * noise``.

The numbers are those of numpy's ``median`` and ``percentile`` (linear rule)
and of the moments summed in frame order, exactly.
"""

import numpy as np

from ._sum_runs import compiled_loop

#: Histogram bins per trace: a few values per bin for traces of thousands of frames.
BINS = 2048

#: Candidates at most that a selection sorts out without binning them again.
_FEW = 64

#: Columns of :func:`trace_stats`'s output.
COLUMNS = ("mean", "m2", "m3", "median", "p99", "median_step", "events")


@compiled_loop
def trace_stats(traces, first, last, out, sigmas, min_frames_apart):  # pragma: no cover
    """Moments, quantiles and transients of traces ``first:last``.

    Parameters
    ----------
    traces : (n_traces, n_frames) float64 ndarray
        At least 2 frames; a row holding NaN or inf gets a row of NaN.
    first, last : int
        The rows this call handles.
    out : (n_traces, 7) float64 ndarray
        Per row (:data:`COLUMNS`): mean, second and third central moments
        (divided by n), median, 99th percentile, median of the absolute steps,
        and the number of transients: runs of frames above ``median + sigmas *
        noise`` (``noise = 1.4826 * median step / sqrt(2)``), runs fewer than
        ``min_frames_apart`` frames apart counted once; none when the noise is 0.
    sigmas : float
    min_frames_apart : int
    """
    n = traces.shape[1]
    counts = np.zeros(BINS, np.int64)
    step_counts = np.zeros(BINS, np.int64)
    scratch = np.empty((3, n))
    for i in range(first, last):
        x = traces[i]
        total, lo, hi, step_hi, finite = _span(x)
        if not finite:
            out[i, :] = np.nan
            continue
        mean = total / n
        scale, step_scale = _scale(lo, hi), _scale(0.0, step_hi)
        m2, m3 = _moments_and_counts(x, mean, lo, scale, step_scale, counts, step_counts)
        median, high, median_step = _quantiles(
            x, lo, scale, step_scale, counts, step_counts, scratch
        )
        noise = 1.4826 * median_step / np.sqrt(2.0)
        events = 0
        if noise > 0:
            events = _transients(x, median + sigmas * noise, min_frames_apart)
        out[i, 0] = mean
        out[i, 1] = m2 / n
        out[i, 2] = m3 / n
        out[i, 3] = median
        out[i, 4] = high
        out[i, 5] = median_step
        out[i, 6] = events


@compiled_loop
def _span(x):  # pragma: no cover
    """Pass 1: the sum, smallest and largest value and largest step of a trace, and whether
    every value is finite."""
    total = 0.0
    finite = 0.0  # becomes NaN at the first NaN or inf
    lo = x[0]
    hi = x[0]
    step_hi = 0.0
    for t in range(x.shape[0]):
        v = x[t]
        total += v
        finite += v * 0.0
        lo = min(lo, v)
        hi = max(hi, v)
        if t:
            step_hi = max(step_hi, abs(v - x[t - 1]))
    return total, lo, hi, step_hi, finite == 0.0


@compiled_loop
def _moments_and_counts(x, mean, lo, scale, step_scale, counts, step_counts):  # pragma: no cover
    """Pass 2: the second and third central moments summed in frame order (times n), and the
    histograms of the values and of the absolute steps."""
    counts[:] = 0
    step_counts[:] = 0
    m2 = 0.0
    m3 = 0.0
    for t in range(x.shape[0]):
        v = x[t]
        d = v - mean
        m2 += d * d
        m3 += d * d * d
        counts[_bin(v, lo, scale)] += 1
        if t:
            step_counts[_bin(abs(v - x[t - 1]), 0.0, step_scale)] += 1
    return m2, m3


@compiled_loop
def _quantiles(x, lo, scale, step_scale, counts, step_counts, scratch):  # pragma: no cover
    """Pass 3: numpy's median and 99th percentile of a trace, and the median of its absolute
    steps, from the values of the histogram bins that hold them (``counts`` overwritten)."""
    n = x.shape[0]
    position = 0.99 * (n - 1)
    low = int(np.floor(position))
    k_median, k_step = (n - 1) // 2, (n - 2) // 2
    a0, a1, below_a = _bins_of(counts, k_median, n)
    b0, b1, below_b = _bins_of(counts, low, n)
    c0, c1, below_c = _bins_of(step_counts, k_step, n - 1)
    m_a = m_b = m_c = 0
    for t in range(n):
        v = x[t]
        k = _bin(v, lo, scale)
        if a0 <= k <= a1:
            scratch[0, m_a] = v
            m_a += 1
        if b0 <= k <= b1:
            scratch[1, m_b] = v
            m_b += 1
        if t:
            step = abs(v - x[t - 1])
            k = _bin(step, 0.0, step_scale)
            if c0 <= k <= c1:
                scratch[2, m_c] = step
                m_c += 1
    lower, upper = _pair(scratch[0], m_a, k_median - below_a, counts)
    median = lower if n % 2 else (lower + upper) / 2.0
    a, b = _pair(scratch[1], m_b, low - below_b, counts)
    high = _lerp(a, b, position - low, low + 1 < n)
    lower, upper = _pair(scratch[2], m_c, k_step - below_c, counts)
    median_step = lower if (n - 1) % 2 else (lower + upper) / 2.0
    return median, high, median_step


@compiled_loop
def _transients(x, threshold, min_frames_apart):  # pragma: no cover
    """Pass 4: the runs of frames above ``threshold``, runs fewer than ``min_frames_apart``
    frames apart counted once."""
    events = 0
    last_above = -(1 << 62)
    for t in range(x.shape[0]):
        if x[t] > threshold:
            if t - last_above > min_frames_apart:
                events += 1
            last_above = t
    return events


@compiled_loop
def _scale(lo, hi):  # pragma: no cover
    """Bins per unit of ``[lo, hi]``; 0 (one bin for all) when the span is 0 or not finite."""
    span = hi - lo
    if span > 0 and span < np.inf:
        scale = BINS / span
        if scale < np.inf:
            return scale
    return 0.0


@compiled_loop
def _bin(value, lo, scale):  # pragma: no cover
    """The bin of ``value`` (``>= lo``): never lower for a larger value (an infinite
    distance from ``lo``, possible only where ``scale`` is 0, goes last)."""
    position = (value - lo) * scale
    if position < BINS:
        return int(position)
    return BINS - 1


@compiled_loop
def _bins_of(counts, k, n):  # pragma: no cover
    """The bins of the k-th and (k+1)-th smallest values (the k-th's twice when k + 1 == n),
    and how many values lie below the first."""
    below = 0
    first = 0
    while below + counts[first] <= k:
        below += counts[first]
        first += 1
    second = first
    if k + 1 < n and k + 1 >= below + counts[first]:
        second += 1
        while counts[second] == 0:
            second += 1
    return first, second, below


@compiled_loop
def _pair(values, m, k, counts):  # pragma: no cover
    """The k-th and (k+1)-th smallest of ``values[:m]`` (the k-th twice when k + 1 == m);
    ``values`` reordered and ``counts`` overwritten."""
    for _ in range(8):  # each round keeps one bin: fewer values (at least the smallest or
        if m <= _FEW:  # the largest leave); a pathological spread ends in the quickselect
            break
        lo = values[0]
        hi = values[0]
        for t in range(m):
            lo = min(lo, values[t])
            hi = max(hi, values[t])
        scale = _scale(lo, hi)
        if scale == 0.0:
            if lo == hi:
                return lo, lo
            break
        counts[:] = 0
        for t in range(m):
            counts[_bin(values[t], lo, scale)] += 1
        first, second, below = _bins_of(counts, k, m)
        if first != second:  # the k-th is its bin's largest, the (k+1)-th the next one's smallest
            a = lo
            b = hi
            for t in range(m):
                bin_ = _bin(values[t], lo, scale)
                if bin_ == first:
                    a = max(a, values[t])
                elif bin_ == second:
                    b = min(b, values[t])
            return a, b
        kept = 0
        for t in range(m):
            if _bin(values[t], lo, scale) == first:
                values[kept] = values[t]
                kept += 1
        m = kept
        k -= below
    a = _kth(values[:m], k)
    b = a
    if k + 1 < m:
        b = values[k + 1]
        for t in range(k + 2, m):  # the smallest of the upper part, all >= a now
            if values[t] < b:
                b = values[t]
    return a, b


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
def _lerp(a, b, fraction, has_next):  # pragma: no cover
    """numpy's linear-rule quantile between the order statistics ``a <= b`` (``a`` alone
    when it is the largest value), rounded as numpy's ``_lerp`` rounds."""
    if not has_next:
        return a
    difference = b - a
    if fraction >= 0.5:
        return b - difference * (1.0 - fraction)
    return a + difference * fraction
