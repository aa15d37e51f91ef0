"""``.npy`` files never run: planted pickles in every place a ``.npy`` is read are refused
before anything is built, and suite2p's real files (which are pickles) still open."""

from __future__ import annotations

import os
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath

import numpy as np
import pytest

from napari_roimasks.io.motion_offsets import MotionOffsetsError, border_from_offsets_file
from napari_roimasks.io.npy_files import UnsafeFileError, load_npy
from napari_roimasks.io.roi_files import RoiFileError, read_rois

SUITE2P = Path(__file__).parent.parent / "data" / "suite2p"


class Command:
    """An object whose unpickling runs a shell command: what a planted ``.npy`` holds."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def plant(path: Path, content) -> None:
    np.save(path, np.array(content, dtype=object), allow_pickle=True)


def test_the_planted_command_would_run_with_numpys_own_load(tmp_path):
    """The payload is real: np.load with allow_pickle runs it (so the tests below can fail)."""
    marker = tmp_path / "ran"
    plant(tmp_path / "evil.npy", [{"x": Command(marker)}])
    np.load(tmp_path / "evil.npy", allow_pickle=True)
    assert marker.exists()


@pytest.mark.parametrize("where", ["labels.npy", "stat.npy", "ops.npy beside stat.npy"])
def test_a_planted_roi_file_runs_nothing_and_says_why(tmp_path, where):
    marker = tmp_path / "ran"
    ypix = {"ypix": np.array([1, 2]), "xpix": np.array([3, 3])}
    if where == "labels.npy":
        plant(tmp_path / "labels.npy", Command(marker))  # a 0-d object array
        path = tmp_path / "labels.npy"
    elif where == "stat.npy":
        plant(tmp_path / "stat.npy", [ypix, {**ypix, "note": Command(marker)}])
        path = tmp_path / "stat.npy"
    else:
        plant(tmp_path / "stat.npy", [ypix])
        plant(tmp_path / "ops.npy", {"Ly": 8, "Lx": 8, "hook": Command(marker)})
        path = tmp_path / "stat.npy"

    with pytest.raises(RoiFileError) as error:
        read_rois(path)

    assert not marker.exists()
    message = str(error.value)
    assert "\n" not in message and "never loaded" in message and "posix.system" in message
    assert message.startswith(str(path.with_name(where.split()[0])))


def test_a_planted_offsets_file_runs_nothing(tmp_path):
    marker = tmp_path / "ran"
    plant(tmp_path / "ops.npy", {"xoff": np.zeros(3), "yoff": np.zeros(3), "x": Command(marker)})
    with pytest.raises(MotionOffsetsError, match=r"ops.npy: asks to build posix.system"):
        border_from_offsets_file(tmp_path / "ops.npy")
    assert not marker.exists()


def test_a_label_image_is_never_unpickled_even_when_harmless(tmp_path):
    np.save(tmp_path / "labels.npy", np.array([[0, 1]], dtype=object), allow_pickle=True)
    with pytest.raises(UnsafeFileError, match="holds Python objects"):
        load_npy(tmp_path / "labels.npy")


def test_what_suite2p_pickles_is_built(tmp_path):
    """Arrays, numbers, text, lists, tuples, dicts, dates and paths: suite2p's ops.npy holds
    ``date_proc``, a datetime; some versions hold paths."""
    ops = {
        "Ly": np.int64(96),
        "xoff": np.arange(3),
        "date_proc": datetime(2026, 11, 25, 1, 44, tzinfo=timezone.utc),
        "save_path": PurePosixPath("/data/suite2p/plane0"),
        "filelist": ["a.tif", "b.tif"],
        "nested": {"pair": (1, 2.5), "flag": True, "none": None, "z": 1 + 2j},
    }
    plant(tmp_path / "ops.npy", ops)
    loaded = load_npy(tmp_path / "ops.npy", pickled=True).item()
    assert loaded["date_proc"] == ops["date_proc"] and loaded["save_path"] == ops["save_path"]
    assert loaded["nested"] == ops["nested"] and loaded["filelist"] == ops["filelist"]
    np.testing.assert_array_equal(loaded["xoff"], ops["xoff"])


def test_suite2ps_real_files_load():
    stat = load_npy(SUITE2P / "stat.npy", pickled=True)
    assert len(stat) == 21 and set(stat[0]) >= {"ypix", "xpix", "lam"}
    ops = load_npy(SUITE2P / "ops.npy", pickled=True).item()
    assert (ops["Ly"], ops["Lx"]) == (96, 80) and isinstance(ops["date_proc"], datetime)
    assert border_from_offsets_file(SUITE2P / "ops.npy").as_allen() is not None


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "not a readable .npy array"),
        (b"\x93NUMPY\x09\x00", "not a readable .npy array"),
        (b"plain text", "not a readable .npy array"),
    ],
)
def test_broken_files_are_one_line(tmp_path, content, message):
    (tmp_path / "x.npy").write_bytes(content)
    with pytest.raises(UnsafeFileError, match=f"x.npy: {message}") as error:
        load_npy(tmp_path / "x.npy", pickled=True)
    assert "\n" not in str(error.value)
