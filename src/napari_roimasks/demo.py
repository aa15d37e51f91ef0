"""A short tour of the API on a generated recording: ``python -m napari_roimasks.demo``.

It writes a synthetic motion-corrected movie to an HDF5 file, turns the
ground-truth cells into ROIs with the AllenSDK-compatible API, extracts ROI and
neuropil traces, and prints what it found.
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np

from . import roi_masks
from .synthetic import make_recording


def _parse_args(argv):
    parser = argparse.ArgumentParser(
        prog="python -m napari_roimasks.demo", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--frames", type=int, default=300, help="frames to generate (default 300)")
    parser.add_argument("--cells", type=int, default=40, help="cells to place (default 40)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    args = parser.parse_args(argv)
    if args.frames < 1 or args.cells < 1:
        parser.error("--frames and --cells must be at least 1")
    return args


def main(argv=None) -> int:
    """Run the demo; returns the process exit code."""
    import h5py

    args = _parse_args(argv)
    # the exclusions are printed below; the library's per-mask warnings would repeat them
    logging.getLogger("napari_roimasks").setLevel(logging.ERROR)
    recording = make_recording(n_frames=args.frames, n_cells=args.cells, seed=args.seed)
    n_frames, image_h, image_w = recording.movie.shape
    border = recording.motion_border.as_allen()
    n_cells = int(recording.roi_labels.max())
    print(f"synthetic recording: {n_frames} frames of {image_h}x{image_w} pixels, {n_cells} cells")
    print(
        "motion border (left, right, top, bottom): " + ", ".join(f"{b:g}" for b in border) + " px"
    )

    rois = [
        roi_masks.create_roi_mask(
            image_w,
            image_h,
            border,
            roi_mask=recording.roi_labels == k,
            label=f"cell {k}",
            mask_group=0,
        )
        for k in range(1, n_cells + 1)
    ]
    with tempfile.TemporaryDirectory() as folder:
        movie_path = Path(folder) / "motion_corrected.h5"
        with h5py.File(movie_path, "w") as f:
            f.create_dataset("data", data=recording.movie, chunks=(1, image_h, image_w))
        start = time.perf_counter()
        roi_traces, neuropil_traces, exclusions = roi_masks.calculate_roi_and_neuropil_traces(
            movie_path, rois, border
        )
        seconds = time.perf_counter() - start

    print(f"extracted {2 * n_cells} traces (ROI + neuropil) in {seconds:.2f} s")
    reasons = Counter(e["exclusion_label_name"] for e in exclusions)
    excluded = sorted(
        {e["roi_id"] for e in exclusions if not e["roi_id"].startswith("neuropil")},
        key=lambda label: int(label.split()[-1]),
    )
    print(
        f"excluded: {len(excluded)} ROIs ({', '.join(excluded) or 'none'}); "
        + ", ".join(f"{n} x {reason}" for reason, n in sorted(reasons.items()))
    )

    usable = ~np.isnan(roi_traces[:, 0])
    corrected = roi_traces - 0.7 * neuropil_traces
    correlations = [
        np.corrcoef(corrected[k], recording.cell_signal[k])[0, 1] for k in np.flatnonzero(usable)
    ]
    print(
        f"usable ROIs: {usable.sum()} of {n_cells}; neuropil-corrected trace vs the true cell signal: "
        f"median correlation {np.median(correlations):.3f} (lowest {np.min(correlations):.3f})"
    )
    areas = [int(r.mask.sum()) for r in rois]
    print(f"ROI sizes: {min(areas)} to {max(areas)} px (median {int(np.median(areas))})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
