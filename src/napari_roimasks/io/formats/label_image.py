"""A label image (``.npy``, ``.tif``; e.g. cellpose's masks): one whole-number label per pixel.

Holds masks, ids (the labels, > 0) and the image size; not overlaps (refused
when written), groups, the border or ring options. A ``.npy`` that holds an
object array is suite2p's ``stat.npy`` and is read as that.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ...core.geometry import labels_from_masks
from ...core.rings import roi_crops_from_labels
from ..atomic import write_atomically
from ..npy_files import UnsafeFileError, load_npy
from ..roi_set import RoiEntry, RoiFileError, RoiSet
from . import suite2p
from .base import FormatContents, RoiFormat

__all__ = ["FORMAT", "read_label_image", "write_label_image"]

NAME = "label image"
SUFFIXES = (".npy", ".tif", ".tiff")


def read_label_image(path: Path, *, image_shape=None) -> RoiSet:
    """The ROIs of a (rows, columns) label image: label k > 0 is ROI k.

    Parameters
    ----------
    path : Path
        A ``.npy`` or TIFF file of one 2D image of whole numbers >= 0.
    image_shape : (rows, columns), optional
        Not needed: the image's own size is the set's (the caller checks the two agree).

    Raises
    ------
    RoiFileError
        For a file that is not a 2D image of whole numbers >= 0.
    """
    if path.suffix.lower() == ".npy" and suite2p.holds_suite2p_stat(path):
        # an object array (by its header: nothing unpickled to find out) is suite2p's stat.npy
        return suite2p.read_suite2p_stat(path, image_shape=image_shape)
    try:
        if path.suffix.lower() == ".npy":
            array = load_npy(path)  # never unpickles
        else:
            import tifffile

            array = tifffile.imread(path)
    except UnsafeFileError as error:
        raise RoiFileError(f"{error}; expected a label image") from None
    except Exception as error:  # numpy and tifffile raise many kinds for broken files
        raise RoiFileError(f"{path}: not a readable label image ({error})") from None
    if array.size == 0:  # tifffile gives an empty array for a TIFF it cannot find pages in
        raise RoiFileError(f"{path}: not a readable label image (no image in the file)")
    if array.ndim != 2 or array.dtype.kind not in "iub":
        raise RoiFileError(
            f"{path}: expected a 2D image of whole-number labels, got {array.dtype} of shape {array.shape}"
        )
    if array.dtype.kind == "i" and array.size and array.min() < 0:
        raise RoiFileError(f"{path}: a label image must not hold negative labels")
    if array.dtype.kind == "u" and array.itemsize == 8 and array.max() > np.iinfo(np.int64).max:
        raise RoiFileError(
            f"{path}: label {int(array.max())} is too large; labels go up to 2**63 - 1"
        )
    crops = roi_crops_from_labels(array.astype(np.int64, copy=False))
    return RoiSet(
        [RoiEntry(int(k), c) for k, c in crops.items()], image_shape=array.shape, kind=NAME
    )


def write_label_image(path: Path, rois: RoiSet, *, overwrite: bool = False) -> Path:
    """Write the ROIs as a (rows, columns) int32 label image (``.npy`` or TIFF), atomically.

    Raises
    ------
    RoiFileError
        Without the image size, for ids that are not whole numbers > 0, or for
        ROIs that share pixels.
    FileExistsError
        If the file exists and ``overwrite`` is False.
    """
    if rois.image_shape is None:
        raise RoiFileError(f"{path}: a label image needs the image size")
    if not all(isinstance(r.id, (int, np.integer)) and r.id > 0 for r in rois.rois):
        raise RoiFileError(f"{path}: a label image needs whole-number ROI ids > 0")
    labels, overlapping = labels_from_masks(
        [r.crop for r in rois.rois], rois.image_shape, labels=[r.id for r in rois.rois]
    )
    if overlapping:
        raise RoiFileError(
            f"{path}: {overlapping} pixels belong to more than one ROI; a label image cannot hold that"
        )
    if path.suffix.lower() == ".npy":
        return write_atomically(path, lambda f: np.save(f, labels), overwrite=overwrite)
    import io

    import tifffile

    def write(f):
        encoded = io.BytesIO()  # tifffile wants a named file or a memory buffer
        tifffile.imwrite(encoded, labels)
        f.write(encoded.getvalue())

    return write_atomically(path, write, overwrite=overwrite)


FORMAT = RoiFormat(
    name=NAME,
    suffixes=SUFFIXES,
    holds=FormatContents(masks=True, ids=True, image_shape=True),
    reader=read_label_image,
    writer=write_label_image,
    write_suffixes=SUFFIXES,
    described_as="a label image (.npy, .tif)",
)
