"""Event review in a real viewer: the selected ROI's transients in the Traces dock, clicked and
keyed; the frame slider follows and a dF layer shows the movie's change around the event."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from qtpy.QtCore import Qt

from napari_roimasks.model.events import SIGMA, aligned_labels, event_crop
from napari_roimasks.widgets import _event_review
from napari_roimasks.widgets._image_layers import IMAGE_KEY


def extract_and_wait(qtbot, traces):
    with qtbot.waitSignal(traces.model.traces_changed, timeout=60_000):
        assert traces.extract()
    qtbot.waitUntil(lambda: not traces.running, timeout=10_000)


def event_layers(viewer) -> list:
    return [
        layer
        for layer in viewer.layers
        if str(layer.metadata.get(IMAGE_KEY, "")).startswith("event dF:")
    ]


def click_row(qtbot, review, row: int) -> None:
    """A real mouse click on the list's ``row``."""
    rect = review.list.visualItemRect(review.list.item(row))
    assert not rect.isEmpty()
    qtbot.mouseClick(review.list.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())


def expected_change(layers, frame, window, before=10, after=5):
    top, left, bottom, right = window
    crop = np.asarray(layers["movie"].data)[:, top:bottom, left:right].astype(np.float64)
    baseline = crop[max(0, frame - before) : max(frame, 1)].mean(axis=0)
    return crop[frame : frame + after].mean(axis=0) - baseline


def wait_for_layer(qtbot, viewer, name):
    qtbot.waitUntil(
        lambda: [layer.name for layer in event_layers(viewer)] == [name], timeout=20_000
    )
    return event_layers(viewer)[0]


@pytest.fixture
def reviewing(session, qtbot):
    """The sample with its traces extracted, the window shown (the list has its size), and an
    active cell (one the border does not exclude) selected: (viewer, rois, traces, layers, key)."""
    viewer, rois, traces, layers = session
    viewer.window._qt_window.show()
    extract_and_wait(qtbot, traces)
    key = next(k for k in traces.model.roi_keys() if not traces.model.summary(k).exclusions)
    rois.select_roi(key)
    return viewer, rois, traces, layers, key


def test_without_traces_the_list_says_to_extract_them_first(session):
    viewer, rois, traces, layers = session
    assert {"movie", "mean image", "ROIs"} <= {layer.name for layer in viewer.layers}
    assert traces.events.title.text() == "Select one ROI to list its transients"
    rois.select_roi(5)
    assert traces.events.title.text().startswith("Extract traces first")
    assert traces.events.list.isHidden() and traces.events.list.count() == 0


def test_the_list_holds_the_cells_known_spikes_largest_first(reviewing):
    viewer, rois, traces, layers, key = reviewing
    review = traces.events
    spikes = layers["movie"].metadata["spike_frames"][key - 1]
    listed = [t.frame for t in review.transients]
    assert all(min(abs(f - s) for f in listed) <= 2 for s in spikes)
    rows = [review.list.item(i).text() for i in range(review.list.count())]
    assert rows == aligned_labels(review.transients)
    first = review.transients[0]  # the largest
    assert rows[0].split()[:2] == ["frame", str(first.frame)]
    assert f"+{first.amplitude:.0f}" in rows[0] and rows[0].endswith(f"{first.sigmas:.1f} {SIGMA})")
    assert review.title.text().startswith(f"ROI {key}: {len(rows)} transients")


def test_clicking_a_transient_moves_the_slider_and_shows_its_df_image_in_place(reviewing, qtbot):
    viewer, rois, traces, layers, key = reviewing
    review = traces.events
    first, second = review.transients[0].frame, review.transients[1].frame
    click_row(qtbot, review, 1)
    assert viewer.dims.current_step[0] == second
    layer = wait_for_layer(qtbot, viewer, f"ROI {key} dF at frame {second}")
    window = event_crop(review.model, key)
    assert tuple(layer.translate) == (window.top, window.left)
    assert tuple(layer.scale) == tuple(layers["movie"].scale[-2:])
    np.testing.assert_allclose(layer.data, expected_change(layers, second, window), atol=1e-3)
    names = [lay.name for lay in viewer.layers]
    assert names.index(layer.name) < names.index("ROIs")  # the ROI outlines draw on it
    # what a curator sees: the cell lit up, brighter than the crop around it
    roi = review.model.roi(key)
    inside = roi.plane((256, 256))[window.top : window.bottom, window.left : window.right]
    assert layer.data[inside].mean() > 5 * abs(layer.data[~inside].mean())

    click_row(qtbot, review, 0)  # another event: the same layer, replaced
    assert viewer.dims.current_step[0] == first
    assert wait_for_layer(qtbot, viewer, f"ROI {key} dF at frame {first}") is layer
    np.testing.assert_allclose(layer.data, expected_change(layers, first, window), atol=1e-3)


def test_up_down_and_enter_go_to_the_events(reviewing, qtbot):
    viewer, rois, traces, layers, key = reviewing
    review = traces.events
    click_row(qtbot, review, 0)
    review.list.setFocus()
    qtbot.keyClick(review.list, Qt.Key.Key_Down)
    frame = review.transients[1].frame
    assert review.list.currentRow() == 1 and viewer.dims.current_step[0] == frame
    wait_for_layer(qtbot, viewer, f"ROI {key} dF at frame {frame}")
    viewer.dims.set_current_step(0, 3)
    qtbot.keyClick(review.list, Qt.Key.Key_Return)
    assert viewer.dims.current_step[0] == frame
    qtbot.keyClick(review.list, Qt.Key.Key_Up)
    frame = review.transients[0].frame
    assert viewer.dims.current_step[0] == frame
    wait_for_layer(qtbot, viewer, f"ROI {key} dF at frame {frame}")


def test_selecting_another_roi_removes_the_layer_and_lists_its_transients(reviewing, qtbot):
    viewer, rois, traces, layers, key = reviewing
    review = traces.events
    users = [layer.name for layer in viewer.layers]
    click_row(qtbot, review, 0)
    wait_for_layer(qtbot, viewer, f"ROI {key} dF at frame {review.transients[0].frame}")
    other = next(
        k for k in review.model.roi_keys() if k != key and not review.model.summary(k).exclusions
    )
    rois.select_roi(other)
    assert event_layers(viewer) == []
    assert [layer.name for layer in viewer.layers] == users  # only ours ever goes
    assert review.key == other and review.title.text().startswith(f"ROI {other}:")
    click_row(qtbot, review, 0)
    wait_for_layer(qtbot, viewer, f"ROI {other} dF at frame {review.transients[0].frame}")


class Gates:
    """Every dF job the review starts waits for its own gate; its workers, to wait for."""

    def __init__(self, monkeypatch):
        self.gates, self.workers = [], []
        job, make_worker = _event_review.event_image_job, _event_review.create_worker

        def gated_job(*args, **kwargs):  # a generator function, as napari's worker wants
            gate = threading.Event()
            self.gates.append(gate)
            gate.wait()
            return (yield from job(*args, **kwargs))

        def recorded_worker(*args, **kwargs):
            worker = make_worker(*args, **kwargs)
            self.workers.append(worker)
            return worker

        monkeypatch.setattr(_event_review, "event_image_job", gated_job)
        monkeypatch.setattr(_event_review, "create_worker", recorded_worker)


def test_a_result_for_an_event_or_roi_no_longer_chosen_is_dropped(reviewing, qtbot, monkeypatch):
    viewer, rois, traces, layers, key = reviewing
    review = traces.events
    jobs = Gates(monkeypatch)
    click_row(qtbot, review, 0)
    click_row(qtbot, review, 1)  # chosen while the first is still being read
    qtbot.waitUntil(lambda: len(jobs.gates) == 2, timeout=10_000)
    second = review.transients[1].frame
    with qtbot.waitSignal(jobs.workers[1].finished, timeout=20_000):
        jobs.gates[1].set()
    layer = wait_for_layer(qtbot, viewer, f"ROI {key} dF at frame {second}")
    with qtbot.waitSignal(jobs.workers[0].finished, timeout=20_000):
        jobs.gates[0].set()
    assert [lay.name for lay in event_layers(viewer)] == [layer.name]
    np.testing.assert_allclose(
        layer.data, expected_change(layers, second, event_crop(review.model, key)), atol=1e-3
    )

    click_row(qtbot, review, 2)
    qtbot.waitUntil(lambda: len(jobs.gates) == 3, timeout=10_000)
    rois.select_roi(next(k for k in review.model.roi_keys() if k != key))
    with qtbot.waitSignal(jobs.workers[2].finished, timeout=20_000):
        jobs.gates[2].set()
    assert event_layers(viewer) == []


def test_a_failed_read_is_one_notification_and_closing_the_dock_removes_the_layer(
    reviewing, qtbot, monkeypatch
):
    viewer, rois, traces, layers, key = reviewing
    review = traces.events
    seen = []
    monkeypatch.setattr(_event_review, "show_error", seen.append)
    click_row(qtbot, review, 0)
    wait_for_layer(qtbot, viewer, f"ROI {key} dF at frame {review.transients[0].frame}")

    def broken(*args, **kwargs):
        raise OSError("the file went away")
        yield

    monkeypatch.setattr(_event_review, "event_image_job", broken)
    frame = review.transients[1].frame
    click_row(qtbot, review, 1)
    qtbot.waitUntil(lambda: bool(seen), timeout=20_000)
    assert seen == [f"The dF image of ROI {key} at frame {frame} failed: the file went away"]

    viewer.window.remove_dock_widget(traces.parentWidget())
    assert event_layers(viewer) == []
