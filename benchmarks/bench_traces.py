"""The trace engine against a bare read, AllenSDK and suite2p, side by side in one run.

    .venv/bin/python benchmarks/bench_traces.py            # after scripts/test.sh made .venv

The movie is like the Allen pipeline's: an HDF5 dataset ``data`` of 512x512
uint16 frames, one frame per chunk, 2000 frames, with 300 disc ROIs and the
motion border (4, 3, 5, 2). AllenSDK 2.16.2 is installed from the package
index into ``benchmarks/.peer-venv`` (it pins an old numpy). suite2p 1.1 (GPL:
a benchmark peer only, never imported by this project) runs from its own
environment, ``--suite2p-python`` (made in ``benchmarks/.suite2p-venv`` on the
first run if none is given; it brings torch); ``--no-suite2p`` leaves it out.

Every side runs in a fresh process (``benchmarks/runners/``) that times
itself, so neither pays for the other's start-up. Each round runs every side
once, in an order that rotates from round to round; each figure is the median
over the rounds with its range, and each ratio is taken within a round (the
two sides ran seconds apart), then its median and range. The load average is
printed before and after. Measured:

- a bare h5py read of every frame (``read_direct`` into a reused 64-frame
  buffer), and the page cache's floor (the file read into a 1 MiB buffer);
- ``calculate_roi_and_neuropil_traces``, this project's and AllenSDK's: the
  first call in a fresh process (from the process's start: interpreter,
  imports, masks, call) and the same call again (warm); their neuropil loops
  (``create_neuropil_mask`` for every ROI);
- suite2p's ``extract_traces`` (CPU, its default batch) on a raw uint16 copy
  of the movie with this project's masks, and this project's
  ``calculate_traces`` on the same copy;
- 3000 ROIs on the same movie; 1024x1024 frames (1200 ROIs, the same density);
  a gzip + shuffle copy of the movie (h5py's read and ours);
- ``napari-roimasks extract`` from its start to its first frame read;
- peak RSS of a fresh process extracting 1000 and 8000 frames;
- a ring update after one brush stroke, 1000 ROIs.

Checked in the same run: this project's traces and exclusions equal
AllenSDK's exactly (the movie is integer) every round; suite2p's F and Fneu
equal them to float32 rounding; the gzip copy's traces equal the plain
movie's; the 3000-ROI and 1024x1024 traces equal a float64 sparse-matrix sum
(exact for integer sums). The page cache is warmed before each timing.
Results are printed and saved to ``benchmarks/results/latest.json``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import h5py
import numpy as np

from napari_roimasks import roi_masks
from napari_roimasks.core import MotionBorder, NeuropilRings
from napari_roimasks.synthetic import place_cells

HERE = Path(__file__).resolve().parent
RUNNERS = HERE / "runners"
PEER_VENV = HERE / ".peer-venv"
PEER_PACKAGE = "allensdk==2.16.2"
SUITE2P_VENV = HERE / ".suite2p-venv"
SUITE2P_PACKAGE = "suite2p==1.1.0"
BORDER = [4.0, 3.0, 5.0, 2.0]
BARE_BLOCK = 64  # frames per read_direct of the bare read
#: The sides' processes import modules as an installed package does, from bytecode written
#: on the first run (a machine that sets PYTHONDONTWRITEBYTECODE compiles every module anew).
CHILD_ENV = {name: value for name, value in os.environ.items() if name != "PYTHONDONTWRITEBYTECODE"}

TARGETS = {  # ratio name -> (test, bound, how the README says it)
    "ours / bare read": (np.less_equal, 1.2, "<= 1.2x"),
    "AllenSDK warm / ours warm": (np.greater_equal, 25.0, ">= 25x"),
    "AllenSDK first call / ours first call": (np.greater_equal, 15.0, ">= 15x"),
    "suite2p / ours, same raw input": (np.greater_equal, 20.0, ">= 20x"),
    "3000 ROIs / 300 ROIs, warm": (np.less_equal, 2.0, "<= 2x"),
    "1024x1024 / 512x512 per pixel": (lambda v, b: abs(v - 1) <= b, 0.10, "within 10%"),
}


# -- environments ---------------------------------------------------------------------------
def ensure_venv(venv: Path, package: str, check: str) -> Path:
    """A virtual environment holding ``package``, made on the first run."""
    python = venv / "bin" / "python"
    if not python.exists():
        print(f"making {venv} with {package} (first run: a few minutes)", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    if subprocess.run([str(python), "-c", f"import {check}"], capture_output=True).returncode:
        pip = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
        subprocess.run([*pip, package], check=True)
    return python


# -- inputs ---------------------------------------------------------------------------------
def write_movie(path: Path, n_frames: int, labels: np.ndarray, seed: int) -> Path:
    """A uint16 movie of ``labels``' frame size, one frame per chunk: noise, neuropil, cells."""
    shape = labels.shape
    if path.exists():
        with h5py.File(path, "r") as f:
            if f["data"].shape == (n_frames, *shape):
                return path
    rng = np.random.default_rng(seed)
    base = (300 + 600 * (labels > 0)).astype(np.uint16)
    tmp = path.with_suffix(".partial")
    with h5py.File(tmp, "w") as f:
        data = f.create_dataset(
            "data", shape=(n_frames, *shape), dtype=np.uint16, chunks=(1, *shape)
        )
        step = max(1, 2**27 // base.nbytes)
        for start in range(0, n_frames, step):
            stop = min(start + step, n_frames)
            noise = rng.integers(0, 200, size=(stop - start, *shape), dtype=np.uint16)
            data[start:stop] = base + noise
    tmp.replace(path)
    return path


def gzip_copy(movie: Path, path: Path) -> Path:
    """The movie again, each frame's chunk shuffled and gzip-compressed (level 4)."""
    if not path.exists():
        tmp = path.with_suffix(".partial")
        with h5py.File(movie, "r") as source, h5py.File(tmp, "w") as f:
            frames = source["data"]
            data = f.create_dataset(
                "data",
                shape=frames.shape,
                dtype=frames.dtype,
                chunks=(1, *frames.shape[1:]),
                compression="gzip",
                compression_opts=4,
                shuffle=True,
            )
            for start in range(0, frames.shape[0], 250):
                data[start : start + 250] = frames[start : start + 250]
        tmp.replace(path)
    return path


def raw_copy(movie: Path, path: Path) -> Path:
    """The movie's frames as raw uint16 bytes: what suite2p reads (its ``BinaryFile``)."""
    if not path.exists():
        tmp = path.with_suffix(".partial")
        with h5py.File(movie, "r") as source, open(tmp, "wb") as out:
            frames = source["data"]
            for start in range(0, frames.shape[0], 250):
                frames[start : start + 250].tofile(out)
        tmp.replace(path)
    return path


def roi_list(labels: np.ndarray) -> list:
    h, w = labels.shape
    return [
        roi_masks.create_roi_mask(w, h, BORDER, roi_mask=labels == k, label=f"roi{k}")
        for k in range(1, int(labels.max()) + 1)
    ]


def flat_masks(labels: np.ndarray, path: Path) -> Path:
    """This project's ROI and neuropil masks as flat pixel indices, for suite2p's runner."""
    rois = roi_list(labels)
    saved = {}
    for name, masks in (("roi", rois), ("neuropil", roi_masks.create_neuropil_masks(rois, BORDER))):
        pixels = [np.flatnonzero(mask.get_mask_plane()) for mask in masks]
        saved[name] = np.concatenate(pixels)
        saved[f"{name}_offsets"] = np.cumsum([0] + [p.size for p in pixels])
    np.savez(path, **saved)
    return path


def warm(path: Path) -> float:
    """Read the file into a 1 MiB buffer (its pages into the cache); seconds taken."""
    buffer = bytearray(2**20)
    start = time.perf_counter()
    with open(path, "rb", buffering=0) as f:
        while f.readinto(buffer):
            pass
    return time.perf_counter() - start


def bare_read(path: Path) -> float:
    """Read every frame into a reused buffer with h5py: the floor any extraction pays."""
    with h5py.File(path, "r") as f:
        data = f["data"]
        buffer = np.empty((BARE_BLOCK, *data.shape[1:]), dtype=data.dtype)
        start = time.perf_counter()
        for first in range(0, data.shape[0], BARE_BLOCK):
            n = min(BARE_BLOCK, data.shape[0] - first)
            data.read_direct(buffer[:n], np.s_[first : first + n])
        return time.perf_counter() - start


# -- the sides, each a fresh process ----------------------------------------------------------
def run_json(python: Path, script: str, settings: dict, argv: tuple = ()) -> dict:
    """Run a runner with its settings as one JSON argument; its last line of output, parsed."""
    settings = {**settings, "spawned": time.time()}
    done = subprocess.run(
        [str(python), str(RUNNERS / script), json.dumps(settings), *argv],
        capture_output=True,
        text=True,
        env=CHILD_ENV,
    )
    if done.returncode:
        raise RuntimeError(f"{script} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def traces_side(python: Path, module: str, movie: Path, labels: Path, **extra) -> dict:
    return run_json(
        python,
        "roi_masks_traces.py",
        {"module": module, "movie": str(movie), "labels": str(labels), "border": BORDER, **extra},
    )


def cli_first_read(movie: Path, rois: Path, out: Path, times: Path) -> dict:
    """``napari-roimasks extract`` as its console script runs it, timed to its first read."""
    arguments = ["extract", str(movie), str(rois), "-o", str(out), "--overwrite"]
    arguments += ["--border", *map(str, BORDER)]
    spawned = time.time()
    done = subprocess.run(
        [sys.executable, str(RUNNERS / "cli_first_read.py"), str(times), str(spawned), *arguments],
        capture_output=True,
        text=True,
        env=CHILD_ENV,
    )
    if done.returncode:
        raise RuntimeError(f"napari-roimasks extract failed:\n{done.stderr[-3000:]}")
    return json.loads(times.read_text())


def incremental_update_ms(n_rois: int, edits: int, seed: int) -> tuple[float, float]:
    """Median and 95th percentile of one ring update after a brush stroke, in ms."""
    rng = np.random.default_rng(seed)
    labels = place_cells((512, 512), n_rois, radius_range=(3.0, 6.0), seed=seed)
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


# -- checks -----------------------------------------------------------------------------------
def load(path: Path) -> dict:
    with np.load(path) as saved:
        return {name: saved[name] for name in saved.files}


def float32_agreement(ours: dict, suite2p: dict) -> float:
    """suite2p's F and Fneu against our traces (its float32 rounding): the largest difference,
    in float32 epsilons of the value; only rows we do not leave NaN (excluded masks)."""
    worst = 0.0
    for mine, theirs in ((ours["roi"], suite2p["F"]), (ours["neuropil"], suite2p["Fneu"])):
        rows = np.isfinite(mine).all(axis=1)
        error = np.abs(theirs[rows] - mine[rows]) / np.abs(mine[rows])
        worst = max(worst, float(error.max()) / float(np.finfo(np.float32).eps))
    return worst


def sparse_oracle_agrees(movie: Path, labels: np.ndarray, traces: dict) -> bool:
    """Traces against every mask's pixel sum as a float64 sparse product (exact for integers)."""
    from scipy import sparse

    rois = roi_list(labels)
    masks = rois + roi_masks.create_neuropil_masks(rois, BORDER)
    planes = [np.flatnonzero(mask.get_mask_plane()) for mask in masks]
    rows = np.repeat(np.arange(len(planes)), [p.size for p in planes])
    matrix = sparse.csr_matrix(
        (np.ones(rows.size), (rows, np.concatenate(planes))), shape=(len(planes), labels.size)
    )
    areas = np.array([p.size for p in planes], dtype=np.float64)
    mine = np.concatenate([traces["roi"], traces["neuropil"]])
    with h5py.File(movie, "r") as f:
        frames = f["data"]
        for start in range(0, frames.shape[0], 100):
            block = frames[start : start + 100].reshape(-1, labels.size).astype(np.float64)
            expected = (matrix @ block.T) / areas[:, None]
            got = mine[:, start : start + 100]
            usable = np.isfinite(got).all(axis=1)  # NaN rows: excluded masks
            if not np.array_equal(got[usable], expected[usable]):
                return False
    return True


def engine_version() -> dict:
    """The commit, and a digest of the core's files as they were run (the tree may hold changes)."""
    import hashlib

    src = HERE.parent / "src" / "napari_roimasks" / "core"
    digest = hashlib.sha256()
    for path in sorted(src.glob("*.py")):
        digest.update(path.read_bytes())
    head = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=HERE
    ).stdout.strip()
    return {"commit": head, "core_sha256": digest.hexdigest()[:12]}


# -- the run ----------------------------------------------------------------------------------
def spread(values, unit: str = "s", digits: int = 3) -> str:
    values = np.asarray(values, dtype=float)
    med, low, high = np.median(values), values.min(), values.max()
    return f"{med:.{digits}f}{unit} ({low:.{digits}f} to {high:.{digits}f})"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--frames", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--workdir", type=Path, default=HERE / ".data")
    parser.add_argument("--suite2p-python", type=Path, default=os.environ.get("SUITE2P_PYTHON"))
    parser.add_argument("--no-suite2p", action="store_true", help="leave suite2p out")
    args = parser.parse_args(argv)
    logging.disable(logging.WARNING)
    work = args.workdir
    work.mkdir(parents=True, exist_ok=True)

    peer = ensure_venv(PEER_VENV, PEER_PACKAGE, "allensdk.brain_observatory.roi_masks")
    suite2p = None
    if not args.no_suite2p:
        suite2p = args.suite2p_python or ensure_venv(
            SUITE2P_VENV, SUITE2P_PACKAGE, "suite2p.extraction.extract"
        )
    ours = Path(sys.executable)

    print("preparing the movies (first run: a few minutes)", flush=True)
    labels = {
        300: place_cells((512, 512), 300, radius_range=(4.0, 7.0), seed=1),
        3000: place_cells((512, 512), 3000, radius_range=(2.5, 4.0), seed=5),
        1200: place_cells((1024, 1024), 1200, radius_range=(4.0, 7.0), seed=1),
    }
    label_files = {}
    for n, image in labels.items():
        label_files[n] = work / f"labels_{n}.npy"
        np.save(label_files[n], image)
    n = args.frames
    movie = write_movie(work / f"movie_{n}.h5", n, labels[300], seed=2)
    big = write_movie(work / f"movie_1024_{n}.h5", n, labels[1200], seed=3)
    gzipped = gzip_copy(movie, work / f"movie_{n}_gzip.h5")
    raw = raw_copy(movie, work / f"movie_{n}.u16")
    memory_movies = {
        k: write_movie(work / f"movie_{k}.h5", k, labels[300], seed=4) for k in (1000, 8000)
    }
    masks = flat_masks(labels[300], work / "masks_300.npz")

    load_before = os.getloadavg()
    started = datetime.now(timezone.utc)
    rounds, checks = [], {"allensdk exact": [], "suite2p eps": [], "gzip exact": []}

    def measure(side: str, r: dict) -> None:
        if side == "bare":
            r["page cache floor"] = warm(movie)
            r["bare read"] = bare_read(movie)
        elif side == "ours":
            warm(movie), warm(raw)
            got = traces_side(
                ours, "ours", movie, label_files[300], out=str(work / "ours.npz"), raw=str(raw)
            )
            r |= {
                f"ours {k}": got[k] for k in ("first_call", "first_call_alone", "warm", "raw_warm")
            }
            r["ours neuropil loop"], r["ours exclusions"] = got["neuropil_loop"], got["exclusions"]
        elif side == "allensdk":
            warm(movie)
            got = traces_side(
                peer, "allensdk", movie, label_files[300], out=str(work / "allensdk.npz")
            )
            r |= {f"AllenSDK {k}": got[k] for k in ("first_call", "first_call_alone", "warm")}
            r["AllenSDK neuropil loop"], r["AllenSDK exclusions"] = (
                got["neuropil_loop"],
                got["exclusions"],
            )
        elif side == "suite2p":
            warm(raw)
            settings = {"raw": str(raw), "shape": [512, 512], "masks": str(masks)}
            got = run_json(
                suite2p, "suite2p_traces.py", {**settings, "out": str(work / "suite2p.npz")}
            )
            r["suite2p first_call"], r["suite2p warm"] = got["first_call"], got["warm"]
        elif side == "3000":
            warm(movie)
            got = traces_side(
                ours, "ours", movie, label_files[3000], out=str(work / "ours_3000.npz")
            )
            r["3000 warm"], r["3000 first_call_alone"] = got["warm"], got["first_call_alone"]
        elif side == "1024":
            warm(big)
            r["1024 bare read"] = bare_read(big)
            got = traces_side(ours, "ours", big, label_files[1200], out=str(work / "ours_1024.npz"))
            r["1024 warm"] = got["warm"]
        elif side == "gzip":
            warm(gzipped)
            r["gzip bare read"] = bare_read(gzipped)
            got = traces_side(
                ours, "ours", gzipped, label_files[300], out=str(work / "ours_gzip.npz")
            )
            r["gzip warm"] = got["warm"]
        elif side == "cli":
            warm(movie)
            times = cli_first_read(
                movie, label_files[300], work / "cli_out", work / "cli_times.json"
            )
            for k in ("cli_imported", "first_read_started", "first_read_done", "done"):
                r[f"cli {k}"] = times[k]
            r["cli modules at first read"] = times.get("modules_at_first_read")
        elif side == "memory":
            for k, path in memory_movies.items():
                warm(path)
                got = traces_side(ours, "ours", path, label_files[300], once=True)
                r[f"peak RSS {k}"] = got["peak_rss_mib"]

    sides = ["bare", "ours", "allensdk", "suite2p", "3000", "1024", "gzip", "cli", "memory"]
    if suite2p is None:
        sides.remove("suite2p")
    for k in range(args.rounds):
        order = sides[k % len(sides) :] + sides[: k % len(sides)]
        r = {"load": os.getloadavg()[0], "order": order}
        for side in order:
            measure(side, r)
        mine, theirs = load(work / "ours.npz"), load(work / "allensdk.npz")
        exact = (
            np.array_equal(mine["roi"], theirs["roi"], equal_nan=True)
            and np.array_equal(mine["neuropil"], theirs["neuropil"], equal_nan=True)
            and r["ours exclusions"] == r["AllenSDK exclusions"]
        )
        checks["allensdk exact"].append(bool(exact))
        if suite2p is not None:
            checks["suite2p eps"].append(float32_agreement(mine, load(work / "suite2p.npz")))
        same = load(work / "ours_gzip.npz")
        checks["gzip exact"].append(
            all(np.array_equal(mine[a], same[a], equal_nan=True) for a in ("roi", "neuropil"))
        )
        rounds.append(r)
        print(f"round {k + 1}/{args.rounds} done (load {r['load']:.2f})", flush=True)
    load_after = os.getloadavg()
    checks["3000 oracle"] = sparse_oracle_agrees(movie, labels[3000], load(work / "ours_3000.npz"))
    checks["1024 oracle"] = sparse_oracle_agrees(big, labels[1200], load(work / "ours_1024.npz"))
    update = incremental_update_ms(1000, 300, seed=3)
    report = summarise(rounds, checks, update, load_before, load_after, started, labels, n)
    results = HERE / "results"
    results.mkdir(exist_ok=True)
    (results / "latest.json").write_text(json.dumps(report, indent=2, default=str))
    agree = all(checks["allensdk exact"]) and all(checks["gzip exact"])
    agree &= checks["3000 oracle"] and checks["1024 oracle"]
    return 0 if agree else 1


def per_round(rounds: list, name: str) -> list:
    return [r[name] for r in rounds if name in r]


def summarise(rounds, checks, update, load_before, load_after, started, labels, n_frames) -> dict:
    """Print the table; return everything for ``latest.json``."""
    ratios = {
        "ours / bare read": [r["ours warm"] / r["bare read"] for r in rounds],
        "ours / page cache floor": [r["ours warm"] / r["page cache floor"] for r in rounds],
        "AllenSDK warm / ours warm": [r["AllenSDK warm"] / r["ours warm"] for r in rounds],
        "AllenSDK first call / ours first call": [
            r["AllenSDK first_call"] / r["ours first_call"] for r in rounds
        ],
        "AllenSDK neuropil loop / ours": [
            r["AllenSDK neuropil loop"] / r["ours neuropil loop"] for r in rounds
        ],
        "3000 ROIs / 300 ROIs, warm": [r["3000 warm"] / r["ours warm"] for r in rounds],
        "3000 ROIs / 300 ROIs, first call": [
            r["3000 first_call_alone"] / r["ours first_call_alone"] for r in rounds
        ],
        "1024x1024 / 512x512 per pixel": [r["1024 warm"] / 4 / r["ours warm"] for r in rounds],
        "1024x1024 bare read / 512x512, per pixel": [
            r["1024 bare read"] / 4 / r["bare read"] for r in rounds
        ],
        "gzip: ours / h5py read": [r["gzip warm"] / r["gzip bare read"] for r in rounds],
        "gzip: ours / ours on the plain movie": [r["gzip warm"] / r["ours warm"] for r in rounds],
    }
    if "suite2p warm" in rounds[0]:
        ratios["suite2p / ours, same raw input"] = [
            r["suite2p warm"] / r["ours raw_warm"] for r in rounds
        ]
        ratios["suite2p / ours on HDF5"] = [r["suite2p warm"] / r["ours warm"] for r in rounds]
        ratios["suite2p first call / ours first call"] = [
            r["suite2p first_call"] / r["ours first_call"] for r in rounds
        ]
    output_mib = {k: 2 * int(labels[300].max()) * k * 8 / 2**20 for k in (1000, 8000)}
    growth = [
        (r["peak RSS 8000"] - r["peak RSS 1000"] - (output_mib[8000] - output_mib[1000]))
        / r["peak RSS 1000"]
        for r in rounds
    ]
    engine = engine_version()
    print(f"\nengine: commit {engine['commit']}, core files {engine['core_sha256']}")
    per_round_load = ", ".join(f"{r['load']:.2f}" for r in rounds)
    print(
        f"\n{started:%Y-%m-%d %H:%M} UTC, {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}; load average before {load_before[0]:.2f}, "
        f"after {load_after[0]:.2f} (1 min; per round {per_round_load})"
    )
    print(
        f"movie: {n_frames} frames of 512x512 uint16, one frame per chunk, {labels[300].max()} ROIs; "
        f"median (range) of {len(rounds)} rounds, sides interleaved"
    )
    times = [name for name in rounds[0] if isinstance(rounds[0][name], float) and name != "load"]
    for name in times:
        unit, digits = (" MiB", 0) if name.startswith("peak") else ("s", 3)
        print(f"  {name:36s} {spread(per_round(rounds, name), unit, digits)}")
    print("ratios, each taken within a round: median (range)")
    for name, values in ratios.items():
        verdict = ""
        if name in TARGETS:
            test, bound, text = TARGETS[name]
            verdict = f"  target {text}: {'met' if test(np.median(values), bound) else 'NOT met'}"
        print(f"  {name:44s} {spread(values, 'x', 2)}{verdict}")
    print(
        f"  peak RSS 1000 -> 8000 frames beyond the outputs' {output_mib[8000] - output_mib[1000]:.0f} MiB "
        f"{spread(np.array(growth) * 100, '%', 1)}  target <= +10%: "
        f"{'met' if np.median(growth) <= 0.10 else 'NOT met'}"
    )
    cli = per_round(rounds, "cli first_read_started")
    print(
        f"  CLI start to first frame read {spread(cli)}  target <= 0.25 s: "
        f"{'met' if np.median(cli) <= 0.25 else 'NOT met'}; modules loaded by then: "
        f"{rounds[-1]['cli modules at first read']}"
    )
    print(
        f"  ring update after one edit, 1000 ROIs: median {update[0]:.2f} ms, 95th pct {update[1]:.2f} ms"
    )
    print(
        f"checks: AllenSDK exact every round: {all(checks['allensdk exact'])}; gzip = plain: "
        f"{all(checks['gzip exact'])}; 3000 ROIs and 1024x1024 against the sparse sums: "
        f"{checks['3000 oracle']}, {checks['1024 oracle']}"
    )
    if checks["suite2p eps"]:
        print(
            f"  suite2p's F and Fneu: at most {max(checks['suite2p eps']):.1f} float32 epsilons off"
        )
    return {
        "started": started.isoformat(),
        "engine": engine,
        "load_before": load_before,
        "load_after": load_after,
        "rounds": rounds,
        "ratios": ratios,
        "rss_growth_beyond_outputs": growth,
        "update_ms": update,
        "checks": checks,
    }


if __name__ == "__main__":
    sys.exit(main())
