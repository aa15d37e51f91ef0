"""Which pixels an ImageJ ROI covers, computed the way ImageJ 1.53t computes them.

ImageJ puts the top-left corner of pixel (x, y) at (x, y), so its centre is at
(x + 0.5, y + 0.5); a pixel belongs to an area ROI when its centre is inside.
Centres exactly on an outline follow ImageJ's filler (``ij.process.PolygonFiller``):
on a left edge they are out, on a right edge in; on an upper edge out, on a
lower edge in. Several outlines (a composite ROI, a band) are filled even-odd.
Every step here repeats ImageJ's and Java 2D's arithmetic, float32 roundings
included, so that the pixels agree with ImageJ's ``Roi.getContainedPoints``
also for centres that lie on an edge or a vertex:

- polygons, freehand and traced ROIs: ``PolygonRoi.getMask``;
- ovals: ``OvalRoi.getMask`` (a pixel-centre test of the inscribed ellipse);
- rounded rectangles and composites: ``ShapeRoi.getMask``, which flattens the
  shape's curves with ``java.awt.geom.FlatteningPathIterator`` (flatness 0.01);
- ellipses and rotated rectangles: the polygons ``EllipseRoi`` and
  ``RotatedRectRoi`` make from their parameters.

Every function returns a :class:`~napari_roimasks.core.masks.MaskCrop` whose
``top`` is ImageJ's y and ``left`` its x (rows and columns of the image), or
None for an ROI without pixels. numpy only: no Qt, napari or Java.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from ..core.masks import MaskCrop
from .java2d_paths import (
    CLOSE,
    MOVETO,
    SEGMENT_COORDINATES,
    flattened_outlines,
    rounded_rectangle_path,
)

__all__ = [
    "composite_pixels",
    "ellipse_pixels",
    "integer_polygon_pixels",
    "oval_pixels",
    "pixel_outlines",
    "rectangle_pixels",
    "rotated_rectangle_pixels",
    "subpixel_polygon_pixels",
]

_F32 = np.float32
_FLOAT_MIN = float(np.finfo(np.float32).smallest_subnormal)  # Java's Float.MIN_VALUE


# -- ij.process.PolygonFiller ---------------------------------------------------------------
def _java_round(values: np.ndarray) -> np.ndarray:
    # Math.round: floor(v + 0.5) without the rounding of v + 0.5
    floor = np.floor(values)
    return (floor + (values - floor >= 0.5)).astype(np.int64)


def _integer_edges(xs: np.ndarray, ys: np.ndarray):
    x1, y1 = xs, ys
    x2, y2 = np.roll(xs, -1), np.roll(ys, -1)
    keep = y1 != y2  # horizontal edges cross no row of pixel centres
    x1, y1, x2, y2 = x1[keep], y1[keep], x2[keep], y2[keep]
    flip = y1 > y2
    x1, x2 = np.where(flip, x2, x1), np.where(flip, x1, x2)
    y1, y2 = np.where(flip, y2, y1), np.where(flip, y1, y2)
    slope = (x2 - x1).astype(float) / (y2 - y1)
    # x where the edge crosses row y1's centres, nudged left so centres on it count as right of it
    start_x = (x1 + 0.5 * slope) + 1e-8
    return start_x, slope, y1, y2


def _float_edges(xs: np.ndarray, ys: np.ndarray, x_offset: float, y_offset: float):
    n = len(xs)
    index = np.arange(n)
    gap = np.isnan(xs)  # NaN separates outlines
    subpath_start = np.maximum.accumulate(np.where(gap, index, -1)) + 1
    following = index + 1
    if n:
        following[-1] = subpath_start[-1]
    gap_follows = np.append(gap[1:], False)
    following = np.where(gap_follows, subpath_start, following)
    i, j = index[~gap], following[~gap]
    x1 = xs[i].astype(float) + x_offset
    y1 = ys[i].astype(float) + y_offset
    x2 = xs[j].astype(float) + x_offset
    y2 = ys[j].astype(float) + y_offset
    row1, row2 = _java_round(y1), _java_round(y2)
    keep = (row1 != row2) & ~((row1 <= 0) & (row2 <= 0))
    x1, y1, x2, y2, row1, row2 = (a[keep] for a in (x1, y1, x2, y2, row1, row2))
    flip = row1 > row2
    x1, x2 = np.where(flip, x2, x1), np.where(flip, x1, x2)
    y1, y2 = np.where(flip, y2, y1), np.where(flip, y1, y2)
    row1, row2 = np.where(flip, row2, row1), np.where(flip, row1, row2)
    slope = (x2 - x1) / (y2 - y1)
    start_x = (x1 + ((row1 - y1) + 0.5) * slope) + 1e-8
    return start_x, slope, row1, row2


def _scan_fill(start_x, slope, first_row, stop_row, width: int, height: int) -> np.ndarray:
    """PolygonFiller.fillByteProcessorMask: (height, width) bool, even-odd between crossings."""
    mask = np.zeros((max(height, 0), max(width, 0)), dtype=bool)
    if len(start_x) == 0 or mask.size == 0:
        return mask
    y_start = max(int(first_row.min()), 0)
    y_stop = min(height, int(stop_row.max()) + 1)
    # edges that begin above the first row are moved there in one step, as ImageJ does
    x = np.where(first_row < y_start, start_x + slope * (y_start - first_row), start_x)
    first = np.maximum(first_row, y_start)
    counts = np.minimum(stop_row, y_stop) - first
    order = np.argsort(-counts, kind="stable")
    x, slope, first, counts = x[order], slope[order], first[order], counts[order]
    active_at = np.searchsorted(-counts, -np.arange(max(int(counts[0]), 0)), side="left")
    rows, crossings = [], []
    for step, n_active in enumerate(active_at):
        # ImageJ moves each edge down row by row by adding its slope: so do we, bit for bit
        rows.append(first[:n_active] + step)
        crossings.append(x[:n_active].copy())
        x[:n_active] = x[:n_active] + slope[:n_active]
    if not rows:
        return mask
    rows, crossings = np.concatenate(rows), np.concatenate(crossings)
    order = np.lexsort((crossings, rows))
    rows, crossings = rows[order], crossings[order]
    row_begins = np.flatnonzero(np.r_[True, rows[1:] != rows[:-1]])
    rank = np.arange(len(rows)) - np.repeat(row_begins, np.diff(np.r_[row_begins, len(rows)]))
    left = np.flatnonzero((rank % 2 == 0) & (np.arange(len(rows)) + 1 < len(rows)))
    left = left[rows[left + 1] == rows[left]]
    span_rows = rows[left]
    begin = np.clip(np.floor(crossings[left] + 0.5), 0, width).astype(np.int64)
    end = np.clip(np.floor(crossings[left + 1] + 0.5), 0, width).astype(np.int64)
    steps = np.zeros((height, width + 1), dtype=np.int32)
    np.add.at(steps, (span_rows, begin), 1)
    np.add.at(steps, (span_rows, end), -1)
    return np.cumsum(steps, axis=1)[:, :width] > 0


def _crop(pixels: np.ndarray, x: int, y: int) -> MaskCrop | None:
    return MaskCrop.from_plane(pixels, origin=(int(y), int(x))) if pixels.size else None


# -- polygons -------------------------------------------------------------------------------
def integer_polygon_pixels(xs, ys) -> MaskCrop | None:
    """Pixels of a polygon, freehand or traced ROI with integer vertices (``PolygonRoi``).

    Parameters
    ----------
    xs, ys : (n,) array_like of int
        ImageJ x and y of each vertex (pixel-corner coordinates).
    """
    xs, ys = np.asarray(xs, dtype=np.int64), np.asarray(ys, dtype=np.int64)
    if len(xs) == 0:
        return None
    left, top = int(xs.min()), int(ys.min())
    width, height = int(xs.max()) - left, int(ys.max()) - top
    edges = _integer_edges(xs - left, ys - top)
    return _crop(_scan_fill(*edges, width, height), left, top)


def _float_bounds(xs: np.ndarray, ys: np.ndarray):
    # FloatPolygon.calculateBounds: float minima and maxima (maxima start at Float.MIN_VALUE)
    return (
        _F32(min(xs.min(), np.finfo(np.float32).max)),
        _F32(min(ys.min(), np.finfo(np.float32).max)),
        _F32(max(xs.max(), _FLOAT_MIN)),
        _F32(max(ys.max(), _FLOAT_MIN)),
    )


def subpixel_polygon_pixels(xs, ys) -> MaskCrop | None:
    """Pixels of a polygon, freehand or traced ROI with float (subpixel) vertices.

    Parameters
    ----------
    xs, ys : (n,) array_like of float
        ImageJ x and y of each vertex, as stored (float32).
    """
    xs, ys = np.asarray(xs, dtype=_F32), np.asarray(ys, dtype=_F32)
    if len(xs) == 0:
        return None
    min_x, min_y, max_x, max_y = _float_bounds(xs, ys)
    # PolygonRoi.finishPolygon: vertices relative to the float bounds, in float arithmetic
    rel_x, rel_y = xs - min_x, ys - min_y
    left, top = math.floor(min_x), math.floor(min_y)
    width = math.ceil(float(min_x) + float(max_x - min_x)) - left
    height = math.ceil(float(min_y) + float(max_y - min_y)) - top
    edges = _float_edges(rel_x, rel_y, float(min_x) - left, float(min_y) - top)
    return _crop(_scan_fill(*edges, width, height), left, top)


def _relative_polygon_pixels(xs: np.ndarray, ys: np.ndarray) -> MaskCrop | None:
    # EllipseRoi/RotatedRectRoi.makePolygonRelative: integer bounds from FloatPolygon.getBounds
    min_x, min_y, max_x, max_y = _float_bounds(xs, ys)
    left, top = math.floor(min_x), math.floor(min_y)
    width = int(float(max_x - _F32(left)) + 0.5)
    height = int(float(max_y - _F32(top)) + 0.5)
    edges = _float_edges(xs - _F32(left), ys - _F32(top), 0.0, 0.0)
    return _crop(_scan_fill(*edges, width, height), left, top)


def ellipse_pixels(x1: float, y1: float, x2: float, y2: float, aspect_ratio: float):
    """Pixels of an ellipse ROI (``makeEllipse``): ImageJ's 72-vertex polygon of it.

    Parameters
    ----------
    x1, y1, x2, y2 : float
        The ends of the major axis, in ImageJ coordinates.
    aspect_ratio : float
        Minor over major axis (clipped to [0, 1], as ImageJ does).

    Returns
    -------
    MaskCrop or None
    """
    aspect_ratio = min(max(aspect_ratio, 0.0), 1.0)
    centre_x, centre_y = (x1 + x2) / 2.0, (y1 + y2) / 2.0
    dx, dy = x2 - x1, y2 - y1
    major = math.sqrt(dx * dx + dy * dy)
    minor = major * aspect_ratio
    alpha = math.atan2(dy, dx) * 180.0 / math.pi
    xs, ys = np.empty(72, _F32), np.empty(72, _F32)
    for i in range(72):
        beta1 = i * 360.0 / 72 / 180.0 * math.pi
        dx = math.cos(beta1) * major / 2.0
        dy = math.sin(beta1) * minor / 2.0
        beta3 = math.atan2(dy, dx) + alpha / 180.0 * math.pi
        radius = math.sqrt(dx * dx + dy * dy)
        xs[i] = centre_x + math.cos(beta3) * radius
        ys[i] = centre_y + math.sin(beta3) * radius
    return _relative_polygon_pixels(xs, ys)


def _java_divide(a: float, b: float) -> float:
    if b != 0.0:
        return a / b
    if a == 0.0 or math.isnan(a):
        return math.nan
    return math.copysign(math.inf, a) * math.copysign(1.0, b)


def rotated_rectangle_pixels(x1: float, y1: float, x2: float, y2: float, width: float):
    """Pixels of a rotated rectangle ROI (``makeRotatedRectangle``).

    Parameters
    ----------
    x1, y1, x2, y2 : float
        The ends of the rectangle's centre line, in ImageJ coordinates.
    width : float
        Its extent across that line.

    Returns
    -------
    MaskCrop or None
    """
    angle = math.atan(_java_divide(x2 - x1, y2 - y1))
    across_x = (width / 2.0) * math.sin(math.pi / 2.0 + angle)
    across_y = (width / 2.0) * math.cos(math.pi / 2.0 + angle)
    xs = np.array([x1 + across_x, x2 + across_x, x2 - across_x, x1 - across_x], dtype=_F32)
    ys = np.array([y1 + across_y, y2 + across_y, y2 - across_y, y1 - across_y], dtype=_F32)
    if np.isnan(xs).any() or np.isnan(ys).any():
        return None
    return _relative_polygon_pixels(np.append(xs, xs[0]), np.append(ys, ys[0]))


# -- ovals and rectangles -------------------------------------------------------------------
def oval_pixels(x: int, y: int, width: int, height: int) -> MaskCrop | None:
    """Pixels of an oval ROI (``makeOval``), by ``OvalRoi.getMask``'s pixel-centre test.

    Parameters
    ----------
    x, y, width, height : int
        The oval's bounding box, in ImageJ coordinates (ImageJ makes a side at least 1).
    """
    width, height = max(int(width), 1), max(int(height), 1)
    a, b = width / 2.0, height / 2.0
    a2, b2 = a * a, b * b
    xx = np.arange(width) - (a - 0.5)
    yy = np.arange(height) - (b - 0.5)
    inside = (xx[None, :] * xx[None, :] / a2 + yy[:, None] * yy[:, None] / b2) <= 1.0
    return _crop(inside, x, y)


def rectangle_pixels(x: int, y: int, width: int, height: int, arc: int = 0) -> MaskCrop | None:
    """Pixels of a rectangle ROI, with rounded corners when ``arc`` > 0 (``makeRectangle``).

    Parameters
    ----------
    x, y, width, height : int
        The rectangle, in ImageJ coordinates (ImageJ makes a side at least 1).
    arc : int
        The corners' diameter (ImageJ's ``cornerDiameter``); 0 for square corners.
    """
    width, height = max(int(width), 1), max(int(height), 1)
    if arc <= 0:
        return MaskCrop(int(y), int(x), np.ones((height, width), dtype=bool))
    # Roi.getMask: a ShapeRoi of java.awt.geom.RoundRectangle2D.Float(x, y, w, h, arc, arc)
    path = rounded_rectangle_path(float(x), float(y), float(width), float(height), float(arc))
    return _shape_pixels(path, x, y, width, height)


# -- composite ROIs (ShapeRoi) --------------------------------------------------------------
def _path_segments(shape: Sequence[float]) -> list[tuple[int, tuple[float, ...]]]:
    """ShapeRoi.makeShapeFromArray into a java.awt.geom.GeneralPath (float coordinates)."""
    values = np.asarray(shape, dtype=_F32)
    path: list[tuple[int, tuple[float, ...]]] = []
    index = 0
    while index < len(values):
        kind = int(values[index])
        if kind not in SEGMENT_COORDINATES:
            raise ValueError(f"a composite ROI's path has an unknown segment type {kind}")
        n = SEGMENT_COORDINATES[kind]
        if index + 1 + n > len(values):
            break  # ImageJ stops at a segment cut short
        coordinates = tuple(float(v) for v in values[index + 1 : index + 1 + n])
        index += 1 + n
        if kind != MOVETO and not path:
            raise ValueError("a composite ROI's path does not begin with a move")
        if kind == MOVETO and path and path[-1][0] == MOVETO:
            path[-1] = (kind, coordinates)  # Path2D keeps only the last of consecutive moves
        elif kind == CLOSE and path[-1][0] == CLOSE:
            continue  # Path2D ignores a second close
        else:
            path.append((kind, coordinates))
    return path


def composite_pixels(shape: Sequence[float]) -> MaskCrop | None:
    """Pixels of a composite ROI (a band, shapes combined with OR or XOR): ``ShapeRoi``.

    Parameters
    ----------
    shape : (n,) array_like of float
        The path as ImageJ stores it: each segment's type (0 move, 1 line,
        2 quadratic, 3 cubic, 4 close) followed by its 0 to 6 coordinates, in
        ImageJ coordinates.

    Raises
    ------
    ValueError
        For a path that is not one.
    """
    path = _path_segments(shape)
    values = [v for _, coordinates in path for v in coordinates]
    if not values:
        return None
    xs, ys = np.array(values[0::2], dtype=_F32), np.array(values[1::2], dtype=_F32)
    # Path2D.getBounds (Java 17 counts control points), then ShapeRoi moves the path to it
    min_x, min_y = xs.min(), ys.min()
    left, top = math.floor(min_x), math.floor(min_y)
    width = math.ceil(float(min_x) + float(xs.max() - min_x)) - left
    height = math.ceil(float(min_y) + float(ys.max() - min_y)) - top
    moved = []
    for kind, coordinates in path:
        shifted = tuple(
            float(_F32(v - (left if k % 2 == 0 else top))) for k, v in enumerate(coordinates)
        )
        moved.append((kind, shifted))
    return _shape_pixels(moved, left, top, width, height)


def _shape_pixels(path, left: int, top: int, width: int, height: int) -> MaskCrop | None:
    xs, ys = flattened_outlines(path)
    edges = _float_edges(xs, ys, 0.0, 0.0)
    return _crop(_scan_fill(*edges, width, height), left, top)


# -- back to ImageJ ---------------------------------------------------------------------------
# one step along a pixel edge (x, y; y down), per direction: east, south, west, north
_STEPS = ((1, 0), (0, 1), (-1, 0), (0, -1))


def pixel_outlines(pixels: np.ndarray) -> list[np.ndarray]:
    """The outlines of a mask along its pixels' edges, one per piece and per hole.

    Filled even-odd with ImageJ's rule, together they cover exactly the mask's
    pixels: no pixel centre lies on an edge. Pieces that touch only at a
    corner get outlines of their own.

    Parameters
    ----------
    pixels : (rows, columns) bool ndarray

    Returns
    -------
    list of (n, 2) int ndarray
        Each outline's corners, as x and y of pixel corners relative to
        ``pixels[0, 0]``'s top-left corner; closed (the last corner joins the first).
    """
    padded = np.pad(np.asarray(pixels, dtype=bool), 1)
    inside = padded[1:-1, 1:-1]
    # each edge between a pixel inside and one outside runs clockwise around the inside:
    # (neighbour across it, its start corner relative to the pixel's top-left one)
    sides = (
        (padded[:-2, 1:-1], (0, 0)),  # top edges run east
        (padded[1:-1, 2:], (1, 0)),  # right edges run south
        (padded[2:, 1:-1], (1, 1)),  # bottom edges run west
        (padded[1:-1, :-2], (0, 1)),  # left edges run north
    )
    edges = {}
    for direction, (neighbour, (dx, dy)) in enumerate(sides):
        rows, columns = np.nonzero(inside & ~neighbour)
        for x, y in zip((columns + dx).tolist(), (rows + dy).tolist(), strict=True):
            edges[(x, y, direction)] = True
    outlines = []
    while edges:
        x, y, direction = next(iter(edges))
        corners = []
        while (x, y, direction) in edges:
            del edges[(x, y, direction)]
            corners.append((x, y, direction))
            x, y = x + _STEPS[direction][0], y + _STEPS[direction][1]
            # where two pieces meet at a corner, turn right: each piece keeps its own outline
            for turn in (1, 0, 3):
                if (x, y, (direction + turn) % 4) in edges:
                    direction = (direction + turn) % 4
                    break
        turns = [(cx, cy) for i, (cx, cy, d) in enumerate(corners) if d != corners[i - 1][2]]
        outlines.append(np.array(turns, dtype=np.int64))
    return outlines
