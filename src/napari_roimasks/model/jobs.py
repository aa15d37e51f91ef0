"""Running a pass over the movie in a worker thread: progress, cancel, and failures napari reports.

The core's long computations are generators that yield ``(done, total)`` and
return their result (``summary_steps``, ``trace_correlation_steps``,
``pixel_trace_steps``). :func:`cancellable_job` drives one for a worker
thread: it passes the progress on (at most every :data:`PROGRESS_INTERVAL`
seconds), stops within one block when its cancel event is set (returning
None, also when it is set while the result is being finished), and turns a
RuntimeError, which napari's worker would lose, into :class:`JobFailed`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Generator

from .extraction import PROGRESS_INTERVAL

__all__ = ["JobFailed", "cancellable_job"]


class JobFailed(Exception):
    """A job's RuntimeError, which napari's worker would take for a deleted thread and lose."""


def cancellable_job(
    steps: Generator, cancel: threading.Event | None = None
) -> Generator[tuple[int, int], None, object]:
    """Drive a core generator, yielding its ``(done, total)``; its result, or None when cancelled.

    Parameters
    ----------
    steps : generator of (done, total), returning the result
    cancel : threading.Event, optional
        Set it to stop after the block in hand; the generator is closed in this
        thread (its read-ahead stops with it).

    Raises
    ------
    JobFailed
        For a RuntimeError: napari's worker takes one for a deleted thread, never
        reports it, and the run would never finish. Other errors pass as they are.
    """
    try:
        shown = 0.0
        while True:
            if cancel is not None and cancel.is_set():
                return None
            try:
                done, total = next(steps)
            except StopIteration as finished:
                # the last step finishes the result (a second or two for big frames): a
                # Cancel pressed meanwhile still means nothing is shown
                cancelled = cancel is not None and cancel.is_set()
                return None if cancelled else finished.value
            if time.perf_counter() - shown >= PROGRESS_INTERVAL or done == total:
                yield done, total
                shown = time.perf_counter()
    except RuntimeError as error:
        raise JobFailed(str(error)) from error
    finally:
        steps.close()
