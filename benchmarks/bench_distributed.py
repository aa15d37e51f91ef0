"""Throughput of the Dask backend: two movies on a LocalCluster of 1 and of 2 workers.

    .venv/bin/python benchmarks/bench_distributed.py     # after bench_traces.py made its movie

The movies are the Allen-like benchmark movie (512x512 uint16, 2000 frames, one
frame per chunk, 300 ROIs; see bench_traces.py) and a copy of it, so both
workers have a file of their own. Each cluster runs the two-movie job three
times after a warm-up; the median wall time gives the throughput in frames
per second. Target on a 2-core machine: 2 workers >= 1.6x the throughput of 1.
"""

from __future__ import annotations

import logging
import shutil
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
BLOCK = int(sys.argv[1]) * 2**20 if len(sys.argv) > 1 else 128 * 2**20  # bytes of frames per task


def main() -> int:
    from napari_roimasks import roi_masks
    from napari_roimasks.core.distributed_traces import (
        MovieJob,
        extract_traces_distributed,
        start_client,
    )

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

    rates = {}
    for workers in (1, 2):
        client = start_client("local", workers)
        try:
            extract_traces_distributed(
                client, jobs
            )  # warm-up: workers import and load the compiled loop
            times = []
            for _ in range(3):
                start = time.perf_counter()
                extract_traces_distributed(client, jobs, max_block_bytes=BLOCK)
                times.append(time.perf_counter() - start)
        finally:
            client.close()
            client.cluster.close()
        rates[workers] = 2 * 2000 / float(np.median(times))
        print(
            f"{workers} worker(s): {np.median(times):.2f} s for 2 movies x 2000 frames = {rates[workers]:,.0f} frames/s"
        )
    print(f"2 workers / 1 worker throughput: {rates[2] / rates[1]:.2f}x (target >= 1.6x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
