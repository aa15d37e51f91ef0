"""Summary image files: an HDF5 file of the images ``mean``, ``max``, ``std``, ``correlation``
and ``enhanced_mean``, each a float32 (rows, columns) dataset.

Written by ``napari-roimasks summary`` and ``extract --summary``, atomically;
its attributes say what it summarises (frames, cell diameter, the movie's path
and dataset). napari opens it as one Image layer per image.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..core.summary_images import SUMMARY_IMAGES, SummaryImages
from .atomic import atomic_path

__all__ = [
    "SUMMARY_MARK",
    "SummaryFileError",
    "is_summary_file",
    "read_summary_images",
    "write_summary_images",
]

#: The attribute that marks a file as this project's summary images (its value: the version).
SUMMARY_MARK = "napari_roimasks_summary_images"


class SummaryFileError(ValueError):
    """The file holds no summary images; the message names the file and what was expected."""


def write_summary_images(
    path,
    images: SummaryImages,
    *,
    movie=None,
    dataset: str | None = None,
    overwrite: bool = False,
) -> Path:
    """Write the summary images as an HDF5 file, atomically.

    Parameters
    ----------
    path : str or os.PathLike
    images : SummaryImages
    movie : str or os.PathLike, optional
        The movie they summarise, recorded in the file.
    dataset : str, optional
        The movie's HDF5 dataset, recorded in the file.
    overwrite : bool
        Replace an existing file.

    Raises
    ------
    FileExistsError
        If the file exists and ``overwrite`` is False.
    """
    import h5py

    from .. import __version__

    # by its path, not a Python file object (see io.allen_traces.write_trace_file)
    with atomic_path(path, overwrite=overwrite) as temporary, h5py.File(temporary, "w") as h5:
        h5.attrs[SUMMARY_MARK] = __version__
        h5.attrs["n_frames"] = images.n_frames
        h5.attrs["cell_diameter"] = float(images.cell_diameter)
        if movie is not None:
            h5.attrs["movie"] = str(os.fspath(movie))
        if dataset is not None:
            h5.attrs["dataset"] = dataset
        for name, image in images.as_dict().items():
            h5.create_dataset(name, data=np.asarray(image, dtype=np.float32))
    return Path(os.fspath(path))


def is_summary_file(path) -> bool:
    """Whether ``path`` is an HDF5 file marked as this project's summary images."""
    import h5py

    try:
        with h5py.File(path, "r") as h5:
            return SUMMARY_MARK in h5.attrs
    except (OSError, ValueError):
        return False


def read_summary_images(path) -> tuple[dict[str, np.ndarray], dict]:
    """The images of a summary file, and its attributes.

    Returns
    -------
    images : dict of str -> (rows, columns) float32 ndarray
        In :data:`~napari_roimasks.core.summary_images.SUMMARY_IMAGES` order.
    attributes : dict
        ``n_frames``, ``cell_diameter`` and, when recorded, ``movie`` and ``dataset``.

    Raises
    ------
    SummaryFileError
        For a file that is not HDF5 or lacks an image, or images of unequal sizes.
    """
    import h5py

    path = Path(os.fspath(path))
    try:
        with h5py.File(path, "r") as h5:
            missing = [name for name in SUMMARY_IMAGES if name not in h5]
            if missing:
                raise SummaryFileError(
                    f"{path}: expected summary images {', '.join(SUMMARY_IMAGES)}; "
                    f"missing {', '.join(missing)}"
                )
            images = {name: np.asarray(h5[name][()]) for name in SUMMARY_IMAGES}
            attributes = {
                key: h5.attrs[key]
                for key in ("n_frames", "cell_diameter", "movie", "dataset")
                if key in h5.attrs
            }
    except OSError as error:
        raise SummaryFileError(f"{path}: not a readable HDF5 file ({error})") from None
    shapes = {image.shape for image in images.values()}
    if len(shapes) != 1 or len(next(iter(shapes))) != 2:
        raise SummaryFileError(
            f"{path}: expected the summary images as (rows, columns) images of one size, "
            f"found shapes {sorted(shapes)}"
        )
    if any(image.dtype.kind != "f" for image in images.values()):
        raise SummaryFileError(f"{path}: expected float images")
    return {name: image.astype(np.float32) for name, image in images.items()}, attributes
