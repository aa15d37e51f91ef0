"""Quality metrics and suggestions in a real viewer: table columns sorted by a header click,
the view coloured by a metric, rules and the classifier suggesting, Q and Shift+Q taking the
suggestions, a classifier exported and loaded."""

from __future__ import annotations

import json

import numpy as np
import pytest
from qtpy.QtCore import QPoint, Qt
from qtpy.QtTest import QTest

from napari_roimasks.io.roi_set import Decision
from napari_roimasks.model.suggestions import ThresholdRule
from napari_roimasks.model.traces import corrected_traces
from napari_roimasks.widgets import quality_dock

PLUGIN = "napari-roimasks"
SHIFT = Qt.KeyboardModifier.ShiftModifier
ALT = Qt.KeyboardModifier.AltModifier


def press(viewer, key, modifier=Qt.KeyboardModifier.NoModifier):
    QTest.keyClick(viewer.window._qt_viewer.canvas.native, key, modifier)


@pytest.fixture
def curated(session, qtbot, monkeypatch):
    """The sample recording, its traces extracted in the Traces dock, the ROI quality dock."""
    viewer, rois, traces, layers = session
    with qtbot.waitSignal(traces.model.traces_changed, timeout=20_000):
        assert traces.extract()
    qtbot.waitUntil(lambda: not traces.running, timeout=20_000)
    _, quality = viewer.window.add_plugin_dock_widget(PLUGIN, "ROI quality")
    seen = []
    for kind in ("show_warning", "show_info"):
        monkeypatch.setattr(
            quality_dock, kind, lambda message, kind=kind: seen.append((kind, message))
        )
    return viewer, rois, quality, layers, seen


def snr_of(model) -> dict:
    """Each ROI's SNR, where known (an ROI the motion border excludes has NaN traces)."""
    return {row.key: row.metrics["snr"] for row in model.rows() if np.isfinite(row.metrics["snr"])}


def click_header(dock, title: str) -> None:
    header = dock.table.horizontalHeader()
    section = [
        dock.table_model.headerData(c, Qt.Orientation.Horizontal)
        for c in range(dock.table_model.columnCount())
    ].index(title)
    dock.table.scrollTo(dock.table_model.index(0, section))
    x = header.sectionViewportPosition(section) + header.sectionSize(section) // 2
    QTest.mouseClick(
        header.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(x, header.height() // 2)
    )


def test_each_metric_is_a_column_a_header_click_sorts_and_the_layer_features_hold(curated, table):
    viewer, rois, quality, layers, _ = curated
    model = rois.model
    snr = snr_of(model)
    excluded = [row.key for row in model.rows() if row.excluded]
    assert excluded and set(snr) == set(model.roi_keys()) - set(excluded)
    key = model.roi_keys()[4]
    roi, neuropil = model.traces[key].roi, model.traces[key].neuropil
    corrected = corrected_traces(roi, neuropil, 0.7)
    from scipy.stats import skew

    assert model.summary(key).metrics["skew"] == pytest.approx(skew(corrected), rel=1e-12)
    rows = table(rois)
    assert {"SNR", "skew", "events", "compact", "border", "bright z", "suggested"} <= set(rows[0])
    assert rows[4]["SNR"] == f"{snr[key]:.3g}"
    click_header(rois, "SNR")
    click_header(rois, "SNR")  # a second click: highest first
    shown = [rois.table_model.key_at(r) for r in range(rois.table_model.rowCount())]
    assert shown == sorted(snr, key=lambda k: (-snr[k], k)) + sorted(excluded)  # unknown last
    assert rows[model.roi_keys().index(excluded[0])]["SNR"] == ""
    features = layers["ROIs"].features.set_index("index")
    for k in model.roi_keys():
        assert features.loc[k, "snr"] == snr[k] if k in snr else np.isnan(features.loc[k, "snr"])
        assert features.loc[k, "compactness"] == model.summary(k).metrics["compactness"]


def test_colour_by_a_metric_adds_a_layer_with_a_colour_bar(curated):
    viewer, rois, quality, layers, _ = curated
    snr = snr_of(rois.model)
    quality.colour_box.setCurrentText("SNR")  # as the curator picks it
    layer = quality.metric_layer
    assert layer is not None and layer.name == "ROIs by SNR" and layer in viewer.layers
    assert viewer.layers.selection.active is not layer  # clicks still go to the ROI layer
    assert layer.name not in [name for name, _ in rois._roi_layer_choices()]  # never ROIs
    keys = rois.model.roi_keys()
    best, worst = max(snr, key=snr.get), min(snr, key=snr.get)
    label_at = {k: layer.data[np.asarray(layers["ROIs"].data) == k][0] for k in (best, worst)}
    viridis = (
        quality_dock.ensure_colormap("viridis")
        if hasattr(quality_dock, "ensure_colormap")
        else None
    )
    from napari.utils.colormaps import ensure_colormap

    viridis = ensure_colormap("viridis")
    np.testing.assert_allclose(layer.colormap.map(label_at[best]), viridis.colors[-1], atol=1e-6)
    np.testing.assert_allclose(layer.colormap.map(label_at[worst]), viridis.colors[0], atol=1e-6)
    assert not quality.colour_bar.isHidden()
    assert (quality.colour_bar.low, quality.colour_bar.high) == (snr[worst], snr[best])
    assert len(np.unique(layer.data)) == len(keys) + 1
    quality.colour_box.setCurrentText("none")
    assert quality.metric_layer is None and "ROIs by SNR" not in [x.name for x in viewer.layers]


def test_a_rule_suggests_and_shift_q_takes_every_unlabeled_one_shown_in_one_undo(curated, table):
    viewer, rois, quality, _, _ = curated
    model = rois.model
    snr = snr_of(model)
    cut = float(np.median(list(snr.values())))
    rois.select_roi(min(snr, key=snr.get))
    press(viewer, Qt.Key.Key_G)  # the curator calls the dimmest ROI a cell
    mine = min(snr, key=snr.get)
    row = quality.add_rule("snr", "at least", cut)
    assert row.value_box.value() == pytest.approx(cut, abs=1e-3)
    rows = {r["ROI"]: r for r in table(rois)}
    low = next(k for k in snr if snr[k] < cut and k != mine)
    assert rows[str(low)]["suggested"] == "not cell"
    assert model.summary(low).suggestion.reason == f"snr {snr[low]:.3g} < {row.rule().minimum:g}"
    press(viewer, Qt.Key.Key_Q, SHIFT)
    assert model.summary(mine).decision is Decision.CELL  # a decision made is never changed
    for k in model.roi_keys():  # an unknown SNR suggests nothing: its ROI stays unlabeled
        if k != mine:
            wanted = Decision.UNLABELED
            if k in snr:
                wanted = Decision.NOT_CELL if snr[k] < row.rule().minimum else Decision.CELL
            assert model.summary(k).decision is wanted
    assert model.summary(low).reason.startswith("suggested: snr ")
    press(viewer, Qt.Key.Key_Z, ALT)  # one step undoes them all
    others = [k for k in model.roi_keys() if k != mine]
    assert all(model.summary(k).decision is Decision.UNLABELED for k in others)
    assert model.summary(mine).decision is Decision.CELL
    # the slider moves the bound: suggestions follow at once
    row.slider.setValue(0)
    assert all(model.summary(k).suggestion.decision is Decision.CELL for k in snr)


def test_the_classifier_trains_in_a_worker_suggests_and_q_takes_one(curated, qtbot):
    viewer, rois, quality, _, seen = curated
    model = rois.model
    snr = snr_of(model)
    order = sorted(snr, key=snr.get)
    qtbot.mouseClick(quality.train_button, Qt.MouseButton.LeftButton)  # too few decisions
    qtbot.waitUntil(lambda: quality._worker is None, timeout=20_000)
    assert seen[-1][1].startswith("Classifier not trained: the classifier learns from decided")
    assert model.quality.classifier is None
    model.decide(order[:5], Decision.NOT_CELL)
    model.decide(order[-5:], Decision.CELL)
    decided = {k: model.summary(k).decision for k in order}
    qtbot.mouseClick(quality.train_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: model.quality.classifier is not None, timeout=20_000)
    assert {k: model.summary(k).decision for k in order} == decided  # suggests, never decides
    assert quality.classifier_label.text().startswith("Trained on 5 cells and 5 not cells")
    middle = order[len(order) // 2]
    suggestion = model.summary(middle).suggestion
    assert suggestion.reason.startswith(f"classifier {suggestion.probability:.2f}: ")
    rois.select_roi(middle)
    assert quality.why_label.text().startswith(f"ROI {middle}: ")
    press(viewer, Qt.Key.Key_Q)
    assert model.summary(middle).decision is suggestion.decision
    assert model.summary(middle).reason == f"suggested: {suggestion.reason}"


def test_a_classifier_goes_to_json_a_bad_file_changes_nothing_and_it_comes_back(
    curated, qtbot, tmp_path
):
    viewer, rois, quality, _, seen = curated
    model = rois.model
    order = sorted(snr_of(model), key=snr_of(model).get)
    model.decide(order[:6], Decision.NOT_CELL)
    model.decide(order[-6:], Decision.CELL)
    model.quality.train()
    path = quality.export_classifier(tmp_path / "classifier.json")
    saved = json.loads(path.read_text())
    assert saved["features"] == list(model.quality.classifier.features)
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "something else"}')
    assert not quality.load_classifier(bad)
    assert seen[-1] == (
        "show_warning",
        f"{bad}: classifier not loaded: not a classifier file (expected format 'napari-roimasks cell classifier')",
    )
    assert model.quality.classifier is not None  # the one in use stays
    quality.forget_classifier()
    assert all(row.suggestion is None for row in model.rows())
    assert quality.load_classifier(path)
    assert all(row.suggestion is not None for row in model.rows())


def test_rules_a_session_brings_back_show_as_rows_the_curator_can_edit(curated):
    viewer, rois, quality, _, _ = curated
    model = rois.model
    model.quality.restore_json(
        '{"format": "napari-roimasks quality", "rules": [["compactness", null, 1.25]], '
        '"classifier": null}'
    )  # as a restored session does
    assert len(quality._rules) == 1
    row = quality._rules[0]
    assert (row.metric, row.side_box.currentText(), row.value_box.value()) == (
        "compactness",
        "at most",
        1.25,
    )
    row.value_box.setValue(1.5)  # the curator edits it: the model's rule follows
    assert model.quality.rules == (ThresholdRule("compactness", maximum=1.5),)
