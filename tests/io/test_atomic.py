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
