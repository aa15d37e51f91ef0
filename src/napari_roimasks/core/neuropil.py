"""Neuropil rings: the pixels around an ROI whose signal contaminates it.

AllenSDK's ring is the ROI dilated 13 times by a 3x3 square, that is every
pixel within 13 rows and 13 columns of an ROI pixel (the image edge is not
wrapped), minus every pixel that belongs to any ROI, minus the motion border.
Only a window of the image around the ROI can be reached, so each ring is
computed on that window rather than on the whole frame.

:class:`RingOptions` holds three settings beyond AllenSDK, all off by default
so that the defaults give AllenSDK's rings:

``outer_radius`` (default 13)
    How far the ring reaches from the ROI, in rows and columns.
``inner_gap`` (default 0)
    Pixels within this many rows and columns of the ROI are left out of its
    ring, so that light from the cell's own edge does not count as neuropil
    (suite2p's ``inner_neuropil_radius``).
``min_pixels`` (default 0: off)
    When the ring has fewer pixels than this (inside the usable area), its
    outer radius grows to the smallest radius that gives at least this many,
    or until it covers the image (suite2p's ``min_neuropil_pixels``).
"""

from __future__ import annotations

from dataclasses import dataclass
from numbers import Integral

import numpy as np

from .border import UsableArea
from .masks import MaskCrop, bounding_box, clip_box_to_usable_area, crop_to_box

__all__ = [
    "ALLEN_NEUROPIL_RADIUS",
    "RingOptions",
    "allen_neuropil_crop",
    "neuropil_region",
    "ring_in_usable_area",
]

#: AllenSDK's outer radius: 13 dilations by a 3x3 square.
ALLEN_NEUROPIL_RADIUS = 13


@dataclass(frozen=True)
class RingOptions:
    """How neuropil rings are drawn; the defaults are AllenSDK's.

    Parameters
    ----------
    outer_radius : int
        How far the ring reaches from the ROI, in rows and columns (>= 1).
    inner_gap : int
        Rows and columns next to the ROI left out of its ring (0 <= gap < outer_radius).
    min_pixels : int
        Grow the ring until it has at least this many usable pixels (0: off).
    """

    outer_radius: int = ALLEN_NEUROPIL_RADIUS
    inner_gap: int = 0
    min_pixels: int = 0

    def __post_init__(self) -> None:
        for name, low in (("outer_radius", 1), ("inner_gap", 0), ("min_pixels", 0)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, Integral) or value < low:
                raise ValueError(f"neuropil {name} must be a whole number >= {low}, got {value!r}")
            object.__setattr__(self, name, int(value))
        if self.inner_gap >= self.outer_radius:
            raise ValueError(
                f"neuropil inner_gap ({self.inner_gap}) must be smaller than outer_radius "
                f"({self.outer_radius}), or the ring is empty"
            )


def _region_at(roi: MaskCrop, occupied: np.ndarray, radius: int, inner_gap: int) -> MaskCrop:
    image_h, image_w = occupied.shape
    top, left = max(roi.top - radius, 0), max(roi.left - radius, 0)
    bottom, right = min(roi.bottom + radius, image_h), min(roi.right + radius, image_w)
    window = np.zeros((bottom - top, right - left), dtype=np.uint8)
    window[roi.top - top : roi.bottom - top, roi.left - left : roi.right - left] = roi.pixels
    # radius dilations by a 3x3 square equal one by a (2r+1) square
    region = _grown(window, radius)
    if inner_gap:
        region &= ~_grown(window, inner_gap)
    region &= (
        occupied[top:bottom, left:right] <= 0
    )  # "not occupied", as AllenSDK's `ring > combined`
    return MaskCrop(top, left, region)


def _grown(mask: np.ndarray, reach: int) -> np.ndarray:
    """(rows, columns) bool: the pixels within ``reach`` rows and columns of a pixel of ``mask``
    (a dilation by a (2 reach + 1) square, nothing beyond the edges; scipy's
    ``maximum_filter(mask, 2 * reach + 1, mode="constant") != 0``), in two passes of
    running counts."""
    grown = np.asarray(mask) != 0
    for axis in (0, 1):
        along = grown if axis == 0 else grown.T
        n = along.shape[0]
        # counts[j]: the pixels set in rows 0 .. j - reach - 1 (0 up to reach, then all of them)
        counts = np.zeros((n + 2 * reach + 1, along.shape[1]), dtype=np.int32)
        np.cumsum(along, axis=0, out=counts[reach + 1 : reach + 1 + n])
        counts[reach + 1 + n :] = counts[reach + n]
        within = counts[2 * reach + 1 :] > counts[:n]  # rows i - reach .. i + reach hold one
        grown = within if axis == 0 else within.T
    return grown


def _usable_count(region: MaskCrop, usable: UsableArea | None) -> int:
    if usable is None:
        return int(np.count_nonzero(region.pixels))
    if usable.is_empty:
        return 0
    rows = slice(max(usable.first_row - region.top, 0), max(usable.last_row + 1 - region.top, 0))
    columns = slice(
        max(usable.first_column - region.left, 0), max(usable.last_column + 1 - region.left, 0)
    )
    return int(np.count_nonzero(region.pixels[rows, columns]))


def neuropil_region(
    roi: MaskCrop,
    occupied: np.ndarray,
    *,
    options: RingOptions | None = None,
    usable: UsableArea | None = None,
) -> MaskCrop:
    """The neuropil ring of one ROI before the motion border is taken out.

    Parameters
    ----------
    roi : MaskCrop
        The ROI's pixels.
    occupied : (image_h, image_w) ndarray
        > 0 where some ROI lies; those pixels never belong to a ring.
    options : RingOptions, optional
        Radius, gap and minimum size; default AllenSDK's ring.
    usable : UsableArea, optional
        Where ``min_pixels`` counts pixels; default the whole image.

    Returns
    -------
    MaskCrop
        The window of the image the ring can reach, True on ring pixels (it
        may hold none). Its box is not tight: AllenSDK's neuropil box is
        derived from it.
    """
    options = options or RingOptions()
    region = _region_at(roi, occupied, options.outer_radius, options.inner_gap)
    if not options.min_pixels or _usable_count(region, usable) >= options.min_pixels:
        return region
    # The count only grows with the radius: double it until it is enough (or
    # the window covers the image), then bisect for the smallest such radius.
    covers_image = max(occupied.shape)
    low, high = options.outer_radius, options.outer_radius
    grown = region
    while high < covers_image:
        low, high = high, min(2 * high, covers_image)
        grown = _region_at(roi, occupied, high, options.inner_gap)
        if _usable_count(grown, usable) >= options.min_pixels:
            break
    else:
        return grown
    while high - low > 1:
        middle = (low + high) // 2
        candidate = _region_at(roi, occupied, middle, options.inner_gap)
        if _usable_count(candidate, usable) >= options.min_pixels:
            high, grown = middle, candidate
        else:
            low = middle
    return grown


def ring_in_usable_area(region: MaskCrop, usable: UsableArea) -> MaskCrop | None:
    """The ring's pixels inside the usable area, tightly cropped; None if there are none."""
    if usable.is_empty:
        return None
    top, left = max(region.top, usable.first_row), max(region.left, usable.first_column)
    bottom = min(region.bottom, usable.last_row + 1)
    right = min(region.right, usable.last_column + 1)
    if top >= bottom or left >= right:
        return None
    window = region.pixels[
        top - region.top : bottom - region.top, left - region.left : right - region.left
    ]
    return MaskCrop.from_plane(window, origin=(top, left))


def allen_neuropil_crop(region: MaskCrop, usable: UsableArea) -> MaskCrop | None:
    """The ring as AllenSDK's ``NeuropilMask`` keeps it; None when it has no box.

    The box of the region's pixels is clipped to the usable area (see
    :func:`clip_box_to_usable_area`) and the region cropped to it: the pixels
    are :func:`ring_in_usable_area`'s, but the box may be wider than them, or
    hold none (a ring wholly inside the border), as AllenSDK writes it.

    Parameters
    ----------
    region : MaskCrop
        The ring before the border is taken out (:func:`neuropil_region`);
        nonzero pixels belong to it.
    usable : UsableArea
    """
    box = bounding_box(region.pixels)
    if box is None:
        return None
    top, left, bottom, right = box
    box = clip_box_to_usable_area(
        (top + region.top, left + region.left, bottom + region.top, right + region.left), usable
    )
    if box is None:
        return None
    return MaskCrop(box[0], box[1], crop_to_box(region.pixels, (region.top, region.left), box))
