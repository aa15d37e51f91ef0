"""Deleting a shape of a Shapes ROI layer: each remaining shape keeps its own decision, in the
dock's table and in the layer's features, and decision undo still changes the ROI decided."""

from __future__ import annotations

import numpy as np
import pytest
from qtpy.QtCore import Qt
from qtpy.QtTest import QTest

from napari_roimasks.widgets._roi_layer_link import renumbering_after_removal

PLUGIN = "napari-roimasks"
SIDES = (6, 8, 10, 12, 14)
#: a square polygon of side s covers (s + 1)**2 pixels (its outline's too): a row's area says
#: which shape it is
A1, A2, A3, A4, A5 = ((side + 1) ** 2 for side in SIDES)
ALT = Qt.KeyboardModifier.AltModifier


def square(top, left, side):
    return np.array(
        [[top, left], [top, left + side], [top + side, left + side], [top + side, left]], float
    )


@pytest.fixture
def drawn(make_napari_viewer):
    """Five squares drawn on a mean image, curated in the ROI masks dock ("stay" after a
    decision, so each key press decides the ROI moved to)."""
    viewer = make_napari_viewer()
    viewer.add_image(np.zeros((80, 160)), name="mean image")
    shapes = viewer.add_shapes(
        [square(20, 10 + 28 * i, side) for i, side in enumerate(SIDES)],
        shape_type="polygon",
        name="cells",
    )
    _, dock = viewer.window.add_plugin_dock_widget(PLUGIN, "ROI masks")
    assert dock.source is shapes
    assert [int(row.area) for row in dock.model.rows()] == [A1, A2, A3, A4, A5]
    dock.triage.after_box.setCurrentText("stay")
    return viewer, dock, shapes


def press(viewer, key, modifier=Qt.KeyboardModifier.NoModifier):
    """A key pressed and released over the viewer's canvas."""
    QTest.keyClick(viewer.window._qt_viewer.canvas.native, key, modifier)


def decide(viewer, dock, key, letter):
    dock.select_roi(key)
    press(viewer, letter)


def shown(dock, table) -> list:
    """(ROI, area, decision) of each row, as the table shows them."""
    return [(r["ROI"], int(r["area"]), r["decision"]) for r in table(dock)]


def feature_decisions(shapes) -> list:
    return list(shapes.features["decision"])


def test_each_shape_keeps_its_decision_when_one_before_it_is_deleted(drawn, table):
    viewer, dock, shapes = drawn
    decide(viewer, dock, 2, Qt.Key.Key_G)
    decide(viewer, dock, 3, Qt.Key.Key_N)
    decide(viewer, dock, 4, Qt.Key.Key_G)
    decide(viewer, dock, 5, Qt.Key.Key_N)
    assert feature_decisions(shapes) == ["unlabeled", "cell", "not_cell", "cell", "not_cell"]

    shapes.selected_data = {2}  # shape 3, the way a user deletes it
    shapes.remove_selected()

    assert shown(dock, table) == [
        ("1", A1, ""),
        ("2", A2, "cell"),
        ("3", A4, "cell"),  # was shape 4
        ("4", A5, "not cell"),  # was shape 5
    ]
    assert feature_decisions(shapes) == ["unlabeled", "cell", "cell", "not_cell"]
    assert dock.triage.counts.text() == "4 ROIs: 2 cell, 1 not cell, 1 unlabeled"


def test_undo_after_a_deletion_changes_the_shape_that_was_decided(drawn, table):
    viewer, dock, shapes = drawn
    decide(viewer, dock, 4, Qt.Key.Key_G)
    decide(viewer, dock, 5, Qt.Key.Key_N)
    decide(viewer, dock, 1, Qt.Key.Key_N)
    shapes.selected_data = {0}
    shapes.remove_selected()  # shape 1 and its decision go; 2..5 become 1..4
    assert shown(dock, table) == [
        ("1", A2, ""),
        ("2", A3, ""),
        ("3", A4, "cell"),
        ("4", A5, "not cell"),
    ]
    # the last step decided the deleted shape: undoing it changes nothing shown, and says so
    undo = "Undo: ROI 1 (deleted) not cell -> unlabeled (Alt+Z)"
    assert dock.triage.undo_button.toolTip() == undo
    press(viewer, Qt.Key.Key_Z, ALT)
    assert [r[2] for r in shown(dock, table)] == ["", "", "cell", "not cell"]
    press(viewer, Qt.Key.Key_Z, ALT)  # shape 5's "not cell", now ROI 4
    assert shown(dock, table)[3] == ("4", A5, "")
    assert feature_decisions(shapes) == ["unlabeled", "unlabeled", "cell", "unlabeled"]
    press(viewer, Qt.Key.Key_Z, ALT)  # shape 4's "cell", now ROI 3
    assert [r[2] for r in shown(dock, table)] == ["", "", "", ""]
    press(viewer, Qt.Key.Key_Z, ALT | Qt.KeyboardModifier.ShiftModifier)
    assert shown(dock, table)[2] == ("3", A4, "cell")


def test_the_delete_key_in_select_mode_and_a_shape_added_at_the_end(drawn, table):
    viewer, dock, shapes = drawn
    decide(viewer, dock, 2, Qt.Key.Key_G)
    decide(viewer, dock, 4, Qt.Key.Key_N)
    decide(viewer, dock, 5, Qt.Key.Key_G)
    viewer.layers.selection.active = shapes
    shapes.mode = "select"
    shapes.selected_data = {0, 2}  # shapes 1 and 3
    press(viewer, Qt.Key.Key_Delete)
    assert shown(dock, table) == [("1", A2, "cell"), ("2", A4, "not cell"), ("3", A5, "cell")]
    assert feature_decisions(shapes) == ["cell", "not_cell", "cell"]
    shapes.add_polygons([square(50, 40, 9)])  # drawn at the end: existing keys stay
    assert shown(dock, table) == [
        ("1", A2, "cell"),
        ("2", A4, "not cell"),
        ("3", A5, "cell"),
        ("4", 100, ""),
    ]
    # napari gives a new shape the last shape's features; the dock writes the new one's own
    assert feature_decisions(shapes) == ["cell", "not_cell", "cell", "unlabeled"]


def test_the_selection_and_traces_follow_the_shapes(drawn, table):
    from napari_roimasks.model.traces import RoiTraces

    viewer, dock, shapes = drawn
    model = dock.model
    stored = {
        k: RoiTraces(model.fingerprint(k, "movie"), np.full(3, float(k)), np.zeros(3))
        for k in (3, 5)
    }
    model.store_traces("movie", stored)
    shapes.selected_data = {4}  # shape 5 selected in the layer
    assert model.selection == (5,)
    heard = []
    model.selection_changed.connect(heard.append)
    shapes.remove([2])  # shape 3 goes; napari keeps shape 5, now 4, selected
    assert shapes.selected_data == {3}
    assert model.selection == (4,)
    assert heard == [(4,)]  # once, never on another ROI (the Traces dock plots each)
    assert table(dock)[dock.table_model.row_of(4)]["area"] == str(A5)
    assert {k: t.roi[0] for k, t in model.traces.items()} == {4: 5.0}  # shape 3's are gone
    assert dock.table.selectionModel().isRowSelected(3)


def test_emptying_the_layer_forgets_every_decision_shown(drawn, table):
    viewer, dock, shapes = drawn
    decide(viewer, dock, 1, Qt.Key.Key_G)
    shapes.data = []
    assert table(dock) == []
    shapes.add_polygons([square(20, 10, 6)])  # the new shape 1 is undecided
    assert shown(dock, table) == [("1", A1, "")]
    assert feature_decisions(shapes) == ["unlabeled"]


def test_renumbering_after_removal():
    assert renumbering_after_removal([2], 5) == {3: None, 4: 3, 5: 4}
    assert renumbering_after_removal([3, 0], 5) == {1: None, 2: 1, 3: 2, 4: None, 5: 3}
    assert renumbering_after_removal([4], 5) == {5: None}
    assert renumbering_after_removal([-1], 5) == {}  # napari's "a shape being added"
    assert renumbering_after_removal([], 5) == {}


def test_shapes_arriving_with_decisions_keep_them_and_a_new_shape_inherits_none(
    make_napari_viewer, table
):
    viewer = make_napari_viewer()
    viewer.add_image(np.zeros((80, 160)), name="mean image")
    shapes = viewer.add_shapes(
        [square(20, 10 + 28 * i, side) for i, side in enumerate(SIDES[:3])],
        shape_type="polygon",
        features={"decision": ["unlabeled", "not_cell", "cell"], "reason": ["", "dim", ""]},
        name="opened",
    )
    _, dock = viewer.window.add_plugin_dock_widget(PLUGIN, "ROI masks")
    assert shown(dock, table) == [("1", A1, ""), ("2", A2, "not cell"), ("3", A3, "cell")]
    shapes.add_polygons([square(50, 40, 9)])  # napari copies the last shape's features
    assert shown(dock, table)[3] == ("4", 100, "")
    assert feature_decisions(shapes) == ["unlabeled", "not_cell", "cell", "unlabeled"]
    shapes.selected_data = {1}
    shapes.remove_selected()
    assert shown(dock, table) == [("1", A1, ""), ("2", A3, "cell"), ("3", 100, "")]
    assert list(shapes.features["reason"]) == ["", "", ""]
