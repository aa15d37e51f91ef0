"""The curation session, headless: what the docks show and edit, as plain Python with events.

- :mod:`.rois`: :class:`RoiModel`, the ROIs, border, ring options, rings,
  traces, selection and the ROI table's rows; one per viewer (:func:`model_for`);
- :mod:`.decisions`: each ROI's decision (cell, not cell, unlabeled), reason and
  time, with their own undo and redo (:class:`Decisions`, held by the model);
- :mod:`.triage`: the table's order (sort, filter) and where the keyboard goes
  next (:class:`TriageView`);
- :mod:`.traces`: extracted traces, movie tokens, the neuropil correction and
  what the plot shows;
- :mod:`.extraction`: the extraction job (a generator for a worker thread),
  here or on a Dask cluster;
- :mod:`.session`: the session file's snapshot of the model, its restore, and
  :class:`Autosave` (a background writer that keeps it current);
- :mod:`.exports`: what an export of the session holds (:func:`nwb_contents`);
- :mod:`.summary`: the summary images' job and the layers that show them
  (the movie's, or suite2p's from ``ops.npy``);
- :mod:`.pixel_maps`: an ROI's correlation map and a pixel's trace, as jobs;
- :mod:`.quality`: each ROI's quality metrics and suggestion (rules, classifier);
- :mod:`.repairs`: merges and splits, undone with the label image's own undo;
- :mod:`.events`: an ROI's transients and the dF image around one, as a job;
- :mod:`.jobs`: how a worker thread drives a pass over the movie (progress, cancel).

No Qt and no napari: pipelines and tests drive the model directly.
"""

from .decisions import MAX_UNDO_STEPS, Decisions, DecisionStep, RoiDecision
from .events import (
    EventImage,
    Transient,
    event_image_job,
    roi_transients,
    trace_transients,
    transients_problem,
)
from .exports import NwbContents, nwb_contents
from .extraction import DaskClients, ExtractionFailed, extraction_job
from .jobs import JobFailed, cancellable_job
from .pixel_maps import (
    PixelTrace,
    RoiCorrelation,
    RoiMapInputs,
    pixel_series,
    pixel_trace_job,
    roi_correlation_job,
    roi_correlation_problem,
    roi_correlation_window,
)
from .rois import RoiModel, RoiSummary, model_for
from .session import (
    AUTOSAVE_DELAY,
    Autosave,
    SessionSaved,
    restore_session,
    restore_session_extras,
    session_contents,
)
from .summary import SummaryLayer, display_limits, suite2p_summary, summary_job, summary_layers
from .traces import (
    Correction,
    ExtractionPlan,
    RoiTraces,
    corrected_traces,
    frames_without_numbers,
    movie_token,
    trace_series,
)
from .triage import SORT_COLUMNS, AfterDecision, TriagePlace, TriageView, decision_counts

__all__ = [
    "AUTOSAVE_DELAY",
    "MAX_UNDO_STEPS",
    "SORT_COLUMNS",
    "AfterDecision",
    "Autosave",
    "Correction",
    "DaskClients",
    "DecisionStep",
    "Decisions",
    "EventImage",
    "ExtractionFailed",
    "ExtractionPlan",
    "JobFailed",
    "NwbContents",
    "PixelTrace",
    "RoiCorrelation",
    "RoiDecision",
    "RoiMapInputs",
    "RoiModel",
    "RoiSummary",
    "RoiTraces",
    "SessionSaved",
    "SummaryLayer",
    "Transient",
    "TriagePlace",
    "TriageView",
    "cancellable_job",
    "corrected_traces",
    "decision_counts",
    "display_limits",
    "event_image_job",
    "extraction_job",
    "frames_without_numbers",
    "model_for",
    "movie_token",
    "nwb_contents",
    "pixel_series",
    "pixel_trace_job",
    "restore_session",
    "restore_session_extras",
    "roi_correlation_job",
    "roi_correlation_problem",
    "roi_correlation_window",
    "roi_transients",
    "session_contents",
    "suite2p_summary",
    "summary_job",
    "summary_layers",
    "trace_series",
    "trace_transients",
    "transients_problem",
]
