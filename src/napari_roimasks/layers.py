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

import numpy as np

from . import roi_masks
from .core.border import MotionBorder
from .core.geometry import rasterise_shape
from .core.masks import MaskCrop
from .core.metrics import METRICS
from .core.rings import roi_crops_from_labels

__all__ = [
    "DECISION_COLUMNS",
    "FEATURE_COLUMNS",
    "QUALITY_COLUMNS",
    "LayerConversionError",
    "decision_features",
    "decisions_from_features",
    "edited_shapes",
    "image_sizes",
    "labels_plane",
    "open_image_sizes",
    "resize_labels",
    "roi_crops_from_labels_layer",
    "roi_crops_from_shapes_layer",
    "roi_masks_from_layer",
    "update_roi_features",
    "write_roi_features",
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


def resize_labels(layer, image_shape) -> None:
    """Give a Labels layer another frame size, keeping every ROI where it is.

    The label image grows with background to the right and below, or loses
    rows and columns there that hold no ROI pixel.

    Parameters
    ----------
    layer : napari.layers.Labels
        2D, or with leading (frame) axes, which are kept.
    image_shape : (rows, columns)

    Raises
    ------
    LayerConversionError
        For a multiscale layer, or ROI pixels outside ``image_shape``.
    """
    if getattr(layer, "multiscale", False):
        raise LayerConversionError(
            f"the ROI layer {layer.name!r} is multiscale: it cannot be resized"
        )
    data = np.asarray(layer.data)
    rows, columns = (int(n) for n in image_shape)
    if data[..., rows:, :].any() or data[..., :, columns:].any():
        raise LayerConversionError(
            f"{layer.name!r} has ROI pixels beyond {columns}x{rows}: resizing would cut them off"
        )
    resized = np.zeros((*data.shape[:-2], rows, columns), dtype=data.dtype)
    keep_rows, keep_columns = min(rows, data.shape[-2]), min(columns, data.shape[-1])
    resized[..., :keep_rows, :keep_columns] = data[..., :keep_rows, :keep_columns]
    layer.data = resized


# -- the images beside the ROIs ---------------------------------------------------------------
def image_sizes(layers, *, skip=None) -> list[tuple[str, tuple[int, int]]]:
    """The frame size of each Image layer (a movie or a 2D image), in the layer list's order.

    Parameters
    ----------
    layers : iterable of napari layers
        E.g. ``viewer.layers``.
    skip : callable, optional
        ``skip(layer) -> bool``: layers to leave out (e.g. this plugin's overlays).

    Returns
    -------
    list of (name, (rows, columns))
        An RGB image's frame leaves out its colour axis.
    """
    sizes = []
    for layer in layers:
        if type(layer).__name__ != "Image" or (skip is not None and skip(layer)):
            continue
        data = layer.data[0] if getattr(layer, "multiscale", False) else layer.data
        shape = tuple(data.shape[:-1] if getattr(layer, "rgb", False) else data.shape)
        if len(shape) >= 2:
            sizes.append((layer.name, (int(shape[-2]), int(shape[-1]))))
    return sizes


def open_image_sizes() -> list[tuple[str, tuple[int, int]]]:
    """:func:`image_sizes` of napari's current viewer: what a reader or writer, which napari
    hands no viewer, can see open beside the ROIs. Empty without a viewer (or napari)."""
    try:
        import napari
    except ImportError:  # the plugin's readers called by npe2 alone
        return []
    viewer = napari.current_viewer()
    return [] if viewer is None else image_sizes(viewer.layers)


# -- Shapes -----------------------------------------------------------------------------------
def _planar_vertices(vertices, layer, index: int) -> np.ndarray:
    vertices = np.asarray(vertices, dtype=float)
    if vertices.shape[1] > 2:
        leading = vertices[:, :-2]
        if np.ptp(leading, axis=0).max() > 0:
            raise LayerConversionError(
                f"shape {index} of {layer.name!r} is not flat: its vertices lie on different "
                "frames or planes. Draw ROIs as 2D shapes (in the 2D view)"
            )
    return vertices[:, -2:]


def _shape_crops(layer, indices, image_shape) -> dict[int, MaskCrop | None]:
    """Shapes ``indices`` of a Shapes layer as MaskCrops (None: no pixel), keyed index + 1.

    The layer's lists are read once: napari builds each anew on every read."""
    data, types, widths = layer.data, layer.shape_type, layer.edge_width
    return {
        index + 1: rasterise_shape(
            _planar_vertices(data[index], layer, index),
            types[index],
            float(widths[index]),
            image_shape,
        )
        for index in indices
    }


def roi_crops_from_shapes_layer(layer, image_shape) -> dict[int, MaskCrop | None]:
    """Every shape of a Shapes layer as a :class:`MaskCrop`, keyed 1, 2, ... in layer order.

    A shape that covers no pixel of the image maps to None.
    """
    return _shape_crops(layer, range(len(layer.data)), image_shape)


def edited_shapes(layer, event, image_shape, n_rois: int) -> dict[int, MaskCrop | None] | None:
    """The ROIs a Shapes layer's ``data`` event changed, as plain data for the model.

    Parameters
    ----------
    layer : napari.layers.Shapes
    event
        The layer's ``events.data`` event (napari >= 0.4.19 tells the action and indices).
    image_shape : (rows, columns)
    n_rois : int
        How many ROIs the model holds for this layer now.

    Returns
    -------
    dict or None
        ROI key -> its new pixels (``{}``: nothing to do yet, the edit is under
        way); None when the layer must be read whole (a shape was removed,
        which renumbers the shapes after it, or the event does not say which).
    """
    action = str(getattr(event, "action", ""))
    if action in ("adding", "removing"):
        return {}  # wait until the edit is done
    indices = getattr(event, "data_indices", None)
    if action == "removed" or not indices or -1 in indices:
        return None
    if len(layer.data) != n_rois and action != "added":
        return None
    return _shape_crops(layer, indices, image_shape)


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
    groups = mask_groups_from_features(layer)  # a row without a group (NaN): none, -1
    rois = []
    for key, crop in crops.items():
        roi = roi_masks.RoiMask(image_shape[1], image_shape[0], key, groups.get(key, -1))
        if crop is None:
            roi.flags.add("zero_pixels")
        else:
            roi.init_by_mask(border, crop.plane(image_shape))
        rois.append(roi)
    return rois


#: The columns this plugin writes into an ROI layer's ``features`` after an extraction.
FEATURE_COLUMNS = ("mean_F", "mean_Fneu", "r", "exclusion")
#: The columns that carry each ROI's curation (what File > Save writes where the format can).
DECISION_COLUMNS = ("decision", "reason", "decided_at", "probability")
#: each quality metric by name, then what the rules and the classifier suggest: the decision,
#: the classifier's probability and why (see :meth:`RoiModel.quality_features
#: <napari_roimasks.model.RoiModel.quality_features>`)
QUALITY_COLUMNS = (*METRICS, "suggested", "suggested_probability", "suggested_because")
_TEXT_COLUMNS = ("exclusion", "decision", "reason", "decided_at", "suggested", "suggested_because")
#: up to this many rows, cells are set one by one (quicker than pandas' row selection)
_CELL_BY_CELL = 8


def write_roi_features(layer, rows: dict, columns=FEATURE_COLUMNS, *, labels=None) -> None:
    """Put per-ROI values into an ROI layer's ``features``, for other plugins to read.

    Other columns (e.g. ``mask_group``) are kept. A Labels layer gets a row for
    the background (0) and for each label it holds or ``rows`` names, in order
    (napari's convention: column ``index`` is the label; a label id of 2**31 - 1
    costs one row), a Shapes layer one row per shape.

    Parameters
    ----------
    layer : napari.layers.Labels or napari.layers.Shapes
    rows : dict
        ROI key -> ``{column: value}`` for ``columns``.
    columns : sequence of str
        The columns written (replacing those already there): :data:`FEATURE_COLUMNS`,
        :data:`DECISION_COLUMNS` or :data:`QUALITY_COLUMNS`.
    labels : iterable of int, optional
        The labels a Labels layer holds, when the caller knows them (the layer's data
        is not searched for them then).
    """
    import pandas as pd

    features = layer.features.drop(columns=list(columns), errors="ignore")
    if type(layer).__name__ == "Labels":
        present = np.unique(np.asarray(layer.data)).tolist() if labels is None else labels
        keys = sorted({0, *(int(k) for k in present), *(int(k) for k in rows)})
        table = pd.DataFrame({"index": np.array(keys, dtype=np.int64)})
        if "index" in features.columns:
            table = table.merge(features, on="index", how="left")
        keys = table["index"]
    else:
        table = features.reset_index(drop=True).reindex(range(len(layer.data)))
        keys = pd.Series(np.arange(1, len(layer.data) + 1))
    keys = [int(k) for k in keys]
    for column in columns:
        default = "" if column in _TEXT_COLUMNS else np.nan
        if column == "decision":
            default = "unlabeled"
        table[column] = [rows[k].get(column, default) if k in rows else default for k in keys]
    layer.features = table


def update_roi_features(layer, rows: dict, columns=DECISION_COLUMNS) -> bool:
    """Write ``columns`` of a few ROIs into the rows an ROI layer's ``features`` has for them.

    The cheap form of :func:`write_roi_features` for a change of a few ROIs (a
    decision): only their cells change, in the layer's table itself, and the
    label image is not read. The layer's ``features`` event says so.

    Parameters
    ----------
    layer : napari.layers.Labels or napari.layers.Shapes
    rows : dict
        ROI key -> ``{column: value}`` for ``columns``.
    columns : sequence of str

    Returns
    -------
    bool
        False, and nothing is written, when the table lacks one of ``columns``
        (or, for a Shapes layer, a row for one of the keys):
        :func:`write_roi_features` writes it whole. A Labels layer's table gets a
        row for a label painted since it was written.
    """
    import pandas as pd

    if not rows:
        return True
    features = layer.features
    if any(column not in features.columns for column in columns):
        return False
    keys = [int(k) for k in rows]
    if type(layer).__name__ == "Labels":
        if "index" not in features.columns:
            return False
        index = pd.Index(features["index"])
        if not index.is_unique:
            return False
        positions = index.get_indexer(keys)
        new = [k for k, p in zip(keys, positions.tolist(), strict=True) if p < 0]
        if new:  # labels painted since (a split's pieces): their rows join in label order
            features = _with_rows(features, new)
            layer.features = features
            features = layer.features
            positions = pd.Index(features["index"]).get_indexer(keys)
    else:
        if len(features) != len(layer.data):
            return False
        positions = np.array(keys) - 1
    if np.any(positions < 0) or np.any(positions >= len(features)):
        return False
    for column in columns:
        where = features.columns.get_loc(column)
        cells = [row[column] for row in rows.values()]
        if len(cells) <= _CELL_BY_CELL:
            for position, value in zip(positions.tolist(), cells, strict=True):
                features.iat[position, where] = value
        else:
            features.iloc[positions, where] = cells
    layer.events.features()
    return True


def _with_rows(features, labels: list[int]):
    """``features`` with a row for each of ``labels`` (empty: each column's default), in
    label order."""
    import pandas as pd

    extra = pd.DataFrame({"index": np.array(labels, dtype=np.int64)})
    for column in features.columns:
        if column == "index":
            continue
        default = "" if column in _TEXT_COLUMNS else np.nan
        extra[column] = "unlabeled" if column == "decision" else default
    table = pd.concat([features, extra], ignore_index=True)
    return table.sort_values("index", kind="stable", ignore_index=True)


def decisions_from_features(layer) -> dict:
    """ROI key -> ``(decision, reason, decided_at, probability)`` from an ROI layer's features
    columns (:data:`DECISION_COLUMNS`; a Labels layer's rows keyed by ``index``, a Shapes
    layer's row i is ROI i + 1); {} when the layer has no ``decision`` column.

    Raises
    ------
    ValueError
        For a value that is no decision, time or probability, naming it.
    """
    from .io.decision_text import read_decision

    features = getattr(layer, "features", None)
    if features is None or "decision" not in features.columns:
        return {}
    keys = _feature_keys(layer, features)

    def cells(name, default):
        if name not in features.columns:
            return [default] * len(features)
        return ["" if isinstance(v, float) and np.isnan(v) else v for v in features[name]]

    found = {}
    for key, decision, reason, when, chance in zip(
        keys,
        cells("decision", "unlabeled"),
        cells("reason", ""),
        cells("decided_at", ""),
        list(features["probability"]) if "probability" in features.columns else [None] * len(keys),
        strict=True,
    ):
        if key != 0:  # napari's background row
            found[key] = read_decision(decision or "unlabeled", reason, when, chance)
    return found


def mask_groups_from_features(layer) -> dict:
    """ROI key -> its ``mask_group`` (an int; -1: none) from an ROI layer's features, keyed as
    :func:`decisions_from_features` keys them; {} without the column."""
    features = getattr(layer, "features", None)
    if features is None or "mask_group" not in features.columns:
        return {}
    groups = {}
    for key, group in zip(_feature_keys(layer, features), features["mask_group"], strict=True):
        if key != 0 and group == group:  # not the background row, not NaN
            groups[key] = int(group)
    return groups


def _feature_keys(layer, features) -> list[int]:
    """The ROI key of each row of a layer's features: a Labels layer's ``index`` column
    (napari's convention), else row i is ROI i + 1 (a Shapes layer's shape i)."""
    if type(layer).__name__ == "Labels" and "index" in features.columns:
        return [int(k) for k in features["index"]]
    return list(range(1, len(features) + 1))


def decision_features(rows) -> dict:
    """ROI key -> the :data:`DECISION_COLUMNS` values of the model's table rows (``RoiSummary``),
    as :func:`write_roi_features` takes them."""
    from .io.decision_text import decided_at_text

    return {
        row.key: {
            "decision": getattr(row.decision, "value", str(row.decision)),
            "reason": row.reason,
            "decided_at": decided_at_text(row.decided_at),
            "probability": np.nan if row.probability is None else float(row.probability),
        }
        for row in rows
    }
