"""The frame size ROIs are drawn on, when their file does not say it.

Where the motion border lies and which ROIs it excludes depend on the image
size, so ROIs must open at the movie's size, not at the ROIs' extent. One
rule, for the napari reader and writer and the ROI masks dock (the command
line always knows the movie):

1. the size the file records (``RoiSet.image_shape``), if any;
2. else the frame size of the first image open beside it that holds every ROI;
3. else the ROIs' extent, with a note saying so, to show the user.

The dock offers to resize an ROI layer to the image rule 2 picks
(:func:`first_image_holding`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .roi_set import RoiSet

__all__ = [
    "ImageSizeChoice",
    "first_image_holding",
    "image_size_for_rois",
    "rois_extent",
    "size_text",
]


@dataclass(frozen=True)
class ImageSizeChoice:
    """The frame size chosen for a set of ROIs, and what to tell the user about it.

    Attributes
    ----------
    shape : (rows, columns)
    source : str
        Where it came from, in words: ``"the file"``, ``"'movie'"`` (an image's
        name) or ``"the ROIs' extent"``.
    note : str or None
        A message for the user when the size is a guess (the ROIs' extent); None otherwise.
    """

    shape: tuple[int, int]
    source: str
    note: str | None = None


def size_text(shape) -> str:
    """``(rows, columns)`` as users read an image size: ``"256x512"`` (width x height)."""
    return f"{int(shape[1])}x{int(shape[0])}"


def rois_extent(rois: RoiSet) -> tuple[int, int]:
    """The smallest (rows, columns) from pixel (0, 0) holding every ROI's pixels; (1, 1) for none."""
    crops = [r.crop for r in rois.rois if r.crop is not None]
    return (
        max((c.bottom for c in crops), default=1),
        max((c.right for c in crops), default=1),
    )


def first_image_holding(
    extent, images: Sequence[tuple[str, tuple[int, int]]]
) -> tuple[str, tuple[int, int]] | None:
    """The first ``(name, (rows, columns))`` of ``images`` whose frame holds ``extent``; None."""
    for name, shape in images:
        if shape[0] >= extent[0] and shape[1] >= extent[1]:
            return name, (int(shape[0]), int(shape[1]))
    return None


def image_size_for_rois(
    rois: RoiSet, images: Sequence[tuple[str, tuple[int, int]]], *, path=None
) -> ImageSizeChoice:
    """The frame size ROIs open at (see the module's rule).

    Parameters
    ----------
    rois : RoiSet
        As read from their file, without a size given (so that none is refused).
    images : sequence of (name, (rows, columns))
        The images open beside them (e.g. the viewer's movie layers), in order of preference.
    path : str or os.PathLike, optional
        The ROI file, named in the note.

    Returns
    -------
    ImageSizeChoice
    """
    if rois.image_shape is not None:
        return ImageSizeChoice(tuple(int(n) for n in rois.image_shape), "the file")
    extent = rois_extent(rois)
    holding = first_image_holding(extent, images)
    if holding is not None:
        return ImageSizeChoice(holding[1], repr(holding[0]))
    where = f"{path}: " if path is not None else ""
    if images:
        name, shape = images[0]
        note = (
            f"{where}the ROIs reach beyond {name!r} ({size_text(shape)}): opened at their "
            f"extent, {size_text(extent)}. Are they this movie's ROIs?"
        )
    else:
        note = (
            f"{where}the file does not record the image size and no image is open: the ROIs "
            f"opened at their extent, {size_text(extent)}. Open the movie, then resize the ROI "
            "layer to it in the ROI masks dock"
        )
    return ImageSizeChoice(extent, "the ROIs' extent", note)
