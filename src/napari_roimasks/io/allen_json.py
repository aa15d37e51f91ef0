"""The Allen pipeline's JSON masks: ROIs and neuropil masks as boxes with boolean crops.

A file is either a list of mask objects or an object ``{"rois": [...],
"motion_border": {"x0", "x1", "y0", "y1"}}``. Each mask object holds ``id``,
``x``, ``y`` (column and row of the box), ``width``, ``height`` and ``mask``
(rows of booleans; ``mask_matrix`` is accepted as an alias). The border's
``x0, x1, y0, y1`` are AllenSDK's ``[b0, b1, b2, b3]``: the left, right, top
and bottom bands. Each mask's ``valid`` is the pipeline's own flag. This
project also writes ``mask_group``, ``image_size`` and a curator's
``decision`` (``cell``, ``not_cell``, ``unlabeled``), ``reason``,
``decided_at`` (ISO 8601) and ``probability``, which the format has no field
for; readers that do not know them ignore them.

Decisions and ``valid``: written, ``valid`` is false exactly for a mask
decided not a cell. Read, a ``decision`` field wins; without one, ``valid:
false`` reads as not a cell and ``valid: true`` as unlabeled (the Allen
pipeline marks every usable ROI valid, which says nothing of whether a
curator judged it a cell).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, replace
from datetime import datetime
from numbers import Integral
from pathlib import Path

import numpy as np

from ..core.border import MotionBorder
from ..core.masks import MaskCrop
from .atomic import write_atomically
from .decision_text import decided_at_text, read_decision
from .roi_set import Decision, RoiFileError

__all__ = ["AllenMask", "AllenMasksFile", "read_allen_masks", "write_allen_masks"]


@dataclass(frozen=True)
class AllenMask:
    """One mask of an Allen JSON file.

    ``decision`` None (a neuropil mask, say) writes no curation fields; read
    back, it is the file's ``decision``, else not a cell where ``valid`` is
    false, else unlabeled.
    """

    id: object
    crop: MaskCrop | None  # None: a mask with no pixels
    mask_group: int = -1
    valid: bool = True
    decision: Decision | None = None
    reason: str = ""
    decided_at: datetime | None = None
    probability: float | None = None


@dataclass(frozen=True)
class AllenMasksFile:
    """What an Allen JSON masks file holds.

    Attributes
    ----------
    masks : list of AllenMask
    border : MotionBorder or None
        The file's motion border, when it has one.
    image_shape : (rows, columns) or None
        The frame size, when the file records it (this project's ``image_size``).
    """

    masks: list
    border: MotionBorder | None = None
    image_shape: tuple[int, int] | None = None


def _check_mask(path: Path, index: int, entry) -> AllenMask:
    where = f"{path}: mask {index}"
    if not isinstance(entry, dict):
        raise RoiFileError(f"{where} is not an object with id, x, y, width, height and mask")
    if "mask" not in entry and "mask_matrix" in entry:
        entry = {**entry, "mask": entry["mask_matrix"]}
    missing = [key for key in ("id", "x", "y", "width", "height", "mask") if key not in entry]
    if missing:
        raise RoiFileError(f"{where} (id {entry.get('id', '?')}) lacks {', '.join(missing)}")
    where = f"{path}: mask {index} (id {entry['id']})"
    if isinstance(entry["id"], bool) or not isinstance(entry["id"], (Integral, str)):
        raise RoiFileError(f"{where}: id must be a whole number or text, got {entry['id']!r}")
    group = entry.get("mask_group", -1)
    if isinstance(group, bool) or not isinstance(group, Integral):
        raise RoiFileError(f"{where}: mask_group must be a whole number, got {group!r}")
    for key in ("x", "y", "width", "height"):
        value = entry[key]
        if isinstance(value, bool) or not isinstance(value, Integral) or value < 0:
            raise RoiFileError(f"{where}: {key} must be a whole number >= 0, got {value!r}")
    try:
        pixels = np.asarray(entry["mask"], dtype=float)
    except (TypeError, ValueError):
        raise RoiFileError(f"{where}: mask must be rows of true/false values") from None
    valid = entry.get("valid", True)
    if valid not in (True, False):  # 1 and 0 too
        raise RoiFileError(f"{where}: valid must be true or false, got {valid!r}")
    valid = bool(valid)
    curated = _curation(where, entry, valid)
    if pixels.size == 0 and entry["width"] * entry["height"] == 0:
        return replace(curated, id=entry["id"], mask_group=int(group))
    if pixels.shape != (entry["height"], entry["width"]):
        raise RoiFileError(
            f"{where}: mask is {pixels.shape[0] if pixels.ndim else 0} rows x "
            f"{pixels.shape[1] if pixels.ndim > 1 else 0} columns but height x width is "
            f"{entry['height']} x {entry['width']}"
        )
    crop = MaskCrop(int(entry["y"]), int(entry["x"]), pixels != 0)
    return replace(
        curated, id=entry["id"], crop=crop if crop.pixels.any() else None, mask_group=int(group)
    )


def _curation(where: str, entry: dict, valid: bool) -> AllenMask:
    """An AllenMask holding only ``valid`` and the decision the mask's fields give."""
    fallback = Decision.UNLABELED if valid else Decision.NOT_CELL
    try:
        decision, reason, when, probability = read_decision(
            entry.get("decision", fallback.value),
            entry.get("reason", ""),
            entry.get("decided_at"),
            entry.get("probability"),
        )
    except ValueError as error:
        raise RoiFileError(f"{where}: {error}") from None
    if not isinstance(entry.get("reason", ""), str):
        raise RoiFileError(f"{where}: reason must be text, got {entry['reason']!r}")
    return AllenMask(None, None, -1, valid, decision, reason, when, probability)


def read_allen_masks(path, *, image_shape=None) -> AllenMasksFile:
    """Read an Allen JSON masks file.

    Parameters
    ----------
    path : str or os.PathLike
    image_shape : (rows, columns), optional
        The movie's frame size: every mask must lie inside it, and it must
        equal the size the file records, if any.

    Returns
    -------
    AllenMasksFile

    Raises
    ------
    RoiFileError
        For a missing or unreadable file, missing keys, masks of the wrong
        size or outside the image, or a recorded size that is not the movie's.
    """
    path = Path(os.fspath(path))
    if not path.is_file():
        raise RoiFileError(f"{path}: no such file" if not path.exists() else f"{path}: not a file")
    try:
        content = json.loads(path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise RoiFileError(f"{path}: not a JSON file ({error})") from None
    except RecursionError:
        raise RoiFileError(f"{path}: JSON nested too deeply to be Allen masks") from None
    border = recorded = None
    if isinstance(content, dict):
        if "rois" not in content:
            raise RoiFileError(f"{path}: expected a list of masks or an object with 'rois'")
        if content.get("motion_border") is not None:
            mb = content["motion_border"]
            try:
                border = MotionBorder.from_allen([mb["x0"], mb["x1"], mb["y0"], mb["y1"]])
            except (KeyError, TypeError, ValueError) as error:
                raise RoiFileError(
                    f"{path}: motion_border must hold x0, x1, y0, y1 >= 0 ({error})"
                ) from error
        recorded = _image_size(path, content.get("image_size"))
        content = content["rois"]
    if not isinstance(content, list):
        raise RoiFileError(f"{path}: expected a list of masks")
    masks = [_check_mask(path, i, entry) for i, entry in enumerate(content)]
    if image_shape is not None and recorded is not None and tuple(image_shape) != recorded:
        raise RoiFileError(
            f"{path}: the ROIs were drawn on a {recorded[1]}x{recorded[0]} image but the movie's "
            f"frames are {image_shape[1]}x{image_shape[0]}"
        )
    inside = image_shape or recorded
    if inside is not None:
        h, w = inside
        for i, mask in enumerate(masks):
            crop = mask.crop
            if crop is not None and (crop.bottom > h or crop.right > w):
                raise RoiFileError(
                    f"{path}: mask {i} (id {mask.id}) reaches row {crop.bottom - 1}, column "
                    f"{crop.right - 1}, outside the {w}x{h} image"
                )
    return AllenMasksFile(masks, border, recorded)


def _image_size(path: Path, size) -> tuple[int, int] | None:
    """``(rows, columns)`` from an ``image_size`` entry ``{"width", "height"}``; None when absent."""
    if size is None:
        return None
    values = [size.get(key) for key in ("height", "width")] if isinstance(size, dict) else []
    if len(values) != 2 or not all(
        isinstance(v, Integral) and not isinstance(v, bool) and v > 0 for v in values
    ):
        raise RoiFileError(
            f'{path}: image_size must be {{"width": W, "height": H}} with whole numbers > 0, '
            f"got {size!r}"
        )
    return int(values[0]), int(values[1])


def write_allen_masks(
    path,
    masks,
    *,
    border: MotionBorder | None = None,
    image_shape=None,
    overwrite: bool = False,
) -> Path:
    """Write masks as Allen JSON (atomically).

    Parameters
    ----------
    masks : sequence of RoiMask/NeuropilMask (AllenSDK-compatible) or AllenMask
        RoiMask labels become ``id``; ``valid`` is False for a mask AllenSDK excludes.
    border : MotionBorder, optional
        Written as ``motion_border`` (the file is then an object with ``rois``).
    image_shape : (rows, columns), optional
        The frame size, written as ``image_size`` (the file is then an object with ``rois``).
    overwrite : bool
        Replace an existing file.
    """
    from ..roi_masks import validate_mask

    entries = []
    for mask in masks:
        curation = {}
        if isinstance(mask, AllenMask):
            crop, ident, group, valid = mask.crop, mask.id, mask.mask_group, mask.valid
            curation = _curation_fields(mask)
        else:
            crop = (
                None
                if mask.mask is None
                else MaskCrop(int(mask.y), int(mask.x), np.asarray(mask.mask) != 0)
            )
            # AllenSDK's neuropil box may be wider than its pixels: it is written as it is
            ident, group, valid = mask.label, mask.mask_group, not validate_mask(mask)
        entries.append(
            {
                "id": _json_id(ident),
                "x": 0 if crop is None else crop.left,
                "y": 0 if crop is None else crop.top,
                "width": 0 if crop is None else crop.pixels.shape[1],
                "height": 0 if crop is None else crop.pixels.shape[0],
                "mask": [] if crop is None else crop.pixels.tolist(),
                "mask_group": int(group) if group is not None else -1,
                "valid": bool(valid),
                **curation,
            }
        )
    content = entries
    if border is not None or image_shape is not None:
        content = {"rois": entries}
    if border is not None:
        content["motion_border"] = dict(
            zip(("x0", "x1", "y0", "y1"), border.as_allen(), strict=True)
        )
    if image_shape is not None:
        content["image_size"] = {"width": int(image_shape[1]), "height": int(image_shape[0])}
    text = json.dumps(content)
    return write_atomically(path, lambda f: f.write(text.encode()), overwrite=overwrite)


def _curation_fields(mask: AllenMask) -> dict:
    """The extra fields of a mask's decision: none without one; reason, time and
    probability only where known."""
    if mask.decision is None:
        return {}
    fields = {"decision": Decision(mask.decision).value}
    if mask.reason:
        fields["reason"] = str(mask.reason)
    if mask.decided_at is not None:
        fields["decided_at"] = decided_at_text(mask.decided_at)
    if mask.probability is not None:
        fields["probability"] = float(mask.probability)
    return fields


def _json_id(ident):
    if isinstance(ident, np.integer):
        return int(ident)
    return ident
