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
    extract.add_argument("movie", type=Path, help="HDF5 (dataset 'data' by default) or TIFF movie")
    extract.add_argument(
        "rois",
        type=Path,
        help="ROIs: .roimasks.h5, Allen .json, ImageJ .roi/.zip, a label image (.npy, .tif) or suite2p's stat.npy",
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


def _is_tiff_movie(path: Path) -> bool:
    import tifffile

    try:
        with tifffile.TiffFile(path) as tif:
            return len(tif.pages) > 1
    except Exception:  # not a TIFF at all: the ROI reader says what is wrong
        return False


# -- commands ---------------------------------------------------------------------------------
def extract(args) -> int:
    """``napari-roimasks extract``."""
    from . import roi_masks
    from .core.neuropil import RingOptions
    from .core.traces import extract_traces
    from .io.allen_json import write_allen_masks
    from .io.allen_traces import write_exclusions, write_trace_file

    if args.block_size < 1:
        raise InputError(f"--block-size must be at least 1 frame, got {args.block_size}")
    if args.neuropil_radius < 1:
        raise InputError(f"--neuropil-radius must be at least 1 pixel, got {args.neuropil_radius}")
    out = args.output
    if out.exists() and not out.is_dir():
        raise InputError(f"{out}: the output must be a folder, and this is a file")
    existing = [name for name in OUTPUTS if (out / name).exists()]
    if existing and not args.overwrite:
        raise InputError(
            f"{out}: holds {', '.join(existing)} already; pass --overwrite to replace them"
        )
    frames, handle = _movie_source(args.movie, args.dataset)
    try:
        n_frames, h, w = frames.shape
        rois, border = _read_rois(args.rois, (h, w), args.border)
        neuropils = roi_masks.create_neuropil_masks(
            rois, border.as_allen(), options=RingOptions(outer_radius=args.neuropil_radius)
        )
        masks = rois + neuropils
        crops = [
            None if roi_masks.validate_mask(m) else roi_masks._mask_crop(m, h, w) for m in masks
        ]
        exclusions = [e for m in masks for e in roi_masks.validate_mask(m)]
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise InputError(f"{out}: cannot create the output folder ({error.strerror})") from None
        traces = extract_traces(
            frames, crops, block_size=args.block_size, progress=_progress_printer(n_frames)
        )
    finally:
        if handle is not None:
            handle.close()
    names = [roi.label for roi in rois]
    try:
        write_trace_file(
            out / "roi_traces.h5", traces[: len(rois)], names, overwrite=args.overwrite
        )
        write_trace_file(
            out / "neuropil_traces.h5", traces[len(rois) :], names, overwrite=args.overwrite
        )
        write_allen_masks(
            out / "neuropil_masks.json", neuropils, border=border, overwrite=args.overwrite
        )
        write_exclusions(out / "exclusions.json", exclusions, overwrite=args.overwrite)
    except OSError as error:
        raise InputError(f"{out}: cannot write the outputs ({error.strerror or error})") from None
    print(
        f"wrote {', '.join(OUTPUTS)} to {out}: {len(rois)} ROIs x {n_frames} frames, {len(exclusions)} exclusions"
    )
    return 0


def _progress_printer(total: int):
    if not sys.stderr.isatty():
        return None
    started = time.perf_counter()

    def show(done, total=total):
        rate = done / max(time.perf_counter() - started, 1e-9)
        end = "\n" if done >= total else ""
        print(
            f"\rextracting traces: {done}/{total} frames ({rate:,.0f} frames/s)",
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
    if suffix in (".tif", ".tiff") and _is_tiff_movie(path):
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
    except Exception as error:  # the last line of defence: one line, exit 1
        print(
            f"napari-roimasks: unexpected error: {type(error).__name__}: {error}", file=sys.stderr
        )
        return 1


if __name__ == "__main__":
    sys.exit(main())
