"""The curator's session on disk: what it holds, how it comes back, and its autosave.

- :func:`session_contents`: a snapshot of a :class:`~napari_roimasks.model.RoiModel`
  to write (ROIs, decisions, settings, the movie, optionally the traces);
- :func:`restore_session`: the model as a session file left it;
- :class:`Autosave`: writes the session file in a background thread soon after
  every change, atomically, so that a crash or a kill loses at most
  :data:`AUTOSAVE_DELAY` plus one write of work, and never leaves a broken file.

No Qt and no napari: the ROI masks dock gives :class:`Autosave` a Qt timer and
forwards its reports to the viewer; pipelines and tests drive it directly.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

from ..core.summary_images import DEFAULT_CELL_DIAMETER
from ..io.roi_set import RoiSet
from ..io.session_file import (
    SavedTraces,
    SessionContents,
    named_traces_file,
    session_beside,
    traces_files_named,
    traces_on_disk,
    traces_path_for,
    write_session,
    write_traces_file,
)
from .repairs import origins_from_json
from .traces import Correction, RoiTraces

__all__ = [
    "AUTOSAVE_DELAY",
    "Autosave",
    "SessionSaved",
    "failure_reason",
    "restore_session",
    "restore_session_extras",
    "session_contents",
]

#: Seconds from the first unsaved change to the snapshot that is written: a burst of key
#: presses makes one write, and a kill loses at most this plus one write.
AUTOSAVE_DELAY = 0.5


def session_contents(
    model, *, keep_traces: bool = True, revision: int = 0, entries=None, traces=None
) -> SessionContents:
    """What a session file of ``model`` holds now: a snapshot, safe to write from another thread.

    It shares the model's masks and traces (which the model replaces, never changes in
    place), so it costs little: no pixel is copied.

    Parameters
    ----------
    model : RoiModel
        With ROIs (:meth:`~RoiModel.set_rois` or another way).
    keep_traces : bool, optional
        Include the extracted traces and their fingerprints (reopening needs no extraction);
        they are written to the session's traces file only when they changed.
    revision : int, optional
        How many changes the caller has seen (written to the file).
    entries : mapping of key -> RoiEntry, optional
        ROIs as :meth:`RoiModel.roi_entry` gave them and still gives them (an autosave
        keeps them between snapshots); the others are asked for.
    traces : SavedTraces, optional
        The model's traces, as this function gave them and they still are.
    """
    entries = entries or {}
    rois = RoiSet(
        [entries.get(key) or model.roi_entry(key) for key in model.roi_keys()],
        model.border,
        model.image_shape,
        model.ring_options,
    )
    if not keep_traces:
        traces = None
    elif traces is None and model.traces and model.trace_movie is not None:
        # every ROI's traces, a deleted one's too: its paint undo brings it back, and the
        # traces file is rewritten only when extraction changes them
        traces = SavedTraces(
            model.trace_movie,
            {k: (t.fingerprint, t.roi, t.neuropil, t.fitted_r) for k, t in model.traces.items()},
        )
    path, dataset = model.movie_file or (None, None)
    return SessionContents(
        rois,
        movie_path=path,
        movie_dataset=dataset,
        cell_diameter=model.cell_diameter,
        contamination_ratio=model.correction.fixed_r,
        fit_contamination_ratio=model.correction.fitted,
        traces=traces,
        quality=model.quality.to_json()
        if model.quality.rules or model.quality.classifier
        else None,
        origins=model.repairs.to_json(),
        saved_at=datetime.now().astimezone(),
        revision=revision,
    )


def restore_session(model, session: SessionContents) -> None:
    """Put ``model`` in the state a session file holds (ROIs, decisions, settings, traces).

    Raises
    ------
    ValueError
        If the session's ROIs cannot be curated (no image size; a border leaving no pixel).
    """
    model.load(session.rois)
    problem = restore_session_extras(model, session)
    if problem is not None:
        raise ValueError(f"the session's {problem}")


def restore_session_extras(model, session: SessionContents, keys=None) -> str | None:
    """What a session holds beyond its ROIs: the correction, the cell diameter, the traces
    (of the ROIs the model has; their fingerprints tell whether they are current), the
    threshold rules and the classifier.

    Parameters
    ----------
    model : RoiModel
    session : SessionContents
    keys : mapping, optional
        The model's key of each session ROI id, when they differ (an ROI layer numbers its
        ROIs its own way); ids without a key get no traces. None: the same keys.

    Returns
    -------
    str or None
        Why the ROIs' origins, or the rules and the classifier, were not restored (the
        rest was), or None.
    """
    model.set_correction(Correction(session.fit_contamination_ratio, session.contamination_ratio))
    model.set_cell_diameter(session.cell_diameter or DEFAULT_CELL_DIAMETER)
    if session.movie_path is not None and model.movie_file is None:
        model.movie_file = (session.movie_path, session.movie_dataset)
    if session.traces is not None:
        present = set(model.roi_keys())
        found = {}
        for ident, (fingerprint, roi, neuropil, fitted_r) in session.traces.traces.items():
            key = ident if keys is None else keys.get(ident)
            if key in present:
                found[key] = RoiTraces(fingerprint, roi, neuropil, fitted_r)
        model.store_traces(session.traces.movie, found)
    problems = []
    for restore in (
        lambda: model.restore_origins(origins_from_json(session.origins, keys)),
        lambda: model.quality.restore_json(session.quality),
    ):
        try:
            restore()
        except ValueError as error:  # each on its own: one unreadable part leaves the other
            problems.append(str(error))
    return "; ".join(problems) or None


@dataclass(frozen=True)
class SessionSaved:
    """An autosave that reached the disk.

    Attributes
    ----------
    path : Path
    revision : int
        The changes it holds (see :class:`Autosave`).
    saved_at : datetime
    """

    path: Path
    revision: int
    saved_at: datetime


class Autosave:
    """Keeps a session file up to date with a model: every change is on disk within seconds.

    Each change the model reports counts as a revision. The first unsaved change
    schedules a snapshot (:func:`session_contents`, on the model's thread, after
    ``delay``); a background thread writes the latest snapshot atomically
    (:func:`~napari_roimasks.io.session_file.write_session`), and snapshots taken
    while it writes replace each other, so a burst of changes makes few writes.
    A kill at any moment leaves the previous file or the new one, whole.

    Parameters
    ----------
    model : RoiModel
    path : str or os.PathLike
        The session file (e.g. :func:`~napari_roimasks.io.session_file.session_path_for`).
    schedule : callable(delay, callback), optional
        Calls ``callback`` on the model's thread after ``delay`` seconds (the GUI gives a
        Qt timer). None: the snapshot is taken at once, at every change.
    delay : float, optional
        Seconds from the first unsaved change to its snapshot.
    keep_traces : bool, optional
        Write the extracted traces too.
    on_saved : callable(SessionSaved), optional
        Called from the writing thread after each write.
    on_failed : callable(str), optional
        Called from the writing thread when a write fails (one line naming the file); the
        next change tries again, and the previous file stays as it was.
    """

    def __init__(
        self,
        model,
        path,
        *,
        schedule: Callable[[float, Callable[[], None]], None] | None = None,
        delay: float = AUTOSAVE_DELAY,
        keep_traces: bool = True,
        on_saved: Callable[[SessionSaved], None] | None = None,
        on_failed: Callable[[str], None] | None = None,
    ):
        self.model = model
        #: the session file asked for; ``path``: where it is written (another file beside it
        #: once another program wrote this one)
        self.target = Path(path)
        self.path = self.target
        self.keep_traces = keep_traces
        self._schedule, self._delay = schedule, delay
        self._on_saved = on_saved or (lambda saved: None)
        self._on_failed = on_failed or (lambda message: None)
        self.revision = 0  # changes heard
        self._snapshot_revision = 0  # changes in the last snapshot taken
        self._scheduled = False
        self._condition = threading.Condition()
        self._pending: SessionContents | None = None
        self._written = 0  # the revision on disk
        self._attempted = 0  # the revision last written or given up on
        self._closing = False
        # what the last snapshot took from the model and is still so: a snapshot then makes
        # few new objects (each one promoted to the oldest generation brings Python's full
        # garbage collection, a pause of the whole viewer, closer)
        self._entries: dict = {}
        self._traces: SavedTraces | None = None
        self._traces_file: str | None = None  # the traces file the session on disk names
        self._on_disk = _identity(self.path)  # the file as this autosave last saw it
        # traces are written by a thread of their own: a decision never waits for them
        self._traces_named: SavedTraces | None = None  # the newest traces whose file is there
        self._traces_wanted: SavedTraces | None = None  # traces for their thread to write
        self._traces_busy = False
        self._writing = False
        self._latest: SessionContents | None = None  # the last snapshot handed over
        self._traces_file_known = False
        self._signals = [
            (model.rois_changed, self._rois_changed),
            (model.settings_changed, self.changed),
            (model.traces_changed, self._traces_changed),
            (model.correction_changed, self.changed),
            (model.decisions_changed, self._rois_changed),
            (model.movie_changed, self.changed),
            (model.cell_diameter_changed, self.changed),
            (model.quality_changed, self.changed),
        ]
        for signal, callback in self._signals:
            signal.connect(callback)
        self._thread = threading.Thread(
            target=self._write_loop, name="napari-roimasks autosave", daemon=True
        )
        self._thread.start()
        self._traces_thread = threading.Thread(
            target=self._traces_loop, name="napari-roimasks autosave traces", daemon=True
        )
        self._traces_thread.start()

    @property
    def unsaved(self) -> bool:
        """Whether changes were made that are not on disk yet."""
        with self._condition:
            return self._written < self.revision

    @property
    def writing(self) -> bool:
        """Whether its threads still run (after :meth:`close`: the last writes are not done)."""
        return self._thread.is_alive() or self._traces_thread.is_alive()

    def _rois_changed(self, keys) -> None:
        if keys is None:
            self._entries.clear()
        else:
            for key in keys:
                self._entries.pop(key, None)
        self.changed()

    def _traces_changed(self, _keys) -> None:
        self._traces = None
        self.changed()

    def changed(self, *_args) -> None:
        """Count a change and see that it is written (the model's events call this)."""
        self.revision += 1
        if self._schedule is None:
            self.snapshot()
        elif not self._scheduled:
            self._scheduled = True
            self._schedule(self._delay, self.snapshot)

    def snapshot(self) -> None:
        """Take the model's state now (on its thread) and hand it to the writing thread."""
        self._scheduled = False
        if self._closing or self.revision == self._snapshot_revision:
            return
        if self.model.rings is None:  # no ROIs yet: nothing to keep
            return
        contents = session_contents(
            self.model,
            keep_traces=self.keep_traces,
            revision=self.revision,
            entries=self._entries,
            traces=self._traces,
        )
        self._entries = {entry.id: entry for entry in contents.rois.rois}
        self._traces = contents.traces
        self._snapshot_revision = self.revision
        with self._condition:
            self._pending = self._latest = contents
            self._condition.notify_all()

    def flush(self, timeout: float | None = None) -> bool:
        """Write what is unsaved now and wait for it (e.g. before the viewer closes).

        Returns
        -------
        bool
            True when every change is on disk (or there was nothing to save).
        """
        self.snapshot()
        target = self._snapshot_revision
        with self._condition:
            self._condition.wait_for(
                lambda: (self._attempted >= target and self._idle()) or not self._thread.is_alive(),
                timeout,
            )
            return self._written >= self.revision or self.model.rings is None

    def _idle(self) -> bool:
        """Nothing waits to be written, traces included (call it holding the lock)."""
        return not (self._pending or self._writing or self._traces_busy or self._traces_wanted)

    def close(self, *, wait: bool = True, timeout: float | None = 10.0) -> bool:
        """Stop following the model; what is unsaved is snapshot now and written.

        Parameters
        ----------
        wait : bool, optional
            Wait until it is on disk (the viewer closes). False: the writing thread finishes
            on its own (another layer is curated: the viewer goes on at once).
        timeout : float, optional
            The longest wait, in seconds.

        Returns
        -------
        bool
            With ``wait``: True when every change is on disk; without: True.
        """
        if not self._closing:  # a second close only waits
            self.snapshot()
            for signal, callback in self._signals:
                signal.disconnect(callback)
            with self._condition:
                self._closing = True
                self._condition.notify_all()
        if not wait:
            return True
        self._thread.join(timeout)
        self._traces_thread.join(timeout)
        with self._condition:
            return self._written >= self._snapshot_revision

    def _divert(self) -> None:
        """Another program (another viewer) wrote the session file since this one did: keep
        its file, and go on in a file of this session's own beside it."""
        theirs, self.path = self.path, session_beside(self.path, datetime.now())
        self._on_disk, self._traces_file, self._traces_file_known = None, None, True
        self._traces_named = None  # its traces file is named after it: written anew
        self._on_failed(
            f"{theirs}: changed by another program since this viewer saved it; it is left as it "
            f"is, and this session's changes now go to {self.path.name}"
        )

    def _forget_traces_file(self, contents: SessionContents) -> None:
        """Remove the traces file the session named before, once no session file names it
        (a session set aside keeps its own)."""
        traces = contents.traces
        named = None if traces is None else traces_path_for(self.path, traces.digest).name
        old, self._traces_file = self._traces_file, named
        if old is None or old == named:
            return
        try:
            if old not in traces_files_named(self.path.parent, besides=[self.path]):
                (self.path.parent / old).unlink(missing_ok=True)
        except OSError:  # kept: a file left over is no harm
            pass

    def _write_loop(self) -> None:
        def ready():
            return self._pending is not None or (
                self._closing and not (self._traces_busy or self._traces_wanted)
            )

        while True:
            with self._condition:
                self._condition.wait_for(ready)
                contents, self._pending = self._pending, None
                self._writing = contents is not None
            if contents is None:
                return
            try:
                if _identity(self.path) != self._on_disk:
                    self._divert()
                if not self._traces_file_known:
                    self._traces_file = named_traces_file(self.path)
                    self._traces_file_known = True
                contents = self._with_traces_on_disk(contents)
                write_session(self.path, contents, overwrite=True, write_traces=False)
            except Exception as error:  # a full disk, a folder made read-only, ...
                written = False
                self._on_failed(f"{self.path}: the session was not saved ({failure_reason(error)})")
            else:
                written = True
                self._on_disk = _identity(self.path)
                self._forget_traces_file(contents)
                self._on_saved(SessionSaved(self.path, contents.revision, contents.saved_at))
            with self._condition:
                self._writing = False
                self._attempted = max(self._attempted, contents.revision)
                if written:
                    self._written = max(self._written, contents.revision)
                self._condition.notify_all()

    def _with_traces_on_disk(self, contents: SessionContents) -> SessionContents:
        """``contents`` naming the newest traces whose file is there; newer traces go to
        their own thread, and the session names them once they are written."""
        traces = contents.traces
        if traces is None or not traces.traces:
            return contents
        named = self._traces_named
        if named is not None and named.digest == traces.digest:
            return contents
        if traces_on_disk(self.path, traces):  # e.g. a restored session's own
            self._traces_named = traces
            return contents
        with self._condition:
            self._traces_wanted = traces
            self._condition.notify_all()
        return replace(contents, traces=named)

    def _traces_loop(self) -> None:
        while True:
            with self._condition:
                self._condition.wait_for(lambda: self._traces_wanted is not None or self._closing)
                traces, self._traces_wanted = self._traces_wanted, None
                self._traces_busy = traces is not None
            if traces is None:
                return
            try:
                write_traces_file(self.path, traces)
            except Exception as error:
                done = False
                self._on_failed(f"{self.path}: the traces were not saved ({failure_reason(error)})")
            else:
                done = True
            with self._condition:
                self._traces_busy = False
                if done:
                    self._traces_named = traces
                    if self._pending is None and self._latest is not None:
                        self._pending = self._latest  # the session now names them
                self._condition.notify_all()


def failure_reason(error: Exception) -> str:
    """An error in a few words: the system's own for a file error (without a temporary's name)."""
    import errno

    if isinstance(error, OSError) and error.strerror:
        if error.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
            return f"its folder cannot be written: {error.strerror}"
        return error.strerror
    return str(error)


def _identity(path: Path):
    """What tells a file apart from another written in its place; None when there is none."""
    try:
        status = path.stat()
    except OSError:
        return None
    return (status.st_ino, status.st_size, status.st_mtime_ns)
