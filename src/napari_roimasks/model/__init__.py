"""The curation session, headless: what the docks show and edit, as plain Python with events.

- :mod:`.rois`: :class:`RoiModel`, the ROIs, border, ring options, rings,
  traces, selection and the ROI table's rows; one per viewer (:func:`model_for`);
- :mod:`.traces`: extracted traces, movie tokens, the neuropil correction and
  what the plot shows;
- :mod:`.extraction`: the extraction job (a generator for a worker thread),
  here or on a Dask cluster;
- :mod:`.exports`: what an export of the session holds (:func:`nwb_contents`).

No Qt and no napari: pipelines and tests drive the model directly.
"""

from .exports import NwbContents, nwb_contents
from .extraction import DaskClients, ExtractionFailed, extraction_job
from .rois import RoiModel, RoiSummary, model_for
from .traces import (
    Correction,
    ExtractionPlan,
    RoiTraces,
    corrected_traces,
    frames_without_numbers,
    movie_token,
    trace_series,
)

__all__ = [
    "Correction",
    "DaskClients",
    "ExtractionFailed",
    "ExtractionPlan",
    "NwbContents",
    "RoiModel",
    "RoiSummary",
    "RoiTraces",
    "corrected_traces",
    "extraction_job",
    "frames_without_numbers",
    "model_for",
    "movie_token",
    "nwb_contents",
    "trace_series",
]
