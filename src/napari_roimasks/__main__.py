"""The main job: ``python -m napari_roimasks [--screenshot PATH]``.

Opens napari with the synthetic sample recording, its ROI labels, its motion
border, the live neuropil rings, the "ROI masks" dock and the "Traces" dock
(its summary images computed first, the correlation image shown under the
ROIs; then extracting in the background; ROI 5 selected). With ``--screenshot`` the same
window is rendered once the traces are in, saved as a PNG, and napari exits.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

PLUGIN = "napari-roimasks"


def _parse_args(argv):
    parser = argparse.ArgumentParser(
        prog="python -m napari_roimasks", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "--screenshot", metavar="PATH", type=Path, help="save the window as a PNG and exit"
    )
    args = parser.parse_args(argv)
    if args.screenshot is not None and not args.screenshot.parent.resolve().is_dir():
        parser.error(f"--screenshot: the folder {args.screenshot.parent} does not exist")
    return args


def build_viewer(*, show: bool = True):
    """A viewer with the sample recording, both docks, the border and the rings; extraction started."""
    import napari
    from qtpy.QtCore import Qt

    from .core.border import MotionBorder

    viewer = napari.Viewer(title="napari-roimasks", show=show)
    layers = viewer.open_sample(PLUGIN, "synthetic_recording")
    movie = next(layer for layer in layers if layer.name == "movie")
    rois = next(layer for layer in layers if layer.name == "ROIs")
    _, dock = viewer.window.add_plugin_dock_widget(PLUGIN, "ROI masks")
    dock.set_source(rois)
    dock.set_border(MotionBorder.from_allen(movie.metadata["motion_border"]))
    from .widgets import TracesWidget

    traces = TracesWidget(
        viewer
    )  # time runs left to right: the traces get the bottom of the window
    traces_dock = viewer.window.add_dock_widget(traces, name="Traces", area="bottom")
    _summary_images_first(traces)
    traces.extract()
    dock.select_roi(5)
    viewer.layers.selection.active = rois
    viewer.reset_view()
    viewer.window._qt_window.resizeDocks([traces_dock], [340], Qt.Orientation.Vertical)
    return viewer, dock, traces


def _summary_images_first(traces) -> None:
    """Compute the movie's summary images (a fraction of a second for the sample) before the
    extraction: the dock runs one job on the movie at a time."""
    if traces.images.summary_images():
        _wait_while(lambda: traces.images.running)


def _wait_while(busy) -> None:
    """Let Qt run until ``busy()`` is False, sleeping between events (the worker's signals
    wake it) rather than spinning a core the worker needs."""
    from qtpy.QtCore import QEventLoop
    from qtpy.QtWidgets import QApplication

    while busy():
        QApplication.processEvents(QEventLoop.ProcessEventsFlag.WaitForMoreEvents)


def _viewer_packages_missing() -> str | None:
    """The one line that says what to install when napari, Qt or the docks' packages are missing."""
    try:
        from . import widgets  # noqa: F401  (importing the docks checks for them)
    except ImportError as error:
        if not str(error).startswith(f"{PLUGIN}:"):  # not the docks' own line: a bug, keep it whole
            raise
        return str(error)
    return None


def main(argv=None) -> int:
    """Run the main job; returns the exit code (1, with one line on stderr, without napari or Qt)."""
    args = _parse_args(argv)
    missing = _viewer_packages_missing()
    if missing is not None:
        print(missing, file=sys.stderr)
        return 1
    import napari
    from qtpy.QtCore import Qt
    from qtpy.QtWidgets import QApplication

    viewer, _, traces = build_viewer(show=True)
    if args.screenshot is None:
        napari.run()
        return 0
    window = viewer.window._qt_window
    window.resize(1600, 1000)
    _wait_while(lambda: traces.running)  # the screenshot shows the traces once they are in
    for _ in range(5):
        QApplication.processEvents()
    window.resizeDocks([traces.parentWidget()], [340], Qt.Orientation.Vertical)
    QApplication.processEvents()
    viewer.reset_view()
    QApplication.processEvents()
    viewer.screenshot(str(args.screenshot), canvas_only=False, flash=False)
    viewer.close()
    print(f"saved {args.screenshot}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
