"""The ROI masks dock's *Export table (CSV)…*: the rows the table shows, decided by keys, read
back with pandas; a file that cannot be written is named in one notification, and nothing
half-written is left."""

from __future__ import annotations

import pandas as pd
import pytest
from qtpy.QtCore import Qt
from qtpy.QtTest import QTest

from napari_roimasks.io.roi_table_csv import ROI_TABLE_COLUMNS
from napari_roimasks.widgets import _napari

COLUMNS = [*ROI_TABLE_COLUMNS, "exclusion"]


def press(viewer, key):
    QTest.keyClick(viewer.window._qt_viewer.canvas.native, key)


def read(path) -> pd.DataFrame:
    return pd.read_csv(path, keep_default_na=False, dtype={"reason": str, "exclusion": str})


@pytest.fixture
def decided(session):
    """The sample recording with ROIs 1 and 3 decided cells and 2 not a cell, by keys."""
    viewer, dock, _, _ = session
    press(viewer, Qt.Key.Key_J)  # the first row
    press(viewer, Qt.Key.Key_G)  # goes on to 2
    press(viewer, Qt.Key.Key_N)  # goes on to 3
    press(viewer, Qt.Key.Key_G)
    assert [dock.model.summary(k).decision.value for k in (1, 2, 3, 4)] == [
        "cell",
        "not_cell",
        "cell",
        "unlabeled",
    ]
    return viewer, dock


def test_the_csv_holds_the_rows_the_table_shows_in_its_order(decided, tmp_path, notes):
    _, dock = decided
    dock.triage.filter_box.setCurrentText("cells")
    dock.table.sort_rows("area", descending=True)
    shown = dock.table.view.keys
    path = dock.export_table_csv(tmp_path / "cells.csv")
    assert path == tmp_path / "cells.csv"
    table = read(path)
    assert list(table.columns) == COLUMNS
    assert list(table["id"]) == shown
    assert sorted(table["id"]) == [1, 3]
    assert list(table["decision"]) == ["cell", "cell"]
    assert list(table["area"]) == [dock.model.summary(k).area for k in shown]
    assert all(pd.to_datetime(table["decided_at"]).notna())
    assert notes[-1] == ("show_info", f"2 ROIs written to {path}")


def test_all_rois_with_their_decisions_and_exclusions(decided, tmp_path):
    _, dock = decided
    table = read(dock.export_table_csv(tmp_path / "all.csv"))
    rows = dock.model.rows()
    assert list(table["id"]) == [row.key for row in rows]
    assert list(table["decision"][:4]) == ["cell", "not_cell", "cell", "unlabeled"]
    assert list(table["decided_at"][3:]) == [""] * (len(rows) - 3)
    excluded = {row.key: ";".join(row.exclusions) for row in rows}
    assert dict(zip(table["id"], table["exclusion"], strict=True)) == excluded
    assert any(excluded.values())  # the sample's border excludes some


def test_the_button_asks_for_a_file(decided, tmp_path, monkeypatch, qtbot):
    _, dock = decided
    target = tmp_path / "chosen.csv"
    target.write_text("old")  # the dialog asked before replacing it
    monkeypatch.setattr(
        _napari.QFileDialog,
        "getSaveFileName",
        lambda *args: (str(target), "CSV (*.csv)"),
    )
    qtbot.mouseClick(dock._export_table.native, Qt.MouseButton.LeftButton)
    assert len(read(target)) == len(dock.model.rows())


def test_a_file_that_cannot_be_written_is_named_and_nothing_is_left(decided, tmp_path, notes):
    _, dock = decided
    existing = tmp_path / "kept.csv"
    existing.write_text("mine")
    assert dock.export_table_csv(existing) is None  # not replaced without overwrite
    assert existing.read_text() == "mine"
    assert notes[-1][0] == "show_error" and str(existing) in notes[-1][1]

    folder = tmp_path / "table.csv"  # a folder where the file should go: the write fails
    folder.mkdir()
    (folder / "inside.txt").write_text("x")
    before = len(notes)
    assert dock.export_table_csv(folder, overwrite=True) is None
    assert len(notes) == before + 1
    kind, message = notes[-1]
    assert kind == "show_error" and message.startswith(f"Table not exported to {folder}: ")
    assert "\n" not in message
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kept.csv", "table.csv"]  # no temporary
    assert [p.name for p in folder.iterdir()] == ["inside.txt"]

    missing = tmp_path / "no such folder" / "rois.csv"
    assert dock.export_table_csv(missing) is None
    assert notes[-1] == (
        "show_error",
        f"Table not exported to {missing}: No such file or directory",
    )


def test_without_rois_there_is_nothing_to_export(make_napari_viewer, tmp_path, notes):
    viewer = make_napari_viewer()
    _, dock = viewer.window.add_plugin_dock_widget("napari-roimasks", "ROI masks")
    assert dock.export_table_csv(tmp_path / "rois.csv") is None
    assert notes[-1] == ("show_warning", "No ROIs to export: choose an ROI layer first")
    assert not (tmp_path / "rois.csv").exists()
