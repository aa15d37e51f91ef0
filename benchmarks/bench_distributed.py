"""Throughput of the Dask backend: two movies on a LocalCluster of 1 and of 2 workers.

    .venv/bin/python benchmarks/bench_distributed.py [ROUNDS]   # after bench_traces.py made its movie

The movies are the Allen-like benchmark movie (512x512 uint16, 2000 frames, one
frame per chunk, 300 ROIs and their 300 neuropil rings; see bench_traces.py)
and a copy of it, so each worker can have a file of its own. The machine is
shared and noisy, so the two cluster sizes are measured close together, in
rounds: each round runs a 1-worker and a 2-worker cluster one after the other
(in alternating order; one cluster at a time, since two clusters alive at once
slow each other down), warms each up (workers import and load the compiled
loop; the traces are checked equal to the single-machine engine's), then
times the two-movie job three times; the round's ratio is the median 1-worker
time over the median 2-worker time. Reported: the median ratio over the rounds
and its range. Target on a 2-core machine: 2 workers >= 1.6x the throughput of 1.
"""

from __future__ import annotations

import json
import logging
import shutil
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROUNDS = int(sys.argv[1]) if len(sys.argv) > 1 else 5
REPEATS = 3


def main() -> int:
    from napari_roimasks import roi_masks
    from napari_roimasks.core.distributed_traces import (
        MovieJob,
        extract_traces_distributed,
        start_client,
    )
    from napari_roimasks.core.traces import extract_traces

    logging.disable(logging.WARNING)
    data = HERE / ".data"
    first = data / "movie_2000.h5"
    labels_path = data / "labels_300.npy"
    if not first.exists() or not labels_path.exists():
        sys.exit("run benchmarks/bench_traces.py first: it makes the movie and the ROIs")
    second = data / "movie_2000_copy.h5"
    if not second.exists():
        shutil.copyfile(first, second)
    labels = np.load(labels_path)
    border = [4.0, 3.0, 5.0, 2.0]
    rois = [
        roi_masks.create_roi_mask(512, 512, border, roi_mask=labels == k)
        for k in range(1, labels.max() + 1)
    ]
    masks = rois + roi_masks.create_neuropil_masks(rois, border)
    crops = [
        None if roi_masks.validate_mask(m) else roi_masks._mask_crop(m, 512, 512) for m in masks
    ]
    jobs = [MovieJob(str(first), "data", crops), MovieJob(str(second), "data", crops)]
    for path in (first, second):  # warm page cache
        with open(path, "rb") as f:
            while f.read(64 * 2**20):
                pass
    import h5py

    with h5py.File(first, "r") as f:
        expected = extract_traces(f["data"], crops)

    ratios, times = [], {1: [], 2: []}
    for round_ in range(ROUNDS):
        round_times = {}
        for n in (1, 2) if round_ % 2 == 0 else (2, 1):
            # one cluster at a time: two clusters alive at once slow each other down
            client = start_client("local", n)
            try:
                traces = extract_traces_distributed(client, jobs)  # warm-up, answers checked
                if not all(np.array_equal(t, expected, equal_nan=True) for t in traces):
                    sys.exit(f"{n}-worker traces differ from the single-machine engine's")
                runs = []
                for _ in range(REPEATS):
                    start = time.perf_counter()
                    extract_traces_distributed(client, jobs)
                    runs.append(time.perf_counter() - start)
            finally:
                client.close()
                client.cluster.close()
            round_times[n] = float(np.median(runs))
        one, two = round_times[1], round_times[2]
        times[1].append(one)
        times[2].append(two)
        ratios.append(one / two)
        print(f"round {round_ + 1}: 1 worker {one:.2f} s, 2 workers {two:.2f} s: {one / two:.2f}x")

    frames = 2 * 2000
    for n in (1, 2):
        median = float(np.median(times[n]))
        print(
            f"{n} worker(s): {median:.2f} s for 2 movies x 2000 frames = {frames / median:,.0f} frames/s"
        )
    ratio = float(np.median(ratios))
    print(
        f"2 workers / 1 worker throughput: {ratio:.2f}x median over {ROUNDS} rounds "
        f"(range {min(ratios):.2f}x-{max(ratios):.2f}x; target >= 1.6x)"
    )
    results = HERE / "results"
    results.mkdir(exist_ok=True)
    (results / "distributed.json").write_text(
        json.dumps(
            {"ratio_median": ratio, "ratios": ratios, "seconds": times, "frames": frames}, indent=2
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
