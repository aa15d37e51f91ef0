"""NWB ``PlaneSegmentation`` masks as an ROI file format (the file layout: :mod:`..nwb`).

Needs pynwb (``pip install 'napari-roimasks[nwb]'``). Holds masks (overlaps
kept, with their pixels' weights), ids, groups, decisions (this project's
``decision``, ``reason``, ``decided_at`` and ``probability`` columns; read
from suite2p's ``iscell`` too) and the image size; not the
motion border or the ring options, which NWB has no field for. Reads image,
pixel and voxel masks (one z-plane), suite2p's NWB export included; writes
image masks. ``napari_roimasks.io.nwb.write_nwb`` also writes neuropil masks,
traces and the session's metadata (:class:`~napari_roimasks.io.nwb.NwbSession`).
"""

from __future__ import annotations

from pathlib import Path

from ..nwb import NAME, NwbSession, write_nwb
from ..nwb_reading import read_nwb_rois
from ..roi_set import RoiSet
from .base import FormatContents, RoiFormat

__all__ = ["FORMAT", "read_nwb", "write_nwb_rois"]


def read_nwb(path: Path, *, image_shape=None) -> RoiSet:
    """The ROIs of the NWB file's ``PlaneSegmentation`` (or its first plane segmentation).

    Parameters
    ----------
    path : Path
    image_shape : (rows, columns), optional
        Not read here: image masks record the image size, and pixel masks take
        it from the file's imaging series when it has one (the caller checks the
        two agree); else the file's ``image_shape`` is None and the caller's applies.

    Raises
    ------
    RoiFileError
        Without pynwb, or for a file with no readable plane segmentation.
    """
    return read_nwb_rois(path)


def write_nwb_rois(
    path: Path, rois: RoiSet, *, overwrite: bool = False, session: NwbSession | None = None
) -> Path:
    """Write the ROIs (ids, groups, decisions) as an NWB ``PlaneSegmentation`` of image masks, atomically.

    Parameters
    ----------
    path : Path
    rois : RoiSet
    overwrite : bool
    session : NwbSession, optional
        The file's metadata; default ``NwbSession()`` (napari's File > Save has no
        way to ask for it: the Traces dock's "Export NWB…" does).

    Raises
    ------
    RoiFileError
        Without pynwb, without ROIs or without the image size.
    FileExistsError
        If the file exists and ``overwrite`` is False.
    """
    return write_nwb(path, rois, session=session or NwbSession(), overwrite=overwrite)


FORMAT = RoiFormat(
    name=NAME,
    suffixes=(".nwb",),
    holds=FormatContents(
        masks=True, overlaps=True, ids=True, groups=True, image_shape=True, decisions=True
    ),
    reader=read_nwb,
    writer=write_nwb_rois,
    write_suffixes=(".nwb",),
    described_as="NWB (.nwb)",
)
