"""NWB: ROIs and neuropil masks as ``ImageSegmentation``, traces as ``Fluorescence``.

Needs pynwb (``pip install 'napari-roimasks[nwb]'``). The file holds, in the
processing module ``ophys``:

- ``ImageSegmentation`` with the plane segmentations ``PlaneSegmentation``
  (the ROIs: ``image_mask``, and the columns ``roi_id`` and ``mask_group``)
  and, when given, ``NeuropilSegmentation`` (each ROI's neuropil mask);
- ``Fluorescence`` with the ``RoiResponseSeries`` ``RoiResponseSeries`` (F),
  ``Neuropil`` (Fneu) and ``Corrected`` (F - r Fneu), (frames, ROIs), when
  traces are given.

NWB has no field for the motion border or the neuropil ring options: they are
not written (an extension namespace could hold them, but other NWB readers
would not know it).
"""

from __future__ import annotations

import os
import uuid
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from ..core.masks import MaskCrop
from .atomic import atomic_path
from .roi_set import RoiEntry, RoiFileError, RoiSet, id_from_text

__all__ = ["read_nwb_rois", "write_nwb"]

NAME = "NWB PlaneSegmentation"


def _pynwb(path):
    try:
        import pynwb
    except ImportError:
        raise RoiFileError(
            f"{path}: NWB files need pynwb: pip install 'napari-roimasks[nwb]'"
        ) from None
    return pynwb


def write_nwb(
    path,
    rois: RoiSet,
    *,
    neuropils=None,
    traces: dict | None = None,
    frame_rate: float = 30.0,
    overwrite: bool = False,
) -> Path:
    """Write ROIs (and neuropil masks and traces) as NWB, atomically.

    Parameters
    ----------
    rois : RoiSet
        Needs ``image_shape``.
    neuropils : list of MaskCrop or None, optional
        One per ROI (None: an empty neuropil mask).
    traces : dict, optional
        ``{"roi": F, "neuropil": Fneu, "corrected": F - r Fneu}``, each (n_rois, n_frames).
    frame_rate : float
        Frames per second, for the traces' timestamps.
    """
    pynwb = _pynwb(path)
    from pynwb.ophys import Fluorescence, ImageSegmentation, OpticalChannel

    if rois.image_shape is None:
        raise RoiFileError(f"{path}: NWB image masks need the image size")
    shape = tuple(rois.image_shape)
    nwb = pynwb.NWBFile(
        session_description="ROIs curated with napari-roimasks",
        identifier=str(uuid.uuid4()),
        session_start_time=datetime.now(timezone.utc),
    )
    device = nwb.create_device(name="microscope")
    plane = nwb.create_imaging_plane(
        name="ImagingPlane",
        optical_channel=OpticalChannel(name="channel", description="", emission_lambda=np.nan),
        description="",
        device=device,
        excitation_lambda=np.nan,
        indicator="unknown",
        location="unknown",
        imaging_rate=float(frame_rate),
    )
    module = nwb.create_processing_module(name="ophys", description="optical physiology")
    segmentation = ImageSegmentation()
    module.add(segmentation)

    def plane_segmentation(name, crops, ids, groups):
        table = segmentation.create_plane_segmentation(
            name=name, description=name, imaging_plane=plane
        )
        table.add_column("roi_id", "the ROI's id in napari-roimasks")
        table.add_column("mask_group", "user-defined category (AllenSDK's mask_group)")
        for crop, ident, group in zip(crops, ids, groups, strict=True):
            mask = np.zeros(shape, dtype=bool) if crop is None else crop.plane(shape)
            table.add_roi(image_mask=mask, roi_id=str(ident), mask_group=int(group))
        return table

    ids = [r.id for r in rois.rois]
    groups = [r.mask_group for r in rois.rois]
    table = plane_segmentation("PlaneSegmentation", [r.crop for r in rois.rois], ids, groups)
    if neuropils is not None:
        plane_segmentation("NeuropilSegmentation", list(neuropils), ids, groups)
    if traces:
        fluorescence = Fluorescence()
        module.add(fluorescence)
        region = table.create_roi_table_region(region=list(range(len(ids))), description="all ROIs")
        for name, key in (
            ("RoiResponseSeries", "roi"),
            ("Neuropil", "neuropil"),
            ("Corrected", "corrected"),
        ):
            if key in traces:
                fluorescence.create_roi_response_series(
                    name=name,
                    data=np.asarray(traces[key], dtype=float).T,
                    rois=region,
                    unit="a.u.",
                    rate=float(frame_rate),
                )
    with (
        atomic_path(path, overwrite=overwrite) as temporary,
        pynwb.NWBHDF5IO(str(temporary), "w") as io,
    ):
        io.write(nwb)
    return Path(os.fspath(path))


def read_nwb_rois(path, *, name: str = "PlaneSegmentation") -> RoiSet:
    """The ROIs of an NWB file's plane segmentation (``image_mask`` or ``pixel_mask``)."""
    pynwb = _pynwb(path)
    path = Path(os.fspath(path))
    try:
        with pynwb.NWBHDF5IO(str(path), "r") as io:
            nwb = io.read()
            tables = [
                table
                for module in nwb.processing.values()
                for container in module.data_interfaces.values()
                if isinstance(container, pynwb.ophys.ImageSegmentation)
                for table in container.plane_segmentations.values()
            ]
            if not tables:
                raise RoiFileError(f"{path}: no ImageSegmentation with a PlaneSegmentation")
            table = next((t for t in tables if t.name == name), tables[0])
            return _roi_set(path, table)
    except RoiFileError:
        raise
    except Exception as error:  # pynwb/hdmf raise many kinds for broken files
        raise RoiFileError(f"{path}: not a readable NWB file ({error})") from None


def _roi_set(path: Path, table) -> RoiSet:
    columns = table.colnames
    ids = list(table["roi_id"].data[:]) if "roi_id" in columns else list(table.id.data[:])
    ids = [id_from_text(i) for i in ids]
    groups = list(table["mask_group"].data[:]) if "mask_group" in columns else [-1] * len(ids)
    rois, shape = [], None
    if "image_mask" in columns:
        masks = table["image_mask"].data[:]
        shape = tuple(masks.shape[1:3])
        for ident, group, mask in zip(ids, groups, masks, strict=True):
            rois.append(RoiEntry(ident, MaskCrop.from_plane(np.asarray(mask) > 0), int(group)))
    elif "pixel_mask" in columns:
        for i, (ident, group) in enumerate(zip(ids, groups, strict=True)):
            pixels = np.asarray([(p[0], p[1]) for p in table["pixel_mask"][i]], dtype=int).reshape(
                -1, 2
            )
            crop = None
            if len(pixels):
                xs, ys = pixels[:, 0], pixels[:, 1]
                plane = np.zeros((ys.max() + 1, xs.max() + 1), dtype=bool)
                plane[ys, xs] = True
                crop = MaskCrop.from_plane(plane)
            rois.append(RoiEntry(ident, crop, int(group)))
    else:
        raise RoiFileError(
            f"{path}: the plane segmentation {table.name!r} has neither image_mask nor pixel_mask"
        )
    return RoiSet(rois, image_shape=shape, kind=NAME)
