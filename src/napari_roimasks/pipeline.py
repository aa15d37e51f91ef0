"""The batch pipeline: movie + ROI file + settings -> the Allen pipeline's outputs.

Headless (numpy, h5py, the core): the command line is a thin face over it,
and the Traces dock's extraction job reads its traces through the same
:func:`trace_steps`. A run checks every job's inputs and output folder before
it reads a frame, and writes a job's outputs only once all of its traces are
in, as a set (:mod:`napari_roimasks.io.output_set`). Frames that cannot be
read raise :class:`MovieReadError`, naming the movie and the frames.

Settings the user leaves out come from the ROI file (a ``.roimasks.h5`` holds
the border and the ring options, Allen JSON the border), else AllenSDK's
defaults. With an NWB session in the settings, a job also writes
``rois.nwb`` (ROIs, neuropil masks, F and Fneu, and the session's metadata);
with a summary file name, the movie's summary images, computed in the same
read of the movie as the traces. ``BatchSettings.only`` keeps the ROIs a
curator decided are cells (or not cells): the rings are still drawn around
every ROI and leave every ROI's pixels out, so the chosen ROIs' numbers are
those of a full extraction.
"""

from __future__ import annotations

import contextlib
import csv
import importlib.util
import os
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .core.border import MotionBorder
from .core.distributed_traces import MovieResult
from .core.exclusions import masks_to_read, neuropil_exclusions, roi_exclusions
from .core.masks import MaskCrop
from .core.neuropil import RingOptions, allen_neuropil_crop
from .core.rings import NeuropilRings
from .core.summary_images import DEFAULT_CELL_DIAMETER
from .io.nwb import NWB_INSTALL
from .io.nwb_session import NwbSession
from .io.output_set import OutputSet, OutputSetError

__all__ = [
    "METRICS_OUTPUT",
    "NWB_OUTPUT",
    "ONLY_CHOICES",
    "OUTPUTS",
    "BatchJob",
    "BatchSettings",
    "InputError",
    "MovieMasks",
    "MovieReadError",
    "MovieResult",
    "check_cluster_movies",
    "check_summary_name",
    "chosen_rois",
    "decision_counts",
    "job_metrics",
    "jobs_from_files",
    "jobs_from_manifest",
    "metric_traces",
    "movie_source",
    "movie_steps",
    "prepare",
    "run_jobs",
    "same_file",
    "trace_steps",
    "write_outputs",
]

#: What a job writes into its output folder (the Allen pipeline's layout).
OUTPUTS = ("roi_traces.h5", "neuropil_traces.h5", "neuropil_masks.json", "exclusions.json")

#: The per-ROI quality metrics ``extract --metrics`` writes beside the traces.
METRICS_OUTPUT = "metrics.csv"
#: What it writes besides when the settings ask for NWB.
NWB_OUTPUT = "rois.nwb"
#: Outputs computed from the traces: an extraction that does not write them removes those an
#: earlier one wrote (see :class:`~napari_roimasks.io.output_set.OutputSet`'s ``replaces``)
DERIVED_OUTPUTS = (METRICS_OUTPUT, NWB_OUTPUT)
#: ``BatchSettings.only`` (``--only``): which ROIs' traces are extracted, by their decision.
ONLY_CHOICES = ("all", "cells", "not-cells")


class MovieReadError(OSError):
    """Frames of a movie cannot be read (a corrupt chunk, a file cut short); the message
    names the file and the frames."""


class InputError(ValueError):
    """Bad arguments or input; the message names the file or argument and what was expected."""


@dataclass(frozen=True)
class BatchSettings:
    """What the user asked for; None leaves the choice to the ROI file, then to AllenSDK.

    Parameters
    ----------
    border : MotionBorder, optional
        Overrides the ROI file's motion border (default: the file's, else none).
    outer_radius, inner_gap, min_pixels : int, optional
        Override the ROI file's ring options (default: the file's, else AllenSDK's).
    dataset : str, optional
        HDF5 dataset of the movie (default ``data``, or the file's only 3D dataset).
    block_size : int
        Most frames read at once.
    overwrite : bool
        Replace outputs that exist.
    nwb : NwbSession, optional
        Also write ``rois.nwb`` with this session's metadata (None: no NWB file).
    summary : str, optional
        Also write the movie's summary images, under this file name in the output
        folder (None: none).
    cell_diameter : float
        Cells' diameter in pixels, for the enhanced mean image.
    only : {"all", "cells", "not-cells"}
        Extract and write only the ROIs decided cells (or not cells); the rings
        still leave every ROI's pixels out.
    metrics_r : float or "fit", optional
        Also write ``metrics.csv`` (:data:`METRICS_OUTPUT`), the trace metrics from
        ``F - r * Fneu`` with this r, or AllenSDK's fitted r per ROI (None: no file).
    """

    border: MotionBorder | None = None
    outer_radius: int | None = None
    inner_gap: int | None = None
    min_pixels: int | None = None
    dataset: str | None = None
    block_size: int = 1000
    overwrite: bool = False
    nwb: NwbSession | None = None
    summary: str | None = None
    cell_diameter: float = DEFAULT_CELL_DIAMETER
    only: str = "all"
    metrics_r: float | str | None = None

    @property
    def outputs(self) -> tuple[str, ...]:
        """The files each job writes into its output folder."""
        extra = (NWB_OUTPUT,) if self.nwb is not None else ()
        if self.summary is not None:
            extra += (self.summary,)
        if self.metrics_r is not None:
            extra += (METRICS_OUTPUT,)
        return (*OUTPUTS, *extra)

    @property
    def replaced(self) -> tuple[str, ...]:
        """Files an earlier extraction into the folder wrote from its traces that this one does
        not write: they go with the old traces (stale metrics are never left beside new ones)."""
        return tuple(name for name in DERIVED_OUTPUTS if name not in self.outputs)

    def ring_options(self, from_file: RingOptions | None, *, file=None) -> RingOptions:
        """The ring options: the user's where given, else the file's, else AllenSDK's.

        Raises
        ------
        InputError
            Naming the options given (or ``file``, where the file's do not fit).
        """
        base = from_file or RingOptions()
        chosen = {
            name: getattr(base, name) if getattr(self, name) is None else getattr(self, name)
            for name in ("outer_radius", "inner_gap", "min_pixels")
        }
        try:
            return RingOptions(**chosen)
        except ValueError as error:
            given = [
                option for name, option in _RING_OPTIONS.items() if getattr(self, name) is not None
            ]
            raise InputError(f"{' and '.join(given) or file or 'ring options'}: {error}") from None


#: The command line's option for each ring setting, for messages.
_RING_OPTIONS = {
    "outer_radius": "--neuropil-radius",
    "inner_gap": "--inner-gap",
    "min_pixels": "--min-pixels",
}


@dataclass(frozen=True)
class MovieMasks:
    """One movie and the masks to read from it (None: a row of NaN), and whether its summary
    images are wanted from the same read.

    Give ``frames`` (any array-like frame source), or ``path`` (and ``dataset``)
    for the movie file to open; a Dask cluster needs ``path``.
    """

    masks: Sequence[MaskCrop | None]
    n_frames: int
    frames: object = None
    path: Path | None = None
    dataset: str | None = None
    summary: bool = False

    @contextlib.contextmanager
    def opened(self):
        """The frame source, closed again afterwards when it was opened here."""
        if self.frames is not None:
            yield self.frames
            return
        frames, handle = movie_source(Path(self.path), self.dataset)
        try:
            yield frames
        finally:
            if handle is not None:
                handle.close()


@dataclass
class BatchJob:
    """One movie's extraction: its inputs, output folder and, once prepared, its masks."""

    movie: Path
    rois_file: Path
    out: Path
    roi_ids: list = field(default_factory=list)
    mask_groups: list = field(default_factory=list)
    curation: list = field(default_factory=list)  # the RoiEntry of each ROI extracted
    n_rois_in_file: int = 0
    rois: list = field(default_factory=list)  # MaskCrop or None, per ROI
    rings: list = field(default_factory=list)  # the ring inside the usable area, per ROI
    allen_rings: list = field(default_factory=list)  # AllenSDK's neuropil box, per ROI
    exclusions: list = field(default_factory=list)  # AllenSDK's exclusion dicts
    border: MotionBorder = field(default_factory=MotionBorder)
    ring_options: RingOptions = field(default_factory=RingOptions)
    n_frames: int = 0
    image_shape: tuple[int, int] = (0, 0)
    dataset: str | None = None  # the HDF5 dataset the movie is read from (None: a TIFF)

    def masks_to_read(self) -> list[MaskCrop | None]:
        """Every ROI's mask, then every ring; None where AllenSDK gives a NaN row."""
        usable = self.border.usable_area(*self.image_shape)
        pairs = [
            masks_to_read(roi, ring, usable)
            for roi, ring in zip(self.rois, self.rings, strict=True)
        ]
        return [roi for roi, _ in pairs] + [ring for _, ring in pairs]

    def neuropil_ids(self) -> list:
        """The neuropil masks' ids, as AllenSDK names them."""
        return [None if i is None else f"neuropil for {i}" for i in self.roi_ids]


# -- jobs ---------------------------------------------------------------------------------------
def jobs_from_files(files: Sequence[Path], out: Path) -> list[BatchJob]:
    """MOVIE ROIS, or MOVIE... ROIS... paired in order (each movie into ``out/<its name>``)."""
    if len(files) < 2 or len(files) % 2:
        raise InputError(
            f"expected MOVIE ROIS (or MOVIE... ROIS... in pairs), got {len(files)} files"
        )
    if len(files) == 2:
        return [BatchJob(Path(files[0]), Path(files[1]), Path(out))]
    half = len(files) // 2
    jobs = [
        BatchJob(Path(m), Path(r), Path(out) / Path(m).name.split(".")[0])
        for m, r in zip(files[:half], files[half:], strict=True)
    ]
    _check_distinct_outputs(jobs, "use --manifest to give each movie its output folder")
    return jobs


def jobs_from_manifest(path: Path, out: Path) -> list[BatchJob]:
    """Jobs from a CSV with the columns movie, rois and optionally output (paths relative
    to the manifest; output relative to ``out``, default the movie's name)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such manifest")
    try:
        with open(path, newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
    except (UnicodeDecodeError, csv.Error):
        raise InputError(
            f"{path}: not a text CSV; expected the columns movie, rois (and output)"
        ) from None
    if not rows or not {"movie", "rois"} <= set(rows[0]):
        raise InputError(f"{path}: expected a CSV with the columns movie, rois (and output)")
    jobs = []
    for number, row in enumerate(rows, start=2):  # line 1 is the header
        missing = [column for column in ("movie", "rois") if not (row.get(column) or "").strip()]
        if missing:
            raise InputError(f"{path}, line {number}: no {' and no '.join(missing)}")
        movie = path.parent / row["movie"]
        folder = Path(out) / (row.get("output") or movie.name.split(".")[0])
        jobs.append(BatchJob(movie, path.parent / row["rois"], folder))
    _check_distinct_outputs(jobs, f"give each row of {path} an output column of its own")
    return jobs


def _check_distinct_outputs(jobs: list[BatchJob], advice: str) -> None:
    seen: dict[Path, Path] = {}
    for job in jobs:
        folder = job.out.resolve()
        if folder in seen:
            raise InputError(
                f"{seen[folder]} and {job.movie} would write to the same folder {job.out}; {advice}"
            )
        seen[folder] = job.movie


# -- preparing ----------------------------------------------------------------------------------
def movie_source(path: Path, dataset: str | None):
    """The frame source (an HDF5 movie's dataset itself: the engine reads it fastest) and
    what to close afterwards."""
    from .io.movies import MovieFileError, open_hdf5_movie, open_movie

    try:
        if path.suffix.lower() in (".h5", ".hdf5"):
            source = open_hdf5_movie(path, dataset)
            return source, source.file
        return open_movie(path, dataset=dataset)[0], None
    except MovieFileError as error:
        raise InputError(str(error)) from None


def prepare(job: BatchJob, settings: BatchSettings) -> None:
    """Check a job's inputs and build its masks, reading no frame.

    Raises
    ------
    InputError
        For an output folder that cannot take the outputs (a file; outputs
        there without ``overwrite``; not writable; too little room; holding
        sub-folders; an input file among the outputs), an unreadable movie or
        ROI file, or bad settings.
    """
    from .io.roi_files import RoiFileError, read_rois

    out = job.out
    if settings.nwb is not None and importlib.util.find_spec("pynwb") is None:
        raise InputError(f"--nwb: {NWB_INSTALL}")
    check_summary_name(settings.summary)
    for name in settings.outputs:
        for given in (job.movie, job.rois_file):
            if same_file(out / name, given):
                raise InputError(
                    f"{given}: would be replaced by the output {name}; give another output folder"
                )
    frames, handle = movie_source(job.movie, settings.dataset)
    try:
        job.n_frames, h, w = (int(n) for n in frames.shape)
        if handle is not None:
            job.dataset = frames.name.lstrip("/")
    finally:
        if handle is not None:
            handle.close()
    job.image_shape = (h, w)
    try:
        found = read_rois(job.rois_file, image_shape=(h, w))
    except RoiFileError as error:
        raise InputError(str(error)) from None
    job.border = settings.border or found.border or MotionBorder()
    try:
        job.border.check_fits(h, w)
    except ValueError as error:
        raise InputError(
            f"{job.rois_file}: {error}" if settings.border is None else f"--border: {error}"
        ) from None
    job.ring_options = settings.ring_options(found.ring_options, file=job.rois_file)
    chosen = chosen_rois(job.rois_file, found.rois, settings.only)
    job.n_rois_in_file = len(found.rois)
    job.curation = [found.rois[i] for i in chosen]
    job.roi_ids = [entry.id for entry in job.curation]
    job.mask_groups = [entry.mask_group for entry in job.curation]
    every_roi = [
        entry.crop if entry.crop is not None and entry.crop.pixels.any() else None
        for entry in found.rois
    ]
    job.rois = [every_roi[i] for i in chosen]
    if settings.nwb is not None and not job.rois:
        raise InputError(f"{job.rois_file}: no ROIs, and an NWB file needs at least one")
    # rings around the chosen ROIs only, but every ROI's pixels left out of them (AllenSDK)
    rings = NeuropilRings.from_masks(
        {i: crop for i, crop in enumerate(every_roi) if crop is not None},
        (h, w),
        border=job.border,
        options=job.ring_options,
    )
    usable = job.border.usable_area(h, w)
    present = set(rings.keys())
    job.rings = [rings.ring(i) if i in present else None for i in chosen]
    job.allen_rings = [
        allen_neuropil_crop(rings.region(i), usable) if i in present else None for i in chosen
    ]
    roi_part = [
        (ident, reason)
        for ident, roi in zip(job.roi_ids, job.rois, strict=True)
        for reason in roi_exclusions(roi, usable)
    ]
    ring_part = [
        (ident, reason)
        for ident, ring in zip(job.neuropil_ids(), job.rings, strict=True)
        for reason in neuropil_exclusions(ring)
    ]
    # the Allen pipeline's output schema writes each roi_id as text
    job.exclusions = [
        {"roi_id": str(ident), "exclusion_label_name": reason}
        for ident, reason in roi_part + ring_part
    ]
    # last, when the outputs' size is known; still before any frame is read
    _check_outputs(
        OutputSet(out, settings.outputs, overwrite=settings.overwrite, replaces=settings.replaced),
        size=_output_size(job, settings),
    )


def chosen_rois(rois_file: Path, entries: Sequence, only: str) -> list[int]:
    """The indices of the ROIs ``only`` keeps, in the file's order.

    Raises
    ------
    InputError
        For a choice ``only`` does not know, or none of the ROIs it asks for.
    """
    from .io.roi_set import Decision

    wanted = {"cells": Decision.CELL, "not-cells": Decision.NOT_CELL}
    if only == "all":
        return list(range(len(entries)))
    if only not in wanted:
        raise InputError(f"--only {only}: expected {', '.join(ONLY_CHOICES)}")
    chosen = [i for i, entry in enumerate(entries) if entry.decision == wanted[only]]
    if not chosen:
        counts = decision_counts(entries)
        held = ", ".join(f"{n} {d}" for d, n in counts.items() if n) or "no ROIs"
        raise InputError(
            f"{rois_file}: --only {only}: no ROI is decided "
            f"{'a cell' if only == 'cells' else 'not a cell'} ({held}); use --only all"
        )
    return chosen


def decision_counts(entries: Sequence) -> dict[str, int]:
    """How many ROIs have each decision: ``{"cell": n, "not_cell": n, "unlabeled": n}``."""
    from .io.roi_set import Decision

    counts = dict.fromkeys((d.value for d in Decision), 0)
    for entry in entries:
        counts[Decision(entry.decision).value] += 1
    return counts


def same_file(a, b) -> bool:
    """Whether two paths name one file: through ``..``, links and hard links."""
    a, b = Path(a), Path(b)
    if a.exists() and b.exists():
        return os.path.samefile(a, b)
    return a.resolve() == b.resolve()


def check_summary_name(name: str | None) -> None:
    """The summary file's name is a plain file name that is none of the other outputs.

    Raises
    ------
    InputError
        Naming ``--summary`` and what was expected.
    """
    if name is None:
        return
    if not name or Path(name).name != name or name in (".", ".."):
        raise InputError(
            f"--summary {name}: give a file name (e.g. summary_images.h5); it is written in "
            "each output folder, with the traces"
        )
    if name.lower() in (*OUTPUTS, NWB_OUTPUT):  # case-blind file systems too
        raise InputError(f"--summary {name}: that name is one of the other outputs")
    if not name.lower().endswith((".h5", ".hdf5")) or name.lower().endswith(".roimasks.h5"):
        raise InputError(
            f"--summary {name}: the summary images are HDF5; name it *.h5 (not *.roimasks.h5, "
            "which is an ROI file)"
        )


def _check_outputs(outputs: OutputSet, size: int = 0) -> None:
    """The output folder can take the set (see :meth:`OutputSet.check`), or an InputError."""
    try:
        outputs.check(size)
    except FileExistsError as error:
        raise InputError(str(error)) from None
    except OutputSetError as error:
        raise InputError(str(error)) from None


def _output_size(job: BatchJob, settings: BatchSettings) -> int:
    """About how many bytes a job's outputs take: its traces (twice with NWB) and masks."""
    traces = 2 * len(job.rois) * job.n_frames * 8
    masks = sum(ring.pixels.size for ring in job.allen_rings if ring is not None) * 6
    summary = 5 * 4 * job.image_shape[0] * job.image_shape[1] if settings.summary else 0
    return traces * (2 if settings.nwb is not None else 1) + masks + summary + (1 << 20)


# -- extracting ---------------------------------------------------------------------------------
def trace_steps(
    movies: Sequence[MovieMasks], *, client=None, block_size: int = 1000
) -> Generator[tuple[int, int], None, list[np.ndarray]]:
    """Extract every movie's traces, here or on a Dask cluster.

    Yields ``(frames_done, frames_total)`` over all the movies; returns one
    (n_masks, n_frames) float64 array per movie. Closing the generator stops
    within one block (on a cluster: cancels its tasks).

    Parameters
    ----------
    movies : sequence of MovieMasks
    client : distributed.Client, optional
        Extract on its cluster; every movie needs a ``path`` the workers can open.
    block_size : int
        Most frames read at once, here.
    """
    results = yield from movie_steps(movies, client=client, block_size=block_size)
    return [result.traces for result in results]


def movie_steps(
    movies: Sequence[MovieMasks],
    *,
    client=None,
    block_size: int = 1000,
    cell_diameter: float = DEFAULT_CELL_DIAMETER,
) -> Generator[tuple[int, int], None, list[MovieResult]]:
    """Every movie's traces, and its summary images where ``MovieMasks.summary`` asks,
    from one read of its frames, here or on a Dask cluster.

    Yields ``(frames_done, frames_total)`` over all the movies; returns one
    :class:`MovieResult` per movie. Closing the generator stops within one block
    (on a cluster: cancels its tasks).

    Raises
    ------
    MovieReadError
        Naming the movie and the frames that cannot be read.
    """
    if client is not None:
        from .core.distributed_traces import MovieJob, distributed_movie_pass

        jobs = [
            MovieJob(str(Path(m.path).resolve()), m.dataset or "data", list(m.masks), m.summary)
            for m in movies
        ]
        return (yield from distributed_movie_pass(client, jobs, cell_diameter=cell_diameter))
    total = sum(m.n_frames for m in movies)
    before, results = 0, []
    for movie in movies:
        with movie.opened() as frames:
            steps = _one_movie(frames, movie, block_size, cell_diameter)
            try:
                while True:
                    try:
                        done, _ = next(steps)
                    except StopIteration as finished:
                        results.append(finished.value)
                        break
                    yield before + done, total
            finally:
                steps.close()
        before += movie.n_frames
    return results


def _one_movie(frames, movie: MovieMasks, block_size: int, cell_diameter: float):
    """One movie's pass: the trace sums and, when asked, the summary sums, fed by one read."""
    from .core.frame_pass import (
        DEFAULT_BLOCK_BYTES,
        check_frame_source,
        default_threads,
        frame_pass,
        frames_per_block,
    )
    from .core.summary_images import SummarySums
    from .core.traces import TraceSums

    shape = check_frame_source(frames)
    dtype = np.dtype(frames.dtype)
    threads = default_threads(heavy=movie.summary)
    traces = TraceSums(list(movie.masks), shape, dtype, threads)
    sinks = [traces] if traces.needs_frames else []
    summary = None
    if movie.summary:
        summary = SummarySums(shape[1:], dtype, threads=threads)
        sinks.append(summary)
    if sinks and shape[0]:
        per_block = frames_per_block(
            block_size, shape[1] * shape[2] * dtype.itemsize, DEFAULT_BLOCK_BYTES
        )
        steps = frame_pass(frames, sinks, per_block=per_block, threads=threads)
        done = 0
        try:
            for done, _ in steps:
                yield done, shape[0]
        except _frame_read_errors() as error:  # a corrupt chunk, a file cut short
            last = min(done + per_block, shape[0]) - 1
            raise MovieReadError(
                f"{movie.path or 'the movie'}: frames {done}-{last} cannot be read ({error})"
            ) from error
        finally:
            steps.close()
    else:
        yield shape[0], shape[0]
    images = None if summary is None else summary.result(cell_diameter)
    return MovieResult(traces.result(), images)


def run_jobs(
    jobs: Sequence[BatchJob],
    settings: BatchSettings,
    *,
    client=None,
    progress: Callable[[int, int], None] | None = None,
) -> list[MovieResult]:
    """Every prepared job's traces (ROIs then rings), and its summary images when the
    settings ask, here or on ``client``'s cluster."""
    from .core.traces import run_steps

    movies = [
        MovieMasks(
            job.masks_to_read(),
            job.n_frames,
            path=job.movie,
            dataset=settings.dataset,
            summary=settings.summary is not None,
        )
        for job in jobs
    ]
    if client is not None:
        check_cluster_movies(jobs)
    steps = movie_steps(
        movies, client=client, block_size=settings.block_size, cell_diameter=settings.cell_diameter
    )
    return run_steps(steps, progress, unit="frame")


def check_cluster_movies(jobs: Sequence[BatchJob]) -> None:
    """Every movie is a file a Dask cluster's workers can open (HDF5).

    Raises
    ------
    InputError
        Naming the first movie that is not.
    """
    for job in jobs:
        if job.movie.suffix.lower() not in (".h5", ".hdf5"):
            raise InputError(
                f"{job.movie}: the Dask backend reads HDF5 movies (each worker opens the file)"
            )


def _frame_read_errors() -> tuple[type[Exception], ...]:
    """What reading a corrupt or cut-short movie raises: h5py's OSError, tifffile's error."""
    try:
        from tifffile import TiffFileError
    except ImportError:  # pragma: no cover - a dependency
        return (OSError,)
    return (OSError, TiffFileError)


# -- writing ------------------------------------------------------------------------------------
def write_outputs(
    job: BatchJob,
    traces: np.ndarray,
    *,
    overwrite: bool,
    nwb: NwbSession | None = None,
    summary: tuple[str, object] | None = None,
    metrics_r: float | str | None = None,
) -> None:
    """Write a job's traces, neuropil masks and exclusions in the Allen pipeline's layout
    (and, with ``nwb``, ``rois.nwb``), as a set (:class:`~napari_roimasks.io.output_set.OutputSet`):
    a reader of the folder sees the old complete set or the new one, never a mix.

    Parameters
    ----------
    traces : (2 * n_rois, n_frames) float64 ndarray
        ROI traces, then neuropil traces.
    overwrite : bool
        Replace outputs that exist.
    nwb : NwbSession, optional
        Also write ``rois.nwb``: the ROIs, their rings (the pixels of each Fneu),
        F and Fneu, and this session's metadata.
    summary : (file name, SummaryImages), optional
        Also write the movie's summary images under that name.
    metrics_r : float or "fit", optional
        Also write :data:`METRICS_OUTPUT` (see :func:`job_metrics`).
    """
    from .io.allen_json import AllenMask, write_allen_masks
    from .io.allen_traces import write_exclusions, write_trace_file
    from .io.roi_files import RoiFileError

    out, n = job.out, len(job.rois)
    neuropil_masks = [
        AllenMask(ident, crop, group, valid=not neuropil_exclusions(ring))
        for ident, crop, group, ring in zip(
            job.neuropil_ids(), job.allen_rings, job.mask_groups, job.rings, strict=True
        )
    ]
    writers = {
        "roi_traces.h5": lambda p: write_trace_file(p, traces[:n], job.roi_ids, overwrite=True),
        "neuropil_traces.h5": lambda p: write_trace_file(
            p, traces[n:], job.roi_ids, overwrite=True
        ),
        "neuropil_masks.json": lambda p: write_allen_masks(
            p, neuropil_masks, border=job.border, image_shape=job.image_shape, overwrite=True
        ),
        "exclusions.json": lambda p: write_exclusions(p, job.exclusions, overwrite=True),
    }
    if nwb is not None:
        writers[NWB_OUTPUT] = lambda p: _write_nwb(p, job, traces, nwb)
    if summary is not None:
        from .io.summary_files import write_summary_images

        name, images = summary
        writers[name] = lambda p: write_summary_images(
            p, images, movie=job.movie.resolve(), dataset=job.dataset, overwrite=True
        )
    if metrics_r is not None:
        from .io.metrics_csv import write_metrics_csv

        images = None if summary is None else summary[1]
        table = job_metrics(job, traces, metrics_r, images)
        excluded = {e["roi_id"] for e in job.exclusions}
        writers[METRICS_OUTPUT] = lambda p: write_metrics_csv(
            p, job.roi_ids, table, excluded=excluded, overwrite=True
        )
    try:
        stale = [name for name in DERIVED_OUTPUTS if name not in writers]
        with OutputSet(out, list(writers), overwrite=overwrite, replaces=stale) as outputs:
            for name, write in writers.items():
                write(outputs.path(name))
    except (RoiFileError, FileExistsError, OutputSetError) as error:
        raise InputError(str(error)) from None
    except OSError as error:
        raise InputError(f"{out}: cannot write the outputs ({error.strerror or error})") from None


def job_metrics(job: BatchJob, traces: np.ndarray, r: float | str, images=None) -> dict:
    """Every ROI's quality metrics (:func:`~napari_roimasks.core.metrics.roi_metrics`), in the
    traces' order.

    Parameters
    ----------
    traces : (2 * n_rois, n_frames) float64 ndarray
        ROI traces, then neuropil traces.
    r : float or "fit"
        The neuropil ratio of the corrected trace (see :func:`metric_traces`).
    images : SummaryImages, optional
        For the image metrics (NaN without).
    """
    from .core.metrics import roi_metrics

    n = len(job.rois)
    return roi_metrics(
        job.rois,
        job.rings,
        border=job.border,
        image_shape=job.image_shape,
        corrected=metric_traces(traces[:n], traces[n:], r),
        correlation=None if images is None else images.correlation,
        mean=None if images is None else images.mean,
    )


def metric_traces(
    roi_traces: np.ndarray, neuropil_traces: np.ndarray, r: float | str
) -> np.ndarray:
    """(n_rois, n_frames) ``F - r * Fneu``, the trace the quality metrics are measured on.

    Parameters
    ----------
    roi_traces, neuropil_traces : (n_rois, n_frames) float64 ndarray
    r : float or "fit"
        The neuropil ratio; "fit": each ROI's r fitted as AllenSDK fits it, an r above 1
        replaced by the mean of the others (the Allen pipeline's rule).
    """
    from .core.neuropil_correction import estimate_contamination_ratio, replace_unusable_ratios

    if r == "fit":
        fitted = [
            estimate_contamination_ratio(f, fneu).r
            for f, fneu in zip(roi_traces, neuropil_traces, strict=True)
        ]
        ratios = replace_unusable_ratios(fitted)[:, None]
    else:
        ratios = float(r)
    return roi_traces - ratios * neuropil_traces


def _write_nwb(path: Path, job: BatchJob, traces: np.ndarray, session: NwbSession) -> None:
    from dataclasses import replace

    from .io.nwb import write_nwb
    from .io.roi_set import RoiSet

    n = len(job.rois)
    # each ROI with its decision, as extracted (an ROI without pixels: no mask, no weights)
    entries = [
        replace(entry, crop=crop, weights=None)
        for entry, crop in zip(job.curation, job.rois, strict=True)
    ]
    write_nwb(
        path,
        RoiSet(entries, image_shape=job.image_shape),
        session=session,
        neuropils=job.rings,
        traces={"roi": traces[:n], "neuropil": traces[n:]},
        overwrite=True,
    )
