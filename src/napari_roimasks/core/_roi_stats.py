"""Compiled loops for the shape and image metrics (see :mod:`~napari_roimasks.core.metrics`).

Every ROI (or ring) in one call, its box's pixels taken in ``np.nonzero``'s
order. The numbers are numpy's to the last bit: what is exact (integer
coordinates, their medians, square roots and single divisions) is computed
directly, the means are summed as numpy sums (:func:`pairwise_sum`, after
numpy's identity 0.0), and what rounds in a library's own order (the
covariance's product, the eigenvalues) is left to numpy by the caller.
"""

import numpy as np

from ._sum_runs import compiled_loop

#: numpy's pairwise summation adds blocks of at most this many values in 8 running sums.
_PAIRWISE_BLOCK = 128


@compiled_loop
def soma_shapes(
    pixels, starts, widths, diameter, disc, areas, compact, centred
):  # pragma: no cover
    """Each ROI's area, compactness and soma pixels (suite2p's ``roi_stats``, weights 1).

    Parameters
    ----------
    pixels : (total,) bool ndarray
        Every ROI's box, row by row, one ROI after another.
    starts : (n_rois + 1,) int64 ndarray
        ROI i's box is ``pixels[starts[i]:starts[i + 1]]``, ``widths[i]`` columns wide.
    widths : (n_rois,) int64 ndarray
    diameter : float
        suite2p's cell diameter, the unit of the distances.
    disc : (n,) float64 ndarray
        The distances (in diameters) of the most compact ROI's pixels from its centre,
        sorted.
    areas : (n_rois,) int64 ndarray
        Out: each ROI's pixel count; its soma's is ``centred``'s block size.
    compact : (n_rois,) float64 ndarray
        Out: the compactness (NaN for an ROI without pixels).
    centred : (2 * total,) float64 ndarray
        Out: ROI i's soma pixels' rows, then their columns, in diameters, less their
        means: a (2, size) block from ``2 * starts[i]`` on.

    Returns
    -------
    sizes : (n_rois,) int64 ndarray
        Each ROI's soma pixel count (0 for an ROI without pixels).
    """
    sizes = np.zeros(widths.shape[0], np.int64)
    for i in range(widths.shape[0]):
        start, stop, width = starts[i], starts[i + 1], widths[i]
        ys = np.empty(stop - start)
        xs = np.empty(stop - start)
        n = 0
        p = start
        for row in range((stop - start) // max(width, 1)):
            for column in range(width):
                if pixels[p]:
                    ys[n] = row
                    xs[n] = column
                    n += 1
                p += 1
        ys, xs = ys[:n], xs[:n]
        areas[i] = n
        keep = _soma(ys, xs)
        m = 0
        for p in range(n):
            if keep[p]:
                ys[m] = ys[p]
                xs[m] = xs[p]
                m += 1
        sizes[i] = m
        if m == 0:
            compact[i] = np.nan
            continue
        ys, xs = ys[:m], xs[:m]
        cy, cx = np.median(ys), np.median(xs)
        spread = np.empty(m)
        for p in range(m):
            dy = (ys[p] - cy) / diameter
            dx = (xs[p] - cx) / diameter
            spread[p] = np.sqrt(dy * dy + dx * dx)
        disc_mean = _mean(disc[: min(m, disc.shape[0])])
        compact[i] = max(1.0, _mean(spread) / (1e-10 + disc_mean))
        for p in range(m):
            ys[p] /= diameter
            xs[p] /= diameter
        my, mx = _mean(ys), _mean(xs)
        for p in range(m):
            centred[2 * start + p] = ys[p] - my
            centred[2 * start + m + p] = xs[p] - mx
    return sizes


@compiled_loop
def _mean(values):  # pragma: no cover
    """numpy's ``values.mean()``."""
    return (0.0 + pairwise_sum(values, 0, values.shape[0])) / values.shape[0]


@compiled_loop
def _soma(ys, xs):  # pragma: no cover
    """suite2p's ``soma_crop`` with every pixel weighted 1: the pixels inside the radius
    where the ROI stops growing like a disc (dendrites left out); all of a small ROI."""
    n = ys.shape[0]
    keep = np.ones(n, np.bool_)
    if n <= 10:
        return keep
    # the pixel nearest the median row and column (suite2p's median_pix)
    my, mx = np.median(ys), np.median(xs)
    nearest, best = 0, np.inf
    for p in range(n):
        d = (xs[p] - mx) ** 2 + (ys[p] - my) ** 2
        if d < best:
            nearest, best = p, d
    cy, cx = ys[nearest], xs[nearest]
    distances = np.empty(n)
    for p in range(n):
        distances[p] = np.sqrt((ys[p] - cy) ** 2 + (xs[p] - cx) ** 2)
    # the pixels closer than radius r, for r = 0, 1, ... (numpy's arange to the farthest)
    n_radii = int(np.ceil(distances.max()))
    area = np.zeros(n_radii + 1, np.int64)
    for p in range(n):
        area[min(int(np.floor(distances[p])) + 1, n_radii)] += 1
    for r in range(1, n_radii):
        area[r] += area[r - 1]
    radius = float(n_radii - 1)
    if n_radii > 1:
        growth_max = 0
        for r in range(n_radii - 1):
            growth_max = max(growth_max, area[r + 1] - area[r])
        threshold = growth_max / 3
        for r in range(n_radii - 1):
            if area[r + 1] - area[r] > threshold:
                for s in range(r, n_radii - 1):
                    if area[s + 1] - area[s] < threshold:
                        radius = float(s)
                        break
                break
    kept = 0
    for p in range(n):
        keep[p] = distances[p] < radius
        kept += keep[p]
    if kept == 0:
        keep[:] = True
    return keep


@compiled_loop
def crop_means(image, pixels, starts, tops, lefts, widths, means, stds):  # pragma: no cover
    """The mean and the population standard deviation of ``image`` inside each crop.

    Parameters
    ----------
    image : (rows, columns) ndarray
        Any real type (summed in float64); every crop lies inside it.
    pixels : (total,) bool ndarray
        Every crop's box, row by row, one crop after another.
    starts : (n_crops + 1,) int64 ndarray
        Crop i's box is ``pixels[starts[i]:starts[i + 1]]``, ``widths[i]`` columns wide,
        its first pixel at image row ``tops[i]``, column ``lefts[i]``.
    tops, lefts, widths : (n_crops,) int64 ndarray
    means, stds : (n_crops,) float64 ndarray
        Out: NaN for a crop without pixels. ``stds`` of size 0: not computed.
    """
    largest = 1
    for i in range(widths.shape[0]):
        largest = max(largest, starts[i + 1] - starts[i])
    values = np.empty(largest)
    for i in range(widths.shape[0]):
        start, stop, width = starts[i], starts[i + 1], widths[i]
        n = 0
        p = start
        for row in range(tops[i], tops[i] + (stop - start) // max(width, 1)):
            for column in range(lefts[i], lefts[i] + width):
                if pixels[p]:
                    values[n] = image[row, column]
                    n += 1
                p += 1
        if n == 0:
            means[i] = np.nan
            if stds.shape[0]:
                stds[i] = np.nan
            continue
        mean = (0.0 + pairwise_sum(values, 0, n)) / n
        means[i] = mean
        if stds.shape[0]:
            for p in range(n):
                d = values[p] - mean
                values[p] = d * d
            stds[i] = np.sqrt((0.0 + pairwise_sum(values, 0, n)) / n)


@compiled_loop
def pairwise_sum(values, first, n):  # pragma: no cover
    """numpy's pairwise sum of ``values[first:first + n]`` (``DOUBLE_pairwise_sum``): halves
    (cut at a multiple of 8) down to blocks of at most 128, each summed in 8 running sums,
    and each pair of halves added, in numpy's order.

    numpy recurses; this walks the same tree with a stack of its own (numba's cache cannot
    load a recursive function back).
    """
    if n <= _PAIRWISE_BLOCK:
        return _block_sum(values, first, n)
    firsts = np.empty(64, np.int64)  # a tree of depth 64 would sum 2**64 values
    sizes = np.empty(64, np.int64)
    lefts = np.empty(64)
    waiting = np.zeros(64, np.bool_)  # for its right half, its left one summed into lefts
    depth = 0
    firsts[0], sizes[0] = first, n
    while True:
        size = sizes[depth]
        if size > _PAIRWISE_BLOCK:  # go down its left half
            waiting[depth] = False
            firsts[depth + 1], sizes[depth + 1] = firsts[depth], _left_half(size)
            depth += 1
            continue
        total = _block_sum(values, firsts[depth], size)
        while depth > 0:  # hand the sum up
            depth -= 1
            if not waiting[depth]:  # a left half: now the right one
                lefts[depth] = total
                waiting[depth] = True
                half = _left_half(sizes[depth])
                firsts[depth + 1] = firsts[depth] + half
                sizes[depth + 1] = sizes[depth] - half
                depth += 1
                break
            total = lefts[depth] + total
        else:
            return total


@compiled_loop
def _left_half(n):  # pragma: no cover
    half = n // 2
    return half - half % 8


@compiled_loop
def _block_sum(values, first, n):  # pragma: no cover
    """numpy's sum of at most 128 values: one after another below 8, else in 8 running sums."""
    if n < 8:
        total = -0.0
        for p in range(first, first + n):
            total += values[p]
        return total
    r0, r1, r2, r3 = values[first], values[first + 1], values[first + 2], values[first + 3]
    r4, r5, r6, r7 = values[first + 4], values[first + 5], values[first + 6], values[first + 7]
    p = first + 8
    end = first + n - n % 8
    while p < end:
        r0 += values[p]
        r1 += values[p + 1]
        r2 += values[p + 2]
        r3 += values[p + 3]
        r4 += values[p + 4]
        r5 += values[p + 5]
        r6 += values[p + 6]
        r7 += values[p + 7]
        p += 8
    total = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    while p < first + n:
        total += values[p]
        p += 1
    return total
