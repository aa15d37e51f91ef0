"""Per-ROI quality measures a curator sorts and colours ROIs by.

Shape (from the ROI's pixels), trace (from its neuropil-corrected trace
``Fc = F - r * Fneu``) and image measures (from the summary images), each an
(n_rois,) float64 array with NaN where it cannot be computed (an absent ROI, a
trace of NaN, no summary images). The README's "Quality metrics" section gives
the formulas.

- ``area``: the ROI's pixel count.
- ``compactness``: suite2p's (``roi_stats`` with every pixel weighted 1): the
  mean distance of the pixels from their median centre, in cell diameters,
  over the same for a disc of as many pixels; at least 1, 1 for a disc.
- ``aspect_ratio``: suite2p's: ``2 r0 / (0.01 + r0 + r1)`` for the radii
  ``r0 >= r1`` of the 2-sigma ellipse of the pixels' covariance (1 for a disc,
  towards 2 for a line).
- ``border_distance``: pixels between the ROI and the motion border: 0 when it
  touches the usable area's edge, negative when it reaches into the border.
- ``skew``: ``scipy.stats.skew`` of ``Fc``.
- ``snr``: ``(p99(Fc) - median(Fc)) / sigma`` with the robust noise
  ``sigma = 1.4826 * median(|diff(Fc)|) / sqrt(2)``.
- ``events``: transients of ``Fc``: runs of frames above ``median(Fc) + 3 sigma``,
  runs fewer than 3 frames apart counting as one.
- ``correlation_roi`` / ``correlation_ring``: the mean of the correlation image
  inside the ROI / its neuropil ring.
- ``brightness_z``: ``(mean of the mean image in the ROI - mean in its ring) /
  std in its ring`` (the Allen pipeline's test against the background).
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np

from .border import MotionBorder
from .masks import MaskCrop

__all__ = [
    "EVENT_MIN_FRAMES_APART",
    "EVENT_SIGMAS",
    "METRICS",
    "aspect_ratio",
    "border_distances",
    "compactness",
    "image_metrics",
    "noise_sigma",
    "roi_metrics",
    "shape_metrics",
    "trace_events",
    "trace_metrics",
]

#: Every metric, in the order tables show them.
METRICS = (
    "area",
    "compactness",
    "aspect_ratio",
    "border_distance",
    "skew",
    "snr",
    "events",
    "correlation_roi",
    "correlation_ring",
    "brightness_z",
)

#: A transient rises above the median by this many noise sigmas.
EVENT_SIGMAS = 3.0

#: Transients closer than this many frames count once.
EVENT_MIN_FRAMES_APART = 3

#: suite2p's default cell diameter (pixels), which its compactness is measured in.
_SUITE2P_DIAMETER = 12.0


def _disc_distances(diameter: float) -> np.ndarray:
    """Sorted distances (in diameters) of a grid's points from its centre: the pixels of
    the most compact ROI of each size, as suite2p's ``roi_stats`` lists them."""
    steps = np.arange(-diameter * 3, diameter * 3 + 1) / diameter
    dy, dx = np.meshgrid(steps, steps, indexing="ij")
    return np.sort(np.sqrt(dy**2 + dx**2).ravel())


_DISC = _disc_distances(_SUITE2P_DIAMETER)


def _median_pixel(ys: np.ndarray, xs: np.ndarray) -> tuple[float, float]:
    """The ROI pixel closest to the median row and column (suite2p's ``median_pix``)."""
    my, mx = np.median(ys), np.median(xs)
    nearest = ((xs - mx) ** 2 + (ys - my) ** 2).argmin()
    return float(ys[nearest]), float(xs[nearest])


def _soma(ys: np.ndarray, xs: np.ndarray) -> np.ndarray:
    """suite2p's ``soma_crop`` with every pixel weighted 1: the pixels inside the radius
    where the ROI stops growing like a disc (dendrites left out); all of a small ROI."""
    crop = np.ones(ys.size, dtype=bool)
    if ys.size > 10:
        centre = _median_pixel(ys, xs)
        distances = np.sqrt((ys - centre[0]) ** 2 + (xs - centre[1]) ** 2)
        radii = np.arange(0, distances.max(), 1)
        area = np.searchsorted(np.sort(distances), radii, side="left").astype(float)
        growth = np.diff(area)
        radius = radii[-1]
        if growth.size:
            threshold = growth.max() / 3
            above = np.flatnonzero(growth > threshold)
            if above.size:
                below = np.flatnonzero(growth[above[0] :] < threshold)
                if below.size:
                    radius = radii[below[0] + above[0]]
        crop = distances < radius
    if not crop.any():
        crop[:] = True
    return crop


def compactness(mask: MaskCrop) -> float:
    """suite2p's compactness of an ROI whose pixels all weigh 1 (see the module)."""
    ys, xs = (np.nonzero(mask.pixels)[k].astype(np.float64) for k in (0, 1))
    keep = _soma(ys, xs)
    ys, xs = ys[keep], xs[keep]
    cy, cx = np.median(ys), np.median(xs)
    spread = np.sqrt(((ys - cy) / _SUITE2P_DIAMETER) ** 2 + ((xs - cx) / _SUITE2P_DIAMETER) ** 2)
    disc = _DISC[: ys.size].mean()
    return float(max(1.0, spread.mean() / (1e-10 + disc)))


def aspect_ratio(mask: MaskCrop) -> float:
    """suite2p's aspect ratio of an ROI whose pixels all weigh 1 (see the module)."""
    ys, xs = (np.nonzero(mask.pixels)[k].astype(np.float64) for k in (0, 1))
    keep = _soma(ys, xs)
    points = np.stack((ys[keep], xs[keep])) / _SUITE2P_DIAMETER
    centred = points - points.mean(axis=1, keepdims=True)
    covariance = centred @ centred.T / points.shape[1]
    radii = np.sort(2.0 * np.sqrt(np.maximum(0.0, np.linalg.eigvalsh(covariance))))[::-1]
    return float(2 * radii[0] / (0.01 + radii[0] + radii[1]))


def shape_metrics(masks: Sequence[MaskCrop | None]) -> dict[str, np.ndarray]:
    """``area``, ``compactness`` and ``aspect_ratio`` of every ROI (NaN for None)."""
    out = {name: np.full(len(masks), np.nan) for name in ("area", "compactness", "aspect_ratio")}
    for i, mask in enumerate(masks):
        if mask is None or mask.area == 0:
            continue
        out["area"][i] = mask.area
        out["compactness"][i] = compactness(mask)
        out["aspect_ratio"][i] = aspect_ratio(mask)
    return out


def border_distances(
    masks: Sequence[MaskCrop | None], border: MotionBorder, image_shape: tuple[int, int]
) -> np.ndarray:
    """(n_rois,) float64: pixels between each ROI and the motion border (see the module).

    The nearest ROI pixels to the usable area's edges are its box's outermost
    pixels, so the box gives the exact distance.
    """
    area = border.usable_area(*image_shape)
    out = np.full(len(masks), np.nan)
    for i, mask in enumerate(masks):
        if mask is None or mask.area == 0:
            continue
        out[i] = min(
            mask.top - area.first_row,
            area.last_row - (mask.bottom - 1),
            mask.left - area.first_column,
            area.last_column - (mask.right - 1),
        )
    return out


def noise_sigma(corrected: np.ndarray) -> np.ndarray:
    """(n_rois,) robust noise of each trace: ``1.4826 * median(|diff(Fc)|) / sqrt(2)``.

    Parameters
    ----------
    corrected : (n_rois, n_frames) float ndarray
    """
    steps = np.abs(np.diff(np.asarray(corrected, dtype=np.float64), axis=1))
    return _sigma_from_steps(np.median(steps, axis=1))


def _sigma_from_steps(median_step: np.ndarray) -> np.ndarray:
    return 1.4826 * median_step / np.sqrt(2.0)


def trace_events(
    trace: np.ndarray, sigma: float | None = None, baseline: float | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """The transients of one corrected trace: their peak frames and heights over its median.

    A transient is a run of frames above ``median + EVENT_SIGMAS * sigma``; runs
    fewer than :data:`EVENT_MIN_FRAMES_APART` frames apart are one transient.

    Parameters
    ----------
    trace : (n_frames,) float ndarray
    sigma : float, optional
        The trace's noise (default :func:`noise_sigma`).
    baseline : float, optional
        The trace's median, when known.

    Returns
    -------
    frames : (n_events,) int64 ndarray
        Each transient's highest frame, in time order.
    amplitudes : (n_events,) float64 ndarray
        Each transient's height above the trace's median at that frame.
    """
    trace = np.asarray(trace, dtype=np.float64)
    none = np.zeros(0, np.int64), np.zeros(0)
    if trace.size < 2 or not np.all(np.isfinite(trace)):
        return none
    if sigma is None:
        sigma = float(noise_sigma(trace[None])[0])
    if not sigma > 0:
        return none
    baseline = float(np.median(trace)) if baseline is None else baseline
    starts, stops = _event_runs(trace, baseline + EVENT_SIGMAS * sigma)
    peaks = np.array(
        [
            start + int(np.argmax(trace[start:stop]))
            for start, stop in zip(starts, stops, strict=True)
        ],
        dtype=np.int64,
    )
    return peaks, trace[peaks] - baseline


def _event_runs(trace: np.ndarray, threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """The transients' frame ranges ``[start, stop)``: runs of frames above ``threshold``, runs
    fewer than :data:`EVENT_MIN_FRAMES_APART` frames apart joined."""
    above = np.concatenate(([False], trace > threshold, [False]))
    edges = np.flatnonzero(np.diff(above.astype(np.int8)))
    starts, stops = edges[::2], edges[1::2]
    if starts.size == 0:
        return starts, stops
    joined = starts[1:] - stops[:-1] < EVENT_MIN_FRAMES_APART
    return starts[np.r_[True, ~joined]], stops[np.r_[~joined, True]]


def trace_metrics(corrected: np.ndarray, *, threads: int | None = None) -> dict[str, np.ndarray]:
    """``skew``, ``snr`` and ``events`` of every corrected trace (see the module).

    Parameters
    ----------
    corrected : (n_rois, n_frames) float ndarray
        ``F - r * Fneu``; a row holding NaN or inf (an excluded ROI) gets NaN.
    threads : int, optional
        Threads that share the traces (default: one per core, at most 8).

    Returns
    -------
    dict of name -> (n_rois,) float64 ndarray
    """
    corrected = np.asarray(corrected, dtype=np.float64)
    n = corrected.shape[0]
    out = {name: np.full(n, np.nan) for name in ("skew", "snr", "events")}
    usable = (
        np.all(np.isfinite(corrected), axis=1) if corrected.shape[1] >= 2 else np.zeros(n, bool)
    )
    if not usable.any():
        return out
    traces = np.ascontiguousarray(corrected[usable])
    mean, m2, m3, median, high, median_step = _trace_stats(traces, threads).T
    sigma = _sigma_from_steps(median_step)
    with np.errstate(divide="ignore", invalid="ignore"):
        # scipy.stats.skew's rule: NaN where the trace is flat to within rounding
        flat = m2 <= (np.finfo(np.float64).eps * mean) ** 2
        out["skew"][usable] = np.where(flat, np.nan, m3 / m2**1.5)
        out["snr"][usable] = (high - median) / sigma
    out["events"][usable] = [
        len(trace_events(trace, s, b)[0]) for trace, s, b in zip(traces, sigma, median, strict=True)
    ]
    return out


def _trace_stats(traces: np.ndarray, threads: int | None) -> np.ndarray:
    """(n, 6) per trace: mean, 2nd and 3rd central moments, median, 99th percentile, median
    absolute step (compiled, the traces shared between threads)."""
    from concurrent.futures import ThreadPoolExecutor

    from ._trace_stats import trace_stats

    n, n_frames = traces.shape
    threads = max(1, min(threads or min(8, os.cpu_count() or 1), n))
    out = np.empty((n, 6))
    bounds = np.linspace(0, n, threads + 1).astype(int)
    with ThreadPoolExecutor(threads) as pool:
        done = [
            pool.submit(trace_stats, traces, bounds[k], bounds[k + 1], out, np.empty(n_frames))
            for k in range(threads)
        ]
        for future in done:
            future.result()
    return out


def image_metrics(
    masks: Sequence[MaskCrop | None],
    rings: Sequence[MaskCrop | None],
    *,
    correlation: np.ndarray | None = None,
    mean: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """``correlation_roi``, ``correlation_ring`` and ``brightness_z`` of every ROI.

    Parameters
    ----------
    masks, rings : sequence of MaskCrop or None
        Each ROI and its neuropil ring (None: NaN).
    correlation, mean : (rows, columns) ndarray, optional
        The summary images; without one, its metrics are NaN.
    """
    n = len(masks)
    out = {
        name: np.full(n, np.nan) for name in ("correlation_roi", "correlation_ring", "brightness_z")
    }

    def values(image, crop):
        return None if image is None or crop is None else image[crop.slices][crop.pixels]

    for i, (mask, ring) in enumerate(zip(masks, rings, strict=True)):
        inside = values(correlation, mask)
        around = values(correlation, ring)
        if inside is not None and inside.size:
            out["correlation_roi"][i] = inside.mean(dtype=np.float64)
        if around is not None and around.size:
            out["correlation_ring"][i] = around.mean(dtype=np.float64)
        inside, around = values(mean, mask), values(mean, ring)
        if inside is not None and around is not None and inside.size and around.size:
            spread = around.std(dtype=np.float64)
            if spread > 0:
                gap = inside.mean(dtype=np.float64) - around.mean(dtype=np.float64)
                out["brightness_z"][i] = gap / spread
    return out


def roi_metrics(
    masks: Sequence[MaskCrop | None],
    rings: Sequence[MaskCrop | None],
    *,
    border: MotionBorder,
    image_shape: tuple[int, int],
    corrected: np.ndarray | None = None,
    correlation: np.ndarray | None = None,
    mean: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """Every metric of :data:`METRICS` for every ROI, in that order.

    Parameters
    ----------
    masks, rings, correlation, mean
        As :func:`image_metrics` takes them.
    border : MotionBorder
    image_shape : (rows, columns)
    corrected : (n_rois, n_frames) ndarray, optional
        The corrected traces; without them the trace metrics are NaN.

    Returns
    -------
    dict of name -> (n_rois,) float64 ndarray
    """
    n = len(masks)
    out = shape_metrics(masks)
    out["border_distance"] = border_distances(masks, border, image_shape)
    if corrected is None:
        out.update({name: np.full(n, np.nan) for name in ("skew", "snr", "events")})
    else:
        out.update(trace_metrics(corrected))
    out.update(image_metrics(masks, rings, correlation=correlation, mean=mean))
    return {name: out[name] for name in METRICS}
