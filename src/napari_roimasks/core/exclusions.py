"""AllenSDK's exclusion rule, in one place: which masks give a NaN trace, and why.

An ROI is excluded when it has no pixel (``empty_roi_mask``) or when its box
reaches into the motion border (``motion_border``); its neuropil ring is
excluded when the ring has no pixel inside the usable area
(``empty_neuropil_mask``). An excluded mask's trace is a row of NaN; the
other mask of the pair is still read (AllenSDK extracts ROI and neuropil
traces independently). The AllenSDK face (:mod:`napari_roimasks.roi_masks`),
the batch pipeline, the model and the docks all ask these functions.
"""

from __future__ import annotations

from .border import UsableArea
from .masks import MaskCrop, bounding_box

__all__ = [
    "EMPTY_NEUROPIL",
    "EMPTY_ROI",
    "EXCLUSION_TEXT",
    "MOTION_BORDER",
    "exclusions",
    "masks_to_read",
    "neuropil_exclusions",
    "overlaps_motion_border",
    "roi_exclusions",
]

#: AllenSDK's ``exclusion_label_name`` values.
EMPTY_ROI = "empty_roi_mask"
MOTION_BORDER = "motion_border"
EMPTY_NEUROPIL = "empty_neuropil_mask"

#: The exclusions as a curator reads them.
EXCLUSION_TEXT = {
    EMPTY_ROI: "empty ROI",
    MOTION_BORDER: "motion border",
    EMPTY_NEUROPIL: "empty neuropil",
}


def _has_pixels(crop: MaskCrop | None) -> bool:
    return crop is not None and bool(crop.pixels.any())


def overlaps_motion_border(roi: MaskCrop, usable: UsableArea) -> bool:
    """Whether the box of the ROI's pixels leaves the usable area (AllenSDK's test).

    Parameters
    ----------
    roi : MaskCrop
        At least one pixel; its box need not be tight.
    usable : UsableArea
    """
    top, left, bottom, right = bounding_box(roi.pixels)
    return not usable.contains_box(
        roi.top + top, roi.left + left, roi.top + bottom, roi.left + right
    )


def roi_exclusions(roi: MaskCrop | None, usable: UsableArea) -> tuple[str, ...]:
    """``(EMPTY_ROI,)``, ``(MOTION_BORDER,)`` or ``()`` for one ROI."""
    if not _has_pixels(roi):
        return (EMPTY_ROI,)
    return (MOTION_BORDER,) if overlaps_motion_border(roi, usable) else ()


def neuropil_exclusions(ring: MaskCrop | None) -> tuple[str, ...]:
    """``(EMPTY_NEUROPIL,)`` when the ring has no pixel in the usable area, else ``()``."""
    return () if _has_pixels(ring) else (EMPTY_NEUROPIL,)


def exclusions(roi: MaskCrop | None, ring: MaskCrop | None, usable: UsableArea) -> tuple[str, ...]:
    """Every exclusion of an ROI and its ring, in AllenSDK's order (the ROI's first)."""
    return roi_exclusions(roi, usable) + neuropil_exclusions(ring)


def masks_to_read(
    roi: MaskCrop | None, ring: MaskCrop | None, usable: UsableArea
) -> tuple[MaskCrop | None, MaskCrop | None]:
    """The ROI and ring masks whose traces are read; None where AllenSDK gives NaN."""
    return (
        None if roi_exclusions(roi, usable) else roi,
        ring if _has_pixels(ring) else None,
    )
