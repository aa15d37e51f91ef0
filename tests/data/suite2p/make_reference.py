"""Make the suite2p reference files in this folder with the REAL suite2p.

Not a test and not imported by the tests: run it by hand, in a virtual
environment of its own that has suite2p (suite2p is no dependency of
napari-roimasks). See README.md beside this file for the versions used.

    python3 -m venv /work/venvs/suite2p
    /work/venvs/suite2p/bin/pip install torch==2.14.1 torchvision==0.29.1
    /work/venvs/suite2p/bin/pip install "suite2p[nwb]==1.1.0" "pynwb==3.1.3" \
        torch==2.14.1 torchvision==0.29.1
    /work/venvs/suite2p/bin/python make_reference.py [WORK_DIR]

(torchvision must match torch: suite2p 1.1.0 imports cellpose, which imports
torchvision. pynwb 4.x makes suite2p 1.1.0's save_nwb fail, see README.md.)

It writes a small synthetic movie (flickering Gaussian blobs and a few thin
streaks on a noisy background, with whole-pixel rigid jitter) as a TIFF, runs ``suite2p.run_s2p`` on it (one plane, rigid
registration, sparsery detection, NWB output on), and copies ``stat.npy``,
``iscell.npy``, a trimmed ``ops.npy`` and ``ophys.nwb`` here.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import numpy as np
import tifffile

HERE = Path(__file__).resolve().parent

SEED = 20261101
# Small on purpose: pynwb alone writes ~180 KB of schema into every NWB file,
# and suite2p stores three (Ly, Lx) float32 images and three (frames, ROIs)
# float32 traces in ophys.nwb, uncompressed.
N_FRAMES = 300
LY, LX = 96, 80  # not square, so a swapped row/column shows
N_BLOBS = 20
N_STREAKS = 3
MARGIN = 4  # canvas border for the motion
MAX_SHIFT = 3  # whole-pixel rigid jitter, each axis, uniform in [-MAX_SHIFT, MAX_SHIFT]
FS = 10.0

# ops.npy entries kept in the trimmed copy: the frame size, a few scalars, the
# rigid motion offsets (read by napari_roimasks.io.motion_offsets) and the
# crop of the valid (motion-free) region. The images (meanImg, refImg, Vcorr,
# max_proj, ...) are dropped to keep the file small.
OPS_KEEP = (
    "Ly", "Lx", "nframes", "fs", "tau", "nplanes", "nchannels", "diameter",
    "xoff", "yoff", "corrXY", "yrange", "xrange", "version",
)


def synthetic_movie(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(N_FRAMES, LY, LX) int16 movie and its (N_FRAMES, 2) whole-pixel shifts (down, right).

    Flickering round blobs (cell-like) and thin streaks on a noisy background,
    drawn on a canvas MARGIN px larger on each side; frame t is the canvas crop
    moved by shifts[t] (the scene appears moved up/left by that much), so
    suite2p's rigid registration has offsets to find.
    """
    yy, xx = np.mgrid[: LY + 2 * MARGIN, : LX + 2 * MARGIN]
    # thin straight streaks (dendrite-like), so the classifier has something to call not-a-cell
    streaks = []
    for _ in range(N_STREAKS):
        y0, x0 = MARGIN + rng.uniform(12, [LY - 12, LX - 12])
        angle = rng.uniform(0, np.pi)
        t = np.linspace(-12, 12, 49)
        streaks.append(np.stack([y0 + t * np.sin(angle), x0 + t * np.cos(angle)], axis=1))
    centres = []
    while len(centres) < N_BLOBS:  # centres >= 11 px apart and >= 8 px from a streak
        c = MARGIN + rng.uniform(9, [LY - 9, LX - 9])
        if all(np.hypot(*(c - d)) >= 11 for d in centres) and all(
            np.hypot(*(line - c).T).min() >= 8 for line in streaks
        ):
            centres.append(c)
    centres = np.array(centres)
    sigma = 2.5
    shapes = [
        np.exp(-((yy - y) ** 2 + (xx - x) ** 2) / (2 * sigma**2)) for y, x in centres
    ]
    for line in streaks:
        d = np.min(np.hypot(yy[..., None] - line[:, 0], xx[..., None] - line[:, 1]), axis=-1)
        shapes.append(np.exp(-(d**2) / (2 * 0.8**2)))
    shapes = np.array(shapes)  # (N_BLOBS + N_STREAKS, canvas rows, canvas columns)
    n = len(shapes)
    # calcium-like activity: sparse spikes convolved with an exponential decay (tau = 1 s)
    spikes = (rng.random((n, N_FRAMES)) < 0.06) * rng.uniform(1.0, 3.0, (n, N_FRAMES))
    kernel = np.exp(-np.arange(30) / (FS * 1.0))
    activity = np.array([np.convolve(s, kernel)[:N_FRAMES] for s in spikes])
    baseline = 200.0
    amplitude = 1000.0
    movie = baseline + 0.3 * amplitude * shapes.sum(0)[None]  # resting brightness
    movie = movie + amplitude * np.tensordot(activity.T, shapes, axes=1)
    shifts = rng.integers(-MAX_SHIFT, MAX_SHIFT + 1, (N_FRAMES, 2))
    movie = np.stack([
        frame[MARGIN + dy : MARGIN + dy + LY, MARGIN + dx : MARGIN + dx + LX]
        for frame, (dy, dx) in zip(movie, shifts)
    ])
    movie = movie + rng.normal(0, 20.0, movie.shape)
    return np.clip(movie, -32768, 32767).astype(np.int16), shifts


def main(work: Path) -> None:
    import suite2p
    import torch

    if work.exists():
        shutil.rmtree(work)
    data = work / "data"
    data.mkdir(parents=True)
    rng = np.random.default_rng(SEED)
    movie, shifts = synthetic_movie(rng)
    tifffile.imwrite(data / "movie.tif", movie)

    db = {
        "data_path": [str(data)],
        "save_path0": str(work),
        "nplanes": 1,
        "nchannels": 1,
        "input_format": "tif",
    }
    settings = suite2p.default_settings()
    settings["torch_device"] = "cpu"
    settings["fs"] = FS
    settings["tau"] = 1.0
    settings["diameter"] = [12.0, 12.0]
    settings["registration"]["nonrigid"] = False
    settings["io"]["save_NWB"] = True
    suite2p.run_s2p(db=db, settings=settings)

    plane = work / "suite2p" / "plane0"
    HERE.mkdir(exist_ok=True)
    shutil.copy(plane / "stat.npy", HERE / "stat.npy")
    shutil.copy(plane / "iscell.npy", HERE / "iscell.npy")
    shutil.copy(work / "suite2p" / "ophys.nwb", HERE / "ophys.nwb")
    ops = np.load(plane / "ops.npy", allow_pickle=True).item()
    trimmed = {k: ops[k] for k in OPS_KEEP if k in ops}
    trimmed["suite2p_version"] = str(suite2p.version)
    trimmed["torch_version"] = str(torch.__version__)  # plain str: TorchVersion pickles a torch import
    np.save(HERE / "ops.npy", np.array(trimmed, dtype=object), allow_pickle=True)

    stat = np.load(HERE / "stat.npy", allow_pickle=True)
    iscell = np.load(HERE / "iscell.npy")
    print(f"suite2p {suite2p.version}, torch {torch.__version__}")
    print(f"{len(stat)} ROIs, {int(iscell[:, 0].sum())} with iscell=1, frame {ops['Ly']}x{ops['Lx']}")
    # suite2p's offsets are relative to its reference image, itself made of shifted frames:
    # yoff + shift down (xoff + shift right) should be one constant
    for name, off, shift in (("yoff", ops["yoff"], shifts[:, 0]), ("xoff", ops["xoff"], shifts[:, 1])):
        values, counts = np.unique(np.asarray(off) + shift, return_counts=True)
        c = values[counts.argmax()]
        print(f"{name} == {c} - shift on {counts.max() / N_FRAMES:.1%} of frames")
    print(f"yrange {ops['yrange']}, xrange {ops['xrange']}")
    print(f"full ops.npy keys: {sorted(ops)}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("/tmp/suite2p_reference_work"))
