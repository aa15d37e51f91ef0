"""ImageJ/Fiji ROIs: one ``.roi`` file, or a ``.zip`` of them (Fiji's ROI Manager).

Read: polygon, freehand, traced, rectangle (square or rounded corners), oval,
ellipse, rotated rectangle and composite ROIs (a band, shapes combined with OR
or XOR), each as the pixels ImageJ 1.53t counts inside it
(``Roi.getContainedPoints``; see :mod:`napari_roimasks.io.imagej_geometry`),
clipped to the image. Lines, points, angles, text, image and spline-fitted
ROIs are refused. An ROI's id is its name (a whole number comes back as an int).

Written (``.zip`` only): each mask's outline along its pixels' edges, as a
traced ROI named after the ROI's id; a mask with holes or in several pieces
as one composite ROI of all its outlines. ImageJ fills either back to exactly
the mask's pixels. The image size goes into each ROI's properties
(``napari-roimasks.image_height`` and ``napari-roimasks.image_width``), which
ImageJ keeps when it saves the ROIs again. Holds no groups, border or ring options.
"""

from __future__ import annotations

import re
import struct
import zipfile
from pathlib import Path

import numpy as np

from ...core.masks import MaskCrop
from .. import imagej_geometry as geometry
from ..atomic import write_atomically
from ..java2d_paths import CLOSE, LINETO, MOVETO
from ..roi_set import RoiEntry, RoiFileError, RoiSet, id_from_text
from .base import FormatContents, RoiFormat

__all__ = ["FORMAT", "read_imagej", "write_imagej_zip"]

NAME = "ImageJ ROIs"
#: ROI properties that record the image the ROIs were drawn on
IMAGE_HEIGHT_PROPERTY = "napari-roimasks.image_height"
IMAGE_WIDTH_PROPERTY = "napari-roimasks.image_width"
_MASK_KINDS = (
    "only polygon, freehand, traced, rectangle, oval, ellipse, rotated rectangle "
    "and composite ROIs can be masks"
)
_EXPECTED_ZIP = "expected the .roi files of Fiji's ROI Manager"


def _roifile(path: Path):
    try:
        import roifile
    except ImportError as error:  # pragma: no cover - a dependency
        raise RoiFileError(f"{path}: ImageJ ROIs need roifile ({error})") from error
    return roifile


# -- reading ---------------------------------------------------------------------------------
def read_imagej(path: Path, *, image_shape=None) -> RoiSet:
    """The ROIs of an ImageJ ``.roi`` file or ``.zip`` of them, as the pixels ImageJ counts.

    Parameters
    ----------
    path : Path
    image_shape : (rows, columns), optional
        The frame size, for files that do not record theirs (those ImageJ
        wrote); ROIs are clipped to the image.

    Returns
    -------
    RoiSet
        Its ``image_shape`` is the one the file records, else ``image_shape``.

    Raises
    ------
    RoiFileError
        For a broken file, a member of a zip that is not an ROI, an empty zip,
        or an ROI that cannot be a mask (a line, a point, text, a spline fit).
    """
    roifile = _roifile(path)
    rois = []
    for member, data in _roi_files(path):
        try:
            rois.append((member, data, roifile.ImagejRoi.frombytes(data)))
        except Exception as error:  # roifile raises many kinds for broken ROIs
            if member is None:
                problem = f"not a readable ImageJ ROI file ({error}); expected an ImageJ .roi"
            else:
                problem = f"{member!r} is not a readable ImageJ ROI ({error}); {_EXPECTED_ZIP}"
            raise RoiFileError(f"{path}: {problem}") from None
    recorded = _recorded_image_shape(path, [roi for *_, roi in rois])
    shape = recorded or image_shape
    entries = []
    for i, (member, data, roi) in enumerate(rois):
        # as ImageJ names an ROI without a name: after its file or zip member
        name = roi.name or (member if member is not None else path.name).removesuffix(".roi")
        try:
            crop = _pixels(roifile, roi, data)
        except _NotAMask as refusal:
            raise RoiFileError(f"{path}: ROI {i} ({name or 'unnamed'}) {refusal}") from None
        except ValueError as error:
            raise RoiFileError(
                f"{path}: ROI {i} ({name or 'unnamed'}) is broken: {error}"
            ) from None
        entries.append(RoiEntry(id_from_text(name) if name else i + 1, _clipped(crop, shape)))
    return RoiSet(entries, image_shape=shape, kind=NAME)


def _roi_files(path: Path) -> list[tuple[str | None, bytes]]:
    """(member name or None, bytes) of each ROI in a ``.roi`` file or a ``.zip``."""
    if not path.name.lower().endswith(".zip"):
        return [(None, path.read_bytes())]
    try:
        with zipfile.ZipFile(path) as archive:
            members = [
                (info.filename, archive.read(info))
                for info in archive.infolist()
                if not info.is_dir()
            ]
    except (zipfile.BadZipFile, OSError, EOFError, RuntimeError, NotImplementedError) as error:
        # RuntimeError: an encrypted member; NotImplementedError: a compression zipfile lacks
        raise RoiFileError(
            f"{path}: not a readable ImageJ ROI file ({error}); {_EXPECTED_ZIP} in a .zip"
        ) from None
    if not members:
        raise RoiFileError(f"{path}: an empty .zip; {_EXPECTED_ZIP}")
    for member, data in members:
        if not data.startswith(b"Iout"):
            raise RoiFileError(
                f"{path}: {member!r} is not an ImageJ ROI; {_EXPECTED_ZIP} and nothing else"
            )
    return members


def _recorded_image_shape(path: Path, rois) -> tuple[int, int] | None:
    shapes = {shape for shape in map(_image_shape_property, rois) if shape is not None}
    if len(shapes) > 1:
        sizes = ", ".join(f"{w}x{h}" for h, w in sorted(shapes))
        raise RoiFileError(
            f"{path}: its ROIs record images of different sizes ({sizes}); expected one"
        )
    return shapes.pop() if shapes else None


def _image_shape_property(roi) -> tuple[int, int] | None:
    # java.util.Properties lines, as ImageJ writes them: "key: value"
    found = {}
    for line in roi.props.splitlines():
        match = re.match(r"\s*([^\s:=]+)\s*[:=]?\s*(.*?)\s*$", line)
        if match:
            found[match[1]] = match[2]
    try:
        height = int(found[IMAGE_HEIGHT_PROPERTY])
        width = int(found[IMAGE_WIDTH_PROPERTY])
    except (KeyError, ValueError):
        return None
    return (height, width) if height > 0 and width > 0 else None


class _NotAMask(Exception):
    """Why an ROI cannot be a mask (completes '<file>: ROI i (name) ...')."""


def _refuse(kind: str) -> _NotAMask:
    return _NotAMask(f"is an ImageJ {kind} ROI; {_MASK_KINDS}")


def _pixels(roifile, roi, data: bytes) -> MaskCrop | None:
    """The pixels ImageJ's RoiDecoder and ``Roi.getMask`` give one ROI, in ImageJ x and y."""
    kinds, subtypes = roifile.ROI_TYPE, roifile.ROI_SUBTYPE
    if roi.subtype in (subtypes.TEXT, subtypes.IMAGE, subtypes.ARROW):
        raise _refuse(roi.subtype.name.lower())
    if roi.composite:
        if roi.roitype != kinds.RECT:
            raise ValueError(f"a composite ROI of type {roi.roitype.name.lower()}")
        return geometry.composite_pixels(roi.multi_coordinates)
    if roi.roitype in (kinds.RECT, kinds.OVAL):
        if roi.subpixelrect:  # ImageJ keeps the whole pixels the float box starts in
            x, y = int(roi.xd), int(roi.yd)
            width, height = int(np.ceil(roi.widthd)), int(np.ceil(roi.heightd))
        else:
            x, y = roi.left, roi.top
            width, height = roi.right - roi.left, roi.bottom - roi.top
        if roi.roitype == kinds.OVAL:
            return geometry.oval_pixels(x, y, width, height)
        return geometry.rectangle_pixels(x, y, width, height, roi.rounded_rect_arc_size)
    if roi.roitype not in (kinds.POLYGON, kinds.FREEHAND, kinds.TRACED):
        raise _refuse(_IMAGEJ_NAMES.get(roi.roitype.name, roi.roitype.name.lower()))
    if roi.options & roifile.ROI_OPTIONS.SPLINE_FIT:
        raise _NotAMask(
            "is fitted with a spline, which is not read; in ImageJ, turn it into a "
            "polygon first (Edit > Selection > Interpolate)"
        )
    if roi.roitype == kinds.FREEHAND and roi.subtype in (subtypes.ELLIPSE, subtypes.ROTATED_RECT):
        (parameter,) = struct.unpack(roi.byteorder + "f", data[52:56])
        shape = (
            geometry.ellipse_pixels
            if roi.subtype == subtypes.ELLIPSE
            else geometry.rotated_rectangle_pixels
        )
        return shape(roi.x1, roi.y1, roi.x2, roi.y2, parameter)
    if not roi.n_coordinates:
        return None
    if roi.subpixelresolution:
        xy = roi.subpixel_coordinates
        return geometry.subpixel_polygon_pixels(xy[:, 0], xy[:, 1])
    xy = roi.integer_coordinates.copy()
    xy[xy >= 2**15] = 0  # ImageJ 1.53t reads them as signed and puts negatives at 0
    return geometry.integer_polygon_pixels(xy[:, 0] + roi.left, xy[:, 1] + roi.top)


_IMAGEJ_NAMES = {
    "LINE": "line",
    "POLYLINE": "segmented line",
    "FREELINE": "freehand line",
    "ANGLE": "angle",
    "POINT": "point",
    "NOROI": "empty",
}


def _clipped(crop: MaskCrop | None, image_shape) -> MaskCrop | None:
    """The part of an ROI inside the image (all of it at columns and rows >= 0 without a size)."""
    if crop is None:
        return None
    rows, columns = image_shape if image_shape is not None else (crop.bottom, crop.right)
    if crop.top >= 0 and crop.left >= 0 and crop.bottom <= rows and crop.right <= columns:
        return crop
    top, left = max(crop.top, 0), max(crop.left, 0)
    bottom, right = min(crop.bottom, rows), min(crop.right, columns)
    if top >= bottom or left >= right:
        return None
    window = crop.pixels[top - crop.top : bottom - crop.top, left - crop.left : right - crop.left]
    return MaskCrop.from_plane(window, origin=(top, left))


# -- writing ---------------------------------------------------------------------------------
def write_imagej_zip(path: Path, rois: RoiSet, *, overwrite: bool = False) -> Path:
    """Write each ROI to an ImageJ ``.zip`` as the outline of its pixels, atomically.

    A mask in one piece without holes becomes a traced ROI; one with holes or
    in several pieces a composite ROI of all its outlines. Either way ImageJ
    fills it back to exactly the mask's pixels. Each ROI is named after its
    id and records ``rois.image_shape`` (when known) in its properties. ROIs
    without pixels are left out (ImageJ has no empty ROI).

    Raises
    ------
    RoiFileError
        When no ROI has pixels (ImageJ cannot open a .zip without ROIs).
    FileExistsError
        If the file exists and ``overwrite`` is False.
    """
    roifile = _roifile(path)
    encoded = [
        (f"{roi.id}.roi", _encoded(roifile, roi, rois.image_shape))
        for roi in rois.rois
        if roi.crop is not None and roi.crop.area
    ]
    if not encoded:
        raise RoiFileError(f"{path}: no ROI has pixels; an ImageJ .zip needs at least one")

    def write(f):
        with zipfile.ZipFile(f, "w", zipfile.ZIP_DEFLATED) as archive:
            for member, data in encoded:
                archive.writestr(member, data)

    return write_atomically(path, write, overwrite=overwrite)


def _encoded(roifile, roi: RoiEntry, image_shape) -> bytes:
    crop = roi.crop
    origin = np.array([crop.left, crop.top])
    outlines = [outline + origin for outline in geometry.pixel_outlines(crop.pixels)]
    if len(outlines) == 1:
        imagej = roifile.ImagejRoi.frompoints(outlines[0].astype(np.int32), name=str(roi.id))
        imagej.roitype = roifile.ROI_TYPE.TRACED
        imagej.options = roifile.ROI_OPTIONS.NONE
    else:
        path = []
        for outline in outlines:
            steps = np.column_stack([np.full(len(outline), LINETO), outline]).ravel()
            steps[0] = MOVETO
            path.extend([*steps, CLOSE])
        imagej = roifile.ImagejRoi(
            roitype=roifile.ROI_TYPE.RECT,
            name=str(roi.id),
            shape_roi_size=len(path),
            multi_coordinates=np.asarray(path, dtype=np.float32),
        )
    # the box ImageJ's encoder writes: the outlines' extent (integer coordinates count from it)
    corners = np.concatenate(outlines)
    imagej.left, imagej.top = (int(v) for v in corners.min(axis=0))
    imagej.right, imagej.bottom = (int(v) for v in corners.max(axis=0))
    if image_shape is not None:
        imagej.props = (
            f"{IMAGE_HEIGHT_PROPERTY}: {int(image_shape[0])}\n"
            f"{IMAGE_WIDTH_PROPERTY}: {int(image_shape[1])}\n"
        )
    return imagej.tobytes()


FORMAT = RoiFormat(
    name=NAME,
    suffixes=(".roi", ".zip"),
    holds=FormatContents(masks=True, overlaps=True, ids=True, image_shape=True),
    reader=read_imagej,
    writer=write_imagej_zip,
    write_suffixes=(".zip",),
    described_as="ImageJ .roi/.zip",
)
