"""Every ROI format: the registry names it, what goes in comes back, and what a format
cannot hold is refused or said."""

from __future__ import annotations

import importlib
import pkgutil
import re
from dataclasses import fields
from datetime import datetime, timedelta, timezone
from pathlib import Path

import h5py
import npe2
import numpy as np
import pytest
import roifile

from napari_roimasks.core import MaskCrop, MotionBorder, RingOptions
from napari_roimasks.io import formats
from napari_roimasks.io.formats import (
    ROI_FORMATS,
    format_for,
    read_suffixes,
    writable_format_for,
    write_suffixes,
)
from napari_roimasks.io.layer_metadata import (
    LAYER_METADATA_BORDER,
    LAYER_METADATA_RING_OPTIONS,
    border_from_metadata,
    layer_metadata,
    ring_options_from_metadata,
)
from napari_roimasks.io.roi_files import RoiEntry, RoiFileError, RoiSet, read_rois, write_rois
from napari_roimasks.io.roi_set import Decision
from napari_roimasks.synthetic import place_cells

SHAPE = (64, 80)
MANIFEST = Path(__file__).parents[2] / "napari.yaml"
UNKNOWN = (
    "unknown ROI format; expected .roimasks.h5, Allen .json, ImageJ .roi/.zip, "
    "a label image (.npy, .tif), suite2p's stat.npy or NWB (.nwb)"
)


@pytest.fixture
def cells():
    labels = place_cells(SHAPE, 10, seed=8)
    crops = {k: MaskCrop.from_plane(labels == k) for k in range(1, labels.max() + 1)}
    return RoiSet(
        [RoiEntry(k, c, k % 3) for k, c in crops.items()], MotionBorder(2, 3, 4, 5), SHAPE
    )


def planes(roi_set):
    return [None if r.crop is None else r.crop.plane(SHAPE) for r in roi_set.rois]


def same_pixels(a, b):
    assert len(a.rois) == len(b.rois)
    for x, y in zip(planes(a), planes(b), strict=True):
        np.testing.assert_array_equal(x, y)


def test_own_file_keeps_everything_overlaps_included(tmp_path, cells):
    overlapping = RoiEntry("extra", MaskCrop(10, 10, np.ones((20, 20), bool)), 7)
    full = RoiSet(
        [*cells.rois, overlapping, RoiEntry(99, None, 1)],
        cells.border,
        SHAPE,
        RingOptions(9, 1, 50),
    )
    back = read_rois(write_rois(tmp_path / "session.roimasks.h5", full))
    same_pixels(back, full)
    assert [r.id for r in back.rois] == [r.id for r in full.rois]
    assert [r.mask_group for r in back.rois] == [r.mask_group for r in full.rois]
    assert (back.border, back.image_shape, back.ring_options) == (
        full.border,
        SHAPE,
        RingOptions(9, 1, 50),
    )
    assert back.version


def test_allen_json_keeps_pixels_ids_groups_and_border(tmp_path, cells):
    back = read_rois(write_rois(tmp_path / "rois.json", cells), image_shape=SHAPE)
    same_pixels(back, cells)
    assert [(r.id, r.mask_group) for r in back.rois] == [(r.id, r.mask_group) for r in cells.rois]
    assert back.border == cells.border


def test_label_images_keep_pixels_and_ids_but_not_groups_or_border(tmp_path, cells):
    for name in ("labels.npy", "labels.tif"):
        back = read_rois(write_rois(tmp_path / name, cells))
        same_pixels(back, cells)
        assert [r.id for r in back.rois] == [r.id for r in cells.rois]
        assert back.border is None and all(r.mask_group == -1 for r in back.rois)


def test_a_label_image_refuses_overlapping_rois(tmp_path, cells):
    both = RoiSet([*cells.rois, RoiEntry(50, cells.rois[0].crop)], image_shape=SHAPE)
    with pytest.raises(
        RoiFileError, match=r"pixels belong to more than one ROI; a label image cannot hold that"
    ):
        write_rois(tmp_path / "labels.npy", both)
    assert not (tmp_path / "labels.npy").exists()


def test_imagej_zip_keeps_outlines_that_redraw_the_same_pixels(tmp_path, cells):
    path = write_rois(tmp_path / "RoiSet.zip", cells)
    fiji = roifile.roiread(path)  # what Fiji's ROI Manager would open
    assert [r.name for r in fiji] == [str(r.id) for r in cells.rois]
    back = read_rois(path, image_shape=SHAPE)
    same_pixels(back, cells)


def test_imagej_rectangles_and_ovals_cover_the_pixels_imagej_would(tmp_path):
    rect = roifile.ImagejRoi(
        roitype=roifile.ROI_TYPE.RECT, top=5, left=10, bottom=9, right=16, name="r"
    )
    oval = roifile.ImagejRoi(
        roitype=roifile.ROI_TYPE.OVAL, top=20, left=20, bottom=30, right=30, name="o"
    )
    for roi in (rect, oval):
        roi.tofile(tmp_path / f"{roi.name}.roi")
    (r,) = read_rois(tmp_path / "r.roi", image_shape=SHAPE).rois
    assert (r.crop.top, r.crop.left, r.crop.pixels.shape, r.crop.pixels.all()) == (
        5,
        10,
        (4, 6),
        True,
    )
    (o,) = read_rois(tmp_path / "o.roi", image_shape=SHAPE).rois
    rows, columns = np.nonzero(o.crop.plane(SHAPE))
    assert (rows.min(), rows.max(), columns.min(), columns.max()) == (
        20,
        29,
        20,
        29,
    )  # a 10x10 disc


def test_imagej_lines_are_not_masks(tmp_path):
    line = roifile.ImagejRoi(roitype=roifile.ROI_TYPE.LINE, x1=1, y1=1, x2=20, y2=20, name="axon")
    line.tofile(tmp_path / "axon.roi")
    with pytest.raises(
        RoiFileError, match=r"axon.roi: ROI 0 \(axon\) is an ImageJ line ROI; only polygon"
    ):
        read_rois(tmp_path / "axon.roi", image_shape=SHAPE)


def test_suite2p_stat_with_iscell_and_ops(tmp_path):
    stat = np.array(
        [
            {"ypix": np.array([3, 3, 4]), "xpix": np.array([5, 6, 5]), "lam": np.ones(3)},
            {"ypix": np.array([10]), "xpix": np.array([20])},
        ],
        dtype=object,
    )
    np.save(tmp_path / "stat.npy", stat, allow_pickle=True)
    np.save(tmp_path / "iscell.npy", np.array([[1, 0.9], [0, 0.2]]))
    np.save(tmp_path / "ops.npy", {"Ly": 64, "Lx": 80}, allow_pickle=True)
    found = read_rois(tmp_path / "stat.npy")
    assert found.image_shape == SHAPE and [r.mask_group for r in found.rois] == [1, 0]
    np.testing.assert_array_equal(found.rois[0].crop.pixels, [[True, True], [True, False]])
    assert (found.rois[1].crop.top, found.rois[1].crop.left) == (10, 20)


class _Touches:
    """A pickle that, when loaded, creates a file: what a malicious ``.npy`` would run."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (Path(self.marker),))


def _bad_file(path: Path, content) -> None:
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif isinstance(content, np.ndarray):
        np.save(path, content)
    elif content == "hdf5 without rois":
        with h5py.File(path, "w") as f:
            f["movie"] = np.zeros((2, 2))
    else:  # "stat without xpix"
        np.save(path, np.array([{"ypix": np.array([1])}], dtype=object), allow_pickle=True)


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("cells.txt", b"1 2", "unknown ROI format; expected"),
        ("labels.npy", np.array([[0, -1]]), "a label image must not hold negative labels"),
        ("volume.npy", np.zeros((2, 3, 4), np.int32), "expected a 2D image of whole-number labels"),
        ("floats.npy", np.array([[0.5, 1.0]]), "expected a 2D image of whole-number labels"),
        ("notes.npy", b"some notes, not an array", "not a readable .npy array"),
        ("cut.npy", b"\x93NUMPY\x01\x00v\x00{'descr': '<i4'", "not a readable .npy array"),
        ("broken.tif", b"II*\x00garbage", "not a readable label image"),
        ("stat.npy", "stat without xpix", r"expected suite2p's stat.npy \(a list of dicts"),
        ("broken.zip", b"PK\x03\x04 not really", "not a readable ImageJ ROI file"),
        ("fake.roimasks.h5", b"\x89HDF not really", "not an HDF5 file; expected ROIs saved by"),
        ("movie.roimasks.h5", "hdf5 without rois", "an HDF5 file without napari-roimasks ROIs"),
        ("broken.json", b"[{", "not a JSON file"),
    ],
)
def test_bad_files_name_the_file_and_the_problem(tmp_path, name, content, message):
    path = tmp_path / name
    _bad_file(path, content)
    with pytest.raises(RoiFileError, match=f"{name}: .*{message}") as error:
        read_rois(path)
    assert "\n" not in str(error.value)  # one line


def test_a_pickle_named_npy_is_never_run(tmp_path):
    """A label image is read without unpickling: a pickle named ``labels.npy`` runs nothing."""
    import pickle

    marker = tmp_path / "ran"
    (tmp_path / "labels.npy").write_bytes(pickle.dumps(_Touches(marker)))
    with pytest.raises(
        RoiFileError, match=r"labels.npy: not a readable .npy array .*; expected a label image"
    ):
        read_rois(tmp_path / "labels.npy")
    assert not marker.exists()


def test_rois_outside_the_movie_are_refused(tmp_path, cells):
    write_rois(tmp_path / "rois.json", cells)  # records the image size: 80x64
    with pytest.raises(
        RoiFileError,
        match=r"rois.json: the ROIs were drawn on a 80x64 image but the movie's frames are 40x30",
    ):
        read_rois(tmp_path / "rois.json", image_shape=(30, 40))
    sizeless = RoiSet(cells.rois, image_shape=None)  # as the Allen pipeline writes them
    write_rois(tmp_path / "allen.json", sizeless)
    with pytest.raises(
        RoiFileError, match=r"allen.json: mask \d+ \(id \d+\) reaches .* outside the 40x30 image"
    ):
        read_rois(tmp_path / "allen.json", image_shape=(30, 40))


def test_nwb_keeps_masks_ids_groups_and_traces_but_not_the_border(tmp_path, cells):
    pytest.importorskip("pynwb")
    from pynwb import NWBHDF5IO

    from napari_roimasks.io.nwb import write_nwb

    traces = {
        "roi": np.arange(20.0).reshape(10, 2),
        "neuropil": np.ones((10, 2)),
        "corrected": np.zeros((10, 2)),
    }
    neuropils = [MaskCrop(0, 0, np.ones((2, 2), bool))] * 10
    path = write_nwb(tmp_path / "session.nwb", cells, neuropils=neuropils, traces=traces)
    back = read_rois(path, image_shape=SHAPE)
    same_pixels(back, cells)
    assert [(r.id, r.mask_group) for r in back.rois] == [(r.id, r.mask_group) for r in cells.rois]
    assert back.border is None  # NWB has no field for it
    with NWBHDF5IO(str(path), "r") as io:
        module = io.read().processing["ophys"]
        np.testing.assert_array_equal(
            module["Fluorescence"]["RoiResponseSeries"].data[:], traces["roi"].T
        )
        assert len(module["ImageSegmentation"]["NeuropilSegmentation"]) == 10
    with pytest.raises(FileExistsError):
        write_nwb(path, cells)


# -- the registry -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "format_name"),
    [
        ("session.roimasks.h5", "napari-roimasks"),
        ("SESSION.ROIMASKS.H5", "napari-roimasks"),
        ("rois.json", "Allen JSON"),
        ("RoiSet.zip", "ImageJ ROIs"),
        ("cell.roi", "ImageJ ROIs"),
        ("cellpose_masks.npy", "label image"),
        ("masks.tif", "label image"),
        ("masks.TIFF", "label image"),
        ("session.nwb", "NWB PlaneSegmentation"),
    ],
)
def test_each_suffix_names_its_format(tmp_path, name, format_name):
    assert format_for(tmp_path / name).name == format_name


def test_a_npy_of_objects_is_suite2p_whatever_its_name(tmp_path):
    np.save(tmp_path / "renamed.npy", np.array([{"ypix": [1], "xpix": [2]}]), allow_pickle=True)
    np.save(tmp_path / "stat.npy", np.zeros((4, 4), np.int32))
    assert format_for(tmp_path / "renamed.npy").name == "suite2p stat.npy"
    assert format_for(tmp_path / "stat.npy").name == "label image"
    assert read_rois(tmp_path / "renamed.npy").kind == "suite2p stat.npy"
    # writing a .npy always writes a label image, even over a stat.npy
    assert writable_format_for(tmp_path / "renamed.npy").name == "label image"


@pytest.mark.parametrize("name", ["movie.h5", "cells.txt", "rois", "rois.roimasks"])
def test_unknown_suffixes_list_the_formats_known(tmp_path, name):
    with pytest.raises(RoiFileError, match=f"^{re.escape(f'{tmp_path / name}: {UNKNOWN}')}$"):
        format_for(tmp_path / name)
    with pytest.raises(RoiFileError, match="unknown ROI format"):
        write_rois(tmp_path / name, RoiSet([]))


def test_formats_that_cannot_be_written_say_what_can(tmp_path, cells):
    with pytest.raises(
        RoiFileError, match=r"cell.roi: ImageJ ROIs are not written as .roi; write .zip"
    ):
        write_rois(tmp_path / "cell.roi", cells)
    assert not (tmp_path / "cell.roi").exists()
    assert [f.name for f in ROI_FORMATS if f.writer is None] == ["suite2p stat.npy"]


def test_every_format_module_is_registered():
    modules = {info.name for info in pkgutil.iter_modules(formats.__path__) if info.name != "base"}
    declared = {importlib.import_module(f"{formats.__name__}.{m}").FORMAT for m in modules}
    assert declared == set(ROI_FORMATS)
    assert set(read_suffixes()) == {s for f in ROI_FORMATS for s in f.suffixes}


#: Decisions of every kind: with a reason (not ASCII), a time in another zone, a probability.
CURATION = [
    dict(decision=Decision.CELL, reason="round, bright", probability=0.75),
    dict(
        decision=Decision.NOT_CELL,
        reason="a dendrite: «too long», 樹状突起",
        decided_at=datetime(2024, 5, 1, 10, 30, 15, 123456, tzinfo=timezone(timedelta(hours=2))),
    ),
    dict(),
    dict(decision=Decision.CELL, decided_at=datetime(2025, 1, 2, 3, 4, 5, tzinfo=timezone.utc)),
]


def curation_of(rois) -> list[tuple]:
    return [(r.decision, r.reason, r.decided_at, r.probability) for r in rois]


def _full_set(with_overlap: bool) -> RoiSet:
    """ROIs with ids that are not positions, groups, decisions, border, ring options and
    image size."""
    labels = place_cells(SHAPE, 10, seed=8)
    rois = [
        RoiEntry(10 * k + 3, MaskCrop.from_plane(labels == k), k % 3, **CURATION[k % 4])
        for k in range(1, labels.max() + 1)
    ]
    if with_overlap:
        first, block = rois[0].crop, np.zeros(SHAPE, bool)
        block[max(first.top - 2, 0) : first.top + 5, first.left : first.left + 6] = True
        assert (block[first.slices] & first.pixels).any()  # it shares the first ROI's pixels
        rois.append(RoiEntry(7, MaskCrop.from_plane(block), 2))
    return RoiSet(rois, MotionBorder(2, 3.5, 4, 5), SHAPE, RingOptions(9, 2, 40))


@pytest.mark.parametrize(
    "form", [f for f in ROI_FORMATS if f.writer is not None], ids=lambda f: f.name
)
def test_what_a_format_declares_is_what_a_round_trip_keeps(tmp_path, form):
    if form.name.startswith("NWB"):
        pytest.importorskip("pynwb")
    holds = form.holds
    written = _full_set(with_overlap=holds.overlaps)
    path = write_rois(tmp_path / f"rois{form.write_suffixes[0]}", written)
    assert format_for(path) is form

    back = read_rois(path)  # no image size given: only what the file holds

    assert back.kind == form.name
    same_pixels(back, written)
    if holds.ids:
        assert [r.id for r in back.rois] == [r.id for r in written.rois]
    no_group = [-1] * len(written.rois)
    assert [r.mask_group for r in back.rois] == (
        [r.mask_group for r in written.rois] if holds.groups else no_group
    )
    assert back.border == (written.border if holds.border else None)
    assert back.ring_options == (written.ring_options if holds.ring_options else None)
    assert back.image_shape == (SHAPE if holds.image_shape else None)
    unlabeled = [(Decision.UNLABELED, "", None, None)] * len(written.rois)
    assert curation_of(back.rois) == (curation_of(written.rois) if holds.decisions else unlabeled)
    if not holds.overlaps:
        with pytest.raises(RoiFileError, match="more than one ROI"):
            write_rois(tmp_path / f"overlaps{form.write_suffixes[0]}", _full_set(True))


def test_a_format_says_what_it_holds_in_words():
    own = format_for("x.roimasks.h5")
    assert own.holds.names() == (
        "masks",
        "overlaps",
        "ids",
        "groups",
        "border",
        "ring options",
        "image size",
        "decisions",
    )
    assert [f.name for f in fields(own.holds)] == [
        "masks",
        "overlaps",
        "ids",
        "groups",
        "border",
        "ring_options",
        "image_shape",
        "decisions",
    ]


def test_the_manifest_offers_exactly_the_registrys_suffixes():
    manifest = npe2.PluginManifest.from_file(MANIFEST)
    readers = {r.command.rsplit(".", 1)[-1]: r for r in manifest.contributions.readers}
    writers = {w.command.rsplit(".", 1)[-1]: w for w in manifest.contributions.writers}
    assert readers["get_roi_reader"].filename_patterns == [f"*{s}" for s in read_suffixes()]
    assert writers["write_labels"].filename_extensions == list(write_suffixes())
    # a Shapes layer may hold overlapping ROIs: only formats that keep them
    assert writers["write_shapes"].filename_extensions == list(
        write_suffixes(holding_overlaps=True)
    )


# -- border and ring options in a layer's metadata --------------------------------------------
def test_border_and_ring_options_go_to_layer_metadata_and_back():
    border, ring = MotionBorder(1.5, 0, 2, 3), RingOptions(13, 2, 50)
    metadata = layer_metadata(border, ring)
    assert metadata == {
        LAYER_METADATA_BORDER: [1.5, 0.0, 2.0, 3.0],
        LAYER_METADATA_RING_OPTIONS: {"outer_radius": 13, "inner_gap": 2, "min_pixels": 50},
    }
    assert (border_from_metadata(metadata), ring_options_from_metadata(metadata)) == (border, ring)
    assert layer_metadata() == {}
    assert (border_from_metadata({}), ring_options_from_metadata(None)) == (None, None)


@pytest.mark.parametrize(
    ("metadata", "message"),
    [
        ({LAYER_METADATA_BORDER: [1, 2, 3]}, r"'motion_border': border must hold exactly 4"),
        ({LAYER_METADATA_RING_OPTIONS: {"radius": 3}}, r"'ring_options' must be a dict of"),
        (
            {LAYER_METADATA_RING_OPTIONS: {"outer_radius": 3, "inner_gap": 3}},
            r"'ring_options': neuropil inner_gap \(3\) must be smaller",
        ),
    ],
)
def test_bad_layer_metadata_says_which_entry(metadata, message):
    def read_both():
        return border_from_metadata(metadata), ring_options_from_metadata(metadata)

    with pytest.raises(ValueError, match=message):
        read_both()
