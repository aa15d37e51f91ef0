"""Shared fixtures: the AllenSDK reference cases and small movies."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

ORACLE_DIR = Path(__file__).parent / "data" / "oracle"
ORACLE_INDEX = {c["file"]: c for c in json.loads((ORACLE_DIR / "index.json").read_text())["cases"]}
ORACLE_CASES = sorted(ORACLE_INDEX)


@pytest.fixture(params=ORACLE_CASES)
def oracle_case(request):
    """One case computed by AllenSDK 2.16.2: inputs and its answers (see data/oracle/README.md)."""
    with np.load(ORACLE_DIR / request.param) as case:
        data = {key: case[key] for key in case.files}
    for key in ("exclusions", "validate"):
        data[key] = json.loads(str(data[key]))
    data["name"] = request.param
    # whether ROIs were fed as pixel lists lives in the index, not the case file
    data["pix_list"] = ORACLE_INDEX[request.param]["pix_list"]
    return data


@pytest.fixture(autouse=True, scope="session")
def logs_in_a_temporary_folder(tmp_path_factory):
    """The command line's log (:mod:`napari_roimasks.logs`) goes to the test's own folder, not
    the home folder, for the command lines the tests run too."""
    os.environ["XDG_STATE_HOME"] = str(tmp_path_factory.mktemp("state"))


@pytest.fixture
def corrupt_movie():
    """``corrupt_movie(path, frames, frame)``: an HDF5 movie (``data``, gzip, one frame a chunk)
    whose ``frame``'s compressed bytes are overwritten, as a bad disk or copy leaves them."""
    import h5py

    def write(path, frames, frame):
        with h5py.File(path, "w") as f:
            data = f.create_dataset(
                "data", data=frames, chunks=(1, *frames.shape[1:]), compression="gzip"
            )
            chunk = data.id.get_chunk_info_by_coord((frame, 0, 0))
        with open(path, "r+b") as raw:
            raw.seek(chunk.byte_offset)
            raw.write(b"\xff" * min(32, chunk.size))
        return path

    return write


@pytest.fixture
def rng():
    """A seeded random generator, so that every run sees the same data."""
    return np.random.default_rng(20261124)


@pytest.fixture
def random_masks():
    """make(rng, n_masks, image_shape): masks of 1 to 144 pixels anywhere in the image,
    overlapping one another."""
    from napari_roimasks.core.masks import MaskCrop

    def make(rng, n_masks, image_shape):
        masks = []
        for _ in range(n_masks):
            rows, columns = rng.integers(1, 13, size=2)
            top = rng.integers(0, image_shape[0] - rows + 1)
            left = rng.integers(0, image_shape[1] - columns + 1)
            pixels = rng.random((rows, columns)) < 0.6
            pixels.flat[rng.integers(pixels.size)] = True  # at least one pixel
            masks.append(MaskCrop(int(top), int(left), pixels))
        return masks

    return make
