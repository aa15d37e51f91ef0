"""Per-frame motion-correction shifts from the files registration tools write.

- CSV (Allen pipeline's ``rigid_motion_transform.csv`` and the like): a header
  row with columns ``x`` and ``y`` (also accepted: ``xoff``/``yoff``,
  ``x_shift``/``y_shift``, any case).
- HDF5: datasets ``x`` and ``y`` (or ``xoff`` and ``yoff``) at the top level.
- suite2p's ``ops.npy``: the dict entries ``xoff`` and ``yoff``. It is a
  pickle, read by :func:`napari_roimasks.io.npy_files.load_npy`, which builds
  only arrays, numbers, text, dates, paths, lists and dicts: it runs nothing.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path

import numpy as np

from ..core.border import MotionBorder
from .npy_files import UnsafeFileError, load_npy

__all__ = ["MotionOffsetsError", "border_from_offsets_file", "read_motion_offsets"]

_COLUMN_PAIRS = (("x", "y"), ("xoff", "yoff"), ("x_shift", "y_shift"))


class MotionOffsetsError(ValueError):
    """The file holds no usable per-frame shifts; the message names the file and what was expected."""


def read_motion_offsets(path) -> tuple[np.ndarray, np.ndarray]:
    """Read per-frame (x, y) shifts.

    Returns
    -------
    x, y : (n_frames,) float64 ndarray

    Raises
    ------
    MotionOffsetsError
        For a missing or unreadable file, or one without x and y shifts.
    """
    path = Path(os.fspath(path))
    if not path.is_file():
        raise MotionOffsetsError(f"{path}: no such file")
    suffix = path.suffix.lower()
    try:
        if suffix in (".h5", ".hdf5"):
            x, y = _from_hdf5(path)
        elif suffix == ".npy":
            x, y = _from_suite2p_ops(path)
        else:
            x, y = _from_csv(path)
        x, y = np.asarray(x, dtype=float).ravel(), np.asarray(y, dtype=float).ravel()
    except MotionOffsetsError:
        raise
    except (UnicodeDecodeError, csv.Error):
        raise MotionOffsetsError(
            f"{path}: not a text CSV file; expected columns x and y (or an .h5 or suite2p's ops.npy)"
        ) from None
    except (OSError, ValueError, TypeError, KeyError, EOFError) as error:
        raise MotionOffsetsError(f"{path}: cannot read motion offsets ({error})") from error
    if x.size == 0 or x.shape != y.shape:
        raise MotionOffsetsError(
            f"{path}: needs one x and one y shift per frame, found {x.size} x and {y.size} y"
        )
    if not (np.isfinite(x).all() and np.isfinite(y).all()):
        raise MotionOffsetsError(f"{path}: the shifts contain NaN or inf")
    return x, y


def border_from_offsets_file(path) -> MotionBorder:
    """The motion border a motion-correction file implies: the largest shift in each direction."""
    return MotionBorder.from_shifts(*read_motion_offsets(path))


def _pick_pair(names, path: Path, what: str) -> tuple[str, str]:
    lowered = {name.strip().lower(): name for name in names}
    for x_name, y_name in _COLUMN_PAIRS:
        if x_name in lowered and y_name in lowered:
            return lowered[x_name], lowered[y_name]
    raise MotionOffsetsError(
        f"{path}: expected {what} named x and y (or xoff and yoff, or x_shift and y_shift); "
        f"found {', '.join(map(str, names)) or 'none'}"
    )


def _from_csv(path: Path):
    with open(path, newline="") as f:
        sample = f.read(4096)
        f.seek(0)
        try:
            dialect = (
                csv.Sniffer().sniff(sample, delimiters=",;\t ") if sample.strip() else csv.excel
            )
        except csv.Error:  # one column, or nothing the sniffer knows: plain commas
            dialect = csv.excel
        reader = csv.reader(f, dialect)
        header = next(reader, [])
        x_name, y_name = _pick_pair(header, path, "columns")
        x_col, y_col = header.index(x_name), header.index(y_name)
        x, y = [], []
        for line_number, row in enumerate(reader, start=2):
            if not row:
                continue
            try:
                x.append(float(row[x_col]))
                y.append(float(row[y_col]))
            except (IndexError, ValueError):
                raise MotionOffsetsError(
                    f"{path}, line {line_number}: expected numbers in columns {x_name!r} and {y_name!r}"
                ) from None
    return x, y


def _from_hdf5(path: Path):
    import h5py

    with h5py.File(path, "r") as f:
        x_name, y_name = _pick_pair(list(f.keys()), path, "datasets")
        return f[x_name][()], f[y_name][()]


def _from_suite2p_ops(path: Path):
    try:
        ops = load_npy(path, pickled=True)
    except UnsafeFileError as error:
        raise MotionOffsetsError(str(error)) from None
    if ops.dtype == object and ops.shape == ():
        ops = ops.item()
    if not isinstance(ops, dict):
        raise MotionOffsetsError(f"{path}: expected suite2p's ops.npy (a dict with xoff and yoff)")
    x_name, y_name = _pick_pair(list(ops.keys()), path, "ops entries")
    return ops[x_name], ops[y_name]
