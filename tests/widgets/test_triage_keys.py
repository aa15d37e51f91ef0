"""Keyboard triage in the "ROI masks" dock: real key presses in a real viewer.

Keys go where napari sends them: to the viewer's canvas (``QtViewer`` hands its
key presses to the canvas' key map, the viewer's bindings and the active layer's).
"""

from __future__ import annotations

import numpy as np
import pytest
from napari.utils.shortcuts import default_shortcuts
from qtpy.QtCore import QPoint, Qt
from qtpy.QtTest import QTest

from napari_roimasks.core import MotionBorder
from napari_roimasks.io.roi_set import Decision
from napari_roimasks.model.traces import RoiTraces
from napari_roimasks.widgets._decision_colours import GREY
from napari_roimasks.widgets._roi_table import DECISION_BRUSHES, FLAGGED
from napari_roimasks.widgets._triage import SHORTCUTS

PLUGIN = "napari-roimasks"
BACKGROUND = Qt.ItemDataRole.BackgroundRole
ALT = Qt.KeyboardModifier.AltModifier


@pytest.fixture
def sample(make_napari_viewer):
    """A viewer with the sample recording and the ROI masks dock, as a user opens them."""
    viewer = make_napari_viewer()
    layers = {layer.name: layer for layer in viewer.open_sample(PLUGIN, "synthetic_recording")}
    _, dock = viewer.window.add_plugin_dock_widget(PLUGIN, "ROI masks")
    return viewer, dock, layers


def press(viewer, key, modifier=Qt.KeyboardModifier.NoModifier):
    """A key pressed and released over the viewer's canvas."""
    QTest.keyClick(viewer.window._qt_viewer.canvas.native, key, modifier)


def shown_keys(dock):
    return [dock.table_model.key_at(r) for r in range(dock.table_model.rowCount())]


def row_of(dock, key, table):
    return table(dock)[dock.table_model.row_of(key)]


def decision_brush(dock, key):
    model = dock.table_model
    return model.data(model.index(model.row_of(key), 1), BACKGROUND)


def camera_of(viewer):
    return viewer.scene.camera if hasattr(viewer, "scene") else viewer.camera


def roi_centre(layer, key):
    rows, columns = np.nonzero(np.asarray(layer.data) == key)
    return ((rows.min() + rows.max()) / 2, (columns.min() + columns.max()) / 2)


def test_the_shortcuts_are_none_of_naparis_own():
    napari_keys = {str(k) for keys in default_shortcuts.values() for k in keys}
    assert not {key for key, _ in SHORTCUTS} & napari_keys


def test_keys_decide_move_on_and_the_table_shows_it(sample, table):
    viewer, dock, layers = sample
    rois = layers["ROIs"]
    camera = camera_of(viewer)
    camera.zoom = 3.0
    press(viewer, Qt.Key.Key_J)  # nothing selected: the first row
    assert dock.model.selection == (1,) and rois.selected_label == 1
    np.testing.assert_allclose(camera.center[-2:], roi_centre(rois, 1))
    press(viewer, Qt.Key.Key_G)
    assert dock.model.summary(1).decision is Decision.CELL
    assert row_of(dock, 1, table)["decision"] == "cell"
    assert decision_brush(dock, 1) == DECISION_BRUSHES[Decision.CELL]
    # the default goes on to the next unlabeled ROI, centred, keeping the zoom
    assert dock.model.selection == (2,) and dock.table.selectionModel().isRowSelected(1)
    np.testing.assert_allclose(camera.center[-2:], roi_centre(rois, 2))
    assert camera.zoom == pytest.approx(3.0)
    press(viewer, Qt.Key.Key_N)
    assert row_of(dock, 2, table)["decision"] == "not cell"
    assert decision_brush(dock, 2) == DECISION_BRUSHES[Decision.NOT_CELL]
    assert decision_brush(dock, 3) is None  # unlabeled: no colour
    press(viewer, Qt.Key.Key_K)
    press(viewer, Qt.Key.Key_K)
    assert dock.model.selection == (1,)
    press(viewer, Qt.Key.Key_K)  # the first row stays
    assert dock.model.selection == (1,)
    press(viewer, Qt.Key.Key_U)
    assert row_of(dock, 1, table)["decision"] == ""
    assert dock.model.selection == (3,)  # the next unlabeled below ROI 1 (2 is not a cell)
    assert dock.triage.counts.text() == "40 ROIs: 0 cell, 1 not cell, 39 unlabeled"


def test_an_excluded_row_keeps_its_red_tint_beside_its_decision(sample):
    viewer, dock, _ = sample
    dock.set_border(MotionBorder(40, 0, 0, 0))  # a wide left band excludes ROIs
    excluded = next(row.key for row in dock.model.rows() if row.excluded)
    dock.select_roi(excluded)
    press(viewer, Qt.Key.Key_G)
    model = dock.table_model
    row = model.row_of(excluded)
    assert model.data(model.index(row, 0), BACKGROUND) == FLAGGED
    assert model.data(model.index(row, 1), BACKGROUND) == DECISION_BRUSHES[Decision.CELL]


def test_stay_keeps_the_roi_and_a_reason_is_typed_for_it(sample, qtbot, table):
    viewer, dock, _ = sample
    dock.triage.after_box.setCurrentText("stay")
    dock.select_roi(7)
    press(viewer, Qt.Key.Key_N)
    assert dock.model.selection == (7,)
    dock.triage.reason.setFocus()
    qtbot.keyClicks(dock.triage.reason, "dim, no soma")  # letters typed here are not shortcuts
    qtbot.keyClick(dock.triage.reason, Qt.Key.Key_Return)
    assert dock.model.summary(7).reason == "dim, no soma"
    assert dock.model.summary(7).decision is Decision.NOT_CELL
    assert row_of(dock, 7, table)["reason"] == "dim, no soma"
    assert dock.model.selection == (7,)


def test_undo_and_redo_of_decisions_by_key_and_button(sample, table):
    viewer, dock, _ = sample
    triage = dock.triage
    assert not triage.undo_button.isEnabled() and not triage.redo_button.isEnabled()
    dock.select_roi(4)
    press(viewer, Qt.Key.Key_G)
    assert triage.undo_button.isEnabled()
    assert triage.undo_button.toolTip() == "Undo: ROI 4 cell -> unlabeled (Alt+Z)"
    press(viewer, Qt.Key.Key_Z, ALT)
    assert dock.model.summary(4).decision is Decision.UNLABELED
    assert row_of(dock, 4, table)["decision"] == "" and decision_brush(dock, 4) is None
    assert dock.model.selection == (4,)  # undo shows the ROI it changed
    assert not triage.undo_button.isEnabled() and triage.redo_button.isEnabled()
    assert triage.redo_button.toolTip() == "Redo: ROI 4 unlabeled -> cell (Alt+Shift+Z)"
    press(viewer, Qt.Key.Key_Z, ALT | Qt.KeyboardModifier.ShiftModifier)
    assert row_of(dock, 4, table)["decision"] == "cell"
    triage.undo_button.click()
    assert row_of(dock, 4, table)["decision"] == ""
    triage.redo_button.click()
    assert row_of(dock, 4, table)["decision"] == "cell"


def test_header_click_and_filters_set_the_order_next_and_previous_follow(sample, qtbot, table):
    viewer, dock, layers = sample
    header = dock.table.horizontalHeader()
    titles = [dock.table_model.headerData(c, Qt.Orientation.Horizontal) for c in range(8)]
    where = QPoint(header.sectionViewportPosition(titles.index("area")) + 5, 5)
    QTest.mouseClick(header.viewport(), Qt.MouseButton.LeftButton, pos=where)
    areas = [int(row["area"]) for row in table(dock)]
    assert areas == sorted(areas)
    by_area = shown_keys(dock)
    assert by_area != sorted(by_area)
    press(viewer, Qt.Key.Key_J)
    press(viewer, Qt.Key.Key_J)
    assert dock.model.selection == (by_area[1],)
    press(viewer, Qt.Key.Key_G)  # decided, on to the next in area order
    assert dock.model.selection == (by_area[2],)
    # only the unlabeled: the cell is gone from the table, next and previous skip it
    dock.triage.filter_box.setCurrentText("unlabeled")
    assert by_area[1] not in shown_keys(dock) and len(shown_keys(dock)) == 39
    assert dock.triage.counts.text().endswith("(39 shown)")
    press(viewer, Qt.Key.Key_K)
    assert dock.model.selection == (by_area[0],)
    press(viewer, Qt.Key.Key_J)
    assert dock.model.selection == (by_area[2],)
    press(viewer, Qt.Key.Key_N)  # hidden by the filter now: on to the next unlabeled shown
    assert dock.model.selection == (by_area[3],)
    assert shown_keys(dock)[:2] == [by_area[0], by_area[3]]
    # text: the ROI id, its reason or exclusions
    dock.triage.filter_box.setCurrentText("all ROIs")
    dock.triage.text_filter.setText("3")
    assert all("3" in str(k) for k in shown_keys(dock)) and 3 in shown_keys(dock)


def test_keys_in_paint_mode_neither_paint_nor_change_the_mode(sample):
    viewer, dock, layers = sample
    rois = layers["ROIs"]
    viewer.layers.selection.active = rois
    rois.mode = "paint"
    before = np.array(rois.data)
    for key in (Qt.Key.Key_J, Qt.Key.Key_G, Qt.Key.Key_N, Qt.Key.Key_U, Qt.Key.Key_K):
        press(viewer, key)
    press(viewer, Qt.Key.Key_Z, ALT)
    assert str(rois.mode) == "paint"
    np.testing.assert_array_equal(rois.data, before)
    # the keys did their own work: 1 a cell, 2 not a cell and undone
    assert dock.model.summary(1).decision is Decision.CELL
    assert dock.model.summary(2).decision is Decision.UNLABELED
    assert dock.model.decisions.redo_text == "Redo: ROI 2 unlabeled -> not cell"


def test_not_cells_grey_or_hidden_in_the_layer_and_back(sample):
    viewer, dock, layers = sample
    rois = layers["ROIs"]
    own = rois.colormap
    data = np.array(rois.data)
    dock.select_roi(5)
    press(viewer, Qt.Key.Key_N)
    np.testing.assert_allclose(rois.colormap.map(5), own.map(5))  # "shown": left alone
    dock.triage.not_cells_box.setCurrentText("grey")
    np.testing.assert_allclose(rois.colormap.map(5), GREY, atol=1e-3)
    np.testing.assert_allclose(rois.colormap.map(6), own.map(6), atol=1e-3)
    rings = viewer.layers["ROIs neuropil"]
    np.testing.assert_allclose(rings.colormap.map(5), GREY, atol=1e-3)  # its ring too
    press(viewer, Qt.Key.Key_N)  # ROI 6: greyed as it is decided
    np.testing.assert_allclose(rois.colormap.map(6), GREY, atol=1e-3)
    press(viewer, Qt.Key.Key_Z, ALT)
    np.testing.assert_allclose(rois.colormap.map(6), own.map(6), atol=1e-3)
    dock.triage.not_cells_box.setCurrentText("hidden")
    assert rois.colormap.map(5)[3] == 0
    dock.triage.not_cells_box.setCurrentText("shown")
    assert rois.colormap is own
    np.testing.assert_array_equal(rois.data, data)


def test_moving_to_an_roi_plots_its_traces(sample):
    viewer, dock, layers = sample
    _, traces = viewer.window.add_plugin_dock_widget(PLUGIN, "Traces")
    model = dock.model
    frames = np.arange(20, dtype=float)
    model.store_traces(
        model.movie,
        {
            k: RoiTraces(model.fingerprint(k, model.movie), frames + k, frames * 0 + k)
            for k in model.roi_keys()
        },
    )
    press(viewer, Qt.Key.Key_J)
    press(viewer, Qt.Key.Key_J)
    lines = {label: np.asarray(line.get_ydata()) for label, line in traces.view.lines}
    np.testing.assert_array_equal(lines["ROI 2 F"], frames + 2)


def test_a_closed_dock_unbinds_its_keys_and_gives_the_colours_back(sample):
    viewer, dock, layers = sample
    own = layers["ROIs"].colormap
    dock.select_roi(3)
    press(viewer, Qt.Key.Key_N)
    dock.triage.not_cells_box.setCurrentText("grey")
    viewer.window.remove_dock_widget(dock.parentWidget())
    assert layers["ROIs"].colormap is own
    assert not {key for key, _ in SHORTCUTS} & {str(k) for k in viewer.keymap}
    press(viewer, Qt.Key.Key_G)  # nothing listens
    assert dock.model.summary(3).decision is Decision.NOT_CELL


def test_decisions_made_by_key_are_saved_by_file_save_and_come_back_on_open(sample, tmp_path):
    viewer, dock, layers = sample
    rois = layers["ROIs"]
    dock.select_roi(1)
    press(viewer, Qt.Key.Key_G)  # ROI 1 a cell, on to ROI 2
    press(viewer, Qt.Key.Key_N)  # ROI 2 not a cell
    viewer.layers.selection.select_only(rois)
    path = tmp_path / "curated.roimasks.h5"
    assert viewer.layers.save(str(path), selected=True, plugin="napari-roimasks") == [str(path)]

    from napari_roimasks.io.roi_files import read_rois

    on_disk = {entry.id: entry.decision for entry in read_rois(path).rois}
    assert on_disk[1] == Decision.CELL and on_disk[2] == Decision.NOT_CELL
    assert on_disk[3] == Decision.UNLABELED

    viewer.layers.remove(rois)
    (opened,) = viewer.open(str(path), plugin="napari-roimasks")
    dock.set_source(opened)
    rows = {row.key: row.decision for row in dock.model.rows()}
    assert (
        rows[1] == Decision.CELL and rows[2] == Decision.NOT_CELL and rows[3] == Decision.UNLABELED
    )
    assert not dock.model.decisions.can_undo  # a file's decisions start a fresh undo
