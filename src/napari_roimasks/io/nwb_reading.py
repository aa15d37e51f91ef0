"""Reading the ROIs of an NWB file's plane segmentation (the layout: :mod:`.nwb`).

Axes. An ``image_mask`` is an image-sized array read as (rows, columns); a
``pixel_mask`` is ``(x, y, weight)`` and a ``voxel_mask`` ``(x, y, z, weight)``
with ``x`` the *first* array axis (the row) and ``y`` the column, as pynwb's
``PlaneSegmentation.image_to_pixel`` and suite2p's NWB export write them
(suite2p puts ``ypix`` in ``x``). A weight > 0 marks a pixel of the mask; the
weights are kept (``RoiEntry.weights``). A file of pixel masks records no image
size: it comes from the plane segmentation's reference images or from an
imaging series of the same imaging plane (suite2p's ``TwoPhotonSeries``
``dimension``), else it is left to the caller.

Decisions come from this project's ``decision``, ``reason``, ``decided_at`` and
``probability`` columns; without a ``decision`` column, from suite2p's
``iscell`` (is a cell, probability): 1 a cell, else not a cell; else unlabeled.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np

from ..core.masks import MaskCrop
from .decision_text import with_decision
from .nwb import NAME, pynwb_for
from .roi_set import RoiEntry, RoiFileError, RoiSet, id_from_text

__all__ = ["read_nwb_rois"]


def read_nwb_rois(path, *, name: str = "PlaneSegmentation") -> RoiSet:
    """The ROIs of an NWB file's plane segmentation (``image_mask``, ``pixel_mask`` or
    ``voxel_mask`` of one z-plane).

    Parameters
    ----------
    path : str or os.PathLike
    name : str
        The plane segmentation to read; without one of that name, the first.

    Returns
    -------
    RoiSet
        Ids from the ``roi_id`` column (else the table's ids), groups from
        ``mask_group`` (else suite2p's ``iscell``: 1 cell, 0 not; else -1),
        each ROI's weights, decisions (``decision`` etc., else suite2p's ``iscell``), and the
        image size when the file gives it (else None).

    Raises
    ------
    RoiFileError
        Without pynwb, or for a file that holds no readable plane segmentation;
        the message starts with the path.
    """
    pynwb = pynwb_for(path)
    path = Path(os.fspath(path))
    try:
        with warnings.catch_warnings():  # namespace-version chatter of files from other tools
            warnings.simplefilter("ignore")
            with pynwb.NWBHDF5IO(str(path), "r") as io:
                nwb = io.read()
                tables = [
                    table
                    for module in nwb.processing.values()
                    for container in module.data_interfaces.values()
                    if isinstance(container, pynwb.ophys.ImageSegmentation)
                    for table in container.plane_segmentations.values()
                ]
                if not tables:
                    raise RoiFileError(
                        f"{path}: no ROIs; expected an ImageSegmentation with a "
                        "PlaneSegmentation in a processing module (e.g. processing/ophys)"
                    )
                table = next((t for t in tables if t.name == name), tables[0])
                return _roi_set(path, nwb, table)
    except RoiFileError:
        raise
    except Exception as error:  # h5py, hdmf and pynwb raise many kinds for broken files
        raise RoiFileError(
            f"{path}: not a readable NWB file (expected an NWB 2 HDF5 file): {_one_line(error)}"
        ) from None


def _one_line(error: Exception) -> str:
    text = " ".join(str(error).split()) or type(error).__name__
    return text if len(text) <= 200 else text[:199] + "…"


def _roi_set(path: Path, nwb, table) -> RoiSet:
    columns = table.colnames
    n = len(table)
    ids = list(table["roi_id"].data[:]) if "roi_id" in columns else list(table.id.data[:])
    ids = [id_from_text(i) for i in ids]
    groups = [-1] * n
    if "mask_group" in columns:
        groups = [int(g) for g in table["mask_group"].data[:]]
    elif "iscell" in columns:  # suite2p: (is a cell, probability)
        groups = [int(np.ravel(row)[0]) for row in table["iscell"].data[:]]
    if "image_mask" in columns:
        masks = table["image_mask"].data
        if len(masks.shape) == 4 and masks.shape[3] != 1:
            raise RoiFileError(
                f"{path}: the image masks of {table.name!r} are volumes of {masks.shape[3]} "
                "z-planes; expected 2D masks (napari-roimasks reads one imaging plane)"
            )
        rois = [
            _entry_from_image(ident, group, np.asarray(masks[i]).reshape(masks.shape[1:3]))
            for i, (ident, group) in enumerate(zip(ids, groups, strict=True))
        ]
        return RoiSet(
            _with_curation(path, table, rois), image_shape=tuple(masks.shape[1:3]), kind=NAME
        )
    if "pixel_mask" in columns:
        rows, columns_, weights, ends = _flat_mask(table["pixel_mask"], ("x", "y", "weight"))
    elif "voxel_mask" in columns:
        rows, columns_, z, weights, ends = _flat_mask(
            table["voxel_mask"], ("x", "y", "z", "weight")
        )
        planes = np.unique(z[weights > 0])
        if len(planes) > 1:
            shown = ", ".join(str(int(p)) for p in planes[:8]) + (", …" if len(planes) > 8 else "")
            raise RoiFileError(
                f"{path}: the voxel masks of {table.name!r} lie in {len(planes)} z-planes "
                f"({shown}); expected the ROIs of one plane (napari-roimasks reads 2D ROIs)"
            )
    else:
        raise RoiFileError(
            f"{path}: the plane segmentation {table.name!r} has no image_mask, pixel_mask or "
            "voxel_mask; expected one of them"
        )
    starts = np.concatenate([[0], ends[:-1]])
    rois = [
        _entry_from_pixels(ident, group, rows[a:b], columns_[a:b], weights[a:b])
        for ident, group, a, b in zip(ids, groups, starts, ends, strict=True)
    ]
    return RoiSet(_with_curation(path, table, rois), image_shape=_plane_size(nwb, table), kind=NAME)


def _with_curation(path: Path, table, rois: list) -> list:
    """The ROIs with the decisions of the table's columns (see the module's docstring)."""
    columns, n = table.colnames, len(rois)

    def column(name, default):
        return list(table[name].data[:]) if name in columns else [default] * n

    if "decision" in columns:
        decisions = column("decision", "unlabeled")
        chances = column("probability", None)
    elif "iscell" in columns:  # suite2p: (is a cell, probability)
        flags = [np.ravel(np.asarray(row, dtype=float)) for row in table["iscell"].data[:]]
        decisions = ["cell" if row[0] == 1 else "not_cell" for row in flags]
        chances = [row[1] if row.size > 1 else None for row in flags]
    else:
        return rois
    reasons, times = column("reason", ""), column("decided_at", "")
    checked = []
    for roi, *fields in zip(rois, decisions, reasons, times, chances, strict=True):
        try:
            checked.append(with_decision(roi, *fields))
        except ValueError as error:
            raise RoiFileError(f"{path}: ROI {roi.id}: {error}") from None
    return checked


def _flat_mask(column, names):
    """A ragged pixel or voxel mask column as flat arrays (one per field) and each ROI's end."""
    flat = np.asarray(column.target.data[:])
    if flat.dtype.names:
        parts = [flat[name] for name in names]
    else:
        parts = list(flat.reshape(-1, len(names)).T)
    *coordinates, weights = parts
    return (
        *(np.asarray(c).astype(np.int64) for c in coordinates),
        np.asarray(weights, dtype=float),
        np.asarray(column.data[:], dtype=np.int64),
    )


def _entry_from_pixels(ident, group, rows, columns, weights) -> RoiEntry:
    keep = weights > 0  # NaN is no pixel either
    if not keep.any():
        return RoiEntry(ident, None, int(group))
    rows, columns, weights = rows[keep], columns[keep], weights[keep]
    top, left = int(rows.min()), int(columns.min())
    box = np.zeros((int(rows.max()) - top + 1, int(columns.max()) - left + 1))
    box[rows - top, columns - left] = weights
    crop = MaskCrop(top, left, box > 0)
    return RoiEntry(ident, crop, int(group), None if np.all(weights == 1) else box)


def _entry_from_image(ident, group, mask: np.ndarray) -> RoiEntry:
    if mask.dtype == bool:
        return RoiEntry(ident, MaskCrop.from_plane(mask), int(group))
    values = np.asarray(mask, dtype=float)
    crop = MaskCrop.from_plane(np.isfinite(values) & (values > 0))
    if crop is None:
        return RoiEntry(ident, None, int(group))
    box = np.where(crop.pixels, values[crop.slices], 0.0)
    return RoiEntry(ident, crop, int(group), None if np.all(box[crop.pixels] == 1) else box)


def _plane_size(nwb, table) -> tuple[int, int] | None:
    """The (rows, columns) of the plane segmentation's reference images, or of an imaging
    series of its imaging plane (suite2p: a ``TwoPhotonSeries`` with ``dimension`` [Ly, Lx])."""
    from pynwb.image import ImageSeries

    series = list(table.reference_images or [])
    series += [
        item
        for item in nwb.objects.values()
        if isinstance(item, ImageSeries)
        and getattr(item, "imaging_plane", None) is table.imaging_plane
        and item not in series
    ]
    for item in series:
        data_shape = getattr(item.data, "shape", ())
        if len(data_shape) >= 3 and data_shape[1] and data_shape[2]:
            return int(data_shape[1]), int(data_shape[2])
        dimension = item.dimension
        if dimension is not None and len(dimension) >= 2:
            return int(dimension[0]), int(dimension[1])
    return None
