"""The ROI masks dock's session controls: the autosave line, and the offer to restore a session.

The session file belongs to the file the ROIs came from (the ROI layer's), or to
the movie for ROIs drawn on it (:func:`~napari_roimasks.io.session_file.session_path_for`).
When that file already has a session, the dock offers to restore it (nothing is
written meanwhile); *Start afresh* keeps the old session under another name.
The model's :class:`~napari_roimasks.model.session.Autosave` does the writing.
"""

from __future__ import annotations

import contextlib
import os
from datetime import datetime
from pathlib import Path

from magicgui.widgets import CheckBox, Container, Label, PushButton
from napari.layers import Image, Labels, Shapes
from napari.qt.threading import create_worker
from napari.utils.notifications import show_info, show_warning
from qtpy.QtCore import QObject, QTimer, Signal

from .._reader import roi_layer_keys
from ..io.movies import MovieFileError
from ..io.roi_set import RoiFileError
from ..io.session_file import (
    is_session_file,
    read_session,
    session_beside,
    session_path_for,
    set_aside,
)
from ..model.session import Autosave, failure_reason, restore_session_extras
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
    curating : callable() -> bool
        Whether the model holds that layer's ROIs (its read did not fail).
    """

    def __init__(self, viewer, model, source, set_source, curating):
        self.viewer = viewer
        self.model = model
        self._source = source
        self._set_source = set_source
        self._curating = curating
        self.autosave: Autosave | None = None
        self.offered: Path | None = None  # a session on disk the user has not answered about
        self._holding: Autosave | None = None  # where changes go while the offer waits
        self._answered: set[Path] = set()  # sessions restored or set aside in this viewer
        self._owners: dict[Path, str] = {}  # session -> the layer it is kept for (unique_id)
        self._closed = False
        self._worker = None
        # autosaves stopped without waiting (another layer is curated): the dock's close
        # waits for their last writes too, so closing the viewer at once loses nothing
        self._finishing: list[Autosave] = []
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
        """Follow the ROI layer and the open files: autosave to their session, or offer it.

        A session is kept for one layer: another layer whose file names the same session
        (the layer a restore hid, a second layer painted on one movie) gets no autosave.
        """
        if self._closed:
            return
        anchor = self.anchor()
        target = None if anchor is None else session_path_for(anchor)
        source = self._source()
        curated = source is not None and self._curating()
        owner = None if source is None else source.unique_id
        if (
            self.autosave is not None
            and self.autosave.target == target
            and curated
            and self._owners.get(target) == owner
        ):
            return
        if self.offered is not None and self.offered == target:
            if curated and self._holding is None:
                self._hold()
            return
        self.stop()
        self._show_offer(None)
        if target is None:
            self._status.value = "Autosave: off until the movie or the ROIs come from a file"
            return
        holder = self._owners.get(target)
        if holder is not None and holder != owner and self._layer(holder) is None:
            # the layer it was kept for is gone: a layer opened again is offered it
            del self._owners[target]
            self._answered.discard(target)
        if target.exists() and target not in self._answered:
            if is_session_file(anchor):  # the session itself was opened: the rest of it
                if self._worker is not None:
                    return  # being read
                if curated:
                    self._read(target, restore_layer=False)
                else:
                    self._status.value = "Autosave: starts once the ROI layer is read"
            else:
                self._show_offer(target)
                if curated:
                    self._hold()
            return
        if not curated:
            self._status.value = "Autosave: starts once the ROI layer is read"
            return
        holder = self._owners.get(target)
        if holder is not None and holder != owner:
            self._status.value = (
                f"Autosave: off, {target.name} is kept for {self._layer(holder).name!r}"
            )
            return
        self._owners[target] = owner
        self._answered.add(target)  # this viewer's own session: never offered to it again
        self._start_autosave(target)

    def _layer(self, unique_id):
        return next((layer for layer in self.viewer.layers if layer.unique_id == unique_id), None)

    # -- the offer ----------------------------------------------------------------------------
    def _show_offer(self, path: Path | None) -> None:
        self.offered = path
        visible = path is not None
        self._offer.visible = self._buttons.visible = visible
        if visible:
            when = datetime.fromtimestamp(path.stat().st_mtime).strftime("%Y-%m-%d %H:%M")
            self._offer.value = f"An autosaved session of this file exists ({path.name}, {when})"
            self._status.value = "Until you choose, changes are kept in a session of their own"

    def _hold(self) -> None:
        """While the offer waits, changes go to a session of their own beside it (written at
        the first change): the offered session stays as it is, and nothing is lost."""
        self._holding = self._autosave_to(session_beside(self.offered, datetime.now()))

    def _let_go_of_holding(self, *, wait: bool) -> Path | None:
        """Stop the offer's own session; its file when changes went there."""
        holding, self._holding = self._holding, None
        if holding is None:
            return None
        changed = holding.revision > 0
        self._close_autosave(holding, wait=wait)
        return holding.path if changed else None

    def restore(self) -> None:
        """Restore the offered session (read in the background)."""
        if self.offered is not None:
            self._read(self.offered, restore_layer=True)

    def start_afresh(self) -> None:
        """Keep the offered session under another name and autosave this one in its place."""
        path = self.offered
        if path is None:
            return
        try:
            kept = set_aside(path)
        except OSError as error:
            show_warning(
                f"{path}: the earlier session could not be kept aside ({failure_reason(error)})"
            )
            return
        self._answered.add(path)
        show_info(f"The earlier session is kept as {kept.name}")
        self._show_offer(None)
        held = self._let_go_of_holding(wait=True)
        if held is not None and held.exists():
            with contextlib.suppress(OSError):  # what was kept meanwhile becomes the session
                os.replace(held, path)
        self.follow()

    def _read(self, path: Path, *, restore_layer: bool) -> None:
        self._status.value = f"Reading the session {path.name}…"
        self._restore.enabled = self._afresh.enabled = False
        source = self._source()
        asked = (path, restore_layer, None if source is None else source.unique_id)
        worker = create_worker(
            read_session,
            path,
            _start_thread=False,
            _connect={
                "returned": lambda session: self._restored(asked, session),
                "errored": lambda error: self._read_failed(path, error),
            },
        )
        self._worker = worker
        worker.start()

    def _still_asked(self, asked) -> bool:
        """Whether the dock still shows what it showed when the read was asked for."""
        path, restore_layer, source_id = asked
        source = self._source()
        if self._closed or (None if source is None else source.unique_id) != source_id:
            return False
        return self.offered == path if restore_layer else True

    def _read_failed(self, path: Path, error) -> None:
        self._worker = None
        self._restore.enabled = self._afresh.enabled = True
        message = str(error) if isinstance(error, RoiFileError) else f"{path}: {error}"
        show_warning(f"Session not restored: {message}")
        if not self._closed:
            self._status.value = "Session not restored; Start afresh keeps it aside"

    def _restored(self, asked, session) -> None:
        self._worker = None
        self._restore.enabled = self._afresh.enabled = True
        path, restore_layer, _ = asked
        if not self._still_asked(asked):  # another layer, or the dock closed, meanwhile
            if not self._closed:
                self._status.value = f"{path.name} was read for another layer: not restored"
                self.follow()
            return
        self._answered.add(path)
        if restore_layer:
            earlier = self._source()
            layers = self.viewer.open(str(path), plugin="napari-roimasks")
            rois = [unwrap(layer) for layer in layers if isinstance(layer, (Labels, Shapes))]
            if not rois:
                show_warning(f"Session not restored: {path} holds no ROIs")
                return
            self._show_offer(None)
            held = self._let_go_of_holding(wait=False)
            if earlier is not None and earlier is not rois[0]:
                earlier.visible = False
            self._set_source(rois[0])  # the dock reads the ROIs, decisions, groups, settings
            if held is not None:
                show_info(f"The changes made before restoring are kept in {held.name}")
        layer = self._source()
        kind = "shapes" if isinstance(layer, Shapes) else "labels"
        keys = roi_layer_keys(session.rois, kind)
        if kind == "shapes":  # outlines drawn back lose pixels: the model keeps the session's
            crops = {keys[e.id]: e.crop for e in session.rois.rois if e.id in keys}
            self.model.update_rois(crops)
        problem = restore_session_extras(self.model, session, keys)
        if problem is not None:
            show_warning(f"{path.name}: {problem}; the rest is restored")
        if session.traces_problem is not None:
            show_warning(
                f"{path.name}: traces not restored, {session.traces_problem}: extract again"
            )
        unshown = len(session.rois.rois) - len(keys) if kind == "shapes" else 0
        if unshown:
            show_warning(f"{path.name}: {unshown} ROIs without pixels are not shown as shapes")
        self._open_movie(session)
        self.follow()
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
    def _autosave_to(self, path: Path) -> Autosave:
        return Autosave(
            self.model,
            path,
            schedule=lambda delay, callback: QTimer.singleShot(round(delay * 1000), callback),
            keep_traces=self._keep_traces.value,
            on_saved=self._reports.saved.emit,
            on_failed=self._reports.failed.emit,
        )

    def _start_autosave(self, path: Path) -> None:
        self.autosave = self._autosave_to(path)
        self._status.value = f"Autosave: {path.name}"
        if not path.exists() and self.model.rings is not None:
            self.autosave.changed()  # the session exists from its start

    def stop(self, *, wait: bool = False) -> None:
        """Stop autosaving: what is unsaved is snapshot now and written (``wait``: before this
        returns, as when the viewer closes; else in the background)."""
        autosave, self.autosave = self.autosave, None
        self._close_autosave(autosave, wait=wait)
        self._let_go_of_holding(wait=wait)

    def _close_autosave(self, autosave: Autosave | None, *, wait: bool) -> None:
        if autosave is None:
            return
        if not wait:
            self._finishing = [a for a in self._finishing if a.writing] + [autosave]
        if not autosave.close(wait=wait) and wait:
            show_warning(f"{autosave.path}: the last changes could not be saved")

    def _on_keep_traces(self, on: bool) -> None:
        for autosave in (self.autosave, self._holding):
            if autosave is not None:
                autosave.keep_traces = on
                autosave.changed()

    def _on_saved(self, saved) -> None:
        if self._closed:  # a last write's report, queued while the dock closed
            return
        if self.autosave is None or saved.path != self.autosave.path:
            if self._holding is not None and saved.path == self._holding.path:
                self._status.value = f"Changes kept in {saved.path.name} until you choose"
            return
        self._last_failure = ""
        # the same text at every save (a new text re-lays out the window: a visible stall);
        # the time goes in the tooltip
        self._status.value = f"Autosaved to {saved.path.name}"
        self._status.tooltip = f"Last saved at {saved.saved_at:%H:%M:%S}"

    def _on_failed(self, message: str) -> None:
        if not self._closed:
            self._status.value = "Autosave failed: see the notification"
        if message != self._last_failure:  # once, not at every change
            self._last_failure = message
            show_warning(message)

    def close(self) -> None:
        """Write what is unsaved and stop (the dock closes)."""
        self._closed = True
        self.stop(wait=True)
        for autosave in self._finishing:  # stopped earlier: their last writes end first
            self._close_autosave(autosave, wait=True)
        self._finishing = []
        if self._worker is not None:
            self._worker.quit()


def _file_of(layer) -> str | None:
    """The file a layer was opened from (this plugin's readers record it; napari's own too)."""
    path = layer.metadata.get("path") or getattr(getattr(layer, "source", None), "path", None)
    return str(path) if path else None
