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
def rng():
    """A seeded random generator, so that every run sees the same data."""
    return np.random.default_rng(20261124)
