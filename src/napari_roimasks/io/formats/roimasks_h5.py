"""This project's ``*.roimasks.h5``: everything an ROI session needs, overlaps included.

Layout: the group ``rois`` holds ``ids`` (bytes), ``id_is_int`` (bool),
``boxes`` ((n, 4) int64: top, left, height, width), ``pixels`` (every box's
pixels, row by row, one after the other, bit-packed) and ``mask_groups``,
and each ROI's curation: ``decisions`` (text: cell, not_cell, unlabeled),
``reasons`` (text), ``decided_at`` (ISO 8601 text with the zone; "" unknown)
and ``probabilities`` (float64; NaN unknown). Files written before decisions
existed lack those four and read as unlabeled. The file's attributes hold ``napari_roimasks_version`` and, when known,
``motion_border`` (AllenSDK's [left, right, top, bottom]), ``ring_options``
([outer_radius, inner_gap, min_pixels]) and ``image_shape`` ([rows, columns]).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ...core.border import MotionBorder
from ...core.masks import MaskCrop
from ...core.neuropil import RingOptions
from ..atomic import atomic_path
from ..decision_text import decision_fields, with_decision
from ..roi_set import RoiEntry, RoiFileError, RoiSet
from .base import FormatContents, RoiFormat

__all__ = ["FORMAT", "read_roimasks_h5", "write_roimasks_h5", "write_rois_into"]

NAME = "napari-roimasks"
SUFFIX = ".roimasks.h5"


def read_roimasks_h5(path: Path, *, image_shape=None) -> RoiSet:
    """The ROIs (with their decisions), border, ring options and image size of a
    ``*.roimasks.h5`` file.

    Parameters
    ----------
    path : Path
    image_shape : (rows, columns), optional
        Not needed: the file records its image size (the caller checks the two agree).

    Raises
    ------
    RoiFileError
        When the file is not a napari-roimasks masks file, or holds a decision,
        time or probability that is not one (naming the ROI).
    """
    import h5py

    try:
        with h5py.File(path, "r") as f:
            group = f["rois"]
            ids = [i.decode() if isinstance(i, bytes) else i for i in group["ids"][()]]
            id_kinds = group["id_is_int"][()]
            boxes = group["boxes"][()]
            pixels = np.unpackbits(group["pixels"][()]).astype(bool)
            groups = group["mask_groups"][()]
            curation = _curation(group, len(ids))
            attrs = dict(f.attrs)
    except OSError:
        raise RoiFileError(
            f"{path}: not an HDF5 file; expected ROIs saved by napari-roimasks"
        ) from None
    except KeyError as error:
        raise RoiFileError(
            f"{path}: an HDF5 file without napari-roimasks ROIs ({error.args[0] if error.args else error})"
        ) from None
    except (ValueError, TypeError, UnicodeDecodeError) as error:  # e.g. "rois" not a group
        raise RoiFileError(
            f"{path}: an inconsistent napari-roimasks masks file ({error})"
        ) from None
    try:  # a file cut short or edited by hand: sizes, boxes or settings that do not fit
        rois, offset = [], 0
        for ident, as_int, (top, left, height, width), mask_group in zip(
            ids, id_kinds, boxes, groups, strict=True
        ):
            n = int(height) * int(width)
            crop = None
            if n:
                crop = MaskCrop(
                    int(top),
                    int(left),
                    pixels[offset : offset + n].reshape(int(height), int(width)),
                )
            offset += n
            rois.append(RoiEntry(int(ident) if as_int else ident, crop, int(mask_group)))
        rois = _with_curation(path, rois, curation)
        border = (
            MotionBorder.from_allen(attrs["motion_border"]) if "motion_border" in attrs else None
        )
        options = None
        if "ring_options" in attrs:
            options = RingOptions(*(int(v) for v in attrs["ring_options"]))
        shape = tuple(int(v) for v in attrs["image_shape"]) if "image_shape" in attrs else None
        if shape is not None and (len(shape) != 2 or min(shape) < 1):
            raise ValueError(f"image_shape must be (rows, columns) > 0, got {shape}")
        version = attrs.get("napari_roimasks_version")
    except RoiFileError:
        raise
    except (ValueError, TypeError, IndexError) as error:
        raise RoiFileError(
            f"{path}: an inconsistent napari-roimasks masks file ({error})"
        ) from None
    return RoiSet(
        rois,
        border,
        shape,
        options,
        str(version) if version is not None else None,
        kind=NAME,
    )


#: The curation datasets of the group ``rois``, in the order of ``decision_fields``.
_CURATION = ("decisions", "reasons", "decided_at", "probabilities")


def _curation(group, n: int) -> list | None:
    """The four curation columns (decisions, reasons, times, probabilities); None for a file
    written before decisions existed."""
    if not any(name in group for name in _CURATION):
        return None
    missing = [name for name in _CURATION if name not in group]
    if missing:
        raise KeyError(f"rois/{missing[0]}")
    columns = [
        group[name].asstr()[()] if name != "probabilities" else group[name][()]
        for name in _CURATION
    ]
    if any(len(column) != n for column in columns):
        raise ValueError(f"the curation columns do not hold one value for each of the {n} ROIs")
    return columns


def _with_curation(path: Path, rois: list, curation: list | None) -> list:
    if curation is None:
        return rois
    checked = []
    for roi, *fields in zip(rois, *curation, strict=True):
        try:
            checked.append(with_decision(roi, *fields))
        except ValueError as error:
            raise RoiFileError(f"{path}: ROI {roi.id}: {error}") from None
    return checked


def write_roimasks_h5(path: Path, rois: RoiSet, *, overwrite: bool = False) -> Path:
    """Write everything ``rois`` holds to a ``*.roimasks.h5`` file, atomically.

    Raises
    ------
    FileExistsError
        If the file exists and ``overwrite`` is False.
    """
    import h5py

    # a file name, not a file object: h5py reads back while it writes variable-length text
    with atomic_path(path, overwrite=overwrite) as temporary, h5py.File(temporary, "w") as h5:
        write_rois_into(h5, rois)
    return Path(path)


def write_rois_into(h5, rois: RoiSet) -> None:
    """Write ``rois`` into an open, empty HDF5 file in this format's layout (a session file
    adds its own groups beside them: :mod:`napari_roimasks.io.session_file`)."""
    import h5py

    from ... import __version__

    boxes, chunks = [], []
    for roi in rois.rois:
        crop = roi.crop
        boxes.append((0, 0, 0, 0) if crop is None else (crop.top, crop.left, *crop.pixels.shape))
        if crop is not None:
            chunks.append(crop.pixels.ravel())
    pixels = np.packbits(np.concatenate(chunks)) if chunks else np.zeros(0, np.uint8)
    curation = list(zip(*(decision_fields(r) for r in rois.rois), strict=True)) or [()] * 4

    group = h5.create_group("rois")
    group["ids"] = np.array([str(r.id).encode() for r in rois.rois], dtype="S")
    group["id_is_int"] = np.array(
        [isinstance(r.id, (int, np.integer)) for r in rois.rois], dtype=bool
    )
    group["boxes"] = np.array(boxes, dtype=np.int64).reshape(-1, 4)
    group["pixels"] = pixels
    group["mask_groups"] = np.array([r.mask_group for r in rois.rois], dtype=np.int64)
    text = h5py.string_dtype()
    for name, column in zip(_CURATION, curation, strict=True):
        kind = np.float64 if name == "probabilities" else text
        group.create_dataset(name, data=np.array(column, dtype=kind), dtype=kind)
    h5.attrs["napari_roimasks_version"] = __version__
    if rois.border is not None:
        h5.attrs["motion_border"] = rois.border.as_allen()
    if rois.ring_options is not None:
        o = rois.ring_options
        h5.attrs["ring_options"] = [o.outer_radius, o.inner_gap, o.min_pixels]
    if rois.image_shape is not None:
        h5.attrs["image_shape"] = list(rois.image_shape)


FORMAT = RoiFormat(
    name=NAME,
    suffixes=(SUFFIX,),
    holds=FormatContents(
        masks=True,
        overlaps=True,
        ids=True,
        groups=True,
        border=True,
        ring_options=True,
        image_shape=True,
        decisions=True,
    ),
    reader=read_roimasks_h5,
    writer=write_roimasks_h5,
    write_suffixes=(SUFFIX,),
    described_as=SUFFIX,
)
