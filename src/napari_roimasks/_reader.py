"""napari readers: movies (lazily), their summary images, and ROI files, for File > Open and
drag-and-drop."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .io.formats import RoiFormat, format_for
from .io.image_size import image_size_for_rois
from .io.layer_metadata import layer_metadata
from .io.movies import is_tiff_movie, movie_datasets, open_movie
from .io.roi_files import RoiFileError, read_rois
from .io.summary_files import is_summary_file, read_summary_images
from .layers import open_image_sizes
from .model.traces import movie_token

#: Movie files; a TIFF of one page (a label image) and a ``*.roimasks.h5`` are ROI files.
MOVIE_HDF5_SUFFIXES = (".h5", ".hdf5")
MOVIE_TIFF_SUFFIXES = (".tif", ".tiff")


def get_movie_reader(path):
    """A reader for an HDF5 movie, a multi-page TIFF movie (lazy), or a summary image file
    (``napari-roimasks summary``); None for anything else."""
    if isinstance(path, list) or not isinstance(path, (str, Path)):
        return None
    name = str(path).lower()
    if name.endswith(MOVIE_HDF5_SUFFIXES) and is_summary_file(path):
        return read_summary_layers
    if name.endswith(MOVIE_HDF5_SUFFIXES) and _roi_format(path) is None:
        return read_movie
    if name.endswith(MOVIE_TIFF_SUFFIXES) and is_tiff_movie(Path(path)):
        return read_movie
    return None


def read_movie(path):
    """The movie as a lazy Image layer: only the frames shown are read.

    An HDF5 file without ``data`` opens each of its (frames, rows, columns)
    datasets as a layer of its own, to choose from.
    """
    import h5py

    datasets = [None]
    if str(path).lower().endswith(MOVIE_HDF5_SUFFIXES):
        with h5py.File(path, "r") as f:
            has_data = "data" in f
        if not has_data:
            datasets = movie_datasets(path) or [None]  # none: open_movie says so
    return [(*movie_layer_data(path, dataset), "image") for dataset in datasets]


def movie_layer_data(path, dataset: str | None = None) -> tuple:
    """``(frames, layer keywords)`` of a movie file's lazy Image layer (name, contrast, the
    ``path``, ``dataset`` and ``movie_token`` in its metadata).

    Raises
    ------
    MovieFileError
        For a file without such a movie (see :func:`~napari_roimasks.io.movies.open_movie`).
    """
    frames, first = open_movie(path, dataset=dataset)
    low, high = float(first.min()), float(first.max())
    name = Path(path).name.split(".")[0]
    meta = {
        "name": name if dataset is None else f"{name} {dataset}",
        "contrast_limits": (low, high if high > low else low + 1),
        # the token tells a Dask cluster that the layer still shows this file's frames
        "metadata": {
            "path": str(path),
            "dataset": dataset or "data",
            "movie_token": movie_token(frames),
        },
    }
    return frames, meta


def read_summary_layers(path):
    """A summary image file as Image layers, ``<movie> mean``, ``<movie> correlation``, ...,
    named, shown and contrasted as the Traces dock shows the images it computes
    (:func:`~napari_roimasks.model.summary.summary_layers`)."""
    from .model.summary import summary_layers

    images, attributes = read_summary_images(path)
    movie = Path(str(attributes.get("movie", path))).name.split(".")[0]
    return [
        (
            layer.data,
            {
                "name": layer.name,
                "contrast_limits": layer.contrast_limits,
                "visible": layer.visible,
                "metadata": {"path": str(path), "summary_image": layer.image},
            },
            "image",
        )
        for layer in summary_layers(images, movie)
    ]


def _roi_format(path) -> RoiFormat | None:
    """The ROI format the registry gives ``path``; None for a file no ROI format reads."""
    try:
        return format_for(path)
    except RoiFileError:
        return None


def get_roi_reader(path):
    """A reader for an ROI file of any format the registry knows (see
    :mod:`napari_roimasks.io.formats`); None for anything else, a TIFF movie included."""
    if isinstance(path, list) or not isinstance(path, (str, Path)):
        return None
    if _roi_format(path) is None:
        return None
    if str(path).lower().endswith(MOVIE_TIFF_SUFFIXES) and is_tiff_movie(Path(path)):
        return None
    return read_roi_layers


def read_roi_layers(path):
    """ROIs as a Labels layer, or as a Shapes layer of outlines when they overlap (a label
    image cannot hold that).

    The layer has the image size the file records; for a file that records
    none (ImageJ's and the Allen pipeline's own files, suite2p without
    ``ops.npy``), the size of the first
    movie or image open in the viewer that holds the ROIs, else the ROIs'
    extent, with a notification saying so (:mod:`napari_roimasks.io.image_size`).

    The layer's metadata holds the file's ``path``, the ROIs' ids (``roi_ids``),
    the image size (``image_shape``) and, when the file has them, the motion
    border and the ring options (see :mod:`napari_roimasks.io.layer_metadata`);
    its features hold each ROI's ``mask_group``. A Labels layer's label is the
    ROI's id when every id is a distinct whole number > 0, else its position + 1.
    """
    from .core.geometry import labels_from_masks, mask_outlines

    found = read_rois(path)
    name = Path(path).name.split(".")[0]
    drawn = [r for r in found.rois if r.crop is not None]
    crops = [r.crop for r in drawn]
    size = image_size_for_rois(found, open_image_sizes(), path=path)
    if size.note is not None:
        _notify(size.note)
    shape = size.shape
    metadata = {
        "path": str(path),
        "roi_ids": [r.id for r in found.rois],
        **layer_metadata(found.border, found.ring_options, shape),
    }
    values = _label_values([r.id for r in found.rois])
    labels, overlapping = labels_from_masks([r.crop for r in found.rois], shape, labels=values)
    if not overlapping:
        features = {
            "index": [v for v, r in zip(values, found.rois, strict=True) if r.crop is not None],
            "mask_group": [r.mask_group for r in drawn],
            **_decision_columns(drawn),
        }
        return [(labels, {"name": name, "metadata": metadata, "features": features}, "labels")]
    meta = {
        "name": name,
        "metadata": metadata,
        # shape i is drawn[i]
        "features": {"mask_group": [r.mask_group for r in drawn], **_decision_columns(drawn)},
        "shape_type": "polygon",
        "face_color": "transparent",
        "edge_color": "yellow",
    }
    return [(mask_outlines(crops), meta, "shapes")]


def roi_layer_keys(rois, kind: str) -> dict:
    """Each ROI id's key in the layer :func:`read_roi_layers` makes of ``rois`` (a RoiSet):
    a Labels layer's label (:func:`_label_values`), a Shapes layer's shape number; ROIs
    without pixels have no shape and no key.

    Parameters
    ----------
    rois : RoiSet
    kind : {"labels", "shapes"}
    """
    if kind == "labels":
        ids = [r.id for r in rois.rois]
        return dict(zip(ids, _label_values(ids), strict=True))
    drawn = [r.id for r in rois.rois if r.crop is not None]
    return {ident: n for n, ident in enumerate(drawn, start=1)}


def _decision_columns(rois) -> dict[str, list]:
    """The ROIs' curation as the layer's features columns (see ``layers.DECISION_COLUMNS``)."""
    from .io.decision_text import decision_fields

    fields = [decision_fields(entry) for entry in rois]
    names = ("decision", "reason", "decided_at", "probability")
    return {name: [f[i] for f in fields] for i, name in enumerate(names)}


def _label_values(ids) -> list[int]:
    """Each ROI's label: its id when all ids are distinct whole numbers > 0, else position + 1.

    (suite2p numbers its ROIs from 0: ROI 0 must not share label 1 with ROI 1.)
    """
    whole = all(isinstance(i, (int, np.integer)) and not isinstance(i, bool) and i > 0 for i in ids)
    if whole and len(set(ids)) == len(ids):
        return [int(i) for i in ids]
    return list(range(1, len(ids) + 1))


def _notify(message: str) -> None:
    try:
        from napari.utils.notifications import show_warning
    except ImportError:
        return
    show_warning(message)
