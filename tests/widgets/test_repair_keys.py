"""Merge and split in a real viewer: Shift+M, Shift+S and a cut line, napari's Ctrl+Z undoing
each whole (pixels, rings, decisions, origins)."""

from __future__ import annotations

import numpy as np
import pytest
from qtpy.QtCore import QPoint, Qt
from qtpy.QtTest import QTest

from napari_roimasks.core.rings import NeuropilRings
from napari_roimasks.io.roi_set import Decision
from napari_roimasks.layers import roi_crops_from_shapes_layer
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


# -- a Shapes layer: napari has no undo for it, the dock's Ctrl+Z undoes merges and splits -------
@pytest.fixture
def drawn(sample):
    """The sample's ROIs copied to a Shapes layer (the dock's button), curated."""
    viewer, dock, labels = sample
    shapes = dock.copy_rois_to_new_layer()
    dock.set_source(shapes)
    viewer.layers.selection.active = shapes
    return viewer, dock, shapes, np.asarray(labels.data)


def shape_pixels(shapes, image_shape) -> list:
    """Each shape's pixels as the dock reads them, in the layer's order."""
    crops = roi_crops_from_shapes_layer(shapes, image_shape)
    return [crops[k].plane(image_shape) for k in sorted(crops)]


def assert_shape_rings_are_a_rebuild(model, shapes):
    crops = roi_crops_from_shapes_layer(shapes, model.image_shape)
    fresh = NeuropilRings.from_masks(
        crops, model.image_shape, border=model.border, options=model.ring_options
    )
    assert model.roi_keys() == list(range(1, len(shapes.data) + 1))
    assert set(model.rings.keys()) == set(fresh.keys())
    for key in fresh:
        for ours, theirs in (
            (model.rings.roi(key), fresh.roi(key)),
            (model.rings.ring(key), fresh.ring(key)),
        ):
            assert (ours.top, ours.left) == (theirs.top, theirs.left)
            np.testing.assert_array_equal(ours.pixels, theirs.pixels)  # fmt: skip


def test_shapes_merge_into_one_exact_outline_and_ctrl_z_puts_every_shape_back(drawn, table):
    viewer, dock, shapes, labels = drawn
    model = dock.model
    image = model.image_shape
    model.decide([3], Decision.NOT_CELL, reason="dim")
    model.decide([5], Decision.NOT_CELL, reason="edge")
    model.decide([9], Decision.CELL, reason="bright")  # after the removed shape: moves up to 8
    before_data = [np.array(d) for d in shapes.data]
    before_pixels = shape_pixels(shapes, image)
    click_rows(dock, [3, 5])
    press(viewer, Qt.Key.Key_M, SHIFT)
    assert len(shapes.data) == len(before_data) - 1, viewer.status
    after_pixels = shape_pixels(shapes, image)
    np.testing.assert_array_equal(after_pixels[2], before_pixels[2] | before_pixels[4])
    for new, old in zip(after_pixels[4:], before_pixels[5:], strict=True):
        np.testing.assert_array_equal(new, old)  # the shapes after ROI 5 moved up, unchanged
    rows = {r["ROI"]: r for r in table(dock)}
    assert (rows["3"]["decision"], rows["3"]["origin"]) == ("not cell", "merged 3 + 5")
    assert (rows["8"]["decision"], rows["8"]["reason"]) == ("cell", "bright")
    assert shapes.features["decision"][7] == "cell"  # File > Save writes the moved decision
    assert model.selection == (3,)
    assert_shape_rings_are_a_rebuild(model, shapes)

    press(viewer, Qt.Key.Key_Z, CTRL)  # on the canvas, the Shapes layer active
    assert len(shapes.data) == len(before_data)
    for now, then in zip(shapes.data, before_data, strict=True):
        np.testing.assert_array_equal(now, then)
    rows = {r["ROI"]: r for r in table(dock)}
    assert (rows["3"]["decision"], rows["3"]["reason"], rows["3"]["origin"]) == (
        "not cell", "dim", "",
    )  # fmt: skip
    assert (rows["5"]["decision"], rows["5"]["reason"]) == ("not cell", "edge")
    assert (rows["9"]["decision"], rows["9"]["reason"]) == ("cell", "bright")
    assert shapes.features["decision"][8] == "cell"
    assert_shape_rings_are_a_rebuild(model, shapes)

    press(viewer, Qt.Key.Key_Z, CTRL | SHIFT)  # redo
    assert len(shapes.data) == len(before_data) - 1
    np.testing.assert_array_equal(shape_pixels(shapes, image)[2], after_pixels[2])
    assert {r["ROI"]: r for r in table(dock)}["3"]["origin"] == "merged 3 + 5"


def test_a_shape_splits_into_its_pieces_or_along_a_drawn_line(drawn, table):
    viewer, dock, shapes, labels = drawn
    model = dock.model
    image = model.image_shape
    n = len(shapes.data)
    pixels_1, pixels_2 = shape_pixels(shapes, image)[:2]
    click_rows(dock, [1, 2])
    press(viewer, Qt.Key.Key_M, SHIFT)  # two ROIs apart: one shape in two pieces
    press(viewer, Qt.Key.Key_S, SHIFT)  # split into its pieces, no line asked for
    assert CUT_LINE_NAME not in [layer.name for layer in viewer.layers]
    assert len(shapes.data) == n  # ROI 1 is one piece, the other piece the last shape
    pieces = shape_pixels(shapes, image)
    assert {pieces[0].tobytes(), pieces[-1].tobytes()} == {pixels_1.tobytes(), pixels_2.tobytes()}
    rows = {r["ROI"]: r for r in table(dock)}
    assert rows["1"]["origin"] == rows[str(n)]["origin"] == "split from 1"
    assert rows[str(n)]["decision"] == ""  # unlabeled

    dock.select_roi(4)
    press(viewer, Qt.Key.Key_S, SHIFT)  # one piece: a line is asked for
    cut = next(layer for layer in viewer.layers if layer.name == CUT_LINE_NAME)
    whole = shape_pixels(shapes, image)[3]
    rows_, columns = np.nonzero(whole)
    middle = (columns.min() + columns.max()) / 2
    cut.add_lines(np.array([[rows_.min() - 3, middle], [rows_.max() + 3, middle]]))
    assert len(shapes.data) == n + 1
    halves = shape_pixels(shapes, image)
    assert not (halves[3] & halves[-1]).any()
    np.testing.assert_array_equal(halves[3] | halves[-1], whole)  # no pixel lost
    assert_shape_rings_are_a_rebuild(model, shapes)
    press(viewer, Qt.Key.Key_Z, CTRL)
    assert len(shapes.data) == n
    np.testing.assert_array_equal(shape_pixels(shapes, image)[3], whole)
    assert_shape_rings_are_a_rebuild(model, shapes)


def test_random_shape_merges_splits_undos_and_redos_keep_rings_and_decisions_right(drawn):
    viewer, dock, shapes, _ = drawn
    model, tools = dock.model, dock.triage.repairs
    rng = np.random.default_rng(3)
    for key in rng.choice(model.roi_keys(), 12, replace=False):
        model.decide([int(key)], [Decision.CELL, Decision.NOT_CELL][rng.integers(2)])
    start = [np.array(d) for d in shapes.data]
    start_decisions = [model.summary(k).decision for k in model.roi_keys()]
    made = repaired = 0  # steps to undo; merges and splits made
    for _ in range(14):
        keys = model.roi_keys()
        action = rng.choice(["merge", "split", "cut", "undo", "redo"])
        if action == "merge":
            model.set_selection([int(k) for k in rng.choice(keys, 2, replace=False)])
            made += (done := tools.merge())
            repaired += done
        elif action == "split":
            model.set_selection([int(rng.choice(keys))])
            made += (done := tools.split())
            repaired += done
            tools.cancel_line()
        elif action == "cut":
            key = int(rng.choice(keys))
            roi = model.roi(key)
            column = (roi.left + roi.right - 1) / 2
            made += (done := tools.cut(key, ((roi.top - 2, column), (roi.bottom + 1, column))))
            repaired += done
        elif action == "undo":
            made -= tools.undo_shapes()
        else:
            made += tools.redo_shapes()
        assert_shape_rings_are_a_rebuild(model, shapes)
        assert [row.key for row in model.rows()] == list(range(1, len(shapes.data) + 1))
    assert repaired >= 4
    while made > 0:
        assert tools.undo_shapes()
        made -= 1
    assert not tools.undo_shapes()
    assert len(shapes.data) == len(start)
    for now, then in zip(shapes.data, start, strict=True):
        np.testing.assert_array_equal(now, then)
    assert [model.summary(k).decision for k in model.roi_keys()] == start_decisions
    assert_shape_rings_are_a_rebuild(model, shapes)


def test_with_live_rings_off_a_merge_takes_the_shapes_as_they_are_now(drawn):
    viewer, dock, shapes, _ = drawn
    image = dock.model.image_shape
    dock._live.value = False
    data = list(shapes.data)
    data[2] = np.asarray(data[2]) + np.array([0, 3])  # the curator moves shape 3 three pixels right
    shapes.data = data
    pixels = shape_pixels(shapes, image)
    click_rows(dock, [3, 5])
    press(viewer, Qt.Key.Key_M, SHIFT)
    np.testing.assert_array_equal(shape_pixels(shapes, image)[2], pixels[2] | pixels[4])


def test_ctrl_z_does_not_undo_a_merge_over_shapes_edited_since(drawn):
    viewer, dock, shapes, _ = drawn
    click_rows(dock, [3, 5])
    press(viewer, Qt.Key.Key_M, SHIFT)
    shapes.add_polygons([np.array([[2, 2], [2, 8], [8, 8]])])  # the curator draws one more
    n = len(shapes.data)
    press(viewer, Qt.Key.Key_Z, CTRL)
    assert viewer.status.startswith("Cannot undo: the shapes were edited since")
    assert len(shapes.data) == n


def test_merge_and_split_need_a_2d_layer_and_say_so(make_napari_viewer):
    viewer = make_napari_viewer()
    shapes = viewer.add_shapes(
        [np.array([[0, 5, 5], [0, 5, 15], [0, 15, 15], [0, 15, 5]])], shape_type="polygon"
    )
    viewer.add_image(np.zeros((2, 40, 40)), name="movie")
    _, dock = viewer.window.add_plugin_dock_widget(PLUGIN, "ROI masks")
    dock.set_source(shapes)
    dock.model.set_selection([1])
    press(viewer, Qt.Key.Key_S, SHIFT)
    assert viewer.status.startswith("Merge and split work on a 2D ROI layer")
    assert len(shapes.data) == 1
