"""Not cells grey or hidden in a Shapes ROI layer (face and edge colours of those shapes only,
never their data) and back, by real key presses; a Labels layer recoloured only where a
decision changed a colour."""

from __future__ import annotations

import numpy as np
import pytest
from qtpy.QtCore import Qt
from qtpy.QtTest import QTest

from napari_roimasks.widgets._decision_colours import GREY

PLUGIN = "napari-roimasks"
ALT = Qt.KeyboardModifier.AltModifier
HIDDEN = (0.0, 0.0, 0.0, 0.0)
FACES = np.array([[1, 0, 0, 0.5], [0, 1, 0, 0.5], [0, 0, 0, 0], [0, 0, 1, 0.5]])
EDGES = np.array([[1, 1, 0, 1], [0, 1, 1, 1], [1, 0, 1, 1], [1, 1, 1, 1]])


def square(top, left, side=8):
    return np.array(
        [[top, left], [top, left + side], [top + side, left + side], [top + side, left]], float
    )


def press(viewer, key, modifier=Qt.KeyboardModifier.NoModifier):
    """A key pressed and released over the viewer's canvas."""
    QTest.keyClick(viewer.window._qt_viewer.canvas.native, key, modifier)


@pytest.fixture
def drawn(make_napari_viewer):
    """Four squares drawn on a mean image, each in its own face and edge colour (shape 3 an
    outline: no face), curated in the ROI masks dock."""
    viewer = make_napari_viewer()
    viewer.add_image(np.zeros((60, 140)), name="mean image")
    shapes = viewer.add_shapes(
        [square(20, 10 + 30 * i) for i in range(4)],
        shape_type="polygon",
        face_color=FACES,
        edge_color=EDGES,
        name="cells",
    )
    _, dock = viewer.window.add_plugin_dock_widget(PLUGIN, "ROI masks")
    assert dock.source is shapes
    return viewer, dock, shapes


def colours(shapes):
    return np.asarray(shapes.face_color), np.asarray(shapes.edge_color)


def test_n_on_a_shape_greys_only_that_shape_and_shown_gives_its_colours_back(drawn):
    viewer, dock, shapes = drawn
    data = [d.copy() for d in shapes.data]
    dock.triage.not_cells_box.setCurrentText("grey")
    dock.select_roi(2)
    press(viewer, Qt.Key.Key_N)  # shape 2 is not a cell
    face, edge = colours(shapes)
    np.testing.assert_allclose(face[1], GREY)
    np.testing.assert_allclose(edge[1], GREY)
    np.testing.assert_allclose(face[[0, 2, 3]], FACES[[0, 2, 3]])  # the others as drawn
    np.testing.assert_allclose(edge[[0, 2, 3]], EDGES[[0, 2, 3]])
    rings = viewer.layers["cells neuropil"]
    np.testing.assert_allclose(rings.colormap.map(2), GREY)  # its ring follows its edge

    dock.select_roi(3)
    press(viewer, Qt.Key.Key_N)  # an outline: its edge greys, it gets no face
    face, edge = colours(shapes)
    np.testing.assert_allclose(edge[2], GREY)
    np.testing.assert_allclose(face[2], FACES[2])

    dock.triage.not_cells_box.setCurrentText("hidden")
    face, edge = colours(shapes)
    np.testing.assert_allclose(face[1], HIDDEN)
    np.testing.assert_allclose(edge[[1, 2]], [HIDDEN, HIDDEN])

    dock.triage.not_cells_box.setCurrentText("shown")
    face, edge = colours(shapes)
    np.testing.assert_allclose(face, FACES)
    np.testing.assert_allclose(edge, EDGES)
    assert all(np.array_equal(a, b) for a, b in zip(shapes.data, data, strict=True))


def test_a_shape_decided_otherwise_or_undone_gets_its_colour_back(drawn):
    viewer, dock, shapes = drawn
    dock.triage.after_box.setCurrentText("stay")
    dock.triage.not_cells_box.setCurrentText("grey")
    dock.select_roi(4)
    press(viewer, Qt.Key.Key_N)
    np.testing.assert_allclose(colours(shapes)[1][3], GREY)
    press(viewer, Qt.Key.Key_G)  # a cell after all
    np.testing.assert_allclose(colours(shapes)[0][3], FACES[3])
    np.testing.assert_allclose(colours(shapes)[1][3], EDGES[3])
    press(viewer, Qt.Key.Key_Z, ALT)  # undo: not a cell again
    np.testing.assert_allclose(colours(shapes)[1][3], GREY)


def test_the_shapes_own_colours_come_back_when_the_dock_closes_or_another_layer_is_curated(
    drawn,
):
    viewer, dock, shapes = drawn
    dock.triage.not_cells_box.setCurrentText("grey")
    dock.select_roi(1)
    press(viewer, Qt.Key.Key_N)
    np.testing.assert_allclose(colours(shapes)[1][0], GREY)
    labels = viewer.add_labels(np.zeros((60, 140), dtype=np.int32), name="painted")
    dock.set_source(labels)
    face, edge = colours(shapes)
    np.testing.assert_allclose(face, FACES)
    np.testing.assert_allclose(edge, EDGES)
    dock.set_source(shapes)  # curated again: its not cell greys again
    np.testing.assert_allclose(colours(shapes)[1][0], GREY)
    viewer.window.remove_dock_widget(dock.parentWidget())
    np.testing.assert_allclose(colours(shapes)[1], EDGES)


def test_a_deleted_or_drawn_shape_leaves_every_other_shape_its_colours(drawn):
    viewer, dock, shapes = drawn
    dock.triage.not_cells_box.setCurrentText("grey")
    dock.select_roi(3)
    press(viewer, Qt.Key.Key_N)
    dock.select_roi(4)
    press(viewer, Qt.Key.Key_N)
    shapes.selected_data = {0}
    shapes.remove_selected()  # shape 1 goes: shapes 3 and 4 are ROIs 2 and 3 now
    face, edge = colours(shapes)
    np.testing.assert_allclose(edge, [EDGES[1], GREY, GREY])
    shapes.add_polygons([square(40, 100)], edge_color="red", face_color="transparent")
    face, edge = colours(shapes)
    np.testing.assert_allclose(edge[3], (1, 0, 0, 1))  # a new shape: unlabeled, as drawn
    dock.triage.not_cells_box.setCurrentText("shown")
    face, edge = colours(shapes)
    np.testing.assert_allclose(face[:3], FACES[1:])
    np.testing.assert_allclose(edge, [EDGES[1], EDGES[2], EDGES[3], (1, 0, 0, 1)])


def test_a_colour_the_user_gives_a_greyed_shape_is_its_own_after(drawn):
    viewer, dock, shapes = drawn
    dock.triage.not_cells_box.setCurrentText("grey")
    dock.select_roi(2)
    press(viewer, Qt.Key.Key_N)
    edge = np.asarray(shapes.edge_color).copy()
    edge[1] = (1, 0.5, 0, 1)
    shapes.edge_color = edge  # the user recolours it
    dock.triage.not_cells_box.setCurrentText("shown")
    np.testing.assert_allclose(colours(shapes)[1][1], (1, 0.5, 0, 1))


def test_a_cell_decision_leaves_a_labels_layers_colormap_as_it_is(make_napari_viewer):
    viewer = make_napari_viewer()
    labels = np.zeros((40, 40), dtype=np.int32)
    for key in range(1, 5):
        labels[4 + 8 * key : 8 + 8 * key, 10:14] = key
    layer = viewer.add_labels(labels, name="ROIs")
    _, dock = viewer.window.add_plugin_dock_widget(PLUGIN, "ROI masks")
    dock.set_source(layer)
    own = layer.colormap
    dock.triage.not_cells_box.setCurrentText("grey")
    dock.select_roi(1)
    press(viewer, Qt.Key.Key_N)  # ROI 1 grey, on to ROI 2
    greyed = layer.colormap
    # each label's colour is moved by a few 1/65536 to keep it distinct (see _distinct)
    np.testing.assert_allclose(greyed.map(1), GREY, atol=1e-3)
    np.testing.assert_allclose(greyed.map(2), own.map(2), atol=1e-3)
    press(viewer, Qt.Key.Key_G)  # ROI 2 a cell: no colour changes
    assert layer.colormap is greyed
    press(viewer, Qt.Key.Key_N)  # ROI 3 grey: in the same colormap, and so its ring
    assert layer.colormap is greyed
    np.testing.assert_allclose(greyed.map(3), GREY, atol=1e-3)
    np.testing.assert_allclose(viewer.layers["ROIs neuropil"].colormap.map(3), GREY, atol=1e-3)
    np.testing.assert_allclose(greyed.map(4), own.map(4), atol=1e-3)
    layer.paint((36, 30), 5)  # a label painted since: its own colour, not transparent
    np.testing.assert_allclose(layer.colormap.map(5), own.map(5), atol=1e-3)
    dock.triage.not_cells_box.setCurrentText("shown")
    assert layer.colormap is own
