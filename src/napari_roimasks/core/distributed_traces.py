"""Trace extraction and summary images on a Dask cluster (``pip install 'napari-roimasks[distributed]'``).

The frames of each movie are split into blocks aligned with the file's chunks;
each block is a task that opens the movie file on its worker (the path must
be reachable there: a shared file system), reads its frames and computes
every mask's per-frame sums with the same compiled loop as the single-machine
engine, and, when asked, the block's summary-image sums. Blocks partition the
frames, so putting the blocks' means side by side gives exactly the
single-machine traces, and adding their summary sums (integers, for integer
movies) gives exactly the single-machine summary images. A worker that dies mid-job
loses only its tasks, which Dask runs again elsewhere; the traces are
returned only when every block is in.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from .masks import MaskCrop
from .summary_images import DEFAULT_CELL_DIAMETER, SummaryImages, SummarySums
from .traces import MaskRuns, accumulator_dtype, as_kernel_input, run_steps, sum_masks, sum_scratch

#: Bytes of frames a task reads: large enough that the scheduler's per-task cost
#: is small next to the reading and summing.
TASK_BYTES = 128 * 2**20
#: Bytes of frames a task reads and sums at a time: small enough to stay in the
#: processor's cache, so workers sharing a machine don't wait on its memory.
READ_BYTES = 4 * 2**20

__all__ = [
    "ClusterJobFailed",
    "MovieJob",
    "MovieResult",
    "distributed_movie_pass",
    "distributed_trace_extraction",
    "extract_traces_distributed",
    "start_client",
]


class ClusterJobFailed(RuntimeError):
    """A block of a movie failed on the cluster, after Dask's retries: no traces are returned."""


@dataclass(frozen=True)
class MovieJob:
    """One movie to extract: an HDF5 file, its dataset, the masks (None: a NaN row), and
    whether its summary images are wanted too."""

    path: str
    dataset: str
    masks: Sequence[MaskCrop | None]
    summary: bool = False


@dataclass(frozen=True)
class MovieResult:
    """What one pass over a movie gave: its traces, and its summary images when asked for.

    Attributes
    ----------
    traces : (n_masks, n_frames) float64 ndarray
    summary : SummaryImages or None
    """

    traces: np.ndarray
    summary: SummaryImages | None = None


#: A local cluster started here checks its event loops, memory and system load
#: every second or two rather than Dask's 20, 100 and 500 ms: it has no dashboard
#: to show them, and on a small machine these checks take the CPU the workers
#: sum frames with (2 workers on 2 cores: 1.5x the throughput of 1 with Dask's
#: intervals, 1.6-1.7x with these; benchmarks/bench_distributed.py).
LOCAL_CLUSTER_CONFIG = {
    "distributed.admin.tick.interval": "1s",
    "distributed.admin.system-monitor.interval": "2s",
    "distributed.worker.memory.monitor-interval": "1s",
}


INSTALL_DISTRIBUTED = (
    "running on a Dask cluster needs distributed: pip install 'napari-roimasks[distributed]'"
)


def has_distributed() -> bool:
    """Whether ``distributed`` is installed (without importing it)."""
    import importlib.util

    return importlib.util.find_spec("distributed") is not None


def start_client(scheduler: str, workers: int | None = None, *, quiet: bool = False):
    """A ``distributed.Client``: ``scheduler`` is ``tcp://host:port`` or ``local`` (a LocalCluster).

    A local cluster has ``workers`` single-threaded worker processes (default: one
    per core) on the loopback interface, with :data:`LOCAL_CLUSTER_CONFIG`. With
    ``quiet``, its workers and scheduler print nothing (the command line reports a
    failed block itself, in one line).

    Raises
    ------
    ImportError
        With what to install, when ``distributed`` is missing.
    """
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise ImportError(INSTALL_DISTRIBUTED) from None
    if scheduler == "local":
        import dask

        with dask.config.set(LOCAL_CLUSTER_CONFIG):  # workers get the config as they start
            cluster = LocalCluster(
                n_workers=workers or max(1, os.cpu_count() or 1),
                threads_per_worker=1,
                processes=True,
                host="127.0.0.1",
                dashboard_address=":0",  # no fixed port to collide with another cluster's
                silence_logs=logging.CRITICAL if quiet else logging.WARNING,
            )
        return Client(cluster)
    return Client(scheduler)


#: Movie files a worker process keeps open across tasks, at most this many.
MAX_OPEN_MOVIES = 8

# per worker process: (path, dataset, file identity) -> open h5py dataset. The identity
# is part of the key because the Traces dock keeps its cluster between runs: a movie
# replaced or rewritten at the same path must be read anew, not from the old handle.
_open_movies: dict = {}
_open_movies_lock = threading.Lock()  # workers may run several tasks at once, in threads
_buffers: dict = {}  # per worker thread: read shape and dtype -> reused buffers (no page faults per task)


def _file_identity(path: str) -> tuple[int, int, int, int]:
    """What tells one version of a file from another at the same path."""
    status = os.stat(path)
    return status.st_dev, status.st_ino, status.st_size, status.st_mtime_ns


def _open_movie(path: str, dataset: str):
    """On a worker: the movie's h5py dataset as the file is now, opened once per version.

    Handles of an older version of the file are closed: they would read the
    replaced file (a new file at the path) or stale HDF5 metadata (a file
    rewritten in place).
    """
    import h5py

    try:
        identity = _file_identity(path)
        key = (path, dataset, identity)
        with _open_movies_lock:
            data = _open_movies.get(key)
            if data is not None and data.id.valid:
                return data
            stale = [k for k in _open_movies if k == key or (k[0] == path and k[2] != identity)]
            for old in stale:
                _close(_open_movies.pop(old))
            while len(_open_movies) >= MAX_OPEN_MOVIES:
                _close(_open_movies.pop(next(iter(_open_movies))))  # the oldest opened
            data = _open_movies[key] = h5py.File(path, "r")[dataset]
            return data
    except (OSError, KeyError) as error:
        import socket

        raise OSError(
            f"cannot read dataset {dataset!r} of {path} on worker host {socket.gethostname()} "
            f"({error}): every worker must see the movie at this same path (a shared file system)"
        ) from None


def _close(data) -> None:
    if data.id.valid:
        data.file.close()


def _sum_block(
    path: str,
    dataset: str,
    start: int,
    stop: int,
    runs: MaskRuns | None,
    n_masks: int,
    summary_shift: np.ndarray | None = None,
):
    """On a worker: every mask's sums in frames ``start:stop`` of the movie file, and with
    ``summary_shift`` (the movie's first frame) those frames' :class:`SummarySums` too.

    The frames are read and summed a few chunks at a time (:data:`READ_BYTES`),
    so the block buffer stays in the processor's cache.

    Returns
    -------
    sums : (stop - start, n_masks) ndarray
        Without ``summary_shift``.
    (sums, dict)
        With it: the frames' :meth:`SummarySums.state` (plain arrays, which Dask
        can count and spill).
    """
    data = _open_movie(path, dataset)
    frame_bytes = int(np.prod(data.shape[1:])) * data.dtype.itemsize
    chunk = (data.chunks or (1,))[0]
    per_read = min(stop - start, max(chunk, READ_BYTES // max(frame_bytes, 1) // chunk * chunk))
    accumulator = accumulator_dtype(data.dtype)
    thread = threading.get_ident()
    key = (thread, per_read, n_masks, *data.shape[1:], data.dtype.str)
    if key not in _buffers:
        for old in [k for k in _buffers if k[0] == thread]:
            del _buffers[old]  # one read shape at a time is the common case: one buffer per thread
        _buffers[key] = (
            np.empty((per_read, *data.shape[1:]), dtype=data.dtype),
            sum_scratch(data.shape[2], n_masks, accumulator),
        )
    buffer, scratch = _buffers[key]
    sums = np.zeros((stop - start, n_masks), dtype=accumulator)
    summary = None
    if summary_shift is not None:
        summary = SummarySums(data.shape[1:], data.dtype, shift=summary_shift)
    for first in range(start, stop, per_read):
        n = min(per_read, stop - first)
        data.read_direct(buffer, np.s_[first : first + n], np.s_[0:n])
        block = as_kernel_input(buffer[:n])
        if runs is not None and len(runs.begin):
            offset = first - start
            sum_masks(block, runs, sums[offset : offset + n].T, scratch)
        if summary is not None:
            summary.add(block)
    return sums if summary is None else (sums, summary.state())


def _blocks(
    path: str, dataset: str, max_block_bytes: int
) -> tuple[list[tuple[int, int]], tuple[int, ...]]:
    import h5py

    with h5py.File(path, "r") as f:
        data = f[dataset]
        shape, chunk = data.shape, (data.chunks or (1,))[0]
        frame_bytes = int(np.prod(shape[1:])) * data.dtype.itemsize
    per_block = max(chunk, (max_block_bytes // max(frame_bytes, 1)) // chunk * chunk)
    return [(a, min(a + per_block, shape[0])) for a in range(0, shape[0], per_block)], shape


def extract_traces_distributed(
    client,
    jobs: Sequence[MovieJob],
    *,
    max_block_bytes: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> list[np.ndarray]:
    """Traces of several movies as one job graph on a Dask cluster.

    Parameters
    ----------
    client : distributed.Client
    jobs : sequence of MovieJob
    max_block_bytes : int, optional
        Frames per task: as many whole chunks as fit in this many bytes
        (default :data:`TASK_BYTES`), at least one chunk.
    progress : callable(frames_done, frames_total), optional
        Called as each block comes in, with frames counted over all the movies.
    should_stop : callable() -> bool, optional
        Checked as blocks come in; True cancels the job (ExtractionCancelled).

    Returns
    -------
    list of (n_masks, n_frames) float64 ndarray
        One per job, equal to :func:`extract_traces` on the same movie.

    Raises
    ------
    ClusterJobFailed
        When a block still fails after Dask's retries (a worker that cannot read
        the movie, workers that keep dying); the other tasks are cancelled.
    """
    steps = distributed_trace_extraction(client, jobs, max_block_bytes=max_block_bytes)
    return run_steps(steps, progress, should_stop, unit="frame")


def distributed_trace_extraction(
    client, jobs: Sequence[MovieJob], *, max_block_bytes: int | None = None
):
    """:func:`extract_traces_distributed` as a generator: yields ``(frames_done, frames_total)``
    over all the movies as blocks come in, returns the traces; closing it cancels the
    cluster's tasks."""
    results = yield from distributed_movie_pass(client, jobs, max_block_bytes=max_block_bytes)
    return [result.traces for result in results]


def distributed_movie_pass(
    client,
    jobs: Sequence[MovieJob],
    *,
    max_block_bytes: int | None = None,
    cell_diameter: float = DEFAULT_CELL_DIAMETER,
):
    """Traces, and summary images where a job asks for them, of several movies as one job
    graph on a Dask cluster, each frame read once.

    A generator: yields ``(frames_done, frames_total)`` over all the movies as blocks
    come in and returns one :class:`MovieResult` per job; closing it cancels the
    cluster's tasks.

    Raises
    ------
    ClusterJobFailed
        When a block still fails after Dask's retries; the other tasks are cancelled.
    """
    from distributed import as_completed

    plans = []
    for job in jobs:
        blocks, shape = _blocks(job.path, job.dataset, max_block_bytes or TASK_BYTES)
        runs = MaskRuns.from_masks(job.masks, tuple(shape[1:]))
        shift = _first_frame(job.path, job.dataset) if job.summary and shape[0] else None
        plans.append((job, blocks, shape, runs, shift))
    pending = {}  # future key -> (future, job index, first frame, stop)
    for j, (job, blocks, _shape, runs, shift) in enumerate(plans):
        # keys of their own (hash=False): an identical scatter of the last job may be being
        # released right now, which would take this one's data with it
        shared_runs = client.scatter(runs, broadcast=True, hash=False)
        shared_shift = None if shift is None else client.scatter(shift, broadcast=True, hash=False)
        for start, stop in blocks:
            future = client.submit(
                _sum_block,
                job.path,
                job.dataset,
                start,
                stop,
                shared_runs,
                len(job.masks),
                shared_shift,
                pure=False,
                retries=2,
            )
            pending[future.key] = (future, j, start, stop)
    # the blocks partition the frames, and the results are returned only when every block is in
    traces = [np.empty((len(job.masks), shape[0])) for job, _, shape, _, _ in plans]
    summaries = [
        SummarySums(shape[1:], _movie_dtype(job), shift=shift) if shift is not None else None
        for job, _, shape, _, shift in plans
    ]
    done, total = 0, sum(shape[0] for _, _, shape, _, _ in plans)
    arrivals = as_completed([future for future, *_ in pending.values()])
    try:
        for future in arrivals:
            _, j, start, stop = pending.pop(future.key)
            try:
                result = future.result()
            except Exception as error:
                raise ClusterJobFailed(
                    f"{plans[j][0].path}: frames {start}-{stop - 1} failed on the cluster "
                    f"({type(error).__name__}: {error})"
                ) from error
            future.release()  # the block's sums leave the cluster once they are added here
            sums = result
            if summaries[j] is not None:
                sums, state = result
                summaries[j].combine(SummarySums.from_state(state, plans[j][4]))
            traces[j][:, start:stop] = (sums / plans[j][3].areas).T
            done += stop - start
            yield done, total
    except BaseException:  # a failure, or the caller closed us (cancel)
        client.cancel([future for future, *_ in pending.values()])
        raise
    return [
        MovieResult(t, None if s is None else s.result(cell_diameter))
        for t, s in zip(traces, summaries, strict=True)
    ]


def _first_frame(path: str, dataset: str) -> np.ndarray:
    """The movie's first frame, read here: the shift every block's summary sums share."""
    import h5py

    with h5py.File(path, "r") as f:
        return as_kernel_input(f[dataset][0:1])[0]


def _movie_dtype(job: MovieJob) -> np.dtype:
    import h5py

    with h5py.File(job.path, "r") as f:
        return as_kernel_input(np.empty(0, f[job.dataset].dtype)).dtype
