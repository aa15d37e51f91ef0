"""A failed write leaves the previous file whole, and nothing is replaced unasked."""

from __future__ import annotations

import pytest

from napari_roimasks.io.atomic import write_atomically


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
