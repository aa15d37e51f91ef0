"""The numerical core: masks, motion border, neuropil rings and trace extraction.

numpy and scipy only: nothing here imports napari, Qt, magicgui or matplotlib.
"""

from .border import MotionBorder, UsableArea
from .neuropil import ALLEN_NEUROPIL_RADIUS, neuropil_window
from .traces import ExtractionCancelled, check_frame_source, extract_traces

__all__ = [
    "ALLEN_NEUROPIL_RADIUS",
    "ExtractionCancelled",
    "MotionBorder",
    "UsableArea",
    "check_frame_source",
    "extract_traces",
    "neuropil_window",
]
