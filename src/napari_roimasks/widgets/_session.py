"""The ROI masks dock's session controls: the autosave line, and the offer to restore a session.

The session file belongs to the file the ROIs came from (the ROI layer's), or to
the movie for ROIs drawn on it (:func:`~napari_roimasks.io.session_file.session_path_for`).
When that file already has a session, the dock offers to restore it (nothing is
written meanwhile); *Start afresh* keeps the old session under another name.
The model's :class:`~napari_roimasks.model.session.Autosave` does the writing.
"""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

from magicgui.widgets import CheckBox, Container, Label, PushButton
from napari.layers import Image, Labels, Shapes
from napari.qt.threading import create_worker
from napari.utils.notifications import show_info, show_warning
from qtpy.QtCore import QObject, QTimer, Signal

from ..io.movies import MovieFileError
from ..io.roi_set import RoiFileError
from ..io.session_file import is_session_file, read_session, session_path_for, set_aside
from ..model.session import Autosave, restore_session_extras
from ._napari import unwrap

__all__ = ["SessionControls"]


class _Reports(QObject):
    """Carries the autosave thread's reports to the GUI thread (Qt queues them)."""

    saved = Signal(object)
    failed = Signal(str)


class SessionControls:
    """Autosaves the curated session and offers to restore one found on disk.

    Parameters
    ----------
    viewer : napari.Viewer
    model : RoiModel
    source : callable() -> layer or None
        The ROI layer being curated.
    set_source : callable(layer)
        Curate another layer (the restored one).
    """

    def __init__(self, viewer, model, source, set_source):
        self.viewer = viewer
        self.model = model
        self._source = source
        self._set_source = set_source
        self.autosave: Autosave | None = None
        self.offered: Path | None = None  # a session on disk the user has not answered about
        self._answered: set[Path] = set()  # sessions restored or set aside in this viewer
        self._worker = None
        self._reports = _Reports()
        self._reports.saved.connect(self._on_saved)
        self._reports.failed.connect(self._on_failed)
        self._last_failure = ""

        self._status = Label(value="")
        self._offer = Label(value="")
        self._restore = PushButton(text="Restore session")
        self._restore.tooltip = (
            "Open the autosaved session: its ROIs (as a new layer), decisions, settings and "
            "traces; the layer you opened is hidden, not changed"
        )
        self._afresh = PushButton(text="Start afresh")
        self._afresh.tooltip = (
            "Keep the autosaved session under another name (nothing is deleted) and autosave "
            "this session in its place"
        )
        self._keep_traces = CheckBox(text="session keeps the traces", value=True)
        self._keep_traces.tooltip = (
            "Write the extracted traces into the session file too, so that reopening it needs no "
            "extraction (larger file, longer saves)"
        )
        self._buttons = Container(
            widgets=[self._restore, self._afresh], layout="horizontal", labels=False
        )
        #: the offer and the autosave line, for the dock to keep in view
        self.widget = Container(widgets=[self._offer, self._buttons, self._status], labels=False)
        #: the session's settings, for the dock to place among its own
        self.options = [self._keep_traces]
        self.widget.native.layout().setContentsMargins(6, 0, 6, 0)
        self._restore.changed.connect(lambda: self.restore())
        self._afresh.changed.connect(lambda: self.start_afresh())
        self._keep_traces.changed.connect(self._on_keep_traces)
        self._show_offer(None)
        self.follow()

    # -- which file ---------------------------------------------------------------------------
    def anchor(self) -> Path | None:
        """The file the session belongs to: the ROI layer's file, else the movie's; None."""
        source = self._source()
        path = None if source is None else _file_of(source)
        if path is None:
            movies = [
                layer
                for layer in self.viewer.layers
                if isinstance(layer, Image) and layer.ndim >= 3 and _file_of(layer)
            ]
            path = _file_of(movies[0]) if movies else None
        return None if path is None else Path(path)

    def follow(self) -> None:
        """Follow the ROI layer and the open files: autosave to their session, or offer it."""
        anchor = self.anchor()
        target = None if anchor is None else session_path_for(anchor)
        if self.autosave is not None and self.autosave.path == target:
            return
        if self.offered is not None and self.offered == target:
            return
        self._stop_autosave()  # writes the last changes to the session they belong to
        self._show_offer(None)
        source = self._source()
        if target is None:
            self._status.value = "Autosave: off until the movie or the ROIs come from a file"
            return
        if target.exists() and target not in self._answered:
            if source is not None and is_session_file(anchor):
                # the user opened the session itself: bring back the rest
                self._answered.add(target)
                self._read(target, restore_layer=False)
            else:
                self._show_offer(target)
            return
        if source is None:
            self._status.value = "Autosave: starts with the ROI layer"
            return
        self._start_autosave(target)

    # -- the offer ----------------------------------------------------------------------------
    def _show_offer(self, path: Path | None) -> None:
        self.offered = path
        visible = path is not None
        self._offer.visible = self._buttons.visible = visible
        if visible:
            when = datetime.fromtimestamp(path.stat().st_mtime).strftime("%Y-%m-%d %H:%M")
            self._offer.value = f"An autosaved session of this file exists ({path.name}, {when})"
            self._status.value = "Autosave waits until you restore it or start afresh"

    def restore(self) -> None:
        """Restore the offered session (read in the background)."""
        if self.offered is not None:
            path = self.offered
            self._answered.add(path)
            self._read(path, restore_layer=True)

    def start_afresh(self) -> None:
        """Keep the offered session under another name and autosave this one in its place."""
        path = self.offered
        if path is None:
            return
        try:
            kept = set_aside(path)
        except OSError as error:
            show_warning(f"{path}: the earlier session could not be kept aside ({error})")
            return
        self._answered.add(path)
        show_info(f"The earlier session is kept as {kept.name}")
        self._show_offer(None)
        self._start_autosave(path)

    def _read(self, path: Path, *, restore_layer: bool) -> None:
        self._status.value = f"Reading the session {path.name}…"
        self._restore.enabled = self._afresh.enabled = False
        worker = create_worker(
            read_session,
            path,
            _start_thread=False,
            _connect={
                "returned": lambda session: self._restored(path, session, restore_layer),
                "errored": lambda error: self._read_failed(path, error),
            },
        )
        self._worker = worker
        worker.start()

    def _read_failed(self, path: Path, error) -> None:
        self._worker = None
        self._restore.enabled = self._afresh.enabled = True
        message = str(error) if isinstance(error, RoiFileError) else f"{path}: {error}"
        show_warning(f"Session not restored: {message}")
        self._status.value = "Session not restored; autosave waits (Start afresh keeps it aside)"

    def _restored(self, path: Path, session, restore_layer: bool) -> None:
        self._worker = None
        self._restore.enabled = self._afresh.enabled = True
        if restore_layer:
            earlier = self._source()
            layers = self.viewer.open(str(path), plugin="napari-roimasks")
            rois = [unwrap(layer) for layer in layers if isinstance(layer, (Labels, Shapes))]
            if not rois:
                show_warning(f"Session not restored: {path} holds no ROIs")
                return
            if earlier is not None and earlier is not rois[0]:
                earlier.visible = False
            self._show_offer(None)
            self._set_source(rois[0])  # the dock reads the ROIs, decisions and settings
        restore_session_extras(self.model, session)
        if session.traces_problem is not None:
            show_warning(
                f"{path.name}: traces not restored, {session.traces_problem}: extract again"
            )
        self._open_movie(session)
        self._start_autosave(path)
        decided = sum(r.decision.value != "unlabeled" for r in session.rois.rois)
        show_info(
            f"Session restored from {path.name}: {len(session.rois.rois)} ROIs, {decided} decided"
        )

    def _open_movie(self, session) -> None:
        """Open the session's movie unless a layer shows it already."""
        path = session.movie_path
        if path is None:
            return
        open_paths = {
            os.path.realpath(layer.metadata["path"])
            for layer in self.viewer.layers
            if isinstance(layer, Image) and layer.metadata.get("path")
        }
        if os.path.realpath(path) in open_paths:
            return
        if not Path(path).is_file():
            show_warning(
                f"The session's movie {path} is not there: open it with 'Open movie file…'"
            )
            return
        try:
            from .._reader import movie_layer_data

            data, meta = movie_layer_data(path, session.movie_dataset)
        except (MovieFileError, OSError) as error:
            show_warning(f"The session's movie is not opened: {error}")
            return
        layer = self.viewer.add_image(data, **meta)
        self.viewer.layers.move(self.viewer.layers.index(layer), 0)  # under the ROIs

    # -- the autosave -------------------------------------------------------------------------
    def _start_autosave(self, path: Path) -> None:
        if self.autosave is not None and self.autosave.path == path:
            return
        self._stop_autosave()
        self.autosave = Autosave(
            self.model,
            path,
            schedule=lambda delay, callback: QTimer.singleShot(round(delay * 1000), callback),
            keep_traces=self._keep_traces.value,
            on_saved=self._reports.saved.emit,
            on_failed=self._reports.failed.emit,
        )
        self._status.value = f"Autosave: {path.name}"
        if not path.exists() and self.model.rings is not None:
            self.autosave.changed()  # the session exists from its start

    def _stop_autosave(self) -> None:
        if self.autosave is not None:
            if not self.autosave.close():
                show_warning(f"{self.autosave.path}: the last changes could not be saved")
            self.autosave = None

    def _on_keep_traces(self, on: bool) -> None:
        if self.autosave is not None:
            self.autosave.keep_traces = on
            self.autosave.changed()

    def _on_saved(self, saved) -> None:
        if self.autosave is None or saved.path != self.autosave.path:
            return
        self._last_failure = ""
        # the same text at every save (a new text re-lays out the window: a visible stall);
        # the time goes in the tooltip
        self._status.value = f"Autosaved to {saved.path.name}"
        self._status.tooltip = f"Last saved at {saved.saved_at:%H:%M:%S}"

    def _on_failed(self, message: str) -> None:
        self._status.value = "Autosave failed: see the notification"
        if message != self._last_failure:  # once, not at every change
            self._last_failure = message
            show_warning(message)

    def close(self) -> None:
        """Write what is unsaved and stop (the dock closes)."""
        self._stop_autosave()
        if self._worker is not None:
            self._worker.quit()


def _file_of(layer) -> str | None:
    """The file a layer was opened from (this plugin's readers record it; napari's own too)."""
    path = layer.metadata.get("path") or getattr(getattr(layer, "source", None), "path", None)
    return str(path) if path else None
