"""The motion border from the files motion correction writes."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from napari_roimasks.core import MotionBorder
from napari_roimasks.io.motion_offsets import MotionOffsetsError, border_from_offsets_file

X = np.array([0.0, 2.0, -1.5, 3.0, 0.5])
Y = np.array([-4.0, 1.0, 0.0, 2.0, -0.5])
EXPECTED = MotionBorder(left=3.0, right=1.5, top=2.0, bottom=4.0)


def test_allen_pipeline_csv(tmp_path):
    path = tmp_path / "rigid_motion_transform.csv"
    rows = "\n".join(f"{i},{x},{y},0.9,{x},{y}" for i, (x, y) in enumerate(zip(X, Y, strict=True)))
    path.write_text("framenumber,x,y,correlation,kalman_x,kalman_y\n" + rows + "\n")
    assert border_from_offsets_file(path) == EXPECTED


def test_hdf5_with_x_and_y(tmp_path):
    path = tmp_path / "shifts.h5"
    with h5py.File(path, "w") as f:
        f["xoff"], f["yoff"] = X, Y
    assert border_from_offsets_file(path) == EXPECTED


def test_suite2p_ops(tmp_path):
    path = tmp_path / "ops.npy"
    np.save(path, {"xoff": X, "yoff": Y, "Ly": 512}, allow_pickle=True)
    assert border_from_offsets_file(path) == EXPECTED


def test_no_shift_in_a_direction_gives_no_band(tmp_path):
    path = tmp_path / "still.csv"
    path.write_text("x,y\n1,2\n3,4\n")
    assert border_from_offsets_file(path) == MotionBorder(left=3, right=0, top=4, bottom=0)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("frame,dx,dy\n0,1,2\n", r"bad.csv: expected columns named x and y .* found frame, dx, dy"),
        ("x,y\n1,oops\n", r"bad.csv, line 2: expected numbers in columns 'x' and 'y'"),
        ("x,y\n", r"bad.csv: needs one x and one y shift per frame, found 0"),
        ("x,y\n1,nan\n", r"bad.csv: the shifts contain NaN or inf"),
    ],
)
def test_bad_csv_names_the_file_and_what_was_expected(tmp_path, content, message):
    path = tmp_path / "bad.csv"
    path.write_text(content)
    with pytest.raises(MotionOffsetsError, match=message):
        border_from_offsets_file(path)


def test_missing_and_broken_files(tmp_path):
    with pytest.raises(MotionOffsetsError, match="nowhere.csv: no such file"):
        border_from_offsets_file(tmp_path / "nowhere.csv")
    broken = tmp_path / "broken.h5"
    broken.write_bytes(b"not an hdf5 file")
    with pytest.raises(MotionOffsetsError, match="broken.h5: cannot read motion offsets"):
        border_from_offsets_file(broken)
    with h5py.File(tmp_path / "other.h5", "w") as f:
        f["data"] = np.zeros(3)
    with pytest.raises(
        MotionOffsetsError, match="other.h5: expected datasets named x and y .* found data"
    ):
        border_from_offsets_file(tmp_path / "other.h5")


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("shifts.csv", bytes(range(256)) * 8, "not a text CSV file; expected columns x and y"),
        ("shifts.csv", b"x,y\n1,\x002\n", "expected numbers in columns 'x' and 'y'"),
        ("shifts.csv", b"x;y;z\n1;2", "expected columns named x and y .*found x;y;z"),
        ("shifts.h5", b"\x89HDF not really", "cannot read motion offsets"),
        ("ops.npy", b"plain text", "not a readable .npy array"),
    ],
)
def test_a_bad_offsets_file_is_one_line_naming_it(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(MotionOffsetsError, match=f"{name}.*({message})") as error:
        border_from_offsets_file(path)
    assert "\n" not in str(error.value)
