"""The numerical core: masks, motion border, neuropil rings and trace extraction.

numpy, scipy and numba only: nothing here imports napari, Qt, magicgui or matplotlib.
"""

from .border import MotionBorder, UsableArea
from .masks import MaskCrop
from .neuropil import ALLEN_NEUROPIL_RADIUS, RingOptions, neuropil_region, ring_in_usable_area
from .rings import NeuropilRings, roi_crops_from_labels
from .traces import ExtractionCancelled, check_frame_source, extract_traces

__all__ = [
    "ALLEN_NEUROPIL_RADIUS",
    "ExtractionCancelled",
    "MaskCrop",
    "MotionBorder",
    "NeuropilRings",
    "RingOptions",
    "UsableArea",
    "check_frame_source",
    "extract_traces",
    "neuropil_region",
    "ring_in_usable_area",
    "roi_crops_from_labels",
]
