"""Neuropil correction: AllenSDK's fitted contamination ratio, its replacement rule, dF/F."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from napari_roimasks.core import (
    delta_f_over_f,
    estimate_contamination_ratio,
    replace_unusable_ratios,
)

REFERENCE = Path(__file__).parents[1] / "data" / "allensdk_contamination_ratios.npz"


def test_fitted_ratio_equals_allensdk_on_its_reference_traces():
    # r and error from allensdk.brain_observatory.r_neuropil.estimate_contamination_ratios 2.16.2
    with np.load(REFERENCE) as reference:
        for i, (r, error) in enumerate(zip(reference["r"], reference["err"], strict=True)):
            fit = estimate_contamination_ratio(reference[f"f{i}"], reference[f"fneu{i}"])
            assert fit.r == pytest.approx(r, abs=1e-12), f"trace pair {i}"
            assert fit.error == pytest.approx(error, rel=1e-9)


def test_too_short_or_nan_traces():
    assert np.isnan(estimate_contamination_ratio(np.ones(5), np.ones(5)).r)
    f = np.linspace(100, 200, 400)
    f[10] = np.nan
    assert np.isfinite(estimate_contamination_ratio(f, np.sin(np.arange(400)) + 50).r)
    with pytest.raises(ValueError, match="equally long"):
        estimate_contamination_ratio(np.ones(10), np.ones(11))


def test_ratios_above_one_take_the_mean_of_the_usable_ones():
    np.testing.assert_allclose(
        replace_unusable_ratios([0.4, 1.5, 0.8, np.nan]), [0.4, 0.6, 0.8, np.nan]
    )
    np.testing.assert_allclose(replace_unusable_ratios([1.2, 3.0]), [0.7, 0.7])


def test_delta_f_over_f_with_running_baselines():
    f = np.full(200, 100.0)
    f[100] = 150.0
    dff = delta_f_over_f(f, 31)
    assert dff[100] == pytest.approx(0.5) and np.allclose(np.delete(dff, 100), 0)
    low = delta_f_over_f(f + np.linspace(0, 10, 200), 51, baseline="percentile", percentile=10)
    assert np.all(low[60:140] >= -1e-12)  # the 10th percentile sits under the trace
    assert np.isnan(delta_f_over_f(np.zeros(10), 3)).all()  # no baseline to divide by
    with pytest.raises(ValueError, match="window must be at least 1 frame"):
        delta_f_over_f(f, 0)
