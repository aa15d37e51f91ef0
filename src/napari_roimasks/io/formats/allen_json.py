"""The Allen pipeline's JSON masks as an ROI file format (the file layout: :mod:`..allen_json`).

It holds masks (overlaps kept), ids, the motion border, and, as this
project's extra fields, groups (``mask_group``) and the image size
(``image_size``); not the ring options. Files from the Allen pipeline have no
image size: the caller's (the movie's) applies.
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
        The movie's frame size: every mask must lie inside it, and a size the
        file records must equal it. The set's image size is the file's, else this.

    Raises
    ------
    RoiFileError
        For a file that is not Allen JSON masks, naming the mask and the problem.
    """
    found = read_allen_masks(path, image_shape=image_shape)
    rois = [RoiEntry(m.id, m.crop, m.mask_group) for m in found.masks]
    return RoiSet(rois, found.border, found.image_shape or image_shape, kind=NAME)


def write_allen_json(path: Path, rois: RoiSet, *, overwrite: bool = False) -> Path:
    """Write the ROIs (ids, groups), the motion border and the image size as Allen JSON, atomically.

    Raises
    ------
    FileExistsError
        If the file exists and ``overwrite`` is False.
    """
    masks = [AllenMask(r.id, r.crop, r.mask_group) for r in rois.rois]
    return write_allen_masks(
        path, masks, border=rois.border, image_shape=rois.image_shape, overwrite=overwrite
    )


FORMAT = RoiFormat(
    name=NAME,
    suffixes=(".json",),
    holds=FormatContents(
        masks=True, overlaps=True, ids=True, groups=True, border=True, image_shape=True
    ),
    reader=read_allen_json,
    writer=write_allen_json,
    write_suffixes=(".json",),
    described_as="Allen .json",
)
