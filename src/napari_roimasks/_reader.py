"""napari readers: movies (lazily) and ROI files, for File > Open and drag-and-drop."""

from __future__ import annotations

from pathlib import Path

from .io.movies import is_tiff_movie, movie_datasets, open_movie
from .io.roi_files import read_rois

ROI_SUFFIXES = (".json", ".zip", ".roi", ".npy", ".nwb")


def get_movie_reader(path):
    """A reader for an HDF5 movie, or a multi-page TIFF movie (lazy); None for anything else."""
    if isinstance(path, list) or not isinstance(path, (str, Path)):
        return None
    name = str(path).lower()
    if name.endswith(".roimasks.h5"):
        return None
    if name.endswith((".h5", ".hdf5")):
        return read_movie
    if name.endswith((".tif", ".tiff")) and is_tiff_movie(Path(path)):
        return read_movie
    return None


def read_movie(path):
    """The movie as a lazy Image layer: only the frames shown are read.

    An HDF5 file without ``data`` opens each of its (frames, rows, columns)
    datasets as a layer of its own, to choose from.
    """
    import h5py

    name = Path(path).name.split(".")[0]
    datasets = [None]
    if str(path).lower().endswith((".h5", ".hdf5")):
        with h5py.File(path, "r") as f:
            has_data = "data" in f
        if not has_data:
            datasets = movie_datasets(path) or [None]  # none: open_movie says so
    layers = []
    for dataset in datasets:
        frames, first = open_movie(path, dataset=dataset)
        low, high = float(first.min()), float(first.max())
        meta = {
            "name": name if dataset is None else f"{name} {dataset}",
            "contrast_limits": (low, high if high > low else low + 1),
            "metadata": {"path": str(path), "dataset": dataset or "data"},
        }
        layers.append((frames, meta, "image"))
    return layers


def get_roi_reader(path):
    """A reader for an ROI file (see napari_roimasks.io.roi_files); None for anything else."""
    if isinstance(path, list) or not isinstance(path, (str, Path)):
        return None
    name = str(path).lower()
    if name.endswith(".roimasks.h5") or name.endswith(ROI_SUFFIXES):
        return read_roi_layers
    if name.endswith((".tif", ".tiff")) and not is_tiff_movie(Path(path)):
        return read_roi_layers
    return None


def read_roi_layers(path):
    """ROIs as a Labels layer, or as a Shapes layer of outlines when they overlap (a label image cannot hold that)."""
    from .core.geometry import labels_from_masks, mask_outlines

    found = read_rois(path)
    name = Path(path).name.split(".")[0]
    crops = [r.crop for r in found.rois if r.crop is not None]
    shape = found.image_shape or _extent(crops)
    metadata = {
        "path": str(path),
        "motion_border": found.border.as_allen() if found.border else None,
        "roi_ids": [r.id for r in found.rois],
    }
    values = [
        r.id if isinstance(r.id, int) and r.id > 0 else i + 1 for i, r in enumerate(found.rois)
    ]
    labels, overlapping = labels_from_masks([r.crop for r in found.rois], shape, labels=values)
    if not overlapping:
        features = {
            "index": [v for v, r in zip(values, found.rois, strict=True) if r.crop is not None],
            "mask_group": [r.mask_group for r in found.rois if r.crop is not None],
        }
        return [(labels, {"name": name, "metadata": metadata, "features": features}, "labels")]
    outlines = mask_outlines(crops)
    meta = {
        "name": name,
        "metadata": metadata,
        "shape_type": "polygon",
        "face_color": "transparent",
        "edge_color": "yellow",
    }
    return [(outlines, meta, "shapes")]


def _extent(crops) -> tuple[int, int]:
    return (max((c.bottom for c in crops), default=1), max((c.right for c in crops), default=1))
