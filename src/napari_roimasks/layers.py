"""napari layers to ROI masks and back (napari data only: no Qt).

- A **Labels** layer holds one ROI per label id (0 is background).
- A **Shapes** layer holds one ROI per shape (polygon, rectangle, ellipse,
  path or line with its edge width), rasterised on the image grid: a pixel
  belongs to a shape when its centre lies inside it. Shapes may overlap; each
  keeps its own pixels.

ROIs are 2D: a 2D ROI layer applies to every frame of a (frames, rows,
columns) movie. A Labels layer with a frame axis is read at one frame only
when the caller names it. Layers are assumed to share the image's pixel grid.
"""

from __future__ import annotations

from itertools import pairwise

import numpy as np
from skimage.draw import polygon2mask
from skimage.measure import find_contours

from . import roi_masks
from .core.border import MotionBorder
from .core.masks import MaskCrop
from .core.rings import roi_crops_from_labels

__all__ = [
    "LayerConversionError",
    "labels_from_masks",
    "labels_plane",
    "roi_crops_from_labels_layer",
    "roi_crops_from_shapes_layer",
    "roi_masks_from_layer",
    "shape_crop",
    "shape_outlines_from_masks",
]


class LayerConversionError(ValueError):
    """A layer cannot be read as ROIs; the message says why and what to do."""


# -- Labels -----------------------------------------------------------------------------------
def labels_plane(layer, *, frame=None) -> np.ndarray:
    """The (rows, columns) label image of a Labels layer.

    Parameters
    ----------
    layer : napari.layers.Labels
    frame : int or tuple of int, optional
        For a Labels layer with more than 2 dimensions, the index along its
        leading axes to read (e.g. the viewer's current frame). Required then.

    Raises
    ------
    LayerConversionError
        For a multiscale layer, or a layer with a frame axis and no frame.
    """
    if getattr(layer, "multiscale", False):
        raise LayerConversionError(
            f"the ROI layer {layer.name!r} is multiscale; ROIs need a single-resolution label image"
        )
    data = layer.data
    if data.ndim == 2:
        return np.asarray(data)
    if frame is None:
        raise LayerConversionError(
            f"the ROI layer {layer.name!r} has {data.ndim} dimensions {tuple(data.shape)}; ROIs are 2D. "
            "Tick '3D ROI layer: read the current frame' in the ROI masks dock, or use a 2D labels layer"
        )
    index = tuple(int(i) for i in np.atleast_1d(frame))
    if len(index) != data.ndim - 2 or any(
        not 0 <= i < n for i, n in zip(index, data.shape, strict=False)
    ):
        raise LayerConversionError(
            f"frame {index} is outside the ROI layer {layer.name!r} of shape {tuple(data.shape)}"
        )
    return np.asarray(data[index])


def roi_crops_from_labels_layer(layer, *, frame=None) -> dict[int, MaskCrop]:
    """Every label id of a Labels layer as a :class:`MaskCrop`, keyed by the id."""
    return roi_crops_from_labels(labels_plane(layer, frame=frame))


def _mask_groups(layer) -> dict[int, int]:
    """ROI key -> mask_group from the layer's ``features`` column ``mask_group``, if any."""
    features = getattr(layer, "features", None)
    if features is None or "mask_group" not in features.columns:
        return {}
    if type(layer).__name__ == "Shapes":
        keys = range(1, len(features) + 1)  # one row per shape, in layer order
    elif "index" in features.columns:
        keys = features["index"]  # napari's Labels convention: the label id of each row
    else:
        keys = range(len(features))
    return {int(k): int(g) for k, g in zip(keys, features["mask_group"], strict=True)}


# -- Shapes -----------------------------------------------------------------------------------
def _planar_vertices(layer, index: int) -> np.ndarray:
    vertices = np.asarray(layer.data[index], dtype=float)
    if vertices.shape[1] > 2:
        leading = vertices[:, :-2]
        if np.ptp(leading, axis=0).max() > 0:
            raise LayerConversionError(
                f"shape {index} of {layer.name!r} is not flat: its vertices lie on different "
                "frames or planes. Draw ROIs as 2D shapes (in the 2D view)"
            )
    return vertices[:, -2:]


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
    stroke = shape_type in ("path", "line", "polyline")
    reach = max(edge_width / 2, 0.5) if stroke else 0.0
    window = _window(vertices, reach, image_shape)
    if window is None:
        return None
    top, left, bottom, right = window
    if shape_type in ("polygon", "rectangle"):
        pixels = polygon2mask((bottom - top, right - left), vertices - (top, left))
    else:
        rows, columns = np.mgrid[top:bottom, left:right]
        if shape_type == "ellipse":
            pixels = _ellipse_pixels(vertices, rows, columns)
        elif stroke:
            pixels = _stroke_pixels(vertices, reach, rows, columns, closed=shape_type == "polyline")
        else:
            raise LayerConversionError(f"cannot turn a {shape_type!r} shape into an ROI")
    return MaskCrop.from_plane(pixels, origin=(top, left))


def shape_crop(layer, index: int, image_shape) -> MaskCrop | None:
    """Shape ``index`` of a Shapes layer as a :class:`MaskCrop`; None when it covers no pixel."""
    vertices = _planar_vertices(layer, index)
    return rasterise_shape(
        vertices, layer.shape_type[index], float(layer.edge_width[index]), image_shape
    )


def roi_crops_from_shapes_layer(layer, image_shape) -> dict[int, MaskCrop | None]:
    """Every shape of a Shapes layer as a :class:`MaskCrop`, keyed 1, 2, ... in layer order.

    A shape that covers no pixel of the image maps to None.
    """
    return {index + 1: shape_crop(layer, index, image_shape) for index in range(len(layer.data))}


# -- to AllenSDK masks --------------------------------------------------------------------------
def roi_masks_from_layer(layer, border, *, image_shape=None, frame=None) -> list:
    """The ROIs of a Labels or Shapes layer as AllenSDK-compatible RoiMasks.

    Parameters
    ----------
    layer : napari.layers.Labels or napari.layers.Shapes
    border : MotionBorder or sequence of 4 float
    image_shape : (rows, columns), optional
        The image grid; required for a Shapes layer.
    frame : int, optional
        See :func:`labels_plane`.

    Returns
    -------
    list of roi_masks.RoiMask
        ``label`` is the label id (Labels) or the shape's number from 1
        (Shapes); ``mask_group`` comes from the layer's ``features`` column
        ``mask_group`` when there is one, else -1.
    """
    border = MotionBorder.from_allen(border).as_allen()
    kind = type(layer).__name__
    if kind == "Labels":
        crops = roi_crops_from_labels_layer(layer, frame=frame)
        image_shape = labels_plane(layer, frame=frame).shape
    elif kind == "Shapes":
        if image_shape is None:
            raise LayerConversionError("ROIs from shapes need the image's size (rows, columns)")
        crops = roi_crops_from_shapes_layer(layer, image_shape)
    else:
        raise LayerConversionError(
            f"{layer.name!r} is a {kind} layer; ROIs come from a Labels layer (painted) "
            "or a Shapes layer (drawn)"
        )
    groups = _mask_groups(layer)
    rois = []
    for key, crop in crops.items():
        roi = roi_masks.RoiMask(image_shape[1], image_shape[0], key, groups.get(key, -1))
        if crop is None:
            roi.flags.add("zero_pixels")
        else:
            roi.init_by_mask(border, crop.plane(image_shape))
        rois.append(roi)
    return rois


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
    labels : (rows, columns) int32 ndarray
    overlapping : int
        Pixels claimed by more than one mask; a label image keeps the last.
    """
    image = np.zeros(image_shape, dtype=np.int32)
    claimed = np.zeros(image_shape, dtype=np.uint16)
    for i, mask in enumerate(masks):
        crop = _as_crop(mask)
        if crop is None:
            continue
        if labels is not None:
            value = labels[i]
        else:
            label = getattr(mask, "label", None)
            value = label if isinstance(label, (int, np.integer)) and label > 0 else i + 1
        image[crop.slices][crop.pixels] = value
        claimed[crop.slices] += crop.pixels
    return image, int(np.count_nonzero(claimed > 1))


def shape_outlines_from_masks(masks) -> list[np.ndarray]:
    """Outline polygons ((n, 2) rows, columns) of masks, for a Shapes layer.

    The outline runs between pixel centres, so rasterising it gives the mask
    back exactly for a mask in one piece without holes. A mask in several
    pieces gives its largest piece's outline.
    """
    outlines = []
    for mask in masks:
        crop = _as_crop(mask)
        if crop is None:
            continue
        padded = np.pad(crop.pixels.astype(float), 1)
        contours = find_contours(padded, 0.5)
        outline = max(contours, key=len)
        outlines.append(outline[:-1] + np.array([crop.top - 1, crop.left - 1]))
    return outlines


def _as_crop(mask) -> MaskCrop | None:
    if isinstance(mask, MaskCrop) or mask is None:
        return mask
    if mask.mask is None:
        return None
    return MaskCrop(int(mask.y), int(mask.x), np.asarray(mask.mask) != 0)
