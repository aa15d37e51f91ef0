"""Movies opened lazily keep their frames apart: per dataset, and per version of a file."""

from __future__ import annotations

import gc
import os

import h5py
import numpy as np
import pytest

from napari_roimasks.io.movies import MovieFileError, open_hdf5_movie, open_movie


def write_movie(path, **datasets):
    with h5py.File(path, "w") as f:
        for name, movie in datasets.items():
            f.create_dataset(name, data=movie, chunks=(1, *movie.shape[1:]))
    return path


def test_two_datasets_of_one_file_are_two_movies(tmp_path):
    # a red minus green image of one two-channel file must not read one channel twice
    path = write_movie(
        tmp_path / "channels.h5",
        red=np.full((4, 3, 5), 200, dtype=np.int16),
        green=np.full((4, 3, 5), 8, dtype=np.int16),
    )
    red, _ = open_movie(path, dataset="red")
    green, _ = open_movie(path, dataset="green")
    assert red.name != green.name
    np.testing.assert_array_equal((red[0] - green[0]).compute(), np.full((3, 5), 192))
    np.testing.assert_array_equal((red - green).compute(), np.full((4, 3, 5), 192))


def test_a_movie_replaced_at_the_same_path_is_a_new_movie(tmp_path):
    # a new acquisition saved over the old one must not be shown from the old one's cache
    path = write_movie(tmp_path / "movie.h5", data=np.zeros((4, 3, 5), dtype=np.uint16))
    old, _ = open_movie(path)
    new_file = write_movie(tmp_path / "new.h5", data=np.ones((6, 3, 5), dtype=np.uint16))
    os.replace(new_file, path)
    new, first = open_movie(path)
    assert new.name != old.name
    np.testing.assert_array_equal(first, np.ones((3, 5)))


def test_a_movie_rewritten_in_place_is_a_new_movie(tmp_path):
    # the same file (same inode) written again with other frames, a later time and a new size
    path = write_movie(tmp_path / "movie.h5", data=np.zeros((4, 3, 5), dtype=np.uint16))
    old_name = open_movie(path)[0].name
    gc.collect()  # the lazy array held the file open; HDF5 refuses to truncate an open file
    inode = os.stat(path).st_ino
    write_movie(path, data=np.full((6, 3, 5), 7, dtype=np.uint16))
    later = os.stat(path).st_mtime_ns + 10**9
    os.utime(path, ns=(later, later))
    assert os.stat(path).st_ino == inode
    new, first = open_movie(path)
    assert new.name != old_name
    np.testing.assert_array_equal(first, np.full((3, 5), 7))


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda f: f.create_dataset("data", data=np.zeros((3, 4, 4), complex)), "complex numbers"),
        (
            lambda f: f.create_dataset(
                "data", data=np.zeros((3, 4, 4), [("a", "f4"), ("b", "i2")])
            ),
            "compound records",
        ),
        (lambda f: f.create_dataset("data", data=np.zeros((3, 4, 4), bool)), "true/false"),
    ],
    ids=["complex", "compound", "bool"],
)
def test_a_movie_of_other_than_numbers_is_one_line(tmp_path, make, message):
    with h5py.File(tmp_path / "movie.h5", "w") as f:
        make(f)
    for opener in (open_movie, open_hdf5_movie):
        with pytest.raises(
            MovieFileError,
            match=f"movie.h5: pixels of type .*{message}.*; expected whole or real numbers",
        ):
            opener(tmp_path / "movie.h5")


def test_a_broken_link_to_another_file_names_the_dataset(tmp_path):
    with h5py.File(tmp_path / "movie.h5", "w") as f:
        f["data"] = h5py.ExternalLink(str(tmp_path / "gone.h5"), "data")
    with pytest.raises(
        MovieFileError, match=r"movie.h5: 'data' links to a file that cannot be opened"
    ):
        open_movie(tmp_path / "movie.h5")


def test_a_corrupt_first_frame_names_the_file(tmp_path, corrupt_movie):
    path = corrupt_movie(tmp_path / "movie.h5", np.ones((4, 64, 64), np.uint16), 0)
    with pytest.raises(MovieFileError, match=r"movie.h5: the first frame cannot be read"):
        open_movie(path)


def test_a_tiff_movie_opened_again_is_the_same_movie_until_the_file_changes(tmp_path):
    """Traces extracted from a TIFF stay current in a session reopened later (the same
    name), and never once the file is rewritten (another name)."""
    import tifffile

    from napari_roimasks.model.traces import movie_token

    path = tmp_path / "m.tif"
    tifffile.imwrite(path, np.arange(5 * 8 * 8, dtype=np.uint16).reshape(5, 8, 8))
    first, _ = open_movie(path)
    again, _ = open_movie(path)
    assert movie_token(first) == movie_token(again)
    tifffile.imwrite(path, np.zeros((5, 8, 8), np.uint16))
    rewritten, _ = open_movie(path)
    assert movie_token(rewritten) != movie_token(first)
    assert int(rewritten.sum().compute()) == 0
