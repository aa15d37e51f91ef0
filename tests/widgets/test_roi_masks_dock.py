"""The "ROI masks" dock in a real viewer: controls, live rings, the table and bad input."""

from __future__ import annotations

import numpy as np
import pytest
from napari.layers import Labels
from napari.layers.base._base_constants import ActionType
from qtpy.QtCore import Qt

from napari_roimasks import roi_masks
from napari_roimasks.core import MotionBorder, NeuropilRings, RingOptions

PLUGIN = "napari-roimasks"


@pytest.fixture
def sample(make_napari_viewer):
    """A viewer with the sample recording and the dock, as a user opens them."""
    viewer = make_napari_viewer()
    layers = {layer.name: layer for layer in viewer.open_sample(PLUGIN, "synthetic_recording")}
    _, dock = viewer.window.add_plugin_dock_widget(PLUGIN, "ROI masks")
    return viewer, dock, layers


def rings_layer(viewer, source="ROIs"):
    return viewer.layers[f"{source} neuropil"]


def expected_rings(labels, border=None, options=None):
    return NeuropilRings.from_labels(
        np.asarray(labels), border=border, options=options
    ).ring_labels()


def test_dock_picks_the_roi_layer_and_draws_its_rings(sample, table):
    viewer, dock, layers = sample
    assert dock.source is layers["ROIs"]
    np.testing.assert_array_equal(rings_layer(viewer).data, expected_rings(layers["ROIs"].data))
    assert rings_layer(viewer).contour == 1  # outlines: the picture under them stays visible
    rows = table(dock)
    assert [int(r["ROI"]) for r in rows] == list(range(1, layers["ROIs"].data.max() + 1))
    assert int(rows[0]["area"]) == np.count_nonzero(layers["ROIs"].data == 1)
    # the picker offers ROI layers only, not images and not the dock's own layers
    assert [name for name, _ in dock._roi_layer_choices()] == ["ROIs"]


def test_border_controls_shade_the_band_and_flag_the_rois_allensdk_excludes(sample, table):
    viewer, dock, layers = sample
    dock.settings.border["left"].value = 6
    dock.settings.border["top"].value = 2.5
    border = [6, 0, 2.5, 0]
    np.testing.assert_array_equal(
        rings_layer(viewer).data,
        expected_rings(layers["ROIs"].data, MotionBorder.from_allen(border)),
    )
    bands = viewer.layers["motion border"].data
    assert len(bands) == 2  # left and top
    assert {tuple(np.round(b.max(axis=0) - b.min(axis=0), 1)) for b in bands} == {
        (256.0, 6.0),
        (3.0, 256.0),
    }
    labels = np.asarray(layers["ROIs"].data)
    h, w = labels.shape
    expected_flagged = set()
    for k in range(1, labels.max() + 1):
        roi = roi_masks.create_roi_mask(w, h, border, roi_mask=labels == k, label=k)
        neuropil = roi_masks.create_neuropil_mask(roi, border, labels > 0)
        if roi_masks.validate_mask(roi) or roi_masks.validate_mask(neuropil):
            expected_flagged.add(k)
    flagged = {int(r["ROI"]) for r in table(dock) if r["exclusions"]}
    assert flagged == expected_flagged and flagged
    model = dock.table_model
    first = model.row_of(min(flagged))
    assert (
        model.data(model.index(first, 0), role=8) is not None
    )  # BackgroundRole: the row is tinted
    assert len(viewer.layers["ROIs excluded"].data) == len(flagged)


def test_painting_updates_the_rings_live_and_undo_restores_them(sample, qtbot, table):
    viewer, dock, layers = sample
    rois: Labels = layers["ROIs"]
    before = rings_layer(viewer).data.copy()
    rois.brush_size = 9
    rois.paint((128, 128), 77)  # a new ROI in the middle
    after = expected_rings(rois.data)
    np.testing.assert_array_equal(rings_layer(viewer).data, after)
    assert not np.array_equal(after, before)
    assert 77 in [int(r["ROI"]) for r in table(dock)]
    rois.undo()
    np.testing.assert_array_equal(rings_layer(viewer).data, before)
    assert 77 not in [int(r["ROI"]) for r in table(dock)]
    rois.redo()
    np.testing.assert_array_equal(rings_layer(viewer).data, after)


def test_fill_erase_and_replaced_data_update_the_rings(sample, table):
    viewer, dock, layers = sample
    rois = layers["ROIs"]
    rois.fill((5, 128), 90)  # the background becomes one huge ROI: every ring empties
    np.testing.assert_array_equal(rings_layer(viewer).data, expected_rings(rois.data))
    assert "empty neuropil" in table(dock)[0]["exclusions"]
    rois.undo()
    rois.selected_label = 0
    rois.paint(tuple(np.argwhere(np.asarray(rois.data) == 3)[0]), 0)  # erase part of ROI 3
    np.testing.assert_array_equal(rings_layer(viewer).data, expected_rings(rois.data))
    new = np.zeros_like(rois.data)
    new[100:110, 100:110] = 1
    rois.data = new
    np.testing.assert_array_equal(rings_layer(viewer).data, expected_rings(new))
    assert len(table(dock)) == 1


def test_live_off_leaves_the_rings_until_update(sample):
    viewer, dock, layers = sample
    dock._live.value = False
    before = rings_layer(viewer).data.copy()
    layers["ROIs"].paint((128, 128), 77)
    np.testing.assert_array_equal(rings_layer(viewer).data, before)
    dock._rebuild_button.clicked.emit()
    np.testing.assert_array_equal(rings_layer(viewer).data, expected_rings(layers["ROIs"].data))


def test_ring_options(sample, notes):
    viewer, dock, layers = sample
    dock.settings.radius.value = 6
    dock.settings.gap.value = 2
    np.testing.assert_array_equal(
        rings_layer(viewer).data, expected_rings(layers["ROIs"].data, options=RingOptions(6, 2, 0))
    )
    dock.settings.gap.value = 6  # as wide as the ring: refused
    assert notes and "inner_gap (6) must be smaller than outer_radius (6)" in notes[-1][1]
    assert dock.settings.gap.value == 2 and dock.model.ring_options == RingOptions(6, 2, 0)


def test_clicking_a_row_selects_the_roi_and_centres_the_view(sample, qtbot):
    viewer, dock, layers = sample
    row = 4
    key = dock.table_model.key_at(row)
    rect = dock.table.visualRect(dock.table_model.index(row, 0))
    qtbot.mouseClick(dock.table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert layers["ROIs"].selected_label == key
    rows, columns = np.nonzero(np.asarray(layers["ROIs"].data) == key)
    centre = ((rows.min() + rows.max()) / 2, (columns.min() + columns.max()) / 2)
    camera = viewer.scene.camera if hasattr(viewer, "scene") else viewer.camera
    np.testing.assert_allclose(camera.center[-2:], centre)


def test_shapes_as_rois_follow_adds_moves_and_deletes(make_napari_viewer, table):
    viewer = make_napari_viewer()
    viewer.add_image(np.zeros((100, 120)), name="mean image")
    square = np.array([[20, 20], [20, 35], [35, 35], [35, 20]], dtype=float)
    shapes = viewer.add_shapes([square, square + 8], shape_type="polygon", name="cells")
    _, dock = viewer.window.add_plugin_dock_widget(PLUGIN, "ROI masks")
    assert dock.source is shapes
    assert [int(r["area"]) for r in table(dock)] == [
        256,
        256,
    ]  # overlapping shapes keep their own pixels
    shapes.add_ellipses(np.array([[60, 60], [60, 80], [80, 80], [80, 60]], dtype=float))
    assert len(table(dock)) == 3
    ring_before = dock.model.ring(3).plane((100, 120))
    # what the end of a drag does: the shape moves, then one data event names it
    shapes._data_view.shift(2, np.array([10.0, -30.0]))
    shapes.events.data(
        value=shapes.data, action=ActionType.CHANGED, data_indices=(2,), vertex_indices=((),)
    )
    assert not np.array_equal(dock.model.ring(3).plane((100, 120)), ring_before)
    moved = dock.model.roi(3)
    assert (moved.top, moved.left) == (70, 30)
    shapes.add_paths(np.array([[50.0, 10.0], [50.0, 40.0]]), edge_width=2)
    thin = dock.model.roi(4).area
    shapes.selected_data = {3}
    shapes.current_edge_width = 6  # the selected path gets wider: so does its ROI
    assert dock.model.roi(4).area > thin
    shapes.selected_data = {0}
    shapes.remove_selected()
    assert len(table(dock)) == 3
    assert rings_layer(viewer, "cells").data.max() == 3


def test_bad_input_gets_a_message_and_leaves_the_users_layers_alone(sample, notes, tmp_path):
    viewer, dock, layers = sample
    rois = layers["ROIs"]
    labels_before = np.array(rois.data, copy=True)
    rings_before = rings_layer(viewer).data.copy()

    dock.settings.border["left"].value = 300  # wider than the 256-pixel image
    assert "Border not changed" in notes[-1][1] and "leaves no usable pixel" in notes[-1][1]
    assert dock.settings.border["left"].value == 0 and dock.model.border == MotionBorder()

    offsets = tmp_path / "offsets.csv"
    offsets.write_text("frame,dx,dy\n0,1,2\n")
    assert not dock.border_from_offsets(offsets)
    assert (
        notes[-1][0] == "show_error"
        and "offsets.csv: expected columns named x and y" in notes[-1][1]
    )

    dock.set_source(layers["movie"])
    assert "'movie' is an Image layer" in notes[-1][1]
    assert dock.source is rois

    np.testing.assert_array_equal(rois.data, labels_before)
    np.testing.assert_array_equal(rings_layer(viewer).data, rings_before)


def test_border_from_a_motion_offsets_file(sample, notes, tmp_path):
    _, dock, _ = sample
    offsets = tmp_path / "ops.npy"
    np.save(
        offsets,
        {"xoff": np.array([1.0, -2.0, 4.0]), "yoff": np.array([0.0, 3.0, -1.0])},
        allow_pickle=True,
    )
    assert dock.border_from_offsets(offsets)
    assert [dock.settings.border[s].value for s in ("left", "right", "top", "bottom")] == [
        4,
        2,
        3,
        1,
    ]
    assert dock.model.border == MotionBorder(4, 2, 3, 1)


def test_3d_roi_layer_needs_the_users_word(make_napari_viewer, notes, table):
    viewer = make_napari_viewer()
    stack = np.zeros((3, 50, 50), dtype=np.int32)
    stack[1, 20:30, 20:30] = 4
    layer = viewer.add_labels(stack, name="per frame")
    _, dock = viewer.window.add_plugin_dock_widget(PLUGIN, "ROI masks")
    assert any("has 3 dimensions" in message for _, message in notes)
    assert "per frame neuropil" not in [la.name for la in viewer.layers]
    viewer.dims.set_current_step(0, 1)
    dock._use_frame.value = True
    assert [int(r["ROI"]) for r in table(dock)] == [4]
    np.testing.assert_array_equal(rings_layer(viewer, "per frame").data, expected_rings(stack[1]))
    np.testing.assert_array_equal(layer.data, stack)


def test_3d_shapes_are_refused(make_napari_viewer, notes):
    viewer = make_napari_viewer()
    viewer.add_image(np.zeros((4, 50, 50)), name="movie")
    tilted = np.array([[0, 10, 10], [0, 10, 20], [2, 20, 20], [0, 20, 10]], dtype=float)
    viewer.add_shapes([tilted], shape_type="polygon", name="cells")
    viewer.window.add_plugin_dock_widget(PLUGIN, "ROI masks")
    assert any("is not flat" in message for _, message in notes)


def test_no_roi_layer_says_what_to_add(make_napari_viewer, notes):
    viewer = make_napari_viewer()
    viewer.add_image(np.zeros((40, 40)), name="mean image")
    _, dock = viewer.window.add_plugin_dock_widget(PLUGIN, "ROI masks")
    assert "Add a Labels layer" in dock._status.value
    dock._rebuild_button.clicked.emit()
    assert "No ROI layer" in notes[-1][1]
    viewer.add_labels(np.zeros((40, 40), dtype=np.int32), name="cells")
    assert dock.source is viewer.layers["cells"]  # the picker follows the layer list


def test_painted_rois_become_shapes_and_back_without_changing_the_roi_layer(sample, notes):
    _, dock, layers = sample
    labels = np.array(layers["ROIs"].data, copy=True)
    shapes = dock.copy_rois_to_new_layer()
    assert shapes.name == "ROIs as shapes" and len(shapes.data) == labels.max()
    np.testing.assert_array_equal(layers["ROIs"].data, labels)
    dock.set_source(shapes)
    assert dock.source is shapes
    back = dock.copy_rois_to_new_layer()
    np.testing.assert_array_equal(back.data, labels)  # disc ROIs survive the round trip exactly
    assert not notes  # no shapes overlap, so nothing to warn about


class _Mouse:
    """Just enough of a napari mouse event for a layer's drag callback."""

    def __init__(self, kind, position):
        self.type, self.position = kind, position


def test_a_click_on_an_roi_selects_it_but_a_drag_does_not(sample):
    viewer, dock, layers = sample
    rois = layers["ROIs"]
    rows, columns = np.nonzero(np.asarray(rois.data) == 17)
    where = (150.0, float(rows[0]), float(columns[0]))  # world: frame, row, column
    assert dock._on_click in rois.mouse_drag_callbacks

    def press_and_release(moves):
        event = _Mouse("mouse_press", where)
        steps = dock._on_click(rois, event)
        next(steps)
        for step in moves:
            event.type, event.position = "mouse_move", step
            next(steps)
        event.type = "mouse_release"
        next(steps, None)

    press_and_release([(150.0, 5.0, 5.0)])  # a drag (pan) that ends elsewhere: nothing selected
    assert dock.model.selection != (17,)
    press_and_release([])
    assert dock.model.selection == (17,) and rois.selected_label == 17


def test_several_rows_selected_in_the_table_are_the_selection(sample, qtbot):
    _, dock, _ = sample
    for row, modifier in (
        (2, Qt.KeyboardModifier.NoModifier),
        (6, Qt.KeyboardModifier.ControlModifier),
    ):
        dock.table.scrollTo(dock.table_model.index(row, 0))
        rect = dock.table.visualRect(dock.table_model.index(row, 0))
        qtbot.mouseClick(dock.table.viewport(), Qt.MouseButton.LeftButton, modifier, rect.center())
    assert dock.model.selection == (dock.table_model.key_at(2), dock.table_model.key_at(6))


def test_the_border_and_ring_options_are_saved_with_the_rois_and_come_back(sample, tmp_path):
    from napari_roimasks.io.roi_files import read_rois

    viewer, dock, layers = sample
    dock.settings.border["left"].value = 7  # as the user types it
    dock.settings.gap.value = 2
    path = tmp_path / "curated.roimasks.h5"
    viewer.layers.selection = {layers["ROIs"]}
    assert viewer.layers.save(str(path), selected=True, plugin=PLUGIN) == [str(path)]
    found = read_rois(path)
    assert found.border == MotionBorder(7, 0, 0, 0)
    assert found.ring_options == RingOptions(inner_gap=2)
    # opening the file again brings them back into the dock and the rings
    (reopened,) = viewer.open(str(path), plugin=PLUGIN)
    dock.settings.border["left"].value = 0
    dock.settings.gap.value = 0
    dock.set_source(reopened)
    assert dock.model.border == MotionBorder(7, 0, 0, 0)
    assert dock.settings.gap.value == 2 and dock.model.ring_options.inner_gap == 2
    np.testing.assert_array_equal(
        rings_layer(viewer, reopened.name).data,
        expected_rings(layers["ROIs"].data, MotionBorder(7, 0, 0, 0), RingOptions(inner_gap=2)),
    )


def test_a_users_layer_named_like_the_docks_is_left_alone(make_napari_viewer):
    viewer = make_napari_viewer()
    layers = {layer.name: layer for layer in viewer.open_sample(PLUGIN, "synthetic_recording")}
    mine = viewer.add_shapes(
        [np.array([[10.0, 10.0], [20.0, 20.0]])], shape_type="rectangle", name="motion border"
    )
    _, dock = viewer.window.add_plugin_dock_widget(PLUGIN, "ROI masks")
    dock.set_source(layers["ROIs"])
    dock.set_border(MotionBorder(4, 4, 4, 4))
    dock.set_border(MotionBorder(6, 0, 0, 0))
    assert len(mine.data) == 1 and np.array_equal(mine.data[0][0], [10.0, 10.0])
    ours = [layer for layer in viewer.layers if dock.overlays.owns(layer)]
    border_layer = next(layer for layer in ours if layer.name.startswith("motion border"))
    assert border_layer is not mine and len(border_layer.data) == 1  # the left band only
    assert mine.name in [name for name, _ in dock._roi_layer_choices()]


def test_a_dock_closed_with_its_button_lets_go_and_a_new_one_reuses_its_layers(sample, notes):
    viewer, dock, layers = sample
    rois = layers["ROIs"]
    dock.set_border(MotionBorder(5, 0, 0, 0))
    names_before = sorted(layer.name for layer in viewer.layers)
    viewer.window.remove_dock_widget(dock.parentWidget())  # what the dock's close button does
    rings_before = np.array(rings_layer(viewer).data)
    rois.paint((128, 128), 1)  # the closed dock must not follow the layer any more
    np.testing.assert_array_equal(rings_layer(viewer).data, rings_before)
    assert dock.link.layer is None
    _, again = viewer.window.add_plugin_dock_widget(PLUGIN, "ROI masks")
    assert sorted(layer.name for layer in viewer.layers) == names_before  # no second set
    assert [name for name, _ in again._roi_layer_choices()] == ["ROIs"]
    # the session's settings stay (the layer was curated here), and the reopened dock
    # follows the edit made while no dock was open
    assert again.model.border == MotionBorder(5, 0, 0, 0)
    assert again.settings.border["left"].value == 5
    np.testing.assert_array_equal(
        rings_layer(viewer).data, expected_rings(rois.data, MotionBorder(5, 0, 0, 0))
    )


def test_shapes_saved_from_the_dock_keep_the_movies_size(make_napari_viewer, tmp_path):
    from napari_roimasks.io.roi_files import read_rois

    viewer = make_napari_viewer()
    viewer.add_image(np.zeros((20, 256, 256), np.uint16), name="movie")
    shapes = viewer.add_shapes(
        [np.array([[40.0, 40.0], [60.0, 70.0]]), np.array([[30.0, 50.0], [50.0, 80.0]])],
        shape_type="rectangle",
        name="drawn",
    )
    _, dock = viewer.window.add_plugin_dock_widget(PLUGIN, "ROI masks")
    dock.set_source(shapes)
    path = tmp_path / "drawn.roimasks.h5"
    viewer.layers.selection = {shapes}
    assert viewer.layers.save(str(path), selected=True, plugin=PLUGIN) == [str(path)]
    found = read_rois(path, image_shape=(256, 256))  # what extract against the movie reads
    assert found.image_shape == (256, 256) and len(found.rois) == 2


def test_rois_opened_before_the_movie_are_resized_to_it_and_excluded_as_the_cli_does(
    make_napari_viewer, tmp_path, notes, table
):
    """An Allen pipeline JSON (no image size) opened before its movie: the layer has the ROIs'
    extent, so the right border band lies in the wrong place, until the dock resizes it."""
    import json
    import subprocess
    import sys

    import h5py

    from napari_roimasks.core import MaskCrop
    from napari_roimasks.io.allen_json import AllenMask, write_allen_masks
    from napari_roimasks.synthetic import make_recording

    rec = make_recording(n_frames=6, seed=5)
    labels = np.asarray(rec.roi_labels)
    kept = labels.copy()  # the ROIs reach row 199 and column 199 at most
    kept[200:, :] = 0
    kept[:, 200:] = 0
    ids = [int(k) for k in np.unique(kept) if k]
    with h5py.File(tmp_path / "movie.h5", "w") as f:
        f["data"] = rec.movie
    border = MotionBorder(3, 6, 2, 5)  # right band 6 wide: at the ROIs' extent it covers some
    write_allen_masks(
        tmp_path / "rois.json",
        [AllenMask(k, MaskCrop.from_plane(kept == k)) for k in ids],
        border=border,
    )
    viewer = make_napari_viewer()
    (rois,) = viewer.open(str(tmp_path / "rois.json"), plugin=PLUGIN)
    _, dock = viewer.window.add_plugin_dock_widget(PLUGIN, "ROI masks")
    at_extent = {int(r["ROI"]) for r in table(dock) if r["exclusions"]}
    assert dock.movie_size_offer() is None  # no movie yet
    # one border layer (the ROI layer's refresh while the dock adds its layers draws no second)
    assert [layer.name for layer in viewer.layers] == [
        "rois",
        "motion border",
        "rois neuropil",
        "rois excluded",
    ]

    viewer.open(str(tmp_path / "movie.h5"), plugin=PLUGIN)

    assert dock.movie_size_offer() == ("movie", (256, 256))
    assert not dock._resize.native.isHidden() and "(256x256)" in dock._resize.text
    assert dock.resize_to_movie()
    assert np.asarray(rois.data).shape == (256, 256)
    np.testing.assert_array_equal(rois.data, kept)
    assert dock._resize.native.isHidden() and dock.movie_size_offer() is None
    (band_layer,) = [layer for layer in viewer.layers if layer.name.startswith("motion border")]
    assert max(np.max(band[:, 1]) for band in band_layer.data) == 255.5  # the movie's right edge
    in_dock = {(str(row.key), reason) for row in dock.model.rows() for reason in row.exclusions}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "napari_roimasks.cli",
            "extract",
            str(tmp_path / "movie.h5"),
            str(tmp_path / "rois.json"),
            "-o",
            str(tmp_path / "out"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    by_cli = {
        (e["roi_id"].removeprefix("neuropil for "), e["exclusion_label_name"])
        for e in json.loads((tmp_path / "out" / "exclusions.json").read_text())
    }
    assert in_dock == by_cli
    after = {int(r["ROI"]) for r in table(dock) if r["exclusions"]}
    assert after != at_extent  # the ROIs at the extent's right edge were wrongly excluded


@pytest.mark.parametrize("big", [2**31 - 1, 10**15], ids=["int32-max", "1e15"])
def test_a_huge_label_id_is_an_roi_like_any_other(make_napari_viewer, table, big):
    viewer = make_napari_viewer()
    labels = np.zeros((64, 64), np.int64)
    labels[10:18, 10:18], labels[30:38, 30:38] = 5, big
    rois = viewer.add_labels(labels, name="ROIs")
    _, dock = viewer.window.add_plugin_dock_widget(PLUGIN, "ROI masks")

    assert [int(r["ROI"]) for r in table(dock)] == [5, big]
    rings = np.asarray(rings_layer(viewer).data)
    assert set(np.unique(rings)) == {0, 5, big}
    rois.paint((34, 34), 0)  # an edit near the big ROI redraws its ring in place
    assert [int(r["ROI"]) for r in table(dock)] == [5, big]
    assert big in np.unique(rings_layer(viewer).data)


def test_a_3d_roi_layer_keeps_the_feature_rows_of_labels_in_other_frames(make_napari_viewer):
    viewer = make_napari_viewer()
    stack = np.zeros((2, 50, 50), dtype=np.int32)
    stack[0, 20:30, 20:30] = 1
    stack[1, 5:12, 5:12] = 3  # only in the other frame
    layer = viewer.add_labels(stack, name="per frame")
    _, dock = viewer.window.add_plugin_dock_widget(PLUGIN, "ROI masks")
    dock._use_frame.value = True
    dock.model.decide([1], "cell")  # a whole write of the decisions
    assert 3 in set(layer.features["index"])  # File > Save still finds frame 1's ROI
