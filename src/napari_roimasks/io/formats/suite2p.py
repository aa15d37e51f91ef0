"""suite2p's ``stat.npy`` (read only): each ROI's ``ypix``/``xpix``, with ``iscell.npy`` as its
group and decision; and suite2p's ``iscell.npy`` written from decisions.

``iscell.npy`` beside it ((n, 2): 1 cell, 0 not; the classifier's probability)
becomes each ROI's ``mask_group`` (the first column) and decision (1: a cell,
else not a cell) and probability (the second column); ``ops.npy`` beside it
(``Ly``, ``Lx``) gives the image size. The ROI's id is its index in ``stat.npy``.

:func:`write_iscell` writes decisions back as suite2p keeps them, so that its
GUI opens the curated classification: (n, 2) float64, 1.0 for a cell, else
0.0 (suite2p has no "unlabeled"), and the probability (without one, 1.0 for a
cell, else 0.0). It is no format of the registry: napari's writer keeps
``.npy`` for label images.

suite2p saves ``stat.npy`` and ``ops.npy`` as pickles; they are read by
:func:`napari_roimasks.io.npy_files.load_npy`, which builds only arrays,
numbers, text, dates, paths, lists and dicts, so a planted file runs nothing.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np

from ...core.masks import MaskCrop
from ..atomic import write_atomically
from ..npy_files import UnsafeFileError, load_npy
from ..roi_set import Decision, RoiEntry, RoiFileError, RoiSet
from .base import FormatContents, RoiFormat

__all__ = [
    "FORMAT",
    "ISCELL",
    "holds_suite2p_stat",
    "iscell_array",
    "read_suite2p_stat",
    "write_iscell",
]

NAME = "suite2p stat.npy"
#: The name suite2p gives its classification, beside ``stat.npy``.
ISCELL = "iscell.npy"


def holds_suite2p_stat(path: Path) -> bool:
    """Whether a ``.npy`` file holds an object array (suite2p's ``stat.npy``), from its header only."""
    try:
        with open(path, "rb") as f:
            version = np.lib.format.read_magic(f)
            if version == (1, 0):
                _, _, dtype = np.lib.format.read_array_header_1_0(f)
            elif version == (2, 0):
                _, _, dtype = np.lib.format.read_array_header_2_0(f)
            else:  # the label image reader still falls back to suite2p on an object array
                return False
    except (OSError, ValueError):
        return False
    return dtype.hasobject


def read_suite2p_stat(path: Path, *, image_shape=None) -> RoiSet:
    """The ROIs of suite2p's ``stat.npy`` (groups, decisions and probabilities from
    ``iscell.npy``, size from ``ops.npy``).

    Parameters
    ----------
    path : Path
    image_shape : (rows, columns), optional
        The movie's frame size: ``ops.npy``'s must equal it, and every ROI must lie inside.

    Raises
    ------
    RoiFileError
        For a file that is not a list of dicts with ``ypix`` and ``xpix``, or an
        ``iscell.npy`` of another length.
    """
    stat = _load(path, pickled=True)
    if (
        stat.dtype != object
        or stat.ndim != 1
        or not all(isinstance(s, dict) and "ypix" in s and "xpix" in s for s in stat)
    ):
        raise RoiFileError(
            f"{path}: expected suite2p's stat.npy (a list of dicts with ypix and xpix)"
        )
    iscell = _iscell(path, len(stat))
    groups = np.full(len(stat), -1) if iscell is None else _first_column(path, iscell)
    recorded = _image_shape(path)
    if recorded is not None and image_shape is not None and tuple(image_shape) != recorded:
        raise RoiFileError(
            f"{path.with_name('ops.npy')}: Ly, Lx = {recorded[0]}, {recorded[1]} but the "
            f"movie's frames are {image_shape[1]}x{image_shape[0]}"
        )
    bounds = recorded or image_shape
    rois = []
    for i, s in enumerate(stat):
        rows, columns = _pixels(path, i, s)
        if rows.size == 0:
            rois.append(RoiEntry(i, None, int(groups[i])))
            continue
        if rows.min() < 0 or columns.min() < 0:
            raise RoiFileError(f"{path}: ROI {i} has negative pixel coordinates")
        bottom, right = int(rows.max()) + 1, int(columns.max()) + 1
        if (bounds is not None and (bottom > bounds[0] or right > bounds[1])) or max(
            bottom, right
        ) > _LARGEST_IMAGE_SIDE:
            where = f"the {bounds[1]}x{bounds[0]} image" if bounds is not None else "any image"
            raise RoiFileError(
                f"{path}: ROI {i} reaches row {bottom - 1}, column {right - 1}, outside {where}"
            )
        top, left = int(rows.min()), int(columns.min())
        pixels = np.zeros((bottom - top, right - left), dtype=bool)
        pixels[rows - top, columns - left] = True
        rois.append(RoiEntry(i, MaskCrop(top, left, pixels), int(groups[i])))
    if iscell is not None:
        rois = _with_decisions(path.with_name(ISCELL), rois, iscell)
    return RoiSet(rois, image_shape=recorded, kind=NAME)


#: A side longer than this is no image's: a stat.npy pixel beyond it is refused, not allocated.
_LARGEST_IMAGE_SIDE = 1 << 20


def _pixels(path: Path, index: int, roi: dict) -> tuple[np.ndarray, np.ndarray]:
    """(rows, columns) int64 of one ROI's ``ypix`` and ``xpix``, or a RoiFileError."""
    try:
        rows = np.asarray(roi["ypix"], dtype=np.int64).ravel()
        columns = np.asarray(roi["xpix"], dtype=np.int64).ravel()
    except (TypeError, ValueError, OverflowError):
        raise RoiFileError(f"{path}: ROI {index}'s ypix and xpix must be whole numbers") from None
    if rows.shape != columns.shape:
        raise RoiFileError(
            f"{path}: ROI {index} has {rows.size} ypix but {columns.size} xpix; expected one of each per pixel"
        )
    return rows, columns


def _iscell(path: Path, n_rois: int) -> np.ndarray | None:
    """``iscell.npy`` beside ``path`` as (n_rois, columns), or None without that file."""
    iscell_path = path.with_name(ISCELL)
    if not iscell_path.is_file():
        return None
    iscell = _load(iscell_path, pickled=False)
    if iscell.ndim not in (1, 2) or len(iscell) != n_rois or iscell.size < n_rois:
        raise RoiFileError(
            f"{iscell_path}: shape {iscell.shape}; expected one row per ROI of stat.npy "
            f"({n_rois}), its first column 1 for a cell"
        )
    return np.asarray(iscell).reshape(n_rois, -1)


def _first_column(path: Path, iscell: np.ndarray) -> np.ndarray:
    """(n_rois,) int: ``iscell``'s first column (the ROIs' groups)."""
    try:
        return iscell[:, 0].astype(int)
    except (TypeError, ValueError):
        raise RoiFileError(
            f"{path.with_name(ISCELL)}: expected numbers, got {iscell.dtype}"
        ) from None


def _with_decisions(iscell_path: Path, rois: list, iscell: np.ndarray) -> list:
    """The ROIs with iscell's decisions (1 a cell, else not) and probabilities (2nd column)."""
    flags = iscell[:, 0].astype(float)
    chances = iscell[:, 1].astype(float) if iscell.shape[1] > 1 else np.full(len(rois), np.nan)
    bad = np.flatnonzero(~np.isnan(chances) & ((chances < 0) | (chances > 1)))
    if bad.size:
        raise RoiFileError(
            f"{iscell_path}: ROI {bad[0]}'s cell probability is {chances[bad[0]]}; expected [0, 1]"
        )
    return [
        replace(
            roi,
            decision=Decision.CELL if flag == 1 else Decision.NOT_CELL,
            probability=None if np.isnan(chance) else float(chance),
        )
        for roi, flag, chance in zip(rois, flags, chances, strict=True)
    ]


def iscell_array(rois: RoiSet) -> np.ndarray:
    """suite2p's ``iscell`` of the ROIs' decisions: (n, 2) float64.

    Column 0 is 1.0 for an ROI decided a cell, else 0.0 (not a cell and
    unlabeled: suite2p has no third state); column 1 its probability, or 1.0 /
    0.0 as column 0 where it has none.
    """
    array = np.zeros((len(rois.rois), 2), dtype=np.float64, order="F")  # as suite2p saves it
    for row, roi in zip(array, rois.rois, strict=True):
        row[0] = 1.0 if roi.decision == Decision.CELL else 0.0
        row[1] = row[0] if roi.probability is None else float(roi.probability)
    return array


def write_iscell(path, rois: RoiSet, *, overwrite: bool = False) -> Path:
    """Write the ROIs' decisions as suite2p's ``iscell.npy`` (see :func:`iscell_array`),
    atomically, as a plain array (no pickle).

    Row i is ROI i of the set, as row i of suite2p's ``iscell.npy`` is ROI i of
    its ``stat.npy``.

    Parameters
    ----------
    path : str or os.PathLike
        A ``.npy`` file; suite2p's GUI reads ``iscell.npy`` beside ``stat.npy``.
    rois : RoiSet
    overwrite : bool
        Replace an existing file.

    Raises
    ------
    RoiFileError
        For a name not ending ``.npy``, or a ``stat.npy`` beside it holding another
        number of ROIs (suite2p would pair the rows with the wrong ROIs).
    FileExistsError
        If the file exists and ``overwrite`` is False.
    """
    path = Path(path)
    if path.suffix.lower() != ".npy":
        raise RoiFileError(f"{path}: suite2p's classification is a .npy file (iscell.npy)")
    stat_path = path.with_name("stat.npy")
    if stat_path.is_file():
        stat = _load(stat_path, pickled=True)
        if len(stat) != len(rois.rois):
            raise RoiFileError(
                f"{path}: {len(rois.rois)} ROIs but {stat_path} beside it holds {len(stat)}; "
                "suite2p pairs iscell.npy's rows with stat.npy's ROIs"
            )
    array = iscell_array(rois)
    return write_atomically(
        path, lambda f: np.save(f, array, allow_pickle=False), overwrite=overwrite
    )


def _image_shape(path: Path) -> tuple[int, int] | None:
    """(rows, columns) from ``ops.npy``'s ``Ly`` and ``Lx``, when that file is beside ``path``."""
    ops_path = path.with_name("ops.npy")
    if not ops_path.is_file():
        return None
    ops = _load(ops_path, pickled=True)
    ops = ops.item() if ops.dtype == object and ops.shape == () else None
    if not isinstance(ops, dict):
        raise RoiFileError(f"{ops_path}: expected suite2p's ops.npy (a dict with Ly and Lx)")
    try:
        return (int(ops["Ly"]), int(ops["Lx"])) if "Ly" in ops and "Lx" in ops else None
    except (TypeError, ValueError):
        raise RoiFileError(f"{ops_path}: Ly and Lx must be whole numbers") from None


def _load(path: Path, *, pickled: bool) -> np.ndarray:
    """A suite2p ``.npy`` file, read safely (see :mod:`napari_roimasks.io.npy_files`)."""
    try:
        return load_npy(path, pickled=pickled)
    except UnsafeFileError as error:
        raise RoiFileError(str(error)) from None


FORMAT = RoiFormat(
    name=NAME,
    suffixes=(".npy",),
    holds=FormatContents(masks=True, overlaps=True, groups=True, decisions=True),
    reader=read_suite2p_stat,
    writer=None,
    write_suffixes=(),
    described_as="suite2p's stat.npy",
    recognises=holds_suite2p_stat,
)
