"""Outputs replaced as a set: the old complete set or the new one, never a mix, nothing left over."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

from napari_roimasks.io import output_set
from napari_roimasks.io.output_set import (
    OutputSet,
    OutputSetError,
    clean_up_after_interrupted_runs,
)

NAMES = ("a.h5", "b.json")


def write_set(outputs: OutputSet, text: str) -> None:
    for name in NAMES:
        outputs.path(name).write_text(f"{text} {name}")


def contents(folder) -> dict[str, str]:
    return {p.name: p.read_text() for p in sorted(folder.iterdir())}


def leftovers(parent) -> list[str]:
    return sorted(p.name for p in parent.iterdir() if "napari-roimasks" in p.name)


@pytest.fixture(params=["exchange", "two renames"])
def swap(request, monkeypatch):
    """Both ways of putting the new set in place: the one-step exchange and the fallback."""
    if request.param == "two renames":
        monkeypatch.setattr(output_set, "_exchange", lambda a, b: False)
    return request.param


def test_a_new_folder_gets_the_set(tmp_path):
    with OutputSet(tmp_path / "out", NAMES) as outputs:
        write_set(outputs, "new")
    assert contents(tmp_path / "out") == {"a.h5": "new a.h5", "b.json": "new b.json"}
    assert leftovers(tmp_path) == []


def test_an_old_set_is_replaced_and_the_users_other_files_stay(tmp_path, swap):
    out = tmp_path / "out"
    with OutputSet(out, NAMES) as outputs:
        write_set(outputs, "old")
    (out / "notes.txt").write_text("mine")
    os.symlink("notes.txt", out / "link")
    with OutputSet(out, NAMES, overwrite=True) as outputs:
        write_set(outputs, "new")
    assert contents(out) == {
        "a.h5": "new a.h5",
        "b.json": "new b.json",
        "link": "mine",
        "notes.txt": "mine",
    }
    assert os.readlink(out / "link") == "notes.txt"
    assert leftovers(tmp_path) == []


def test_an_error_while_writing_leaves_the_old_set_and_nothing_else(tmp_path, swap):
    out = tmp_path / "out"
    with OutputSet(out, NAMES) as outputs:
        write_set(outputs, "old")
    with (
        pytest.raises(RuntimeError, match="disk on fire"),
        OutputSet(out, NAMES, overwrite=True) as outputs,
    ):
        outputs.path("a.h5").write_text("new a.h5")
        raise RuntimeError("disk on fire")
    assert contents(out) == {"a.h5": "old a.h5", "b.json": "old b.json"}
    assert leftovers(tmp_path) == []


def test_a_set_missing_a_file_is_not_published(tmp_path):
    out = tmp_path / "out"
    missing = pytest.raises(OutputSetError, match=r"b.json: was not written; no output changed")
    with missing, OutputSet(out, NAMES) as outputs:
        outputs.path("a.h5").write_text("only one")
    assert not out.exists() and leftovers(tmp_path) == []


def test_what_would_fail_at_the_end_is_refused_before_any_work(tmp_path):
    out = tmp_path / "out"
    with OutputSet(out, NAMES) as outputs:
        write_set(outputs, "old")
    with pytest.raises(FileExistsError, match=r"out: holds a.h5, b.json already; pass --overwrite"):
        OutputSet(out, NAMES).check()
    (out / "sub").mkdir()
    with pytest.raises(OutputSetError, match=r"out: holds folders \(sub\)"):
        OutputSet(out, NAMES, overwrite=True).check()
    (tmp_path / "file").write_text("x")
    with pytest.raises(OutputSetError, match="the output must be a folder, and this is a file"):
        OutputSet(tmp_path / "file", NAMES).check()
    with pytest.raises(OutputSetError, match=r"the outputs need about .* MB and the disk has"):
        OutputSet(tmp_path / "new", NAMES).check(size=shutil.disk_usage(tmp_path).free * 2)
    assert leftovers(tmp_path) == []


@pytest.fixture
def tmpfs(tmp_path):
    """A small tmpfs mounted for the test: ``tmpfs(options)`` gives its folder (skipped where
    the machine lets no one mount one)."""
    mounted = []

    def mount(options: str):
        folder = tmp_path / f"disk{len(mounted)}"
        folder.mkdir()
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)], capture_output=True
        )
        if done.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
        mounted.append(folder)
        return folder

    yield mount
    for folder in mounted:
        subprocess.run(["umount", str(folder)], check=True)


def test_a_folder_that_cannot_be_written_is_refused_before_any_work(tmpfs):
    locked = tmpfs("ro,size=64k")  # read-only for everyone, root included
    with pytest.raises(OutputSetError, match=r"disk0: cannot write the outputs here \(Read-only"):
        OutputSet(locked / "out", NAMES).check()


def dead_pid() -> int:
    """The pid of a process that has ended."""
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_the_next_run_removes_what_a_killed_run_left_and_puts_an_old_set_back(tmp_path):
    out = tmp_path / "out"
    pid = dead_pid()
    staging = tmp_path / f".out.napari-roimasks-{pid}-0a1b.partial"
    staging.mkdir()
    (staging / "a.h5").write_text("half")
    old = tmp_path / f".out.napari-roimasks-{pid}-0a1c.old"  # killed between the two renames
    old.mkdir()
    (old / "a.h5").write_text("old a.h5")
    alive = tmp_path / f".out.napari-roimasks-{os.getpid()}-0a1d.partial"  # a run still going
    alive.mkdir()
    other = tmp_path / f".other.napari-roimasks-{pid}-0a1e.partial"  # another folder's
    other.mkdir()

    assert sorted(p.name for p in clean_up_after_interrupted_runs(out)) == sorted(
        [old.name, staging.name]
    )

    assert contents(out) == {"a.h5": "old a.h5"}
    assert leftovers(tmp_path) == sorted([alive.name, other.name])


def test_a_full_disk_leaves_the_old_set(tmpfs):
    """A real full disk: a 512 KiB tmpfs."""
    disk = tmpfs("size=512k")
    out = disk / "out"
    with OutputSet(out, NAMES) as outputs:
        write_set(outputs, "old")
    full = pytest.raises(OSError, match="No space left on device")
    with full, OutputSet(out, NAMES, overwrite=True) as outputs:
        outputs.path("a.h5").write_bytes(b"x" * (1 << 20))
        outputs.path("b.json").write_text("new")
    assert contents(out) == {"a.h5": "old a.h5", "b.json": "old b.json"}
    assert leftovers(disk) == []
