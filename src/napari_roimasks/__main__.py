"""The main job: ``python -m napari_roimasks [--screenshot PATH]``.

Opens napari with the synthetic sample recording, its ROI labels, its motion
border, the live neuropil rings and the "ROI masks" dock. With ``--screenshot``
the same window is rendered, saved as a PNG, and napari exits.
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
    """A viewer with the sample recording, the ROI masks dock, the border and the rings."""
    import napari

    from .core.border import MotionBorder

    viewer = napari.Viewer(title="napari-roimasks", show=show)
    layers = viewer.open_sample(PLUGIN, "synthetic_recording")
    movie = next(layer for layer in layers if layer.name == "movie")
    rois = next(layer for layer in layers if layer.name == "ROIs")
    _, dock = viewer.window.add_plugin_dock_widget(PLUGIN, "ROI masks")
    dock.set_source(rois)
    dock.set_border(MotionBorder.from_allen(movie.metadata["motion_border"]))
    viewer.layers.selection.active = rois
    viewer.reset_view()
    return viewer, dock


def main(argv=None) -> int:
    """Run the main job; returns the exit code."""
    args = _parse_args(argv)
    import napari
    from qtpy.QtWidgets import QApplication

    viewer, _ = build_viewer(show=True)
    if args.screenshot is None:
        napari.run()
        return 0
    viewer.window._qt_window.resize(1500, 950)
    for _ in range(5):
        QApplication.processEvents()
    viewer.screenshot(str(args.screenshot), canvas_only=False, flash=False)
    viewer.close()
    print(f"saved {args.screenshot}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
