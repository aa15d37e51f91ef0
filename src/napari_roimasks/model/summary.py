"""Summary images as the viewer shows them: which layers, named how, with what contrast.

The images come from the movie (:func:`summary_job`, a generator for a worker
thread, over :func:`~napari_roimasks.core.summary_images.summary_steps`) or
from suite2p's ``ops.npy`` (:func:`suite2p_summary`, without reading the
movie). :func:`summary_layers` says what the viewer shows of them: one layer
per image, named ``<movie> mean``, ``<movie> correlation``, ... (``<movie>
mean (suite2p)`` for suite2p's), with contrast limits that ignore a few
extreme pixels, and only the correlation image visible: it is the one ROIs
are drawn and checked on, and the images are opaque, so a second visible one
would hide it or be hidden.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np

from ..core.summary_images import DEFAULT_CELL_DIAMETER, SUMMARY_IMAGES, summary_steps
from ..io.suite2p_images import read_suite2p_images
from .jobs import cancellable_job

__all__ = [
    "SummaryLayer",
    "display_limits",
    "suite2p_summary",
    "summary_job",
    "summary_layers",
]

#: How each image is named after the movie: ``<movie> <title>``.
TITLES = {
    "mean": "mean",
    "max": "max",
    "std": "std",
    "correlation": "correlation",
    "enhanced_mean": "enhanced mean",
}
#: The one image shown when the layers are added.
VISIBLE = "correlation"


@dataclass(frozen=True)
class SummaryLayer:
    """One summary image as a layer.

    Attributes
    ----------
    image : str
        Which image (one of :data:`~napari_roimasks.core.summary_images.SUMMARY_IMAGES`).
    key : str
        Identifies the layer for its movie (``"mean"``, ``"mean (suite2p)"``...).
    name : str
        The layer's name.
    data : (rows, columns) float32 ndarray
    contrast_limits : (low, high)
    visible : bool
        Whether a new layer is shown (an existing one keeps the user's choice).
    """

    image: str
    key: str
    name: str
    data: np.ndarray
    contrast_limits: tuple[float, float]
    visible: bool


def display_limits(image: str, data: np.ndarray) -> tuple[float, float]:
    """Contrast limits for one summary image.

    mean, max, std and correlation: the 1st to 99.5th percentile, so a few hot
    or dead pixels do not wash the picture out, and a correlated neuropil
    (0.9 in the sample recording) is not shown as bright as the cells;
    enhanced mean: [0, 1], its range. Always low < high, NaN ignored.
    """
    if image == "enhanced_mean":
        return 0.0, 1.0
    finite = np.asarray(data, dtype=np.float64)
    finite = finite[np.isfinite(finite)]
    if finite.size == 0:
        return 0.0, 1.0
    low, high = (float(v) for v in np.percentile(finite, [1, 99.5]))
    if not high > low:
        high = max(float(finite.max()), low)
        if not high > low:
            high = low + 1.0
    return low, high


def summary_layers(images: dict, movie_name: str, *, suite2p: bool = False) -> list[SummaryLayer]:
    """The layers that show these images of the movie ``movie_name``, in
    :data:`~napari_roimasks.core.summary_images.SUMMARY_IMAGES` order.

    Parameters
    ----------
    images : dict of str -> (rows, columns) ndarray
        Image name -> image (e.g. ``SummaryImages.as_dict()``, or suite2p's).
    movie_name : str
    suite2p : bool
        suite2p's images: named and keyed ``... (suite2p)``.
    """
    suffix = " (suite2p)" if suite2p else ""
    layers = []
    for image in SUMMARY_IMAGES:
        if image not in images:
            continue
        data = np.asarray(images[image], dtype=np.float32)
        layers.append(
            SummaryLayer(
                image=image,
                key=image + suffix,
                name=f"{movie_name} {TITLES[image]}{suffix}",
                data=data,
                contrast_limits=display_limits(image, data),
                visible=image == VISIBLE,
            )
        )
    return layers


def summary_job(
    frames,
    *,
    cell_diameter: float = DEFAULT_CELL_DIAMETER,
    cancel: threading.Event | None = None,
):
    """The movie's summary images, for a worker thread.

    Parameters
    ----------
    frames : (n_frames, rows, columns) array-like
        Read once, a block at a time.
    cell_diameter : float
        For the enhanced mean (suite2p's ``diameter``).
    cancel : threading.Event, optional
        Set it to stop within one block.

    Yields
    ------
    (frames_done, frames_total)

    Returns
    -------
    SummaryImages or None
        None when cancelled.

    Raises
    ------
    TypeError, ValueError
        Before any frame is read: not a movie of numbers, no frames.
    JobFailed
        For a failure while reading.
    """
    steps = summary_steps(frames, cell_diameter=cell_diameter)
    return (yield from cancellable_job(steps, cancel))


def suite2p_summary(ops_path, *, image_shape=None) -> dict[str, np.ndarray]:
    """suite2p's images from its ``ops.npy`` (see :func:`~napari_roimasks.io.suite2p_images.read_suite2p_images`)."""
    return read_suite2p_images(ops_path, image_shape=image_shape)
