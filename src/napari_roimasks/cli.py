"""The command line: ``napari-roimasks extract`` and ``napari-roimasks info``.

Exit codes: 0 done; 2 bad arguments or input (one line on stderr saying which
file or argument and what was expected); 1 an unexpected failure.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from .core.distributed_traces import ClusterJobFailed

OUTPUTS = ("roi_traces.h5", "neuropil_traces.h5", "neuropil_masks.json", "exclusions.json")


class InputError(ValueError):
    """Bad arguments or input: reported on one line, exit code 2."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="napari-roimasks",
        description="ROI and neuropil traces of two-photon movies, AllenSDK-exact.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    extract = commands.add_parser(
        "extract",
        help="write roi_traces.h5, neuropil_traces.h5, neuropil_masks.json and exclusions.json",
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
        "--neuropil-radius", type=int, default=13, help="neuropil ring radius (default 13)"
    )
    extract.add_argument("--overwrite", action="store_true", help="replace outputs that exist")
    extract.add_argument(
        "--scheduler",
        help="run on a Dask cluster: its address (tcp://host:port), or 'local' for a local cluster",
    )
    extract.add_argument(
        "--workers", type=int, help="workers of --scheduler local (default: one per core)"
    )
    info = commands.add_parser("info", help="say what a movie or ROI file holds")
    info.add_argument("file", type=Path)
    return parser


# -- reading ----------------------------------------------------------------------------------
def _open_movie(path: Path, dataset: str | None):
    from .io.movies import MovieFileError, open_movie

    try:
        frames, _ = open_movie(path, dataset=dataset)
    except MovieFileError as error:
        raise InputError(str(error)) from None
    return frames


def _movie_source(path: Path, dataset: str | None):
    """The frame source to extract from (for HDF5 the dataset itself: the engine reads it fastest)
    and what to close afterwards."""
    from .io.movies import MovieFileError, open_hdf5_movie

    if path.suffix.lower() in (".h5", ".hdf5"):
        try:
            source = open_hdf5_movie(path, dataset)
        except MovieFileError as error:
            raise InputError(str(error)) from None
        return source, source.file
    return _open_movie(path, dataset), None


def _read_rois(path: Path, image_shape, border_override):
    """RoiMasks (label, mask_group) and the border they were judged with.

    The border is ``border_override`` when given, else the ROI file's, else none.
    """
    from . import roi_masks
    from .core.border import MotionBorder
    from .io.roi_files import RoiFileError, read_rois

    h, w = image_shape
    try:
        found = read_rois(path, image_shape=image_shape)
    except RoiFileError as error:
        raise InputError(str(error)) from None
    try:
        border = (
            MotionBorder.from_allen(border_override)
            if border_override
            else (found.border or MotionBorder())
        )
    except (TypeError, ValueError) as error:
        raise InputError(f"--border: {error}") from None
    rois = []
    for entry in found.rois:
        roi = roi_masks.RoiMask(w, h, entry.id, entry.mask_group)
        if entry.crop is None:
            roi.flags.add("zero_pixels")
        else:
            roi.init_by_mask(border.as_allen(), entry.crop.plane(image_shape))
        rois.append(roi)
    return rois, border


# -- commands ---------------------------------------------------------------------------------
@dataclass
class _Job:
    """One movie's extraction: its inputs, masks and output folder."""

    movie: Path
    rois_file: Path
    out: Path
    rois: list = field(default_factory=list)
    neuropils: list = field(default_factory=list)
    crops: list = field(default_factory=list)
    exclusions: list = field(default_factory=list)
    border: object = None
    n_frames: int = 0


def _jobs(args) -> list[_Job]:
    """Movie/ROI pairs: MOVIE ROIS, or MOVIE... ROIS... (paired in order), or --manifest."""
    if args.manifest is not None:
        if args.files:
            raise InputError("give either --manifest or MOVIE ROIS files, not both")
        return _manifest_jobs(args.manifest, args.output)
    files = args.files
    if len(files) < 2 or len(files) % 2:
        raise InputError(
            f"expected MOVIE ROIS (or MOVIE... ROIS... in pairs), got {len(files)} files"
        )
    if len(files) == 2:
        return [_Job(files[0], files[1], args.output)]
    half = len(files) // 2
    stems = [f.name.split(".")[0] for f in files[:half]]
    if len(set(stems)) != len(stems):
        raise InputError(
            "several movies share a name; use --manifest to give each its output folder"
        )
    return [
        _Job(m, r, args.output / stem)
        for m, r, stem in zip(files[:half], files[half:], stems, strict=True)
    ]


def _manifest_jobs(path: Path, out: Path) -> list[_Job]:
    """A CSV with the columns movie, rois and optionally output (relative paths: to the manifest)."""
    import csv

    if not path.is_file():
        raise InputError(f"{path}: no such manifest")
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows or not {"movie", "rois"} <= set(rows[0]):
        raise InputError(f"{path}: expected a CSV with the columns movie, rois (and output)")
    base = path.parent
    jobs = []
    for row in rows:
        movie = base / row["movie"]
        folder = out / (row.get("output") or movie.name.split(".")[0])
        jobs.append(_Job(movie, base / row["rois"], folder))
    return jobs


def _prepare(job: _Job, args) -> None:
    from . import roi_masks
    from .core.neuropil import RingOptions

    out = job.out
    if out.exists() and not out.is_dir():
        raise InputError(f"{out}: the output must be a folder, and this is a file")
    existing = [name for name in OUTPUTS if (out / name).exists()]
    if existing and not args.overwrite:
        raise InputError(
            f"{out}: holds {', '.join(existing)} already; pass --overwrite to replace them"
        )
    frames, handle = _movie_source(job.movie, args.dataset)
    try:
        job.n_frames, h, w = frames.shape
    finally:
        if handle is not None:
            handle.close()
    job.rois, job.border = _read_rois(job.rois_file, (h, w), args.border)
    job.neuropils = roi_masks.create_neuropil_masks(
        job.rois, job.border.as_allen(), options=RingOptions(outer_radius=args.neuropil_radius)
    )
    masks = job.rois + job.neuropils
    job.crops = [
        None if roi_masks.validate_mask(m) else roi_masks._mask_crop(m, h, w) for m in masks
    ]
    job.exclusions = [e for m in masks for e in roi_masks.validate_mask(m)]


def _extract_here(job: _Job, args):
    from .core.traces import extract_traces

    frames, handle = _movie_source(job.movie, args.dataset)
    try:
        return extract_traces(
            frames, job.crops, block_size=args.block_size, progress=_progress_printer(job.n_frames)
        )
    finally:
        if handle is not None:
            handle.close()


def _extract_on_cluster(jobs: list[_Job], args) -> list:
    from .core.distributed_traces import MovieJob, extract_traces_distributed, start_client

    for job in jobs:
        if job.movie.suffix.lower() not in (".h5", ".hdf5"):
            raise InputError(
                f"{job.movie}: the Dask backend reads HDF5 movies (each worker opens the file)"
            )
    try:
        client = start_client(args.scheduler, args.workers)
    except ImportError as error:
        raise InputError(str(error)) from None
    except OSError as error:
        raise InputError(
            f"--scheduler {args.scheduler}: cannot reach the scheduler ({error})"
        ) from None
    try:
        movie_jobs = [
            MovieJob(str(job.movie.resolve()), args.dataset or "data", job.crops) for job in jobs
        ]
        total = sum(job.n_frames for job in jobs)
        return extract_traces_distributed(client, movie_jobs, progress=_progress_printer(total))
    finally:
        client.close()
        cluster = getattr(client, "cluster", None)
        if cluster is not None and args.scheduler == "local":
            cluster.close()


def _write_outputs(job: _Job, traces, overwrite: bool) -> None:
    from .io.allen_json import write_allen_masks
    from .io.allen_traces import write_exclusions, write_trace_file

    out, n = job.out, len(job.rois)
    names = [roi.label for roi in job.rois]
    try:
        out.mkdir(parents=True, exist_ok=True)
        write_trace_file(out / "roi_traces.h5", traces[:n], names, overwrite=overwrite)
        write_trace_file(out / "neuropil_traces.h5", traces[n:], names, overwrite=overwrite)
        write_allen_masks(
            out / "neuropil_masks.json", job.neuropils, border=job.border, overwrite=overwrite
        )
        write_exclusions(out / "exclusions.json", job.exclusions, overwrite=overwrite)
    except OSError as error:
        raise InputError(f"{out}: cannot write the outputs ({error.strerror or error})") from None


def extract(args) -> int:
    """``napari-roimasks extract``: every job's inputs are checked before any frame is read,
    and outputs are written only once every trace is in."""
    if args.block_size < 1:
        raise InputError(f"--block-size must be at least 1 frame, got {args.block_size}")
    if args.neuropil_radius < 1:
        raise InputError(f"--neuropil-radius must be at least 1 pixel, got {args.neuropil_radius}")
    if args.workers is not None and args.workers < 1:
        raise InputError(f"--workers must be at least 1, got {args.workers}")
    jobs = _jobs(args)
    for job in jobs:
        _prepare(job, args)
    if args.scheduler:
        results = _extract_on_cluster(jobs, args)
    else:
        results = [_extract_here(job, args) for job in jobs]
    for job, traces in zip(jobs, results, strict=True):
        _write_outputs(job, traces, args.overwrite)
        print(
            f"wrote {', '.join(OUTPUTS)} to {job.out}: {len(job.rois)} ROIs x {job.n_frames} frames, "
            f"{len(job.exclusions)} exclusions"
        )
    return 0


def _progress_printer(total: int, unit: str = "frames"):
    if not sys.stderr.isatty():
        return None
    started = time.perf_counter()

    def show(done, total=total):
        rate = done / max(time.perf_counter() - started, 1e-9)
        end = "\n" if done >= total else ""
        print(
            f"\rextracting traces: {done}/{total} {unit} ({rate:,.0f} {unit}/s)",
            end=end,
            file=sys.stderr,
            flush=True,
        )

    return show


def info(args) -> int:
    """``napari-roimasks info``."""
    from .io.roi_files import RoiFileError, read_rois

    path = args.file
    if not path.exists():
        raise InputError(f"{path}: no such file")
    suffix = path.suffix.lower()
    if suffix in (".h5", ".hdf5") and not path.name.lower().endswith(".roimasks.h5"):
        _info_hdf5(path)
        return 0
    from .io.movies import is_tiff_movie

    if suffix in (".tif", ".tiff") and is_tiff_movie(path):
        frames = _open_movie(path, None)
        print(
            f"{path}: TIFF movie, {frames.shape[0]} frames of {frames.shape[2]}x{frames.shape[1]} {frames.dtype}"
        )
        return 0
    try:
        found = read_rois(path)
    except RoiFileError as error:
        raise InputError(str(error)) from None
    empty = sum(roi.crop is None for roi in found.rois)
    size = f" on a {found.image_shape[1]}x{found.image_shape[0]} image" if found.image_shape else ""
    print(f"{path}: {found.kind}, {len(found.rois)} ROIs ({empty} without pixels){size}")
    print(
        f"  motion border (left, right, top, bottom): {found.border.as_allen() if found.border else 'none'}"
    )
    return 0


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
    logging.getLogger("napari_roimasks").setLevel(logging.ERROR)
    try:
        return {"extract": extract, "info": info}[args.command](args)
    except InputError as error:
        print(f"napari-roimasks: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("napari-roimasks: interrupted; no outputs were written", file=sys.stderr)
        return 1
    except ClusterJobFailed as error:
        print(f"napari-roimasks: error: {error}; no outputs were written", file=sys.stderr)
        return 1
    except Exception as error:  # the last line of defence: one line, exit 1
        print(
            f"napari-roimasks: unexpected error: {type(error).__name__}: {error}", file=sys.stderr
        )
        return 1


if __name__ == "__main__":
    sys.exit(main())
