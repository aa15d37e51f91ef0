"""ROI files of every kind the plugin reads and writes, behind one pair of functions.

| file | read | write | holds |
| --- | --- | --- | --- |
| ``*.roimasks.h5`` (this project's) | yes | yes | masks (overlaps kept), ids, groups, border, ring options, image size, version |
| ``*.json`` (Allen pipeline) | yes | yes | masks, ids, border; groups only as this project's extra field |
| ``*.zip`` / ``*.roi`` (ImageJ/Fiji) | yes | yes (zip) | outlines (polygon, freehand, rectangle, oval); not groups or the border; a mask with holes or in pieces keeps its largest outline |
| ``*.npy`` / ``*.tif`` label image (e.g. cellpose) | yes | yes | one label per pixel: no overlaps, no groups, no border |
| suite2p ``stat.npy`` (+ ``iscell.npy`` beside it) | yes | no | pixels; ``iscell`` becomes the group (1 cell, 0 not) |
| ``*.nwb`` (needs pynwb) | yes | yes | masks (overlaps kept), ids, groups, image size; not the border (see :mod:`.nwb`) |

Every write is atomic and replaces a file only with ``overwrite=True``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..core.border import MotionBorder
from ..core.geometry import labels_from_masks, mask_outlines, rasterise_shape
from ..core.masks import MaskCrop
from ..core.neuropil import RingOptions
from ..core.rings import roi_crops_from_labels
from .allen_json import RoiFileError, read_allen_masks, write_allen_masks
from .atomic import write_atomically

__all__ = ["RoiEntry", "RoiFileError", "RoiSet", "read_rois", "write_rois"]

OWN_SUFFIX = ".roimasks.h5"


@dataclass(frozen=True)
class RoiEntry:
    """One ROI: its id, its pixels (None: none) and its group."""

    id: object
    crop: MaskCrop | None
    mask_group: int = -1


@dataclass
class RoiSet:
    """What an ROI file holds."""

    rois: list[RoiEntry]
    border: MotionBorder | None = None
    image_shape: tuple[int, int] | None = None
    ring_options: RingOptions | None = None
    version: str | None = None
    kind: str = field(default="")


def _kind(path: Path) -> str:
    name = path.name.lower()
    if name.endswith(OWN_SUFFIX):
        return "own"
    suffix = path.suffix.lower()
    if suffix == ".json":
        return "allen"
    if suffix in (".zip", ".roi"):
        return "imagej"
    if suffix in (".npy", ".tif", ".tiff"):
        return "array"
    if suffix == ".nwb":
        return "nwb"
    raise RoiFileError(
        f"{path}: unknown ROI format; expected {OWN_SUFFIX}, Allen .json, ImageJ .roi/.zip, "
        "a label image (.npy, .tif), suite2p's stat.npy or NWB (.nwb)"
    )


# -- reading ----------------------------------------------------------------------------------
def read_rois(path, *, image_shape=None) -> RoiSet:
    """Read any ROI file this project knows (see the module's table).

    Parameters
    ----------
    path : str or os.PathLike
    image_shape : (rows, columns), optional
        The movie's frame size: ROIs must lie inside it, and formats that do
        not record the image size (ImageJ, suite2p, Allen JSON) take it from here.

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
    kind = _kind(path)
    if kind == "allen":
        masks, border = read_allen_masks(path, image_shape=image_shape)
        result = RoiSet(
            [RoiEntry(m.id, m.crop, m.mask_group) for m in masks],
            border,
            image_shape,
            kind="Allen JSON",
        )
    elif kind == "own":
        result = _read_own(path)
    elif kind == "imagej":
        result = _read_imagej(path, image_shape)
    elif kind == "nwb":
        from .nwb import read_nwb_rois

        result = read_nwb_rois(path)
    else:
        result = _read_array(path)
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


def _read_array(path: Path) -> RoiSet:
    try:
        if path.suffix.lower() == ".npy":
            array = np.load(path, allow_pickle=False)
        else:
            import tifffile

            array = tifffile.imread(path)
    except ValueError as error:
        if "allow_pickle" in str(error):  # an object array: suite2p's stat.npy
            return _read_suite2p(path)
        raise RoiFileError(f"{path}: not a readable label image ({error})") from None
    except Exception as error:  # numpy and tifffile raise many kinds for broken files
        raise RoiFileError(f"{path}: not a readable label image ({error})") from None
    if array.ndim != 2 or array.dtype.kind not in "iub":
        raise RoiFileError(
            f"{path}: expected a 2D image of whole-number labels, got {array.dtype} of shape {array.shape}"
        )
    if array.dtype.kind == "i" and array.size and array.min() < 0:
        raise RoiFileError(f"{path}: a label image must not hold negative labels")
    crops = roi_crops_from_labels(array.astype(np.int64, copy=False))
    return RoiSet(
        [RoiEntry(int(k), c) for k, c in crops.items()], image_shape=array.shape, kind="label image"
    )


def _read_suite2p(path: Path) -> RoiSet:
    stat = np.load(path, allow_pickle=True)  # suite2p saves a pickle: load only files you trust
    if (
        stat.dtype != object
        or stat.ndim != 1
        or not all(isinstance(s, dict) and "ypix" in s and "xpix" in s for s in stat)
    ):
        raise RoiFileError(
            f"{path}: expected suite2p's stat.npy (a list of dicts with ypix and xpix)"
        )
    iscell_path = path.with_name("iscell.npy")
    groups = np.full(len(stat), -1)
    if iscell_path.is_file():
        iscell = np.load(iscell_path)
        if len(iscell) != len(stat):
            raise RoiFileError(
                f"{iscell_path}: {len(iscell)} rows but stat.npy has {len(stat)} ROIs"
            )
        groups = np.asarray(iscell).reshape(len(stat), -1)[:, 0].astype(int)
    image_shape = None
    ops_path = path.with_name("ops.npy")
    if ops_path.is_file():
        ops = np.load(ops_path, allow_pickle=True).item()
        if "Ly" in ops and "Lx" in ops:
            image_shape = (int(ops["Ly"]), int(ops["Lx"]))
    rois = []
    for i, s in enumerate(stat):
        rows, columns = np.asarray(s["ypix"], dtype=np.int64), np.asarray(s["xpix"], dtype=np.int64)
        if rows.size == 0:
            rois.append(RoiEntry(i, None, int(groups[i])))
            continue
        if rows.min() < 0 or columns.min() < 0:
            raise RoiFileError(f"{path}: ROI {i} has negative pixel coordinates")
        top, left = int(rows.min()), int(columns.min())
        pixels = np.zeros((rows.max() - top + 1, columns.max() - left + 1), dtype=bool)
        pixels[rows - top, columns - left] = True
        rois.append(RoiEntry(i, MaskCrop(top, left, pixels), int(groups[i])))
    return RoiSet(rois, image_shape=image_shape, kind="suite2p stat.npy")


def _read_imagej(path: Path, image_shape) -> RoiSet:
    try:
        import roifile
    except ImportError as error:  # pragma: no cover - a dependency
        raise RoiFileError(f"{path}: reading ImageJ ROIs needs roifile ({error})") from error

    try:
        rois = roifile.roiread(path)
    except Exception as error:  # roifile raises many kinds for broken files
        raise RoiFileError(f"{path}: not a readable ImageJ ROI file ({error})") from None
    rois = rois if isinstance(rois, list) else [rois]
    shape = image_shape or _imagej_extent(rois)
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
        if roi.roitype == roifile.ROI_TYPE.OVAL or (
            roi.roitype == roifile.ROI_TYPE.RECT and not roi.n_coordinates
        ):
            # ImageJ stores these as a box; its pixels' corners run from left to right
            corners = np.array(
                [
                    [roi.top, roi.left],
                    [roi.top, roi.right],
                    [roi.bottom, roi.right],
                    [roi.bottom, roi.left],
                ],
                dtype=float,
            )
        else:
            xy = roi.coordinates()
            corners = np.column_stack([xy[:, 1], xy[:, 0]]).astype(float)
        # ImageJ puts pixel (x, y)'s centre at (x + 0.5, y + 0.5); napari and this project at (x, y)
        vertices = corners - 0.5
        crop = rasterise_shape(vertices, kind, 1.0, shape)
        entries.append(RoiEntry(roi.name or str(i + 1), crop))
    return RoiSet(entries, image_shape=image_shape, kind="ImageJ ROIs")


def _imagej_extent(rois) -> tuple[int, int]:
    bottom = max(int(np.ceil(r.bottom)) for r in rois) if rois else 1
    right = max(int(np.ceil(r.right)) for r in rois) if rois else 1
    return bottom + 1, right + 1


def _read_own(path: Path) -> RoiSet:
    import h5py

    try:
        with h5py.File(path, "r") as f:
            group = f["rois"]
            ids = [i.decode() if isinstance(i, bytes) else i for i in group["ids"][()]]
            id_kinds = group["id_is_int"][()]
            boxes = group["boxes"][()]
            pixels = np.unpackbits(group["pixels"][()]).astype(bool)
            groups = group["mask_groups"][()]
            attrs = dict(f.attrs)
    except (OSError, KeyError) as error:
        raise RoiFileError(f"{path}: not a napari-roimasks masks file ({error})") from None
    rois, offset = [], 0
    for ident, as_int, (top, left, height, width), mask_group in zip(
        ids, id_kinds, boxes, groups, strict=True
    ):
        n = int(height) * int(width)
        crop = None
        if n:
            crop = MaskCrop(
                int(top), int(left), pixels[offset : offset + n].reshape(int(height), int(width))
            )
        offset += n
        rois.append(RoiEntry(int(ident) if as_int else ident, crop, int(mask_group)))
    border = MotionBorder.from_allen(attrs["motion_border"]) if "motion_border" in attrs else None
    options = None
    if "ring_options" in attrs:
        options = RingOptions(*(int(v) for v in attrs["ring_options"]))
    shape = tuple(int(v) for v in attrs["image_shape"]) if "image_shape" in attrs else None
    version = attrs.get("napari_roimasks_version")
    return RoiSet(
        rois,
        border,
        shape,
        options,
        str(version) if version is not None else None,
        kind="napari-roimasks",
    )


# -- writing ----------------------------------------------------------------------------------
def write_rois(path, rois: RoiSet, *, overwrite: bool = False) -> Path:
    """Write ROIs in the format the file name asks for (see the module's table).

    Raises
    ------
    RoiFileError
        For a format that cannot be written, or ROIs it cannot hold (e.g. a
        label image needs the image size and keeps one ROI per pixel).
    FileExistsError
        If the file exists and ``overwrite`` is False.
    """
    path = Path(os.fspath(path))
    kind = _kind(path)
    if kind == "allen":
        from .allen_json import AllenMask

        masks = [AllenMask(r.id, r.crop, r.mask_group) for r in rois.rois]
        return write_allen_masks(path, masks, border=rois.border, overwrite=overwrite)
    if kind == "own":
        return _write_own(path, rois, overwrite)
    if kind == "nwb":
        from .nwb import write_nwb

        return write_nwb(path, rois, overwrite=overwrite)
    if kind == "imagej":
        if path.suffix.lower() != ".zip":
            raise RoiFileError(f"{path}: several ROIs go into an ImageJ .zip")
        return _write_imagej(path, rois, overwrite)
    if path.suffix.lower() != ".npy" and path.suffix.lower() not in (".tif", ".tiff"):
        raise RoiFileError(f"{path}: cannot write this format")
    return _write_label_image(path, rois, overwrite)


def _write_own(path: Path, rois: RoiSet, overwrite: bool) -> Path:
    import h5py

    from .. import __version__

    boxes, chunks = [], []
    for roi in rois.rois:
        crop = roi.crop
        boxes.append((0, 0, 0, 0) if crop is None else (crop.top, crop.left, *crop.pixels.shape))
        if crop is not None:
            chunks.append(crop.pixels.ravel())
    pixels = np.packbits(np.concatenate(chunks)) if chunks else np.zeros(0, np.uint8)

    def write(f):
        with h5py.File(f, "w") as h5:
            group = h5.create_group("rois")
            group["ids"] = np.array([str(r.id).encode() for r in rois.rois], dtype="S")
            group["id_is_int"] = np.array(
                [isinstance(r.id, (int, np.integer)) for r in rois.rois], dtype=bool
            )
            group["boxes"] = np.array(boxes, dtype=np.int64).reshape(-1, 4)
            group["pixels"] = pixels
            group["mask_groups"] = np.array([r.mask_group for r in rois.rois], dtype=np.int64)
            h5.attrs["napari_roimasks_version"] = __version__
            if rois.border is not None:
                h5.attrs["motion_border"] = rois.border.as_allen()
            if rois.ring_options is not None:
                o = rois.ring_options
                h5.attrs["ring_options"] = [o.outer_radius, o.inner_gap, o.min_pixels]
            if rois.image_shape is not None:
                h5.attrs["image_shape"] = list(rois.image_shape)

    return write_atomically(path, write, overwrite=overwrite)


def _write_imagej(path: Path, rois: RoiSet, overwrite: bool) -> Path:
    import io
    import zipfile

    import roifile

    def write(f):
        with zipfile.ZipFile(f, "w", zipfile.ZIP_DEFLATED) as archive:
            for roi in rois.rois:
                if roi.crop is None:
                    continue
                (outline,) = mask_outlines([roi.crop])
                points = (
                    np.column_stack([outline[:, 1], outline[:, 0]]) + 0.5
                )  # to ImageJ's pixel corners
                imagej = roifile.ImagejRoi.frompoints(points, name=str(roi.id))
                imagej.roitype = roifile.ROI_TYPE.POLYGON
                data = io.BytesIO(imagej.tobytes()).getvalue()
                archive.writestr(f"{roi.id}.roi", data)

    return write_atomically(path, write, overwrite=overwrite)


def _write_label_image(path: Path, rois: RoiSet, overwrite: bool) -> Path:
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
