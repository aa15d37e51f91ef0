"""napari writers: a Labels or Shapes layer of ROIs to the ROI file formats (File > Save Selected Layers).

The formats and their suffixes come from the registry (:mod:`napari_roimasks.io.formats`).
With the ROIs go the layer's motion border and ring options (its metadata,
see :mod:`napari_roimasks.io.layer_metadata`) and each ROI's ``mask_group``
and curation (``decision``, ``reason``, ``decided_at``, ``probability``: its
features), in the formats that hold them.
"""

from __future__ import annotations

import numpy as np

from .core.rings import roi_crops_from_labels
from .io.decision_text import with_decision
from .io.image_size import image_size_for_rois
from .io.layer_metadata import (
    LAYER_METADATA_IMAGE_SHAPE,
    border_from_metadata,
    ring_options_from_metadata,
)
from .io.roi_files import RoiEntry, RoiSet, write_rois
from .layers import open_image_sizes, roi_crops_from_shapes_layer


def write_labels(path: str, data, meta: dict) -> list[str]:
    """Write a Labels layer's ROIs (label id = ROI id; features' mask_group kept).

    Parameters
    ----------
    path : str
        The file to write; its suffix picks the format.
    data : (rows, columns) array_like of int
        The label image.
    meta : dict
        napari's layer attributes: ``metadata`` (border, ring options) and
        ``features`` (a DataFrame or dict with ``mask_group`` and, optionally,
        ``index``: the label of each row).

    Returns
    -------
    list of str
        The file written.
    """
    labels = np.asarray(data)
    if labels.ndim != 2:
        raise ValueError(f"ROIs are 2D: the Labels layer has shape {labels.shape}")
    groups = _groups(meta.get("features"), by_index=True)
    crops = roi_crops_from_labels(labels)
    rois = [RoiEntry(int(k), c, groups.get(int(k), -1)) for k, c in crops.items()]
    rois = _with_decisions(rois, meta.get("features"), by_index=True)
    return [str(write_rois(path, _roi_set(rois, meta, labels.shape), overwrite=True))]


def write_shapes(path: str, data, meta: dict) -> list[str]:
    """Write a Shapes layer's ROIs (shape i is ROI i + 1), rasterised on the image grid.

    Parameters
    ----------
    path : str
        The file to write; its suffix picks the format.
    data : list of (n, 2) ndarray
        Each shape's vertices (row, column).
    meta : dict
        napari's layer attributes: ``shape_type``, ``edge_width``, ``metadata``
        (border, ring options and ``image_shape``) and ``features``
        (``mask_group``, one row per shape). Without ``image_shape``, the
        shapes are drawn on the first movie or image open in the viewer that
        holds them, else on their extent (:mod:`napari_roimasks.io.image_size`).

    Returns
    -------
    list of str
        The file written.
    """
    from napari.layers import Shapes

    layer = Shapes(
        data, shape_type=meta.get("shape_type", "polygon"), edge_width=meta.get("edge_width", 1)
    )
    groups = _groups(meta.get("features"), by_index=False)
    recorded = (meta.get("metadata") or {}).get(LAYER_METADATA_IMAGE_SHAPE)
    # on their extent, the shapes lose no pixel; any image that holds the extent gives the same
    shape = tuple(recorded) if recorded else _extent(layer)
    crops = roi_crops_from_shapes_layer(layer, shape)
    rois = [RoiEntry(k, c, groups.get(k, -1)) for k, c in crops.items()]
    rois = _with_decisions(rois, meta.get("features"), by_index=False)
    if not recorded:
        shape = image_size_for_rois(RoiSet(rois), open_image_sizes()).shape
    return [str(write_rois(path, _roi_set(rois, meta, shape), overwrite=True))]


def _roi_set(rois, meta: dict, image_shape) -> RoiSet:
    metadata = meta.get("metadata") or {}
    return RoiSet(
        rois,
        border=border_from_metadata(metadata),
        image_shape=tuple(int(v) for v in image_shape),
        ring_options=ring_options_from_metadata(metadata),
    )


def _groups(features, *, by_index: bool) -> dict[int, int]:
    """``{ROI id: mask_group}`` from a layer's features (napari hands a DataFrame; tests a dict).

    With ``by_index``, the ``index`` column gives each row's label; otherwise
    (or without it) row i is ROI i + 1. Rows with a missing (NaN) label or
    group are left out: those ROIs have no group.
    """
    # `in` asks a DataFrame for a column and a dict for a key; truth-testing a DataFrame raises
    if features is None or "mask_group" not in features:
        return {}
    column = list(features["mask_group"])
    keys = (
        list(features["index"]) if by_index and "index" in features else range(1, len(column) + 1)
    )
    return {
        int(k): int(g)
        for k, g in zip(keys, column, strict=True)
        if np.isfinite(float(k)) and np.isfinite(float(g))
    }


def _with_decisions(rois: list[RoiEntry], features, *, by_index: bool) -> list[RoiEntry]:
    """``rois`` with the decision, reason, time and probability the layer's features hold
    (rows keyed as :func:`_groups` keys them); ROIs without a row stay unlabeled.

    Raises
    ------
    ValueError
        For a value that is no decision, time or probability, naming it.
    """
    if features is None or "decision" not in features:
        return rois
    n = len(features["decision"])

    def column(name, default):
        return list(features[name]) if name in features else [default] * n

    keys = list(features["index"]) if by_index and "index" in features else range(1, n + 1)
    rows = {
        int(k): (d, r, t, p)
        for k, d, r, t, p in zip(
            keys,
            column("decision", "unlabeled"),
            column("reason", ""),
            column("decided_at", ""),
            column("probability", None),
            strict=True,
        )
        if np.isfinite(float(k))
    }
    return [
        with_decision(entry, *_present(rows[entry.id])) if entry.id in rows else entry
        for entry in rois
    ]


def _present(values):
    """A features row's decision values, missing cells (NaN, as pandas fills them) as empty."""
    decision, reason, decided_at = (
        "" if isinstance(v, float) and np.isnan(v) else v for v in values[:3]
    )
    return decision or "unlabeled", reason, decided_at, values[3]


def _extent(layer) -> tuple[int, int]:
    """(rows, columns) from pixel (0, 0) holding every shape, a path's or line's width included."""
    if not len(layer.data):
        return 1, 1
    corners = np.concatenate([np.asarray(d)[:, -2:] for d in layer.data])
    reach = max(float(np.max(layer.edge_width)) / 2, 0.5)  # a stroke's pixels lie this far out
    return (
        int(np.ceil(corners[:, 0].max() + reach)) + 1,
        int(np.ceil(corners[:, 1].max() + reach)) + 1,
    )
