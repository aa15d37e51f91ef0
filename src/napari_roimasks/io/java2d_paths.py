"""Java 2D's paths as ImageJ uses them: the path of a rounded rectangle, and curves flattened
into polygons (``java.awt.geom.RoundRectIterator`` and ``FlatteningPathIterator``), with
Java's float32 arithmetic, so that :mod:`.imagej_geometry` fills exactly ImageJ's pixels.

A path is a list of ``(segment type, coordinates)``: the types are
``java.awt.geom.PathIterator``'s (as ImageJ stores a composite ROI's path),
the coordinates 0 to 6 floats (x, y pairs). numpy only.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = [
    "CLOSE",
    "CUBICTO",
    "LINETO",
    "MOVETO",
    "QUADTO",
    "SEGMENT_COORDINATES",
    "flattened_outlines",
    "rounded_rectangle_path",
]

# java.awt.geom.PathIterator segment types, as ImageJ stores a composite ROI's path
MOVETO, LINETO, QUADTO, CUBICTO, CLOSE = range(5)
#: How many coordinates each segment type has.
SEGMENT_COORDINATES = {MOVETO: 2, LINETO: 2, QUADTO: 4, CUBICTO: 6, CLOSE: 0}
#: ShapeRoi.FILL_FLATNESS: how far a flattened curve may stray from the curve
_FILL_FLATNESS = 0.01
#: FlatteningPathIterator's default limit on halving a curve
_SUBDIVISION_LIMIT = 10
_F32 = np.float32


# java.awt.geom.RoundRectIterator's control-point fraction for a quarter circle, as it computes it
_A = 1.0 - math.cos(math.pi / 4.0)
_B = math.tan(math.pi / 4.0)
_C = math.sqrt(1.0 + _B * _B) - 1 + _A
_ACV = (1.0 - 4.0 / 3.0 * _A * _B / _C) / 2.0
# java.awt.geom.RoundRectIterator: per point (x + v0*w + v1*arc_w, y + v2*h + v3*arc_h)
_ROUND_RECT = (
    (MOVETO, ((0.0, 0.0, 0.0, 0.5),)),
    (LINETO, ((0.0, 0.0, 1.0, -0.5),)),
    (CUBICTO, ((0.0, 0.0, 1.0, -_ACV), (0.0, _ACV, 1.0, 0.0), (0.0, 0.5, 1.0, 0.0))),
    (LINETO, ((1.0, -0.5, 1.0, 0.0),)),
    (CUBICTO, ((1.0, -_ACV, 1.0, 0.0), (1.0, 0.0, 1.0, -_ACV), (1.0, 0.0, 1.0, -0.5))),
    (LINETO, ((1.0, 0.0, 0.0, 0.5),)),
    (CUBICTO, ((1.0, 0.0, 0.0, _ACV), (1.0, -_ACV, 0.0, 0.0), (1.0, -0.5, 0.0, 0.0))),
    (LINETO, ((0.0, 0.5, 0.0, 0.0),)),
    (CUBICTO, ((0.0, _ACV, 0.0, 0.0), (0.0, 0.0, 0.0, _ACV), (0.0, 0.0, 0.0, 0.5))),
    (CLOSE, ()),
)


def rounded_rectangle_path(x, y, w, h, arc) -> list[tuple[int, tuple[float, ...]]]:
    """``RoundRectangle2D.Float(x, y, w, h, arc, arc)``'s path, moved to its origin (0, 0).

    Returns
    -------
    list of (segment type, coordinates)
        As Java's ``GeneralPath`` holds it (float32 values).
    """
    arc_w, arc_h = min(w, abs(arc)), min(h, abs(arc))
    path = []
    for kind, points in _ROUND_RECT:
        coordinates = []
        for v0, v1, v2, v3 in points:
            # computed in double, moved to the ROI's origin, then kept as float (GeneralPath)
            coordinates.append(float(_F32(((x + v0 * w) + v1 * arc_w) + -x)))
            coordinates.append(float(_F32(((y + v2 * h) + v3 * arc_h) + -y)))
        path.append((kind, tuple(coordinates)))
    return path


def flattened_outlines(path) -> tuple[np.ndarray, np.ndarray]:
    """``ShapeRoi.getFloatPolygon(FILL_FLATNESS, separateSubpaths=true)``: the outlines'
    vertices, curves flattened as ``FlatteningPathIterator`` does.

    Parameters
    ----------
    path : list of (segment type, coordinates)

    Returns
    -------
    xs, ys : (n,) float32 ndarray
        NaN between outlines.
    """
    xs: list[float] = []
    ys: list[float] = []
    subpath_start = 0

    def end_outline():
        if xs and not math.isnan(xs[-1]):
            xs.append(math.nan)
            ys.append(math.nan)

    for kind, x, y in _flattened_segments(path):
        if kind == MOVETO:
            end_outline()
            subpath_start = len(xs)
        if kind in (MOVETO, LINETO):
            xs.append(x)
            ys.append(y)
        elif kind == CLOSE:
            start = subpath_start
            if start < len(xs) and xs[-1] == xs[start] and ys[-1] == ys[start]:
                del xs[-1], ys[-1]  # the closing point repeats the first
            end_outline()
    if xs and math.isnan(xs[-1]):
        del xs[-1], ys[-1]
    return np.array(xs, dtype=_F32), np.array(ys, dtype=_F32)


def _flattened_segments(path):
    """java.awt.geom.FlatteningPathIterator: (kind, x, y) with curves cut into lines."""
    square_flatness = _FILL_FLATNESS * _FILL_FLATNESS
    current = move = (0.0, 0.0)
    for kind, coordinates in path:
        if kind in (MOVETO, LINETO):
            current = coordinates
            if kind == MOVETO:
                move = current
            yield kind, float(_F32(current[0])), float(_F32(current[1]))
        elif kind == CLOSE:
            current = move
            yield CLOSE, math.nan, math.nan
        else:
            curve = (*current, *coordinates)
            current = coordinates[-2:]
            for x, y in _flattened_curve(curve, square_flatness):
                yield LINETO, float(_F32(x)), float(_F32(y))


def _flattened_curve(curve: tuple[float, ...], square_flatness: float):
    # halve the curve, left half first, until each piece is flat or 10 halvings deep
    flatness, halves = (
        (_cubic_flatness_sq, _cubic_halves)
        if len(curve) == 8
        else (_quad_flatness_sq, _quad_halves)
    )
    stack = [(curve, 0)]
    while stack:
        piece, level = stack.pop()
        while level < _SUBDIVISION_LIMIT and flatness(piece) >= square_flatness:
            left, right = halves(piece)
            level += 1
            stack.append((right, level))
            piece = left
        yield piece[-2], piece[-1]


def _segment_distance_sq(x1, y1, x2, y2, px, py) -> float:
    """java.awt.geom.Line2D.ptSegDistSq, operation for operation."""
    x2 -= x1
    y2 -= y1
    px -= x1
    py -= y1
    dot = px * x2 + py * y2
    if dot <= 0.0:
        projection = 0.0
    else:
        px = x2 - px
        py = y2 - py
        dot = px * x2 + py * y2
        projection = 0.0 if dot <= 0.0 else dot * dot / (x2 * x2 + y2 * y2)
    return max(px * px + py * py - projection, 0.0)


def _cubic_flatness_sq(c) -> float:
    return max(
        _segment_distance_sq(c[0], c[1], c[6], c[7], c[2], c[3]),
        _segment_distance_sq(c[0], c[1], c[6], c[7], c[4], c[5]),
    )


def _quad_flatness_sq(c) -> float:
    return _segment_distance_sq(c[0], c[1], c[4], c[5], c[2], c[3])


def _cubic_halves(c):
    x1, y1, cx1, cy1, cx2, cy2, x2, y2 = c
    mx1, my1 = (x1 + cx1) / 2.0, (y1 + cy1) / 2.0
    mx2, my2 = (x2 + cx2) / 2.0, (y2 + cy2) / 2.0
    centre_x, centre_y = (cx1 + cx2) / 2.0, (cy1 + cy2) / 2.0
    cx1, cy1 = (mx1 + centre_x) / 2.0, (my1 + centre_y) / 2.0
    cx2, cy2 = (mx2 + centre_x) / 2.0, (my2 + centre_y) / 2.0
    centre_x, centre_y = (cx1 + cx2) / 2.0, (cy1 + cy2) / 2.0
    return (
        (x1, y1, mx1, my1, cx1, cy1, centre_x, centre_y),
        (centre_x, centre_y, cx2, cy2, mx2, my2, x2, y2),
    )


def _quad_halves(c):
    x1, y1, cx, cy, x2, y2 = c
    mx1, my1 = (x1 + cx) / 2.0, (y1 + cy) / 2.0
    mx2, my2 = (x2 + cx) / 2.0, (y2 + cy) / 2.0
    cx, cy = (mx1 + mx2) / 2.0, (my1 + my2) / 2.0
    return (x1, y1, mx1, my1, cx, cy), (cx, cy, mx2, my2, x2, y2)
