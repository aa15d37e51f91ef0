"""suite2p's own outputs (``tests/data/suite2p``, made by suite2p 1.1.0: see its README.md) open
right: ``stat.npy`` and ``ophys.nwb`` (written by suite2p's ``save_nwb``) give the same ROIs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from napari_roimasks.io.roi_files import read_rois

SUITE2P = Path(__file__).parent.parent / "data" / "suite2p"
SHAPE = (96, 80)  # suite2p's Ly, Lx: not square, so a row/column swap shows


def suite2p_stat() -> np.ndarray:
    """suite2p's ROIs as suite2p itself loads them (a pickle this project made: trusted)."""
    return np.load(SUITE2P / "stat.npy", allow_pickle=True)


def pixels(roi) -> set[tuple[int, int]]:
    rows, columns = np.nonzero(roi.crop.pixels)
    return set(zip((rows + roi.crop.top).tolist(), (columns + roi.crop.left).tolist(), strict=True))


def test_stat_npy_opens_with_suite2ps_pixels_size_and_iscell():
    stat = suite2p_stat()
    found = read_rois(SUITE2P / "stat.npy")
    assert found.image_shape == SHAPE  # from ops.npy beside it
    assert len(found.rois) == len(stat) == 21
    iscell = np.load(SUITE2P / "iscell.npy")
    assert [r.mask_group for r in found.rois] == iscell[:, 0].astype(int).tolist()
    for roi, s in zip(found.rois, stat, strict=True):
        assert pixels(roi) == set(zip(s["ypix"].tolist(), s["xpix"].tolist(), strict=True))


def test_suite2ps_nwb_opens_with_the_same_rois_as_its_stat_npy():
    pytest.importorskip("pynwb")
    stat = suite2p_stat()
    found = read_rois(SUITE2P / "ophys.nwb")
    assert found.image_shape == SHAPE  # the TwoPhotonSeries' dimension, rows first
    assert len(found.rois) == len(stat)
    agree = sum(
        pixels(roi) == set(zip(s["ypix"].tolist(), s["xpix"].tolist(), strict=True))
        for roi, s in zip(found.rois, stat, strict=True)
    )
    assert agree == len(stat)  # the transposed reader agreed on 0 of 21
    for roi, s in zip(found.rois, stat, strict=True):  # suite2p writes lam as the weight
        weights = roi.weights[roi.crop.pixels]
        order = np.lexsort((s["xpix"], s["ypix"]))
        np.testing.assert_allclose(weights, s["lam"][order].astype(np.float32), rtol=1e-6)
