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


def df_name(key, frame, before=10, after=5) -> str:
    """The dF layer's name as the user reads it in the layer list."""
    return f"ROI {key} dF at frame {frame} (-{before}/+{after})"


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
    layer = wait_for_layer(qtbot, viewer, df_name(key, second))
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
    assert wait_for_layer(qtbot, viewer, df_name(key, first)) is layer
    np.testing.assert_allclose(layer.data, expected_change(layers, first, window), atol=1e-3)


def test_up_down_and_enter_go_to_the_events(reviewing, qtbot):
    viewer, rois, traces, layers, key = reviewing
    review = traces.events
    click_row(qtbot, review, 0)
    review.list.setFocus()
    qtbot.keyClick(review.list, Qt.Key.Key_Down)
    frame = review.transients[1].frame
    assert review.list.currentRow() == 1 and viewer.dims.current_step[0] == frame
    wait_for_layer(qtbot, viewer, df_name(key, frame))
    viewer.dims.set_current_step(0, 3)
    qtbot.keyClick(review.list, Qt.Key.Key_Return)
    assert viewer.dims.current_step[0] == frame
    qtbot.keyClick(review.list, Qt.Key.Key_Up)
    frame = review.transients[0].frame
    assert viewer.dims.current_step[0] == frame
    wait_for_layer(qtbot, viewer, df_name(key, frame))


def test_selecting_another_roi_removes_the_layer_and_lists_its_transients(reviewing, qtbot):
    viewer, rois, traces, layers, key = reviewing
    review = traces.events
    users = [layer.name for layer in viewer.layers]
    click_row(qtbot, review, 0)
    wait_for_layer(qtbot, viewer, df_name(key, review.transients[0].frame))
    other = next(
        k for k in review.model.roi_keys() if k != key and not review.model.summary(k).exclusions
    )
    rois.select_roi(other)
    assert event_layers(viewer) == []
    assert [layer.name for layer in viewer.layers] == users  # only ours ever goes
    assert review.key == other and review.title.text().startswith(f"ROI {other}:")
    click_row(qtbot, review, 0)
    wait_for_layer(qtbot, viewer, df_name(other, review.transients[0].frame))


class Gates:
    """Every dF worker the review starts waits for its own gate, made with it (``gates[i]`` is
    ``workers[i]``'s, whichever thread starts first)."""

    def __init__(self, monkeypatch):
        self.gates, self.workers = [], []
        self._lock, self._opened = threading.Lock(), False
        make_worker = _event_review.create_worker

        def gated_worker(job, *args, **kwargs):
            gate = threading.Event()
            with self._lock:
                self.gates.append(gate)
                if self._opened:
                    gate.set()

            def gated_job(*args, **kwargs):  # a generator function, as napari's worker wants
                gate.wait()
                return (yield from job(*args, **kwargs))

            worker = make_worker(gated_job, *args, **kwargs)
            self.workers.append(worker)
            return worker

        monkeypatch.setattr(_event_review, "create_worker", gated_worker)

    def open_all(self) -> None:
        """Let every job, started or to come, run: a test that failed midway leaves no worker
        waiting for ever (closing the viewer waits for them)."""
        with self._lock:
            self._opened = True
            for gate in self.gates:
                gate.set()


@pytest.fixture
def jobs(reviewing, monkeypatch):
    """The review's dF jobs held at their gates (:class:`Gates`), all let go at the end."""
    gates = Gates(monkeypatch)
    yield gates
    gates.open_all()


def test_a_result_for_an_event_or_roi_no_longer_chosen_is_dropped(reviewing, qtbot, jobs):
    viewer, rois, traces, layers, key = reviewing
    review = traces.events
    click_row(qtbot, review, 0)
    click_row(qtbot, review, 1)  # chosen while the first is still being read
    qtbot.waitUntil(lambda: len(jobs.gates) == 2, timeout=10_000)
    second = review.transients[1].frame
    with qtbot.waitSignal(jobs.workers[1].finished, timeout=20_000):
        jobs.gates[1].set()
    layer = wait_for_layer(qtbot, viewer, df_name(key, second))
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
    wait_for_layer(qtbot, viewer, df_name(key, review.transients[0].frame))

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


# -- the dF image's frames and margin ------------------------------------------------------------
def type_into(qtbot, box, text) -> None:
    """Type ``text`` over a spin box's number and press Enter, as a user does."""
    box.setFocus()
    box.selectAll()  # the number, not its prefix or suffix
    qtbot.keyClicks(box, str(text))
    qtbot.keyClick(box, Qt.Key.Key_Return)


def crop_by_hand(model, key, margin):
    """The ROI's box grown by ``margin`` on every side, inside the sample's 256 x 256 frame."""
    roi = model.roi(key)
    return (
        max(0, roi.top - margin),
        max(0, roi.left - margin),
        min(256, roi.bottom + margin),
        min(256, roi.right + margin),
    )


def test_the_row_under_the_list_sets_the_frames_and_the_chosen_events_image_follows(
    reviewing, qtbot
):
    viewer, rois, traces, layers, key = reviewing
    review = traces.events
    assert review.df_settings_row.isVisible()
    texts = [review.frames_before.text(), review.frames_after.text(), review.crop_margin.text()]
    assert texts == ["10 before", "5 after", "\N{PLUS-MINUS SIGN}20 px"]
    frame = review.transients[1].frame
    click_row(qtbot, review, 1)
    layer = wait_for_layer(qtbot, viewer, df_name(key, frame))
    window = crop_by_hand(review.model, key, 20)

    type_into(qtbot, review.frames_before, 3)
    assert wait_for_layer(qtbot, viewer, df_name(key, frame, before=3)) is layer  # in place
    np.testing.assert_allclose(
        layer.data, expected_change(layers, frame, window, before=3), atol=1e-3
    )
    assert layer.metadata["dF baseline frames"] == (frame - 3, frame)
    assert viewer.dims.current_step[0] == frame  # still at the event

    review.frames_after.setFocus()
    qtbot.keyClick(review.frames_after, Qt.Key.Key_Up)  # one step: 6 frames from the event on
    assert review.frames_after.text() == "6 after"
    wait_for_layer(qtbot, viewer, df_name(key, frame, before=3, after=6))
    np.testing.assert_allclose(
        layer.data, expected_change(layers, frame, window, before=3, after=6), atol=1e-3
    )
    assert layer.metadata["dF response frames"] == (frame, frame + 6)
    help_text = review.list.toolTip()
    assert "mean of the 6 frames from it minus the mean of the 3 before" in help_text
    assert "20 pixels around the ROI" in help_text


def test_the_crop_follows_the_margin(reviewing, qtbot):
    viewer, rois, traces, layers, key = reviewing
    review = traces.events
    frame = review.transients[0].frame
    click_row(qtbot, review, 0)
    layer = wait_for_layer(qtbot, viewer, df_name(key, frame))
    for margin in (0, 35):
        type_into(qtbot, review.crop_margin, margin)
        top, left, bottom, right = window = crop_by_hand(review.model, key, margin)
        shape, place = (bottom - top, right - left), (top, left)
        qtbot.waitUntil(
            lambda shape=shape, place=place: (
                layer.data.shape == shape and tuple(layer.translate) == place
            ),
            timeout=20_000,
        )
        np.testing.assert_allclose(layer.data, expected_change(layers, frame, window), atol=1e-3)
        assert event_layers(viewer) == [layer]
    assert review.list.toolTip().endswith("35 pixels around the ROI (set under the list)")


def test_a_result_for_frames_or_a_margin_no_longer_set_is_dropped(reviewing, qtbot, jobs):
    viewer, rois, traces, layers, key = reviewing
    review = traces.events
    frame = review.transients[0].frame
    window = crop_by_hand(review.model, key, 20)
    click_row(qtbot, review, 0)
    type_into(qtbot, review.frames_before, 4)  # while the image for 10 before is being read
    qtbot.waitUntil(lambda: len(jobs.gates) == 2, timeout=10_000)
    with qtbot.waitSignal(jobs.workers[0].finished, timeout=20_000):
        jobs.gates[0].set()  # the image for 10 frames before arrives first: not shown
    assert event_layers(viewer) == []
    with qtbot.waitSignal(jobs.workers[1].finished, timeout=20_000):
        jobs.gates[1].set()
    layer = wait_for_layer(qtbot, viewer, df_name(key, frame, before=4))

    type_into(qtbot, review.frames_after, 7)
    type_into(qtbot, review.crop_margin, 2)
    qtbot.waitUntil(lambda: len(jobs.gates) == 4, timeout=10_000)
    with qtbot.waitSignal(jobs.workers[3].finished, timeout=20_000):
        jobs.gates[3].set()  # the image asked for last arrives first
    wait_for_layer(qtbot, viewer, df_name(key, frame, before=4, after=7))
    small = crop_by_hand(review.model, key, 2)
    with qtbot.waitSignal(jobs.workers[2].finished, timeout=20_000):
        jobs.gates[2].set()  # the one for a 20 pixel margin, late: dropped
    assert event_layers(viewer) == [layer]
    assert (
        layer.data.shape
        == (small[2] - small[0], small[3] - small[1])
        != (
            window[2] - window[0],
            window[3] - window[1],
        )
    )
    np.testing.assert_allclose(
        layer.data, expected_change(layers, frame, small, before=4, after=7), atol=1e-3
    )


def test_the_row_shows_with_the_list_and_sets_the_next_event_chosen(session, qtbot):
    viewer, rois, traces, layers = session
    viewer.window._qt_window.show()
    review = traces.events
    assert review.df_settings_row.isHidden()  # nothing listed: nothing to set
    rois.select_roi(5)
    assert review.df_settings_row.isHidden()  # no traces yet
    extract_and_wait(qtbot, traces)
    key = next(k for k in traces.model.roi_keys() if not traces.model.summary(k).exclusions)
    rois.select_roi(key)
    assert review.df_settings_row.isVisible()

    type_into(qtbot, review.frames_before, 2)  # no event chosen yet: nothing to compute
    type_into(qtbot, review.frames_after, 0)  # below the least (1): refused, 5 stays
    type_into(qtbot, review.crop_margin, 999)  # past the most (200): the last 9 is refused
    assert (review.frames_before.value(), review.frames_after.value()) == (2, 5)
    assert review.crop_margin.value() == 99
    assert event_layers(viewer) == []
    frame = review.transients[0].frame
    click_row(qtbot, review, 0)
    layer = wait_for_layer(qtbot, viewer, df_name(key, frame, before=2))
    window = crop_by_hand(review.model, key, 99)
    assert layer.data.shape == (window[2] - window[0], window[3] - window[1])
    np.testing.assert_allclose(
        layer.data, expected_change(layers, frame, window, before=2), atol=1e-3
    )
