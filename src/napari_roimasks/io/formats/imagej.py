"""ImageJ/Fiji ROIs: one ``.roi`` file, or a ``.zip`` of them (Fiji's ROI Manager).

Read: polygon, freehand, traced, rectangle and oval ROIs, rasterised on the
image grid. Written (``.zip`` only): each mask's outline as a polygon named
after the ROI's id; exact for a mask in one piece without holes (a mask in
pieces keeps its largest piece). Holds no groups, border, ring options or
image size. Names that are whole numbers come back as int ids.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ...core.geometry import mask_outlines, rasterise_shape
from ..atomic import write_atomically
from ..roi_set import RoiEntry, RoiFileError, RoiSet, id_from_text
from .base import FormatContents, RoiFormat

__all__ = ["FORMAT", "read_imagej", "write_imagej_zip"]

NAME = "ImageJ ROIs"


def _roifile(path: Path):
    try:
        import roifile
    except ImportError as error:  # pragma: no cover - a dependency
        raise RoiFileError(f"{path}: ImageJ ROIs need roifile ({error})") from error
    return roifile


def read_imagej(path: Path, *, image_shape=None) -> RoiSet:
    """The ROIs of an ImageJ ``.roi`` file or ``.zip`` of them, as masks.

    Parameters
    ----------
    path : Path
    image_shape : (rows, columns), optional
        The frame size; without it, the ROIs' extent.

    Raises
    ------
    RoiFileError
        For a broken file, or an ROI that cannot be a mask (a line, a point, a composite).
    """
    roifile = _roifile(path)
    try:
        rois = roifile.roiread(path)
    except Exception as error:  # roifile raises many kinds for broken files
        raise RoiFileError(f"{path}: not a readable ImageJ ROI file ({error})") from None
    rois = rois if isinstance(rois, list) else [rois]
    shape = image_shape or _extent(rois)
    kinds = {
        roifile.ROI_TYPE.POLYGON: "polygon",
        roifile.ROI_TYPE.FREEHAND: "polygon",
        roifile.ROI_TYPE.TRACED: "polygon",
        roifile.ROI_TYPE.RECT: "polygon",
        roifile.ROI_TYPE.OVAL: "ellipse",
    }
    entries = []
    for i, roi in enumerate(rois):
        kind = kinds.get(roi.roitype)
        if kind is None or roi.subtype not in (roifile.ROI_SUBTYPE.UNDEFINED, 0):
            raise RoiFileError(
                f"{path}: ROI {i} ({roi.name or 'unnamed'}) is an ImageJ {roi.roitype.name.lower()} ROI; "
                "only polygon, freehand, rectangle and oval ROIs can be masks"
            )
        # ImageJ puts pixel (x, y)'s centre at (x + 0.5, y + 0.5); napari and this project at (x, y)
        vertices = _corners(roifile, roi) - 0.5
        crop = rasterise_shape(vertices, kind, 1.0, shape)
        entries.append(RoiEntry(id_from_text(roi.name) if roi.name else i + 1, crop))
    return RoiSet(entries, image_shape=image_shape, kind=NAME)


def _corners(roifile, roi) -> np.ndarray:
    """(n, 2) rows and columns of an ROI's vertices, in ImageJ's pixel-corner coordinates."""
    if roi.roitype == roifile.ROI_TYPE.OVAL or (
        roi.roitype == roifile.ROI_TYPE.RECT and not roi.n_coordinates
    ):
        # ImageJ stores these as a box; its pixels' corners run from left to right
        return np.array(
            [
                [roi.top, roi.left],
                [roi.top, roi.right],
                [roi.bottom, roi.right],
                [roi.bottom, roi.left],
            ],
            dtype=float,
        )
    xy = roi.coordinates()
    return np.column_stack([xy[:, 1], xy[:, 0]]).astype(float)


def _extent(rois) -> tuple[int, int]:
    bottom = max(int(np.ceil(r.bottom)) for r in rois) if rois else 1
    right = max(int(np.ceil(r.right)) for r in rois) if rois else 1
    return bottom + 1, right + 1


def write_imagej_zip(path: Path, rois: RoiSet, *, overwrite: bool = False) -> Path:
    """Write each ROI's outline as a polygon to an ImageJ ``.zip``, atomically.

    ROIs without pixels are left out (ImageJ has no empty ROI).

    Raises
    ------
    FileExistsError
        If the file exists and ``overwrite`` is False.
    """
    import zipfile

    roifile = _roifile(path)

    def write(f):
        with zipfile.ZipFile(f, "w", zipfile.ZIP_DEFLATED) as archive:
            for roi in rois.rois:
                if roi.crop is None:
                    continue
                (outline,) = mask_outlines([roi.crop])
                # to ImageJ's (x, y) pixel-corner coordinates
                points = np.column_stack([outline[:, 1], outline[:, 0]]) + 0.5
                imagej = roifile.ImagejRoi.frompoints(points, name=str(roi.id))
                imagej.roitype = roifile.ROI_TYPE.POLYGON
                archive.writestr(f"{roi.id}.roi", imagej.tobytes())

    return write_atomically(path, write, overwrite=overwrite)


FORMAT = RoiFormat(
    name=NAME,
    suffixes=(".roi", ".zip"),
    holds=FormatContents(masks=True, overlaps=True, ids=True),
    reader=read_imagej,
    writer=write_imagej_zip,
    write_suffixes=(".zip",),
    described_as="ImageJ .roi/.zip",
)
