"""NWB: ROIs and neuropil masks as ``ImageSegmentation``, traces as ``Fluorescence``.

Needs pynwb (``pip install 'napari-roimasks[nwb]'``). :func:`write_nwb` writes,
in the processing module ``ophys``:

- ``ImageSegmentation`` with the plane segmentations ``PlaneSegmentation``
  (the ROIs: ``image_mask``, and the columns ``roi_id``, ``mask_group`` and,
  with corrected traces, ``neuropil_r``) and, when given,
  ``NeuropilSegmentation`` (each ROI's neuropil mask);
- ``Fluorescence`` with the ``RoiResponseSeries`` ``RoiResponseSeries`` (F),
  ``Neuropil`` (Fneu) and ``Corrected`` (F - r Fneu), (frames, ROIs), when
  traces are given;

and the session's metadata (:class:`NwbSession`: who, where, which animal,
the indicator, the microscope), so that nwbinspector finds nothing to fix.

Axes. An ``image_mask`` is an image-sized array read as (rows, columns); a
``pixel_mask`` is ``(x, y, weight)`` and a ``voxel_mask`` ``(x, y, z, weight)``
with ``x`` the *first* array axis (the row) and ``y`` the column, as pynwb's
``PlaneSegmentation.image_to_pixel`` and suite2p's NWB export write them
(suite2p puts ``ypix`` in ``x``). A weight > 0 marks a pixel of the mask; the
weights are kept (``RoiEntry.weights``). A file of pixel masks records no image
size: it comes from the plane segmentation's reference images or from an
imaging series of the same imaging plane (suite2p's ``TwoPhotonSeries``
``dimension``), else it is left to the caller.

NWB has no field for the motion border or the neuropil ring options: they are
not written (an extension namespace could hold them, but other NWB readers
would not know it).
"""

from __future__ import annotations

import os
import re
import uuid
import warnings
from dataclasses import dataclass, fields
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from ..core.masks import MaskCrop
from .atomic import atomic_path
from .roi_set import RoiEntry, RoiFileError, RoiSet, id_from_text

__all__ = ["NWB_INSTALL", "NwbSession", "read_nwb_rois", "write_nwb"]

NAME = "NWB PlaneSegmentation"
#: What to tell a user without pynwb.
NWB_INSTALL = "NWB files need pynwb: pip install 'napari-roimasks[nwb]'"

# the forms nwbinspector accepts (nwbinspector.checks._nwbfile_metadata)
_AGE = re.compile(
    r"P(?!$)(\d+(\.\d+)?Y)?(\d+(\.\d+)?M)?(\d+(\.\d+)?W)?(\d+(\.\d+)?D)?"
    r"(T(?=\d)(\d+(\.\d+)?H)?(\d+(\.\d+)?M)?(\d+(\.\d+)?S)?)?"
)
_SPECIES = re.compile(r"[A-Z][a-z]* [a-z]+|http://purl\.obolibrary\.org/obo/NCBITaxon_\d+")
_SEXES = {"M": "male", "F": "female", "U": "unknown", "O": "other"}
_WAVELENGTHS_NM = (200.0, 2000.0)
_MIN_RATE = 0.01  # nwbinspector takes a lower rate for a period given as a rate


@dataclass(frozen=True)
class NwbSession:
    """What an NWB file says about the recording: session, people, animal, imaging.

    Every field has a default, so ``NwbSession()`` writes a valid file; a lab
    fills in what DANDI and nwbinspector ask for. Values are checked when the
    session is made: a bad one raises ``ValueError`` whose message starts with
    the field's name.

    Attributes
    ----------
    session_description : str
        What the session was, in a sentence.
    experiment_description : str or None
        What the experiment was about.
    experimenter : tuple of str
        Who did it, each as ``"Last, First"`` (DANDI's form).
    institution, lab : str or None
    keywords : tuple of str
        Terms to find the file by.
    session_start_time : datetime or None
        When the recording started; without a time zone, the local one. None:
        the time the file is written.
    subject_id, species, age : str or None
        The animal: give all three or none. ``species`` in Latin
        (``"Mus musculus"``) or as an NCBI taxonomy IRI; ``age`` as an ISO 8601
        duration (``"P90D"``, or a range ``"P60D/P90D"``).
    sex : {'U', 'M', 'F', 'O'}
        Unknown, male, female or other.
    indicator : str
        The calcium indicator, e.g. ``"GCaMP6f"``.
    location : str
        Where the plane lies; for a mouse, an Allen CCF term (``"VISp"``).
    excitation_wavelength, emission_wavelength : float or None
        In nanometres (e.g. 920 and 510); None: not known.
    imaging_rate : float
        Frames per second of the movie (and the traces).
    device_description : str
        The microscope.
    """

    session_description: str = (
        "Two-photon calcium imaging: ROIs curated and traces extracted with napari-roimasks"
    )
    experiment_description: str | None = None
    experimenter: tuple[str, ...] = ()
    institution: str | None = None
    lab: str | None = None
    keywords: tuple[str, ...] = ("two-photon calcium imaging", "ROI segmentation", "neuropil")
    session_start_time: datetime | None = None
    subject_id: str | None = None
    species: str | None = None
    sex: str = "U"
    age: str | None = None
    indicator: str = "unknown"
    location: str = "unknown"
    excitation_wavelength: float | None = None
    emission_wavelength: float | None = None
    imaging_rate: float = 30.0
    device_description: str = "two-photon microscope"

    def __post_init__(self) -> None:
        def put(name, value):
            object.__setattr__(self, name, value)

        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, str):
                put(f.name, value.strip() or (None if f.default is None else ""))
        for name in ("experimenter", "keywords"):
            value = getattr(self, name)
            items = (value,) if isinstance(value, str) else tuple(value or ())
            put(name, tuple(s.strip() for s in map(str, items) if s.strip()))
        for name in ("session_description", "indicator", "location", "device_description"):
            if not getattr(self, name):
                raise ValueError(f"{name}: must not be empty")
        start = self.session_start_time
        if start is not None:
            if start.tzinfo is None:
                start = start.astimezone()  # the local time zone, as pynwb assumes
                put("session_start_time", start)
            if start > datetime.now(timezone.utc):
                raise ValueError(f"session_start_time: {start.isoformat()} is in the future")
        self._check_subject()
        for name in ("excitation_wavelength", "emission_wavelength"):
            value = getattr(self, name)
            low, high = _WAVELENGTHS_NM
            if value is not None and not (low <= float(value) <= high):
                raise ValueError(
                    f"{name}: {value} is not a wavelength in nanometres ({low:.0f}-{high:.0f}, "
                    "e.g. 920 for a two-photon laser, 510 for GCaMP's emission)"
                )
        if not (np.isfinite(self.imaging_rate) and self.imaging_rate >= _MIN_RATE):
            raise ValueError(
                f"imaging_rate: {self.imaging_rate} is not a frame rate in frames per second "
                f"(at least {_MIN_RATE})"
            )

    def _check_subject(self) -> None:
        if self.sex not in _SEXES:
            raise ValueError(f"sex: {self.sex!r} is not one of U (unknown), M, F, O (other)")
        given = {"subject_id": self.subject_id, "species": self.species, "age": self.age}
        if not any(given.values()) and self.sex == "U":
            return
        missing = [name for name, value in given.items() if not value]
        if missing:
            raise ValueError(
                f"{missing[0]}: an animal is described by subject_id, species and age "
                f"together; {', '.join(missing)} missing"
            )
        if "/" in self.subject_id:
            raise ValueError(f"subject_id: {self.subject_id!r} must not contain '/'")
        if not _SPECIES.fullmatch(self.species):
            raise ValueError(
                f"species: {self.species!r} is neither a Latin binomial ('Mus musculus') nor "
                "an NCBI taxonomy IRI (http://purl.obolibrary.org/obo/NCBITaxon_10090)"
            )
        bounds = self.age.split("/") if self.age.count("/") == 1 else [self.age]
        if not all(b == "" or _AGE.fullmatch(b) for b in bounds) or not bounds[0]:
            raise ValueError(
                f"age: {self.age!r} is not an ISO 8601 duration such as P90D (90 days), "
                "P12W or a range P60D/P90D"
            )

    @property
    def has_subject(self) -> bool:
        """Whether the session describes the animal."""
        return self.subject_id is not None


def _pynwb(path):
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
    pynwb = _pynwb(path)
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
            description=f"the animal imaged: {session.species}, sex {_SEXES[session.sex]}",
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
    extra = {}
    if "r" in traces:
        extra["neuropil_r"] = ("the r of each ROI's Corrected trace, F - r * Fneu", traces["r"])
    table = _plane_segmentation(
        "PlaneSegmentation",
        "The ROIs: image_mask (the ROI's pixels, with their weights where the source file "
        "had them), roi_id (its id in napari-roimasks), mask_group (a user-defined category, "
        "AllenSDK's mask_group; -1: none)",
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
        VectorData(name=key, description=text, data=np.asarray(values, dtype=float))
        for key, (text, values) in extra.items()
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


# -- reading ------------------------------------------------------------------------------------
def read_nwb_rois(path, *, name: str = "PlaneSegmentation") -> RoiSet:
    """The ROIs of an NWB file's plane segmentation (``image_mask``, ``pixel_mask`` or
    ``voxel_mask`` of one z-plane).

    Parameters
    ----------
    path : str or os.PathLike
    name : str
        The plane segmentation to read; without one of that name, the first.

    Returns
    -------
    RoiSet
        Ids from the ``roi_id`` column (else the table's ids), groups from
        ``mask_group`` (else suite2p's ``iscell``: 1 cell, 0 not; else -1),
        each ROI's weights, and the image size when the file gives it (else None).

    Raises
    ------
    RoiFileError
        Without pynwb, or for a file that holds no readable plane segmentation;
        the message starts with the path.
    """
    pynwb = _pynwb(path)
    path = Path(os.fspath(path))
    try:
        with warnings.catch_warnings():  # namespace-version chatter of files from other tools
            warnings.simplefilter("ignore")
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
                    raise RoiFileError(
                        f"{path}: no ROIs; expected an ImageSegmentation with a "
                        "PlaneSegmentation in a processing module (e.g. processing/ophys)"
                    )
                table = next((t for t in tables if t.name == name), tables[0])
                return _roi_set(path, nwb, table)
    except RoiFileError:
        raise
    except Exception as error:  # h5py, hdmf and pynwb raise many kinds for broken files
        raise RoiFileError(
            f"{path}: not a readable NWB file (expected an NWB 2 HDF5 file): {_one_line(error)}"
        ) from None


def _one_line(error: Exception) -> str:
    text = " ".join(str(error).split()) or type(error).__name__
    return text if len(text) <= 200 else text[:199] + "…"


def _roi_set(path: Path, nwb, table) -> RoiSet:
    columns = table.colnames
    n = len(table)
    ids = list(table["roi_id"].data[:]) if "roi_id" in columns else list(table.id.data[:])
    ids = [id_from_text(i) for i in ids]
    groups = [-1] * n
    if "mask_group" in columns:
        groups = [int(g) for g in table["mask_group"].data[:]]
    elif "iscell" in columns:  # suite2p: (is a cell, probability)
        groups = [int(np.ravel(row)[0]) for row in table["iscell"].data[:]]
    if "image_mask" in columns:
        masks = table["image_mask"].data
        if len(masks.shape) == 4 and masks.shape[3] != 1:
            raise RoiFileError(
                f"{path}: the image masks of {table.name!r} are volumes of {masks.shape[3]} "
                "z-planes; expected 2D masks (napari-roimasks reads one imaging plane)"
            )
        rois = [
            _entry_from_image(ident, group, np.asarray(masks[i]).reshape(masks.shape[1:3]))
            for i, (ident, group) in enumerate(zip(ids, groups, strict=True))
        ]
        return RoiSet(rois, image_shape=tuple(masks.shape[1:3]), kind=NAME)
    if "pixel_mask" in columns:
        rows, columns_, weights, ends = _flat_mask(table["pixel_mask"], ("x", "y", "weight"))
    elif "voxel_mask" in columns:
        rows, columns_, z, weights, ends = _flat_mask(
            table["voxel_mask"], ("x", "y", "z", "weight")
        )
        planes = np.unique(z[weights > 0])
        if len(planes) > 1:
            shown = ", ".join(str(int(p)) for p in planes[:8]) + (", …" if len(planes) > 8 else "")
            raise RoiFileError(
                f"{path}: the voxel masks of {table.name!r} lie in {len(planes)} z-planes "
                f"({shown}); expected the ROIs of one plane (napari-roimasks reads 2D ROIs)"
            )
    else:
        raise RoiFileError(
            f"{path}: the plane segmentation {table.name!r} has no image_mask, pixel_mask or "
            "voxel_mask; expected one of them"
        )
    starts = np.concatenate([[0], ends[:-1]])
    rois = [
        _entry_from_pixels(ident, group, rows[a:b], columns_[a:b], weights[a:b])
        for ident, group, a, b in zip(ids, groups, starts, ends, strict=True)
    ]
    return RoiSet(rois, image_shape=_plane_size(nwb, table), kind=NAME)


def _flat_mask(column, names):
    """A ragged pixel or voxel mask column as flat arrays (one per field) and each ROI's end."""
    flat = np.asarray(column.target.data[:])
    if flat.dtype.names:
        parts = [flat[name] for name in names]
    else:
        parts = list(flat.reshape(-1, len(names)).T)
    *coordinates, weights = parts
    return (
        *(np.asarray(c).astype(np.int64) for c in coordinates),
        np.asarray(weights, dtype=float),
        np.asarray(column.data[:], dtype=np.int64),
    )


def _entry_from_pixels(ident, group, rows, columns, weights) -> RoiEntry:
    keep = weights > 0  # NaN is no pixel either
    if not keep.any():
        return RoiEntry(ident, None, int(group))
    rows, columns, weights = rows[keep], columns[keep], weights[keep]
    top, left = int(rows.min()), int(columns.min())
    box = np.zeros((int(rows.max()) - top + 1, int(columns.max()) - left + 1))
    box[rows - top, columns - left] = weights
    crop = MaskCrop(top, left, box > 0)
    return RoiEntry(ident, crop, int(group), None if np.all(weights == 1) else box)


def _entry_from_image(ident, group, mask: np.ndarray) -> RoiEntry:
    if mask.dtype == bool:
        return RoiEntry(ident, MaskCrop.from_plane(mask), int(group))
    values = np.asarray(mask, dtype=float)
    crop = MaskCrop.from_plane(np.isfinite(values) & (values > 0))
    if crop is None:
        return RoiEntry(ident, None, int(group))
    box = np.where(crop.pixels, values[crop.slices], 0.0)
    return RoiEntry(ident, crop, int(group), None if np.all(box[crop.pixels] == 1) else box)


def _plane_size(nwb, table) -> tuple[int, int] | None:
    """The (rows, columns) of the plane segmentation's reference images, or of an imaging
    series of its imaging plane (suite2p: a ``TwoPhotonSeries`` with ``dimension`` [Ly, Lx])."""
    from pynwb.image import ImageSeries

    series = list(table.reference_images or [])
    series += [
        item
        for item in nwb.objects.values()
        if isinstance(item, ImageSeries)
        and getattr(item, "imaging_plane", None) is table.imaging_plane
        and item not in series
    ]
    for item in series:
        data_shape = getattr(item.data, "shape", ())
        if len(data_shape) >= 3 and data_shape[1] and data_shape[2]:
            return int(data_shape[1]), int(data_shape[2])
        dimension = item.dimension
        if dimension is not None and len(dimension) >= 2:
            return int(dimension[0]), int(dimension[1])
    return None
