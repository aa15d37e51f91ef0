"""suite2p's summary images from ops.npy: the cropped ones placed back into the full frame."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from napari_roimasks.io.npy_files import load_npy
from napari_roimasks.io.roi_set import RoiFileError
from napari_roimasks.io.suite2p_images import ops_file_beside, read_suite2p_images

DATA = Path(__file__).parents[1] / "data" / "suite2p"


def suite2p_ops(rng, *, Ly=40, Lx=50, yrange=(3, 36), xrange=(5, 47)):
    """An ops dict laid out as suite2p 1.1.0 saves it: meanImg and meanImgE full frame,
    Vcorr and max_proj cropped to yrange x xrange."""
    crop = (yrange[1] - yrange[0], xrange[1] - xrange[0])
    return {
        "Ly": Ly,
        "Lx": Lx,
        "yrange": list(yrange),
        "xrange": list(xrange),
        "meanImg": rng.random((Ly, Lx)).astype(np.float32) * 1000,
        "meanImgE": rng.random((Ly, Lx)),
        "Vcorr": rng.random(crop).astype(np.float32),
        "max_proj": rng.random(crop).astype(np.float32) * 3000,
        "suite2p_version": "1.1.0",
    }


def save_ops(folder: Path, ops: dict) -> Path:
    path = folder / "ops.npy"
    np.save(path, ops)  # as suite2p saves it: a pickled dict in a 0-d object array
    return path


def test_the_four_images_at_full_frame_with_the_cropped_ones_placed_at_their_ranges(rng, tmp_path):
    ops = suite2p_ops(rng)
    images = read_suite2p_images(save_ops(tmp_path, ops), image_shape=(40, 50))
    assert list(images) == ["mean", "max", "correlation", "enhanced_mean"]
    assert all(image.shape == (40, 50) and image.dtype == np.float32 for image in images.values())
    np.testing.assert_array_equal(images["mean"], ops["meanImg"])
    np.testing.assert_array_equal(images["enhanced_mean"], ops["meanImgE"].astype(np.float32))
    for name, key in (("correlation", "Vcorr"), ("max", "max_proj")):
        np.testing.assert_array_equal(images[name][3:36, 5:47], ops[key])
        outside = np.ones((40, 50), bool)
        outside[3:36, 5:47] = False
        assert (images[name][outside] == 0).all()


def test_the_trimmed_real_ops_file_has_no_images_and_says_so():
    ops = load_npy(DATA / "ops.npy", pickled=True).item()
    assert ops["suite2p_version"] == "1.1.0" and "meanImg" not in ops
    with pytest.raises(RoiFileError, match="holds none of suite2p's images"):
        read_suite2p_images(DATA / "ops.npy")


def test_the_real_files_layout_with_images_added(rng, tmp_path):
    ops = load_npy(DATA / "ops.npy", pickled=True).item()
    (top, bottom), (left, right) = ops["yrange"], ops["xrange"]
    ops["meanImg"] = rng.random((ops["Ly"], ops["Lx"]))
    ops["Vcorr"] = rng.random((bottom - top, right - left))
    images = read_suite2p_images(save_ops(tmp_path, ops))
    assert set(images) == {"mean", "correlation"}
    np.testing.assert_allclose(images["correlation"][top:bottom, left:right], ops["Vcorr"], 1e-6)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"Vcorr": np.zeros((10, 10))},
            r"Vcorr is 10 x 10, expected the frame's 40 x 50 or its crop",
        ),
        ({"meanImg": np.zeros((40, 49))}, r"meanImg is 40 x 49, expected the frame's 40 x 50"),
        ({"yrange": [30, 80]}, r"yrange = \[30, 80\] is not inside 0..40"),
        ({"xrange": "all"}, "no xrange"),
        ({"Ly": None}, "no frame size"),
        ({"meanImg": "text"}, "meanImg is not an image of numbers"),
    ],
)
def test_a_bad_ops_file_is_one_line_naming_it(rng, tmp_path, change, message):
    ops = suite2p_ops(rng)
    ops.update(change)
    path = save_ops(tmp_path, ops)
    with pytest.raises(RoiFileError, match=message) as caught:
        read_suite2p_images(path)
    assert str(caught.value).startswith(str(path)) and "\n" not in str(caught.value)


def test_another_frame_size_than_the_movies_is_refused(rng, tmp_path):
    path = save_ops(tmp_path, suite2p_ops(rng))
    with pytest.raises(
        RoiFileError, match="Ly, Lx = 40, 50 but the movie's frames are 40 rows x 60"
    ):
        read_suite2p_images(path, image_shape=(40, 60))


def test_not_a_dict_and_a_planted_pickle_are_refused(tmp_path):
    np.save(tmp_path / "ops.npy", np.zeros((3, 3)))
    with pytest.raises(RoiFileError, match="expected suite2p's ops.npy"):
        read_suite2p_images(tmp_path / "ops.npy")

    class Planted:
        def __reduce__(self):
            return (print, ("ran",))

    array = np.empty((), dtype=object)
    array[()] = Planted()
    with open(tmp_path / "ops.npy", "wb") as f:
        np.lib.format.write_array(f, array, allow_pickle=True)
    with pytest.raises(RoiFileError, match="asks to build builtins.print"):
        read_suite2p_images(tmp_path / "ops.npy")


def test_ops_file_beside_the_first_path_that_has_one(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "ops.npy").write_bytes(b"")
    found = ops_file_beside([None, "", tmp_path / "a" / "movie.h5", tmp_path / "b" / "stat.npy"])
    assert found == tmp_path / "b" / "ops.npy"
    assert ops_file_beside([tmp_path / "a" / "movie.h5"]) is None
