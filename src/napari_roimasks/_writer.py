"""napari writers: a Labels or Shapes layer of ROIs to the ROI file formats (File > Save Selected Layers)."""

from __future__ import annotations

import numpy as np

from .core.border import MotionBorder
from .core.rings import roi_crops_from_labels
from .io.roi_files import RoiEntry, RoiSet, write_rois
from .layers import roi_crops_from_shapes_layer


def write_labels(path: str, data, meta: dict) -> list[str]:
    """Write a Labels layer's ROIs (label id = ROI id; features' mask_group kept)."""
    labels = np.asarray(data)
    if labels.ndim != 2:
        raise ValueError(f"ROIs are 2D: the Labels layer has shape {labels.shape}")
    groups = _groups(meta.get("features"), by_index=True)
    crops = roi_crops_from_labels(labels)
    rois = [RoiEntry(int(k), c, groups.get(int(k), -1)) for k, c in crops.items()]
    return [str(write_rois(path, RoiSet(rois, _border(meta), labels.shape), overwrite=True))]


def write_shapes(path: str, data, meta: dict) -> list[str]:
    """Write a Shapes layer's ROIs (shape i is ROI i + 1), rasterised on the image grid."""
    from napari.layers import Shapes

    layer = Shapes(
        data, shape_type=meta.get("shape_type", "polygon"), edge_width=meta.get("edge_width", 1)
    )
    shape = tuple(meta.get("metadata", {}).get("image_shape") or _extent(layer))
    crops = roi_crops_from_shapes_layer(layer, shape)
    groups = _groups(meta.get("features"), by_index=False)
    rois = [RoiEntry(k, c, groups.get(k, -1)) for k, c in crops.items()]
    return [str(write_rois(path, RoiSet(rois, _border(meta), shape), overwrite=True))]


def _border(meta) -> MotionBorder | None:
    border = (meta.get("metadata") or {}).get("motion_border")
    return MotionBorder.from_allen(border) if border is not None else None


def _groups(features, *, by_index: bool) -> dict:
    if features is None or "mask_group" not in getattr(features, "columns", features or {}):
        return {}
    column = list(features["mask_group"])
    keys = (
        list(features["index"]) if by_index and "index" in features else range(1, len(column) + 1)
    )
    return {int(k): int(g) for k, g in zip(keys, column, strict=True)}


def _extent(layer) -> tuple[int, int]:
    corners = (
        np.concatenate([np.asarray(d)[:, -2:] for d in layer.data])
        if len(layer.data)
        else np.ones((1, 2))
    )
    return int(np.ceil(corners[:, 0].max())) + 1, int(np.ceil(corners[:, 1].max())) + 1
