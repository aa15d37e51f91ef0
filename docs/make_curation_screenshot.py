"""Make ``docs/images/curation.png``: a curation in progress, as a curator sees it.

    xvfb-run -a -s "-screen 0 1920x1080x24" .venv/bin/python docs/make_curation_screenshot.py

The sample recording is written to files (a movie and its ROIs) in a temporary
folder and opened as a lab opens theirs, so that the session is autosaved
beside them. Traces are extracted, not cells are greyed, and the first ROIs
are decided with the keyboard (J, then G or N): the table shows the
decisions, the view is centred on the ROI the dock moved to, and the Traces
dock plots its traces.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import h5py
import numpy as np

OUT = Path(__file__).parent / "images" / "curation.png"


def main() -> int:
    import napari
    from qtpy.QtCore import Qt
    from qtpy.QtTest import QTest
    from qtpy.QtWidgets import QApplication

    from napari_roimasks.synthetic import make_recording
    from napari_roimasks.widgets._napari import camera

    def settle(seconds: float = 0.3) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            QApplication.processEvents()
            time.sleep(0.01)

    recording = make_recording()
    with tempfile.TemporaryDirectory() as folder:
        movie = Path(folder) / "mouse1.h5"
        with h5py.File(movie, "w") as f:
            f.create_dataset("data", data=recording.movie, chunks=(1, 256, 256))
        rois = Path(folder) / "mouse1_rois.npy"
        np.save(rois, recording.roi_labels.astype(np.int32))

        viewer = napari.Viewer()
        viewer.window.resize(1600, 1000)
        viewer.open(str(movie), plugin="napari-roimasks")
        viewer.open(str(rois), plugin="napari-roimasks")
        _, dock = viewer.window.add_plugin_dock_widget("napari-roimasks", "ROI masks")
        dock.set_border(recording.motion_border)
        _, traces = viewer.window.add_plugin_dock_widget("napari-roimasks", "Traces")
        traces.extract()
        while traces.running:
            settle(0.1)
        traces.images.summary_images()
        while traces.images.running:
            settle(0.1)
        dock.triage.not_cells_box.setCurrentText("grey")
        canvas = viewer.window._qt_viewer.canvas.native
        camera(viewer).zoom = 2.5
        QTest.keyClick(canvas, Qt.Key.Key_J)
        for key in "GGNGGNGNG":
            QTest.keyClick(canvas, getattr(Qt.Key, f"Key_{key}"))
            settle(0.05)
        dock.session.autosave.flush(30)
        settle(1.0)
        viewer.screenshot(str(OUT), canvas_only=False, flash=False)
        viewer.close()
    print(f"saved {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
