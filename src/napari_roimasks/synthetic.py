"""A synthetic two-photon recording with known ground truth, made in well under a second.

Cells are discs whose fluorescence rises at known spike frames and decays like
a calcium indicator; a smooth neuropil background fluctuates on its own; the
frames jitter by a few pixels of rigid motion and are then registered, which
leaves a band of empty pixels at the edges, the motion border. Used by the
demo, the tests and napari's File > Open Sample.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .core.border import MotionBorder
from .core.masks import MaskCrop

__all__ = ["DECOY_KINDS", "SyntheticRecording", "decoy_rois", "make_recording", "place_cells"]

#: The kinds of ROI that look like cells to a careless eye but are not (see :func:`decoy_rois`).
DECOY_KINDS = ("neuropil", "half cell", "vessel")


@dataclass
class SyntheticRecording:
    """A generated recording and what is known about it.

    Attributes
    ----------
    movie : (n_frames, rows, columns) uint16 ndarray
        Motion-corrected movie; the pixels shifted in from outside are 0.
    roi_labels : (rows, columns) int32 ndarray
        Ground-truth cells: 0 background, k for cell k.
    spike_frames : list of (n_spikes,) int ndarray
        Frames at which cell k+1 fires.
    cell_signal : (n_cells, n_frames) float64 ndarray
        The fluorescence each cell adds, before neuropil and noise.
    shifts : (n_frames, 2) int ndarray
        The (row, column) shift the registration applied to each frame.
    motion_border : MotionBorder
        The largest shift in each direction.
    vessel : (rows, columns) bool ndarray or None
        Where a blood vessel darkens the neuropil (``make_recording(vessel=True)``).
    """

    movie: np.ndarray
    roi_labels: np.ndarray
    spike_frames: list[np.ndarray]
    cell_signal: np.ndarray
    shifts: np.ndarray
    motion_border: MotionBorder
    vessel: np.ndarray | None = None

    @property
    def mean_image(self) -> np.ndarray:
        """(rows, columns) float32 mean over frames: what people draw ROIs on."""
        return self.movie.mean(axis=0, dtype=np.float64).astype(np.float32)


def place_cells(
    shape: tuple[int, int],
    n_cells: int,
    *,
    radius_range: tuple[float, float] = (3.5, 6.5),
    seed: int | np.random.Generator = 0,
    avoid: np.ndarray | None = None,
) -> np.ndarray:
    """A (rows, columns) int32 label image of disc-shaped cells that do not touch.

    Fewer than ``n_cells`` are placed when they do not fit; no cell covers a
    pixel of ``avoid`` (a (rows, columns) bool image).
    """
    rng = np.random.default_rng(seed)
    labels = np.zeros(shape, dtype=np.int32)
    placed, attempts = 0, 0
    while placed < n_cells and attempts < 100 * n_cells:
        attempts += 1
        radius = rng.uniform(*radius_range)
        r, c = rng.uniform(0, shape[0] - 1), rng.uniform(0, shape[1] - 1)
        # work in the window the cell (and the 1.5 px gap around it) can reach
        reach = int(np.ceil(radius + 1.5))
        top, left = max(int(r) - reach, 0), max(int(c) - reach, 0)
        bottom, right = min(int(r) + reach + 2, shape[0]), min(int(c) + reach + 2, shape[1])
        rows, columns = np.ogrid[top:bottom, left:right]
        distance2 = (rows - r) ** 2 + (columns - c) ** 2
        window = labels[top:bottom, left:right]
        # keep cells apart so every ROI has its own outline
        if window[distance2 <= (radius + 1.5) ** 2].any():
            continue
        if avoid is not None and avoid[top:bottom, left:right][distance2 <= radius**2].any():
            continue
        placed += 1
        window[distance2 <= radius**2] = placed
    return labels


def make_recording(
    n_frames: int = 300,
    shape: tuple[int, int] = (256, 256),
    n_cells: int = 40,
    *,
    max_shift: int = 3,
    seed: int = 0,
    vessel: bool = False,
) -> SyntheticRecording:
    """Generate a recording; the same arguments always give the same recording.

    Parameters
    ----------
    n_frames : int
        Number of frames.
    shape : (rows, columns)
        Frame size.
    n_cells : int
        Cells to place (fewer if they do not fit); a few lie at the frame's
        edge so the motion border disqualifies them.
    max_shift : int
        Largest rigid motion, in pixels, in any direction.
    seed : int
        Seed of the random generator.
    vessel : bool
        Draw a blood vessel: a dark stripe, 7 pixels wide, across the neuropil
        (cells keep clear of it), where decoy ROIs can be put.
    """
    rng = np.random.default_rng(seed)
    rows, columns = np.mgrid[: shape[0], : shape[1]]
    stripe = None
    if vessel:  # a diagonal band through the middle
        distance = np.abs((rows - shape[0] / 2) - 0.6 * (columns - shape[1] / 2)) / np.hypot(1, 0.6)
        stripe = distance <= 3.5
    labels = place_cells(shape, n_cells, seed=rng, avoid=None if stripe is None else distance <= 9)
    n_placed = int(labels.max())

    # calcium transients: a jump at each spike decaying with a ~10-frame time constant
    kernel = np.exp(-np.arange(60) / 10.0)
    spike_frames, signal = [], np.zeros((n_placed, n_frames))
    for k in range(n_placed):
        spikes = np.sort(rng.choice(n_frames, size=max(1, n_frames // 60), replace=False))
        spike_frames.append(spikes)
        train = np.zeros(n_frames)
        train[spikes] = rng.uniform(300, 900, spikes.size)
        signal[k] = np.convolve(train, kernel)[:n_frames]

    neuropil_field = 200 + 80 * np.sin(rows / 23.0) * np.cos(columns / 31.0)
    if stripe is not None:
        neuropil_field = np.where(stripe, 0.3 * neuropil_field, neuropil_field)
    neuropil_drive = (
        1 + 0.3 * np.sin(np.arange(n_frames) / 17.0) + 0.05 * rng.standard_normal(n_frames)
    )
    brightness = rng.uniform(400, 800, n_placed)

    footprints = np.zeros((n_placed, labels.size))
    inside = np.flatnonzero(labels.ravel())
    footprints[labels.ravel()[inside] - 1, inside] = 1.0
    cells = (signal + brightness[:, None]).T @ footprints
    movie = neuropil_drive[:, None] * neuropil_field.ravel() + cells
    movie += rng.normal(0, 15, movie.shape)
    movie = np.clip(movie, 0, 65535).astype(np.uint16).reshape(n_frames, *shape)

    shifts = rng.integers(-max_shift, max_shift + 1, size=(n_frames, 2))
    for t, (dy, dx) in enumerate(shifts):
        _blank_uncovered_band(movie[t], dy, dx)
    border = MotionBorder(
        left=float(max(shifts[:, 1].max(), 0)),
        right=float(max(-shifts[:, 1].min(), 0)),
        top=float(max(shifts[:, 0].max(), 0)),
        bottom=float(max(-shifts[:, 0].min(), 0)),
    )
    return SyntheticRecording(movie, labels, spike_frames, signal, shifts, border, stripe)


def _blank_uncovered_band(frame: np.ndarray, dy: int, dx: int) -> None:
    # Registration shifted this frame by (dy, dx) to align it: the cells stay
    # put, and the band the shift uncovered holds no signal.
    if dy > 0:
        frame[:dy] = 0
    elif dy < 0:
        frame[dy:] = 0
    if dx > 0:
        frame[:, :dx] = 0
    elif dx < 0:
        frame[:, dx:] = 0


def decoy_rois(
    recording: SyntheticRecording, n_each: int = 10, *, seed: int = 0
) -> tuple[list[MaskCrop], list[str]]:
    """ROIs a curator must reject, for testing metrics and classifiers: discs on neuropil
    only, discs over half a cell, and discs on the blood vessel (``make_recording(vessel=True)``;
    none without it).

    Parameters
    ----------
    recording : SyntheticRecording
    n_each : int
        Decoys of each kind (fewer when they do not fit).
    seed : int

    Returns
    -------
    masks : list of MaskCrop
    kinds : list of str
        Each decoy's kind, one of :data:`DECOY_KINDS`.
    """
    rng = np.random.default_rng(seed)
    labels = recording.roi_labels
    shape = labels.shape
    usable = recording.motion_border.usable_area(*shape)
    clear = np.zeros(shape, dtype=bool)  # at least 3 pixels from any cell
    for k in range(1, int(labels.max()) + 1):
        rows, columns = np.nonzero(labels == k)
        clear[
            max(rows.min() - 3, 0) : rows.max() + 4, max(columns.min() - 3, 0) : columns.max() + 4
        ] = True
    clear = ~clear
    radius = 4.5
    reach = int(np.ceil(radius))
    masks, kinds = [], []

    def disc_at(r: float, c: float) -> MaskCrop | None:
        top, left = round(r) - reach, round(c) - reach
        size = 2 * reach + 1
        if top < usable.first_row or left < usable.first_column:
            return None
        if top + size - 1 > usable.last_row or left + size - 1 > usable.last_column:
            return None
        yy, xx = np.mgrid[top : top + size, left : left + size]
        return MaskCrop(top, left, (yy - r) ** 2 + (xx - c) ** 2 <= radius**2)

    def add(kind: str, candidates) -> None:
        placed = 0
        for r, c in candidates:
            if placed == n_each:
                return
            mask = disc_at(r, c)
            if mask is not None:
                masks.append(mask)
                kinds.append(kind)
                placed += 1

    from scipy.ndimage import binary_dilation, binary_erosion

    away = binary_erosion(clear, iterations=reach)  # centres whose disc misses every cell
    if recording.vessel is not None:
        away_from_vessel = away & ~binary_dilation(recording.vessel, iterations=reach + 2)
        on_vessel = away & binary_erosion(recording.vessel, iterations=2)
    else:
        away_from_vessel, on_vessel = away, None
    add("neuropil", _random_points(rng, away_from_vessel, 2 * reach + 2))
    cells = rng.permutation(np.arange(1, int(labels.max()) + 1))
    halves = []
    for k in cells:
        rows, columns = np.nonzero(labels == k)
        r, c = rows.mean(), columns.mean()
        angle = rng.uniform(0, 2 * np.pi)
        offset = np.sqrt(rows.size / np.pi)  # the cell's radius: the disc covers about half
        halves.append((r + offset * np.sin(angle), c + offset * np.cos(angle)))
    add("half cell", halves)
    if on_vessel is not None:
        add("vessel", _random_points(rng, on_vessel, 2 * reach + 2))
    return masks, kinds


def _random_points(rng: np.random.Generator, allowed: np.ndarray, apart: int):
    """Random pixels of ``allowed``, each more than ``apart`` rows or columns from the others."""
    taken: list[np.ndarray] = []
    for point in rng.permutation(np.argwhere(allowed)):
        if all(np.abs(point - other).max() > apart for other in taken):
            taken.append(point)
            yield float(point[0]), float(point[1])
