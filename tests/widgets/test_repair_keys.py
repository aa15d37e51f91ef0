"""Merge and split in a real viewer: Shift+M, Shift+S and a cut line, napari's Ctrl+Z undoing
each whole (pixels, rings, decisions, origins)."""

from __future__ import annotations

import numpy as np
import pytest
from qtpy.QtCore import QPoint, Qt
from qtpy.QtTest import QTest

from napari_roimasks.core.rings import NeuropilRings
from napari_roimasks.io.roi_set import Decision
from napari_roimasks.widgets._repair_tools import CUT_LINE_NAME

PLUGIN = "napari-roimasks"
SHIFT = Qt.KeyboardModifier.ShiftModifier
CTRL = Qt.KeyboardModifier.ControlModifier


@pytest.fixture
def sample(make_napari_viewer):
    viewer = make_napari_viewer()
    layers = {layer.name: layer for layer in viewer.open_sample(PLUGIN, "synthetic_recording")}
    _, dock = viewer.window.add_plugin_dock_widget(PLUGIN, "ROI masks")
    viewer.layers.selection.active = layers["ROIs"]
    return viewer, dock, layers["ROIs"]


def press(viewer, key, modifier=Qt.KeyboardModifier.NoModifier):
    QTest.keyClick(viewer.window._qt_viewer.canvas.native, key, modifier)


def click_rows(dock, keys):
    """Click the rows of ``keys``, the later ones with Ctrl (as a curator picks several)."""
    table = dock.table
    for i, key in enumerate(keys):
        index = dock.table_model.index(dock.table_model.row_of(key), 0)
        table.scrollTo(index)
        rect = table.visualRect(index)
        QTest.mouseClick(
            table.viewport(), Qt.MouseButton.LeftButton, CTRL if i else Qt.KeyboardModifier.NoModifier,
            QPoint(rect.center()),
        )  # fmt: skip


def assert_rings_are_a_rebuild(model, labels):
    fresh = NeuropilRings.from_labels(labels, border=model.border, options=model.ring_options)
    assert set(model.rings.keys()) == set(fresh.keys())
    for key in fresh:
        ours, theirs = model.rings.ring(key), fresh.ring(key)
        assert (ours is None) == (theirs is None)
        if ours is not None:
            assert (ours.top, ours.left) == (theirs.top, theirs.left)
            np.testing.assert_array_equal(ours.pixels, theirs.pixels)


def test_shift_m_merges_and_ctrl_z_brings_back_pixels_rings_and_decisions(sample, table):
    viewer, dock, rois = sample
    model = dock.model
    model.decide([5], Decision.CELL)
    model.decide([3], Decision.NOT_CELL, reason="dim")
    before = np.array(rois.data, copy=True)
    click_rows(dock, [3, 5])
    assert model.selection == (3, 5)
    press(viewer, Qt.Key.Key_M, SHIFT)
    data = np.asarray(rois.data)
    np.testing.assert_array_equal(data == 3, (before == 3) | (before == 5))
    assert 5 not in model.roi_keys()
    rows = {r["ROI"]: r for r in table(dock)}
    assert rows["3"]["decision"] == "cell" and rows["3"]["origin"] == "merged 3 + 5"
    assert "5" not in rows
    assert_rings_are_a_rebuild(model, data)
    press(viewer, Qt.Key.Key_Z, CTRL)  # napari's own paint undo, on the ROI layer
    np.testing.assert_array_equal(np.asarray(rois.data), before)
    rows = {r["ROI"]: r for r in table(dock)}
    assert (rows["3"]["decision"], rows["3"]["reason"], rows["3"]["origin"]) == (
        "not cell",
        "dim",
        "",
    )
    assert rows["5"]["decision"] == "cell"
    assert_rings_are_a_rebuild(model, np.asarray(rois.data))


def test_shift_s_splits_pieces_or_cuts_along_a_drawn_line(sample, table):
    viewer, dock, rois = sample
    model = dock.model
    dock.select_roi(7)
    press(viewer, Qt.Key.Key_S, SHIFT)  # one piece: a line is asked for
    cut = next(layer for layer in viewer.layers if layer.name == CUT_LINE_NAME)
    assert cut.mode == "add_line"
    assert CUT_LINE_NAME not in [name for name, _ in dock._roi_layer_choices()]
    rows, columns = np.nonzero(np.asarray(rois.data) == 7)
    middle = (columns.min() + columns.max()) / 2
    before = np.array(rois.data, copy=True)
    cut.add_lines(np.array([[rows.min() - 3, middle], [rows.max() + 3, middle]]))  # the line tool
    assert CUT_LINE_NAME not in [layer.name for layer in viewer.layers]
    pieces = sorted(set(np.unique(np.asarray(rois.data)[before == 7]).tolist()))
    assert len(pieces) == 2 and 7 not in model.roi_keys() and min(pieces) > before.max()
    shown = {r["ROI"]: r for r in table(dock)}
    assert all(shown[str(k)]["origin"] == "split from 7" for k in pieces)
    assert model.selection == (pieces[0],)
    assert_rings_are_a_rebuild(model, np.asarray(rois.data))
    press(viewer, Qt.Key.Key_Z, CTRL)
    np.testing.assert_array_equal(np.asarray(rois.data), before)
    assert 7 in model.roi_keys() and not set(pieces) & set(model.roi_keys())


def test_a_merge_of_two_apart_rois_splits_back_into_its_pieces(sample):
    viewer, dock, rois = sample
    model = dock.model
    before = np.array(rois.data, copy=True)
    click_rows(dock, [1, 2])
    press(viewer, Qt.Key.Key_M, SHIFT)
    press(viewer, Qt.Key.Key_S, SHIFT)  # two pieces: split at once, no line asked for
    assert CUT_LINE_NAME not in [layer.name for layer in viewer.layers]
    data = np.asarray(rois.data)
    new = sorted(set(np.unique(data[(before == 1) | (before == 2)]).tolist()))
    assert len(new) == 2 and 1 not in model.roi_keys()
    assert {tuple(np.argwhere(data == k)[0]) for k in new} == {
        tuple(np.argwhere(before == k)[0]) for k in (1, 2)
    }


def test_merge_and_split_need_a_labels_layer_and_say_so(make_napari_viewer):
    viewer = make_napari_viewer()
    shapes = viewer.add_shapes(
        [np.array([[5, 5], [5, 15], [15, 15], [15, 5]])], shape_type="polygon"
    )
    viewer.add_image(np.zeros((40, 40)), name="movie")
    _, dock = viewer.window.add_plugin_dock_widget(PLUGIN, "ROI masks")
    dock.set_source(shapes)
    dock.model.set_selection([1])
    press(viewer, Qt.Key.Key_S, SHIFT)
    assert viewer.status.startswith("Merge and split work on a Labels ROI layer")
    assert len(shapes.data) == 1
