"""What an export of the curation session holds: the model's ROIs, rings and traces, as the
writers take them (:func:`napari_roimasks.io.nwb.write_nwb`)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..io.roi_set import RoiSet
from .traces import corrected_traces

__all__ = ["NwbContents", "nwb_contents"]


@dataclass(frozen=True)
class NwbContents:
    """What an NWB export writes: :func:`~napari_roimasks.io.nwb.write_nwb`'s arguments.

    Attributes
    ----------
    rois : RoiSet
    neuropils : list of MaskCrop or None
        Each ROI's neuropil ring, the pixels its Fneu is the mean of.
    traces : dict
        ``roi``, ``neuropil``, ``corrected`` (n_rois, n_frames) and ``r``
        (n_rois,); empty when no trace was extracted.
    """

    rois: RoiSet
    neuropils: list
    traces: dict

    @property
    def n_frames(self) -> int:
        """Frames of the traces; 0 without traces."""
        return self.traces["roi"].shape[1] if self.traces else 0


def nwb_contents(model) -> NwbContents:
    """The ROIs, rings and traces a :class:`~napari_roimasks.model.RoiModel` holds.

    The traces are F, Fneu and ``F - r * Fneu`` with the model's correction
    (its r per ROI). Every ROI's traces must be current, or none extracted.

    Raises
    ------
    ValueError
        Without ROIs, or when some ROIs' traces are missing or stale (the
        message says which and what to do).
    """
    if not model.roi_keys():
        raise ValueError("No ROIs to export: open Plugins > ROI masks and choose a layer with ROIs")
    rois = model.roi_set()
    keys = [entry.id for entry in rois.rois]
    neuropils = [model.ring(key) for key in keys]
    states = {key: model.trace_state(key) for key in keys}
    if all(state == "" for state in states.values()):
        return NwbContents(rois, neuropils, {})
    behind = [key for key, state in states.items() if state != "current"]
    if behind:
        shown = ", ".join(map(str, behind[:5])) + (", …" if len(behind) > 5 else "")
        raise ValueError(
            f"The traces of {len(behind)} ROIs are missing or stale (ROIs {shown}): press "
            "'Extract traces' first, so that the file's traces match its masks"
        )
    ratios = model.contamination_ratios()
    f = np.stack([model.traces[key].roi for key in keys])
    fneu = np.stack([model.traces[key].neuropil for key in keys])
    r = np.array([ratios[key] for key in keys], dtype=float)
    traces = {
        "roi": f,
        "neuropil": fneu,
        "corrected": corrected_traces(f, fneu, r[:, None]),
        "r": r,
    }
    return NwbContents(rois, neuropils, traces)
