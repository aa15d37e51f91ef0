"""The registry of ROI file formats: which format a file is, and what each one holds.

Each format is one module here declaring a :class:`RoiFormat` named ``FORMAT``
(name, suffixes, what it holds, reader, writer). The dispatcher
(:func:`napari_roimasks.io.roi_files.read_rois` / ``write_rois``), the napari
reader and writer and the command line ask this registry rather than keep
their own lists. A new format is a new module and a line in ``ROI_FORMATS``
(and its suffixes in ``napari.yaml``, which a test keeps equal to the registry).

Nothing here imports h5py, tifffile, roifile or pynwb until a file is read or written.
"""

from __future__ import annotations

from pathlib import Path

from ..roi_set import RoiFileError
from . import allen_json, imagej, label_image, nwb, roimasks_h5, suite2p
from .base import FormatContents, RoiFormat

__all__ = [
    "ROI_FORMATS",
    "FormatContents",
    "RoiFormat",
    "format_for",
    "read_suffixes",
    "writable_format_for",
    "write_suffixes",
]

#: Every ROI format, in the order error messages and napari's save dialog list them.
ROI_FORMATS: tuple[RoiFormat, ...] = (
    roimasks_h5.FORMAT,
    allen_json.FORMAT,
    imagej.FORMAT,
    label_image.FORMAT,
    suite2p.FORMAT,
    nwb.FORMAT,
)


def _unknown(path) -> RoiFileError:
    described = [f.described_as for f in ROI_FORMATS]
    return RoiFileError(
        f"{path}: unknown ROI format; expected {', '.join(described[:-1])} or {described[-1]}"
    )


def _by_longest_suffix(path, suffixes_of) -> list[RoiFormat]:
    """The formats whose suffix (``suffixes_of(format)``) ends ``path``'s name, longest suffix only."""
    name = Path(path).name.lower()
    found = {}
    for form in ROI_FORMATS:
        lengths = [len(s) for s in suffixes_of(form) if name.endswith(s)]
        if lengths:
            found[form] = max(lengths)
    longest = max(found.values(), default=0)
    return [form for form, length in found.items() if length == longest]


def format_for(path) -> RoiFormat:
    """The format of the ROI file at ``path``, for reading.

    The longest matching suffix decides (``.roimasks.h5`` is this project's
    file, not any HDF5). Where formats share a suffix, one that recognises the
    file's content wins (a ``.npy`` holding an object array is suite2p's
    ``stat.npy``); otherwise the one that goes by the suffix alone (a label image).

    Parameters
    ----------
    path : str or os.PathLike

    Raises
    ------
    RoiFileError
        For a suffix no ROI format has, listing the formats known.
    """
    candidates = _by_longest_suffix(path, lambda form: form.suffixes)
    for form in candidates:
        if form.recognises is not None and form.recognises(Path(path)):
            return form
    for form in candidates:
        if form.recognises is None:
            return form
    raise _unknown(path)


def writable_format_for(path) -> RoiFormat:
    """The format to write ``path`` as, chosen by its suffix.

    Raises
    ------
    RoiFileError
        For a suffix no ROI format has, or a format (or suffix) that cannot be
        written (suite2p's ``stat.npy``; ImageJ's single ``.roi``).
    """
    candidates = _by_longest_suffix(path, lambda form: form.write_suffixes)
    if candidates:
        return candidates[0]
    known = format_for(path)
    if known.writer is None:
        raise RoiFileError(f"{path}: {known.name} files are read, never written")
    suffix = known.matching_suffix(path)
    raise RoiFileError(
        f"{path}: {known.name} are not written as {suffix}; write {' or '.join(known.write_suffixes)}"
    )


def read_suffixes() -> tuple[str, ...]:
    """Every file name ending an ROI format reads (``".roimasks.h5"``, ``".json"``, ...)."""
    return tuple(dict.fromkeys(s for form in ROI_FORMATS for s in form.suffixes))


def write_suffixes(*, holding_overlaps: bool = False) -> tuple[str, ...]:
    """Every file name ending an ROI format writes, in registry order.

    Parameters
    ----------
    holding_overlaps : bool
        Only formats that hold ROIs sharing pixels (what a Shapes layer may have).
    """
    return tuple(
        dict.fromkeys(
            s
            for form in ROI_FORMATS
            if not holding_overlaps or form.holds.overlaps
            for s in form.write_suffixes
        )
    )
