"""The compiled metrics give numpy's numbers to the last bit, on ordinary and awkward data.

Each metric is compared, exactly, with a plain numpy computation of its definition: one
ROI or trace at a time, as the module's docstring states it (and as the project computed
it before the loops were compiled).
"""

from __future__ import annotations

import numpy as np
import pytest

from napari_roimasks.core.border import MotionBorder
from napari_roimasks.core.masks import MaskCrop
from napari_roimasks.core.metrics import (
    EVENT_MIN_FRAMES_APART,
    EVENT_SIGMAS,
    aspect_ratio,
    compactness,
    image_metrics,
    roi_metrics,
    shape_metrics,
    trace_events,
    trace_metrics,
)
from napari_roimasks.core.rings import NeuropilRings
from napari_roimasks.synthetic import place_cells


def assert_same_bits(got: np.ndarray, expected: np.ndarray, what: str) -> None:
    """Equal values, NaN where NaN, and the same sign of zero."""
    got, expected = np.asarray(got, np.float64), np.asarray(expected, np.float64)
    assert got.shape == expected.shape, what
    differ = ~((got == expected) | (np.isnan(got) & np.isnan(expected)))
    differ |= np.signbit(got) != np.signbit(expected)
    assert not differ.any(), f"{what}: rows {np.flatnonzero(differ)[:10]}"


# -- traces -----------------------------------------------------------------------------------
def reference_trace_metrics(corrected: np.ndarray) -> dict[str, np.ndarray]:
    """skew from the moments summed frame by frame (np.cumsum adds in order), snr from
    np.median and np.percentile, events counted frame by frame."""
    out = {name: np.full(len(corrected), np.nan) for name in ("skew", "snr", "events")}
    means, m2, m3 = (np.full(len(corrected), np.nan) for _ in range(3))
    for i, x in enumerate(corrected):
        if x.size < 2 or not np.all(np.isfinite(x)):
            continue
        n = x.size
        means[i] = np.cumsum(x)[-1] / n
        d = x - means[i]
        m2[i], m3[i] = np.cumsum(d * d)[-1] / n, np.cumsum(d * d * d)[-1] / n
        with np.errstate(all="ignore"):
            median = np.median(x)
            sigma = 1.4826 * np.median(np.abs(np.diff(x))) / np.sqrt(2.0)
            out["snr"][i] = (np.percentile(x, 99) - median) / sigma
        count, last = 0, None
        if sigma > 0:
            for frame in np.flatnonzero(x > median + EVENT_SIGMAS * sigma):
                count += last is None or frame - last > EVENT_MIN_FRAMES_APART
                last = frame
        out["events"][i] = count
    # on arrays, as the module computes it: numpy's power of an array may round an ulp
    # away from its power of a single number
    with np.errstate(all="ignore"):
        flat = m2 <= (np.finfo(np.float64).eps * means) ** 2
        out["skew"] = np.where(flat, np.nan, m3 / m2**1.5)
    return out


def awkward_traces(rng, n_frames: int) -> np.ndarray:
    """Rows that are hard on a selection by histogram: ties, a flat row, two values, huge
    and tiny spreads, values on many scales, NaN and inf, a long flat stretch."""
    x = rng.normal(0.0, 1.0, (16, n_frames))
    x[1] = 5.0
    x[2] = np.round(x[2])
    x[3] = rng.integers(0, 3, n_frames)
    x[4, ::3] = np.nan
    x[5, -1] = np.inf
    x[6] = rng.standard_cauchy(n_frames) * 1e300
    x[7] = np.exp(rng.normal(0.0, 30.0, n_frames))
    x[8] = 2.0 ** -rng.integers(0, 1000, n_frames)
    x[9] = np.where(rng.random(n_frames) < 0.5, 0.0, 1.0)
    x[10] = rng.normal(0.0, 1e-310, n_frames)  # subnormal
    x[11] = np.where(rng.random(n_frames) < 0.5, -1e308, 1e308)  # spans overflow
    x[12] = np.cumsum(rng.normal(0.0, 1.0, n_frames))
    x[13, : n_frames // 2] = 1e6
    x[14] = np.where(rng.random(n_frames) < 0.5, -0.0, 0.0)
    return x


@pytest.mark.parametrize("n_frames", [2, 3, 4, 7, 8, 9, 64, 65, 100, 101, 1000, 4097])
def test_trace_metrics_are_numpys_on_awkward_traces(rng, n_frames):
    traces = awkward_traces(rng, n_frames)
    with np.errstate(all="ignore"):
        got = trace_metrics(traces)
        expected = reference_trace_metrics(traces)
    for name in ("skew", "snr", "events"):
        assert_same_bits(got[name], expected[name], name)


def transients(rng, n_traces: int, n_frames: int) -> np.ndarray:
    """Noise around a baseline with transients of many sizes, as cells give."""
    traces = rng.normal(100.0, 1.0, (n_traces, n_frames))
    shape = np.exp(-np.arange(30) / 8.0)
    for row in traces:
        for frame in rng.integers(0, n_frames - 30, 15):
            row[frame : frame + 30] += rng.uniform(1.0, 15.0) * shape
    return traces


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_trace_metrics_are_numpys_on_transients_whatever_the_threads(rng, threads):
    traces = transients(rng, 40, 3001)
    traces[7, 100] = np.nan  # an excluded ROI
    got = trace_metrics(traces, threads=threads)
    expected = reference_trace_metrics(traces)
    for name in ("skew", "snr", "events"):
        assert_same_bits(got[name], expected[name], name)
    usable = np.isfinite(traces).all(axis=1)
    counts = [len(trace_events(trace)[0]) for trace in traces[usable]]
    np.testing.assert_array_equal(got["events"][usable], counts)
    assert np.nanmax(got["events"]) >= 10  # transients were found, so counting was tested


def test_traces_need_not_be_contiguous_nor_float64(rng):
    traces = transients(rng, 12, 500)
    columns = np.asfortranarray(traces)
    single = traces.astype(np.float32)
    for given, exact in ((columns, traces), (traces[::2], traces[::2]), (single, single)):
        got = trace_metrics(given)
        expected = reference_trace_metrics(np.asarray(exact, np.float64))
        for name in ("skew", "snr", "events"):
            assert_same_bits(got[name], expected[name], name)


def test_one_frame_or_no_trace_gives_nan(rng):
    assert all(np.isnan(v).all() for v in trace_metrics(rng.normal(0, 1, (3, 1))).values())
    assert all(v.shape == (0,) for v in trace_metrics(np.zeros((0, 50))).values())


# -- shapes -----------------------------------------------------------------------------------
DIAMETER = 12.0


def reference_soma(ys: np.ndarray, xs: np.ndarray) -> np.ndarray:
    """suite2p's ``soma_crop`` with every pixel weighted 1, in numpy."""
    crop = np.ones(ys.size, dtype=bool)
    if ys.size > 10:
        my, mx = np.median(ys), np.median(xs)
        nearest = ((xs - mx) ** 2 + (ys - my) ** 2).argmin()
        distances = np.sqrt((ys - ys[nearest]) ** 2 + (xs - xs[nearest]) ** 2)
        radii = np.arange(0, distances.max(), 1)
        area = np.searchsorted(np.sort(distances), radii, side="left").astype(float)
        growth = np.diff(area)
        radius = radii[-1]
        if growth.size:
            threshold = growth.max() / 3
            above = np.flatnonzero(growth > threshold)
            if above.size:
                below = np.flatnonzero(growth[above[0] :] < threshold)
                if below.size:
                    radius = radii[below[0] + above[0]]
        crop = distances < radius
    if not crop.any():
        crop[:] = True
    return crop


def reference_shape(mask: MaskCrop) -> tuple[float, float, float]:
    """area, compactness and aspect ratio as the module defines them, in numpy."""
    ys, xs = (k.astype(np.float64) for k in np.nonzero(mask.pixels))
    if ys.size == 0:
        return np.nan, np.nan, np.nan
    keep = reference_soma(ys, xs)
    ys, xs = ys[keep], xs[keep]
    spread = np.sqrt(
        ((ys - np.median(ys)) / DIAMETER) ** 2 + ((xs - np.median(xs)) / DIAMETER) ** 2
    )
    steps = np.arange(-DIAMETER * 3, DIAMETER * 3 + 1) / DIAMETER
    dy, dx = np.meshgrid(steps, steps, indexing="ij")
    disc = np.sort(np.sqrt(dy**2 + dx**2).ravel())[: ys.size].mean()
    compact = max(1.0, spread.mean() / (1e-10 + disc))
    points = np.stack((ys, xs)) / DIAMETER
    centred = points - points.mean(axis=1, keepdims=True)
    covariance = centred @ centred.T / points.shape[1]
    radii = np.sort(2.0 * np.sqrt(np.maximum(0.0, np.linalg.eigvalsh(covariance))))[::-1]
    return float(ys.size and mask.area), compact, 2 * radii[0] / (0.01 + radii[0] + radii[1])


def awkward_masks(rng) -> list:
    masks = []
    for _ in range(400):  # random speckles and blobs of every density
        h, w = rng.integers(1, 40, 2)
        pixels = rng.random((h, w)) < rng.uniform(0.05, 1.0)
        masks.append(MaskCrop(int(rng.integers(0, 50)), int(rng.integers(0, 50)), pixels))
    rows, columns = np.ogrid[:60, :60]
    for _ in range(60):  # a soma with a dendrite and a stray line: the soma crop cuts them
        pixels = (rows - 30) ** 2 + (columns - 30) ** 2 < rng.uniform(4, 80)
        pixels[30, 30:] = True
        pixels[rng.integers(0, 60), : rng.integers(1, 60)] = True
        masks.append(MaskCrop(0, 0, pixels))
    masks += [
        None,
        MaskCrop(0, 0, np.zeros((3, 3), bool)),
        MaskCrop(0, 0, np.zeros((0, 4), bool)),
        MaskCrop(2, 2, np.ones((1, 1), bool)),
        MaskCrop(0, 0, np.ones((1, 30), bool)),  # a line
        MaskCrop(0, 0, np.ones((150, 120), bool)),  # more pixels than suite2p's disc table
    ]
    return masks


def test_shape_metrics_are_numpys_on_awkward_masks(rng):
    masks = awkward_masks(rng)
    got = shape_metrics(masks)
    expected = np.array([reference_shape(m) if m is not None else (np.nan,) * 3 for m in masks]).T
    for k, name in enumerate(("area", "compactness", "aspect_ratio")):
        assert_same_bits(got[name], expected[k], name)
    one = masks[-7]  # a dendrite-cut soma, alone
    assert compactness(one) == got["compactness"][len(masks) - 7]
    assert aspect_ratio(one) == got["aspect_ratio"][len(masks) - 7]


def test_shape_metrics_are_numpys_on_cells_drawn_as_rois():
    labels = place_cells((256, 256), 200, radius_range=(2.0, 9.0), seed=5)
    masks = [MaskCrop.from_plane(labels == k) for k in range(1, labels.max() + 1)]
    got = shape_metrics(masks)
    expected = np.array([reference_shape(m) for m in masks]).T
    for k, name in enumerate(("area", "compactness", "aspect_ratio")):
        assert_same_bits(got[name], expected[k], name)


# -- images -----------------------------------------------------------------------------------
def reference_image_metrics(masks, rings, correlation, mean) -> dict[str, np.ndarray]:
    """numpy's mean and std in float64 of each crop's pixels."""
    out = {
        k: np.full(len(masks), np.nan)
        for k in ("correlation_roi", "correlation_ring", "brightness_z")
    }

    def values(image, crop):
        return None if crop is None else image[crop.slices][crop.pixels]

    for i, (mask, ring) in enumerate(zip(masks, rings, strict=True)):
        inside, around = values(correlation, mask), values(correlation, ring)
        if inside is not None and inside.size:
            out["correlation_roi"][i] = inside.mean(dtype=np.float64)
        if around is not None and around.size:
            out["correlation_ring"][i] = around.mean(dtype=np.float64)
        inside, around = values(mean, mask), values(mean, ring)
        if inside is not None and around is not None and inside.size and around.size:
            spread = around.std(dtype=np.float64)
            if spread > 0:
                gap = inside.mean(dtype=np.float64) - around.mean(dtype=np.float64)
                out["brightness_z"][i] = gap / spread
    return out


def random_crops(rng, n: int, shape: tuple[int, int], largest: int) -> list:
    crops = []
    for _ in range(n):
        chance = rng.random()
        if chance < 0.03:
            crops.append(None)
            continue
        h, w = rng.integers(1, largest, 2)
        top, left = rng.integers(0, shape[0] - h + 1), rng.integers(0, shape[1] - w + 1)
        pixels = rng.random((h, w)) < (0.0 if chance < 0.06 else rng.uniform(0.01, 1.0))
        crops.append(MaskCrop(int(top), int(left), pixels))
    return crops


@pytest.mark.parametrize(
    "kind", ["float32", "float64", "uint16", "float16", "constant", "nan pixels", "signed zeros"]
)
def test_image_metrics_are_numpys_whatever_the_image(rng, kind):
    shape = (260, 250)
    images = {
        "float32": rng.normal(100.0, 10.0, shape).astype(np.float32),
        "float64": rng.normal(0.0, 1.0, shape),
        "uint16": rng.integers(0, 65535, shape).astype(np.uint16),
        "float16": rng.normal(0.0, 1.0, shape).astype(np.float16),
        "constant": np.full(shape, 3.3, np.float32),
        "nan pixels": np.where(rng.random(shape) < 0.001, np.nan, rng.random(shape)),
        "signed zeros": np.where(rng.random(shape) < 0.5, -0.0, 0.0),
    }
    image = images[kind]
    # rings up to 200 x 200 pixels: numpy's pairwise sums several levels deep
    masks, rings = random_crops(rng, 300, shape, 40), random_crops(rng, 300, shape, 200)
    with np.errstate(all="ignore"):
        got = image_metrics(masks, rings, correlation=image, mean=image)
        expected = reference_image_metrics(masks, rings, image, image)
    for name in expected:
        assert_same_bits(got[name], expected[name], f"{kind} {name}")


def test_crops_outside_the_image_are_refused():
    inside = MaskCrop(0, 0, np.ones((2, 2), bool))
    outside = MaskCrop(9, 9, np.ones((2, 2), bool))
    with pytest.raises(ValueError, match="inside the 10x10 image"):
        image_metrics([inside], [outside], mean=np.zeros((10, 10)))
    with pytest.raises(ValueError, match="a ring for each of the 2 ROIs"):
        image_metrics([inside, inside], [inside], mean=np.zeros((10, 10)))


def test_every_metric_of_rois_with_rings_is_numpys(rng):
    labels = place_cells((128, 128), 60, radius_range=(3.0, 6.0), seed=2)
    border = MotionBorder(left=4, right=3, top=5, bottom=2)
    rings = NeuropilRings.from_labels(labels, border=border)
    keys = list(rings)
    masks, ring_list = [rings.roi(k) for k in keys], [rings.ring(k) for k in keys]
    traces = transients(rng, len(keys), 800)
    mean = rng.normal(100.0, 10.0, labels.shape).astype(np.float32)
    correlation = rng.uniform(0.0, 1.0, labels.shape).astype(np.float32)
    got = roi_metrics(
        masks, ring_list, border=border, image_shape=labels.shape, corrected=traces,
        correlation=correlation, mean=mean,
    )  # fmt: skip
    expected = {
        **reference_trace_metrics(traces),
        **reference_image_metrics(masks, ring_list, correlation, mean),
    }
    shapes = np.array([reference_shape(m) for m in masks]).T
    expected.update(area=shapes[0], compactness=shapes[1], aspect_ratio=shapes[2])
    for name, values in expected.items():
        assert_same_bits(got[name], values, name)
