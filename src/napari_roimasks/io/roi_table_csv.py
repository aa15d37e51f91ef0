"""The ROI table as CSV: one row per ROI with its decision, for a spreadsheet or a script.

Columns: ``id``, ``decision`` (cell, not_cell, unlabeled), ``reason``,
``decided_at`` (ISO 8601 with the zone; empty: unknown), ``probability``
(empty: unknown; otherwise the shortest text that reads back as the same
float), ``mask_group``, ``area`` (pixels) and, when exclusions are given,
``exclusion`` (AllenSDK's exclusion labels, ``;`` between several). UTF-8,
written atomically.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path

from .atomic import write_csv_atomically
from .decision_text import decision_fields
from .roi_set import RoiEntry, RoiSet

__all__ = ["ROI_TABLE_COLUMNS", "roi_table_rows", "write_roi_table_csv"]

#: The columns of every table; ``exclusion`` follows when exclusions are given.
ROI_TABLE_COLUMNS = (
    "id",
    "decision",
    "reason",
    "decided_at",
    "probability",
    "mask_group",
    "area",
)


def roi_table_rows(
    rois: RoiSet | Sequence[RoiEntry], exclusions: Mapping | None = None
) -> list[list[str]]:
    """The table's rows as text, header first.

    Parameters
    ----------
    rois : RoiSet or sequence of RoiEntry
    exclusions : mapping, optional
        ROI id -> its exclusion text (or a sequence of labels); an ROI not in it has none.
        None: no ``exclusion`` column.
    """
    entries = rois.rois if isinstance(rois, RoiSet) else list(rois)
    header = [*ROI_TABLE_COLUMNS, *(("exclusion",) if exclusions is not None else ())]
    rows = [header]
    for roi in entries:
        decision, reason, decided_at, probability = decision_fields(roi)
        area = 0 if roi.crop is None else int(roi.crop.pixels.sum())
        row = [
            str(roi.id),
            decision,
            reason,
            decided_at,
            "" if math.isnan(probability) else repr(probability),
            str(int(roi.mask_group)),
            str(area),
        ]
        if exclusions is not None:
            row.append(_exclusion_text(exclusions.get(roi.id, "")))
        rows.append(row)
    return rows


def write_roi_table_csv(
    path,
    rois: RoiSet | Sequence[RoiEntry],
    *,
    exclusions: Mapping | None = None,
    overwrite: bool = False,
) -> Path:
    """Write the ROI table (see the module's docstring) as CSV, atomically.

    Parameters
    ----------
    path : str or os.PathLike
    rois : RoiSet or sequence of RoiEntry
    exclusions : mapping, optional
        ROI id -> its exclusion text or labels; adds the ``exclusion`` column.
    overwrite : bool
        Replace an existing file.

    Returns
    -------
    Path

    Raises
    ------
    FileExistsError
        If the file exists and ``overwrite`` is False.
    """
    return write_csv_atomically(path, roi_table_rows(rois, exclusions), overwrite=overwrite)


def _exclusion_text(value) -> str:
    if isinstance(value, str):
        return value
    return ";".join(str(v) for v in value)
