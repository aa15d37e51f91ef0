"""The quality metrics of a finished extraction: ``napari-roimasks metrics OUTDIR``.

Headless, like :mod:`napari_roimasks.pipeline`. The output folder of
``napari-roimasks extract`` holds the traces (``roi_traces.h5``,
``neuropil_traces.h5``), each ROI's neuropil ring with the motion border and
the image size (``neuropil_masks.json``), the exclusions, and the summary
images when ``--summary`` asked for them. It holds neither the ROIs' own
masks nor the name of the ROI file they came from. So:

- the trace metrics (``skew``, ``snr``, ``events``) come from the traces, and
  ``correlation_ring`` from the rings and the summary images;
- the metrics of the ROIs' pixels (:data:`ROI_COLUMNS`) need the ROI file
  ``extract`` read, given again: its ROIs are matched to the traces by id
  (and by decision where ``extract --only`` kept some), read on the folder's
  image size, and must give the folder's ROI exclusions;
- without it (or without summary images) those columns are left empty, and
  :func:`empty_columns` says which and how to fill them.

Given the same inputs and ratio, the file is the one ``extract --metrics``
writes, byte for byte: the same numbers go into the same computation.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .core.border import MotionBorder
from .core.masks import MaskCrop
from .pipeline import METRICS_OUTPUT, ONLY_CHOICES, OUTPUTS, InputError, metric_traces

__all__ = [
    "IMAGE_COLUMNS",
    "ROI_COLUMNS",
    "ExtractedFolder",
    "empty_columns",
    "folder_metrics",
    "read_extracted_folder",
    "write_folder_metrics",
]

#: The metrics that need the ROIs' own masks (the ROI file ``extract`` read).
ROI_COLUMNS = (
    "area",
    "compactness",
    "aspect_ratio",
    "border_distance",
    "correlation_roi",
    "brightness_z",
)
#: The metrics that need the summary images.
IMAGE_COLUMNS = ("correlation_roi", "correlation_ring", "brightness_z")


@dataclass
class ExtractedFolder:
    """What an ``extract`` output folder holds for the metrics.

    Attributes
    ----------
    folder : Path
    roi_ids : list of str
        The ROIs' ids, in the traces' order.
    roi_traces, neuropil_traces : (n_rois, n_frames) float64 ndarray
    rings : list of MaskCrop or None
        Each ROI's neuropil ring (None: no pixel).
    border : MotionBorder
    image_shape : (rows, columns)
    excluded : set of str
        The ids ``exclusions.json`` names.
    rois : list of MaskCrop or None, optional
        Each ROI's mask, from the ROI file (None: not given).
    summary : dict of str -> (rows, columns) float32 ndarray, optional
        The summary images (None: none found).
    summary_file : Path, optional
    """

    folder: Path
    roi_ids: list
    roi_traces: np.ndarray
    neuropil_traces: np.ndarray
    rings: list
    border: MotionBorder
    image_shape: tuple[int, int]
    excluded: set = field(default_factory=set)
    rois: list | None = None
    summary: dict | None = None
    summary_file: Path | None = None


def read_extracted_folder(
    folder, *, rois_file=None, summary_file=None, overwrite: bool = False
) -> ExtractedFolder:
    """Read and check an ``extract`` output folder (and the ROI and summary files given).

    Parameters
    ----------
    folder : str or os.PathLike
    rois_file : str or os.PathLike, optional
        The ROI file ``extract`` read: fills the metrics of the ROIs' pixels.
    summary_file : str or os.PathLike, optional
        The summary images (default: the one summary file in the folder, if any).
    overwrite : bool
        Whether a ``metrics.csv`` already there may be replaced.

    Raises
    ------
    InputError
        Naming the file and what was expected: no such folder, a folder that is not
        an output set, traces of the wrong shape, an ROI file whose ROIs are not the
        traces', summary images of another size, or a ``metrics.csv`` there already
        without ``overwrite``.
    """
    folder = Path(folder)
    if not folder.exists():
        raise InputError(f"{folder}: no such folder")
    if not folder.is_dir():
        raise InputError(
            f"{folder}: not a folder; give the output folder of napari-roimasks extract"
        )
    missing = [name for name in OUTPUTS if not (folder / name).is_file()]
    if missing:
        raise InputError(
            f"{folder}: not an output folder of napari-roimasks extract (no {', '.join(missing)}); "
            f"expected {', '.join(OUTPUTS)}"
        )
    if (folder / METRICS_OUTPUT).exists() and not overwrite:
        raise _metrics_there(folder)
    roi_traces, roi_ids = _traces(folder / OUTPUTS[0])
    neuropil_traces, neuropil_ids = _traces(folder / OUTPUTS[1])
    if neuropil_traces.shape != roi_traces.shape or neuropil_ids != roi_ids:
        raise InputError(
            f"{folder / OUTPUTS[1]}: expected the traces of {OUTPUTS[0]}'s ROIs, "
            f"{roi_traces.shape[0]} x {roi_traces.shape[1]} frames, with the same roi_names; got "
            f"{neuropil_traces.shape[0]} x {neuropil_traces.shape[1]}"
        )
    rings, border, image_shape = _rings(folder / OUTPUTS[2], len(roi_ids))
    exclusions = _exclusions(folder / OUTPUTS[3])
    extracted = ExtractedFolder(
        folder,
        roi_ids,
        roi_traces,
        neuropil_traces,
        rings,
        border,
        image_shape,
        excluded={e["roi_id"] for e in exclusions},
    )
    if rois_file is not None:
        extracted.rois = _rois(Path(rois_file), extracted, exclusions)
    summary_file = _summary_file(folder) if summary_file is None else Path(summary_file)
    if summary_file is not None:
        extracted.summary = _summary(summary_file, image_shape)
        extracted.summary_file = summary_file
    return extracted


def _traces(path: Path) -> tuple[np.ndarray, list[str]]:
    from .io.allen_traces import read_trace_file

    try:
        traces, names = read_trace_file(path)
    except (OSError, KeyError, ValueError, TypeError):
        raise InputError(
            f"{path}: not an Allen trace file; expected the datasets data "
            "(n_rois, n_frames) and roi_names"
        ) from None
    traces = np.asarray(traces)
    if traces.ndim != 2 or traces.shape[0] != len(names) or traces.dtype.kind not in "fiu":
        raise InputError(
            f"{path}: expected data of numbers, (n_rois, n_frames) with one of roi_names per "
            f"row; got {traces.dtype} data of shape {traces.shape} and {len(names)} roi_names"
        )
    return traces.astype(np.float64, copy=False), names


def _rings(path: Path, n_rois: int) -> tuple[list, MotionBorder, tuple[int, int]]:
    from .io.allen_json import read_allen_masks
    from .io.roi_set import RoiFileError

    try:
        found = read_allen_masks(path)
    except RoiFileError as error:
        raise InputError(str(error)) from None
    if found.image_shape is None:
        raise InputError(
            f"{path}: records no image_size; expected the neuropil masks napari-roimasks "
            "extract writes"
        )
    if len(found.masks) != n_rois:
        raise InputError(
            f"{path}: expected a neuropil mask for each of the {n_rois} traced ROIs, "
            f"got {len(found.masks)}"
        )
    rings = [mask.crop for mask in found.masks]
    return rings, found.border or MotionBorder(), found.image_shape


def _exclusions(path: Path) -> list[dict]:
    try:
        exclusions = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        exclusions = None
    if not isinstance(exclusions, list) or not all(
        isinstance(e, dict) and {"roi_id", "exclusion_label_name"} <= set(e) for e in exclusions
    ):
        raise InputError(
            f"{path}: expected a JSON list of {{roi_id, exclusion_label_name}} objects"
        )
    return [
        {"roi_id": str(e["roi_id"]), "exclusion_label_name": e["exclusion_label_name"]}
        for e in exclusions
    ]


def _rois(path: Path, extracted: ExtractedFolder, exclusions: list[dict]) -> list:
    """The traced ROIs' masks from the ROI file ``extract`` read, as ``extract`` takes them."""
    from .core.exclusions import EMPTY_NEUROPIL, roi_exclusions
    from .io.roi_files import RoiFileError, read_rois
    from .pipeline import chosen_rois

    try:
        found = read_rois(path, image_shape=extracted.image_shape)
    except RoiFileError as error:
        raise InputError(str(error)) from None
    chosen = None
    for only in ONLY_CHOICES:  # the ROIs extract --only kept, in the file's order
        try:
            indices = chosen_rois(path, found.rois, only)
        except InputError:  # none of that decision
            continue
        if [str(found.rois[i].id) for i in indices] == extracted.roi_ids:
            chosen = indices
            break
    if chosen is None:
        raise InputError(
            f"{path}: its ROIs are not the ones traced in {extracted.folder / OUTPUTS[0]} "
            f"({len(found.rois)} ROIs, against {len(extracted.roi_ids)} traces with other ids); "
            "give the ROI file napari-roimasks extract read"
        )
    rois = [_pixels_or_none(found.rois[i].crop) for i in chosen]
    usable = extracted.border.usable_area(*extracted.image_shape)
    expected = [
        (ident, reason)
        for ident, roi in zip(extracted.roi_ids, rois, strict=True)
        for reason in roi_exclusions(roi, usable)
    ]
    recorded = [
        (e["roi_id"], e["exclusion_label_name"])
        for e in exclusions
        if e["exclusion_label_name"] != EMPTY_NEUROPIL
    ]
    if expected != recorded:
        raise InputError(
            f"{path}: its ROIs are not the ones traced in {extracted.folder}: they would be "
            f"excluded otherwise than {extracted.folder / OUTPUTS[3]} says (the file has "
            "changed since extract read it?)"
        )
    return rois


def _pixels_or_none(crop: MaskCrop | None) -> MaskCrop | None:
    """An ROI's mask as ``extract`` takes it: None where it has no pixel."""
    return crop if crop is not None and crop.pixels.any() else None


def _summary_file(folder: Path) -> Path | None:
    """The folder's one summary file; None without one."""
    from .io.summary_files import is_summary_file

    found = sorted(
        path
        for path in folder.iterdir()
        if path.suffix.lower() in (".h5", ".hdf5")
        and path.name not in OUTPUTS
        and not path.name.lower().endswith(".roimasks.h5")
        and path.is_file()
        and is_summary_file(path)
    )
    if len(found) > 1:
        names = ", ".join(path.name for path in found)
        raise InputError(
            f"{folder}: holds several summary files ({names}); choose one with --summary"
        )
    return found[0] if found else None


def _summary(path: Path, image_shape: tuple[int, int]) -> dict:
    from .io.summary_files import SummaryFileError, read_summary_images

    if not path.is_file():
        raise InputError(f"{path}: no such summary file")
    try:
        images, _ = read_summary_images(path)
    except SummaryFileError as error:
        raise InputError(str(error)) from None
    rows, columns = images["mean"].shape
    if (rows, columns) != tuple(image_shape):
        raise InputError(
            f"{path}: the summary images are {columns}x{rows}, the traced ROIs' image "
            f"{image_shape[1]}x{image_shape[0]}"
        )
    return images


def folder_metrics(extracted: ExtractedFolder, r: float | str) -> dict[str, np.ndarray]:
    """Every ROI's quality metrics from an output folder, as ``extract --metrics`` computes
    them; NaN where the folder lacks what a metric needs (see :func:`empty_columns`).

    Parameters
    ----------
    extracted : ExtractedFolder
    r : float or "fit"
        The neuropil ratio (see :func:`~napari_roimasks.pipeline.metric_traces`).

    Returns
    -------
    dict of name -> (n_rois,) float64 ndarray
    """
    from .core.metrics import roi_metrics

    n = len(extracted.roi_ids)
    images = extracted.summary or {}
    return roi_metrics(
        extracted.rois if extracted.rois is not None else [None] * n,
        extracted.rings,
        border=extracted.border,
        image_shape=extracted.image_shape,
        corrected=metric_traces(extracted.roi_traces, extracted.neuropil_traces, r),
        correlation=images.get("correlation"),
        mean=images.get("mean"),
    )


def empty_columns(extracted: ExtractedFolder) -> tuple[list[str], str]:
    """The metrics left empty for want of an input, and what would fill them ("" for none)."""
    from .core.metrics import METRICS

    empty, wanted = set(), []
    if extracted.rois is None:
        empty.update(ROI_COLUMNS)
        wanted.append("--rois ROIS (the ROI file extract read)")
    if extracted.summary is None:
        empty.update(IMAGE_COLUMNS)
        wanted.append(
            "--summary SUMMARY.h5 (the movie's summary images: extract --summary, "
            "or napari-roimasks summary MOVIE -o SUMMARY.h5)"
        )
    return [name for name in METRICS if name in empty], " and ".join(wanted)


def write_folder_metrics(
    extracted: ExtractedFolder, r: float | str, *, overwrite: bool = False
) -> Path:
    """Write ``metrics.csv`` into the folder, atomically.

    Returns
    -------
    Path
        The file written.

    Raises
    ------
    InputError
        When a ``metrics.csv`` is there (it appeared since the folder was read) and
        ``overwrite`` is False.
    """
    from .io.metrics_csv import write_metrics_csv

    table = folder_metrics(extracted, r)
    try:
        return write_metrics_csv(
            extracted.folder / METRICS_OUTPUT,
            extracted.roi_ids,
            table,
            excluded=extracted.excluded,
            overwrite=overwrite,
        )
    except FileExistsError:
        raise _metrics_there(extracted.folder) from None


def _metrics_there(folder: Path) -> InputError:
    return InputError(f"{folder}: holds {METRICS_OUTPUT} already; pass --overwrite to replace it")
