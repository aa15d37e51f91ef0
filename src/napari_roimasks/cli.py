"""The command line: ``napari-roimasks extract``, ``metrics``, ``summary``, ``convert`` and ``info``.

Exit codes: 0 done; 2 bad arguments or input (one line on stderr saying which
file or argument and what was expected); 1 an unexpected failure.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import re
import signal
import sys
import time
from datetime import datetime
from pathlib import Path

from .core.distributed_traces import ClusterJobFailed
from .logs import send_logs_to_file
from .pipeline import (
    METRICS_OUTPUT,
    NWB_OUTPUT,
    ONLY_CHOICES,
    BatchSettings,
    InputError,
    MovieReadError,
    check_cluster_movies,
    chosen_rois,
    decision_counts,
    jobs_from_files,
    jobs_from_manifest,
    prepare,
    run_jobs,
    write_outputs,
)
from .summary_pipeline import SummaryJob, prepare_summary, run_summary


class _OneLineParser(argparse.ArgumentParser):
    """argparse, whose errors are one line like every other (no usage block)."""

    def error(self, message):
        self.exit(2, f"napari-roimasks: error: {message} (see {self.prog} --help)\n")


def _parser() -> argparse.ArgumentParser:
    parser = _OneLineParser(
        prog="napari-roimasks",
        description="ROI and neuropil traces of two-photon movies, AllenSDK-exact.",
    )
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_OneLineParser)
    extract = commands.add_parser(
        "extract",
        help="write roi_traces.h5, neuropil_traces.h5, neuropil_masks.json and exclusions.json "
        f"(and {NWB_OUTPUT})",
        description="Extract every ROI's and neuropil ring's trace from a movie, in the Allen pipeline's layout.",
    )
    extract.add_argument(
        "files",
        type=Path,
        nargs="*",
        metavar="MOVIE ROIS",
        help="a movie (HDF5, dataset 'data' by default, or TIFF) and its ROI file (.roimasks.h5, "
        "Allen .json, ImageJ .roi/.zip, label image .npy/.tif, suite2p stat.npy, .nwb); "
        "or several movies, then their ROI files in the same order",
    )
    extract.add_argument(
        "--manifest", type=Path, help="CSV of movie,rois[,output] rows: several movies as one job"
    )
    extract.add_argument("-o", "--output", type=Path, required=True, help="folder for the outputs")
    extract.add_argument(
        "--border",
        type=float,
        nargs=4,
        metavar=("LEFT", "RIGHT", "TOP", "BOTTOM"),
        help="motion border in pixels (default: the ROI file's, else 0)",
    )
    extract.add_argument(
        "--dataset", default=None, help="HDF5 dataset of the movie (default: data)"
    )
    extract.add_argument(
        "--block-size", type=int, default=1000, help="frames read at once (default 1000)"
    )
    extract.add_argument(
        "--neuropil-radius",
        type=int,
        help="how far the neuropil ring reaches, in pixels (default: the ROI file's, else 13)",
    )
    extract.add_argument(
        "--inner-gap",
        type=int,
        help="pixels next to each ROI left out of its ring (default: the ROI file's, else 0)",
    )
    extract.add_argument(
        "--min-pixels",
        type=int,
        help="grow a ring until it has this many pixels (default: the ROI file's, else 0: off)",
    )
    extract.add_argument("--overwrite", action="store_true", help="replace outputs that exist")
    extract.add_argument(
        "--scheduler",
        help="run on a Dask cluster: its address (tcp://host:port), or 'local' for a local cluster",
    )
    extract.add_argument(
        "--workers", type=int, help="workers of --scheduler local (default: one per core)"
    )
    extract.add_argument(
        "--summary",
        metavar="NAME.h5",
        help="also write the movie's summary images (mean, max, std, correlation, enhanced mean) "
        "under this file name in each output folder, from the same read of the movie",
    )
    extract.add_argument(
        "--metrics",
        action="store_true",
        help="also write metrics.csv: each ROI's quality metrics (area, compactness, skew, snr, "
        "events, ...; with --summary, the image metrics too), in the traces' order",
    )
    extract.add_argument(
        "--r",
        default=None,
        metavar="R",
        help="the neuropil ratio of --metrics' corrected trace F - R * Fneu: a number "
        "(default 0.7) or 'fit' (AllenSDK's fitted ratio per ROI)",
    )
    _add_only(
        extract,
        "extract and write only the ROIs decided cells (or not cells); the "
        "neuropil rings still leave every ROI's pixels out (default: all)",
    )
    _add_cell_diameter(extract)
    _add_nwb_options(extract)
    _add_metrics(commands)
    summary = commands.add_parser(
        "summary",
        help="write a movie's summary images: mean, max, std, correlation, enhanced mean",
        description="Compute a movie's mean, max, std, local correlation and enhanced mean "
        "images in one read of its frames, into an HDF5 file (one float32 dataset each).",
    )
    summary.add_argument("movie", type=Path, help="the movie: HDF5 (dataset 'data') or TIFF")
    summary.add_argument(
        "-o", "--output", type=Path, required=True, help="the summary file to write (*.h5)"
    )
    summary.add_argument(
        "--dataset", default=None, help="HDF5 dataset of the movie (default: data)"
    )
    summary.add_argument(
        "--block-size", type=int, default=1000, help="frames read at once (default 1000)"
    )
    _add_cell_diameter(summary)
    summary.add_argument("--overwrite", action="store_true", help="replace the file if it exists")
    summary.add_argument(
        "--scheduler",
        help="run on a Dask cluster: its address (tcp://host:port), or 'local' for a local cluster",
    )
    summary.add_argument(
        "--workers", type=int, help="workers of --scheduler local (default: one per core)"
    )
    convert = commands.add_parser(
        "convert",
        help="write an ROI file in another format, or its decisions as suite2p's iscell.npy",
        description="Read an ROI file and write it in the format the output's name asks for "
        "(.roimasks.h5, Allen .json, ImageJ .zip, label image .npy/.tif, .nwb), keeping what "
        "that format can hold. An output named iscell.npy is suite2p's classification of the "
        "ROIs instead: (n, 2) float, 1 for a cell, and the cell probability.",
    )
    convert.add_argument("rois", type=Path, metavar="ROIS", help="the ROI file to read")
    convert.add_argument(
        "-o", "--output", type=Path, required=True, help="the file to write (its name: the format)"
    )
    _add_only(convert, "write only the ROIs decided cells (or not cells) (default: all)")
    convert.add_argument("--overwrite", action="store_true", help="replace the file if it exists")
    info = commands.add_parser("info", help="say what a movie, ROI or summary file holds")
    info.add_argument("file", type=Path)
    return parser


def _add_metrics(commands) -> None:
    metrics = commands.add_parser(
        "metrics",
        help=f"write {METRICS_OUTPUT} into an output folder of extract, from its traces",
        description=f"Compute each ROI's quality metrics from an output folder of "
        f"'napari-roimasks extract' (its traces, neuropil rings, exclusions and summary "
        f"images), without reading the movie, into {METRICS_OUTPUT} there: the file "
        "'extract --metrics' writes. The folder does not hold the ROIs' own masks: give "
        "the ROI file extract read with --rois for the metrics of their pixels.",
    )
    metrics.add_argument(
        "folder", type=Path, metavar="OUTDIR", help="an output folder of napari-roimasks extract"
    )
    metrics.add_argument(
        "--r",
        default=None,
        metavar="R",
        help="the neuropil ratio of the corrected trace F - R * Fneu: a number (default 0.7) "
        "or 'fit' (AllenSDK's fitted ratio per ROI)",
    )
    metrics.add_argument(
        "--rois",
        type=Path,
        metavar="ROIS",
        help="the ROI file extract read, for area, compactness, aspect_ratio, border_distance, "
        "correlation_roi and brightness_z (empty without it)",
    )
    metrics.add_argument(
        "--summary",
        type=Path,
        metavar="SUMMARY.h5",
        help="the movie's summary images, for correlation_roi, correlation_ring and "
        "brightness_z (default: the summary file in OUTDIR, which extract --summary writes)",
    )
    metrics.add_argument(
        "--overwrite", action="store_true", help=f"replace the {METRICS_OUTPUT} in OUTDIR"
    )


#: NwbSession field -> (option, argparse keywords, help); every option but --nwb needs --nwb
_SESSION_OPTIONS = {
    "session_description": ("--session-description", {}, "what the session was, in a sentence"),
    "experiment_description": ("--experiment-description", {}, "what the experiment was about"),
    "experimenter": (
        "--experimenter",
        {"action": "append", "metavar": "NAME"},
        "who did it, as 'Last, First'; repeat for several",
    ),
    "institution": ("--institution", {}, "e.g. 'Allen Institute for Brain Science'"),
    "lab": ("--lab", {}, "the lab's name"),
    "keywords": (
        "--keyword",
        {"action": "append", "metavar": "WORD"},
        "a term to find the file by; repeatable",
    ),
    "session_start_time": (
        "--session-start",
        {"metavar": "ISO"},
        "when the recording started: 2024-05-01 or 2024-05-01T10:30+02:00 (no zone: local; "
        "default: the time of writing)",
    ),
    "subject_id": ("--subject-id", {"metavar": "ID"}, "the animal's id (with --species and --age)"),
    "species": ("--species", {}, "Latin, e.g. 'Mus musculus', or an NCBI taxonomy IRI"),
    "sex": ("--sex", {"choices": ["U", "M", "F", "O"]}, "the animal's sex (default U: unknown)"),
    "age": (
        "--age",
        {"metavar": "DURATION"},
        "ISO 8601 duration, e.g. P90D (90 days), or a range P60D/P90D",
    ),
    "indicator": ("--indicator", {}, "the calcium indicator, e.g. GCaMP6f"),
    "location": (
        "--location",
        {},
        "where the plane lies; for a mouse an Allen CCF term, e.g. VISp",
    ),
    "excitation_wavelength": (
        "--excitation-wavelength",
        {"type": float, "metavar": "NM"},
        "laser wavelength in nm, e.g. 920",
    ),
    "emission_wavelength": (
        "--emission-wavelength",
        {"type": float, "metavar": "NM"},
        "emission wavelength in nm, e.g. 510",
    ),
    "imaging_rate": (
        "--frame-rate",
        {"type": float, "metavar": "HZ"},
        "frames per second of the movie, for the traces' times (default 30)",
    ),
    "device_description": ("--device-description", {}, "the microscope"),
}


def _add_only(command, text: str) -> None:
    command.add_argument("--only", choices=ONLY_CHOICES, default="all", help=text)


def _add_cell_diameter(command) -> None:
    command.add_argument(
        "--cell-diameter",
        type=float,
        metavar="PIXELS",
        help="cells' diameter, for the enhanced mean image's filter (suite2p's diameter; default 12)",
    )


def _add_nwb_options(extract) -> None:
    extract.add_argument(
        "--nwb",
        action="store_true",
        help=f"also write {NWB_OUTPUT}: the ROIs, their neuropil masks, F and Fneu, and the "
        "session's metadata (needs pynwb)",
    )
    group = extract.add_argument_group(
        "NWB session (with --nwb)", "what rois.nwb says about the recording"
    )
    for field, (option, keywords, text) in _SESSION_OPTIONS.items():
        keywords = {"metavar": "TEXT", **keywords} if "choices" not in keywords else keywords
        group.add_argument(option, dest=f"nwb_{field}", help=text, **keywords)


def _nwb_session(args):
    """The NwbSession of the options; None without --nwb."""
    given = {
        field: getattr(args, f"nwb_{field}")
        for field in _SESSION_OPTIONS
        if getattr(args, f"nwb_{field}") is not None
    }
    if not args.nwb:
        if given:
            options = ", ".join(_SESSION_OPTIONS[field][0] for field in given)
            raise InputError(f"{options}: session options describe the NWB file; add --nwb")
        return None
    from .io.nwb_session import NwbSession

    if "session_start_time" in given:
        given["session_start_time"] = _iso_time(given["session_start_time"])
    try:
        return NwbSession(**given)
    except ValueError as error:  # "field: problem", which may name other fields
        text = str(error)
        for field, (option, *_) in _SESSION_OPTIONS.items():
            text = re.sub(rf"\b{field}\b", option, text)
        raise InputError(text) from None


def _iso_time(text: str) -> datetime:
    try:
        return datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise InputError(
            f"--session-start: {text!r} is not an ISO 8601 date or time "
            "(e.g. 2024-05-01 or 2024-05-01T10:30:00+02:00)"
        ) from None


# -- commands ---------------------------------------------------------------------------------
def _settings(args) -> BatchSettings:
    _check_at_least(
        ("--block-size", args.block_size, 1, "frame"),
        ("--neuropil-radius", args.neuropil_radius, 1, "pixel"),
        ("--inner-gap", args.inner_gap, 0, "pixels"),
        ("--min-pixels", args.min_pixels, 0, "pixels"),
        ("--workers", args.workers, 1, "worker"),
    )
    if args.cell_diameter is not None and args.summary is None:
        raise InputError("--cell-diameter is for the summary images: give --summary NAME.h5 too")
    border = None
    if args.border is not None:
        from .core.border import MotionBorder

        try:
            border = MotionBorder.from_allen(args.border)
        except (TypeError, ValueError) as error:
            raise InputError(f"--border: {error}") from None
    return BatchSettings(
        border=border,
        outer_radius=args.neuropil_radius,
        inner_gap=args.inner_gap,
        min_pixels=args.min_pixels,
        dataset=args.dataset,
        block_size=args.block_size,
        overwrite=args.overwrite,
        nwb=_nwb_session(args),
        summary=args.summary,
        cell_diameter=_cell_diameter(args),
        only=args.only,
        metrics_r=_metrics_r(args),
    )


def _metrics_r(args) -> float | str | None:
    """``--metrics`` with ``--r``, checked: None without ``--metrics``."""
    if not args.metrics:
        if args.r is not None:
            raise InputError("--r is the neuropil ratio of --metrics: give --metrics too")
        return None
    return _ratio(args.r)


def _ratio(text: str | None) -> float | str:
    """``--r``, checked: a number >= 0 or "fit" (default 0.7)."""
    if text is None:
        return 0.7
    if text.strip().lower() == "fit":
        return "fit"
    try:
        r = float(text)
    except ValueError:
        r = float("nan")
    if not (r >= 0 and r < float("inf")):
        raise InputError(f"--r must be a number >= 0 or 'fit', got {text!r}")
    return r


def _cell_diameter(args) -> float:
    """``--cell-diameter``, checked (default: suite2p's 12 pixels)."""
    from .core.summary_images import DEFAULT_CELL_DIAMETER, check_cell_diameter

    if args.cell_diameter is None:
        return DEFAULT_CELL_DIAMETER
    try:
        return check_cell_diameter(args.cell_diameter)
    except ValueError:
        raise InputError(
            f"--cell-diameter must be a finite number of pixels >= 0, got {args.cell_diameter}"
        ) from None


def _check_at_least(*checks) -> None:
    """Each (option, value, lowest, unit): a value below its lowest is an InputError."""
    for option, value, low, unit in checks:
        if value is not None and value < low:
            raise InputError(f"{option} must be at least {low} {unit}, got {value}")


def _jobs(args) -> list:
    if args.manifest is not None:
        if args.files:
            raise InputError("give either --manifest or MOVIE ROIS files, not both")
        return jobs_from_manifest(args.manifest, args.output)
    return jobs_from_files(args.files, args.output)


def _start_client(args):
    from .core.distributed_traces import start_client

    try:
        client = start_client(args.scheduler, args.workers, quiet=True)
    except ImportError as error:
        raise InputError(str(error)) from None
    except OSError as error:
        raise InputError(
            f"--scheduler {args.scheduler}: cannot reach the scheduler ({error})"
        ) from None
    except ValueError as error:  # an address distributed does not know
        raise InputError(
            f"--scheduler {args.scheduler}: {error}; expected tcp://host:port or local"
        ) from None
    send_logs_to_file()  # distributed, now imported, prints to the terminal otherwise
    return client


def extract(args) -> int:
    """``napari-roimasks extract``: every job's inputs are checked before any frame is read,
    and outputs are written only once every trace is in."""
    settings = _settings(args)
    jobs = _jobs(args)
    for job in jobs:
        prepare(job, settings)
    total = sum(job.n_frames for job in jobs)
    if args.scheduler:
        check_cluster_movies(jobs)  # before a cluster is started for nothing
    with _client(args) as client:
        results = run_jobs(jobs, settings, client=client, progress=_progress_printer(total))
    written = []
    try:
        for job, result in zip(jobs, results, strict=True):
            summary = None if settings.summary is None else (settings.summary, result.summary)
            write_outputs(
                job,
                result.traces,
                overwrite=settings.overwrite,
                nwb=settings.nwb,
                summary=summary,
                metrics_r=settings.metrics_r,
            )
            _say_unusable_pixels(result.summary, job.movie)
            written.append(job.out)
            chosen = (
                ""
                if settings.only == "all"
                else f" ({settings.only} only, of {job.n_rois_in_file})"
            )
            print(
                f"wrote {', '.join(settings.outputs)} to {job.out}: {len(job.rois)} ROIs"
                f"{chosen} x {job.n_frames} frames, {len(job.exclusions)} exclusions"
            )
    except KeyboardInterrupt:
        raise Interrupted(written, [job.out for job in jobs[len(written) :]]) from None
    return 0


@contextlib.contextmanager
def _client(args):
    """The Dask client ``--scheduler`` asks for (None: none), closed afterwards with the
    local cluster it started."""
    if not args.scheduler:
        yield None
        return
    client = _start_client(args)
    try:
        yield client
    finally:
        client.close()
        cluster = getattr(client, "cluster", None)
        if cluster is not None and args.scheduler == "local":
            cluster.close()


def metrics(args) -> int:
    """``napari-roimasks metrics``: ``metrics.csv`` from an output folder of ``extract``; the
    folder and every file given are checked before anything is computed, and the file is
    written atomically."""
    from .metrics_pipeline import empty_columns, read_extracted_folder, write_folder_metrics

    r = _ratio(args.r)
    extracted = read_extracted_folder(
        args.folder, rois_file=args.rois, summary_file=args.summary, overwrite=args.overwrite
    )
    path = write_folder_metrics(extracted, r, overwrite=args.overwrite)
    n_rois, n_frames = extracted.roi_traces.shape
    ratio = "fitted per ROI" if r == "fit" else f"{r:g}"
    print(f"wrote {path.name} to {args.folder}: {n_rois} ROIs x {n_frames} frames, r {ratio}")
    empty, wanted = empty_columns(extracted)
    if empty:
        print(
            f"note: {', '.join(empty)} left empty in {path}; to fill them give {wanted}",
            file=sys.stderr,
        )
    return 0


def summary(args) -> int:
    """``napari-roimasks summary``: the movie and the output are checked before any frame is
    read, and the file is written atomically once every frame is in."""
    _check_at_least(
        ("--block-size", args.block_size, 1, "frame"),
        ("--workers", args.workers, 1, "worker"),
    )
    settings = BatchSettings(
        dataset=args.dataset,
        block_size=args.block_size,
        overwrite=args.overwrite,
        cell_diameter=_cell_diameter(args),
    )
    job = SummaryJob(args.movie, args.output)
    prepare_summary(job, settings, on_cluster=bool(args.scheduler))
    progress = _progress_printer(job.n_frames, task="summary images")
    with _client(args) as client:
        images = run_summary(job, settings, client=client, progress=progress)
    print(
        f"wrote mean, max, std, correlation and enhanced mean ({images.mean.shape[1]}x"
        f"{images.mean.shape[0]}, {images.n_frames} frames) to {job.out}"
    )
    _say_unusable_pixels(images, job.movie)
    return 0


def convert(args) -> int:
    """``napari-roimasks convert``: an ROI file in another format, or suite2p's ``iscell.npy``."""
    from dataclasses import replace

    from .io.formats.suite2p import ISCELL, write_iscell
    from .io.roi_files import RoiFileError, read_rois, write_rois

    to_iscell = args.output.name.lower() == ISCELL
    if to_iscell and args.only != "all":
        raise InputError(
            f"--only {args.only}: {ISCELL} holds a row for every ROI of suite2p's stat.npy; "
            "leave --only out"
        )
    try:
        found = read_rois(args.rois)
        chosen = chosen_rois(args.rois, found.rois, args.only)
        kept = replace(found, rois=[found.rois[i] for i in chosen])
        if to_iscell:
            write_iscell(args.output, kept, overwrite=args.overwrite)
        else:
            write_rois(args.output, kept, overwrite=args.overwrite)
    except (RoiFileError, FileExistsError) as error:
        raise InputError(str(error)) from None
    what = "their decisions as suite2p's classification" if to_iscell else "them"
    only = "" if args.only == "all" else f" ({args.only} only, of {len(found.rois)})"
    print(f"read {len(kept.rois)} ROIs{only} from {args.rois}; wrote {what} to {args.output}")
    return 0


def _say_unusable_pixels(images, movie) -> None:
    if images is not None and images.unusable_pixels:
        print(
            f"note: {images.unusable_pixels} pixel{'s' if images.unusable_pixels != 1 else ''} "
            f"of {movie} hold NaN or inf in some frame: NaN in the summary images",
            file=sys.stderr,
        )


class Interrupted(KeyboardInterrupt):
    """Ctrl-C or SIGTERM while the outputs were being written: which sets were, and which not."""

    def __init__(self, written, left):
        super().__init__()
        self.written, self.left = list(written), list(left)

    def __str__(self) -> str:
        if not self.written:
            return "no output changed"
        return (
            f"new outputs in {', '.join(map(str, self.written))}; "
            f"{', '.join(map(str, self.left))} left as they were"
        )


def _stop_on_sigterm() -> None:
    """SIGTERM (a job scheduler's stop) ends a run the way Ctrl-C does: nothing half-written."""

    def stop(number, frame):
        _stopped_by[0] = signal.SIGTERM
        raise KeyboardInterrupt

    with contextlib.suppress(ValueError):  # not the main thread (main() called from a thread)
        signal.signal(signal.SIGTERM, stop)


#: The signal that stopped the run: SIGINT (Ctrl-C) unless SIGTERM was seen.
_stopped_by = [signal.SIGINT]


def _progress_printer(total: int, unit: str = "frames", task: str = "extracting traces"):
    if not sys.stderr.isatty():
        return None
    started = time.perf_counter()

    def show(done, total=total):
        rate = done / max(time.perf_counter() - started, 1e-9)
        end = "\n" if done >= total else ""
        print(
            f"\r{task}: {done}/{total} {unit} ({rate:,.0f} {unit}/s)",
            end=end,
            file=sys.stderr,
            flush=True,
        )

    return show


def info(args) -> int:
    """``napari-roimasks info``."""
    from .io.formats import format_for
    from .io.roi_files import RoiFileError, read_rois

    path = args.file
    if not path.exists():
        raise InputError(f"{path}: no such file")
    suffix = path.suffix.lower()
    if suffix in (".h5", ".hdf5") and not path.name.lower().endswith(".roimasks.h5"):
        from .io.summary_files import is_summary_file

        if is_summary_file(path):
            _info_summary(path)
        else:
            _info_hdf5(path)
        return 0
    from .io.movies import is_tiff_movie

    if suffix in (".tif", ".tiff") and is_tiff_movie(path):
        from .io.movies import MovieFileError, open_movie

        try:
            frames, _ = open_movie(path)
        except MovieFileError as error:
            raise InputError(str(error)) from None
        print(
            f"{path}: TIFF movie, {frames.shape[0]} frames of {frames.shape[2]}x{frames.shape[1]} {frames.dtype}"
        )
        return 0
    try:
        holds = format_for(path).holds.names()
        found = read_rois(path)
    except RoiFileError as error:
        raise InputError(str(error)) from None
    empty = sum(roi.crop is None for roi in found.rois)
    size = f" on a {found.image_shape[1]}x{found.image_shape[0]} image" if found.image_shape else ""
    print(f"{path}: {found.kind}, {len(found.rois)} ROIs ({empty} without pixels){size}")
    print(f"  the format holds: {', '.join(holds)}")
    counts = decision_counts(found.rois)
    print(f"  decisions: {', '.join(f'{n} {decision}' for decision, n in counts.items())}")
    border = found.border.as_allen() if found.border else "none"
    print(f"  motion border (left, right, top, bottom): {border}")
    if found.ring_options is not None:
        o = found.ring_options
        print(
            f"  neuropil rings: outer radius {o.outer_radius}, inner gap {o.inner_gap}, "
            f"min pixels {o.min_pixels}"
        )
    from .io.session_file import is_session_file

    if is_session_file(path):
        _info_session(path)
    return 0


def _info_session(path: Path) -> None:
    """What a session file holds beyond its ROIs."""
    from .io.roi_files import RoiFileError
    from .io.session_file import read_session

    try:
        session = read_session(path)
    except RoiFileError as error:
        raise InputError(str(error)) from None
    when = f"{session.saved_at:%Y-%m-%d %H:%M:%S}" if session.saved_at else "unknown"
    print(f"  session saved at {when}")
    movie = session.movie_path or "none"
    if session.movie_dataset:
        movie += f" (dataset {session.movie_dataset})"
    print(f"  movie: {movie}")
    if session.traces is not None:
        n_frames = len(next(iter(session.traces.traces.values()))[1])
        print(f"  traces: {len(session.traces.traces)} ROIs x {n_frames} frames")
    elif session.traces_problem is not None:
        print(f"  traces: not read, {session.traces_problem}")
    else:
        print("  traces: none kept")


def _info_summary(path: Path) -> None:
    from .io.summary_files import SummaryFileError, read_summary_images

    try:
        images, attributes = read_summary_images(path)
    except SummaryFileError as error:
        raise InputError(str(error)) from None
    rows, columns = images["mean"].shape
    print(
        f"{path}: summary images ({', '.join(images)}), {columns}x{rows}, "
        f"{attributes.get('n_frames', '?')} frames, cell diameter "
        f"{attributes.get('cell_diameter', '?')} px"
    )
    if "movie" in attributes:
        dataset = f" (dataset {attributes['dataset']})" if "dataset" in attributes else ""
        print(f"  of the movie {attributes['movie']}{dataset}")


def _info_hdf5(path: Path) -> None:
    import h5py

    try:
        with h5py.File(path, "r") as f:
            print(f"{path}: HDF5")

            def show(name, item):
                if isinstance(item, h5py.Dataset):
                    print(
                        f"  {name}: {item.shape} {item.dtype}, chunks {item.chunks}, compression {item.compression}"
                    )

            f.visititems(show)
    except OSError as error:
        raise InputError(f"{path}: not a readable HDF5 file ({error})") from None


def main(argv=None) -> int:
    """Run the command line; returns the exit code."""
    parser = _parser()
    args = parser.parse_args(argv)  # exits 2 with argparse's message for bad arguments
    log = send_logs_to_file()
    logging.getLogger("napari_roimasks").setLevel(logging.ERROR)
    _stop_on_sigterm()
    try:
        commands = {
            "extract": extract,
            "metrics": metrics,
            "summary": summary,
            "convert": convert,
            "info": info,
        }
        return commands[args.command](args)
    except (InputError, MovieReadError) as error:
        _log_cause(error)
        print(f"napari-roimasks: error: {error}{log.mention()}", file=sys.stderr)
        return 2
    except OSError as error:
        if error.filename is None:  # not about a file: unexpected
            return _unexpected(error, log)
        _log_cause(error, always=True)
        print(
            f"napari-roimasks: error: {error.filename}: {error.strerror or error}{log.mention()}",
            file=sys.stderr,
        )
        return 2
    except KeyboardInterrupt as stopped:
        what = "terminated" if _stopped_by[0] == signal.SIGTERM else "interrupted"
        print(f"napari-roimasks: {what}; {str(stopped) or 'no output changed'}", file=sys.stderr)
        return 128 + int(_stopped_by[0])
    except ClusterJobFailed as error:
        _log_cause(error, always=True)
        print(f"napari-roimasks: error: {error}; no output changed{log.mention()}", file=sys.stderr)
        return 1
    except Exception as error:  # the last line of defence: one line, exit 1
        return _unexpected(error, log)


def _unexpected(error: Exception, log) -> int:
    """An error no check foresaw: one line (the traceback to the log), exit 1."""
    _log_cause(error, always=True)
    print(
        f"napari-roimasks: unexpected error: {type(error).__name__}: {error}{log.mention()}",
        file=sys.stderr,
    )
    return 1


def _log_cause(error: BaseException, *, always: bool = False) -> None:
    """The traceback behind an error line, into the log, never the terminal: for an error a
    library raised (its cause), or ``always`` (an unexpected error: for a bug report)."""
    if always or error.__cause__ is not None:
        logging.getLogger("napari_roimasks.cli").error(
            "%s", error, exc_info=(type(error), error, error.__traceback__)
        )


if __name__ == "__main__":
    sys.exit(main())
