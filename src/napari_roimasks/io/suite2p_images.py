"""suite2p's summary images from its ``ops.npy``: mean, enhanced mean, correlation and max.

suite2p keeps ``meanImg`` and ``meanImgE`` at the full frame size (``Ly``,
``Lx``), but ``Vcorr`` and ``max_proj`` only for the frame cropped to
``yrange``/``xrange`` (the part motion correction left valid).
:func:`read_suite2p_images` places those back into the full frame at
``[yrange[0]:yrange[1], xrange[0]:xrange[1]]`` and fills the rest with 0,
as suite2p's own GUI does, so every image lines up with the movie and the
ROIs.

``ops.npy`` is a pickle; it is read only through
:func:`napari_roimasks.io.npy_files.load_npy`, which builds arrays, numbers
and text and nothing else.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from .npy_files import UnsafeFileError, load_npy
from .roi_set import RoiFileError

__all__ = ["SUITE2P_IMAGES", "ops_file_beside", "read_suite2p_images"]

#: ops.npy key -> the summary image it is (names as in core.summary_images.SUMMARY_IMAGES)
SUITE2P_IMAGES = {
    "meanImg": "mean",
    "max_proj": "max",
    "Vcorr": "correlation",
    "meanImgE": "enhanced_mean",
}
_CROPPED = ("Vcorr", "max_proj")


def ops_file_beside(paths: Iterable) -> Path | None:
    """The first ``ops.npy`` in the folder of one of ``paths`` (files; None and '' skipped)."""
    for path in paths:
        if not path:
            continue
        candidate = Path(os.fspath(path)).with_name("ops.npy")
        if candidate.is_file():
            return candidate
    return None


def read_suite2p_images(path, *, image_shape=None) -> dict[str, np.ndarray]:
    """The summary images suite2p saved in an ``ops.npy``, each at the full frame size.

    Parameters
    ----------
    path : str or os.PathLike
        suite2p's ``ops.npy``.
    image_shape : (rows, columns), optional
        The movie's frame size: the file's ``Ly``, ``Lx`` must equal it.

    Returns
    -------
    dict of str -> (Ly, Lx) float32 ndarray
        Of ``"mean"`` (``meanImg``), ``"max"`` (``max_proj``),
        ``"correlation"`` (``Vcorr``) and ``"enhanced_mean"`` (``meanImgE``),
        those the file holds, in that order. The cropped two are 0 outside
        ``yrange``/``xrange``.

    Raises
    ------
    RoiFileError
        One line naming the file: not a suite2p ops dict, none of the four
        images, an image of an unexpected shape, or a size that is not the movie's.
    """
    path = Path(os.fspath(path))
    try:
        ops = load_npy(path, pickled=True)
    except UnsafeFileError as error:
        raise RoiFileError(str(error)) from None
    if ops.shape != () or not isinstance(ops.item(), dict):
        raise RoiFileError(f"{path}: expected suite2p's ops.npy (a dict), got an array")
    ops = ops.item()
    if not any(key in ops for key in SUITE2P_IMAGES):
        raise RoiFileError(
            f"{path}: holds none of suite2p's images (meanImg, meanImgE, Vcorr, max_proj); "
            "suite2p saves them after registration and detection"
        )
    shape = _frame_shape(path, ops)
    if image_shape is not None and tuple(int(v) for v in image_shape) != shape:
        raise RoiFileError(
            f"{path}: Ly, Lx = {shape[0]}, {shape[1]} but the movie's frames are "
            f"{image_shape[0]} rows x {image_shape[1]} columns"
        )
    images = {}
    for key, name in SUITE2P_IMAGES.items():
        if key in ops:
            images[name] = _full_frame(path, ops, key, shape)
    return images


def _frame_shape(path: Path, ops: dict) -> tuple[int, int]:
    try:
        rows, columns = int(ops["Ly"]), int(ops["Lx"])
    except (KeyError, TypeError, ValueError):
        raise RoiFileError(f"{path}: no frame size (Ly and Lx, whole numbers)") from None
    if rows < 1 or columns < 1:
        raise RoiFileError(f"{path}: a frame size of {rows} x {columns} pixels")
    return rows, columns


def _full_frame(path: Path, ops: dict, key: str, shape: tuple[int, int]) -> np.ndarray:
    """One image at the full frame size (a cropped one placed at yrange, xrange)."""
    try:
        image = np.asarray(ops[key], dtype=np.float32)
    except (TypeError, ValueError):
        raise RoiFileError(f"{path}: {key} is not an image of numbers") from None
    if image.shape == shape:
        return image
    if key not in _CROPPED:
        raise RoiFileError(
            f"{path}: {key} is {_shape_text(image.shape)}, expected the frame's {_shape_text(shape)}"
        )
    (top, bottom), (left, right) = _crop(path, ops, shape)
    if image.shape != (bottom - top, right - left):
        raise RoiFileError(
            f"{path}: {key} is {_shape_text(image.shape)}, expected the frame's "
            f"{_shape_text(shape)} or its crop yrange x xrange, {_shape_text((bottom - top, right - left))}"
        )
    full = np.zeros(shape, dtype=np.float32)
    full[top:bottom, left:right] = image
    return full


def _crop(path: Path, ops: dict, shape: tuple[int, int]):
    """((top, bottom), (left, right)) from ``yrange`` and ``xrange``, inside the frame."""
    ranges = []
    for key, size in (("yrange", shape[0]), ("xrange", shape[1])):
        try:
            start, stop = (int(v) for v in np.asarray(ops[key]).ravel())
        except (KeyError, TypeError, ValueError):
            raise RoiFileError(
                f"{path}: no {key} (two whole numbers) to place the cropped images by"
            ) from None
        if not 0 <= start < stop <= size:
            raise RoiFileError(f"{path}: {key} = [{start}, {stop}] is not inside 0..{size}")
        ranges.append((start, stop))
    return ranges


def _shape_text(shape) -> str:
    return " x ".join(str(v) for v in shape) if len(shape) else "a number"
