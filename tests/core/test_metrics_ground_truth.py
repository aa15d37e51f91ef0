"""Ground truth: true cells against decoys (neuropil only, half a cell, a blood vessel) on the
synthetic recording, ranked by SNR alone and by the classifier trained on a few decisions."""

from __future__ import annotations

import numpy as np
import pytest

from napari_roimasks.core import extract_traces
from napari_roimasks.core.classifier import CellClassifier
from napari_roimasks.core.masks import MaskCrop
from napari_roimasks.core.metrics import roi_metrics
from napari_roimasks.core.rings import NeuropilRings
from napari_roimasks.core.summary_images import compute_summary_images
from napari_roimasks.synthetic import DECOY_KINDS, decoy_rois, make_recording


@pytest.fixture(scope="module")
def cells_and_decoys():
    recording = make_recording(n_frames=600, shape=(192, 192), n_cells=40, seed=3, vessel=True)
    decoys, kinds = decoy_rois(recording, 10, seed=1)
    assert sorted(set(kinds)) == sorted(DECOY_KINDS) and len(decoys) == 30
    n_cells = int(recording.roi_labels.max())
    cells = [MaskCrop.from_plane(recording.roi_labels == k) for k in range(1, n_cells + 1)]
    masks = cells + decoys
    rings = NeuropilRings.from_masks(
        dict(enumerate(masks)), recording.roi_labels.shape, border=recording.motion_border
    )
    ring_list = [rings.ring(i) for i in range(len(masks))]
    assert all(ring is not None for ring in ring_list)
    traces = extract_traces(recording.movie, masks + ring_list)
    corrected = traces[: len(masks)] - 0.7 * traces[len(masks) :]
    images = compute_summary_images(recording.movie, cell_diameter=10)
    metrics = roi_metrics(
        masks,
        ring_list,
        border=recording.motion_border,
        image_shape=recording.roi_labels.shape,
        corrected=corrected,
        correlation=images.correlation,
        mean=images.mean,
    )
    # cells the motion border reaches are disqualified before triage (their traces hold the
    # registration's blank frames): the ranking is about the others
    true_cells = [i for i in range(n_cells) if metrics["border_distance"][i] >= 0]
    assert len(true_cells) >= 25
    return metrics, np.array(true_cells), np.arange(n_cells, len(masks))


def worst_cell_share(score, cells, decoys):
    """The smallest share of the decoys that a cell's score beats."""
    return min(np.mean(score[c] > score[decoys]) for c in cells)


def test_snr_alone_ranks_every_cell_above_most_decoys(cells_and_decoys):
    metrics, cells, decoys = cells_and_decoys
    assert worst_cell_share(metrics["snr"], cells, decoys) >= 0.8


@pytest.mark.parametrize("seed", range(8))
def test_the_classifier_trained_on_10_cells_and_10_decoys_ranks_the_rest(cells_and_decoys, seed):
    metrics, cells, decoys = cells_and_decoys
    rng = np.random.default_rng(seed)
    taught_cells, taught_decoys = rng.permutation(cells)[:10], rng.permutation(decoys)[:10]
    is_cell = np.full(len(metrics["snr"]), np.nan)
    is_cell[taught_cells], is_cell[taught_decoys] = 1, 0
    classifier = CellClassifier.train(metrics, is_cell)
    probability = classifier.probabilities(metrics)
    rest_cells = np.setdiff1d(cells, taught_cells)
    rest_decoys = np.setdiff1d(decoys, taught_decoys)
    assert worst_cell_share(probability, rest_cells, rest_decoys) >= 0.9
