"""suite2p's side of bench_traces.py, run with the suite2p environment's Python.

    python suite2p_traces.py '{"raw": ..., "shape": [rows, columns], "masks": ..., ...}'

suite2p (GPL) is never imported by this project: this file runs in its own
environment as a subprocess. It reads the movie as suite2p reads a registered
movie, a ``BinaryFile`` over raw frames (here uint16, the benchmark movie's
bytes), and calls ``suite2p.extraction.extract.extract_traces`` on the CPU
with the masks this project built: ``masks`` is an .npz of flat pixel indices
(``roi`` and ``neuropil``, each split at ``roi_offsets`` / ``neuropil_offsets``);
every ROI pixel weighs 1/n, so F is the ROI's mean as AllenSDK's is.

Prints one JSON line: ``first_call`` (process start, from the parent's
``spawned``, to the first call's traces: imports, torch, the call), ``warm``
(the call again) and ``peak_rss_mib``; saves F and Fneu to ``out``.
"""

import itertools
import json
import logging
import re
import sys
import time

settings = json.loads(sys.argv[1])
logging.disable(logging.WARNING)
import numpy as np  # noqa: E402
import torch  # noqa: E402
from suite2p import default_settings  # noqa: E402
from suite2p.extraction.extract import extract_traces  # noqa: E402
from suite2p.io.binary import BinaryFile  # noqa: E402


def split(flat, offsets):
    return [flat[a:b] for a, b in itertools.pairwise(offsets)]


def main() -> None:
    rows, columns = settings["shape"]
    with np.load(settings["masks"]) as saved:
        rois = split(saved["roi"], saved["roi_offsets"])
        neuropil = split(saved["neuropil"], saved["neuropil_offsets"])
    cell_masks = [(pixels, np.full(pixels.size, 1.0 / pixels.size)) for pixels in rois]
    batch_size = default_settings()["extraction"]["batch_size"]
    cpu = torch.device("cpu")
    movie = BinaryFile(rows, columns, settings["raw"], dtype="uint16")
    F, Fneu = extract_traces(movie, cell_masks, neuropil, batch_size=batch_size, device=cpu)
    result = {"first_call": time.time() - settings["spawned"], "batch_size": batch_size}
    start = time.perf_counter()
    F, Fneu = extract_traces(movie, cell_masks, neuropil, batch_size=batch_size, device=cpu)
    result["warm"] = time.perf_counter() - start
    result["torch_threads"] = torch.get_num_threads()
    np.savez(settings["out"], F=F, Fneu=Fneu)
    with open("/proc/self/status") as status:
        result["peak_rss_mib"] = int(re.search(r"VmHWM:\s+(\d+) kB", status.read()).group(1)) / 1024
    print(json.dumps(result))


main()
