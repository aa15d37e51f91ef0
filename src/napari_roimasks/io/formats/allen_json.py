"""The Allen pipeline's JSON masks as an ROI file format (the file layout: :mod:`..allen_json`).

It holds masks (overlaps kept), ids, the motion border, and groups as this
project's extra ``mask_group`` field; not the ring options or the image size.
"""

from __future__ import annotations

from pathlib import Path

from ..allen_json import AllenMask, read_allen_masks, write_allen_masks
from ..roi_set import RoiEntry, RoiSet
from .base import FormatContents, RoiFormat

__all__ = ["FORMAT", "read_allen_json", "write_allen_json"]

NAME = "Allen JSON"


def read_allen_json(path: Path, *, image_shape=None) -> RoiSet:
    """The ROIs and motion border of an Allen JSON masks file.

    Parameters
    ----------
    path : Path
    image_shape : (rows, columns), optional
        The frame size: every mask must lie inside it; it becomes the set's image size.

    Raises
    ------
    RoiFileError
        For a file that is not Allen JSON masks, naming the mask and the problem.
    """
    masks, border = read_allen_masks(path, image_shape=image_shape)
    rois = [RoiEntry(m.id, m.crop, m.mask_group) for m in masks]
    return RoiSet(rois, border, image_shape, kind=NAME)


def write_allen_json(path: Path, rois: RoiSet, *, overwrite: bool = False) -> Path:
    """Write the ROIs (ids, groups) and the motion border as Allen JSON, atomically.

    Raises
    ------
    FileExistsError
        If the file exists and ``overwrite`` is False.
    """
    masks = [AllenMask(r.id, r.crop, r.mask_group) for r in rois.rois]
    return write_allen_masks(path, masks, border=rois.border, overwrite=overwrite)


FORMAT = RoiFormat(
    name=NAME,
    suffixes=(".json",),
    holds=FormatContents(masks=True, overlaps=True, ids=True, groups=True, border=True),
    reader=read_allen_json,
    writer=write_allen_json,
    write_suffixes=(".json",),
    described_as="Allen .json",
)
