"""Movies read lazily: only the frames asked for are read from the file.

- HDF5: the dataset ``data`` (the Allen pipeline's layout), or the file's only
  3D dataset.
- TIFF (multi-page, e.g. ScanImage or suite2p registered output): read through
  tifffile's zarr interface.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

__all__ = ["MovieFileError", "is_tiff_movie", "movie_datasets", "open_hdf5_movie", "open_movie"]


def is_tiff_movie(path) -> bool:
    """True for a TIFF of several pages (a movie); False for one page (e.g. a label image) or no TIFF."""
    import tifffile

    try:
        with tifffile.TiffFile(os.fspath(path)) as tif:
            return len(tif.pages) > 1
    except Exception:  # not a TIFF at all: the caller's other reader says what is wrong
        return False


class MovieFileError(ValueError):
    """The file holds no readable (frames, rows, columns) movie; the message names the file."""


def open_movie(path, *, dataset: str | None = None):
    """Open a movie file lazily.

    Parameters
    ----------
    path : str or os.PathLike
    dataset : str, optional
        HDF5 dataset to read; default ``data``, or the only 3D dataset.

    Returns
    -------
    frames : (n_frames, rows, columns) dask array
    first : (rows, columns) ndarray
        The first frame (read now, e.g. for contrast limits).

    Raises
    ------
    MovieFileError
        For a missing file, an unknown format, or a file without a 3D movie.
    """
    import dask.array as da

    path = Path(os.fspath(path))
    _check_is_file(path)
    suffix = path.suffix.lower()
    if suffix in (".h5", ".hdf5"):
        source = _hdf5_dataset(path, dataset)
        chunks = (min(64, source.shape[0]), *source.shape[1:])
        frames = da.from_array(source, chunks=chunks, name=_hdf5_movie_name(path, source))
    elif suffix in (".tif", ".tiff"):
        frames = _tiff_frames(path)
    else:
        raise MovieFileError(
            f"{path}: not a movie format napari-roimasks reads (HDF5 .h5/.hdf5, TIFF .tif/.tiff)"
        )
    if frames.ndim != 3 or 0 in frames.shape:
        raise MovieFileError(
            f"{path}: expected a (frames, rows, columns) movie, found shape {frames.shape}"
        )
    _check_pixel_type(path, frames.dtype)
    try:
        first = np.asarray(frames[0])
    except Exception as error:  # a corrupt chunk: h5py, tifffile and zarr raise many kinds
        raise MovieFileError(f"{path}: the first frame cannot be read ({error})") from None
    return frames, first


def _check_pixel_type(path: Path, dtype) -> None:
    """Movies hold whole or real numbers: not complex, compound, text or object pixels."""
    dtype = np.dtype(dtype)
    if dtype.kind not in "iuf" or dtype.fields is not None:
        raise MovieFileError(
            f"{path}: pixels of type {dtype} ({_KIND_WORDS.get(dtype.kind, 'not numbers')}); "
            "expected whole or real numbers"
        )


_KIND_WORDS = {
    "c": "complex numbers",
    "V": "compound records",
    "b": "true/false",
    "S": "text",
    "U": "text",
    "O": "Python objects",
}


def open_hdf5_movie(path, dataset: str | None = None):
    """The movie's ``h5py.Dataset`` (the file stays open: close ``result.file`` when done).

    Raises
    ------
    MovieFileError
        For a missing or non-HDF5 file, or one without the dataset (or, when
        ``dataset`` is None, without ``data`` and without exactly one 3D dataset).
    """
    path = Path(os.fspath(path))
    _check_is_file(path)
    source = _hdf5_dataset(path, dataset)
    shape = source.shape
    if len(shape) != 3 or 0 in shape:
        source.file.close()
        raise MovieFileError(
            f"{path}: expected a (frames, rows, columns) movie, found shape {shape}"
        )
    try:
        _check_pixel_type(path, source.dtype)
    except MovieFileError:
        source.file.close()
        raise
    return source


def _hdf5_movie_name(path: Path, source) -> str:
    """The dask name of a dataset of an HDF5 file, as it is now (see :func:`_movie_name`)."""
    return _movie_name(path, source.name)


def _movie_name(path: Path, part: str) -> str:
    """The dask name of a movie in a file (``part``: its dataset), as the file is now.

    Dask and napari cache chunks by this name: two datasets of one file, or a
    file rewritten at the same path, must not share one, else one's cached
    frames are served for the other's. The same file opened again (another
    day, another process) gets the same name, so traces extracted from it stay
    current in a restored session.
    """
    from dask.base import tokenize

    status = os.stat(path)
    identity = (status.st_dev, status.st_ino, status.st_size, status.st_mtime_ns)
    return f"movie-{tokenize(str(path.resolve()), part, identity)}"


def _check_is_file(path: Path) -> None:
    if path.is_dir():
        raise MovieFileError(f"{path}: a folder; expected a movie file (HDF5 or TIFF)")
    if not path.is_file():
        raise MovieFileError(f"{path}: no such file")


def movie_datasets(path) -> list[str]:
    """The (frames, rows, columns) datasets of an HDF5 file, to choose from."""
    import h5py

    found = []
    with h5py.File(os.fspath(path), "r") as f:
        f.visititems(
            lambda name, item: found.append(name) if getattr(item, "ndim", 0) == 3 else None
        )
    return found


def _hdf5_dataset(path: Path, name: str | None):
    import h5py

    try:
        handle = h5py.File(path, "r")  # stays open while the lazy array lives
    except OSError as error:
        raise MovieFileError(f"{path}: not a readable HDF5 file ({error})") from error
    if name is None:
        if "data" in handle:
            name = "data"
        else:
            movies = [key for key, item in handle.items() if getattr(item, "ndim", 0) == 3]
            if len(movies) != 1:
                handle.close()
                raise MovieFileError(
                    f"{path}: no dataset 'data'; 3D datasets: {', '.join(movies) or 'none'}"
                    + (" (choose one)" if movies else "")
                )
            name = movies[0]
    try:
        item = handle[name] if name in handle else None  # noqa: SIM401 (get() hides a broken link)
    except (KeyError, OSError):  # a link to another file that is missing or unreadable
        handle.close()
        raise MovieFileError(
            f"{path}: {name!r} links to a file that cannot be opened; expected the movie's frames"
        ) from None
    if item is None or not hasattr(item, "shape"):
        handle.close()
        raise MovieFileError(f"{path}: no dataset {name!r}")
    return item


def _tiff_frames(path: Path):
    try:
        import dask.array as da
        import tifffile
        import zarr
    except ImportError as error:
        raise MovieFileError(
            f"{path}: reading TIFF movies needs tifffile and zarr ({error})"
        ) from error
    try:
        with tifffile.TiffFile(path) as tif:
            axes = tif.series[0].axes if tif.series else ""
        store = tifffile.imread(path, aszarr=True)
        array = zarr.open(store, mode="r")
    except Exception as error:  # tifffile raises many kinds for broken files
        raise MovieFileError(f"{path}: not a readable TIFF movie ({error})") from error
    if "S" in axes:  # samples per pixel: colour channels, not frames
        raise MovieFileError(
            f"{path}: a colour (RGB) image of axes {axes}; expected a (frames, rows, columns) movie"
        )
    if hasattr(array, "shape"):
        return da.from_zarr(array, name=_movie_name(path, "tiff"))
    raise MovieFileError(
        f"{path}: a multi-resolution TIFF; expected one (frames, rows, columns) series"
    )
