"""A failed write leaves the previous file whole, and nothing is replaced unasked."""

from __future__ import annotations

import errno
import os
import stat

import pytest

from napari_roimasks.io.atomic import atomic_path, write_atomically


@pytest.fixture
def umask():
    """Sets the process's umask for one test, as a user's shell would."""
    old = os.umask(0o022)
    yield lambda mask: os.umask(mask)
    os.umask(old)


def mode_of(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def names_in(folder):
    return sorted(p.name for p in folder.iterdir())


def test_a_failing_write_leaves_the_old_file_and_no_temporary(tmp_path):
    path = tmp_path / "traces.csv"
    path.write_bytes(b"old, complete")

    def crash(f):
        f.write(b"half of the new")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        write_atomically(path, crash, overwrite=True)
    assert path.read_bytes() == b"old, complete"
    assert [p.name for p in tmp_path.iterdir()] == ["traces.csv"]


def test_existing_files_are_replaced_only_when_asked(tmp_path):
    path = tmp_path / "out.bin"
    write_atomically(path, lambda f: f.write(b"first"))
    with pytest.raises(FileExistsError, match="out.bin exists"):
        write_atomically(path, lambda f: f.write(b"second"))
    write_atomically(path, lambda f: f.write(b"second"), overwrite=True)
    assert path.read_bytes() == b"second"


def test_traces_csv_holds_every_float_to_the_last_bit(tmp_path):
    import numpy as np

    from napari_roimasks.io.allen_traces import write_traces_csv

    values = np.random.default_rng(0).random(50) * 1e3
    path = write_traces_csv(tmp_path / "t.csv", {"ROI 1 F": values, "ROI 1, odd name": -values})
    header, *rows = path.read_text().splitlines()
    assert header == 'frame,ROI 1 F,"ROI 1, odd name"'
    table = np.array([row.split(",") for row in rows], dtype=float)
    np.testing.assert_array_equal(table[:, 1], values)
    np.testing.assert_array_equal(table[:, 2], -values)


@pytest.mark.parametrize("mask", [0o022, 0o002], ids=lambda mask: f"umask {mask:03o}")
def test_a_new_file_gets_the_permissions_the_umask_gives(tmp_path, umask, mask):
    # a CSV for a colleague must be as readable as any other new file, not owner-only
    umask(mask)
    written = write_atomically(tmp_path / "traces.csv", lambda f: f.write(b"frame"))
    assert mode_of(written) == 0o666 & ~mask
    with atomic_path(tmp_path / "rois.h5") as temporary:
        temporary.write_bytes(b"as h5py would, by name")
    assert mode_of(tmp_path / "rois.h5") == 0o666 & ~mask


def test_a_replaced_file_keeps_its_permissions(tmp_path, umask):
    path = tmp_path / "traces.csv"
    path.write_bytes(b"old")
    os.chmod(path, 0o640)
    write_atomically(path, lambda f: f.write(b"new"), overwrite=True)
    assert path.read_bytes() == b"new"
    assert mode_of(path) == 0o640


def hard_links_unsupported(monkeypatch):
    def link(source, destination):
        raise PermissionError(errno.EPERM, "Operation not permitted", str(destination))

    monkeypatch.setattr(os, "link", link)


@pytest.mark.parametrize("file_system", ["hard links", "no hard links"])
def test_a_file_that_appears_while_writing_is_not_replaced(tmp_path, monkeypatch, file_system):
    # e.g. two exports to one name at once: the first one to finish keeps it
    if file_system == "no hard links":
        hard_links_unsupported(monkeypatch)
    path = tmp_path / "out.bin"
    with (
        pytest.raises(FileExistsError, match="out.bin exists; pass overwrite=True"),
        atomic_path(path) as temporary,
    ):
        temporary.write_bytes(b"ours")
        path.write_bytes(b"theirs")
    assert path.read_bytes() == b"theirs"
    assert names_in(tmp_path) == ["out.bin"]


def test_without_hard_links_a_new_file_is_still_written(tmp_path, monkeypatch, umask):
    hard_links_unsupported(monkeypatch)
    path = write_atomically(tmp_path / "out.bin", lambda f: f.write(b"new"))
    assert path.read_bytes() == b"new"
    assert mode_of(path) == 0o644
    assert names_in(tmp_path) == ["out.bin"]


@pytest.mark.parametrize("overwrite", [False, True])
def test_the_file_is_on_the_disk_before_its_name_and_the_name_after(
    tmp_path, monkeypatch, overwrite
):
    # after a power cut the path holds the old file or the whole new one, never an empty one
    path = tmp_path / "out.bin"
    if overwrite:
        path.write_bytes(b"old")
    synced = []
    fsync = os.fsync

    def record(handle):
        published = os.stat(path).st_ino if path.exists() else None
        synced.append((os.fstat(handle).st_ino, published))
        fsync(handle)

    monkeypatch.setattr(os, "fsync", record)
    with atomic_path(path, overwrite=overwrite) as temporary:
        temporary.write_bytes(b"new")  # written and closed by name, as h5py and pynwb do
    new_file, folder = os.stat(path).st_ino, os.stat(tmp_path).st_ino
    assert [inode for inode, _ in synced] == [new_file, folder]
    (_, at_path_when_file_synced), (_, at_path_when_folder_synced) = synced
    assert at_path_when_file_synced != new_file
    assert at_path_when_folder_synced == new_file


@pytest.mark.parametrize("overwrite", [False, True])
def test_a_failing_writer_leaves_no_temporary_file(tmp_path, overwrite):
    path = tmp_path / "rois.h5"
    with pytest.raises(OSError, match="disk full"), atomic_path(path, overwrite=overwrite) as t:
        t.write_bytes(b"half")
        raise OSError("disk full")
    assert names_in(tmp_path) == []


def test_the_next_write_removes_the_temporaries_a_killed_writer_left(tmp_path):
    """A writer killed mid-write (here: a temporary of an ended process, 553 MB in the audit)
    leaves a temporary; the next write of the same file removes it, and no one else's."""
    import subprocess
    import sys

    ended = subprocess.Popen([sys.executable, "-c", "pass"])
    ended.wait()
    stale = tmp_path / f".traces.csv.napari-roimasks-{ended.pid}-0a1b2c3d.csv"
    stale.write_bytes(b"half a file")
    running = tmp_path / f".traces.csv.napari-roimasks-{os.getpid()}-0a1b2c3e.csv"
    running.write_bytes(b"being written")
    other = tmp_path / f".other.csv.napari-roimasks-{ended.pid}-0a1b2c3f.csv"
    other.write_bytes(b"another file's")

    write_atomically(tmp_path / "traces.csv", lambda f: f.write(b"new"))

    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [running.name, other.name, "traces.csv"]
    )
