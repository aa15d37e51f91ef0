"""File > Open and File > Save through napari's plugin manager (npe2), as napari calls them."""

from __future__ import annotations

import h5py
import npe2
import numpy as np
import pytest

from napari_roimasks.io.roi_files import read_rois
from napari_roimasks.synthetic import place_cells

PLUGIN = "napari-roimasks"


@pytest.fixture(autouse=True, scope="module")
def plugins():
    """napari discovers plugins when it starts; these tests run without a viewer."""
    npe2.PluginManager.instance().discover(include_npe1=False)


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


def test_roi_files_open_as_labels_and_overlaps_as_shapes(tmp_path):
    labels = place_cells((64, 80), 8, seed=2)
    np.save(tmp_path / "cellpose_masks.npy", labels)
    ((data, meta, kind),) = npe2.read(
        [str(tmp_path / "cellpose_masks.npy")], stack=False, plugin_name=PLUGIN
    )
    assert kind == "labels"
    np.testing.assert_array_equal(data, labels)


def test_labels_layer_saves_and_reopens_losslessly(tmp_path):
    labels = place_cells((64, 80), 8, seed=3)
    meta = {
        "name": "ROIs",
        "metadata": {"motion_border": [1, 2, 3, 4]},
        "features": {"index": list(range(9)), "mask_group": [0, *range(1, 9)]},
    }
    for suffix in (".roimasks.h5", ".json", ".zip"):
        path = tmp_path / f"rois{suffix}"
        written = npe2.write(str(path), [(labels, meta, "labels")], plugin_name=PLUGIN)
        assert written == [str(path)]
        back = read_rois(path, image_shape=labels.shape)
        rebuilt = np.zeros_like(labels)
        for roi in back.rois:
            rebuilt[roi.crop.slices][roi.crop.pixels] = int(roi.id)
        np.testing.assert_array_equal(rebuilt, labels)
        if suffix != ".zip":  # ImageJ files hold no border and no groups
            assert back.border.as_allen() == [1, 2, 3, 4]
            assert [r.mask_group for r in back.rois] == list(range(1, 9))


def test_a_broken_roi_file_says_which_and_why(tmp_path):
    (tmp_path / "rois.json").write_text('[{"id": 1}]')
    reader = npe2.PluginManager.instance().get_manifest(PLUGIN)
    assert reader is not None
    with pytest.raises(
        Exception, match=r"rois.json: mask 0 \(id 1\) lacks x, y, width, height, mask"
    ):
        npe2.read([str(tmp_path / "rois.json")], stack=False, plugin_name=PLUGIN)


def test_hdf5_without_data_offers_each_movie_dataset(tmp_path):
    with h5py.File(tmp_path / "two.h5", "w") as f:
        f["green"] = np.zeros((3, 8, 8), np.uint16)
        f["red"] = np.ones((3, 8, 8), np.uint16)
        f["mean"] = np.zeros((8, 8))
    layers = npe2.read([str(tmp_path / "two.h5")], stack=False, plugin_name=PLUGIN)
    assert [meta["name"] for _, meta, _ in layers] == ["two green", "two red"]
