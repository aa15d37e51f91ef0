"""File > Open and File > Save through napari, as a user's viewer calls them.

The headless tests go through npe2 (napari's plugin manager) with layer data
tuples; the GUI tests (marked ``gui``) make a real viewer, let napari build
the layers (so their features are a pandas DataFrame, as in napari itself),
and save and open through ``viewer.layers.save`` and ``viewer.open``.
"""

from __future__ import annotations

import os
import sys
import zipfile

import h5py
import npe2
import numpy as np
import pandas as pd
import pytest
import tifffile

from napari_roimasks.core import MaskCrop, MotionBorder, RingOptions
from napari_roimasks.core.geometry import mask_outlines
from napari_roimasks.io.formats import write_suffixes
from napari_roimasks.io.layer_metadata import (
    LAYER_METADATA_BORDER,
    LAYER_METADATA_RING_OPTIONS,
    layer_metadata,
)
from napari_roimasks.io.roi_files import RoiEntry, RoiFileError, RoiSet, read_rois, write_rois
from napari_roimasks.synthetic import place_cells

PLUGIN = "napari-roimasks"
SHAPE = (64, 80)
BORDER = MotionBorder(1.5, 2, 3, 4)
RING = RingOptions(outer_radius=9, inner_gap=2, min_pixels=40)

# What a user gets back from each file, saved from a layer: (groups, border, ring options, size)
KEEPS = {
    ".roimasks.h5": (True, True, True, True),
    ".json": (True, True, False, True),
    ".zip": (False, False, False, True),
    ".npy": (False, False, False, True),
    ".tif": (False, False, False, True),
    ".tiff": (False, False, False, True),
    ".nwb": (True, False, False, True),
}

no_display = sys.platform.startswith("linux") and not (
    os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
)
needs_display = pytest.mark.skipif(
    no_display, reason="no display: run under xvfb-run, or bash scripts/test.sh"
)


@pytest.fixture(autouse=True, scope="module")
def plugins():
    """napari discovers plugins when it starts; the npe2 tests run without a viewer."""
    npe2.PluginManager.instance().discover(include_npe1=False)


@pytest.fixture
def cells():
    """(rows, columns) labels of 8 cells whose ids are not their positions (13, 23, ... 83)."""
    labels = place_cells(SHAPE, 8, seed=3)
    return np.where(labels > 0, labels * 10 + 3, 0).astype(np.int32)


def needs_pynwb(suffix):
    if suffix == ".nwb":
        pytest.importorskip("pynwb")


def labels_of(found, shape=SHAPE) -> np.ndarray:
    """The label image of an RoiSet read from disk, each ROI drawn with its (int) id."""
    image = np.zeros(shape, dtype=np.int64)
    for roi in found.rois:
        image[roi.crop.slices][roi.crop.pixels] = int(roi.id)
    return image


def padded(data, shape=SHAPE) -> np.ndarray:
    """A reopened layer's labels on the full image: formats without the image size give the ROIs' extent."""
    data = np.asarray(data)
    assert data.shape[0] <= shape[0] and data.shape[1] <= shape[1]
    full = np.zeros(shape, dtype=np.int64)
    full[: data.shape[0], : data.shape[1]] = data
    return full


def groups_of(labels) -> dict[int, int]:
    """A group per ROI id, different for neighbouring ids: 13 -> 1, 23 -> 2, ..."""
    return {int(k): int(k) // 10 % 3 for k in np.unique(labels) if k}


# -- headless: npe2 with layer data tuples ----------------------------------------------------
def test_hdf5_movie_opens_lazily(tmp_path):
    movie = np.random.default_rng(1).integers(0, 500, (30, 40, 50), dtype=np.uint16)
    with h5py.File(tmp_path / "session.h5", "w") as f:
        f.create_dataset("data", data=movie, chunks=(1, 40, 50))
    ((data, meta, kind),) = npe2.read(
        [str(tmp_path / "session.h5")], stack=False, plugin_name=PLUGIN
    )
    assert kind == "image" and meta["name"] == "session"
    assert type(data).__module__.startswith("dask")  # nothing read until asked
    np.testing.assert_array_equal(np.asarray(data[7]), movie[7])


def test_each_file_opens_as_what_it_holds(tmp_path, cells):
    """A one-page TIFF and a .roimasks.h5 are ROIs; a TIFF stack and an HDF5 movie are movies."""
    movie = np.arange(3 * 8 * 8, dtype=np.uint16).reshape(3, 8, 8)
    tifffile.imwrite(tmp_path / "movie.tif", movie, photometric="minisblack")
    tifffile.imwrite(tmp_path / "cellpose.tif", cells)
    with h5py.File(tmp_path / "movie.h5", "w") as f:
        f["data"] = movie
    one_roi = RoiSet([RoiEntry(5, MaskCrop.from_plane(cells > 0))], image_shape=SHAPE)
    write_rois(tmp_path / "rois.roimasks.h5", one_roi)
    opened = {
        name: npe2.read([str(tmp_path / name)], stack=False, plugin_name=PLUGIN)
        for name in ("movie.tif", "cellpose.tif", "movie.h5", "rois.roimasks.h5")
    }
    assert {name: [kind for *_, kind in layers] for name, layers in opened.items()} == {
        "movie.tif": ["image"],
        "cellpose.tif": ["labels"],
        "movie.h5": ["image"],
        "rois.roimasks.h5": ["labels"],
    }
    np.testing.assert_array_equal(np.asarray(opened["movie.tif"][0][0]), movie)
    np.testing.assert_array_equal(opened["cellpose.tif"][0][0], cells)
    np.testing.assert_array_equal(opened["rois.roimasks.h5"][0][0], np.where(cells > 0, 5, 0))


def test_labels_layer_saves_and_reopens_losslessly(tmp_path, cells):
    groups = groups_of(cells)
    meta = {
        "name": "ROIs",
        "metadata": layer_metadata(BORDER, RING),
        "features": {"index": list(groups), "mask_group": list(groups.values())},
    }
    for suffix in (".roimasks.h5", ".json", ".zip"):
        path = tmp_path / f"rois{suffix}"
        written = npe2.write(str(path), [(cells, meta, "labels")], plugin_name=PLUGIN)
        assert written == [str(path)]
        back = read_rois(path, image_shape=SHAPE)
        np.testing.assert_array_equal(labels_of(back), cells)
        if suffix != ".zip":  # ImageJ files hold no border and no groups
            assert back.border == BORDER
            assert {r.id: r.mask_group for r in back.rois} == groups


def test_a_broken_roi_file_says_which_and_why(tmp_path):
    (tmp_path / "rois.json").write_text('[{"id": 1}]')
    with pytest.raises(
        RoiFileError, match=r"rois.json: mask 0 \(id 1\) lacks x, y, width, height, mask"
    ):
        npe2.read([str(tmp_path / "rois.json")], stack=False, plugin_name=PLUGIN)


def test_hdf5_without_data_offers_each_movie_dataset(tmp_path):
    with h5py.File(tmp_path / "two.h5", "w") as f:
        f["green"] = np.zeros((3, 8, 8), np.uint16)
        f["red"] = np.ones((3, 8, 8), np.uint16)
        f["mean"] = np.zeros((8, 8))
    layers = npe2.read([str(tmp_path / "two.h5")], stack=False, plugin_name=PLUGIN)
    assert [meta["name"] for _, meta, _ in layers] == ["two green", "two red"]
    np.testing.assert_array_equal(np.asarray(layers[1][0]), np.ones((3, 8, 8)))


def test_suite2p_rois_open_as_distinct_labels_with_iscell_as_group(tmp_path):
    # suite2p numbers ROIs from 0: ROI 0 must not be drawn with ROI 1's label
    stat = np.array(
        [
            {"ypix": np.array([3, 3]), "xpix": np.array([5, 6])},
            {"ypix": np.array([10]), "xpix": np.array([20])},
            {"ypix": np.array([30, 31]), "xpix": np.array([40, 40])},
        ],
        dtype=object,
    )
    np.save(tmp_path / "stat.npy", stat, allow_pickle=True)
    np.save(tmp_path / "iscell.npy", np.array([[1, 0.9], [0, 0.2], [1, 0.7]]))
    ((data, meta, kind),) = npe2.read([str(tmp_path / "stat.npy")], stack=False, plugin_name=PLUGIN)
    assert kind == "labels"
    assert (data[3, 5], data[3, 6], data[10, 20], data[30, 40], data[31, 40]) == (1, 1, 2, 3, 3)
    assert np.count_nonzero(data) == 5
    features = meta["features"]
    assert {k: features[k] for k in ("index", "mask_group")} == {
        "index": [1, 2, 3],
        "mask_group": [1, 0, 1],
    }
    # suite2p's classification is the curator's decision, its probability kept
    assert features["decision"] == ["cell", "not_cell", "cell"]
    assert features["probability"] == [0.9, 0.2, 0.7]
    assert meta["metadata"]["roi_ids"] == [0, 1, 2]


# -- a real viewer: napari's own save and open ------------------------------------------------
@pytest.mark.gui
@needs_display
@pytest.mark.parametrize("suffix", write_suffixes(), ids=lambda s: s.lstrip("."))
def test_a_labels_layer_saved_and_opened_in_napari_comes_back(
    make_napari_viewer, tmp_path, cells, suffix
):
    from napari.layers import Labels

    needs_pynwb(suffix)
    keeps_groups, keeps_border, keeps_ring, keeps_size = KEEPS[suffix]
    groups = groups_of(cells)
    viewer = make_napari_viewer()
    layer = viewer.add_labels(
        cells,
        name="ROIs",
        features={"index": list(groups), "mask_group": list(groups.values())},
        metadata=layer_metadata(BORDER, RING),
    )
    assert isinstance(layer.features, pd.DataFrame)  # what napari hands the writer
    viewer.layers.selection.select_only(layer)
    path = tmp_path / f"rois{suffix}"

    assert viewer.layers.save(str(path), selected=True, plugin=PLUGIN) == [str(path)]

    on_disk = read_rois(path, image_shape=SHAPE)
    np.testing.assert_array_equal(labels_of(on_disk), cells)
    assert [r.id for r in on_disk.rois] == list(groups)
    assert {r.id: r.mask_group for r in on_disk.rois} == (
        groups if keeps_groups else dict.fromkeys(groups, -1)
    )
    assert on_disk.border == (BORDER if keeps_border else None)
    assert on_disk.ring_options == (RING if keeps_ring else None)

    (opened,) = viewer.open(str(path), plugin=PLUGIN)
    assert isinstance(opened, Labels)
    shown = np.asarray(opened.data)
    if keeps_size:
        assert shown.shape == SHAPE
    np.testing.assert_array_equal(padded(shown), cells)
    assert dict(zip(opened.features["index"], opened.features["mask_group"], strict=True)) == (
        groups if keeps_groups else dict.fromkeys(groups, -1)
    )
    assert opened.metadata.get(LAYER_METADATA_BORDER) == (
        BORDER.as_allen() if keeps_border else None
    )
    assert opened.metadata.get(LAYER_METADATA_RING_OPTIONS) == (
        {"outer_radius": 9, "inner_gap": 2, "min_pixels": 40} if keeps_ring else None
    )


@pytest.mark.gui
@needs_display
@pytest.mark.parametrize(
    "suffix", write_suffixes(holding_overlaps=True), ids=lambda s: s.lstrip(".")
)
def test_a_shapes_layer_saved_and_opened_in_napari_comes_back(
    make_napari_viewer, tmp_path, cells, suffix
):
    from napari.layers import Labels

    needs_pynwb(suffix)
    keeps_groups, keeps_border, keeps_ring, _ = KEEPS[suffix]
    ids = [int(k) for k in np.unique(cells) if k]
    outlines = mask_outlines([MaskCrop.from_plane(cells == k) for k in ids])
    by_position = np.zeros_like(cells)  # shape i is ROI i + 1
    for position, k in enumerate(ids, start=1):
        by_position[cells == k] = position
    groups = {position: position % 3 for position in range(1, len(ids) + 1)}
    viewer = make_napari_viewer()
    layer = viewer.add_shapes(
        outlines,
        shape_type="polygon",
        name="outlines",
        features={"mask_group": list(groups.values())},
        metadata={"image_shape": list(SHAPE), **layer_metadata(BORDER, RING)},
    )
    assert isinstance(layer.features, pd.DataFrame)
    viewer.layers.selection.select_only(layer)
    path = tmp_path / f"outlines{suffix}"

    assert viewer.layers.save(str(path), selected=True, plugin=PLUGIN) == [str(path)]

    on_disk = read_rois(path, image_shape=SHAPE)
    np.testing.assert_array_equal(labels_of(on_disk), by_position)
    assert {r.id: r.mask_group for r in on_disk.rois} == (
        groups if keeps_groups else dict.fromkeys(groups, -1)
    )
    assert on_disk.border == (BORDER if keeps_border else None)
    assert on_disk.ring_options == (RING if keeps_ring else None)

    (opened,) = viewer.open(str(path), plugin=PLUGIN)  # no overlaps: a Labels layer
    assert isinstance(opened, Labels)
    np.testing.assert_array_equal(padded(opened.data), by_position)


@pytest.mark.gui
@needs_display
def test_overlapping_rois_open_as_shapes_and_save_back_unchanged(
    make_napari_viewer, tmp_path, cells
):
    from napari.layers import Shapes

    ids = [int(k) for k in np.unique(cells) if k]
    crops = [MaskCrop.from_plane(cells == k) for k in ids]
    first, block = crops[0], np.zeros(SHAPE, bool)
    block[max(first.top - 2, 0) : first.top + 5, first.left : first.left + 6] = True
    over_first = MaskCrop.from_plane(block)
    assert (over_first.plane(SHAPE) & first.plane(SHAPE)).any()  # the two share pixels
    rois = [
        RoiEntry(position, crop, position % 3)
        for position, crop in enumerate([*crops, over_first], start=1)
    ]
    original = RoiSet(rois, BORDER, SHAPE, RING)
    write_rois(tmp_path / "session.roimasks.h5", original)
    viewer = make_napari_viewer()

    (opened,) = viewer.open(str(tmp_path / "session.roimasks.h5"), plugin=PLUGIN)

    assert isinstance(opened, Shapes) and len(opened.data) == len(rois)
    assert list(opened.features["mask_group"]) == [r.mask_group for r in rois]
    assert opened.metadata[LAYER_METADATA_BORDER] == BORDER.as_allen()
    assert opened.metadata[LAYER_METADATA_RING_OPTIONS] == {
        "outer_radius": 9,
        "inner_gap": 2,
        "min_pixels": 40,
    }
    viewer.layers.selection.select_only(opened)
    again = tmp_path / "again.roimasks.h5"
    assert viewer.layers.save(str(again), selected=True, plugin=PLUGIN) == [str(again)]
    back = read_rois(again)
    assert (back.border, back.ring_options, back.image_shape) == (BORDER, RING, SHAPE)
    assert [(r.id, r.mask_group) for r in back.rois] == [(r.id, r.mask_group) for r in rois]
    for saved, roi in zip(back.rois, rois, strict=True):
        np.testing.assert_array_equal(saved.crop.plane(SHAPE), roi.crop.plane(SHAPE))


# -- the image size of ROI files that do not record it ----------------------------------------
MOVIE_SHAPE = (96, 112)


@pytest.fixture
def movie_file(tmp_path):
    """A (frames, 96, 112) HDF5 movie, bigger than the ROIs' extent."""
    path = tmp_path / "movie.h5"
    with h5py.File(path, "w") as f:
        f["data"] = np.random.default_rng(2).integers(0, 100, (4, *MOVIE_SHAPE), dtype=np.uint16)
    return path


def write_sizeless(path, labels, border=None):
    """ROIs as the Allen pipeline (JSON) or ImageJ (zip of rectangles) write them: no image size."""
    import roifile

    from napari_roimasks.io.allen_json import AllenMask, write_allen_masks

    ids = [int(k) for k in np.unique(labels) if k]
    if path.suffix == ".json":
        masks = [AllenMask(k, MaskCrop.from_plane(labels == k)) for k in ids]
        write_allen_masks(path, masks, border=border)
        assert "image_size" not in path.read_text()
        return
    with zipfile.ZipFile(path, "w") as archive:
        for k in ids:
            crop = MaskCrop.from_plane(labels == k)
            roi = roifile.ImagejRoi.frompoints(
                [[crop.left, crop.top], [crop.right, crop.bottom]], name=str(k)
            )
            roi.roitype = roifile.ROI_TYPE.RECT
            roi.left, roi.top, roi.right, roi.bottom = crop.left, crop.top, crop.right, crop.bottom
            roi.n_coordinates = 0
            archive.writestr(f"{k}.roi", roi.tobytes())


def boxes(shape=(60, 70)) -> np.ndarray:
    """Square ROIs 1..4 inside ``shape``; ROI 4 touches its right edge."""
    labels = np.zeros(shape, np.int32)
    labels[10:16, 10:16] = 1
    labels[30:36, 20:26] = 2
    labels[44:50, 40:46] = 3
    labels[20:26, shape[1] - 6 :] = 4
    return labels


@pytest.fixture
def notifications():
    """Every napari notification shown, as (severity, message)."""
    from napari.utils.notifications import notification_manager

    seen = []

    def keep(notification):
        seen.append((str(notification.severity), notification.message))

    notification_manager.notification_ready.connect(keep)
    yield seen
    notification_manager.notification_ready.disconnect(keep)


@pytest.mark.gui
@needs_display
@pytest.mark.parametrize("suffix", [".json", ".zip"], ids=["allen-json", "imagej-zip"])
def test_roi_files_without_a_size_open_at_the_movies_size(
    make_napari_viewer, tmp_path, movie_file, notifications, suffix
):
    labels = boxes()
    path = tmp_path / f"rois{suffix}"
    write_sizeless(path, labels)
    viewer = make_napari_viewer()
    viewer.open(str(movie_file), plugin=PLUGIN)

    (opened,) = viewer.open(str(path), plugin=PLUGIN)

    assert np.asarray(opened.data).shape == MOVIE_SHAPE
    assert tuple(opened.metadata["image_shape"]) == MOVIE_SHAPE
    full = np.zeros(MOVIE_SHAPE, np.int32)
    full[: labels.shape[0], : labels.shape[1]] = labels
    np.testing.assert_array_equal(opened.data, full)
    assert not [m for _, m in notifications if "extent" in m]


@pytest.mark.gui
@needs_display
def test_roi_files_opened_alone_say_they_took_the_rois_extent(
    make_napari_viewer, tmp_path, notifications
):
    write_sizeless(tmp_path / "rois.json", boxes())
    viewer = make_napari_viewer()

    (opened,) = viewer.open(str(tmp_path / "rois.json"), plugin=PLUGIN)

    assert np.asarray(opened.data).shape == (50, 70)  # ROI 3 reaches row 49, ROI 4 column 69
    (message,) = [m for _, m in notifications if "extent" in m]
    assert "rois.json" in message and "70x50" in message and "Open the movie" in message


@pytest.mark.gui
@needs_display
@pytest.mark.parametrize(
    "suffix", write_suffixes(holding_overlaps=True), ids=lambda s: s.lstrip(".")
)
def test_shapes_of_every_type_saved_beside_a_movie_come_back_at_its_size(
    make_napari_viewer, tmp_path, suffix
):
    """A Shapes layer the user drew (no size in its metadata): each shape type is an ROI,
    saved through napari and opened again through napari."""
    from napari.layers import Labels

    from napari_roimasks.core.geometry import rasterise_shape

    needs_pynwb(suffix)
    keeps_groups = KEEPS[suffix][0]
    shapes = [
        (np.array([[10.0, 10.0], [18.0, 22.0]]), "rectangle"),
        (np.array([[30.0, 30.0], [30.0, 44.0], [40.0, 44.0], [40.0, 30.0]]), "ellipse"),
        (np.array([[50.0, 5.0], [60.0, 20.0], [55.0, 30.0], [48.0, 12.0]]), "polygon"),
        (np.array([[70.0, 40.0], [75.0, 60.0], [72.0, 80.0]]), "path"),
        (np.array([[5.0, 60.0], [20.0, 90.0]]), "line"),
    ]
    viewer = make_napari_viewer()
    viewer.add_image(np.zeros((3, *MOVIE_SHAPE), np.uint16), name="movie")
    layer = viewer.add_shapes(
        [v for v, _ in shapes],
        shape_type=[t for _, t in shapes],
        edge_width=3,
        features={"mask_group": [1, 2, 3, 4, 5]},
        name="drawn",
    )
    viewer.layers.selection.select_only(layer)
    path = tmp_path / f"drawn{suffix}"

    assert viewer.layers.save(str(path), selected=True, plugin=PLUGIN) == [str(path)]

    expected = [
        rasterise_shape(vertices, kind, 3.0, MOVIE_SHAPE).plane(MOVIE_SHAPE)
        for vertices, (_, kind) in zip(layer.data, shapes, strict=True)
    ]
    assert all(plane.sum() > 5 for plane in expected)  # every type, strokes too, covers pixels
    found = read_rois(path)
    assert found.image_shape == MOVIE_SHAPE
    assert [(r.id, r.mask_group) for r in found.rois] == [
        (k, k if keeps_groups else -1) for k in range(1, 6)
    ]
    for roi, plane in zip(found.rois, expected, strict=True):
        np.testing.assert_array_equal(roi.crop.plane(MOVIE_SHAPE), plane)
    opened = viewer.open(str(path), plugin=PLUGIN)[0]
    if isinstance(opened, Labels):  # where the shapes overlap, the later one shows
        again = np.zeros(MOVIE_SHAPE, np.int64)
        for k, plane in enumerate(expected, start=1):
            again[plane] = k
        np.testing.assert_array_equal(opened.data, again)
    else:
        assert len(opened.data) == len(shapes)


@pytest.mark.gui
@needs_display
@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("rois.json", b'{"cells": []}', "expected a list of masks or an object with 'rois'"),
        ("rois.roimasks.h5", b"\x89HDF not really", "not an HDF5 file; expected ROIs saved by"),
        ("labels.npy", b"not an array", "not a readable .npy array"),
        ("labels.tif", b"II*\x00garbage", "not a readable label image"),
        ("rois.zip", b"PK\x03\x04 not really", "not a readable ImageJ ROI file"),
    ],
)
def test_a_bad_roi_file_is_one_line_and_the_viewer_keeps_what_it_had(
    make_napari_viewer, tmp_path, cells, name, content, expected
):
    viewer = make_napari_viewer()
    rois = viewer.add_labels(cells.copy(), name="ROIs")
    (tmp_path / name).write_bytes(content)

    with pytest.raises(RoiFileError) as error:
        viewer.open(str(tmp_path / name), plugin=PLUGIN)

    message = str(error.value)
    assert message.startswith(str(tmp_path / name)) and expected in message
    assert "\n" not in message
    assert [layer.name for layer in viewer.layers] == ["ROIs"]
    np.testing.assert_array_equal(rois.data, cells)


@pytest.mark.gui
@needs_display
@pytest.mark.parametrize("suffix", write_suffixes(), ids=lambda s: s.lstrip("."))
def test_decisions_in_a_layers_features_are_saved_and_opened_through_napari(
    make_napari_viewer, tmp_path, cells, suffix
):
    """A curator's decisions, as the layer's features hold them, through File > Save and
    File > Open: kept by the formats that hold decisions, unlabeled in the others."""
    from napari_roimasks.io.formats import format_for

    needs_pynwb(suffix)
    ids = sorted(set(np.unique(cells).tolist()) - {0})
    decisions = dict(zip(ids, ["cell", "not_cell", "unlabeled"] * 3, strict=False))
    viewer = make_napari_viewer()
    layer = viewer.add_labels(
        cells,
        name="ROIs",
        features={
            "index": ids,
            "decision": [decisions[k] for k in ids],
            "reason": ["round, bright" if decisions[k] == "cell" else "" for k in ids],
            "decided_at": [
                "2026-12-06T10:30:00+00:00" if decisions[k] != "unlabeled" else "" for k in ids
            ],
            "probability": [0.25] * len(ids),
        },
    )
    viewer.layers.selection.select_only(layer)
    path = tmp_path / f"rois{suffix}"
    assert viewer.layers.save(str(path), selected=True, plugin=PLUGIN) == [str(path)]
    (opened,) = viewer.open(str(path), plugin=PLUGIN)
    shown = dict(zip(opened.features["index"], opened.features["decision"], strict=True))
    if format_for(path).holds.decisions:
        assert {k: shown[k] for k in ids} == decisions
        reasons = dict(zip(opened.features["index"], opened.features["reason"], strict=True))
        assert reasons[ids[0]] == "round, bright" and reasons[ids[1]] == ""
    else:
        assert {shown[k] for k in ids} == {"unlabeled"}
