"""What an ROI file format declares: its name, suffixes, what it can hold, its reader and writer."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from pathlib import Path

from ..roi_set import RoiSet

__all__ = ["FormatContents", "RoiFormat", "RoiReader", "RoiWriter"]

#: ``reader(path, *, image_shape) -> RoiSet``; ``image_shape`` is None or (rows, columns).
RoiReader = Callable[..., RoiSet]
#: ``writer(path, rois, *, overwrite) -> Path``; atomic, refusing ROIs the format cannot hold.
RoiWriter = Callable[..., Path]


@dataclass(frozen=True)
class FormatContents:
    """What a format can hold: each True field comes back from a round trip as written.

    Attributes
    ----------
    masks : bool
        Each ROI's pixels.
    overlaps : bool
        ROIs that share pixels (a label image cannot).
    ids : bool
        Each ROI's id.
    groups : bool
        Each ROI's ``mask_group``.
    border : bool
        The motion border.
    ring_options : bool
        How the neuropil rings are drawn (outer radius, inner gap, minimum pixels).
    image_shape : bool
        The frame size the ROIs were drawn on.
    decisions : bool
        Each ROI's curation: decision (cell, not cell, unlabeled), reason, when
        it was made and a classifier's cell probability.
    """

    masks: bool = True
    overlaps: bool = False
    ids: bool = False
    groups: bool = False
    border: bool = False
    ring_options: bool = False
    image_shape: bool = False
    decisions: bool = False

    def names(self) -> tuple[str, ...]:
        """What the format holds, in words: e.g. ``("masks", "ids", "image size")``."""
        words = {"ring_options": "ring options", "image_shape": "image size"}
        return tuple(words.get(f.name, f.name) for f in fields(self) if getattr(self, f.name))


@dataclass(frozen=True)
class RoiFormat:
    """One ROI file format, as the registry (:mod:`napari_roimasks.io.formats`) lists it.

    Attributes
    ----------
    name : str
        What messages and ``napari-roimasks info`` call it (also ``RoiSet.kind``).
    suffixes : tuple of str
        Lower-case file name endings it reads, with the dot (``".roimasks.h5"``).
    holds : FormatContents
        What it can hold.
    reader : RoiReader
        ``reader(path, *, image_shape)``: the ROIs of a file of this format.
    writer : RoiWriter or None
        ``writer(path, rois, *, overwrite)``; None for a read-only format.
    write_suffixes : tuple of str
        The endings it writes (a subset of ``suffixes``; empty when read-only).
    described_as : str
        How the list of known formats in an error message names it (``"Allen .json"``).
    recognises : callable or None
        ``recognises(path) -> bool``, for a format that shares a suffix with
        another: whether the file's content is this format's. None: the suffix decides.
    """

    name: str
    suffixes: tuple[str, ...]
    holds: FormatContents
    reader: RoiReader
    writer: RoiWriter | None
    write_suffixes: tuple[str, ...]
    described_as: str
    recognises: Callable[[Path], bool] | None = None

    def __post_init__(self) -> None:
        if not set(self.write_suffixes) <= set(self.suffixes):
            raise ValueError(f"{self.name}: write_suffixes must be among suffixes")
        if (self.writer is None) != (not self.write_suffixes):
            raise ValueError(f"{self.name}: a format writes suffixes exactly when it has a writer")

    def matching_suffix(self, path) -> str | None:
        """The longest of ``suffixes`` that ``path``'s name ends with; None if none does."""
        name = Path(path).name.lower()
        found = [suffix for suffix in self.suffixes if name.endswith(suffix)]
        return max(found, key=len) if found else None
