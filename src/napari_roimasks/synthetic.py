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

__all__ = ["SyntheticRecording", "make_recording", "place_cells"]


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
    """

    movie: np.ndarray
    roi_labels: np.ndarray
    spike_frames: list[np.ndarray]
    cell_signal: np.ndarray
    shifts: np.ndarray
    motion_border: MotionBorder

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
) -> np.ndarray:
    """A (rows, columns) int32 label image of disc-shaped cells that do not touch.

    Fewer than ``n_cells`` are placed when they do not fit.
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
    """
    rng = np.random.default_rng(seed)
    labels = place_cells(shape, n_cells, seed=rng)
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

    rows, columns = np.mgrid[: shape[0], : shape[1]]
    neuropil_field = 200 + 80 * np.sin(rows / 23.0) * np.cos(columns / 31.0)
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
    return SyntheticRecording(movie, labels, spike_frames, signal, shifts, border)


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
