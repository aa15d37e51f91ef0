"""NWB: ROIs and neuropil masks as ``ImageSegmentation``, traces as ``Fluorescence``.

Needs pynwb (``pip install 'napari-roimasks[nwb]'``). :func:`write_nwb` writes,
in the processing module ``ophys``:

- ``ImageSegmentation`` with the plane segmentations ``PlaneSegmentation``
  (the ROIs: ``image_mask``, and the columns ``roi_id``, ``mask_group``,
  ``decision`` (cell, not_cell, unlabeled), ``reason``, when some ROI has them
  ``decided_at`` (ISO 8601, "" unknown) and ``probability`` (NaN unknown),
  and, with corrected traces, ``neuropil_r``) and, when given,
  ``NeuropilSegmentation`` (each ROI's neuropil mask);
- ``Fluorescence`` with the ``RoiResponseSeries`` ``RoiResponseSeries`` (F),
  ``Neuropil`` (Fneu) and ``Corrected`` (F - r Fneu), (frames, ROIs), when
  traces are given;

and the session's metadata (:class:`~napari_roimasks.io.nwb_session.NwbSession`:
who, where, which animal, the indicator, the microscope), so that
nwbinspector finds nothing to fix. Reading is :mod:`.nwb_reading`.

A ``pixel_mask`` is written as pynwb and suite2p write it: ``x`` is the row.

NWB has no field for the motion border or the neuropil ring options: they are
not written (an extension namespace could hold them, but other NWB readers
would not know it).
"""

from __future__ import annotations

import os
import uuid
from datetime import datetime
from pathlib import Path

import numpy as np

from .atomic import atomic_path
from .decision_text import decision_fields
from .nwb_session import SEX_WORDS, NwbSession
from .roi_set import RoiFileError, RoiSet

# NwbSession is written by write_nwb: importable from here too
__all__ = ["NAME", "NWB_INSTALL", "NwbSession", "pynwb_for", "write_nwb"]

NAME = "NWB PlaneSegmentation"
#: What to tell a user without pynwb.
NWB_INSTALL = "NWB files need pynwb: pip install 'napari-roimasks[nwb]'"


def pynwb_for(path):
    """pynwb, or a :class:`RoiFileError` for ``path`` saying how to install it."""
    try:
        import pynwb
    except ImportError:
        raise RoiFileError(f"{path}: {NWB_INSTALL}") from None
    return pynwb


# -- writing ------------------------------------------------------------------------------------
_TRACES = {  # traces key -> (RoiResponseSeries name, description)
    "roi": (
        "RoiResponseSeries",
        "F: each ROI's mean over its pixels in every frame (AllenSDK's ROI traces); NaN for "
        "an ROI AllenSDK excludes. Column i is row i of PlaneSegmentation",
    ),
    "neuropil": (
        "Neuropil",
        "Fneu: the mean over each ROI's neuropil ring in every frame (AllenSDK's neuropil "
        "traces); NaN where AllenSDK excludes the ring",
    ),
    "corrected": (
        "Corrected",
        "F - r * Fneu: each ROI's trace with its neuropil contamination removed",
    ),
}


def write_nwb(
    path,
    rois: RoiSet,
    *,
    session: NwbSession | None = None,
    neuropils=None,
    traces: dict | None = None,
    overwrite: bool = False,
) -> Path:
    """Write ROIs (and neuropil masks and traces) as NWB, atomically.

    Parameters
    ----------
    path : str or os.PathLike
    rois : RoiSet
        At least one ROI, and ``image_shape``. An ROI's ``weights`` make its
        image mask hold them (all masks are then float).
    session : NwbSession, optional
        The file's metadata (default: ``NwbSession()``).
    neuropils : sequence of MaskCrop or None, optional
        One per ROI (None: an empty neuropil mask).
    traces : dict, optional
        ``{"roi": F, "neuropil": Fneu, "corrected": F - r Fneu}``, any of them,
        each (n_rois, n_frames); and ``"r"``, (n_rois,), the r of ``corrected``.

    Returns
    -------
    Path

    Raises
    ------
    RoiFileError
        Without pynwb, without ROIs or the image size.
    ValueError
        For neuropil masks or traces that do not match the ROIs.
    FileExistsError
        If the file exists and ``overwrite`` is False.
    """
    pynwb = pynwb_for(path)
    from pynwb.file import Subject

    if rois.image_shape is None:
        raise RoiFileError(f"{path}: NWB image masks need the image size")
    if not rois.rois:
        raise RoiFileError(f"{path}: no ROIs to write; an NWB plane segmentation needs one")
    session = session or NwbSession()
    shape = (int(rois.image_shape[0]), int(rois.image_shape[1]))
    n = len(rois.rois)
    traces = _checked_traces(traces or {}, n)
    if neuropils is not None and len(neuropils) != n:
        raise ValueError(f"{len(neuropils)} neuropil masks for {n} ROIs; expected one per ROI")
    from .. import __version__

    nwb = pynwb.NWBFile(
        session_description=session.session_description,
        identifier=str(uuid.uuid4()),
        session_start_time=session.session_start_time or datetime.now().astimezone(),
        experimenter=list(session.experimenter) or None,
        experiment_description=session.experiment_description,
        institution=session.institution,
        lab=session.lab,
        keywords=list(session.keywords) or None,
        source_script=f"napari-roimasks {__version__}",
        source_script_file_name="napari-roimasks",
        subject=Subject(
            subject_id=session.subject_id,
            species=session.species,
            sex=session.sex,
            age=session.age,
            description=f"the animal imaged: {session.species}, sex {SEX_WORDS[session.sex]}",
        )
        if session.has_subject
        else None,
    )
    module = nwb.create_processing_module(
        name="ophys", description="ROIs, neuropil masks and traces (napari-roimasks)"
    )
    segmentation = pynwb.ophys.ImageSegmentation()
    module.add(segmentation)
    plane = _imaging_plane(pynwb, nwb, session, shape)
    ids = [str(r.id) for r in rois.rois]
    groups = [int(r.mask_group) for r in rois.rois]
    extra = _curation_columns(rois)
    if "r" in traces:
        extra["neuropil_r"] = ("the r of each ROI's Corrected trace, F - r * Fneu", traces["r"])
    table = _plane_segmentation(
        "PlaneSegmentation",
        "The ROIs: image_mask (the ROI's pixels, with their weights where the source file "
        "had them), roi_id (its id in napari-roimasks), mask_group (a user-defined category, "
        "AllenSDK's mask_group; -1: none), decision and reason (the curator's)",
        plane,
        shape,
        [(r.crop, r.weights) for r in rois.rois],
        ids,
        groups,
        extra,
    )
    segmentation.add_plane_segmentation(table)
    rings = None
    if neuropils is not None:
        rings = _plane_segmentation(
            "NeuropilSegmentation",
            "Each ROI's neuropil mask (row i: the ring of PlaneSegmentation's row i), the "
            "pixels its Neuropil trace is the mean of",
            plane,
            shape,
            [(crop, None) for crop in neuropils],
            ids,
            groups,
            {},
        )
        segmentation.add_plane_segmentation(rings)
    if any(key in traces for key in _TRACES):
        _add_traces(pynwb, module, traces, table, rings, session.imaging_rate)
    with (
        atomic_path(path, overwrite=overwrite) as temporary,
        pynwb.NWBHDF5IO(str(temporary), "w") as io,
    ):
        io.write(nwb)
    return Path(os.fspath(path))


def _curation_columns(rois: RoiSet) -> dict:
    """The PlaneSegmentation's curation columns: decision and reason always; when some ROI
    has one, the decision's time and the cell probability."""
    decisions, reasons, times, chances = (
        list(column) for column in zip(*(decision_fields(r) for r in rois.rois), strict=True)
    )
    columns = {
        "decision": ("the curator's decision: cell, not_cell or unlabeled", decisions),
        "reason": ("why, in the curator's words (empty: no reason given)", reasons),
    }
    if any(times):
        columns["decided_at"] = (
            "when the decision was made, ISO 8601 with the time zone (empty: unknown)",
            times,
        )
    if not np.all(np.isnan(chances)):
        columns["probability"] = (
            "a classifier's probability that the ROI is a cell (NaN: unknown)",
            np.asarray(chances, dtype=float),
        )
    return columns


def _checked_traces(traces: dict, n: int) -> dict:
    checked, frames = {}, None
    for key, values in traces.items():
        if key not in (*_TRACES, "r"):
            raise ValueError(f"traces[{key!r}]: expected the keys {', '.join((*_TRACES, 'r'))}")
        values = np.asarray(values, dtype=float)
        if frames is None and key != "r":
            frames = values.shape[-1] if values.ndim else 0
        expected = (n,) if key == "r" else (n, frames)
        if values.shape != expected or frames == 0:
            raise ValueError(f"traces[{key!r}] is {values.shape}; expected {expected}, frames > 0")
        checked[key] = values
    return checked


def _imaging_plane(pynwb, nwb, session: NwbSession, shape):
    def nm(value):
        return float("nan") if value is None else float(value)

    device = nwb.create_device(name="Microscope", description=session.device_description)
    channel = pynwb.ophys.OpticalChannel(
        name="OpticalChannel",
        description="the fluorescence channel the ROIs were drawn on and the traces read from",
        emission_lambda=nm(session.emission_wavelength),
    )
    return nwb.create_imaging_plane(
        name="ImagingPlane",
        optical_channel=channel,
        description=(
            f"the plane the ROIs were drawn on and the traces read from: {shape[0]} rows x "
            f"{shape[1]} columns (a pixel mask's x is the row)"
        ),
        device=device,
        excitation_lambda=nm(session.excitation_wavelength),
        indicator=session.indicator,
        location=session.location,
        imaging_rate=float(session.imaging_rate),
    )


def _plane_segmentation(name, description, plane, shape, masks, ids, groups, extra):
    """A PlaneSegmentation of image masks, compressed one ROI a chunk (mostly zeros)."""
    from pynwb import H5DataIO
    from pynwb.core import VectorData
    from pynwb.ophys import PlaneSegmentation

    weighted = any(weights is not None for _, weights in masks)
    planes = np.zeros((len(masks), *shape), dtype=np.float32 if weighted else bool)
    for plane_of_roi, (crop, weights) in zip(planes, masks, strict=True):
        if crop is not None:
            box = plane_of_roi[crop.slices]
            box[crop.pixels] = 1 if weights is None else np.asarray(weights)[crop.pixels]
    columns = [
        VectorData(
            name="image_mask",
            description="each ROI's mask on the image, (rows, columns)",
            data=H5DataIO(planes, compression="gzip", chunks=(1, *shape)),
        ),
        VectorData(name="roi_id", description="the ROI's id in napari-roimasks", data=ids),
        VectorData(
            name="mask_group",
            description="a user-defined category (AllenSDK's mask_group); -1: none",
            data=np.asarray(groups, dtype=np.int64),
        ),
    ]
    columns += [
        VectorData(name=key, description=text, data=values) for key, (text, values) in extra.items()
    ]
    return PlaneSegmentation(
        name=name,
        description=description,
        imaging_plane=plane,
        id=list(range(len(masks))),
        columns=columns,
    )


def _add_traces(pynwb, module, traces, table, rings, rate) -> None:
    fluorescence = pynwb.ophys.Fluorescence()
    module.add(fluorescence)
    everything = list(range(len(table)))
    regions = {
        "rois": table.create_roi_table_region(region=everything, description="every ROI"),
    }
    if rings is not None:
        regions["rings"] = rings.create_roi_table_region(
            region=everything, description="every ROI's neuropil mask"
        )
    for key, (name, description) in _TRACES.items():
        if key not in traces:
            continue
        if key == "corrected" and "r" in traces:
            description += "; r per ROI in PlaneSegmentation's neuropil_r column"
        region = regions["rings" if key == "neuropil" and rings is not None else "rois"]
        fluorescence.create_roi_response_series(
            name=name,
            description=description,
            data=pynwb.H5DataIO(traces[key].T, compression="gzip"),
            rois=region,
            unit="a.u.",
            rate=float(rate),
        )
