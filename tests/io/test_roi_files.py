"""Every ROI format: what goes in comes back, and what a format cannot hold is refused or said."""

from __future__ import annotations

import numpy as np
import pytest
import roifile

from napari_roimasks.core import MaskCrop, MotionBorder, RingOptions
from napari_roimasks.io.roi_files import RoiEntry, RoiFileError, RoiSet, read_rois, write_rois
from napari_roimasks.synthetic import place_cells

SHAPE = (64, 80)


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


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("cells.txt", b"1 2", "unknown ROI format"),
        ("labels.npy", None, "a label image must not hold negative labels"),
        ("broken.zip", b"PK\x03\x04 not really", "not a readable ImageJ ROI file"),
        ("fake.roimasks.h5", b"\x89HDF not really", "not a napari-roimasks masks file"),
    ],
)
def test_bad_files_name_the_file_and_the_problem(tmp_path, name, content, message):
    path = tmp_path / name
    if content is None:
        np.save(path, np.array([[0, -1]]))
    else:
        path.write_bytes(content)
    with pytest.raises(RoiFileError, match=f"{name}: .*{message}"):
        read_rois(path)


def test_rois_outside_the_movie_are_refused(tmp_path, cells):
    write_rois(tmp_path / "rois.json", cells)
    with pytest.raises(RoiFileError, match=r"outside the 40x30 movie|outside the 40x30 image"):
        read_rois(tmp_path / "rois.json", image_shape=(30, 40))


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
