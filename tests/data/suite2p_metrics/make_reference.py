"""Make suite2p_roi_stats.npz: suite2p's own compactness and aspect ratio of hand-made ROIs.

Run with suite2p's Python (not a dependency of napari-roimasks; see README.md here):

    /work/venvs/suite2p-ref/bin/python tests/data/suite2p_metrics/make_reference.py

Every ROI's pixels weigh 1 (``lam`` all ones), as drawn ROIs do; suite2p's
defaults otherwise (diameter 12, soma crop on).
"""

from pathlib import Path

import numpy as np
from suite2p.detection.stats import roi_stats


def shapes():
    rng = np.random.default_rng(20261206)
    yy, xx = np.mgrid[-20:21, -20:21]
    yield "disc r6", yy**2 + xx**2 <= 36
    yield "disc r3", yy**2 + xx**2 <= 9
    yield "ellipse 10x4", (yy / 4.0) ** 2 + (xx / 10.0) ** 2 <= 1
    yield "line", (np.abs(yy) <= 1) & (np.abs(xx) <= 15)
    yield "square 7", (np.abs(yy) <= 3) & (np.abs(xx) <= 3)
    yield "single pixel", (yy == 0) & (xx == 0)
    yield "two pixels", (yy == 0) & ((xx == 0) | (xx == 1))
    yield "disc with a dendrite", (yy**2 + xx**2 <= 25) | ((np.abs(yy) <= 0) & (xx > 0) & (xx < 18))
    yield "ring", (yy**2 + xx**2 <= 64) & (yy**2 + xx**2 > 25)
    for k in range(8):
        blob = rng.random(yy.shape) < 0.7
        yield f"random blob {k}", blob & (yy**2 + xx**2 <= rng.integers(9, 120))


def main():
    names, pixels, stats = [], [], []
    for name, mask in shapes():
        ys, xs = np.nonzero(mask)
        names.append(name)
        pixels.append(mask)
        stats.append({"ypix": ys + 40, "xpix": xs + 40, "lam": np.ones(ys.size, np.float32)})
    out = roi_stats(np.array(stats), 128, 128, max_overlap=None)
    np.savez(
        Path(__file__).with_name("suite2p_roi_stats.npz"),
        names=np.array(names),
        masks=np.array(pixels),
        compact=np.array([s["compact"] for s in out], dtype=np.float64),
        aspect_ratio=np.array([s["aspect_ratio"] for s in out], dtype=np.float64),
    )


if __name__ == "__main__":
    main()
