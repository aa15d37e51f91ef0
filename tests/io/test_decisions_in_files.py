"""A curator's decisions in every file that can hold them: what each format keeps, how other
tools' flags (suite2p's ``iscell``, the Allen pipeline's ``valid``) read, and bad values as one
line naming the file. (Every format's round trip of decisions: ``test_roi_files.py``.)"""

from __future__ import annotations

import json
import shutil
from datetime import datetime, timedelta, timezone
from pathlib import Path

import h5py
import numpy as np
import pytest

from napari_roimasks.core import MaskCrop
from napari_roimasks.io.formats.suite2p import write_iscell
from napari_roimasks.io.nwb import write_nwb
from napari_roimasks.io.nwb_session import NwbSession
from napari_roimasks.io.roi_files import RoiEntry, RoiFileError, RoiSet, read_rois, write_rois
from napari_roimasks.io.roi_set import Decision

SUITE2P = Path(__file__).parents[1] / "data" / "suite2p"
SHAPE = (30, 40)
CELL, NOT_CELL, UNLABELED = Decision.CELL, Decision.NOT_CELL, Decision.UNLABELED
WHEN = datetime(2024, 5, 1, 10, 30, tzinfo=timezone(timedelta(hours=-7)))


def square(top, left, side=4) -> MaskCrop:
    return MaskCrop(top, left, np.ones((side, side), bool))


def curated() -> RoiSet:
    """Four ROIs: a cell with a reason and time, a not-cell with a probability, an unlabeled
    ROI, and a cell with a probability."""
    return RoiSet(
        [
            RoiEntry(1, square(2, 2), decision=CELL, reason="round", decided_at=WHEN),
            RoiEntry(2, square(2, 12), decision=NOT_CELL, reason="a dendrite", probability=0.25),
            RoiEntry(3, square(12, 2)),
            RoiEntry(4, square(12, 12), decision=CELL, probability=0.875),
        ],
        image_shape=SHAPE,
    )


def curation_of(rois) -> list[tuple]:
    return [(r.decision, r.reason, r.decided_at, r.probability) for r in rois.rois]


# -- this project's file --------------------------------------------------------------------------
def test_an_older_roimasks_file_without_decisions_reads_as_unlabeled(tmp_path):
    path = write_rois(tmp_path / "old.roimasks.h5", curated())
    with h5py.File(path, "a") as f:  # as files were written before decisions
        for name in ("decisions", "reasons", "decided_at", "probabilities"):
            del f["rois"][name]
    back = read_rois(path)
    assert curation_of(back) == [(UNLABELED, "", None, None)] * 4
    assert [r.id for r in back.rois] == [1, 2, 3, 4]


@pytest.mark.parametrize(
    ("dataset", "value", "message"),
    [
        ("decisions", "maybe", "ROI 2: unknown decision 'maybe': expected cell, not_cell or"),
        ("decided_at", "yesterday", "ROI 2: decided_at 'yesterday' is not an ISO 8601 time"),
        ("decided_at", "2024-05-01T10:30:00", "ROI 2: decided_at '2024-05-01T10:30:00' has no"),
        ("probabilities", 1.5, "ROI 2: probability 1.5 is not in [0, 1]"),
    ],
)
def test_a_bad_decision_in_a_roimasks_file_is_one_line_naming_it(tmp_path, dataset, value, message):
    path = write_rois(tmp_path / "bad.roimasks.h5", curated())
    with h5py.File(path, "a") as f:
        f["rois"][dataset][1] = value
    with pytest.raises(RoiFileError) as raised:
        read_rois(path)
    assert str(raised.value).startswith(f"{path}: ") and message in str(raised.value)
    assert "\n" not in str(raised.value)


def test_a_roimasks_file_missing_one_decision_column_is_refused(tmp_path):
    path = write_rois(tmp_path / "cut.roimasks.h5", curated())
    with h5py.File(path, "a") as f:
        del f["rois"]["reasons"]
    with pytest.raises(
        RoiFileError, match=r"cut.roimasks.h5: an HDF5 file without .* \(rois/reasons\)"
    ):
        read_rois(path)


# -- Allen JSON -----------------------------------------------------------------------------------
def allen_mask(ident, **extra) -> dict:
    return {"id": ident, "x": 2, "y": 2, "width": 2, "height": 2, "mask": [[1, 1], [1, 0]], **extra}


def test_the_allen_pipelines_valid_reads_false_as_not_a_cell_and_true_as_unlabeled(tmp_path):
    path = tmp_path / "pipeline.json"  # the Allen pipeline's own file: no decision field
    path.write_text(json.dumps([allen_mask(1, valid=True), allen_mask(2, valid=False)]))
    assert [r.decision for r in read_rois(path).rois] == [UNLABELED, NOT_CELL]


def test_allen_json_writes_valid_false_exactly_for_not_cells_and_its_decision_wins(tmp_path):
    path = write_rois(tmp_path / "rois.json", curated())
    masks = json.loads(path.read_text())["rois"]
    assert [m["valid"] for m in masks] == [True, False, True, True]
    assert [m["decision"] for m in masks] == ["cell", "not_cell", "unlabeled", "cell"]
    assert masks[0]["decided_at"] == "2024-05-01T10:30:00-07:00"
    assert "reason" not in masks[2] and "probability" not in masks[0]  # only what is known
    masks[0]["valid"] = False  # edited by another tool: our decision field still decides
    path.write_text(json.dumps({"rois": masks}))
    assert curation_of(read_rois(path)) == curation_of(curated())


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"decision": "yes"}, "mask 0 (id 1): unknown decision 'yes'"),
        ({"probability": "high"}, "mask 0 (id 1): probability 'high' is not a number"),
        ({"reason": 5}, "mask 0 (id 1): reason must be text, got 5"),
        ({"valid": "no"}, "mask 0 (id 1): valid must be true or false, got 'no'"),
    ],
)
def test_a_bad_decision_in_allen_json_is_one_line_naming_the_mask(tmp_path, extra, message):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps([allen_mask(1, **extra)]))
    with pytest.raises(RoiFileError, match=f"^{path}: ") as raised:
        read_rois(path)
    assert message in str(raised.value)


# -- NWB ------------------------------------------------------------------------------------------
def test_suite2ps_nwb_iscell_column_reads_as_decisions_and_probabilities():
    pytest.importorskip("pynwb")
    iscell = np.load(SUITE2P / "iscell.npy")
    found = read_rois(SUITE2P / "ophys.nwb")
    assert [r.decision for r in found.rois] == [CELL if c else NOT_CELL for c in iscell[:, 0]]
    assert [r.probability for r in found.rois] == iscell[:, 1].tolist()


def test_nwb_holds_decisions_as_plane_segmentation_columns_and_passes_nwbinspector(tmp_path):
    pytest.importorskip("pynwb")
    nwbinspector = pytest.importorskip("nwbinspector")
    from pynwb import NWBHDF5IO

    session = NwbSession(
        session_description="Mouse V1, plane 1",
        experimenter=("Doe, Jane",),
        institution="Allen Institute for Brain Science",
        lab="Optical physiology",
        experiment_description="curated ROIs",
        keywords=("V1",),
        session_start_time=WHEN,
        subject_id="m-1",
        species="Mus musculus",
        age="P90D",
        indicator="GCaMP6f",
        location="VISp",
        excitation_wavelength=920,
        emission_wavelength=510,
    )
    path = write_nwb(tmp_path / "rois.nwb", curated(), session=session)
    with NWBHDF5IO(str(path), "r") as io:
        table = io.read().processing["ophys"]["ImageSegmentation"]["PlaneSegmentation"]
        assert list(table["decision"].data[:]) == ["cell", "not_cell", "unlabeled", "cell"]
        assert list(table["reason"].data[:]) == ["round", "a dendrite", "", ""]
    assert curation_of(read_rois(path)) == curation_of(curated())
    assert list(nwbinspector.inspect_nwbfile(nwbfile_path=str(path))) == []


# -- suite2p ------------------------------------------------------------------------------------
@pytest.fixture
def suite2p_folder(tmp_path) -> Path:
    for name in ("stat.npy", "iscell.npy", "ops.npy"):
        shutil.copy(SUITE2P / name, tmp_path / name)
    return tmp_path


def test_suite2p_iscell_reads_as_decisions_and_probabilities_beside_its_group(suite2p_folder):
    iscell = np.load(SUITE2P / "iscell.npy")
    found = read_rois(suite2p_folder / "stat.npy")
    assert [r.decision for r in found.rois] == [CELL if c else NOT_CELL for c in iscell[:, 0]]
    assert [r.probability for r in found.rois] == iscell[:, 1].tolist()
    assert [r.mask_group for r in found.rois] == iscell[:, 0].astype(int).tolist()  # as before


def test_suite2ps_own_iscell_read_and_written_back_is_the_same_file(suite2p_folder):
    found = read_rois(suite2p_folder / "stat.npy")
    written = write_iscell(suite2p_folder / "iscell.npy", found, overwrite=True)
    original, back = np.load(SUITE2P / "iscell.npy"), np.load(written, allow_pickle=False)
    assert (back.dtype, back.shape) == (original.dtype, original.shape) == (np.float64, (21, 2))
    np.testing.assert_array_equal(back, original)
    assert written.read_bytes() == (SUITE2P / "iscell.npy").read_bytes()  # layout and header too


def test_curated_decisions_go_to_suite2ps_iscell(suite2p_folder):
    found = read_rois(suite2p_folder / "stat.npy")
    rois = found.rois
    rois[0] = RoiEntry(0, rois[0].crop, decision=NOT_CELL)  # flipped, no probability
    rois[1] = RoiEntry(1, rois[1].crop, decision=UNLABELED)  # suite2p has no unlabeled
    rois[2] = RoiEntry(2, rois[2].crop, decision=CELL)
    write_iscell(suite2p_folder / "iscell.npy", found, overwrite=True)
    iscell = np.load(suite2p_folder / "iscell.npy", allow_pickle=False)
    np.testing.assert_array_equal(iscell[:3], [[0.0, 0.0], [0.0, 0.0], [1.0, 1.0]])
    assert [r.decision for r in read_rois(suite2p_folder / "stat.npy").rois[:3]] == [
        NOT_CELL,
        NOT_CELL,
        CELL,
    ]


def test_an_iscell_for_another_number_of_rois_than_stat_npy_is_refused(suite2p_folder):
    before = (suite2p_folder / "iscell.npy").read_bytes()
    with pytest.raises(RoiFileError, match=r"iscell.npy: 4 ROIs but .*stat.npy beside it holds 21"):
        write_iscell(suite2p_folder / "iscell.npy", curated(), overwrite=True)
    assert (suite2p_folder / "iscell.npy").read_bytes() == before
    with pytest.raises(FileExistsError):
        write_iscell(suite2p_folder / "iscell.npy", read_rois(suite2p_folder / "stat.npy"))


def test_an_iscell_probability_outside_0_to_1_is_one_line(suite2p_folder):
    iscell = np.load(SUITE2P / "iscell.npy")
    iscell[3, 1] = 7.0
    np.save(suite2p_folder / "iscell.npy", iscell)
    with pytest.raises(RoiFileError, match=r"iscell.npy: ROI 3's cell probability is 7.0"):
        read_rois(suite2p_folder / "stat.npy")
