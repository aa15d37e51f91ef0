"""NWB ``PlaneSegmentation`` image masks as an ROI file format (the file layout: :mod:`..nwb`).

Needs pynwb (``pip install 'napari-roimasks[nwb]'``). Holds masks (overlaps
kept), ids, groups and the image size; not the motion border or the ring
options, which NWB has no field for. ``napari_roimasks.io.nwb.write_nwb``
also writes neuropil masks and traces.
"""

from __future__ import annotations

from pathlib import Path

from ..nwb import NAME, read_nwb_rois, write_nwb
from ..roi_set import RoiSet
from .base import FormatContents, RoiFormat

__all__ = ["FORMAT", "read_nwb", "write_nwb_rois"]


def read_nwb(path: Path, *, image_shape=None) -> RoiSet:
    """The ROIs of the NWB file's ``PlaneSegmentation`` (or its first plane segmentation).

    Parameters
    ----------
    path : Path
    image_shape : (rows, columns), optional
        Not needed for image masks, which record the image size (the caller
        checks the two agree).

    Raises
    ------
    RoiFileError
        Without pynwb, or for a file with no readable plane segmentation.
    """
    return read_nwb_rois(path)


def write_nwb_rois(path: Path, rois: RoiSet, *, overwrite: bool = False) -> Path:
    """Write the ROIs (ids, groups) as an NWB ``PlaneSegmentation`` of image masks, atomically.

    Raises
    ------
    RoiFileError
        Without pynwb, or without the image size.
    FileExistsError
        If the file exists and ``overwrite`` is False.
    """
    return write_nwb(path, rois, overwrite=overwrite)


FORMAT = RoiFormat(
    name=NAME,
    suffixes=(".nwb",),
    holds=FormatContents(masks=True, overlaps=True, ids=True, groups=True, image_shape=True),
    reader=read_nwb,
    writer=write_nwb_rois,
    write_suffixes=(".nwb",),
    described_as="NWB (.nwb)",
)
