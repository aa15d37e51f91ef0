"""Pixel bookkeeping shared by ROI and neuropil masks: boxes, crops and clipping.

A mask is kept as AllenSDK keeps it: the inclusive bounding box of its pixels
(``top, left, bottom, right`` in image rows and columns) and a boolean crop of
that box. These helpers turn image-sized arrays into that form and back.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .border import UsableArea

__all__ = [
    "Box",
    "MaskCrop",
    "bounding_box",
    "clip_box_to_usable_area",
    "crop_to_box",
    "pixel_list_plane",
]

#: Inclusive ``(top, left, bottom, right)`` in image rows and columns.
Box = tuple[int, int, int, int]


@dataclass(frozen=True, eq=False)
class MaskCrop:
    """A mask's pixels inside a box, and where the box sits in the image.

    Attributes
    ----------
    top, left : int
        Image row and column of ``pixels[0, 0]``.
    pixels : (rows, columns) bool ndarray
        True on the mask's pixels.
    """

    top: int
    left: int
    pixels: np.ndarray

    @property
    def bottom(self) -> int:
        """One past the last image row of the box."""
        return self.top + self.pixels.shape[0]

    @property
    def right(self) -> int:
        """One past the last image column of the box."""
        return self.left + self.pixels.shape[1]

    @property
    def area(self) -> int:
        """Number of mask pixels."""
        return int(np.count_nonzero(self.pixels))

    @property
    def slices(self) -> tuple[slice, slice]:
        """Row and column slices of the box in the image."""
        return slice(self.top, self.bottom), slice(self.left, self.right)

    @classmethod
    def from_plane(cls, plane: np.ndarray, origin: tuple[int, int] = (0, 0)) -> MaskCrop | None:
        """Tight crop of the nonzero pixels of ``plane``; None when it has none.

        Parameters
        ----------
        plane : (rows, columns) ndarray
            Nonzero marks a mask pixel.
        origin : (row, column)
            Image coordinates of ``plane[0, 0]`` (for a window of the image).
        """
        box = bounding_box(plane)
        if box is None:
            return None
        top, left, bottom, right = box
        return cls(
            top + origin[0], left + origin[1], plane[top : bottom + 1, left : right + 1] != 0
        )

    @classmethod
    def union(cls, crops) -> MaskCrop:
        """Every pixel of ``crops`` (a sequence of MaskCrop, at least one) in one crop."""
        top, left = min(c.top for c in crops), min(c.left for c in crops)
        bottom, right = max(c.bottom for c in crops), max(c.right for c in crops)
        pixels = np.zeros((bottom - top, right - left), dtype=bool)
        for c in crops:
            pixels[c.top - top : c.bottom - top, c.left - left : c.right - left] |= c.pixels
        return cls(top, left, pixels)

    def plane(self, image_shape: tuple[int, int]) -> np.ndarray:
        """The mask on an image-sized (rows, columns) bool plane."""
        plane = np.zeros(image_shape, dtype=bool)
        plane[self.slices] = self.pixels
        return plane

    def flat_indices(self, image_w: int) -> np.ndarray:
        """Flat indices ``row * image_w + column`` of the mask's pixels, row by row."""
        rows, columns = np.nonzero(self.pixels)
        return (rows + self.top).astype(np.int64) * image_w + (columns + self.left)

    def row_runs(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The mask as runs along rows: image row, first column and one-past-last column.

        Returns
        -------
        rows, starts, stops : (n_runs,) int64 ndarray
        """
        padded = np.zeros((self.pixels.shape[0], self.pixels.shape[1] + 2), dtype=np.int8)
        padded[:, 1:-1] = self.pixels
        steps = np.diff(padded, axis=1)
        run_rows, starts = np.nonzero(steps == 1)
        _, stops = np.nonzero(steps == -1)
        return (
            run_rows.astype(np.int64) + self.top,
            starts.astype(np.int64) + self.left,
            stops.astype(np.int64) + self.left,
        )


def bounding_box(active: np.ndarray) -> Box | None:
    """Inclusive bounding box of the nonzero pixels of a 2D array.

    Parameters
    ----------
    active : (rows, columns) ndarray
        Nonzero (including NaN) marks a pixel of the mask.

    Returns
    -------
    (top, left, bottom, right) or None
        None when no pixel is nonzero.
    """
    rows = np.flatnonzero(np.any(active, axis=1))
    if rows.size == 0:
        return None
    columns = np.flatnonzero(np.any(active, axis=0))
    return int(rows[0]), int(columns[0]), int(rows[-1]), int(columns[-1])


def clip_box_to_usable_area(box: Box, area: UsableArea) -> Box | None:
    """Clip a box to the usable area the way AllenSDK clips a neuropil mask.

    A side that lies past the usable area is pulled back onto it. A box wholly
    inside the border collapses to the usable row or column nearest to it, so
    the clipped crop holds no pixel of the mask (it is empty, as AllenSDK has
    it). Unlike AllenSDK, a border that leaves no usable row or column gives
    None instead of a box inside the border.

    Parameters
    ----------
    box : (top, left, bottom, right)
    area : UsableArea

    Returns
    -------
    (top, left, bottom, right) or None
    """
    if area.is_empty:
        return None
    top, left, bottom, right = box
    left, right = _clip_span(left, right, area.first_column, area.last_column)
    top, bottom = _clip_span(top, bottom, area.first_row, area.last_row)
    return top, left, bottom, right


def _clip_span(low: int, high: int, first: int, last: int) -> tuple[int, int]:
    # AllenSDK's order of clamps, kept so that collapsed boxes land where its do.
    if low < first:
        low = first
        if high < first:
            high = first
    if high > last:
        high = last
        if low > last:
            low = last
    return low, high


def crop_to_box(window: np.ndarray, window_origin: tuple[int, int], box: Box) -> np.ndarray:
    """Boolean crop of ``box`` out of a window of the image.

    Parameters
    ----------
    window : (rows, columns) ndarray
        Part of the image plane; nonzero marks a mask pixel.
    window_origin : (row, column)
        Image coordinates of ``window[0, 0]``.
    box : (top, left, bottom, right)
        Inclusive image coordinates of the crop; parts outside the window are
        read as background.

    Returns
    -------
    (bottom - top + 1, right - left + 1) bool ndarray
    """
    top, left, bottom, right = box
    crop = np.zeros((bottom - top + 1, right - left + 1), dtype=bool)
    row0, col0 = window_origin
    src_top, src_left = max(top, row0), max(left, col0)
    src_bottom = min(bottom + 1, row0 + window.shape[0])
    src_right = min(right + 1, col0 + window.shape[1])
    if src_top < src_bottom and src_left < src_right:
        crop[src_top - top : src_bottom - top, src_left - left : src_right - left] = (
            window[src_top - row0 : src_bottom - row0, src_left - col0 : src_right - col0] != 0
        )
    return crop


def pixel_list_plane(pix_list, image_h: int, image_w: int) -> np.ndarray:
    """Image-sized boolean plane from ``(x, y)`` = (column, row) pixel pairs.

    Parameters
    ----------
    pix_list : (n, 2) array_like of int
        Column and row of every mask pixel; duplicates are allowed.
    image_h, image_w : int
        Image size.

    Returns
    -------
    (image_h, image_w) bool ndarray

    Raises
    ------
    ValueError
        If ``pix_list`` is not (n, 2), holds non-integers, or has a pixel
        outside the image (AllenSDK silently wraps negative coordinates).
    """
    pixels = np.asarray(pix_list)
    if pixels.ndim != 2 or pixels.shape[1] != 2:
        raise ValueError(
            f"pix_list must be an (n, 2) array of (x, y) pixel coordinates, got shape {pixels.shape}"
        )
    whole_numbers = pixels.dtype.kind in "iu" or (
        pixels.dtype.kind == "f" and np.all(np.isfinite(pixels) & (pixels == np.round(pixels)))
    )
    if pixels.size and not whole_numbers:
        raise ValueError("pix_list must hold whole-number (x, y) pixel coordinates")
    pixels = pixels.astype(np.int64, copy=False)
    plane = np.zeros((image_h, image_w), dtype=bool)
    if pixels.size == 0:
        return plane
    xs, ys = pixels[:, 0], pixels[:, 1]
    outside = (xs < 0) | (xs >= image_w) | (ys < 0) | (ys >= image_h)
    if outside.any():
        x, y = pixels[np.argmax(outside)]
        raise ValueError(
            f"pix_list has pixel (x={x}, y={y}) outside the {image_w}x{image_h} image; "
            f"x must be in [0, {image_w - 1}] and y in [0, {image_h - 1}]"
        )
    plane[ys, xs] = True
    return plane
