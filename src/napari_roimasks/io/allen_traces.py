"""Traces in the Allen pipeline's layout: ``roi_traces.h5``, ``neuropil_traces.h5``, ``exclusions.json``.

Each trace file holds ``data``, (n_rois, n_frames) float64 (NaN rows for
excluded masks), and ``roi_names``, the ROIs' ids as byte strings.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from .atomic import atomic_path, write_atomically

__all__ = ["read_trace_file", "write_exclusions", "write_trace_file", "write_traces_csv"]


def write_trace_file(path, traces, roi_names, *, overwrite: bool = False) -> Path:
    """Write (n_rois, n_frames) traces and their ROI names as an Allen trace file (atomically)."""
    import h5py

    traces = np.asarray(traces, dtype=np.float64)
    names = np.array([str(name).encode() for name in roi_names], dtype="S")
    if traces.ndim != 2 or traces.shape[0] != len(names):
        raise ValueError(
            f"traces must be (n_rois, n_frames) with one name per ROI, got {traces.shape} and {len(names)} names"
        )

    # by its path, not a Python file object: a run stopped mid-write (Ctrl+C) could close
    # that object under HDF5, which then reports an error of its own on the way out
    with atomic_path(path, overwrite=overwrite) as temporary, h5py.File(temporary, "w") as h5:
        h5.create_dataset("data", data=traces)
        h5.create_dataset("roi_names", data=names)
    return Path(os.fspath(path))


def read_trace_file(path) -> tuple[np.ndarray, list[str]]:
    """Read an Allen trace file: ``(traces, roi_names)``."""
    import h5py

    with h5py.File(os.fspath(path), "r") as h5:
        return h5["data"][()], [
            n.decode() if isinstance(n, bytes) else str(n) for n in h5["roi_names"][()]
        ]


def write_exclusions(path, exclusions, *, overwrite: bool = False) -> Path:
    """Write AllenSDK's exclusion dicts as JSON (atomically)."""
    text = json.dumps([{k: _plain(v) for k, v in e.items()} for e in exclusions], indent=1)
    return write_atomically(path, lambda f: f.write(text.encode()), overwrite=overwrite)


def _plain(value):
    return int(value) if isinstance(value, np.integer) else value


def write_traces_csv(path, traces: dict, *, overwrite: bool = False) -> Path:
    """Write traces as CSV: ``frame``, then one column per trace, every float to the last bit.

    Parameters
    ----------
    traces : dict of str -> (n_frames,) array_like
        Column name -> values; all the same length.
    """
    columns = {name: np.asarray(values, dtype=float) for name, values in traces.items()}
    lengths = {len(v) for v in columns.values()}
    if len(lengths) > 1:
        raise ValueError(
            f"every trace must be as long as the others, got lengths {sorted(lengths)}"
        )
    n = lengths.pop() if lengths else 0
    table = np.column_stack([np.arange(n), *columns.values()]) if columns else np.arange(n)[:, None]
    header = ",".join(["frame", *(_csv_field(name) for name in columns)])
    return write_atomically(
        path,
        lambda f: np.savetxt(f, table, delimiter=",", header=header, comments="", fmt="%.17g"),
        overwrite=overwrite,
    )


def _csv_field(text: str) -> str:
    return '"' + text.replace('"', '""') + '"' if "," in text or '"' in text else text
