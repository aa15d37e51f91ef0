"""ROI files of every kind the plugin reads and writes, behind one pair of functions.

The format comes from the file name, through the registry
(:mod:`napari_roimasks.io.formats`, one module per format):

| file | read | write | holds |
| --- | --- | --- | --- |
| ``*.roimasks.h5`` (this project's) | yes | yes | masks (overlaps kept), ids, groups, decisions, border, ring options, image size, version |
| ``*.json`` (Allen pipeline) | yes | yes | masks, ids, border; groups, image size and decisions as this project's extra fields (``valid`` false: not a cell) |
| ``*.zip`` / ``*.roi`` (ImageJ/Fiji) | yes | yes (zip) | masks as ImageJ counts them (polygon, freehand, traced, rectangle, rounded rectangle, oval, ellipse, rotated rectangle, composite); ids as names; image size in ROI properties (this project's); not groups or the border |
| ``*.npy`` / ``*.tif`` label image (e.g. cellpose) | yes | yes | one label per pixel: no overlaps, no groups, no border |
| suite2p ``stat.npy`` (+ ``iscell.npy``, ``ops.npy`` beside it) | yes | no (``iscell.npy``: ``formats.suite2p.write_iscell``) | pixels; ``iscell`` becomes the group and the decision (1 cell, 0 not) and probability; image size from ``ops.npy`` |
| ``*.nwb`` (needs pynwb) | yes | yes | masks (overlaps kept), ids, groups, decisions, image size; not the border (see :mod:`.nwb`) |

A file that records no image size (the Allen pipeline's JSON, ImageJ's own
files, suite2p without ``ops.npy``) takes the caller's: see
:mod:`napari_roimasks.io.image_size` for how napari chooses it.

Every write is atomic and replaces a file only with ``overwrite=True``.
"""

from __future__ import annotations

import os
from pathlib import Path

from .formats import format_for, writable_format_for
from .roi_set import RoiEntry, RoiFileError, RoiSet

# RoiEntry, RoiSet and RoiFileError live in .roi_set; they stay importable from here
__all__ = ["RoiEntry", "RoiFileError", "RoiSet", "read_rois", "write_rois"]


def read_rois(path, *, image_shape=None) -> RoiSet:
    """Read any ROI file this project knows (see the module's table).

    Parameters
    ----------
    path : str or os.PathLike
    image_shape : (rows, columns), optional
        The movie's frame size: ROIs must lie inside it, a size the file
        records must equal it, and a file that records none takes it from here.

    Returns
    -------
    RoiSet
        Its ``kind`` names the format read.

    Raises
    ------
    RoiFileError
        Naming the file and the problem.
    """
    path = Path(os.fspath(path))
    if not path.exists():
        raise RoiFileError(f"{path}: no such file")
    if not path.is_file():
        raise RoiFileError(f"{path}: not a file")
    result = format_for(path).reader(path, image_shape=image_shape)
    _check_inside(path, result, image_shape)
    return result


def _check_inside(path: Path, rois: RoiSet, image_shape) -> None:
    shape = image_shape or rois.image_shape
    if shape is None:
        return
    if (
        rois.image_shape is not None
        and image_shape is not None
        and tuple(rois.image_shape) != tuple(image_shape)
    ):
        h, w = rois.image_shape
        raise RoiFileError(
            f"{path}: the ROIs were drawn on a {w}x{h} image but the movie's frames are {image_shape[1]}x{image_shape[0]}"
        )
    for roi in rois.rois:
        crop = roi.crop
        if crop is not None and (
            crop.top < 0 or crop.left < 0 or crop.bottom > shape[0] or crop.right > shape[1]
        ):
            raise RoiFileError(f"{path}: ROI {roi.id} lies outside the {shape[1]}x{shape[0]} image")


def write_rois(path, rois: RoiSet, *, overwrite: bool = False) -> Path:
    """Write ROIs in the format the file name asks for (see the module's table).

    What the format cannot hold (see ``format.holds`` in
    :mod:`napari_roimasks.io.formats`) is left out, except overlapping ROIs
    for a label image, which are refused.

    Parameters
    ----------
    path : str or os.PathLike
    rois : RoiSet
    overwrite : bool
        Replace an existing file.

    Returns
    -------
    Path
        The file written.

    Raises
    ------
    RoiFileError
        For a format that cannot be written, or ROIs it cannot hold (e.g. a
        label image needs the image size and keeps one ROI per pixel).
    FileExistsError
        If the file exists and ``overwrite`` is False.
    """
    path = Path(os.fspath(path))
    return writable_format_for(path).writer(path, rois, overwrite=overwrite)
