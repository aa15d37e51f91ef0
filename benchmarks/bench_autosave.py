"""What the session's autosave costs the curator, in a real napari viewer.

    xvfb-run -a .venv/bin/python benchmarks/bench_autosave.py     # or with a display

Setup (issue 15's): 1000 disc ROIs on 512x512 opened from a label image file
(.npy), so the ROI masks dock autosaves to ``<file>.session.roimasks.h5``,
with traces of 2000 frames in the model (as an extraction leaves them) and
the session keeping them (a 32 MB traces file beside it, written when the
traces change).

For ``--seconds`` (default 20) a decision is made every 100 ms (a curator
at speed) while a 1 ms Qt timer measures how late the GUI thread gets to it.
Reported:

- the snapshot, the only autosave work on the GUI thread (target <= 10 ms);
- the GUI thread's stalls: the largest gaps between timer ticks, with
  autosave and, in the same run, without it (the same decisions, the session
  controls' autosave stopped): the difference is what autosave adds, the
  writing thread's share of Python's lock included;
- each write's time and how long after a change it is on disk (target: within 2 s);
- then new traces arrive (as from an extraction): the traces file's write, and the
  GUI thread's gaps during the 2 s that follow, with and without autosave.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def _run(folder: Path, seconds: float, autosave_on: bool) -> dict:
    import napari
    from qtpy.QtCore import QTimer
    from qtpy.QtWidgets import QApplication

    from napari_roimasks.io.roi_set import Decision
    from napari_roimasks.model import session as session_module
    from napari_roimasks.model.traces import RoiTraces
    from napari_roimasks.synthetic import place_cells

    rng = np.random.default_rng(11)
    labels = place_cells((512, 512), 1000, radius_range=(3.0, 6.0), seed=11)
    path = folder / f"rois_{'on' if autosave_on else 'off'}.npy"
    np.save(path, labels.astype(np.int32))
    viewer = napari.Viewer(show=True)
    viewer.window.resize(1400, 900)
    viewer.open(str(path), plugin="napari-roimasks")
    _, dock = viewer.window.add_plugin_dock_widget("napari-roimasks", "ROI masks")
    model = dock.model
    n_frames = 2000
    model.set_movie("dask:bench-movie")  # as the Traces dock's chosen movie
    model.store_traces(
        model.movie,
        {
            key: RoiTraces(
                model.fingerprint(key, model.movie),
                rng.normal(100, 10, n_frames),
                rng.normal(60, 5, n_frames),
                0.7,
            )
            for key in model.roi_keys()
        },
    )
    autosave = dock.session.autosave
    if autosave is None:
        raise RuntimeError("the dock did not start autosaving")
    autosave.flush(60)
    if not autosave_on:
        dock.session.stop(wait=True)

    snapshots, writes, changes, saved_at = [], [], {}, {}
    real_snapshot, real_write = session_module.session_contents, session_module.write_session

    def timed_snapshot(*args, **kwargs):
        start = time.perf_counter()
        contents = real_snapshot(*args, **kwargs)
        snapshots.append(time.perf_counter() - start)
        return contents

    def timed_write(*args, **kwargs):
        start = time.perf_counter()
        written = real_write(*args, **kwargs)
        saved_at[args[1].revision] = time.perf_counter()
        writes.append(saved_at[args[1].revision] - start)
        return written

    session_module.session_contents = timed_snapshot
    session_module.write_session = timed_write
    real_traces_write, traces_writes = session_module.write_traces_file, []

    def timed_traces_write(*args, **kwargs):
        start = time.perf_counter()
        written = real_traces_write(*args, **kwargs)
        traces_writes.append(time.perf_counter() - start)
        return written

    session_module.write_traces_file = timed_traces_write
    ticks = []
    ticker = QTimer()
    ticker.setInterval(1)
    ticker.timeout.connect(lambda: ticks.append(time.perf_counter()))
    decide = QTimer()
    decide.setInterval(100)
    keys = model.roi_keys()

    def one_decision():
        key = keys[int(rng.integers(len(keys)))]
        model.decide([key], Decision.CELL if rng.random() < 0.7 else Decision.NOT_CELL)
        if autosave_on:
            changes[dock.session.autosave.revision] = time.perf_counter()

    decide.timeout.connect(one_decision)
    ticker.start()
    decide.start()
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        QApplication.processEvents()
        time.sleep(0.0002)  # the benchmark's own loop: lets the writing thread run too
    decide.stop()
    # then traces arrive (an extraction's): the 32 MB traces file is written once
    traces_ticks_from = len(ticks)
    if autosave_on:
        dock.session.autosave.flush(60)
    traces_written = len(traces_writes)
    model.set_movie("dask:bench-movie-2")
    model.store_traces(
        model.movie,
        {
            key: RoiTraces(model.fingerprint(key, model.movie), t.roi, t.neuropil, 0.7)
            for key, t in model.traces.items()
        },
    )
    if autosave_on:
        changes[dock.session.autosave.revision] = time.perf_counter()
    end = time.perf_counter() + 2.0
    while time.perf_counter() < end:
        QApplication.processEvents()
        time.sleep(0.0002)
    ticker.stop()
    if autosave_on:
        dock.session.autosave.flush(60)
    traces_ticks = ticks[traces_ticks_from:]
    traces_gaps = np.diff(traces_ticks) * 1e3
    ticks = ticks[:traces_ticks_from]
    session_module.session_contents, session_module.write_session = real_snapshot, real_write
    session_module.write_traces_file = real_traces_write
    size = path.with_name(path.stem + ".session.roimasks.h5")
    file_mb = size.stat().st_size / 1e6 if size.exists() else 0.0
    traces_files = list(size.parent.glob(path.stem + ".session-traces-*.h5"))
    traces_mb = sum(f.stat().st_size for f in traces_files) / 1e6
    viewer.close()
    gaps = np.diff(ticks) * 1e3
    # a change is on disk with the first write of a revision >= its own
    delays = []
    for revision, when in changes.items():
        later = [saved_at[r] for r in saved_at if r >= revision]
        if later:
            delays.append(min(later) - when)
    return {
        "snapshots_ms": np.array(snapshots) * 1e3,
        "writes_ms": np.array(writes) * 1e3,
        "gaps_ms": gaps,
        "delays_s": np.array(delays),
        "file_mb": file_mb,
        "traces_mb": traces_mb,
        "traces_gaps_ms": traces_gaps,
        "traces_ticks": np.array(traces_ticks),
        "traces_write_ms": np.array(traces_writes[traces_written:]) * 1e3,
    }


def _describe(values, unit: str) -> str:
    if len(values) == 0:
        return "none"
    return (
        f"median {np.median(values):.1f} {unit}, p99 {np.percentile(values, 99):.1f} {unit}, "
        f"max {np.max(values):.1f} {unit} (n={len(values)})"
    )


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args(argv)
    import os

    with tempfile.TemporaryDirectory() as folder:
        on = _run(Path(folder), args.seconds, autosave_on=True)
        off = _run(Path(folder), args.seconds, autosave_on=False)
    print(
        f"load average {os.getloadavg()[0]:.2f}, session file {on['file_mb']:.1f} MB, "
        f"traces file {on['traces_mb']:.1f} MB"
    )
    print(f"snapshot on the GUI thread: {_describe(on['snapshots_ms'], 'ms')} (target <= 10 ms)")
    print(f"write (background thread): {_describe(on['writes_ms'], 'ms')}")
    print(f"change -> on disk: {_describe(on['delays_s'], 's')} (target <= 2 s)")
    print(f"GUI thread gaps with autosave: {_describe(on['gaps_ms'], 'ms')}")
    print(f"GUI thread gaps without it:    {_describe(off['gaps_ms'], 'ms')}")
    print(f"new traces: their file's write (own thread) {_describe(on['traces_write_ms'], 'ms')}")
    print(f"GUI thread gaps meanwhile:     {_describe(on['traces_gaps_ms'], 'ms')}")
    print(f"  the same 2 s without autosave: {_describe(off['traces_gaps_ms'], 'ms')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
