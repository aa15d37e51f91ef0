"""Every bad input to the command line, run as a user runs it.

The rule: a bad movie, ROI file or argument gets exit code 2 and exactly one line on
stderr, ``napari-roimasks: error: ...``, naming the file (or argument) and what was
expected; no traceback, no warning of a library; and an output folder that holds a
complete set from a good run stays byte-identical, with nothing new beside it.

Each case is one builder below (it writes its bad input into the test's folder and
says what the error line must name) and one row of ``CASES``. ``extract`` runs with
``--overwrite``, so the outputs already there are no reason to refuse: the bad input
has to be what is found. Everything in the test's folder (the outputs, their
neighbours, the inputs) must be as it was after the run.
"""

from __future__ import annotations

import json
import os
import pickle
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import NamedTuple

import h5py
import numpy as np
import pytest

from napari_roimasks.synthetic import make_recording

FRAMES, SIZE = 20, 64
OUTPUTS = ("roi_traces.h5", "neuropil_traces.h5", "neuropil_masks.json", "exclusions.json")


def run_cli(args: list) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "napari_roimasks.cli", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=300,
    )


# -- the good recording and the reference outputs ------------------------------------------------
@dataclass(frozen=True)
class Good:
    """The good inputs every case starts from."""

    folder: Path
    movie: Path  # HDF5, dataset "data"
    labels: Path  # its ROIs as a label image
    frames: np.ndarray
    roi_labels: np.ndarray


@pytest.fixture(scope="module")
def good(tmp_path_factory) -> Good:
    folder = tmp_path_factory.mktemp("good")
    rec = make_recording(n_frames=FRAMES, shape=(SIZE, SIZE), n_cells=8, seed=1)
    with h5py.File(folder / "good_movie.h5", "w") as f:
        f.create_dataset("data", data=rec.movie, chunks=(1, SIZE, SIZE))
    np.save(folder / "good_labels.npy", rec.roi_labels)
    return Good(
        folder, folder / "good_movie.h5", folder / "good_labels.npy", rec.movie, rec.roi_labels
    )


@pytest.fixture(scope="module")
def reference(good, tmp_path_factory) -> Path:
    """A complete set of outputs from a good run."""
    out = tmp_path_factory.mktemp("reference") / "out"
    result = run_cli(["extract", good.movie, good.labels, "-o", out])
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in out.iterdir()) == sorted(OUTPUTS)
    return out


@dataclass
class Inputs:
    """What a builder works with: the good inputs, a folder for its bad files, the outputs."""

    good: Good
    bad: Path  # where the builder writes its bad input
    out: Path  # a copy of the reference outputs
    root: Path  # everything the run must leave as it was
    finalizer: Callable

    def extract(self, *options, movie=None, rois=None, out=None) -> list:
        """``extract MOVIE ROIS -o OUT --overwrite OPTIONS``, the good files where not given."""
        movie = self.good.movie if movie is None else movie
        rois = self.good.labels if rois is None else rois
        return ["extract", movie, rois, "-o", out or self.out, "--overwrite", *options]


class Bad(NamedTuple):
    """A bad input's command line, and the file or argument its one error line must name."""

    args: list
    names: str


@pytest.fixture
def inputs(good, reference, tmp_path, request) -> Inputs:
    out = tmp_path / "results" / "out"
    shutil.copytree(reference, out)
    (tmp_path / "bad").mkdir()
    return Inputs(good, tmp_path / "bad", out, tmp_path, request.addfinalizer)


# -- helpers for writing bad files ---------------------------------------------------------------
def write_bytes(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def write_text(path: Path, text: str) -> Path:
    return write_bytes(path, text.encode())


def write_json(path: Path, content) -> Path:
    return write_text(path, json.dumps(content))


def cut(source: Path, path: Path, fraction: float = 0.5) -> Path:
    """The first ``fraction`` of ``source``'s bytes: a file cut short by a full disk or a copy."""
    data = source.read_bytes()
    return write_bytes(path, data[: int(len(data) * fraction)])


def h5_movie(path: Path, data=None, **options) -> Path:
    """An HDF5 file whose dataset ``data`` is ``data`` (or made by ``options``)."""
    with h5py.File(path, "w") as f:
        f.create_dataset("data", data=data, **options)
    return path


def with_h5(path: Path, edit: Callable) -> Path:
    with h5py.File(path, "r+") as f:
        edit(f)
    return path


def npy(path: Path, array, **options) -> Path:
    np.save(path, array, **options)
    return path


def good_rois(inp: Inputs, name: str) -> Path:
    """The good ROIs written in the format ``name`` asks for (.roimasks.h5, .zip, .nwb)."""
    from napari_roimasks.io.roi_files import read_rois, write_rois

    return write_rois(inp.bad / name, read_rois(inp.good.labels))


def tiff(path: Path, array, **options) -> Path:
    import tifffile

    tifffile.imwrite(path, array, **options)
    return path


def allen_mask(**changes) -> dict:
    mask = {"id": 1, "x": 10, "y": 12, "width": 3, "height": 2, "mask": [[1, 1, 0], [0, 1, 1]]}
    return {**mask, **changes}


def suite2p_folder(inp: Inputs, stat=None, iscell=None, ops=None) -> Path:
    """A suite2p plane folder: ``stat.npy`` (default: two good ROIs), and ``iscell.npy``
    and ``ops.npy`` when given; returns the path of ``stat.npy``."""
    folder = inp.bad / "plane0"
    folder.mkdir()
    if stat is None:
        stat = [
            {"ypix": np.array([5, 5, 6]), "xpix": np.array([7, 8, 7]), "lam": np.ones(3)},
            {"ypix": np.array([20, 21]), "xpix": np.array([30, 30]), "lam": np.ones(2)},
        ]
    npy(folder / "stat.npy", np.array(stat, dtype=object), allow_pickle=True)
    if iscell is not None:
        npy(folder / "iscell.npy", iscell)
    if ops is not None:
        npy(folder / "ops.npy", np.array(ops, dtype=object), allow_pickle=True)
    return folder / "stat.npy"


def imagej_zip(path: Path, members: dict) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def imagej_roi(roitype_name: str, **fields) -> bytes:
    import roifile

    if roitype_name == "POINT":
        roi = roifile.ImagejRoi.frompoints([[5, 5], [9, 9]])
        roi.roitype = roifile.ROI_TYPE.POINT
    else:
        roi = roifile.ImagejRoi(roitype=getattr(roifile.ROI_TYPE, roitype_name), **fields)
    return roi.tobytes()


def corrupt_chunk(path: Path, frames: np.ndarray, frame: int) -> Path:
    """A gzip'd movie, one frame per chunk, with frame ``frame``'s chunk overwritten."""
    with h5py.File(path, "w") as f:
        data = f.create_dataset(
            "data", data=frames, chunks=(1, *frames.shape[1:]), compression="gzip"
        )
        chunk = data.id.get_chunk_info_by_coord((frame, 0, 0))
    with open(path, "r+b") as f:
        f.seek(chunk.byte_offset)
        f.write(b"\xff" * chunk.size)
    return path


def patch_zip(path: Path, offset_in_header: int, value: bytes) -> Path:
    """Write ``value`` at ``offset_in_header`` of the zip's first local header and of its
    central directory entry (flags at 6 and 8, compression method at 8 and 10)."""
    data = bytearray(path.read_bytes())
    local, central = data.find(b"PK\x03\x04"), data.find(b"PK\x01\x02")
    data[local + offset_in_header : local + offset_in_header + len(value)] = value
    at = central + offset_in_header + 2  # the central entry has "version made by" first
    data[at : at + len(value)] = value
    return write_bytes(path, bytes(data))


TOO_LONG = "x" * 300  # longer than a file name may be (255 bytes on Linux)


# -- movies ---------------------------------------------------------------------------------------
def movie_text_file(inp):
    movie = write_text(inp.bad / "notes.txt", "frame 1: 0 0 0\n")
    return Bad(inp.extract(movie=movie), movie.name)


def movie_empty_file(inp):
    movie = write_bytes(inp.bad / "empty.h5", b"")
    return Bad(inp.extract(movie=movie), movie.name)


def movie_truncated_hdf5(inp):
    movie = cut(inp.good.movie, inp.bad / "truncated.h5")
    return Bad(inp.extract(movie=movie), movie.name)


def movie_hdf5_without_data(inp):
    movie = inp.bad / "offsets_only.h5"
    with h5py.File(movie, "w") as f:
        f["offsets"] = np.zeros((FRAMES, 2))
    return Bad(inp.extract(movie=movie), movie.name)


def movie_hdf5_data_is_a_group(inp):
    movie = inp.bad / "grouped.h5"
    with h5py.File(movie, "w") as f:
        f.create_group("data")["frames"] = inp.good.frames
    return Bad(inp.extract(movie=movie), movie.name)


def movie_hdf5_two_movies_no_data(inp):
    movie = inp.bad / "two_movies.h5"
    with h5py.File(movie, "w") as f:
        f["raw"] = inp.good.frames
        f["registered"] = inp.good.frames
    return Bad(inp.extract(movie=movie), movie.name)


def movie_2d(inp):
    movie = h5_movie(inp.bad / "flat.h5", inp.good.frames[0])
    return Bad(inp.extract(movie=movie), movie.name)


def movie_4d(inp):
    movie = h5_movie(inp.bad / "stack4d.h5", inp.good.frames[:, None])
    return Bad(inp.extract(movie=movie), movie.name)


def movie_zero_frames(inp):
    movie = h5_movie(inp.bad / "no_frames.h5", shape=(0, SIZE, SIZE), dtype="uint16")
    return Bad(inp.extract(movie=movie), movie.name)


def movie_frames_of_zero_pixels(inp):
    movie = h5_movie(inp.bad / "zero_pixels.h5", shape=(FRAMES, 0, 0), dtype="uint16")
    return Bad(inp.extract(movie=movie), movie.name)


def movie_complex(inp):
    movie = h5_movie(inp.bad / "complex.h5", inp.good.frames.astype(np.complex64))
    return Bad(inp.extract(movie=movie), movie.name)


def movie_compound(inp):
    records = np.zeros((FRAMES, SIZE, SIZE), dtype=[("green", "u2"), ("red", "u2")])
    movie = h5_movie(inp.bad / "compound.h5", records)
    return Bad(inp.extract(movie=movie), movie.name)


def movie_bool(inp):
    movie = h5_movie(inp.bad / "bool.h5", inp.good.frames > 100)
    return Bad(inp.extract(movie=movie), movie.name)


def movie_fixed_length_text(inp):
    movie = h5_movie(inp.bad / "text.h5", np.full((FRAMES, SIZE, SIZE), b"px", dtype="S2"))
    return Bad(inp.extract(movie=movie), movie.name)


def movie_variable_length_text(inp):
    movie = inp.bad / "vlen_text.h5"
    with h5py.File(movie, "w") as f:
        f.create_dataset("data", shape=(FRAMES, 4, 4), dtype=h5py.string_dtype())
    return Bad(inp.extract(movie=movie), movie.name)


def movie_broken_external_link(inp):
    movie = inp.bad / "linked.h5"
    with h5py.File(movie, "w") as f:
        f["data"] = h5py.ExternalLink("moved_away.h5", "data")
    return Bad(inp.extract(movie=movie), movie.name)


def movie_corrupt_chunk_in_the_middle(inp):
    movie = corrupt_chunk(inp.bad / "corrupt_middle.h5", inp.good.frames, 10)
    return Bad(inp.extract(movie=movie), movie.name)


def movie_corrupt_first_chunk(inp):
    movie = corrupt_chunk(inp.bad / "corrupt_first.h5", inp.good.frames, 0)
    return Bad(inp.extract(movie=movie), movie.name)


def movie_tiff_of_one_page(inp):
    movie = tiff(inp.bad / "one_page.tif", inp.good.frames[0])
    return Bad(inp.extract(movie=movie), movie.name)


def movie_rgb_tiff_of_one_page(inp):
    rgb = np.zeros((SIZE, SIZE, 3), dtype=np.uint8)
    movie = tiff(inp.bad / "rgb.tif", rgb, photometric="rgb")
    return Bad(inp.extract(movie=movie), movie.name)


def movie_corrupt_tiff(inp):
    movie = write_bytes(inp.bad / "corrupt.tif", b"II*\x00" + bytes(range(256)) * 8)
    return Bad(inp.extract(movie=movie), movie.name)


def movie_truncated_tiff(inp):
    whole = tiff(inp.bad / "whole.tif", inp.good.frames)
    movie = cut(whole, inp.bad / "truncated.tif", 0.6)
    whole.unlink()
    return Bad(inp.extract(movie=movie), movie.name)


def movie_frames_smaller_than_the_rois_image(inp):
    movie = h5_movie(inp.bad / "small.h5", inp.good.frames[:, :32, :32])
    # the ROI file records 64x64: the message is about it (and says the movie's size)
    return Bad(inp.extract(movie=movie), inp.good.labels.name)


def movie_unreadable(inp):
    if os.geteuid() == 0:
        pytest.skip("root reads a file whatever its mode")
    movie = shutil.copy(inp.good.movie, inp.bad / "locked.h5")
    os.chmod(movie, 0)
    inp.finalizer(lambda: os.chmod(movie, 0o644))
    return Bad(inp.extract(movie=movie), Path(movie).name)


def movie_is_a_folder(inp):
    movie = inp.bad / "session.h5"
    movie.mkdir()
    return Bad(inp.extract(movie=movie), movie.name)


def movie_missing(inp):
    return Bad(inp.extract(movie=inp.bad / "missing.h5"), "missing.h5")


def movie_compressed_with_a_missing_filter(inp):
    movie = inp.bad / "blosc.h5"
    with h5py.File(movie, "w") as f:
        data = f.create_dataset(
            "data",
            shape=(FRAMES, SIZE, SIZE),
            dtype="uint16",
            chunks=(1, SIZE, SIZE),
            compression=32001,  # Blosc, a filter h5py does not have
            allow_unknown_filter=True,
        )
        for frame in range(FRAMES):
            data.id.write_direct_chunk((frame, 0, 0), inp.good.frames[frame].tobytes())
    return Bad(inp.extract(movie=movie), movie.name)


def movie_external_raw_file_missing(inp):
    movie, raw = inp.bad / "external.h5", inp.bad / "frames.raw"
    with h5py.File(movie, "w") as f:
        f.create_dataset(
            "data", data=inp.good.frames, external=[(str(raw), 0, inp.good.frames.nbytes)]
        )
    raw.unlink()
    return Bad(inp.extract(movie=movie), movie.name)


def movie_tiff_pages_of_different_sizes(inp):
    import tifffile

    movie = inp.bad / "mixed_pages.tif"
    with tifffile.TiffWriter(movie) as tif:
        for frame in inp.good.frames[:10]:
            tif.write(frame, contiguous=False)
        tif.write(inp.good.frames[10, :32, :32], contiguous=False)
    return Bad(inp.extract(movie=movie), movie.name)


def movie_rgb_tiff_of_several_pages(inp):
    rgb = np.zeros((FRAMES, SIZE, SIZE, 3), dtype=np.uint8)
    movie = tiff(inp.bad / "rgb_movie.tif", rgb, photometric="rgb")
    return Bad(inp.extract(movie=movie), movie.name)


def movie_name_too_long(inp):
    return Bad(inp.extract(movie=inp.bad / f"{TOO_LONG}.h5"), f"{TOO_LONG}.h5")


def movie_dataset_option_names_no_dataset(inp):
    return Bad(inp.extract("--dataset", "registered"), "registered")


# -- ROI files: this project's .roimasks.h5 -------------------------------------------------------
def roimasks_truncated(inp):
    whole = good_rois(inp, "whole.roimasks.h5")
    rois = cut(whole, inp.bad / "cut.roimasks.h5")
    whole.unlink()
    return Bad(inp.extract(rois=rois), rois.name)


def roimasks_without_boxes(inp):
    rois = with_h5(good_rois(inp, "no_boxes.roimasks.h5"), lambda f: f["rois"].pop("boxes"))
    return Bad(inp.extract(rois=rois), rois.name)


def roimasks_boxes_larger_than_the_pixels(inp):
    def grow(f):
        boxes = f["rois/boxes"][()]
        boxes[:, 2:] *= 3
        f["rois/boxes"][...] = boxes

    rois = with_h5(good_rois(inp, "grown.roimasks.h5"), grow)
    return Bad(inp.extract(rois=rois), rois.name)


def roimasks_box_at_a_negative_row(inp):
    def move(f):
        boxes = f["rois/boxes"][()]
        boxes[0, 0] = -5
        f["rois/boxes"][...] = boxes

    rois = with_h5(good_rois(inp, "negative.roimasks.h5"), move)
    return Bad(inp.extract(rois=rois), rois.name)


def roimasks_one_id_short(inp):
    def drop(f):
        ids = f["rois/ids"][()]
        del f["rois/ids"]
        f["rois/ids"] = ids[:-1]

    rois = with_h5(good_rois(inp, "short_ids.roimasks.h5"), drop)
    return Bad(inp.extract(rois=rois), rois.name)


def roimasks_negative_ring_radius(inp):
    rois = with_h5(
        good_rois(inp, "rings.roimasks.h5"),
        lambda f: f.attrs.__setitem__("ring_options", [-1, 0, 0]),
    )
    return Bad(inp.extract(rois=rois), rois.name)


def roimasks_nan_border(inp):
    rois = with_h5(
        good_rois(inp, "nan_border.roimasks.h5"),
        lambda f: f.attrs.__setitem__("motion_border", [np.nan, 0, 0, 0]),
    )
    return Bad(inp.extract(rois=rois), rois.name)


def roimasks_image_shape_of_one_number(inp):
    rois = with_h5(
        good_rois(inp, "shape1.roimasks.h5"),
        lambda f: f.attrs.__setitem__("image_shape", [SIZE]),
    )
    return Bad(inp.extract(rois=rois), rois.name)


def roimasks_id_not_utf8(inp):
    def rename(f):
        ids = f["rois/ids"][()]
        ids[0] = b"\xff\xfe"
        f["rois/ids"][...] = ids

    rois = with_h5(good_rois(inp, "latin1.roimasks.h5"), rename)
    return Bad(inp.extract(rois=rois), rois.name)


def roimasks_rois_is_a_dataset(inp):
    def flatten(f):
        del f["rois"]
        f["rois"] = np.arange(8)

    rois = with_h5(good_rois(inp, "flat.roimasks.h5"), flatten)
    return Bad(inp.extract(rois=rois), rois.name)


def roimasks_a_movie_named_roimasks(inp):
    rois = shutil.copy(inp.good.movie, inp.bad / "movie.roimasks.h5")
    return Bad(inp.extract(rois=rois), Path(rois).name)


# -- ROI files: Allen JSON -----------------------------------------------------------------------
def json_not_json(inp):
    rois = write_text(inp.bad / "notes.json", "ROI 1 at 10, 12\n")
    return Bad(inp.extract(rois=rois), rois.name)


def json_binary(inp):
    rois = write_bytes(inp.bad / "binary.json", bytes(range(128, 256)))
    return Bad(inp.extract(rois=rois), rois.name)


def json_deeply_nested(inp):
    rois = write_text(inp.bad / "nested.json", "[" * 100_000)
    return Bad(inp.extract(rois=rois), rois.name)


def json_a_number(inp):
    rois = write_json(inp.bad / "number.json", 42)
    return Bad(inp.extract(rois=rois), rois.name)


def json_wrong_types(inp):
    rois = write_json(inp.bad / "types.json", [allen_mask(x="ten", width=3.5)])
    return Bad(inp.extract(rois=rois), rois.name)


def json_mask_outside_the_image(inp):
    rois = write_json(inp.bad / "outside.json", [allen_mask(x=SIZE - 1)])
    return Bad(inp.extract(rois=rois), rois.name)


def json_negative_x(inp):
    rois = write_json(inp.bad / "negative_x.json", [allen_mask(x=-3)])
    return Bad(inp.extract(rois=rois), rois.name)


def json_mask_rows_of_different_lengths(inp):
    rois = write_json(inp.bad / "ragged.json", [allen_mask(mask=[[1, 1, 1], [1]])])
    return Bad(inp.extract(rois=rois), rois.name)


def json_mask_not_its_box_size(inp):
    rois = write_json(inp.bad / "box.json", [allen_mask(height=4)])
    return Bad(inp.extract(rois=rois), rois.name)


def json_negative_motion_border(inp):
    border = {"x0": -2, "x1": 0, "y0": 0, "y1": 0}
    rois = write_json(inp.bad / "border.json", {"rois": [allen_mask()], "motion_border": border})
    return Bad(inp.extract(rois=rois), rois.name)


def json_image_size_not_the_movies(inp):
    content = {"rois": [allen_mask()], "image_size": {"width": 32, "height": 32}}
    rois = write_json(inp.bad / "sized.json", content)
    return Bad(inp.extract(rois=rois), rois.name)


def json_id_is_an_object(inp):
    rois = write_json(inp.bad / "object_id.json", [allen_mask(id={"cell": 1})])
    return Bad(inp.extract(rois=rois), rois.name)


def json_mask_group_not_a_number(inp):
    rois = write_json(inp.bad / "group.json", [allen_mask(mask_group="cells")])
    return Bad(inp.extract(rois=rois), rois.name)


def json_name_too_long(inp):
    return Bad(inp.extract(rois=inp.bad / f"{TOO_LONG}.json"), f"{TOO_LONG}.json")


def json_huge_coordinate(inp):
    rois = write_json(inp.bad / "huge.json", [allen_mask(y=10**30)])
    return Bad(inp.extract(rois=rois), rois.name)


# -- ROI files: ImageJ .zip / .roi ---------------------------------------------------------------
def zip_empty(inp):
    rois = imagej_zip(inp.bad / "empty.zip", {})
    return Bad(inp.extract(rois=rois), rois.name)


def zip_member_not_an_roi(inp):
    rect = imagej_roi("RECT", top=5, left=5, bottom=15, right=15)
    rois = imagej_zip(inp.bad / "mixed.zip", {"1.roi": rect, "readme.txt": b"ROIs of mouse 3"})
    return Bad(inp.extract(rois=rois), rois.name)


def zip_truncated(inp):
    whole = good_rois(inp, "whole.zip")
    rois = cut(whole, inp.bad / "cut.zip")
    whole.unlink()
    return Bad(inp.extract(rois=rois), rois.name)


def zip_line_roi(inp):
    line = imagej_roi("LINE", x1=1.0, y1=2.0, x2=30.0, y2=40.0, name="line")
    rois = imagej_zip(inp.bad / "line.zip", {"line.roi": line})
    return Bad(inp.extract(rois=rois), rois.name)


def zip_encrypted(inp):
    rect = imagej_roi("RECT", top=5, left=5, bottom=15, right=15)
    rois = patch_zip(imagej_zip(inp.bad / "locked.zip", {"1.roi": rect}), 6, b"\x01\x00")
    return Bad(inp.extract(rois=rois), rois.name)


def zip_unknown_compression(inp):
    rect = imagej_roi("RECT", top=5, left=5, bottom=15, right=15)
    rois = patch_zip(imagej_zip(inp.bad / "packed.zip", {"1.roi": rect}), 8, b"\x61\x00")
    return Bad(inp.extract(rois=rois), rois.name)


def roi_truncated(inp):
    polygon = imagej_roi("POLYGON", top=5, left=5, bottom=20, right=20, n_coordinates=40)
    rois = write_bytes(inp.bad / "cut.roi", polygon[:40])
    return Bad(inp.extract(rois=rois), rois.name)


def roi_not_an_roi(inp):
    rois = write_text(inp.bad / "text.roi", "a rectangle at 5, 5\n")
    return Bad(inp.extract(rois=rois), rois.name)


def roi_point(inp):
    rois = write_bytes(inp.bad / "points.roi", imagej_roi("POINT"))
    return Bad(inp.extract(rois=rois), rois.name)


# -- ROI files: label images ---------------------------------------------------------------------
def npy_3d(inp):
    rois = npy(inp.bad / "stack.npy", np.stack([inp.good.roi_labels] * 2))
    return Bad(inp.extract(rois=rois), rois.name)


def npy_1d(inp):
    rois = npy(inp.bad / "flat.npy", inp.good.roi_labels.ravel())
    return Bad(inp.extract(rois=rois), rois.name)


def npy_float(inp):
    rois = npy(inp.bad / "float.npy", inp.good.roi_labels.astype(float) + 0.5)
    return Bad(inp.extract(rois=rois), rois.name)


def npy_complex(inp):
    rois = npy(inp.bad / "complex.npy", inp.good.roi_labels.astype(complex))
    return Bad(inp.extract(rois=rois), rois.name)


def npy_negative_labels(inp):
    rois = npy(inp.bad / "negative.npy", -inp.good.roi_labels)
    return Bad(inp.extract(rois=rois), rois.name)


def npy_object_array_of_numbers(inp):
    labels = inp.good.roi_labels.astype(object)
    rois = npy(inp.bad / "objects.npy", labels, allow_pickle=True)
    return Bad(inp.extract(rois=rois), rois.name)


def npy_a_pickle_named_npy(inp):
    rois = write_bytes(inp.bad / "pickled.npy", pickle.dumps(inp.good.roi_labels))
    return Bad(inp.extract(rois=rois), rois.name)


def npy_truncated(inp):
    rois = cut(inp.good.labels, inp.bad / "cut.npy")
    return Bad(inp.extract(rois=rois), rois.name)


def npy_empty_file(inp):
    rois = write_bytes(inp.bad / "empty.npy", b"")
    return Bad(inp.extract(rois=rois), rois.name)


def npy_labels_beyond_int64(inp):
    labels = inp.good.roi_labels.astype(np.uint64)
    labels[labels == 1] = 2**63 + 5
    rois = npy(inp.bad / "uint64.npy", labels)
    return Bad(inp.extract(rois=rois), rois.name)


def tif_label_image_corrupt(inp):
    rois = write_bytes(inp.bad / "labels.tif", b"II*\x00\x08\x00\x00\x00" + b"\x00" * 40)
    return Bad(inp.extract(rois=rois), rois.name)


def tif_label_image_float(inp):
    rois = tiff(inp.bad / "float.tif", inp.good.roi_labels.astype(np.float32) / 3)
    return Bad(inp.extract(rois=rois), rois.name)


# -- ROI files: suite2p stat.npy -----------------------------------------------------------------
def stat_dicts_without_xpix(inp):
    rois = suite2p_folder(inp, stat=[{"ypix": np.array([5]), "lam": np.ones(1)}])
    return Bad(inp.extract(rois=rois), rois.name)


def stat_xpix_of_text(inp):
    rois = suite2p_folder(inp, stat=[{"ypix": np.array([5]), "xpix": np.array(["five"])}])
    return Bad(inp.extract(rois=rois), rois.name)


def stat_xpix_and_ypix_of_different_lengths(inp):
    rois = suite2p_folder(inp, stat=[{"ypix": np.array([5, 6, 7]), "xpix": np.array([5, 6])}])
    return Bad(inp.extract(rois=rois), rois.name)


def stat_negative_pixels(inp):
    rois = suite2p_folder(inp, stat=[{"ypix": np.array([-1, 5]), "xpix": np.array([5, 5])}])
    return Bad(inp.extract(rois=rois), rois.name)


def stat_builds_another_class(inp):
    rois = suite2p_folder(
        inp, stat=[{"ypix": np.array([5]), "xpix": np.array([5])}, Fraction(1, 3)]
    )
    return Bad(inp.extract(rois=rois), rois.name)


def stat_pixels_far_outside(inp):
    rois = suite2p_folder(inp, stat=[{"ypix": np.array([0, 10**15]), "xpix": np.array([5, 5])}])
    return Bad(inp.extract(rois=rois), rois.name)


def stat_iscell_without_columns(inp):
    stat = suite2p_folder(inp, iscell=np.ones((2, 0)))
    return Bad(inp.extract(rois=stat), "iscell.npy")


def stat_ops_size_not_the_movies(inp):
    ops = np.empty((), dtype=object)
    ops[()] = {"Ly": 32, "Lx": 32}
    stat = suite2p_folder(inp)
    npy(stat.with_name("ops.npy"), ops, allow_pickle=True)
    # the size the ROIs were drawn on comes from ops.npy: the message should say so
    return Bad(inp.extract(rois=stat), "ops.npy")


def stat_iscell_of_the_wrong_length(inp):
    stat = suite2p_folder(inp, iscell=np.ones((5, 2)))
    return Bad(inp.extract(rois=stat), "iscell.npy")


def stat_iscell_not_npy(inp):
    stat = suite2p_folder(inp)
    write_text(stat.with_name("iscell.npy"), "1\n1\n")
    return Bad(inp.extract(rois=stat), "iscell.npy")


def stat_ops_not_a_dict(inp):
    stat = suite2p_folder(inp, ops=[SIZE, SIZE])
    return Bad(inp.extract(rois=stat), "ops.npy")


def stat_ops_sizes_not_numbers(inp):
    ops = np.empty((), dtype=object)
    ops[()] = {"Ly": "sixty-four", "Lx": SIZE}
    stat = suite2p_folder(inp)
    npy(stat.with_name("ops.npy"), ops, allow_pickle=True)
    return Bad(inp.extract(rois=stat), "ops.npy")


# -- ROI files: NWB --------------------------------------------------------------------------------
def nwb_not_hdf5(inp):
    rois = write_text(inp.bad / "notes.nwb", "session of mouse 3\n")
    return Bad(inp.extract(rois=rois), rois.name)


def nwb_plain_hdf5(inp):
    rois = shutil.copy(inp.good.movie, inp.bad / "plain.nwb")
    return Bad(inp.extract(rois=rois), Path(rois).name)


def nwb_without_image_segmentation(inp):
    from datetime import datetime, timezone

    from pynwb import NWBHDF5IO, NWBFile

    rois = inp.bad / "no_rois.nwb"
    session = NWBFile(
        session_description="a session without ROIs",
        identifier="no-rois",
        session_start_time=datetime(2024, 5, 1, tzinfo=timezone.utc),
    )
    session.create_processing_module("ophys", "optical physiology, nothing segmented")
    with NWBHDF5IO(str(rois), "w") as io:
        io.write(session)
    return Bad(inp.extract(rois=rois), rois.name)


def nwb_truncated(inp):
    whole = good_rois(inp, "whole.nwb")
    rois = cut(whole, inp.bad / "cut.nwb")
    whole.unlink()
    return Bad(inp.extract(rois=rois), rois.name)


# -- arguments ------------------------------------------------------------------------------------
def border_negative(inp):
    return Bad(inp.extract("--border", "-1", "0", "0", "0"), "--border")


def border_nan(inp):
    return Bad(inp.extract("--border", "nan", "0", "0", "0"), "--border")


def border_infinite(inp):
    return Bad(inp.extract("--border", "0", "inf", "0", "0"), "--border")


def border_wider_than_the_frame(inp):
    return Bad(inp.extract("--border", "40", "40", "0", "0"), "--border")


def block_size_zero(inp):
    return Bad(inp.extract("--block-size", "0"), "--block-size")


def block_size_not_a_number(inp):
    return Bad(inp.extract("--block-size", "many"), "--block-size")


def neuropil_radius_negative(inp):
    return Bad(inp.extract("--neuropil-radius", "-1"), "--neuropil-radius")


def inner_gap_not_below_the_radius(inp):
    return Bad(inp.extract("--neuropil-radius", "5", "--inner-gap", "5"), "--inner-gap")


def min_pixels_negative(inp):
    return Bad(inp.extract("--min-pixels", "-10"), "--min-pixels")


def workers_zero(inp):
    return Bad(inp.extract("--workers", "0"), "--workers")


def scheduler_with_a_tiff_movie(inp):
    movie = tiff(inp.bad / "movie.tif", inp.good.frames)
    return Bad(inp.extract("--scheduler", "local", movie=movie), movie.name)


def scheduler_of_an_unknown_kind(inp):
    return Bad(inp.extract("--scheduler", "ftp://cluster:8786"), "--scheduler")


def manifest(inp: Inputs, text: str) -> Path:
    return write_text(inp.bad / "jobs.csv", text)


def manifest_args(inp: Inputs, path: Path) -> list:
    return ["extract", "--manifest", path, "-o", inp.out.parent, "--overwrite"]


def manifest_without_the_columns(inp):
    path = manifest(inp, f"file,labels\n{inp.good.movie},{inp.good.labels}\n")
    return Bad(manifest_args(inp, path), path.name)


def manifest_rows_sharing_an_output_folder(inp):
    for sub in ("day1", "day2"):
        (inp.bad / sub).mkdir()
        shutil.copy(inp.good.movie, inp.bad / sub / "movie.h5")
    rows = "".join(f"{sub}/movie.h5,{inp.good.labels}\n" for sub in ("day1", "day2"))
    path = manifest(inp, "movie,rois\n" + rows)
    return Bad(manifest_args(inp, path), path.name)


def manifest_naming_a_missing_movie(inp):
    path = manifest(inp, f"movie,rois,output\nmissing_movie.h5,{inp.good.labels},out\n")
    return Bad(manifest_args(inp, path), "missing_movie.h5")


def manifest_row_without_rois(inp):
    path = manifest(inp, f"movie,rois,output\n{inp.good.movie}\n")
    return Bad(manifest_args(inp, path), path.name)


def manifest_missing(inp):
    return Bad(manifest_args(inp, inp.bad / "jobs.csv"), "jobs.csv")


def manifest_empty(inp):
    path = manifest(inp, "")
    return Bad(manifest_args(inp, path), path.name)


def manifest_not_text(inp):
    path = write_bytes(inp.bad / "jobs.csv", bytes(range(128, 256)) * 4)
    return Bad(manifest_args(inp, path), path.name)


def manifest_and_files_both(inp):
    path = manifest(inp, f"movie,rois,output\n{inp.good.movie},{inp.good.labels},out\n")
    args = inp.extract("--manifest", path)
    return Bad(args, "--manifest")


def odd_number_of_files(inp):
    args = inp.extract()
    args.insert(3, inp.good.labels)  # MOVIE ROIS ROIS
    return Bad(args, "MOVIE")


def no_files(inp):
    return Bad(["extract", "-o", inp.out, "--overwrite"], "MOVIE")


def two_movies_of_the_same_name(inp):
    movies = []
    for sub in ("day1", "day2"):
        (inp.bad / sub).mkdir()
        movies.append(shutil.copy(inp.good.movie, inp.bad / sub / "movie.h5"))
    args = ["extract", *movies, inp.good.labels, inp.good.labels]
    return Bad([*args, "-o", inp.out.parent, "--overwrite"], "movie.h5")


def output_is_a_file(inp):
    out = write_text(inp.bad / "results.txt", "not a folder\n")
    return Bad(inp.extract(out=out), out.name)


def output_inside_a_file(inp):
    inside = write_text(inp.bad / "results.txt", "not a folder\n") / "out"
    return Bad(inp.extract(out=inside), "results.txt")


def output_name_too_long(inp):
    return Bad(inp.extract(out=inp.out.parent / TOO_LONG), TOO_LONG)


def output_holds_a_folder(inp):
    (inp.out / "plots").mkdir()
    return Bad(inp.extract(), inp.out.name)


def output_would_replace_the_movie(inp):
    return Bad(inp.extract(movie=inp.out / "roi_traces.h5"), "roi_traces.h5")


def output_in_a_read_only_place(inp):
    place = inp.root / "readonly"
    place.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(place)], capture_output=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs: {mounted.stderr.decode().strip()}")
    inp.finalizer(lambda: subprocess.run(["umount", str(place)], check=True))
    shutil.copytree(inp.out, place / "out")  # a complete set, on a disk that became read-only
    subprocess.run(["mount", "-o", "remount,ro", str(place)], check=True)
    return Bad(inp.extract(out=place / "out"), place.name)


def nwb_age_not_a_duration(inp):
    animal = ["--subject-id", "m3", "--species", "Mus musculus", "--age", "90 days"]
    return Bad(inp.extract("--nwb", *animal), "--age")


def nwb_species_not_latin(inp):
    animal = ["--subject-id", "m3", "--species", "mouse", "--age", "P90D"]
    return Bad(inp.extract("--nwb", *animal), "--species")


def nwb_session_start_not_a_time(inp):
    return Bad(inp.extract("--nwb", "--session-start", "yesterday"), "--session-start")


def nwb_negative_wavelength(inp):
    return Bad(inp.extract("--nwb", "--excitation-wavelength", "-920"), "--excitation-wavelength")


def session_option_without_nwb(inp):
    return Bad(inp.extract("--institution", "Allen Institute"), "--institution")


# -- info ----------------------------------------------------------------------------------------
def info_missing_file(inp):
    return Bad(["info", inp.bad / "missing.roimasks.h5"], "missing.roimasks.h5")


def info_name_too_long(inp):
    return Bad(["info", inp.bad / f"{TOO_LONG}.json"], f"{TOO_LONG}.json")


def info_truncated_hdf5(inp):
    path = cut(inp.good.movie, inp.bad / "truncated.h5")
    return Bad(["info", path], path.name)


def info_corrupt_tiff(inp):
    path = write_bytes(inp.bad / "corrupt.tif", b"II*\x00" + bytes(range(256)) * 8)
    return Bad(["info", path], path.name)


def info_unknown_suffix(inp):
    path = write_text(inp.bad / "notes.txt", "nothing\n")
    return Bad(["info", path], path.name)


def info_deeply_nested_json(inp):
    path = write_text(inp.bad / "nested.json", "[" * 100_000)
    return Bad(["info", path], path.name)


def info_folder(inp):
    path = inp.bad / "rois.json"
    path.mkdir()
    return Bad(["info", path], path.name)


def info_roimasks_image_shape_of_one_number(inp):
    path = with_h5(
        good_rois(inp, "shape1.roimasks.h5"),
        lambda f: f.attrs.__setitem__("image_shape", [SIZE]),
    )
    return Bad(["info", path], path.name)


def info_stat_without_xpix(inp):
    path = suite2p_folder(inp, stat=[{"ypix": np.array([5])}])
    return Bad(["info", path], path.name)


# -- the table of cases ----------------------------------------------------------------------------
CASES = {
    # movies
    "movie-text-file": movie_text_file,
    "movie-empty-file": movie_empty_file,
    "movie-truncated-hdf5": movie_truncated_hdf5,
    "movie-hdf5-without-data": movie_hdf5_without_data,
    "movie-hdf5-data-is-a-group": movie_hdf5_data_is_a_group,
    "movie-hdf5-two-3d-datasets-no-data": movie_hdf5_two_movies_no_data,
    "movie-2d-dataset": movie_2d,
    "movie-4d-dataset": movie_4d,
    "movie-zero-frames": movie_zero_frames,
    "movie-frames-of-zero-pixels": movie_frames_of_zero_pixels,
    "movie-complex-pixels": movie_complex,
    "movie-compound-pixels": movie_compound,
    "movie-bool-pixels": movie_bool,
    "movie-fixed-length-text-pixels": movie_fixed_length_text,
    "movie-variable-length-text-pixels": movie_variable_length_text,
    "movie-broken-external-link": movie_broken_external_link,
    "movie-corrupt-gzip-chunk-frame-10": movie_corrupt_chunk_in_the_middle,
    "movie-corrupt-gzip-chunk-frame-0": movie_corrupt_first_chunk,
    "movie-tiff-of-one-page": movie_tiff_of_one_page,
    "movie-rgb-tiff-of-one-page": movie_rgb_tiff_of_one_page,
    "movie-corrupt-tiff": movie_corrupt_tiff,
    "movie-truncated-tiff": movie_truncated_tiff,
    "movie-frames-smaller-than-the-rois-image": movie_frames_smaller_than_the_rois_image,
    "movie-unreadable-chmod-000": movie_unreadable,
    "movie-is-a-folder": movie_is_a_folder,
    "movie-missing": movie_missing,
    "movie-hdf5-compressed-with-a-missing-filter": movie_compressed_with_a_missing_filter,
    "movie-hdf5-external-raw-file-missing": movie_external_raw_file_missing,
    "movie-tiff-pages-of-different-sizes": movie_tiff_pages_of_different_sizes,
    "movie-rgb-tiff-of-several-pages": movie_rgb_tiff_of_several_pages,
    "movie-name-too-long": movie_name_too_long,
    "movie-dataset-option-names-no-dataset": movie_dataset_option_names_no_dataset,
    # this project's .roimasks.h5
    "roimasks-truncated": roimasks_truncated,
    "roimasks-without-boxes": roimasks_without_boxes,
    "roimasks-boxes-larger-than-the-pixels": roimasks_boxes_larger_than_the_pixels,
    "roimasks-box-at-a-negative-row": roimasks_box_at_a_negative_row,
    "roimasks-one-id-short": roimasks_one_id_short,
    "roimasks-negative-ring-radius": roimasks_negative_ring_radius,
    "roimasks-nan-border": roimasks_nan_border,
    "roimasks-image-shape-of-one-number": roimasks_image_shape_of_one_number,
    "roimasks-id-not-utf8": roimasks_id_not_utf8,
    "roimasks-rois-is-a-dataset": roimasks_rois_is_a_dataset,
    "roimasks-a-movie-named-roimasks": roimasks_a_movie_named_roimasks,
    # Allen JSON
    "json-not-json": json_not_json,
    "json-binary": json_binary,
    "json-deeply-nested": json_deeply_nested,
    "json-a-number": json_a_number,
    "json-wrong-types": json_wrong_types,
    "json-mask-outside-the-image": json_mask_outside_the_image,
    "json-negative-x": json_negative_x,
    "json-mask-rows-of-different-lengths": json_mask_rows_of_different_lengths,
    "json-mask-not-its-box-size": json_mask_not_its_box_size,
    "json-negative-motion-border": json_negative_motion_border,
    "json-image-size-not-the-movies": json_image_size_not_the_movies,
    "json-id-is-an-object": json_id_is_an_object,
    "json-mask-group-not-a-number": json_mask_group_not_a_number,
    "json-name-too-long": json_name_too_long,
    "json-huge-coordinate": json_huge_coordinate,
    # ImageJ
    "imagej-empty-zip": zip_empty,
    "imagej-zip-member-not-an-roi": zip_member_not_an_roi,
    "imagej-truncated-zip": zip_truncated,
    "imagej-zip-of-a-line-roi": zip_line_roi,
    "imagej-encrypted-zip": zip_encrypted,
    "imagej-zip-of-an-unknown-compression": zip_unknown_compression,
    "imagej-truncated-roi": roi_truncated,
    "imagej-roi-not-an-roi": roi_not_an_roi,
    "imagej-point-roi": roi_point,
    # label images
    "labels-npy-3d": npy_3d,
    "labels-npy-1d": npy_1d,
    "labels-npy-float": npy_float,
    "labels-npy-complex": npy_complex,
    "labels-npy-negative": npy_negative_labels,
    "labels-npy-object-array-of-numbers": npy_object_array_of_numbers,
    "labels-npy-a-pickle-named-npy": npy_a_pickle_named_npy,
    "labels-npy-truncated": npy_truncated,
    "labels-npy-empty-file": npy_empty_file,
    "labels-npy-uint64-beyond-int64": npy_labels_beyond_int64,
    "labels-tif-corrupt": tif_label_image_corrupt,
    "labels-tif-float": tif_label_image_float,
    # suite2p
    "suite2p-stat-without-xpix": stat_dicts_without_xpix,
    "suite2p-stat-xpix-of-text": stat_xpix_of_text,
    "suite2p-stat-xpix-ypix-lengths-differ": stat_xpix_and_ypix_of_different_lengths,
    "suite2p-stat-negative-pixels": stat_negative_pixels,
    "suite2p-stat-builds-another-class": stat_builds_another_class,
    "suite2p-stat-pixels-far-outside": stat_pixels_far_outside,
    "suite2p-iscell-without-columns": stat_iscell_without_columns,
    "suite2p-ops-size-not-the-movies": stat_ops_size_not_the_movies,
    "suite2p-iscell-of-the-wrong-length": stat_iscell_of_the_wrong_length,
    "suite2p-iscell-not-npy": stat_iscell_not_npy,
    "suite2p-ops-not-a-dict": stat_ops_not_a_dict,
    "suite2p-ops-sizes-not-numbers": stat_ops_sizes_not_numbers,
    # NWB
    "nwb-not-hdf5": nwb_not_hdf5,
    "nwb-plain-hdf5": nwb_plain_hdf5,
    "nwb-without-image-segmentation": nwb_without_image_segmentation,
    "nwb-truncated": nwb_truncated,
    # arguments
    "arg-border-negative": border_negative,
    "arg-border-nan": border_nan,
    "arg-border-infinite": border_infinite,
    "arg-border-wider-than-the-frame": border_wider_than_the_frame,
    "arg-block-size-zero": block_size_zero,
    "arg-block-size-not-a-number": block_size_not_a_number,
    "arg-neuropil-radius-negative": neuropil_radius_negative,
    "arg-inner-gap-not-below-the-radius": inner_gap_not_below_the_radius,
    "arg-min-pixels-negative": min_pixels_negative,
    "arg-workers-zero": workers_zero,
    "arg-scheduler-with-a-tiff-movie": scheduler_with_a_tiff_movie,
    "arg-scheduler-of-an-unknown-kind": scheduler_of_an_unknown_kind,
    "arg-manifest-without-the-columns": manifest_without_the_columns,
    "arg-manifest-rows-sharing-an-output-folder": manifest_rows_sharing_an_output_folder,
    "arg-manifest-naming-a-missing-movie": manifest_naming_a_missing_movie,
    "arg-manifest-row-without-rois": manifest_row_without_rois,
    "arg-manifest-missing": manifest_missing,
    "arg-manifest-empty": manifest_empty,
    "arg-manifest-not-text": manifest_not_text,
    "arg-manifest-and-files-both": manifest_and_files_both,
    "arg-odd-number-of-files": odd_number_of_files,
    "arg-no-files": no_files,
    "arg-two-movies-of-the-same-name": two_movies_of_the_same_name,
    "arg-output-is-a-file": output_is_a_file,
    "arg-output-inside-a-file": output_inside_a_file,
    "arg-output-name-too-long": output_name_too_long,
    "arg-output-holds-a-folder": output_holds_a_folder,
    "arg-output-would-replace-the-movie": output_would_replace_the_movie,
    "arg-output-in-a-read-only-place": output_in_a_read_only_place,
    "arg-nwb-age-not-a-duration": nwb_age_not_a_duration,
    "arg-nwb-species-not-latin": nwb_species_not_latin,
    "arg-nwb-session-start-not-a-time": nwb_session_start_not_a_time,
    "arg-nwb-negative-wavelength": nwb_negative_wavelength,
    "arg-session-option-without-nwb": session_option_without_nwb,
    # info
    "info-missing-file": info_missing_file,
    "info-name-too-long": info_name_too_long,
    "info-truncated-hdf5": info_truncated_hdf5,
    "info-corrupt-tiff": info_corrupt_tiff,
    "info-unknown-suffix": info_unknown_suffix,
    "info-deeply-nested-json": info_deeply_nested_json,
    "info-folder": info_folder,
    "info-roimasks-image-shape-of-one-number": info_roimasks_image_shape_of_one_number,
    "info-suite2p-stat-without-xpix": info_stat_without_xpix,
}


# -- the test ------------------------------------------------------------------------------------
def snapshot(root: Path) -> dict:
    """Every entry under ``root``: a file's bytes, a folder, a link's target."""
    found = {}
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            path = Path(folder) / name
            key = str(path.relative_to(root))
            if path.is_symlink():
                found[key] = ("link", os.readlink(path))
            elif path.is_dir():
                found[key] = ("folder",)
            else:
                try:
                    found[key] = ("file", path.read_bytes())
                except PermissionError:  # a case's unreadable input
                    found[key] = ("unreadable", path.stat().st_size)
    return found


def changes(before: dict, after: dict) -> list[str]:
    return [
        f"{key}: {'new' if key not in before else 'gone' if key not in after else 'changed'}"
        for key in sorted(before.keys() | after.keys())
        if before.get(key) != after.get(key)
    ]


@pytest.mark.parametrize("build", CASES.values(), ids=CASES.keys())
def test_a_bad_input_is_one_line_exit_2_and_changes_nothing(build, inputs):
    bad = build(inputs)
    before = snapshot(inputs.root)
    result = run_cli(bad.args)
    after = snapshot(inputs.root)
    lines = result.stderr.strip().splitlines()
    broken = []
    if result.returncode != 2:
        broken.append(f"exit code {result.returncode}, expected 2")
    if len(lines) != 1:
        broken.append(f"{len(lines)} lines on stderr, expected 1")
    if not lines or not lines[0].startswith("napari-roimasks: error:"):
        broken.append("stderr does not start with 'napari-roimasks: error:'")
    if not lines or bad.names not in lines[0]:
        broken.append(f"the error line does not name {bad.names!r}")
    if "Traceback" in result.stderr:
        broken.append("a traceback on stderr")
    moved = changes(before, after)
    if moved:
        broken.append(f"files changed: {', '.join(moved)}")
    command = " ".join(map(str, bad.args))
    assert not broken, (
        f"{'; '.join(broken)}\ncommand: napari-roimasks {command}\n"
        f"exit code: {result.returncode}\nstderr:\n{result.stderr}"
    )
