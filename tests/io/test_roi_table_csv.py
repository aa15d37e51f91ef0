"""The ROI table's CSV: one row per ROI with its decision, read back by Python's csv module."""

from __future__ import annotations

import csv
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest

from napari_roimasks.core import MaskCrop
from napari_roimasks.io.roi_set import Decision, RoiEntry, RoiSet
from napari_roimasks.io.roi_table_csv import write_roi_table_csv

WHEN = datetime(2024, 5, 1, 10, 30, tzinfo=timezone(timedelta(hours=2)))


def rois() -> RoiSet:
    disc = np.array([[0, 1, 0], [1, 1, 1], [0, 1, 0]], bool)
    return RoiSet(
        [
            RoiEntry(7, MaskCrop(2, 3, disc), 1, decision=Decision.CELL, decided_at=WHEN),
            RoiEntry(
                "edge",
                MaskCrop(0, 0, np.ones((2, 5), bool)),
                decision=Decision.NOT_CELL,
                reason='two cells, "merged"; split later\nsee notes',
                probability=0.1,
            ),
            RoiEntry(9, None),
        ]
    )


def read(path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def test_one_row_per_roi_with_its_decision_reason_time_probability_group_and_area(tmp_path):
    path = write_roi_table_csv(tmp_path / "table.csv", rois())
    rows = read(path)
    assert list(rows[0]) == [
        "id",
        "decision",
        "reason",
        "decided_at",
        "probability",
        "mask_group",
        "area",
    ]
    assert rows == [
        {
            "id": "7",
            "decision": "cell",
            "reason": "",
            "decided_at": "2024-05-01T10:30:00+02:00",
            "probability": "",
            "mask_group": "1",
            "area": "5",
        },
        {
            "id": "edge",
            "decision": "not_cell",
            "reason": 'two cells, "merged"; split later\nsee notes',
            "decided_at": "",
            "probability": "0.1",
            "mask_group": "-1",
            "area": "10",
        },
        {
            "id": "9",
            "decision": "unlabeled",
            "reason": "",
            "decided_at": "",
            "probability": "",
            "mask_group": "-1",
            "area": "0",
        },
    ]
    assert float(rows[1]["probability"]) == 0.1  # the same float back


def test_exclusions_add_a_column(tmp_path):
    path = write_roi_table_csv(
        tmp_path / "table.csv",
        rois().rois,
        exclusions={7: "motion_border", 9: ["empty_roi", "empty_neuropil"]},
    )
    assert [(r["id"], r["exclusion"]) for r in read(path)] == [
        ("7", "motion_border"),
        ("edge", ""),
        ("9", "empty_roi;empty_neuropil"),
    ]


def test_an_existing_table_is_replaced_only_when_asked(tmp_path):
    path = tmp_path / "table.csv"
    path.write_text("mine")
    with pytest.raises(FileExistsError):
        write_roi_table_csv(path, rois())
    assert path.read_text() == "mine"
    write_roi_table_csv(path, rois(), overwrite=True)
    assert len(read(path)) == 3
    assert [p.name for p in tmp_path.iterdir()] == ["table.csv"]  # no temporary left
