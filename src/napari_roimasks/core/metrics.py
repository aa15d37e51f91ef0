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

The loops over ROIs and frames are compiled (:mod:`._trace_stats`,
:mod:`._roi_stats`) and give the numbers of the definitions computed with
numpy one ROI at a time, to the last bit (``tests/core/test_metrics_speed_paths.py``);
``benchmarks/bench_metrics.py`` times 1000 ROIs x 10,000 frames.
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


def compactness(mask: MaskCrop) -> float:
    """suite2p's compactness of an ROI whose pixels all weigh 1 (see the module)."""
    return float(shape_metrics([mask])["compactness"][0])


def aspect_ratio(mask: MaskCrop) -> float:
    """suite2p's aspect ratio of an ROI whose pixels all weigh 1 (see the module)."""
    return float(shape_metrics([mask])["aspect_ratio"][0])


def shape_metrics(masks: Sequence[MaskCrop | None]) -> dict[str, np.ndarray]:
    """``area``, ``compactness`` and ``aspect_ratio`` of every ROI (NaN for None).

    Compiled, but numpy's numbers to the last bit: the covariance of each soma's
    pixels is numpy's product, its eigenvalues numpy's (LAPACK's).
    """
    from ._roi_stats import soma_shapes

    out = {name: np.full(len(masks), np.nan) for name in ("area", "compactness", "aspect_ratio")}
    crops = _Crops(masks)
    if not crops.given:
        return out
    n = len(crops.given)
    areas, compact = np.empty(n, np.int64), np.empty(n)
    centred = np.empty(2 * crops.pixels.size)
    sizes = soma_shapes(
        crops.pixels, crops.starts, crops.widths, _SUITE2P_DIAMETER, _DISC, areas, compact, centred
    )
    found = sizes > 0
    covariances = np.empty((n, 2, 2))
    for k in np.flatnonzero(found).tolist():
        start, size = int(crops.starts[k]), int(sizes[k])
        soma = centred[2 * start : 2 * (start + size)].reshape(2, size)
        covariances[k] = soma @ soma.T
    covariances = covariances[found] / sizes[found, None, None]
    radii = 2.0 * np.sqrt(np.maximum(0.0, np.linalg.eigvalsh(covariances)))
    large, small = radii.max(axis=1), radii.min(axis=1)
    rows = np.asarray(crops.given)[found]
    out["area"][rows] = areas[found]
    out["compactness"][rows] = compact[found]
    out["aspect_ratio"][rows] = 2 * large / (0.01 + large + small)
    return out


def border_distances(
    masks: Sequence[MaskCrop | None], border: MotionBorder, image_shape: tuple[int, int]
) -> np.ndarray:
    """(n_rois,) float64: pixels between each ROI and the motion border (see the module).

    The ROI pixels nearest the usable area's edges are its outermost rows and
    columns that hold a pixel (a file's box may be wider than its pixels).
    """
    area = border.usable_area(*image_shape)
    out = np.full(len(masks), np.nan)
    for i, mask in enumerate(masks):
        if mask is None or mask.area == 0:
            continue
        rows = np.flatnonzero(mask.pixels.any(axis=1))
        columns = np.flatnonzero(mask.pixels.any(axis=0))
        out[i] = min(
            mask.top + rows[0] - area.first_row,
            area.last_row - (mask.top + rows[-1]),
            mask.left + columns[0] - area.first_column,
            area.last_column - (mask.left + columns[-1]),
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
    if corrected.shape[1] < 2 or n == 0:
        return out
    stats = _trace_stats(np.ascontiguousarray(corrected), threads)
    usable = ~np.isnan(stats[:, 6])  # the transients: a number for every usable trace
    mean, m2, m3, median, high, median_step, events = stats[usable].T
    sigma = _sigma_from_steps(median_step)
    with np.errstate(divide="ignore", invalid="ignore"):
        # scipy.stats.skew's rule: NaN where the trace is flat to within rounding
        flat = m2 <= (np.finfo(np.float64).eps * mean) ** 2
        out["skew"][usable] = np.where(flat, np.nan, m3 / m2**1.5)
        out["snr"][usable] = (high - median) / sigma
    out["events"][usable] = events
    return out


def _trace_stats(traces: np.ndarray, threads: int | None) -> np.ndarray:
    """(n, 7) per trace (``_trace_stats.COLUMNS``): mean, 2nd and 3rd central moments,
    median, 99th percentile, median absolute step, transients; NaN for a trace holding
    NaN or inf (compiled, the traces shared between threads)."""
    from concurrent.futures import ThreadPoolExecutor

    from ._trace_stats import COLUMNS, trace_stats

    n = traces.shape[0]
    threads = max(1, min(threads or min(8, os.cpu_count() or 1), n))
    out = np.empty((n, len(COLUMNS)))
    bounds = np.linspace(0, n, threads + 1).astype(int)
    arguments = (out, EVENT_SIGMAS, EVENT_MIN_FRAMES_APART)
    if threads == 1:
        trace_stats(traces, 0, n, *arguments)
        return out
    with ThreadPoolExecutor(threads) as pool:
        done = [
            pool.submit(trace_stats, traces, bounds[k], bounds[k + 1], *arguments)
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
    if len(rings) != n:
        raise ValueError(f"expected a ring for each of the {n} ROIs, got {len(rings)} rings")
    out = {
        name: np.full(n, np.nan) for name in ("correlation_roi", "correlation_ring", "brightness_z")
    }
    if correlation is None and mean is None:
        return out
    inside, around = _Crops(masks), _Crops(rings)
    if correlation is not None:
        out["correlation_roi"] = inside.means(correlation)[0]
        out["correlation_ring"] = around.means(correlation)[0]
    if mean is not None:
        brightness = inside.means(mean)[0]
        background, spread = around.means(mean, std=True)
        with np.errstate(invalid="ignore"):
            brighter = spread > 0
        gap = brightness[brighter] - background[brighter]
        out["brightness_z"][brighter] = gap / spread[brighter]
    return out


class _Crops:
    """Crops packed for the compiled loops: every box's pixels in one array."""

    def __init__(self, crops: Sequence[MaskCrop | None]):
        self.n = len(crops)
        self.given = [i for i, crop in enumerate(crops) if crop is not None]
        boxes = [np.asarray(crops[i].pixels, dtype=bool) for i in self.given]
        self.tops = np.array([crops[i].top for i in self.given], np.int64)
        self.lefts = np.array([crops[i].left for i in self.given], np.int64)
        self.heights = np.array([box.shape[0] for box in boxes], np.int64)
        self.widths = np.array([box.shape[1] for box in boxes], np.int64)
        self.starts = np.zeros(len(boxes) + 1, np.int64)
        np.cumsum(self.heights * self.widths, out=self.starts[1:])
        self.pixels = np.concatenate([box.ravel() for box in boxes]) if boxes else np.zeros(0, bool)

    def means(self, image: np.ndarray, *, std: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """(n_crops,) means of ``image`` inside each crop (NaN for None or no pixels), and
        their standard deviations with ``std``: numpy's ``mean`` and ``std`` in float64,
        to the last bit."""
        from ._roi_stats import crop_means

        image = np.asarray(image)
        if image.dtype not in (np.float32, np.float64):
            image = image.astype(np.float64)  # exact, as numpy casts it to sum it
        rows, columns = image.shape
        if self.given and (
            min(self.tops.min(), self.lefts.min()) < 0
            or (self.tops + self.heights).max() > rows
            or (self.lefts + self.widths).max() > columns
        ):
            raise ValueError(f"every ROI and ring must lie inside the {columns}x{rows} image")
        means = np.empty(len(self.given))
        spreads = np.empty(len(self.given) if std else 0)
        crop_means(
            image, self.pixels, self.starts, self.tops, self.lefts, self.widths, means, spreads
        )
        out = np.full(self.n, np.nan), np.full(self.n, np.nan)
        out[0][self.given] = means
        if std:
            out[1][self.given] = spreads
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
