"""Per-ROI quality metrics once the traces exist: 1000 ROIs x 10,000 frames.

    .venv/bin/python benchmarks/bench_metrics.py            # after scripts/test.sh made .venv

The target (issue 16): every metric of 1000 ROIs with traces of 10,000
frames in at most 200 ms after the traces exist. The ROIs are 1000 discs of
radius 3 to 6 pixels on a 512x512 image (``synthetic.place_cells``, seed 11)
with their neuropil rings and the motion border (4, 3, 5, 2); the corrected
traces are noise around a baseline with 20 transients each (seeded), 10 of
them excluded (a row of NaN, as ``extract`` leaves an excluded ROI); the
summary images are seeded random float32 images.

Timed in process, warm (numba's loops compiled and loaded first), for
``--rounds`` rounds (default 7), each timing once, in an order that rotates
from round to round: ``roi_metrics`` (everything, the figure the target is
about), and its parts: the shape metrics (``shape_metrics`` and
``border_distances``), the trace metrics (``trace_metrics``) and the image
metrics (``image_metrics``). Each figure is the median over the rounds with
its range; the load average is read before and after.

Checked in the same run: the trace metrics equal a plain numpy and scipy
reference row by row (``np.median``, ``np.percentile``, the events counted
frame by frame: exactly; ``scipy.stats.skew``: to 1e-12), and each metric's
values are digested (SHA-256 of the float64 bytes): a run whose digests
differ from the previous run's ``metrics_latest.json`` says so, as the inputs
are the same every run (a speed-up must change no number). Results are
printed and saved to ``benchmarks/results/metrics_latest.json``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from napari_roimasks.core import MotionBorder, NeuropilRings
from napari_roimasks.core.metrics import (
    METRICS,
    border_distances,
    image_metrics,
    roi_metrics,
    shape_metrics,
    trace_metrics,
)
from napari_roimasks.synthetic import place_cells

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "metrics_latest.json"
SHAPE = (512, 512)
BORDER = MotionBorder.from_allen([4.0, 3.0, 5.0, 2.0])
TARGET_SECONDS = 0.200


def recording(n_rois: int, n_frames: int) -> dict:
    """The ROIs, rings, corrected traces and summary images every round measures."""
    labels = place_cells(SHAPE, n_rois, radius_range=(3.0, 6.0), seed=11)
    rings = NeuropilRings.from_labels(labels, border=BORDER)
    keys = list(rings)
    rng = np.random.default_rng(12)
    traces = rng.normal(100.0, 1.0, (len(keys), n_frames))
    shape = np.exp(-np.arange(30) / 8.0)
    for row in traces:
        for frame in rng.integers(0, n_frames - 30, 20):
            row[frame : frame + 30] += rng.uniform(3.0, 15.0) * shape
    traces[rng.choice(len(keys), 10, replace=False)] = np.nan
    return {
        "masks": [rings.roi(k) for k in keys],
        "rings": [rings.ring(k) for k in keys],
        "corrected": traces,
        "mean": rng.normal(100.0, 10.0, SHAPE).astype(np.float32),
        "correlation": rng.uniform(0.0, 1.0, SHAPE).astype(np.float32),
    }


def timed(work) -> tuple[float, object]:
    start = time.perf_counter()
    result = work()
    return time.perf_counter() - start, result


def sides(data: dict) -> dict:
    """Each timed side: a call that computes it."""
    masks, rings = data["masks"], data["rings"]
    images = {"correlation": data["correlation"], "mean": data["mean"]}
    return {
        "all (roi_metrics)": lambda: roi_metrics(
            masks, rings, border=BORDER, image_shape=SHAPE, corrected=data["corrected"], **images
        ),
        "shape": lambda: (shape_metrics(masks), border_distances(masks, BORDER, SHAPE)),
        "trace": lambda: trace_metrics(data["corrected"]),
        "image": lambda: image_metrics(masks, rings, **images),
    }


def reference_trace_metrics(corrected: np.ndarray) -> dict[str, np.ndarray]:
    """numpy and scipy, one row at a time, the events counted frame by frame."""
    from scipy.stats import skew

    out = {name: np.full(len(corrected), np.nan) for name in ("skew", "snr", "events")}
    for i, trace in enumerate(corrected):
        if not np.all(np.isfinite(trace)):
            continue
        median = np.median(trace)
        sigma = 1.4826 * np.median(np.abs(np.diff(trace))) / np.sqrt(2.0)
        out["skew"][i] = skew(trace)
        out["snr"][i] = (np.percentile(trace, 99) - median) / sigma
        count, last = 0, -(10**9)
        for frame in np.flatnonzero(trace > median + 3.0 * sigma):
            count += frame - last > 3
            last = frame
        out["events"][i] = count
    return out


def checks(metrics: dict, corrected: np.ndarray) -> dict:
    expected = reference_trace_metrics(corrected)
    return {
        "snr exact": bool(np.array_equal(metrics["snr"], expected["snr"], equal_nan=True)),
        "events exact": bool(np.array_equal(metrics["events"], expected["events"], equal_nan=True)),
        "skew to 1e-12": bool(
            np.allclose(metrics["skew"], expected["skew"], rtol=1e-12, atol=0, equal_nan=True)
        ),
    }


def digests(metrics: dict) -> dict[str, str]:
    return {
        name: hashlib.sha256(np.ascontiguousarray(metrics[name], np.float64).tobytes()).hexdigest()[
            :16
        ]
        for name in METRICS
    }


def engine_version() -> dict:
    """The commit, and a digest of the core's files as they were run (the tree may hold changes)."""
    src = HERE.parent / "src" / "napari_roimasks" / "core"
    digest = hashlib.sha256()
    for path in sorted(src.glob("*.py")):
        digest.update(path.read_bytes())
    head = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=HERE
    ).stdout.strip()
    return {"commit": head, "core_sha256": digest.hexdigest()[:12]}


def spread(values) -> str:
    values = np.asarray(values) * 1e3
    return f"{np.median(values):7.1f} ms ({values.min():.1f} to {values.max():.1f})"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rois", type=int, default=1000)
    parser.add_argument("--frames", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args(argv)
    data = recording(args.rois, args.frames)
    calls = sides(data)
    for work in calls.values():  # numba's loops compiled (or loaded from the cache) here
        work()
    load_before = os.getloadavg()
    started = datetime.now(timezone.utc)
    runs: dict[str, list[float]] = {name: [] for name in calls}
    loads = []
    names = list(calls)
    for k in range(args.rounds):
        loads.append(os.getloadavg()[0])
        for name in names[k % len(names) :] + names[: k % len(names)]:
            seconds, result = timed(calls[name])
            runs[name].append(seconds)
            if name == "all (roi_metrics)":
                metrics = result
    load_after = os.getloadavg()

    checked = checks(metrics, data["corrected"])
    values = digests(metrics)
    previous = json.loads(RESULTS.read_text()) if RESULTS.is_file() else None
    same = None
    setup = (previous or {}).get("setup", {})
    if setup.get("rois") == len(data["masks"]) and setup.get("frames") == args.frames:
        same = previous.get("digests") == values
    total = float(np.median(runs["all (roi_metrics)"]))
    print(
        f"{len(data['masks'])} ROIs x {args.frames} frames, {args.rounds} rounds "
        f"({os.cpu_count()} cores)"
    )
    print("load average (1, 5, 15 min) before: {:.2f} {:.2f} {:.2f}".format(*load_before))
    for name, values_ in runs.items():
        print(f"  {name:20s} {spread(values_)}")
    print("load average (1, 5, 15 min) after:  {:.2f} {:.2f} {:.2f}".format(*load_after))
    met = "met" if total <= TARGET_SECONDS else "NOT met"
    print(f"target {TARGET_SECONDS * 1e3:.0f} ms: {met} (median {total * 1e3:.1f} ms)")
    for name, ok in checked.items():
        print(f"  check {name}: {'yes' if ok else 'NO'}")
    if same is not None:
        print(f"  the same numbers as the previous run: {'yes' if same else 'NO'}")
    report = {
        "started": started.isoformat(),
        "machine": {
            "platform": platform.platform(),
            "processor": platform.processor(),
            "cores": os.cpu_count(),
            "python": sys.version.split()[0],
            "numpy": np.__version__,
        },
        "engine": engine_version(),
        "setup": {"rois": len(data["masks"]), "frames": args.frames, "rounds": args.rounds},
        "load_before": load_before,
        "load_after": load_after,
        "load_per_round": loads,
        "seconds": runs,
        "median_ms": {name: float(np.median(v) * 1e3) for name, v in runs.items()},
        "range_ms": {name: [float(min(v) * 1e3), float(max(v) * 1e3)] for name, v in runs.items()},
        "target_ms": TARGET_SECONDS * 1e3,
        "target_met": bool(total <= TARGET_SECONDS),
        "checks": checked,
        "digests": values,
        "same_numbers_as_previous_run": same,
        "previous_engine": previous.get("engine") if previous else None,
    }
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2))
    print(f"saved {RESULTS.relative_to(HERE.parent)}")
    return 0 if all(checked.values()) and same is not False else 1


if __name__ == "__main__":
    sys.exit(main())
