"""The Allen pipeline's JSON masks as an ROI file format (the file layout: :mod:`..allen_json`).

It holds masks (overlaps kept), ids, the motion border, and, as this
project's extra fields, groups (``mask_group``), the image size
(``image_size``) and each ROI's decision (``decision``, ``reason``,
``decided_at``, ``probability``); not the ring options. ``valid`` is written
false exactly for ROIs decided not a cell; a file without ``decision`` (the
Allen pipeline's) reads ``valid: false`` as not a cell, ``valid: true`` as
unlabeled (see :mod:`..allen_json`). Files from the Allen pipeline have no
image size: the caller's (the movie's) applies.
"""

from __future__ import annotations

from pathlib import Path

from ..allen_json import AllenMask, read_allen_masks, write_allen_masks
from ..roi_set import Decision, RoiEntry, RoiSet
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
    rois = [
        RoiEntry(
            m.id,
            m.crop,
            m.mask_group,
            decision=m.decision,
            reason=m.reason,
            decided_at=m.decided_at,
            probability=m.probability,
        )
        for m in found.masks
    ]
    return RoiSet(rois, found.border, found.image_shape or image_shape, kind=NAME)


def write_allen_json(path: Path, rois: RoiSet, *, overwrite: bool = False) -> Path:
    """Write the ROIs (ids, groups, decisions), the motion border and the image size as Allen
    JSON, atomically; ``valid`` is false for ROIs decided not a cell.

    Raises
    ------
    FileExistsError
        If the file exists and ``overwrite`` is False.
    """
    masks = [
        AllenMask(
            r.id,
            r.crop,
            r.mask_group,
            valid=r.decision != Decision.NOT_CELL,
            decision=r.decision,
            reason=r.reason,
            decided_at=r.decided_at,
            probability=r.probability,
        )
        for r in rois.rois
    ]
    return write_allen_masks(
        path, masks, border=rois.border, image_shape=rois.image_shape, overwrite=overwrite
    )


FORMAT = RoiFormat(
    name=NAME,
    suffixes=(".json",),
    holds=FormatContents(
        masks=True,
        overlaps=True,
        ids=True,
        groups=True,
        border=True,
        image_shape=True,
        decisions=True,
    ),
    reader=read_allen_json,
    writer=write_allen_json,
    write_suffixes=(".json",),
    described_as="Allen .json",
)
