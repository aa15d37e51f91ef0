"""The curator's session file, ``*.session.roimasks.h5``: the ROIs and everything around them.

A session file is a ``*.roimasks.h5`` (:mod:`napari_roimasks.io.formats.roimasks_h5`:
every ROI, overlaps kept, its group, decision and reason, the border, the ring
options, the image size), so any reader of ROIs opens it, plus:

- the attributes of the group ``session``: ``saved_at`` (ISO 8601 with the zone),
  ``revision`` (how many changes the saving program had seen: 0, 1, 2, ... within
  one run), ``movie_path`` and ``movie_dataset`` (the movie the traces are
  extracted from, "" when none), ``cell_diameter`` (the summary images'
  setting), ``contamination_ratio`` and ``fit_contamination_ratio`` (how the
  neuropil correction chooses r), and ``quality`` when the curator set threshold
  rules or trained a classifier (JSON text: plain numbers and names, never pickle;
  see :meth:`napari_roimasks.model.quality.RoiQuality.to_json`), and ``origins``
  when ROIs were merged or split (JSON: ROI id -> ``{"merged_from": [ids]}`` or
  ``{"split_from": id}``);
- optionally the extracted traces, as the link ``traces`` (an HDF5 external link, which
  h5py and HDF5 tools follow) to the group ``traces`` of
  ``<name>.session-traces-<digest>.h5`` beside it (:func:`traces_path_for`): ``ids``
  (as in ``rois/ids``), ``roi`` and ``neuropil`` ((n, frames) float64), ``fitted_r``
  ((n,) float64) and ``fingerprints`` ((n, 16) uint8: what each ROI's traces were read
  from), with the attributes ``movie`` (the movie's token, see
  :func:`napari_roimasks.model.traces.movie_token`) and ``digest``. The session's
  ``session`` attributes ``traces_file`` and ``traces_digest`` name the traces it
  was written with: traces of another digest are never taken for its own. A traces
  file is named after its digest, so new traces never replace the file an earlier
  session (the previous save, a session set aside) still names. Traces whose
  fingerprint still matches the reopened movie and ROI need no re-extraction.

Why two files: traces change only when they are extracted, decisions at every
key press. The session (ROIs, decisions, settings: kilobytes) is rewritten at
each autosave, the traces file (500 ROIs x 30,000 frames: 240 MB) only when
the traces change. Each file is replaced atomically.

The session of a movie or ROI file ``<dir>/<name>.<suffix>`` is
``<dir>/<name>.session.roimasks.h5`` (:func:`session_path_for`).
"""

from __future__ import annotations

import hashlib
import io
import math
import os
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from pathlib import Path

import numpy as np

from ..core.neuropil_correction import DEFAULT_CONTAMINATION_RATIO
from .atomic import atomic_path, write_atomically
from .formats.roimasks_h5 import read_roimasks_h5, write_rois_into
from .roi_set import RoiFileError, RoiSet, id_from_text

__all__ = [
    "SESSION_SUFFIX",
    "SavedTraces",
    "SessionContents",
    "is_session_file",
    "named_traces_file",
    "read_session",
    "session_beside",
    "session_path_for",
    "set_aside",
    "traces_files_named",
    "traces_on_disk",
    "traces_path_for",
    "write_session",
    "write_traces_file",
]

SESSION_SUFFIX = ".session.roimasks.h5"
ROIMASKS_SUFFIX = ".roimasks.h5"
TRACES_MARK = ".session-traces-"
#: Rows of traces written per call: h5py holds its lock (and Python's) for one call, so a
#: short call keeps the viewer's own reads of an HDF5 movie responsive during an autosave.
_ROWS_PER_WRITE = 64


@dataclass(frozen=True)
class SavedTraces:
    """Extracted traces as a session keeps them.

    Attributes
    ----------
    movie : str
        The token of the movie they were read from.
    traces : dict
        ROI key -> ``(fingerprint, roi, neuropil, fitted_r)``: ``fingerprint`` bytes (16),
        ``roi`` and ``neuropil`` (frames,) float64 ndarrays, ``fitted_r`` float.
    """

    movie: str
    traces: dict = field(repr=False)

    @cached_property
    def digest(self) -> str:
        """Identifies these traces: their movie and each ROI's key and fingerprint (the same
        fingerprint, the same numbers: extraction is exact)."""
        digest = hashlib.blake2b(self.movie.encode(), digest_size=16)
        for key, (fingerprint, *_rest) in self.traces.items():
            digest.update(repr(key).encode())
            digest.update(fingerprint)
        return digest.hexdigest()


@dataclass(frozen=True)
class SessionContents:
    """Everything a session file holds.

    Attributes
    ----------
    rois : RoiSet
        The ROIs with their decisions, the border, ring options and image size.
    movie_path : str or None
        The movie file the traces are extracted from.
    movie_dataset : str or None
        Its HDF5 dataset (None for a TIFF or when unknown).
    cell_diameter : float or None
        The summary images' cell diameter (the enhanced mean's).
    contamination_ratio : float
        The fixed r of ``F - r * Fneu``.
    fit_contamination_ratio : bool
        True: r is fitted per ROI instead.
    traces : SavedTraces or None
        The extracted traces, when kept.
    traces_problem : str or None
        Why the traces the session was written with were not read (their file is missing,
        or holds other traces); None when read or never kept.
    quality : str or None
        The threshold rules and the classifier, as JSON text (None: neither).
    origins : str or None
        Which ROIs were merged or split from which, as JSON text (None: none).
    saved_at : datetime or None
        When the file was written (timezone-aware).
    revision : int
        How many changes the saving program had seen when it wrote the file.
    """

    rois: RoiSet
    movie_path: str | None = None
    movie_dataset: str | None = None
    cell_diameter: float | None = None
    contamination_ratio: float = DEFAULT_CONTAMINATION_RATIO
    fit_contamination_ratio: bool = False
    traces: SavedTraces | None = None
    traces_problem: str | None = None
    quality: str | None = None
    origins: str | None = None
    saved_at: datetime | None = None
    revision: int = 0


def session_path_for(path) -> Path:
    """Where the session of a movie or ROI file is kept: beside it, named after it.

    The file's name less its last suffix (``.roimasks.h5`` counts as one) names it:
    ``mouse1.day2.h5`` gives ``mouse1.day2.session.roimasks.h5``, ``rois.roimasks.h5``
    gives ``rois.session.roimasks.h5``; a session file is its own session; a folder
    (e.g. suite2p's ``plane0``) keeps ``curation.session.roimasks.h5`` inside it.
    """
    path = Path(os.fspath(path))
    if is_session_file(path):
        return path
    if path.is_dir():
        return path / f"curation{SESSION_SUFFIX}"
    return path.with_name(_stem(path) + SESSION_SUFFIX)


def _stem(path: Path) -> str:
    """A file's name less its suffix (``.roimasks.h5`` and ``.session.roimasks.h5`` whole)."""
    name = path.name
    for suffix in (SESSION_SUFFIX, ROIMASKS_SUFFIX):
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return path.stem


def traces_path_for(path, digest: str) -> Path:
    """The traces file of a session file for traces of ``digest``:
    ``<name>.session-traces-<digest's first 16 characters>.h5`` beside it."""
    path = Path(os.fspath(path))
    return path.with_name(f"{_stem(path)}{TRACES_MARK}{digest[:16]}.h5")


def set_aside(path) -> Path:
    """Keep a session file under a name of its own, ``<name>.session-<time>.roimasks.h5``
    (its last change's time), so that a new session can take its place; nothing is deleted.
    The traces file it names stays where it is (a new session writes its own).

    Returns
    -------
    Path
        Where it is now.

    Raises
    ------
    OSError
        When it cannot be renamed (it stays where it was, whole).
    """
    import shutil

    path = Path(os.fspath(path))
    when = datetime.fromtimestamp(path.stat().st_mtime)
    while True:
        kept = session_beside(path, when)
        try:
            with open(path, "rb") as source:
                write_atomically(kept, lambda out: shutil.copyfileobj(source, out))
        except FileExistsError:  # taken meanwhile: the next free name
            continue
        path.unlink()
        return kept


def session_beside(path, when: datetime) -> Path:
    """A free name for a session of its own beside the session file ``path``:
    ``<name>.session-<when>.roimasks.h5`` (``-2``, ``-3``, ... when taken). A session set
    aside, one kept while an offer waits, and one another program's writes sent aside all
    take such a name, which no movie or ROI file names as its session.

    Raises
    ------
    FileExistsError
        When a thousand such names are taken.
    """
    path = Path(os.fspath(path))
    stamp = when.strftime("%Y%m%d-%H%M%S")
    for n in range(1, 1000):
        kept = path.with_name(
            f"{_stem(path)}.session-{stamp}{'' if n == 1 else f'-{n}'}{ROIMASKS_SUFFIX}"
        )
        if not kept.exists():
            return kept
    raise FileExistsError(f"{path}: too many sessions kept beside it")


def named_traces_file(path) -> str | None:
    """The traces file a session file names; None without one (or without the file)."""
    import h5py

    try:
        with h5py.File(path, "r") as h5:
            value = h5["session"].attrs.get("traces_file") if "session" in h5 else None
    except OSError:
        return None
    return _text(value) or None


def traces_files_named(folder, *, besides=()) -> set[str]:
    """The traces files the session files in ``folder`` name (except those in ``besides``)."""
    skip = {Path(p).name for p in besides}
    named = (
        named_traces_file(candidate)
        for candidate in Path(folder).glob(f"*{ROIMASKS_SUFFIX}")
        if candidate.name not in skip
    )
    return {name for name in named if name}


def is_session_file(path) -> bool:
    """Whether ``path`` is named as a session file (``*.session.roimasks.h5``)."""
    return os.fspath(path).lower().endswith(SESSION_SUFFIX)


def write_session(
    path, session: SessionContents, *, overwrite: bool = True, write_traces: bool = True
) -> Path:
    """Write a session file atomically: a reader sees the previous file or this one, whole.

    Parameters
    ----------
    path : str or os.PathLike
    session : SessionContents
    overwrite : bool, optional
        Replace an existing file (an autosave does).
    write_traces : bool, optional
        Write the traces file first unless it is there (:func:`write_traces_file`). False:
        the caller wrote it, and the session only names it.

    Raises
    ------
    FileExistsError
        If the file exists and ``overwrite`` is False.
    OSError
        When the file cannot be written (the previous one is left as it was).
    """
    import h5py

    traces = session.traces if session.traces is not None and session.traces.traces else None
    if traces is not None:
        digest = traces.digest
        traces_path = traces_path_for(path, digest)
        if write_traces:  # first: the session then names them
            write_traces_file(path, traces)
    # built in memory, then written in one call that lets go of Python's lock: h5py holds
    # it in every call, and a write that waits for a busy disk would stall the viewer
    image = io.BytesIO()
    with h5py.File(image, "w") as h5:
        write_rois_into(h5, session.rois)
        attrs = h5.create_group("session").attrs
        saved_at = session.saved_at or datetime.now().astimezone()
        attrs["saved_at"] = saved_at.isoformat()
        attrs["revision"] = int(session.revision)
        attrs["movie_path"] = session.movie_path or ""
        attrs["movie_dataset"] = session.movie_dataset or ""
        attrs["cell_diameter"] = (
            math.nan if session.cell_diameter is None else float(session.cell_diameter)
        )
        attrs["contamination_ratio"] = float(session.contamination_ratio)
        attrs["fit_contamination_ratio"] = bool(session.fit_contamination_ratio)
        if session.quality:
            attrs["quality"] = session.quality
        if session.origins:
            attrs["origins"] = session.origins
        if traces is not None:
            attrs["traces_file"] = traces_path.name
            attrs["traces_digest"] = digest
            h5["traces"] = h5py.ExternalLink(traces_path.name, "/traces")
    with atomic_path(path, overwrite=overwrite) as temporary, open(temporary, "wb") as file:
        file.write(image.getbuffer())
    return Path(path)


def write_traces_file(path, traces: SavedTraces) -> Path:
    """Write the traces file of the session file ``path`` for ``traces``, atomically, unless
    a file of theirs is there already; returns it."""
    traces_path = traces_path_for(path, traces.digest)
    if not traces_on_disk(path, traces):
        with atomic_path(traces_path, overwrite=True) as temporary:
            _write_traces(temporary, traces, traces.digest)
    return traces_path


def traces_on_disk(path, traces: SavedTraces) -> bool:
    """Whether the traces file of the session file ``path`` for ``traces`` is there, whole."""
    return _traces_digest(traces_path_for(path, traces.digest)) == traces.digest


def _traces_digest(path: Path) -> str | None:
    """The digest a traces file holds; None for no file, or one that is not a traces file."""
    import h5py

    try:
        with h5py.File(path, "r") as h5:
            return _text(h5["traces"].attrs["digest"])
    except (OSError, KeyError):
        return None


def _write_traces(path: Path, saved: SavedTraces, digest: str) -> None:
    """Write a traces file: h5py lays it out (the traces' space reserved, not filled), then
    the traces' bytes go to their places with ``os.pwrite``, which lets go of Python's lock
    (h5py holds it in every call: a write that waits for a busy disk would stall the viewer)."""
    import h5py

    keys = list(saved.traces)
    n_frames = len(saved.traces[keys[0]][1])
    with h5py.File(path, "w") as h5:
        group = h5.create_group("traces")
        group.attrs["movie"] = saved.movie
        group.attrs["digest"] = digest
        group["ids"] = np.array([str(k).encode() for k in keys], dtype="S")
        group["fingerprints"] = np.array(
            [np.frombuffer(saved.traces[k][0], np.uint8) for k in keys], dtype=np.uint8
        ).reshape(len(keys), -1)
        group["fitted_r"] = np.array([saved.traces[k][3] for k in keys], dtype=np.float64)
        offsets = {}
        for name in ("roi", "neuropil"):
            layout = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
            layout.set_layout(h5py.h5d.CONTIGUOUS)
            layout.set_alloc_time(h5py.h5d.ALLOC_TIME_EARLY)
            layout.set_fill_time(h5py.h5d.FILL_TIME_NEVER)
            space = h5py.h5s.create_simple((len(keys), n_frames))
            dataset = h5py.h5d.create(
                group.id, name.encode(), h5py.h5t.IEEE_F64LE, space, dcpl=layout
            )
            offsets[name] = dataset.get_offset()
    row_bytes = n_frames * 8
    with open(path, "r+b") as file:
        for column, name in ((1, "roi"), (2, "neuropil")):
            for start in range(0, len(keys), _ROWS_PER_WRITE):
                rows = keys[start : start + _ROWS_PER_WRITE]
                block = np.stack([saved.traces[k][column] for k in rows]).astype("<f8")
                os.pwrite(file.fileno(), block.tobytes(), offsets[name] + start * row_bytes)


def read_session(path) -> SessionContents:
    """Read a session file (any ``*.roimasks.h5`` reads as a session of ROIs alone).

    Raises
    ------
    RoiFileError
        Naming the file and what is wrong with it.
    """
    import h5py

    path = Path(os.fspath(path))
    rois: RoiSet = read_roimasks_h5(path)
    try:
        with h5py.File(path, "r") as h5:
            attrs = dict(h5["session"].attrs) if "session" in h5 else {}
    except OSError as error:
        raise RoiFileError(f"{path}: its session cannot be read ({error})") from None
    traces, problem = None, None
    if "traces_file" in attrs:
        traces, problem = _read_traces_file(
            path.with_name(_text(attrs["traces_file"])), _text(attrs.get("traces_digest")), rois
        )
    try:
        saved_at = attrs.get("saved_at")
        diameter = float(attrs.get("cell_diameter", math.nan))
        return SessionContents(
            rois,
            movie_path=_text(attrs.get("movie_path")) or None,
            movie_dataset=_text(attrs.get("movie_dataset")) or None,
            cell_diameter=None if math.isnan(diameter) else diameter,
            contamination_ratio=float(
                attrs.get("contamination_ratio", DEFAULT_CONTAMINATION_RATIO)
            ),
            fit_contamination_ratio=bool(attrs.get("fit_contamination_ratio", False)),
            traces=traces,
            traces_problem=problem,
            quality=_text(attrs.get("quality")) or None,
            origins=_text(attrs.get("origins")) or None,
            saved_at=datetime.fromisoformat(_text(saved_at)) if saved_at is not None else None,
            revision=int(attrs.get("revision", 0)),
        )
    except (ValueError, TypeError) as error:
        raise RoiFileError(f"{path}: an inconsistent session file ({error})") from None


def _read_traces_file(path: Path, digest: str, rois: RoiSet) -> tuple:
    """``(SavedTraces or None, problem or None)``: a session's traces, if its file holds them."""
    import h5py

    try:
        with h5py.File(path, "r") as h5:
            group = h5["traces"]
            if _text(group.attrs.get("digest")) != digest:
                return None, f"{path.name} holds other traces than the session's"
            return _read_traces(group, rois), None
    except FileNotFoundError:
        return None, f"its traces file {path.name} is missing"
    except (OSError, KeyError, ValueError, TypeError) as error:
        return None, f"its traces file {path.name} cannot be read ({error})"


def _read_traces(group, rois: RoiSet) -> SavedTraces:
    kinds = {str(r.id): r.id for r in rois.rois}  # the ROIs' ids, as ints or text
    ids = [i.decode() for i in group["ids"][()]]
    fingerprints = group["fingerprints"][()]
    fitted = group["fitted_r"][()]
    roi, neuropil = group["roi"][()], group["neuropil"][()]
    if not (len(ids) == len(fingerprints) == len(fitted) == len(roi) == len(neuropil)):
        raise ValueError("the traces' datasets do not hold one row for each ROI")
    traces = {
        kinds.get(text, id_from_text(text)): (
            fingerprints[i].tobytes(),
            roi[i],
            neuropil[i],
            float(fitted[i]),
        )
        for i, text in enumerate(ids)
    }
    return SavedTraces(_text(group.attrs["movie"]), traces)


def _text(value) -> str:
    if value is None:
        return ""
    return value.decode() if isinstance(value, bytes) else str(value)
