"""What the model keeps of extracted traces, and what it derives from them.

- :class:`RoiTraces`: one ROI's F and Fneu, the fitted ratio, and a
  fingerprint of what they were read from;
- :func:`movie_token`: identifies a movie's data, so that traces of a movie
  whose data was replaced are never taken for current;
- :class:`Correction`: how ``F - r * Fneu`` picks r (fixed, or fitted per ROI);
- :func:`trace_series`: what the plot shows of one ROI.
"""

from __future__ import annotations

import hashlib
import itertools
import weakref
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from ..core.masks import MaskCrop
from ..core.neuropil_correction import (
    DEFAULT_CONTAMINATION_RATIO,
    delta_f_over_f,
    replace_unusable_ratios,
)

__all__ = [
    "Correction",
    "ExtractionPlan",
    "RoiTraces",
    "contamination_ratios",
    "frames_without_numbers",
    "movie_token",
    "trace_features",
    "trace_series",
    "traces_fingerprint",
]


@dataclass(frozen=True)
class RoiTraces:
    """One ROI's extracted traces and what they were extracted from.

    Attributes
    ----------
    fingerprint : bytes
        Digest of the ROI's pixels, its ring's pixels and the movie.
    roi, neuropil : (n_frames,) float64 ndarray
        Mean over the ROI and over its ring; NaN when AllenSDK excludes the mask.
    fitted_r : float
        The contamination ratio fitted to these traces (before the Allen
        pipeline's replacement of r > 1); NaN when it cannot be fitted.
    """

    fingerprint: bytes
    roi: np.ndarray = field(repr=False)
    neuropil: np.ndarray = field(repr=False)
    fitted_r: float = float("nan")


@dataclass(frozen=True)
class ExtractionPlan:
    """The ROIs whose traces are missing or stale for a movie, and the masks to read.

    Attributes
    ----------
    movie : str
        The movie's token (:func:`movie_token`).
    keys : list
        The ROIs to extract.
    fingerprints : list of bytes
        What each ROI's traces will be current for.
    masks : list of MaskCrop or None
        Each ROI's mask, then each ROI's ring (``2 * len(keys)``); None where
        AllenSDK gives a row of NaN.
    """

    movie: str
    keys: list
    fingerprints: list
    masks: list


def traces_fingerprint(roi: MaskCrop | None, ring: MaskCrop | None, movie: str | None) -> bytes:
    """Digest of what an ROI's traces are read from: its mask, its ring's and the movie.

    Parameters
    ----------
    roi, ring : MaskCrop or None
        The masks read (None: a row of NaN).
    movie : str or None
        The movie's :func:`movie_token`.
    """
    digest = hashlib.blake2b(repr(movie).encode(), digest_size=16)
    for crop in (roi, ring):
        if crop is None:
            digest.update(b"none")
        else:
            digest.update(np.array([crop.top, crop.left, *crop.pixels.shape], np.int64).tobytes())
            digest.update(np.packbits(crop.pixels).tobytes())
    return digest.digest()


@dataclass(frozen=True)
class Correction:
    """How the neuropil correction ``F - r * Fneu`` chooses r.

    Parameters
    ----------
    fitted : bool
        True: r fitted per ROI as AllenSDK fits it; False: ``fixed_r`` for every ROI.
    fixed_r : float
        The r used when not fitted (>= 0).
    """

    fitted: bool = False
    fixed_r: float = DEFAULT_CONTAMINATION_RATIO

    def __post_init__(self) -> None:
        if not np.isfinite(self.fixed_r) or self.fixed_r < 0:
            raise ValueError(f"the contamination ratio r must be >= 0, got {self.fixed_r!r}")


_serials: dict[int, tuple[weakref.ref, str]] = {}
_next_serial = itertools.count(1)


def movie_token(data) -> str:
    """A token that identifies a movie's data for as long as that data object lives.

    Two calls with the same object give the same token; a new object (even one
    that reuses a freed object's memory, or a layer whose ``data`` was replaced)
    gives a new one. A dask array is identified by its name, which is new for
    every new graph (this plugin's HDF5 movies are named after the file's
    version). Numbers changed in place (``layer.data[...] = x``) keep the token:
    replace the data to have traces extracted again.

    Parameters
    ----------
    data : array-like
        The movie, e.g. an Image layer's ``data``.
    """
    name = getattr(data, "name", None)
    if type(data).__module__.startswith("dask") and isinstance(name, str):
        return f"dask:{name}"
    key = id(data)
    known = _serials.get(key)
    if known is not None and known[0]() is data:
        return known[1]
    token = f"movie:{next(_next_serial)}"
    try:
        ref = weakref.ref(data, lambda dead, key=key: _forget(key, dead))
    except TypeError:  # cannot be referenced weakly: a fresh token each time (re-extracts)
        return token
    _serials[key] = (ref, token)
    return token


def _forget(key: int, dead: weakref.ref) -> None:
    known = _serials.get(key)
    if known is not None and known[0] is dead:
        del _serials[key]


def corrected_traces(roi, neuropil, r):
    """``F - r * Fneu``: the ROI's trace with its neuropil contamination removed.

    Parameters
    ----------
    roi, neuropil : (..., n_frames) float ndarray
        F and Fneu.
    r : float or (..., 1) float ndarray
        The contamination ratio(s).

    Returns
    -------
    (..., n_frames) float64 ndarray
    """
    return np.asarray(roi, dtype=float) - r * np.asarray(neuropil, dtype=float)


def trace_series(
    key, traces: RoiTraces, r: float, *, dff: bool, baseline: str = "median", window: int = 301
) -> list[tuple[str, np.ndarray]]:
    """What the plot shows of one ROI: ``(label, values)`` pairs.

    Parameters
    ----------
    key
        The ROI's id, for the labels.
    traces : RoiTraces
    r : float
        The contamination ratio of ``F - r * Fneu``.
    dff : bool
        False: F, Fneu and the corrected trace; True: the dF/F of the corrected trace.
    baseline : {'median', 'percentile'}
        dF/F's F0: the running median or 10th percentile over ``window`` frames.
    window : int
        Frames of the running baseline, centred.

    Returns
    -------
    list of (str, (n_frames,) float64 ndarray)
    """
    corrected = corrected_traces(traces.roi, traces.neuropil, r)
    if not dff:
        return [
            (f"ROI {key} F", traces.roi),
            (f"ROI {key} Fneu", traces.neuropil),
            (f"ROI {key} F - {r:.2f} Fneu", corrected),
        ]
    return [
        (
            f"ROI {key} dF/F (r = {r:.2f})",
            delta_f_over_f(corrected, window, baseline=baseline),
        )
    ]


def frames_without_numbers(results) -> list[int]:
    """The frames where some ROI's or ring's trace is NaN or inf (a movie with gaps).

    A trace that is NaN throughout (a mask AllenSDK excludes) does not count.

    Parameters
    ----------
    results : mapping of key -> RoiTraces

    Returns
    -------
    list of int
        Sorted frame numbers.
    """
    frames = set()
    for traces in results.values():
        for trace in (traces.roi, traces.neuropil):
            if np.isfinite(trace).any():
                frames.update(np.flatnonzero(~np.isfinite(trace)).tolist())
    return sorted(frames)


def contamination_ratios(traces: Mapping, correction: Correction) -> dict:
    """The r each ROI's correction uses.

    Parameters
    ----------
    traces : mapping of key -> RoiTraces
        The ROIs with traces.
    correction : Correction
        A fixed r for all, or each ROI's fitted r with the Allen pipeline's
        replacement of r > 1 (the mean of the r <= 1 over these ROIs, else 0.7).

    Returns
    -------
    dict
        key -> r.
    """
    keys = list(traces)
    if not correction.fitted:
        return dict.fromkeys(keys, float(correction.fixed_r))
    ratios = replace_unusable_ratios([traces[k].fitted_r for k in keys])
    return dict(zip(keys, ratios.tolist(), strict=True))


def trace_features(traces: Mapping, ratios: Mapping, exclusions: Mapping) -> dict:
    """Per-ROI summaries of extracted traces, for an ROI layer's ``features``.

    Parameters
    ----------
    traces : mapping of key -> RoiTraces
    ratios : mapping of key -> float
        The r each ROI's correction uses.
    exclusions : mapping of key -> tuple of str
        AllenSDK's exclusions of each ROI.

    Returns
    -------
    dict
        key -> ``{"mean_F", "mean_Fneu", "r", "exclusion"}`` (a mean is NaN
        where the trace is all NaN; ``exclusion`` joins the names with ``;``).
    """
    return {
        key: {
            "mean_F": _mean(stored.roi),
            "mean_Fneu": _mean(stored.neuropil),
            "r": ratios.get(key, np.nan),
            "exclusion": ";".join(exclusions.get(key, ())),
        }
        for key, stored in traces.items()
    }


def _mean(trace: np.ndarray) -> float:
    return float(np.nanmean(trace)) if np.isfinite(trace).any() else np.nan
