"""The extraction job the Traces dock runs in a worker thread: read, then fit each ROI's r.

:func:`extraction_job` is a generator (progress as it goes, the traces as its
return value) that reads the movie through the batch pipeline's
:func:`~napari_roimasks.pipeline.trace_steps`, here or on a Dask cluster, and
stops within one block when its cancel event is set. :class:`DaskClients`
keeps one Dask client per scheduler address for a dock's lifetime.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import numpy as np

from ..core.neuropil_correction import estimate_contamination_ratio
from ..pipeline import MovieMasks, trace_steps
from .traces import ExtractionPlan, RoiTraces

__all__ = ["PROGRESS_INTERVAL", "DaskClients", "ExtractionFailed", "extraction_job"]

#: Seconds between progress reports: each one redraws napari's activity panel.
PROGRESS_INTERVAL = 0.05


class ExtractionFailed(Exception):
    """Any failure of the extraction job, RuntimeErrors included (see :func:`extraction_job`)."""


def extraction_job(
    plan: ExtractionPlan,
    movie: MovieMasks,
    *,
    connect: Callable[[], object] | None = None,
    cancel: threading.Event | None = None,
):
    """Extract the plan's traces, then fit each ROI's contamination ratio.

    Parameters
    ----------
    plan : ExtractionPlan
        From :meth:`RoiModel.plan_extraction`; ``movie.masks`` are its masks.
    movie : MovieMasks
        The movie (its frames, or its file for a Dask cluster) and the plan's masks.
    connect : callable() -> distributed.Client, optional
        Extract on that client's cluster; called in this generator's thread,
        since starting a cluster or reaching a scheduler takes seconds.
    cancel : threading.Event, optional
        Set it to stop after the block in hand: the job closes the engine (its
        read-ahead thread, or the cluster's tasks) in its own thread.

    Yields
    ------
    (stage, done, total)
        stage is ``"connecting"``, ``"frames"``, ``"cluster frames"`` or ``"fit"``.

    Returns
    -------
    dict or None
        ROI key -> :class:`RoiTraces`; None when cancelled.

    Raises
    ------
    ExtractionFailed
        For every failure: napari's worker takes a RuntimeError for a deleted
        thread, never reports it, and the run would never finish.
    """
    try:
        return (yield from _extract_and_fit(plan, movie, connect, cancel))
    except RuntimeError as error:
        raise ExtractionFailed(str(error)) from error


def _extract_and_fit(plan, movie, connect, cancel):
    def cancelled() -> bool:
        return cancel is not None and cancel.is_set()

    client, stage = None, "frames"
    if connect is not None:
        yield "connecting", 0, 0
        client, stage = connect(), "cluster frames"
        if cancelled():
            return None
    steps = trace_steps([movie], client=client)
    try:
        shown = 0.0
        while True:
            try:
                done, total = next(steps)
            except StopIteration as finished:
                (traces,) = finished.value
                break
            if time.perf_counter() - shown >= PROGRESS_INTERVAL or done == total:
                yield stage, done, total
                shown = time.perf_counter()
            if cancelled():
                return None
    finally:
        steps.close()  # the engine stops within one block, the cluster's tasks are cancelled
    n = len(plan.keys)
    results = {}
    for i, (key, fingerprint) in enumerate(zip(plan.keys, plan.fingerprints, strict=True)):
        if cancelled():
            return None
        roi, neuropil = traces[i], traces[n + i]
        fitted = (
            estimate_contamination_ratio(roi, neuropil).r
            if np.isfinite(roi).any() and np.isfinite(neuropil).any()
            else np.nan
        )
        results[key] = RoiTraces(fingerprint, roi, neuropil, float(fitted))
        yield "fit", i + 1, n
    return results


class DaskClients:
    """One Dask client per scheduler address, made on first use, closed together.

    ``"local"`` starts a local cluster, closed with its client.
    """

    def __init__(self) -> None:
        self._clients: dict = {}
        self._lock = threading.Lock()
        self._closed = False

    def connect(self, address: str):
        """The client for ``address`` (made now if needed; call it from a worker thread).

        Raises
        ------
        OSError
            When the scheduler cannot be reached, or after :meth:`close`.
        """
        from ..core.distributed_traces import start_client

        with self._lock:
            if self._closed:
                raise OSError("the Traces dock was closed")
            client = self._clients.get(address)
            if client is None:
                try:
                    client = self._clients[address] = start_client(address)
                except OSError as error:
                    raise OSError(f"cannot reach the Dask scheduler {address} ({error})") from None
        return client

    def clients(self) -> list:
        """The clients made so far."""
        with self._lock:
            return list(self._clients.values())

    def close(self) -> None:
        """Close every client, and the local clusters they started; a client being made
        now is closed with the others."""
        with self._lock:
            self._closed = True
            for client in self._clients.values():
                cluster = getattr(client, "cluster", None)
                client.close()
                if cluster is not None:
                    cluster.close()
            self._clients.clear()
