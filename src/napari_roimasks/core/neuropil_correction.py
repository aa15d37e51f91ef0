"""Neuropil correction ``F - r * Fneu``, the contamination ratio r, and dF/F.

:func:`estimate_contamination_ratio` follows AllenSDK's
``allensdk.brain_observatory.r_neuropil.estimate_contamination_ratios``: the
trace is split into ``folds`` equal parts (the remainder is dropped); for a
candidate r, each part's corrected trace ``F_C`` is the smooth trace that
minimises ``|F_C - (F - r Fneu)|^2 + lam |D F_C|^2`` (D: first difference),
and the error is the fold-mean of ``rms(F_C - (F - r Fneu)) / mean(F)``. r is
searched on a grid over ``[0, 2)`` with step 0.1, then three times on a grid
ten times finer around the best value (the range grows when the best r sits
on its upper edge). A negative r becomes 0.

:func:`replace_unusable_ratios` applies the Allen pipeline's rule across
ROIs: an r above 1 is replaced by the mean of the ROIs' r at most 1, or by
0.7 when there is none.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = [
    "DEFAULT_CONTAMINATION_RATIO",
    "ContaminationFit",
    "delta_f_over_f",
    "estimate_contamination_ratio",
    "replace_unusable_ratios",
]

#: The ratio used when none is fitted, and AllenSDK's fallback.
DEFAULT_CONTAMINATION_RATIO = 0.7


@dataclass(frozen=True)
class ContaminationFit:
    """The fitted contamination ratio and its cross-validated error."""

    r: float
    error: float


def _smoothing_bands(n: int, lam: float) -> np.ndarray:
    # I + lam * D^T D in solve_banded's (1, 1) layout: D is the (n-1, n) first difference
    main = np.full(n, 1 + 2 * lam)
    main[[0, -1]] = 1 + lam
    bands = np.zeros((3, n))
    bands[0, 1:] = -lam
    bands[1] = main
    bands[2, :-1] = -lam
    return bands


def estimate_contamination_ratio(
    roi_trace,
    neuropil_trace,
    *,
    lam: float = 0.05,
    folds: int = 4,
    iterations: int = 3,
    r_range: tuple[float, float] = (0.0, 2.0),
    dr: float = 0.1,
    dr_factor: float = 0.1,
) -> ContaminationFit:
    """Cross-validated neuropil contamination ratio of one ROI, as AllenSDK fits it.

    Parameters
    ----------
    roi_trace, neuropil_trace : (n_frames,) array_like of float
        F and Fneu; NaN frames are left out.
    lam, folds, iterations, r_range, dr, dr_factor
        AllenSDK's parameters, with its defaults.

    Returns
    -------
    ContaminationFit
        NaN r and error when fewer than ``2 * folds`` finite frames remain.
    """
    from scipy.linalg import solve_banded  # here: scipy takes long to import

    f = np.asarray(roi_trace, dtype=float)
    fneu = np.asarray(neuropil_trace, dtype=float)
    if f.shape != fneu.shape or f.ndim != 1:
        raise ValueError(
            f"the ROI and neuropil traces must be 1D and equally long, got {f.shape} and {fneu.shape}"
        )
    finite = np.isfinite(f) & np.isfinite(fneu)
    f, fneu = f[finite], fneu[finite]
    fold_length = len(f) // folds
    if fold_length < 2:
        return ContaminationFit(float("nan"), float("nan"))
    bands = _smoothing_bands(fold_length, lam)
    parts = [slice(i * fold_length, (i + 1) * fold_length) for i in range(folds)]

    def errors(rs: np.ndarray) -> np.ndarray:
        total = np.zeros(len(rs))
        for part in parts:
            target = f[part, None] - rs[None, :] * fneu[part, None]  # (fold_length, n_r)
            smooth = solve_banded((1, 1), bands, target)
            total += np.abs(np.sqrt(np.mean((smooth - target) ** 2, axis=0)) / np.mean(f[part]))
        return total / folds

    best_r, best_error = None, None
    low, high, step, done = r_range[0], r_range[1], dr, 0
    while done < iterations:
        rs = np.arange(low, high, step)
        errs = errors(rs)
        i = int(np.argmin(errs))
        if best_error is None or errs[i] < best_error:
            best_error, best_r = float(errs[i]), float(rs[i])
        if i == len(rs) - 1:  # the best r is on the upper edge: look further up
            low, high = rs[-1], rs[-1] + (rs[-1] - rs[0])
        else:
            low, high = rs[max(i - 1, 0)], rs[min(i + 1, len(rs) - 1)]
            step *= dr_factor
            done += 1
    return ContaminationFit(max(best_r, 0.0), best_error)


def replace_unusable_ratios(ratios) -> np.ndarray:
    """The Allen pipeline's rule: each r > 1 becomes the mean of the r <= 1, or 0.7 if none.

    Parameters
    ----------
    ratios : (n_rois,) array_like of float
        NaN (an ROI without traces) stays NaN.
    """
    r = np.array(ratios, dtype=float)
    usable = np.isfinite(r) & (r <= 1)
    replacement = r[usable].mean() if usable.any() else DEFAULT_CONTAMINATION_RATIO
    r[np.isfinite(r) & (r > 1)] = replacement
    return r


def delta_f_over_f(
    trace, window: int, *, baseline: str = "median", percentile: float = 10.0
) -> np.ndarray:
    """dF/F = (F - F0) / F0 with a running baseline F0.

    Parameters
    ----------
    trace : (n_frames,) array_like of float
        Usually the neuropil-corrected trace.
    window : int
        Width of the running window, in frames (odd widths are centred; at the
        ends the trace's edge value is repeated).
    baseline : {'median', 'percentile'}
        F0 is the running median, or the running ``percentile``-th percentile.
    percentile : float
        For ``baseline='percentile'``.

    Returns
    -------
    (n_frames,) float64 ndarray
        NaN where F0 <= 0 (no meaningful ratio), and where the trace is NaN.
    """
    from scipy import ndimage  # here: scipy takes long to import

    f = np.asarray(trace, dtype=float)
    if int(window) < 1:
        raise ValueError(f"the dF/F baseline window must be at least 1 frame, got {window}")
    if not np.isfinite(f).any():
        return np.full(f.shape, np.nan)
    filled = np.where(np.isfinite(f), f, np.nanmedian(f))
    if baseline == "median":
        f0 = ndimage.median_filter(filled, size=int(window), mode="nearest")
    elif baseline == "percentile":
        f0 = ndimage.percentile_filter(filled, float(percentile), size=int(window), mode="nearest")
    else:
        raise ValueError(f"baseline must be 'median' or 'percentile', got {baseline!r}")
    with np.errstate(divide="ignore", invalid="ignore"):
        dff = (f - f0) / f0
    dff[~(f0 > 0) | ~np.isfinite(f)] = np.nan
    return dff
