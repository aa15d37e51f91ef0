"""Per-ROI quality metrics as CSV (``metrics.csv`` beside the traces).

One row per ROI in the traces' order: ``roi_id``, then one column per metric
(:data:`~napari_roimasks.core.metrics.METRICS`, named as in the ROI table).
A number is written as the shortest text that reads back as the same float
(counts as whole numbers); a metric that could not be computed, and every
metric of an excluded ROI, is an empty cell. UTF-8, written atomically.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from .atomic import write_csv_atomically

__all__ = ["metrics_rows", "write_metrics_csv"]

_COUNTS = ("area", "events")


def metrics_rows(
    roi_ids: Sequence, metrics: Mapping[str, np.ndarray], excluded=frozenset()
) -> list[list[str]]:
    """The file's rows as text, header first."""
    names = list(metrics)
    excluded = {str(roi_id) for roi_id in excluded}  # ids as the file writes them
    rows = [["roi_id", *names]]
    for i, roi_id in enumerate(roi_ids):
        cells = [str(roi_id)]
        for name in names:
            value = float(metrics[name][i])
            if str(roi_id) in excluded or not math.isfinite(value):
                cells.append("")
            elif name in _COUNTS:
                cells.append(str(int(value)))
            else:
                cells.append(repr(value))
        rows.append(cells)
    return rows


def write_metrics_csv(
    path,
    roi_ids: Sequence,
    metrics: Mapping[str, np.ndarray],
    *,
    excluded=frozenset(),
    overwrite: bool = False,
) -> Path:
    """Write the metrics (see the module's docstring) as CSV, atomically (``overwrite`` and
    the FileExistsError as :func:`~.atomic.write_csv_atomically`).

    Parameters
    ----------
    roi_ids : sequence
        The ROIs' ids, in the traces' order.
    metrics : mapping of name -> (n_rois,) float ndarray
    excluded : set
        Ids of the ROIs AllenSDK's rules exclude: their cells are empty.
    """
    return write_csv_atomically(path, metrics_rows(roi_ids, metrics, excluded), overwrite=overwrite)
