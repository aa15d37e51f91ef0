"""The numerical core: masks, motion border, neuropil rings and trace extraction.

numpy, numba, scipy, scikit-image and scikit-learn only (the last three imported
where used, not before a movie's first frame is read): nothing here imports napari, Qt,
magicgui or matplotlib.
"""

from .border import MotionBorder, UsableArea
from .masks import MaskCrop
from .neuropil import ALLEN_NEUROPIL_RADIUS, RingOptions, neuropil_region, ring_in_usable_area
from .neuropil_correction import (
    ContaminationFit,
    delta_f_over_f,
    estimate_contamination_ratio,
    replace_unusable_ratios,
)
from .rings import NeuropilRings, roi_crops_from_labels
from .traces import ExtractionCancelled, check_frame_source, extract_traces, trace_extraction

__all__ = [
    "ALLEN_NEUROPIL_RADIUS",
    "ContaminationFit",
    "ExtractionCancelled",
    "MaskCrop",
    "MotionBorder",
    "NeuropilRings",
    "RingOptions",
    "UsableArea",
    "check_frame_source",
    "delta_f_over_f",
    "estimate_contamination_ratio",
    "extract_traces",
    "neuropil_region",
    "replace_unusable_ratios",
    "ring_in_usable_area",
    "roi_crops_from_labels",
    "trace_extraction",
]
