"""Event review, headless: an ROI's largest transients, and the movie's change around one.

- :func:`trace_transients` / :func:`roi_transients`: the transients of an ROI's
  corrected trace ``Fc = F - r * Fneu``, largest first, each with its frame,
  its amplitude over the trace's median and that amplitude in noise sigmas;
- :func:`transients_problem`: why an ROI has no list now (one line);
- :func:`event_crop`, :func:`event_frames`, :func:`event_image_job`: the mean
  change of the movie (dF) around an event, in a crop around the ROI, for a
  worker thread; only the event's frames and the crop's pixels are read. The
  frames before and after the event and the crop's margin are parameters,
  :data:`EVENT_FRAMES_BEFORE`, :data:`EVENT_FRAMES_AFTER` and
  :data:`EVENT_CROP_MARGIN` by default.

A transient here is a peak of ``Fc``, not a run of frames above a threshold as
the ``events`` metric counts them (:func:`~napari_roimasks.core.metrics.trace_events`):
a calcium transient decays over tens of frames, so a cell that fires again
before its trace is back at baseline makes one long run, and the second
spike, the one a curator wants to see, would not be listed. A peak is listed
when it rises far enough above the trough that separates it from any higher
peak (its prominence), whatever it rides on.
"""

from __future__ import annotations

import threading
from collections.abc import Generator, Hashable
from dataclasses import dataclass

import numpy as np

from ..core.frame_pass import DEFAULT_BLOCK_BYTES, check_frame_source, frames_per_block
from ..core.metrics import EVENT_MIN_FRAMES_APART, EVENT_SIGMAS, noise_sigma
from ..core.pixel_traces import Window
from .jobs import cancellable_job
from .rois import RoiModel
from .traces import corrected_traces

__all__ = [
    "EVENT_CROP_MARGIN",
    "EVENT_FRAMES_AFTER",
    "EVENT_FRAMES_BEFORE",
    "MAX_EVENT_CROP_MARGIN",
    "MAX_EVENT_FRAMES",
    "MAX_LISTED_TRANSIENTS",
    "SIGMA",
    "EventFrames",
    "EventImage",
    "Transient",
    "aligned_labels",
    "event_crop",
    "event_frames",
    "event_image_job",
    "roi_transients",
    "trace_transients",
    "transients_problem",
]

#: How labels write "noise sigmas" (ruff takes the Greek letter for an "o" in source text).
SIGMA = "\N{GREEK SMALL LETTER SIGMA}"

#: The list shows at most this many transients of an ROI, the largest.
MAX_LISTED_TRANSIENTS = 20

#: The dF image's baseline: the mean of this many frames before the event's frame.
EVENT_FRAMES_BEFORE = 10

#: The dF image's response: the mean of this many frames from the event's frame on.
EVENT_FRAMES_AFTER = 5

#: The dF image's crop: the ROI's box grown by this many pixels on every side.
EVENT_CROP_MARGIN = 20

#: The most frames the Traces dock lets a curator average for the baseline or the response
#: (the functions here take more).
MAX_EVENT_FRAMES = 500

#: The widest crop margin the Traces dock offers, in pixels.
MAX_EVENT_CROP_MARGIN = 200


@dataclass(frozen=True)
class Transient:
    """One transient of an ROI's corrected trace.

    Attributes
    ----------
    frame : int
        The frame of its peak.
    amplitude : float
        ``Fc[frame] - median(Fc)``, in the trace's units.
    sigmas : float
        ``amplitude`` over the trace's noise (:func:`~napari_roimasks.core.metrics.noise_sigma`).
    """

    frame: int
    amplitude: float
    sigmas: float

    @property
    def label(self) -> str:
        """How the list shows it: ``"frame 123  +450  (8.1 σ)"``."""  # noqa: RUF002
        return f"frame {self.frame}  {_signed(self.amplitude)}  ({self.sigmas:.1f} {SIGMA})"


def aligned_labels(transients) -> list[str]:
    """Each transient's :attr:`Transient.label`, its numbers padded to line up in a fixed-width
    font (the widest of each column sets its width).

    Parameters
    ----------
    transients : sequence of Transient

    Returns
    -------
    list of str
    """
    columns = [(str(t.frame), _signed(t.amplitude), f"{t.sigmas:.1f}") for t in transients]
    widths = [max((len(row[i]) for row in columns), default=0) for i in range(3)]
    return [
        f"frame {frame:>{widths[0]}}  {amplitude:>{widths[1]}}  ({sigmas:>{widths[2]}} {SIGMA})"
        for frame, amplitude, sigmas in columns
    ]


def _signed(value: float) -> str:
    """A signed amplitude with as many decimals as its size needs (``+450``, ``+2.5``, ``+0.031``)."""
    size = abs(value)
    if size >= 100:
        return f"{value:+.0f}"
    if size >= 1:
        return f"{value:+.1f}"
    return f"{value:+.2g}"


def trace_transients(trace, *, max_transients: int = MAX_LISTED_TRANSIENTS) -> list[Transient]:
    """The largest transients of a corrected trace, largest first.

    A transient is a peak of the trace that is higher than
    ``median + EVENT_SIGMAS * sigma`` and rises at least ``EVENT_SIGMAS * sigma``
    above the trough separating it from any higher peak (its prominence, as
    :func:`scipy.signal.find_peaks` measures it); of peaks fewer than
    :data:`~napari_roimasks.core.metrics.EVENT_MIN_FRAMES_APART` frames apart
    only the higher counts. ``sigma`` is the trace's robust noise
    (:func:`~napari_roimasks.core.metrics.noise_sigma`). The first and last
    frames can be peaks (a transient under way when the recording starts or ends).

    Parameters
    ----------
    trace : (n_frames,) float ndarray
        E.g. ``F - r * Fneu``.
    max_transients : int
        Most transients returned (>= 1).

    Returns
    -------
    list of Transient
        Sorted by amplitude, largest first (the earlier frame first on a tie);
        empty for a trace holding NaN or inf, or without noise.

    Raises
    ------
    ValueError
        For a trace that is not 1D, or ``max_transients`` < 1.
    """
    from scipy.signal import find_peaks  # here: its import takes most of a second

    if isinstance(max_transients, bool) or int(max_transients) != max_transients:
        raise ValueError(f"max_transients must be a whole number, got {max_transients!r}")
    if max_transients < 1:
        raise ValueError(f"max_transients must be at least 1, got {max_transients}")
    trace = np.asarray(trace, dtype=np.float64)
    if trace.ndim != 1:
        raise ValueError(f"the trace must be 1D (n_frames,), got shape {trace.shape}")
    if trace.size < 2 or not np.isfinite(trace).all():
        return []
    sigma = float(noise_sigma(trace[None])[0])
    if not sigma > 0:
        return []
    baseline = float(np.median(trace))
    floor = trace.min()
    # the ends padded with the lowest value: a peak at the first or last frame counts
    padded = np.concatenate(([floor], trace, [floor]))
    peaks, _ = find_peaks(
        padded,
        height=baseline + EVENT_SIGMAS * sigma,
        prominence=EVENT_SIGMAS * sigma,
        distance=EVENT_MIN_FRAMES_APART,
    )
    frames = peaks - 1
    amplitudes = trace[frames] - baseline
    order = np.lexsort((frames, -amplitudes))[: int(max_transients)]
    return [
        Transient(int(frames[i]), float(amplitudes[i]), float(amplitudes[i] / sigma)) for i in order
    ]


def transients_problem(model: RoiModel, key) -> str | None:
    """Why ROI ``key`` has no transients to list now (one line), or None.

    Parameters
    ----------
    model : RoiModel
    key : hashable or None
        The selected ROI (None: none or several are selected).
    """
    if key is None:
        return "Select one ROI to list its transients"
    stored = model.traces.get(key)
    if stored is None or key not in model.roi_keys():
        return "Extract traces first: the transients are read from F - r·Fneu"
    if model.trace_state(key) != "current":
        return (
            f"ROI {key}'s traces are stale (the ROI, its ring or the movie changed): extract again"
        )
    if not np.isfinite(stored.roi).all() or not np.isfinite(stored.neuropil).all():
        return f"ROI {key}'s traces hold NaN (AllenSDK excludes the ROI, or frames hold NaN)"
    return None


def roi_transients(
    model: RoiModel, key, *, max_transients: int = MAX_LISTED_TRANSIENTS
) -> list[Transient]:
    """The largest transients of ROI ``key``'s ``F - r * Fneu`` (r: the model's correction).

    Empty when :func:`transients_problem` gives a reason; see :func:`trace_transients`.
    """
    if transients_problem(model, key) is not None:
        return []
    stored = model.traces[key]
    r = model.contamination_ratios()[key]
    return trace_transients(
        corrected_traces(stored.roi, stored.neuropil, r), max_transients=max_transients
    )


# -- the dF image ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class EventFrames:
    """The frames an event's dF image averages.

    Attributes
    ----------
    baseline : range
        Frames ``[max(0, f - before), f)``; at the movie's first frame (``f = 0``),
        where no frame precedes, frame 0 alone.
    response : range
        Frames ``[f, min(n_frames, f + after))``.
    """

    baseline: range
    response: range

    @property
    def read(self) -> range:
        """Every frame read: from the baseline's first to the response's last."""
        return range(self.baseline.start, self.response.stop)


def event_frames(
    frame: int,
    n_frames: int,
    *,
    before: int = EVENT_FRAMES_BEFORE,
    after: int = EVENT_FRAMES_AFTER,
) -> EventFrames:
    """The baseline and response frames of an event at ``frame`` (see :class:`EventFrames`).

    Raises
    ------
    ValueError
        For a frame outside ``[0, n_frames)``, or ``before`` or ``after`` < 1.
    """
    frame, n_frames = int(frame), int(n_frames)
    if not 0 <= frame < n_frames:
        raise ValueError(f"frame {frame} is outside the movie's {n_frames} frames")
    if before < 1 or after < 1:
        raise ValueError(f"before and after must be at least 1 frame, got {before} and {after}")
    return EventFrames(
        range(max(0, frame - before), max(frame, 1)), range(frame, min(n_frames, frame + after))
    )


def event_crop(model: RoiModel, key, *, margin: int = EVENT_CROP_MARGIN) -> Window:
    """Where ROI ``key``'s dF image lies: its box grown by ``margin`` pixels, inside the frame.

    Raises
    ------
    ValueError
        For an ROI without pixels, a negative margin, or no ROIs.
    """
    if margin < 0:
        raise ValueError(f"the margin must be >= 0 pixels, got {margin}")
    roi = None if model.rings is None or key not in model.roi_keys() else model.roi(key)
    if roi is None:
        raise ValueError(f"ROI {key} has no pixels")
    rows, columns = model.image_shape
    return Window(
        max(0, roi.top - margin),
        max(0, roi.left - margin),
        min(rows, roi.bottom + margin),
        min(columns, roi.right + margin),
    )


@dataclass(frozen=True)
class EventImage:
    """The mean change of the movie around an event, in a crop around the ROI.

    Attributes
    ----------
    key : hashable
        The ROI.
    frame : int
        The event's frame.
    window : Window
        Where the image lies in the frame.
    frames : EventFrames
        The frames averaged.
    image : (window rows, window columns) float32 ndarray
        ``mean(movie[response]) - mean(movie[baseline])`` over the window's pixels.
    """

    key: Hashable
    frame: int
    window: Window
    frames: EventFrames
    image: np.ndarray


def _event_image_steps(
    movie,
    frame: int,
    window,
    *,
    before: int = EVENT_FRAMES_BEFORE,
    after: int = EVENT_FRAMES_AFTER,
    block_size: int = 64,
    max_block_bytes: int = DEFAULT_BLOCK_BYTES,
) -> Generator[tuple[int, int], None, tuple[EventFrames, np.ndarray]]:
    """The dF image of an event, as a generator: yields ``(frames_done, frames_total)`` after
    every block and returns the frames averaged and the image (see :func:`event_image_job`).
    Closing it stops within one block. Bad input raises before any frame is read."""
    n_frames, rows, columns = check_frame_source(movie)
    top, left, bottom, right = (int(v) for v in window)
    if not (0 <= top < bottom <= rows and 0 <= left < right <= columns):
        raise ValueError(f"the crop {tuple(window)} is not inside the {rows}x{columns} frame")
    dtype = np.dtype(getattr(movie, "dtype", np.float64))
    if dtype.kind not in "biuf":
        raise TypeError(f"the movie must hold numbers, got dtype {dtype}")
    frames = event_frames(frame, n_frames, before=before, after=after)
    per_block = frames_per_block(
        block_size, (bottom - top) * (right - left) * dtype.itemsize, max_block_bytes
    )
    shape = (bottom - top, right - left)
    sums = {"baseline": np.zeros(shape), "response": np.zeros(shape)}
    wanted = {"baseline": frames.baseline, "response": frames.response}
    read = frames.read
    for start in range(read.start, read.stop, per_block):
        stop = min(start + per_block, read.stop)
        # one slice of frames and pixels: an HDF5 or dask movie reads only the chunks under it
        block = np.asarray(movie[start:stop, top:bottom, left:right], dtype=np.float64)
        for name, span in wanted.items():
            first, last = max(start, span.start), min(stop, span.stop)
            if first < last:
                sums[name] += block[first - start : last - start].sum(axis=0)
        yield stop - read.start, len(read)
    change = sums["response"] / len(frames.response) - sums["baseline"] / len(frames.baseline)
    return frames, change.astype(np.float32)


def event_image_job(
    movie,
    key,
    frame: int,
    window,
    *,
    before: int = EVENT_FRAMES_BEFORE,
    after: int = EVENT_FRAMES_AFTER,
    block_size: int = 64,
    cancel: threading.Event | None = None,
):
    """The dF image of ROI ``key``'s event at ``frame``, for a worker thread.

    The image is ``mean(movie[f:f + after]) - mean(movie[f - before:f])`` over
    the crop ``window``, the ranges clipped to the movie (at ``f = 0`` the
    baseline is frame 0 alone; see :func:`event_frames`). The movie is read as
    ``movie[start:stop, top:bottom, left:right]`` for the frames
    ``[f - before, f + after)`` only, a block of frames at a time, each once.

    Parameters
    ----------
    movie : (n_frames, rows, columns) array-like
        numpy, memmap, h5py, dask or zarr.
    key : hashable
        The ROI, carried to the result (the caller drops a result for an ROI no
        longer selected).
    frame : int
        The event's frame.
    window : Window or (top, left, bottom, right)
        The crop (:func:`event_crop`), inside the frame.
    before, after : int
        Frames of the baseline and the response (>= 1).
    block_size : int
        Most frames read at once (fewer when they would pass 32 MiB).
    cancel : threading.Event, optional
        Set it to stop within one block.

    Yields
    ------
    (frames_done, frames_total)

    Returns
    -------
    EventImage or None
        None when cancelled.

    Raises
    ------
    TypeError, ValueError
        Before any frame is read: not a movie of numbers, a crop outside the
        frame, a frame outside the movie.
    """
    steps = _event_image_steps(
        movie, frame, window, before=before, after=after, block_size=block_size
    )
    done = yield from cancellable_job(steps, cancel)
    if done is None:
        return None
    frames, image = done
    return EventImage(key, int(frame), Window(*(int(v) for v in window)), frames, image)
