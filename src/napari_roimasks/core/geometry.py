"""Pure geometry of ROIs on the image grid: shapes to pixels, pixels to outlines and label images.

numpy, scipy and scikit-image only. A pixel belongs to a shape when its centre
lies inside it; pixel (row, column) has its centre at (row, column).
"""

from __future__ import annotations

from itertools import pairwise

import numpy as np

from .masks import MaskCrop

__all__ = [
    "STROKE_SHAPES",
    "labels_from_masks",
    "mask_outlines",
    "mask_polygon",
    "rasterise_shape",
]

#: Shapes whose pixels are those near a line (a path's or line's edge width).
STROKE_SHAPES = ("path", "line", "polyline")


def _window(vertices: np.ndarray, reach: float, image_shape) -> tuple[int, int, int, int] | None:
    top = max(int(np.floor(vertices[:, 0].min() - reach)), 0)
    left = max(int(np.floor(vertices[:, 1].min() - reach)), 0)
    bottom = min(int(np.ceil(vertices[:, 0].max() + reach)) + 1, image_shape[0])
    right = min(int(np.ceil(vertices[:, 1].max() + reach)) + 1, image_shape[1])
    if top >= bottom or left >= right:
        return None
    return top, left, bottom, right


def _ellipse_pixels(corners: np.ndarray, rows: np.ndarray, columns: np.ndarray) -> np.ndarray:
    # napari keeps an ellipse as the 4 corners of its (possibly rotated) bounding box
    centre = corners.mean(axis=0)
    axis_a = (corners[1] - corners[0]) / 2
    axis_b = (corners[3] - corners[0]) / 2
    offsets = np.stack([rows - centre[0], columns - centre[1]], axis=-1)
    u = offsets @ axis_a / max(axis_a @ axis_a, 1e-12)
    v = offsets @ axis_b / max(axis_b @ axis_b, 1e-12)
    return u**2 + v**2 <= 1.0


def _stroke_pixels(path: np.ndarray, half_width: float, rows, columns, closed: bool) -> np.ndarray:
    points = np.stack([rows, columns], axis=-1).astype(float)
    inside = np.zeros(rows.shape, dtype=bool)
    segments = list(pairwise(path))
    if closed:
        segments.append((path[-1], path[0]))
    for start, stop in segments or [(path[0], path[0])]:
        direction = stop - start
        length2 = max(direction @ direction, 1e-12)
        t = np.clip(((points - start) @ direction) / length2, 0.0, 1.0)
        nearest = start + t[..., None] * direction
        inside |= np.sum((points - nearest) ** 2, axis=-1) <= half_width**2
    return inside


def rasterise_shape(vertices, shape_type: str, edge_width: float, image_shape) -> MaskCrop | None:
    """The pixels of one shape on the image grid; None when it covers none.

    Parameters
    ----------
    vertices : (n, 2) array_like of float
        Row and column of each vertex (napari's shape data).
    shape_type : {'polygon', 'rectangle', 'ellipse', 'path', 'line', 'polyline'}
    edge_width : float
        Width of a path or line; its pixels are those within half of it
        (at least half a pixel) of the line.
    image_shape : (rows, columns)
    """
    vertices = np.asarray(vertices, dtype=float)
    stroke = shape_type in STROKE_SHAPES
    reach = max(edge_width / 2, 0.5) if stroke else 0.0
    window = _window(vertices, reach, image_shape)
    if window is None:
        return None
    top, left, bottom, right = window
    if shape_type in ("polygon", "rectangle"):
        from skimage.draw import polygon2mask  # here: scikit-image takes long to import

        pixels = polygon2mask((bottom - top, right - left), vertices - (top, left))
    else:
        rows, columns = np.mgrid[top:bottom, left:right]
        if shape_type == "ellipse":
            pixels = _ellipse_pixels(vertices, rows, columns)
        elif stroke:
            pixels = _stroke_pixels(vertices, reach, rows, columns, closed=shape_type == "polyline")
        else:
            raise ValueError(f"cannot turn a {shape_type!r} shape into an ROI")
    return MaskCrop.from_plane(pixels, origin=(top, left))


# -- back to layers ---------------------------------------------------------------------------
def labels_from_masks(masks, image_shape, *, labels=None) -> tuple[np.ndarray, int]:
    """A (rows, columns) label image from masks.

    Parameters
    ----------
    masks : sequence of RoiMask or MaskCrop (None entries are skipped)
    image_shape : (rows, columns)
    labels : sequence of int, optional
        The label of each mask; default the RoiMask's int label, else its position + 1.

    Returns
    -------
    labels : (rows, columns) int32 ndarray, int64 when a label needs it
    overlapping : int
        Pixels claimed by more than one mask; a label image keeps the last.
    """
    values = []
    for i, mask in enumerate(masks):
        if labels is not None:
            values.append(int(labels[i]))
        else:
            label = getattr(mask, "label", None)
            values.append(
                int(label) if isinstance(label, (int, np.integer)) and label > 0 else i + 1
            )
    wide = any(v > np.iinfo(np.int32).max for v in values)
    image = np.zeros(image_shape, dtype=np.int64 if wide else np.int32)
    claimed = np.zeros(image_shape, dtype=np.uint32)
    for mask, value in zip(masks, values, strict=True):
        crop = _as_crop(mask)
        if crop is None:
            continue
        image[crop.slices][crop.pixels] = value
        claimed[crop.slices] += crop.pixels
    return image, int(np.count_nonzero(claimed > 1))


def mask_outlines(masks) -> list[np.ndarray]:
    """Outline polygons ((n, 2) rows, columns) of masks, e.g. for a Shapes layer: each mask's
    :func:`mask_polygon` (None entries are skipped)."""
    outlines = []
    for mask in masks:
        crop = _as_crop(mask)
        if crop is not None and crop.pixels.any():
            outlines.append(mask_polygon(crop))
    return outlines


def mask_polygon(crop: MaskCrop) -> np.ndarray:
    """One polygon whose pixels (:func:`rasterise_shape`) are exactly the mask's.

    The outline runs between pixel centres, around each piece and each hole. A
    mask in several pieces, or with holes, gets one polygon all the same: its
    outlines are joined by bridges that run along half-pixel lines, out and
    back the same way, so they hold no pixel centre and add or take away no
    pixel (a pixel is inside when a ray from its centre crosses the outline an
    odd number of times, and a ray crosses a bridge twice or not at all).

    Parameters
    ----------
    crop : MaskCrop
        At least one pixel.

    Returns
    -------
    (n, 2) float ndarray
        Vertices as rows and columns of the image.
    """
    from skimage.measure import find_contours  # here: scikit-image takes long to import

    padded = np.pad(crop.pixels.astype(float), 1)
    contours = [contour[:-1] for contour in find_contours(padded, 0.5)]
    if not contours:
        raise ValueError("a mask without pixels has no outline")
    # every vertex lies halfway between two pixels; a bridge leaves each outline from a
    # vertex between two pixels of one row, along that half-pixel column
    anchors = [_bridge_anchor(contour) for contour in contours]
    order = sorted(range(len(contours)), key=lambda i: contours[i][anchors[i], 1])
    first = order[0]
    start = contours[first][anchors[first]]
    parts = [np.roll(contours[first], -anchors[first], axis=0)]
    above = -0.5  # the half-pixel row above the padded crop: no pixel lies on it
    for i in order[1:]:
        anchor = contours[i][anchors[i]]
        bridge = np.array([start, (above, start[1]), (above, anchor[1])])
        loop = np.roll(contours[i], -anchors[i], axis=0)
        parts += [bridge, loop, anchor[None], bridge[::-1]]
    return np.concatenate(parts) + np.array([crop.top - 1, crop.left - 1])


def _bridge_anchor(contour: np.ndarray) -> int:
    """The index of a contour's highest vertex on a half-pixel column."""
    columns = contour[:, 1]
    between = np.flatnonzero(np.abs(columns - np.round(columns)) > 0.25)
    return int(between[np.argmin(contour[between, 0])])


def _as_crop(mask) -> MaskCrop | None:
    if isinstance(mask, MaskCrop) or mask is None:
        return mask
    if mask.mask is None:
        return None
    return MaskCrop(int(mask.y), int(mask.x), np.asarray(mask.mask) != 0)
