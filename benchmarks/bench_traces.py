"""napari-roimasks against AllenSDK's roi_masks, side by side in one run.

    .venv/bin/python benchmarks/bench_traces.py            # after scripts/test.sh made .venv

The movie is like the Allen pipeline's: an HDF5 dataset ``data`` of 512x512
uint16 frames, one frame per chunk, 2000 frames, with 300 disc ROIs. AllenSDK
2.16.2 is installed from the package index into ``benchmarks/.peer-venv`` (it
pins an old numpy, so it gets its own environment) and runs in a subprocess
that times itself, so neither side pays for the other's start-up.

Measured, each repeated and reported as the median, the sides interleaved:

- a bare read of every frame in blocks (the I/O floor),
- AllenSDK's ``calculate_roi_and_neuropil_traces`` and its neuropil loop
  (``create_neuropil_mask`` for every ROI), and this project's,
- this project's incremental ring update after one ROI edit, 1000 ROIs,
- this project's peak memory extracting 1000 and 8000 frames.

Both sides' traces and exclusions must be equal (exactly: the movie is
integer). The page cache is warmed before timing. Results are printed and
saved to ``benchmarks/results/latest.json``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import h5py
import numpy as np

from napari_roimasks import roi_masks
from napari_roimasks.core import MotionBorder, NeuropilRings
from napari_roimasks.synthetic import place_cells

HERE = Path(__file__).resolve().parent
PEER_VENV = HERE / ".peer-venv"
PEER_PACKAGE = "allensdk==2.16.2"
SHAPE = (512, 512)
BORDER = [4.0, 3.0, 5.0, 2.0]

PEER_SCRIPT = textwrap.dedent(
    """
    import json, logging, sys, time
    import numpy as np
    logging.disable(logging.WARNING)
    from allensdk.brain_observatory import roi_masks

    movie, labels_path, out = sys.argv[1], sys.argv[2], sys.argv[3]
    border = json.loads(sys.argv[4])
    labels = np.load(labels_path)
    h, w = labels.shape
    rois = [roi_masks.create_roi_mask(w, h, border, roi_mask=labels == k, label="roi%d" % k)
            for k in range(1, labels.max() + 1)]
    combined = roi_masks.create_roi_mask_array(rois).max(axis=0)
    start = time.perf_counter()
    for roi in rois:
        roi_masks.create_neuropil_mask(roi, border, combined, "neuropil for " + roi.label)
    neuropil_seconds = time.perf_counter() - start
    start = time.perf_counter()
    roi_traces, neuropil_traces, exclusions = roi_masks.calculate_roi_and_neuropil_traces(movie, rois, border)
    traces_seconds = time.perf_counter() - start
    np.savez(out, roi=roi_traces, neuropil=neuropil_traces)
    print(json.dumps({"neuropil": neuropil_seconds, "traces": traces_seconds, "exclusions": exclusions}))
    """
)

MEMORY_SCRIPT = textwrap.dedent(
    """
    import json, logging, resource, sys
    import numpy as np
    logging.disable(logging.WARNING)
    from napari_roimasks import roi_masks
    movie, labels_path, border = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
    labels = np.load(labels_path)
    h, w = labels.shape
    rois = [roi_masks.create_roi_mask(w, h, border, roi_mask=labels == k, label="roi%d" % k)
            for k in range(1, labels.max() + 1)]
    roi_masks.calculate_roi_and_neuropil_traces(movie, rois, border)
    print(json.dumps({"peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
    """
)


def ensure_peer_venv() -> Path:
    """AllenSDK in its own virtual environment; made on the first run."""
    python = PEER_VENV / "bin" / "python"
    if not python.exists():
        print(f"making {PEER_VENV} with {PEER_PACKAGE} (first run: a few minutes)", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(PEER_VENV)], check=True)
    check = subprocess.run(
        [str(python), "-c", "import allensdk.brain_observatory.roi_masks"], capture_output=True
    )
    if check.returncode != 0:
        subprocess.run(
            [
                str(python),
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                PEER_PACKAGE,
            ],
            check=True,
        )
    return python


def write_movie(path: Path, n_frames: int, labels: np.ndarray, seed: int) -> Path:
    """A 512x512 uint16 movie, one frame per chunk: noise, neuropil and bright cells."""
    if path.exists():
        with h5py.File(path, "r") as f:
            if f["data"].shape == (n_frames, *SHAPE):
                return path
    rng = np.random.default_rng(seed)
    base = (300 + 600 * (labels > 0)).astype(np.uint16)
    tmp = path.with_suffix(".partial")
    with h5py.File(tmp, "w") as f:
        data = f.create_dataset(
            "data", shape=(n_frames, *SHAPE), dtype=np.uint16, chunks=(1, *SHAPE)
        )
        for start in range(0, n_frames, 250):
            stop = min(start + 250, n_frames)
            data[start:stop] = base + rng.integers(
                0, 200, size=(stop - start, *SHAPE), dtype=np.uint16
            )
    tmp.replace(path)
    return path


def warm(path: Path) -> None:
    with open(path, "rb") as f:
        while f.read(64 * 2**20):
            pass


def bare_read(path: Path, frames_per_read: int) -> float:
    """Read every frame into a reused buffer: the floor any extraction pays."""
    with h5py.File(path, "r") as f:
        data = f["data"]
        buffer = np.empty((frames_per_read, *data.shape[1:]), dtype=data.dtype)
        start = time.perf_counter()
        for first in range(0, data.shape[0], frames_per_read):
            n = min(frames_per_read, data.shape[0] - first)
            data.read_direct(buffer[:n], np.s_[first : first + n])
        return time.perf_counter() - start


def ours(path: Path, labels: np.ndarray) -> dict:
    h, w = labels.shape
    rois = [
        roi_masks.create_roi_mask(w, h, BORDER, roi_mask=labels == k, label=f"roi{k}")
        for k in range(1, labels.max() + 1)
    ]
    combined = roi_masks.create_roi_mask_array(rois).max(axis=0)
    start = time.perf_counter()
    for roi in rois:
        roi_masks.create_neuropil_mask(roi, BORDER, combined, "neuropil for " + roi.label)
    neuropil_seconds = time.perf_counter() - start
    start = time.perf_counter()
    roi_traces, neuropil_traces, exclusions = roi_masks.calculate_roi_and_neuropil_traces(
        path, rois, BORDER
    )
    traces_seconds = time.perf_counter() - start
    return {
        "neuropil": neuropil_seconds,
        "traces": traces_seconds,
        "exclusions": exclusions,
        "roi": roi_traces,
        "neuropil_traces": neuropil_traces,
    }


def peer(python: Path, path: Path, labels_path: Path, workdir: Path) -> dict:
    out = workdir / "allensdk_traces.npz"
    result = subprocess.run(
        [str(python), "-c", PEER_SCRIPT, str(path), str(labels_path), str(out), json.dumps(BORDER)],
        capture_output=True,
        text=True,
        check=True,
    )
    timings = json.loads(result.stdout.strip().splitlines()[-1])
    with np.load(out) as saved:
        timings["roi"], timings["neuropil_traces"] = saved["roi"], saved["neuropil"]
    return timings


def incremental_update_ms(n_rois: int, edits: int, seed: int) -> tuple[float, float]:
    """Median and 95th percentile of one ring update after a brush stroke, in ms."""
    rng = np.random.default_rng(seed)
    labels = place_cells(SHAPE, n_rois, radius_range=(3.0, 6.0), seed=seed)
    rings = NeuropilRings.from_labels(labels, border=MotionBorder.from_allen(BORDER))
    times = []
    for _ in range(edits):
        label = int(rng.integers(1, labels.max() + 1))
        rows, columns = np.nonzero(labels == label)
        if rows.size == 0:
            continue
        pick = rng.integers(rows.size)
        r, c = int(rows[pick]), int(columns[pick])
        where = (slice(max(r - 1, 0), r + 2), slice(max(c - 1, 0), c + 2))
        value = label if rng.random() < 0.7 else 0  # paint the ROI bigger, or erase some of it
        changed = set(np.unique(labels[where]).tolist()) | {value}
        labels[where] = value
        start = time.perf_counter()
        rings.update_from_labels(labels, changed, where=where)
        times.append(time.perf_counter() - start)
    return float(np.median(times) * 1e3), float(np.percentile(times, 95) * 1e3)


def peak_memory(path: Path, labels_path: Path) -> float:
    result = subprocess.run(
        [sys.executable, "-c", MEMORY_SCRIPT, str(path), str(labels_path), json.dumps(BORDER)],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])["peak_rss_mib"]


def same_answers(a: dict, b: dict) -> bool:
    return (
        np.array_equal(a["roi"], b["roi"], equal_nan=True)
        and np.array_equal(a["neuropil_traces"], b["neuropil_traces"], equal_nan=True)
        and a["exclusions"] == b["exclusions"]
    )


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--frames", type=int, default=2000)
    parser.add_argument("--rois", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workdir", type=Path, default=HERE / ".data")
    parser.add_argument(
        "--skip-memory", action="store_true", help="skip the 1000/8000-frame memory runs"
    )
    args = parser.parse_args(argv)
    logging.disable(logging.WARNING)
    args.workdir.mkdir(parents=True, exist_ok=True)

    python = ensure_peer_venv()
    labels = place_cells(SHAPE, args.rois, radius_range=(4.0, 7.0), seed=1)
    labels_path = args.workdir / f"labels_{args.rois}.npy"
    np.save(labels_path, labels)
    movie = write_movie(args.workdir / f"movie_{args.frames}.h5", args.frames, labels, seed=2)
    warm(movie)
    ours(movie, labels)  # compile the engine once (numba caches it on disk)

    runs = {
        "bare read": [],
        "ours traces": [],
        "ours neuropil": [],
        "allensdk traces": [],
        "allensdk neuropil": [],
    }
    agree = True
    for repeat in range(args.repeats):
        sides = ["bare", "ours", "peer"]
        for side in sides[repeat % 3 :] + sides[: repeat % 3]:  # rotate the order
            if side == "bare":
                runs["bare read"].append(bare_read(movie, 64))
            elif side == "ours":
                mine = ours(movie, labels)
                runs["ours traces"].append(mine["traces"])
                runs["ours neuropil"].append(mine["neuropil"])
            else:
                theirs = peer(python, movie, labels_path, args.workdir)
                runs["allensdk traces"].append(theirs["traces"])
                runs["allensdk neuropil"].append(theirs["neuropil"])
        agree &= same_answers(mine, theirs)
    median = {name: float(np.median(values)) for name, values in runs.items()}

    update_median, update_p95 = incremental_update_ms(1000, 300, seed=3)
    memory = {}
    if not args.skip_memory:
        for n in (1000, 8000):
            path = write_movie(args.workdir / f"movie_{n}.h5", n, labels, seed=4)
            memory[n] = peak_memory(path, labels_path)

    print(
        f"\nmachine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    )
    print(
        f"movie: {args.frames} frames of 512x512 uint16, one frame per chunk, {labels.max()} ROIs; median of {args.repeats}"
    )
    print(f"  bare read of all frames          {median['bare read']:8.3f} s")
    print(f"  AllenSDK traces                  {median['allensdk traces']:8.3f} s")
    print(f"  napari-roimasks traces           {median['ours traces']:8.3f} s")
    print(f"  AllenSDK neuropil loop           {median['allensdk neuropil']:8.3f} s")
    print(f"  napari-roimasks neuropil loop    {median['ours neuropil']:8.3f} s")
    ratios = {
        "traces speed-up over AllenSDK (target >= 20)": median["allensdk traces"]
        / median["ours traces"],
        "traces time / bare read (target <= 3)": median["ours traces"] / median["bare read"],
        "neuropil speed-up over AllenSDK (target >= 30)": median["allensdk neuropil"]
        / median["ours neuropil"],
    }
    for name, value in ratios.items():
        print(f"  {name:48s} {value:8.1f}")
    print(
        f"  ring update after one edit, 1000 ROIs: median {update_median:.2f} ms, 95th percentile {update_p95:.2f} ms (target median <= 10)"
    )
    if memory:
        print(
            f"  peak RSS: {memory[1000]:.0f} MiB for 1000 frames, {memory[8000]:.0f} MiB for 8000 frames "
            f"(+{100 * (memory[8000] / memory[1000] - 1):.0f}%, target <= +20%)"
        )
    print(f"  same traces and exclusions as AllenSDK: {'yes' if agree else 'NO'}")

    results = HERE / "results"
    results.mkdir(exist_ok=True)
    (results / "latest.json").write_text(
        json.dumps(
            {
                "median_seconds": median,
                "ratios": ratios,
                "update_ms": [update_median, update_p95],
                "peak_rss_mib": memory,
                "same_answers": agree,
                "runs": runs,
            },
            indent=2,
        )
    )
    return 0 if agree else 1


if __name__ == "__main__":
    sys.exit(main())
