"""Summary images against a bare read, an in-memory numpy reference, and trace extraction.

    .venv/bin/python benchmarks/bench_summary.py            # after scripts/test.sh made .venv

The movie is bench_traces.py's: an HDF5 dataset ``data`` of 512x512 uint16
frames, one frame per chunk, 2000 frames, warm in the page cache. Each figure
is the median of ``--repeats`` runs (at least 5), the sides interleaved in a
rotating order within each round:

- a bare h5py read of every frame in 64-frame blocks (the I/O floor);
- ``compute_summary_images`` (all five images, one pass);
- the in-memory reference: load the whole movie with h5py, then numpy's
  mean, max and std, the local correlation as CaImAn computes it (normalise
  each pixel's series, average the products with the 8 neighbours), and the
  enhanced mean with ``scipy.signal.medfilt2d`` as suite2p 0.14 computes it
  (also given without the enhanced mean, whose median filters dominate it);
- trace extraction alone (300 ROIs and their rings, 600 traces) and the same
  pass with the summary images (``extract --summary``'s path), in process;
- the command ``napari-roimasks extract`` with and without ``--summary``, as a
  user runs it (start-up, rings, writing the outputs).

The images are checked against the reference (1e-6 relative) and the traces
against extraction alone (exactly). Peak memory is measured in fresh processes
on 1000 and 8000 frames. Results are printed and saved to
``benchmarks/results/summary_latest.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import h5py
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_traces import bare_read, warm, write_movie

from napari_roimasks.core import MotionBorder, NeuropilRings
from napari_roimasks.core.frame_pass import run_steps
from napari_roimasks.core.summary_images import SUMMARY_IMAGES, compute_summary_images
from napari_roimasks.pipeline import MovieMasks, movie_steps
from napari_roimasks.synthetic import place_cells

HERE = Path(__file__).resolve().parent
SHAPE = (512, 512)
BORDER = MotionBorder.from_allen([4.0, 3.0, 5.0, 2.0])

# The peak is read from /proc/self/status (VmHWM): getrusage's ru_maxrss keeps, across
# exec, the size of the parent that forked the process (here: gigabytes of reference movie).
MEMORY_SCRIPT = textwrap.dedent(
    """
    import json, re, resource, sys
    import h5py
    from napari_roimasks.core.summary_images import compute_summary_images
    with h5py.File(sys.argv[1], "r") as f:
        compute_summary_images(f["data"])
    try:
        with open("/proc/self/status") as status:
            peak = int(re.search(r"VmHWM:\\s+(\\d+) kB", status.read()).group(1)) / 1024
    except OSError:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"peak_rss_mib": peak}))
    """
)


def ours(path: Path) -> tuple[float, object]:
    with h5py.File(path, "r") as f:
        start = time.perf_counter()
        images = compute_summary_images(f["data"])
        return time.perf_counter() - start, images


def reference(path: Path) -> tuple[float, float, dict]:
    """The in-memory numpy reference, including the load: (seconds without the enhanced
    mean, seconds with it, images)."""
    from scipy.signal import medfilt2d

    start = time.perf_counter()
    with h5py.File(path, "r") as f:
        movie = f["data"][()]
    y = movie.astype(np.float32)
    mean = y.mean(axis=0)
    images = {"mean": mean, "max": movie.max(axis=0).astype(np.float32), "std": y.std(axis=0)}
    y -= mean
    spread = images["std"].copy()
    spread[spread == 0] = np.inf
    y /= spread
    total = np.zeros(SHAPE, np.float32)
    for dr, dc in ((0, 1), (1, 0), (1, 1), (1, -1)):
        a = y[:, : SHAPE[0] - dr, max(0, -dc) : SHAPE[1] - max(0, dc)]
        b = y[:, dr:, max(0, dc) : SHAPE[1] + min(0, dc)]
        pair = np.mean(a * b, axis=0)
        total[: SHAPE[0] - dr, max(0, -dc) : SHAPE[1] - max(0, dc)] += pair
        total[dr:, max(0, dc) : SHAPE[1] + min(0, dc)] += pair
    counts = np.full(SHAPE, 8.0, np.float32)
    counts[[0, -1], :] = 5
    counts[:, [0, -1]] = 5
    counts[[0, 0, -1, -1], [0, -1, 0, -1]] = 3
    images["correlation"] = total / counts
    without_enhanced = time.perf_counter() - start
    image = mean - medfilt2d(mean, [49, 49])
    image = image / (1e-10 + medfilt2d(np.abs(image), [49, 49]))
    images["enhanced_mean"] = np.clip((image + 6) / 12, 0, 1)
    return without_enhanced, time.perf_counter() - start, images


def masks(labels: np.ndarray) -> list:
    rings = NeuropilRings.from_labels(labels, border=BORDER)
    keys = list(rings)
    return [rings.roi(k) for k in keys] + [rings.ring(k) for k in keys]


def extraction(path: Path, mask_list: list, summary: bool) -> tuple[float, object]:
    movie = MovieMasks(mask_list, 0, path=path, summary=summary)
    start = time.perf_counter()
    (result,) = run_steps(movie_steps([movie]))
    return time.perf_counter() - start, result


def command(movie: Path, labels_path: Path, out: Path, summary: bool) -> float:
    """``napari-roimasks extract`` as a user runs it (start-up, rings, outputs), in seconds."""
    arguments = [sys.executable, "-m", "napari_roimasks.cli", "extract", str(movie)]
    arguments += [str(labels_path), "-o", str(out), "--overwrite"]
    if summary:
        arguments += ["--summary", "summary_images.h5"]
    start = time.perf_counter()
    subprocess.run(arguments, check=True, capture_output=True)
    return time.perf_counter() - start


def peak_memory(path: Path) -> float:
    result = subprocess.run(
        [sys.executable, "-c", MEMORY_SCRIPT, str(path)], capture_output=True, text=True, check=True
    )
    return json.loads(result.stdout.strip().splitlines()[-1])["peak_rss_mib"]


def spread(values) -> str:
    return f"{np.median(values):.3f} s ({min(values):.3f} to {max(values):.3f})"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--frames", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--workdir", type=Path, default=HERE / ".data")
    parser.add_argument("--skip-memory", action="store_true")
    args = parser.parse_args(argv)
    args.workdir.mkdir(parents=True, exist_ok=True)
    labels = place_cells(SHAPE, 300, radius_range=(4.0, 7.0), seed=1)
    movie = write_movie(args.workdir / f"movie_{args.frames}.h5", args.frames, labels, seed=2)
    warm(movie)
    mask_list = masks(labels)
    ours(movie)  # compile and load numba's loops once
    extraction(movie, mask_list, True)

    runs = {
        k: []
        for k in (
            "bare",
            "ours",
            "reference",
            "reference no enhanced",
            "traces",
            "traces+summary",
            "command",
            "command --summary",
        )
    }
    labels_path = args.workdir / "labels_300.npy"
    np.save(labels_path, labels)
    checked = None
    sides = [
        "bare",
        "ours",
        "reference",
        "traces",
        "traces+summary",
        "command",
        "command --summary",
    ]
    for repeat in range(args.repeats):
        for side in sides[repeat % len(sides) :] + sides[: repeat % len(sides)]:
            if side == "bare":
                runs["bare"].append(bare_read(movie, 64))
            elif side == "ours":
                seconds, images = ours(movie)
                runs["ours"].append(seconds)
            elif side == "reference":
                no_enhanced, seconds, expected = reference(movie)
                runs["reference"].append(seconds)
                runs["reference no enhanced"].append(no_enhanced)
            elif side == "traces":
                seconds, alone = extraction(movie, mask_list, False)
                runs["traces"].append(seconds)
            elif side == "traces+summary":
                seconds, both = extraction(movie, mask_list, True)
                runs["traces+summary"].append(seconds)
            else:
                out = args.workdir / "command_out"
                runs[side].append(command(movie, labels_path, out, side.endswith("summary")))
        if checked is None:
            checked = {
                name: float(
                    np.max(np.abs(getattr(images, name) - expected[name]))
                    / max(float(np.max(np.abs(expected[name]))), 1e-12)
                )
                for name in SUMMARY_IMAGES
            }
            checked["traces equal"] = bool(
                np.array_equal(alone.traces, both.traces, equal_nan=True)
            )
            checked["pass images equal"] = all(
                np.array_equal(getattr(both.summary, n), getattr(images, n)) for n in SUMMARY_IMAGES
            )
    median = {k: float(np.median(v)) for k, v in runs.items()}
    memory = {}
    if not args.skip_memory:
        for n in (1000, 8000):
            memory[n] = peak_memory(write_movie(args.workdir / f"movie_{n}.h5", n, labels, seed=4))

    load = os.getloadavg()
    print(
        f"\nmachine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, load {load[0]:.2f}"
    )
    print(
        f"movie: {args.frames} frames of 512x512 uint16, one frame per chunk; median of {args.repeats} (range)"
    )
    print(f"  bare read of all frames            {spread(runs['bare'])}")
    print(
        f"  summary images (all five)          {spread(runs['ours'])}  -> {median['ours'] / median['bare']:.2f}x the bare read"
    )
    print(
        f"  in-memory numpy reference          {spread(runs['reference'])}  -> ours {median['reference'] / median['ours']:.1f}x faster"
    )
    print(
        f"    without the enhanced mean        {spread(runs['reference no enhanced'])}  -> ours {median['reference no enhanced'] / median['ours']:.1f}x faster"
    )
    print(f"  extraction, 600 traces             {spread(runs['traces'])}")
    print(
        f"  extraction with summary images     {spread(runs['traces+summary'])}  -> {median['traces+summary'] / median['traces']:.2f}x extraction alone"
    )
    print(f"  napari-roimasks extract            {spread(runs['command'])}")
    print(
        f"  napari-roimasks extract --summary  {spread(runs['command --summary'])}"
        f"  -> {median['command --summary'] / median['command']:.2f}x the command alone"
    )
    ratios = {
        "summary / bare read": [o / b for o, b in zip(runs["ours"], runs["bare"], strict=True)],
        "traces+summary / traces": [
            s / t for s, t in zip(runs["traces+summary"], runs["traces"], strict=True)
        ],
        "command --summary / command": [
            s / t for s, t in zip(runs["command --summary"], runs["command"], strict=True)
        ],
    }
    for name, values in ratios.items():
        print(f"  per round, {name}: {min(values):.2f}x to {max(values):.2f}x")
    print(f"  largest relative difference from the reference: {checked}")
    if memory:
        print(
            f"  peak RSS, 1000 / 8000 frames: {memory[1000]:.0f} / {memory[8000]:.0f} MiB ({memory[8000] / memory[1000]:.3f}x)"
        )
    results = HERE / "results"
    results.mkdir(exist_ok=True)
    (results / "summary_latest.json").write_text(
        json.dumps(
            {
                "date": time.strftime("%Y-%m-%d %H:%M"),
                "machine": platform.machine(),
                "cores": os.cpu_count(),
                "load": load,
                "frames": args.frames,
                "runs": runs,
                "median": median,
                "checked": checked,
                "peak_rss_mib": memory,
            },
            indent=1,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
