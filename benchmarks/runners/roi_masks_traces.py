"""One side of bench_traces.py: a fresh process that extracts traces as a user's script does.

    python roi_masks_traces.py '{"module": "ours"|"allensdk", "movie": ..., ...}'

Run by bench_traces.py with this project's Python (``"ours"``) or the peer
environment's (``"allensdk"``); it imports nothing of the other side. The
settings come as one JSON argument: ``movie`` (HDF5, dataset ``data``),
``labels`` (a .npy label image: ROI k is ``labels == k``), ``border``,
``spawned`` (the parent's ``time.time()`` just before it started this
process), ``out`` (where to save the warm call's traces, or null), ``once``
(only the first call, for peak memory) and ``raw`` (ours only: also time
``calculate_traces`` on a raw uint16 copy of the movie, the input suite2p gets).

Prints one JSON line: ``first_call`` (process start to the first call's traces
in hand: interpreter, imports, masks, call), ``first_call_alone`` (that call
only: rings and runs built, frames read), ``warm`` (the same call again),
``neuropil_loop`` (``create_neuropil_mask`` for every ROI), ``raw_warm``,
``peak_rss_mib`` (VmHWM) and ``exclusions``.
"""

import json
import logging
import re
import sys
import time

settings = json.loads(sys.argv[1])
logging.disable(logging.WARNING)
if settings["module"] == "allensdk":
    from allensdk.brain_observatory import roi_masks
else:
    from napari_roimasks import roi_masks
import numpy as np  # noqa: E402  (after the side's own imports: numpy comes with them)


def peak_rss_mib() -> float:
    # VmHWM, not getrusage: ru_maxrss keeps the size of the process that forked this one
    with open("/proc/self/status") as status:
        return int(re.search(r"VmHWM:\s+(\d+) kB", status.read()).group(1)) / 1024


def main() -> None:
    border = settings["border"]
    labels = np.load(settings["labels"])
    h, w = labels.shape
    rois = [
        roi_masks.create_roi_mask(w, h, border, roi_mask=labels == k, label=f"roi{k}")
        for k in range(1, int(labels.max()) + 1)
    ]
    start = time.perf_counter()
    roi, neuropil, exclusions = roi_masks.calculate_roi_and_neuropil_traces(
        settings["movie"], rois, border
    )
    result = {
        "first_call": time.time() - settings["spawned"],
        "first_call_alone": time.perf_counter() - start,
        "exclusions": exclusions,
    }
    if not settings.get("once"):
        combined = roi_masks.create_roi_mask_array(rois).max(axis=0)
        start = time.perf_counter()
        for mask in rois:
            roi_masks.create_neuropil_mask(mask, border, combined, "neuropil for " + mask.label)
        result["neuropil_loop"] = time.perf_counter() - start
        start = time.perf_counter()
        roi, neuropil, _ = roi_masks.calculate_roi_and_neuropil_traces(
            settings["movie"], rois, border
        )
        result["warm"] = time.perf_counter() - start
        if settings.get("raw"):
            result["raw_warm"] = raw_warm(rois, border, labels.shape)
    if settings.get("out"):
        np.savez(settings["out"], roi=roi, neuropil=neuropil)
    result["peak_rss_mib"] = peak_rss_mib()
    print(json.dumps(result))


def raw_warm(rois, border, shape) -> float:
    """``calculate_traces`` on the raw copy suite2p reads (a memmap), the same masks."""
    frames = np.memmap(settings["raw"], dtype=np.uint16, mode="r").reshape(-1, *shape)
    masks = rois + roi_masks.create_neuropil_masks(rois, border)
    start = time.perf_counter()
    roi_masks.calculate_traces(frames, masks)
    return time.perf_counter() - start


main()
