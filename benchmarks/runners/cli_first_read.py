"""``napari-roimasks`` as its console script runs it, noting when the first frames are read.

    python cli_first_read.py TIMES.json SPAWNED extract MOVIE ROIS -o OUT ...

Runs ``napari_roimasks.cli.main`` with the arguments after SPAWNED (the
parent's ``time.time()`` just before it started this process), as the
``napari-roimasks`` script does, and writes to TIMES.json, in seconds from
SPAWNED: ``cli_imported``, ``first_read_started`` and ``first_read_done`` (the
first call that reads frames from a 3-d ``h5py.Dataset``, entered and returned),
``done`` (``main`` returned), and the exit code and peak RSS. A frame read is
either h5py's (``Dataset.read_direct`` or ``__getitem__`` on a 3-d dataset) or
the engine's own read of the file's chunks (``DirectReads.read``, which does
not go through h5py). Nothing is imported ahead of the command's own imports:
both are wrapped by an import hook when the command itself imports their
modules, so start-up is the command's, and the numbers it writes are untouched.
It also lists which heavy modules were loaded by then (``modules_at_first_read``)
and at the end (``modules``).
"""

import importlib.abc
import importlib.machinery
import json
import re
import sys
import threading
import time

times_path, spawned, argv = sys.argv[1], float(sys.argv[2]), sys.argv[3:]
seen = {}
lock = threading.Lock()


HEAVY = ("numba", "scipy.ndimage", "scipy.linalg", "dask", "skimage", "h5py", "tifffile")


def note(name: str, reader: str = "") -> None:
    with lock:
        if name not in seen:
            seen[name] = time.time() - spawned
            if name == "first_read_started":
                seen["modules_at_first_read"] = loaded()
                seen["first_read_by"] = reader


def loaded() -> list:
    return sorted(name for name in HEAVY if name in sys.modules)


def timed(method):
    def read(dataset, *args, **kwargs):
        if dataset.ndim != 3:  # not a movie: an ROI file's arrays, attributes' tables
            return method(dataset, *args, **kwargs)
        note("first_read_started", "h5py")
        try:
            return method(dataset, *args, **kwargs)
        finally:
            note("first_read_done")

    return read


def timed_chunks(method):
    def read(reads, *args, **kwargs):
        note("first_read_started", "chunks")
        try:
            return method(reads, *args, **kwargs)
        finally:
            note("first_read_done")

    return read


#: module -> (class, its reading methods, their wrapper)
WRAPPED = {
    "h5py._hl.dataset": ("Dataset", ("read_direct", "__getitem__"), timed),
    "napari_roimasks.core.hdf5_chunks": ("DirectReads", ("read",), timed_chunks),
}


class WrapReadsOnImport(importlib.abc.MetaPathFinder):
    """Wraps the frame-reading methods of :data:`WRAPPED` once their modules have loaded."""

    def find_spec(self, name, path, target=None):
        if name not in WRAPPED:
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        load = spec.loader.exec_module
        class_name, methods, wrapper = WRAPPED[name]

        def exec_module(module):
            load(module)
            cls = getattr(module, class_name)
            for method in methods:
                setattr(cls, method, wrapper(getattr(cls, method)))

        spec.loader.exec_module = exec_module
        return spec


sys.meta_path.insert(0, WrapReadsOnImport())
from napari_roimasks.cli import main  # noqa: E402

note("cli_imported")
sys.argv = ["napari-roimasks", *argv]
code = main(argv)
note("done")
with open("/proc/self/status") as status:
    seen["peak_rss_mib"] = int(re.search(r"VmHWM:\s+(\d+) kB", status.read()).group(1)) / 1024
seen["exit_code"] = code
seen["modules"] = loaded()
with open(times_path, "w") as f:
    json.dump(seen, f)
sys.exit(code)
