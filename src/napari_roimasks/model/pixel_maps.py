"""Per-pixel views of the movie around the session's ROIs: an ROI's correlation map, a pixel's trace.

- :func:`roi_correlation_job`: the correlation of the selected ROI's F trace
  (stored by the last extraction) with every pixel's time series in a window
  three times the ROI's box, for a worker thread;
- :func:`pixel_trace_job`: one pixel's trace, or its 3x3 neighbourhood's
  mean, for a worker thread (or run at once for a movie in memory);
- :func:`pixel_trace_label`: how the plot names such a trace.

Both read only the pixels they need (see :mod:`napari_roimasks.core.pixel_traces`).
"""

from __future__ import annotations

import threading
from collections.abc import Hashable
from dataclasses import dataclass

import numpy as np

from ..core.neuropil_correction import delta_f_over_f
from ..core.pixel_traces import (
    Window,
    correlation_window,
    pixel_trace_steps,
    trace_correlation_steps,
)
from .jobs import cancellable_job
from .rois import RoiModel

__all__ = [
    "CORRELATION_WINDOW_SCALE",
    "PixelTrace",
    "RoiCorrelation",
    "RoiMapInputs",
    "pixel_series",
    "pixel_trace_job",
    "pixel_trace_label",
    "roi_correlation_job",
    "roi_correlation_problem",
    "roi_correlation_window",
]

#: The correlation map's window: this many times the ROI's box in height and width.
CORRELATION_WINDOW_SCALE = 3


@dataclass(frozen=True)
class RoiCorrelation:
    """An ROI's correlation map.

    Attributes
    ----------
    key : hashable
        The ROI.
    window : Window
        Where the map lies in the frame.
    image : (window rows, window columns) float32 ndarray
        Pearson correlation of the ROI's F with each pixel, 0 where a pixel never changes.
    """

    key: Hashable
    window: Window
    image: np.ndarray


@dataclass(frozen=True)
class PixelTrace:
    """A pixel's trace (or its neighbourhood's mean) as the plot shows it.

    Attributes
    ----------
    row, column : int
    neighbourhood : int
        0: the pixel alone; 1: the mean of its 3x3.
    values : (n_frames,) float64 ndarray
    """

    row: int
    column: int
    neighbourhood: int
    values: np.ndarray

    @property
    def label(self) -> str:
        """The plot's legend for it."""
        return pixel_trace_label(self.row, self.column, self.neighbourhood)


def pixel_trace_label(row: int, column: int, neighbourhood: int) -> str:
    """``"pixel (row 12, column 40)"`` or ``"3x3 around (row 12, column 40)"``."""
    where = f"(row {row}, column {column})"
    if neighbourhood == 0:
        return f"pixel {where}"
    side = 2 * neighbourhood + 1
    return f"{side}x{side} around {where}"


def roi_correlation_window(
    model: RoiModel, key, *, scale: float = CORRELATION_WINDOW_SCALE
) -> Window:
    """The window of an ROI's correlation map: ``scale`` times its box, centred on it, in the frame.

    Raises
    ------
    ValueError
        For an ROI without pixels, or no ROIs.
    """
    roi = None if model.rings is None or key not in model.roi_keys() else model.roi(key)
    if roi is None:
        raise ValueError(f"ROI {key} has no pixels")
    return correlation_window(
        (roi.top, roi.left, roi.bottom, roi.right), model.image_shape, scale=scale
    )


@dataclass(frozen=True)
class RoiMapInputs:
    """What an ROI's correlation map is computed from, taken from the model in the GUI's
    thread (the worker reads the movie only; the ROIs may change meanwhile).

    Attributes
    ----------
    key : hashable
        The ROI.
    window : Window
        Where the map lies in the frame.
    trace : (n_frames,) float64 ndarray
        The ROI's F.
    """

    key: object
    window: Window
    trace: np.ndarray

    @classmethod
    def of(cls, model: RoiModel, key, *, scale: float = CORRELATION_WINDOW_SCALE) -> RoiMapInputs:
        """The inputs for ROI ``key``; check it first with :func:`roi_correlation_problem`."""
        window = roi_correlation_window(model, key, scale=scale)
        return cls(key, window, np.array(model.traces[key].roi, copy=True))


def roi_correlation_job(inputs: RoiMapInputs, frames, *, cancel: threading.Event | None = None):
    """The correlation map of an ROI whose traces are extracted, for a worker thread.

    Parameters
    ----------
    inputs : RoiMapInputs
        Taken from the model in the caller's thread (:meth:`RoiMapInputs.of`).
    frames : (n_frames, rows, columns) array-like
        The movie; only the window's pixels are read.
    cancel : threading.Event, optional
        Set it to stop within one block.

    Yields
    ------
    (frames_done, frames_total)

    Returns
    -------
    RoiCorrelation or None
        None when cancelled.
    """
    steps = trace_correlation_steps(frames, inputs.trace, inputs.window)
    image = yield from cancellable_job(steps, cancel)
    return None if image is None else RoiCorrelation(inputs.key, inputs.window, image)


def roi_correlation_problem(model: RoiModel, key, movie: str | None, n_frames: int) -> str | None:
    """Why the ROI's correlation map cannot be made now (one line), or None.

    Parameters
    ----------
    model : RoiModel
    key : hashable or None
        The selected ROI.
    movie : str or None
        The chosen movie's token.
    n_frames : int
        Its frames.
    """
    if key is None:
        return "Select an ROI first (a row of the ROI table, or click it)"
    stored = model.traces.get(key)
    if stored is None or model.trace_movie != movie:
        return (
            f"Extract the traces of ROI {key} from this movie first: its map correlates with its F"
        )
    if model.roi(key) is None:
        return f"ROI {key} has no pixels"
    if model.trace_state(key) != "current":
        return f"ROI {key}'s traces are stale (the ROI or its ring changed): extract them again"
    if len(stored.roi) != n_frames:
        return f"ROI {key}'s traces have {len(stored.roi)} frames, the movie {n_frames}"
    if not np.isfinite(stored.roi).all():
        return (
            f"ROI {key}'s F holds NaN (AllenSDK excludes the ROI, or frames hold NaN): "
            "no correlation map"
        )
    return None


def pixel_trace_job(
    frames,
    row: int,
    column: int,
    *,
    neighbourhood: int = 1,
    cancel: threading.Event | None = None,
):
    """A pixel's trace (or its neighbourhood's mean), for a worker thread.

    Yields
    ------
    (frames_done, frames_total)

    Returns
    -------
    PixelTrace or None
        None when cancelled.
    """
    steps = pixel_trace_steps(frames, row, column, neighbourhood=neighbourhood)
    values = yield from cancellable_job(steps, cancel)
    return None if values is None else PixelTrace(row, column, neighbourhood, values)


def pixel_series(
    trace: PixelTrace, *, dff: bool, baseline: str = "median", window: int = 301
) -> list[tuple[str, np.ndarray]]:
    """What the plot shows of a pixel trace: ``[(label, values)]``, its values or their dF/F
    (with the ROIs' baseline settings)."""
    if not dff:
        return [(trace.label, trace.values)]
    return [(f"{trace.label} dF/F", delta_f_over_f(trace.values, window, baseline=baseline))]
