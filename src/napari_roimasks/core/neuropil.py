"""Neuropil rings: the pixels around an ROI whose signal contaminates it.

AllenSDK's ring is the ROI dilated 13 times by a 3x3 square, that is every
pixel within 13 rows and 13 columns of an ROI pixel (the image edge is not
wrapped), minus every pixel that belongs to any ROI. Only a window of the
image around the ROI can be reached, so the ring is computed on that window
rather than on the whole frame.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

__all__ = ["ALLEN_NEUROPIL_RADIUS", "neuropil_window"]

#: AllenSDK's outer radius: 13 dilations by a 3x3 square.
ALLEN_NEUROPIL_RADIUS = 13


def neuropil_window(
    roi_crop: np.ndarray,
    roi_top: int,
    roi_left: int,
    occupied: np.ndarray,
    *,
    radius: int = ALLEN_NEUROPIL_RADIUS,
) -> tuple[np.ndarray, tuple[int, int]]:
    """The neuropil ring of one ROI, on the window of the image it can reach.

    Parameters
    ----------
    roi_crop : (h, w) bool ndarray
        The ROI's pixels inside its bounding box.
    roi_top, roi_left : int
        Image row and column of ``roi_crop[0, 0]``.
    occupied : (image_h, image_w) bool ndarray
        Union of all ROIs; these pixels never belong to a ring.
    radius : int, optional
        How far the ring reaches, in rows and columns (Chebyshev distance).

    Returns
    -------
    ring : (rows, columns) bool ndarray
        Ring pixels in the window.
    origin : (row, column)
        Image coordinates of ``ring[0, 0]``.
    """
    image_h, image_w = occupied.shape
    h, w = roi_crop.shape
    top, left = max(roi_top - radius, 0), max(roi_left - radius, 0)
    bottom, right = min(roi_top + h + radius, image_h), min(roi_left + w + radius, image_w)
    window = np.zeros((bottom - top, right - left), dtype=np.uint8)
    window[roi_top - top : roi_top - top + h, roi_left - left : roi_left - left + w] = roi_crop
    # 13 dilations by a 3x3 square equal one by a 27x27 square; the maximum
    # filter is separable, so this costs two 1D passes over a small window.
    reach = ndimage.maximum_filter(window, size=2 * radius + 1, mode="constant", cval=0)
    ring = reach.astype(bool) & ~occupied[top:bottom, left:right]
    return ring, (top, left)
