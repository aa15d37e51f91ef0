"""The command line: ``napari-roimasks extract`` and ``napari-roimasks info``.

Exit codes: 0 done; 2 bad arguments or input (one line on stderr saying which
file or argument and what was expected); 1 an unexpected failure.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

from .core.distributed_traces import ClusterJobFailed
from .pipeline import (
    OUTPUTS,
    BatchSettings,
    InputError,
    check_cluster_movies,
    jobs_from_files,
    jobs_from_manifest,
    prepare,
    run_jobs,
    write_outputs,
)


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
    info = commands.add_parser("info", help="say what a movie or ROI file holds")
    info.add_argument("file", type=Path)
    return parser


# -- commands ---------------------------------------------------------------------------------
def _settings(args) -> BatchSettings:
    for option, value, low, unit in (
        ("--block-size", args.block_size, 1, "frame"),
        ("--neuropil-radius", args.neuropil_radius, 1, "pixel"),
        ("--inner-gap", args.inner_gap, 0, "pixels"),
        ("--min-pixels", args.min_pixels, 0, "pixels"),
        ("--workers", args.workers, 1, "worker"),
    ):
        if value is not None and value < low:
            raise InputError(f"{option} must be at least {low} {unit}, got {value}")
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
    )


def _jobs(args) -> list:
    if args.manifest is not None:
        if args.files:
            raise InputError("give either --manifest or MOVIE ROIS files, not both")
        return jobs_from_manifest(args.manifest, args.output)
    return jobs_from_files(args.files, args.output)


def _start_client(args):
    from .core.distributed_traces import start_client

    try:
        return start_client(args.scheduler, args.workers)
    except ImportError as error:
        raise InputError(str(error)) from None
    except OSError as error:
        raise InputError(
            f"--scheduler {args.scheduler}: cannot reach the scheduler ({error})"
        ) from None


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
    if not args.scheduler:
        results = run_jobs(jobs, settings, progress=_progress_printer(total))
    else:
        client = _start_client(args)
        try:
            results = run_jobs(jobs, settings, client=client, progress=_progress_printer(total))
        finally:
            client.close()
            cluster = getattr(client, "cluster", None)
            if cluster is not None and args.scheduler == "local":
                cluster.close()
    for job, traces in zip(jobs, results, strict=True):
        write_outputs(job, traces, overwrite=settings.overwrite)
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
    from .io.formats import format_for
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
    border = found.border.as_allen() if found.border else "none"
    print(f"  motion border (left, right, top, bottom): {border}")
    if found.ring_options is not None:
        o = found.ring_options
        print(
            f"  neuropil rings: outer radius {o.outer_radius}, inner gap {o.inner_gap}, "
            f"min pixels {o.min_pixels}"
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
