"""Every AllenSDK reference case, fed exactly as AllenSDK was fed (data/oracle/README.md)."""

from __future__ import annotations

import numpy as np

from napari_roimasks import roi_masks


def build_masks(case):
    """ROIs and neuropil masks the way the oracle's generator built them."""
    stack = case["roi_stack"]
    n, h, w = stack.shape
    border = list(case["border"])
    rois = []
    for k in range(1, n + 1):
        plane = stack[k - 1]
        if case["pix_list"] and plane.any():
            rows, columns = np.nonzero(plane)
            roi = roi_masks.create_roi_mask(
                w,
                h,
                border,
                pix_list=np.column_stack([columns, rows]),
                label=f"roi{k}",
                mask_group=k % 3,
            )
        else:
            roi = roi_masks.create_roi_mask(
                w, h, border, roi_mask=plane, label=f"roi{k}", mask_group=k % 3
            )
        rois.append(roi)
    combined = roi_masks.create_roi_mask_array(rois).max(axis=0)
    neuropils = [
        roi_masks.create_neuropil_mask(roi, border, combined, label=f"neuropil for roi{k}")
        for k, roi in enumerate(rois, start=1)
    ]
    return rois, neuropils


def assert_mask_equals(mask, case, prefix):
    x, y, width, height = case[f"{prefix}_xywh"]
    assert (mask.x, mask.y, mask.width, mask.height) == (x, y, width, height)
    expected = case[f"{prefix}_mask"]
    if expected.size == 0:
        assert mask.mask is None
    else:
        np.testing.assert_array_equal(mask.mask, expected)
        assert mask.mask.dtype == bool
    assert sorted(mask.flags) == sorted(str(f) for f in case[f"{prefix}_flags"])
    np.testing.assert_array_equal(mask.get_mask_plane(), case[f"{prefix}_plane"])


def test_masks_match_allensdk(oracle_case):
    case = oracle_case
    rois, neuropils = build_masks(case)
    for k, (roi, neuropil) in enumerate(zip(rois, neuropils, strict=True), start=1):
        assert_mask_equals(roi, case, f"roi{k}")
        assert_mask_equals(neuropil, case, f"np{k}")
        assert neuropil.mask_group == roi.mask_group == k % 3


def test_roi_mask_array_matches_allensdk(oracle_case):
    rois, _ = build_masks(oracle_case)
    planes = roi_masks.create_roi_mask_array(rois)
    assert planes.dtype == np.uint8
    np.testing.assert_array_equal(planes, oracle_case["roi_mask_array"])


def test_validate_mask_matches_allensdk(oracle_case):
    rois, neuropils = build_masks(oracle_case)
    assert [roi_masks.validate_mask(m) for m in rois + neuropils] == oracle_case["validate"]


def test_traces_match_allensdk(oracle_case):
    case = oracle_case
    rois, neuropils = build_masks(case)
    traces, exclusions = roi_masks.calculate_traces(
        case["movie"], rois + neuropils, int(case["block_size"])
    )
    expected = case["traces"]
    assert traces.shape == expected.shape and traces.dtype == np.float64
    np.testing.assert_array_equal(np.isnan(traces), np.isnan(expected))
    if case["movie"].dtype.kind in "iu":
        np.testing.assert_array_equal(traces, expected)
    else:
        np.testing.assert_allclose(traces, expected, rtol=1e-5)
    assert exclusions == case["exclusions"]
