"""Decisions written into an ROI layer's features: the whole table, or only the rows that changed."""

from __future__ import annotations

import numpy as np
from napari.layers import Labels, Shapes

from napari_roimasks.layers import (
    DECISION_COLUMNS,
    decisions_from_features,
    update_roi_features,
    write_roi_features,
)


def decision(value, reason="", when="", probability=np.nan):
    return {"decision": value, "reason": reason, "decided_at": when, "probability": probability}


def labels_layer():
    data = np.zeros((20, 20), dtype=np.int32)
    for label in (1, 2, 3, 7):
        data[label, label : label + 3] = label
    layer = Labels(data)
    layer.features = {"index": [0, 1, 2, 3, 7], "mask_group": [-1, 0, 0, 1, 1]}
    return layer


def squares(n):
    return [np.array([[i, i], [i, i + 4], [i + 4, i + 4], [i + 4, i]], float) for i in range(n)]


def test_a_labels_layers_changed_rows_are_written_and_nothing_else():
    layer = labels_layer()
    write_roi_features(layer, {k: decision("unlabeled") for k in (1, 2, 3, 7)}, DECISION_COLUMNS)
    before = layer.features.copy()
    seen = []
    layer.events.features.connect(lambda event: seen.append(event))

    assert update_roi_features(
        layer, {7: decision("not_cell", "dim", "2026-01-02T03:04:05+00:00", 0.25)}
    )

    features = layer.features.set_index("index")
    assert features.loc[7, "decision"] == "not_cell" and features.loc[7, "reason"] == "dim"
    assert features.loc[7, "decided_at"] == "2026-01-02T03:04:05+00:00"
    assert features.loc[7, "probability"] == 0.25
    others = layer.features["index"] != 7
    assert layer.features[others].equals(before[others])
    assert list(layer.features["mask_group"]) == [-1, 0, 0, 1, 1]
    assert seen  # the layer says its features changed
    # what File > Save reads back
    assert decisions_from_features(layer)[7][0].value == "not_cell"


def test_many_rows_at_once_are_written_too():
    layer = Labels(np.tile(np.arange(40, dtype=np.int32), (2, 1)))
    write_roi_features(layer, {k: decision("unlabeled") for k in range(1, 40)}, DECISION_COLUMNS)
    assert update_roi_features(layer, {k: decision("cell", f"r{k}") for k in range(1, 40)})
    assert list(layer.features["decision"]) == ["unlabeled"] + ["cell"] * 39
    assert list(layer.features["reason"]) == [""] + [f"r{k}" for k in range(1, 40)]


def test_a_missing_column_leaves_it_to_the_whole_write_and_a_new_label_gets_its_row():
    layer = labels_layer()
    assert not update_roi_features(layer, {1: decision("cell")})  # no decision column yet
    assert "decision" not in layer.features.columns  # nothing written
    write_roi_features(layer, {k: decision("unlabeled") for k in (1, 2, 3, 7)}, DECISION_COLUMNS)
    # 5: a label painted since (a split's piece): its row joins in label order
    assert update_roi_features(layer, {1: decision("cell"), 5: decision("not_cell")})
    features = layer.features
    assert list(features["index"]) == sorted(features["index"]) and 5 in set(features["index"])
    by_label = features.set_index("index")["decision"]
    assert (by_label[1], by_label[5], by_label[7]) == ("cell", "not_cell", "unlabeled")
    assert update_roi_features(layer, {})  # nothing to write


def test_a_shapes_layers_rows_are_its_shapes_in_order():
    layer = Shapes(squares(4), shape_type="polygon")
    write_roi_features(layer, {k: decision("unlabeled") for k in range(1, 5)}, DECISION_COLUMNS)
    assert update_roi_features(layer, {2: decision("cell"), 4: decision("not_cell")})
    assert list(layer.features["decision"]) == ["unlabeled", "cell", "unlabeled", "not_cell"]
    layer.add_polygons([squares(5)[4]])  # a shape drawn since gets a row of its own
    assert update_roi_features(layer, {5: decision("cell")})
    assert list(layer.features["decision"]) == [
        "unlabeled",
        "cell",
        "unlabeled",
        "not_cell",
        "cell",
    ]
    layer.remove([0])  # its row goes with it: the rows are the shapes again
    assert update_roi_features(layer, {1: decision("not_cell")})
    assert list(layer.features["decision"]) == ["not_cell", "unlabeled", "not_cell", "cell"]


def test_a_new_labels_row_has_no_group_and_the_layer_still_reads():
    from napari_roimasks.core import MotionBorder
    from napari_roimasks.layers import roi_masks_from_layer

    layer = labels_layer()
    write_roi_features(layer, {k: decision("unlabeled") for k in (1, 2, 3, 7)}, DECISION_COLUMNS)
    data = np.array(layer.data)
    data[15:18, 15:18] = 9  # painted (or split off) since: its row gets no mask_group
    layer.data = data
    assert update_roi_features(layer, {9: decision("cell")})
    rois = roi_masks_from_layer(layer, MotionBorder())
    groups = {roi.label: roi.mask_group for roi in rois}
    assert groups[9] == -1 and groups[1] == 0 and groups[7] == 1
