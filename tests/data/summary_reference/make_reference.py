"""Make the summary-image reference files in this folder with the REAL peer code.

Not a test and not imported by the tests: run it by hand, outside the project's
own environment (see README.md beside this file for the exact versions).

    # suite2p 1.1.0 (its meanImgE needs cellpose, which needs torch/torchvision)
    python3 -m venv /work/venvs/suite2p-ref
    /work/venvs/suite2p-ref/bin/pip install torch==2.14.1 torchvision==0.29.1
    /work/venvs/suite2p-ref/bin/pip install suite2p==1.1.0 torch==2.14.1 torchvision==0.29.1

    # CaImAn's source (not on PyPI under that name: the PyPI "caiman" is an
    # unrelated MicroPython tool). Any checkout of flatironinstitute/CaImAn at
    # commit 881e627adf951dde25d3839953c98acf6b4adab0 (tag v1.12.1):
    git -C CaImAn show 881e627adf951dde25d3839953c98acf6b4adab0:caiman/summary_images.py \
        > /tmp/caiman_summary_images.py

    # suite2p 0.14.6 (the last release whose meanImgE takes the diameter), only
    # the source file, not installed:
    /work/venvs/suite2p-ref/bin/pip download --no-deps suite2p==0.14.6 -d /tmp/s2p0146
    unzip -o /tmp/s2p0146/suite2p-0.14.6-py3-none-any.whl \
        suite2p/registration/register.py -d /tmp/s2p0146

    /work/venvs/suite2p-ref/bin/python make_reference.py \
        /tmp/caiman_summary_images.py /tmp/s2p0146/suite2p/registration/register.py

CaImAn is GPL-2 and this project is BSD-3, so CaImAn's code is NOT copied into
this file: the script reads CaImAn's own ``summary_images.py`` at run time,
takes the function definitions ``local_correlations`` and
``local_correlations_fft`` out of it unchanged (with ``ast``), checks the file's
SHA-256 against the v1.12.1 one and runs them (importing all of ``caiman``
would need its compiled extensions and a dozen heavy dependencies; these two
functions use only numpy, scipy.ndimage.convolve and cv2). suite2p 0.14.6's
``compute_enhanced_mean_image`` (GPL-3) is taken out of its ``register.py`` the
same way (importing that old suite2p would need its own old dependency set).

Writes, in this folder:
  movie.npy                           (120, 37, 29) uint16, the test movie
  mean_image.npy                      float32 movie.mean(axis=0), fed to suite2p
  caiman_local_correlations.npy       CaImAn local_correlations, 8 neighbours
  caiman_local_correlations_4n.npy    CaImAn local_correlations, 4 neighbours
  caiman_local_correlations_fft.npy   CaImAn local_correlations_fft, 8 neighbours
  suite2p_meanImgE.npy                suite2p 1.1.0 highpass_mean_image(mean_image)
  suite2p0146_meanImgE_d12.npy        suite2p 0.14.6 compute_enhanced_mean_image, diameter 12
  suite2p0146_meanImgE_d5.npy         suite2p 0.14.6 compute_enhanced_mean_image, diameter 5
"""

from __future__ import annotations

import ast
import hashlib
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent

SEED = 20261206
N_FRAMES, LY, LX = 120, 37, 29  # (frames, rows, columns): odd and not square
BASELINE = 400.0
N_CELLS = 6
CELL_SIGMA = 2.0  # px
CONST_PIXELS = {(5, 7): 500, (36, 28): 420}  # (row, column) -> constant value

CAIMAN_COMMIT = "881e627adf951dde25d3839953c98acf6b4adab0"  # tag v1.12.1
CAIMAN_SHA256 = "993e4071fa277d7411b09b12a849acb77d8f0893943093194696ac84ae41cd6b"
S2P0146_REGISTER_SHA256 = "7f8c4a63bf1ecc73fa0fb0cede6ff6c7b0b3fa796fccbfde40981a1cd6f07f4f"


def make_movie(rng: np.random.Generator) -> np.ndarray:
    """(N_FRAMES, LY, LX) uint16: Poisson noise on a neuropil baseline plus 6 flickering blobs."""
    rows, cols = np.mgrid[0:LY, 0:LX].astype(np.float64)
    t = np.arange(N_FRAMES)

    # neuropil: baseline 400 with a weak shared slow drift and a smooth spatial tilt
    drift = 1.0 + 0.02 * np.sin(2 * np.pi * t / 60.0 + rng.uniform(0, 2 * np.pi))
    tilt = 1.0 + 0.05 * (rows / (LY - 1) - 0.5) - 0.03 * (cols / (LX - 1) - 0.5)
    lam = BASELINE * drift[:, None, None] * tilt[None, :, :]

    # cells: Gaussian blobs (sigma 2 px), each with its own sparse calcium-like transients
    centres = np.column_stack([rng.uniform(4, LY - 5, N_CELLS), rng.uniform(4, LX - 5, N_CELLS)])
    decay = np.exp(-1.0 / 6.0)  # ~6-frame decay
    for cy, cx in centres:
        shape = np.exp(-((rows - cy) ** 2 + (cols - cx) ** 2) / (2 * CELL_SIGMA**2))
        spikes = (rng.random(N_FRAMES) < 0.06) * rng.uniform(150, 450, N_FRAMES)
        trace = np.zeros(N_FRAMES)
        level = 0.0
        for k in range(N_FRAMES):
            level = level * decay + spikes[k]
            trace[k] = level
        lam = lam + (60.0 + trace)[:, None, None] * shape[None, :, :]

    movie = rng.poisson(lam).astype(np.uint16)
    for (r, c), value in CONST_PIXELS.items():
        movie[:, r, c] = value
    return movie


def extract_functions(path: Path, names: set[str], sha256: str, namespace: dict) -> dict:
    """Define the named top-level functions of a peer tool's source file, unchanged."""
    source = path.read_text()
    digest = hashlib.sha256(source.encode()).hexdigest()
    if digest != sha256:
        raise SystemExit(f"{path}: sha256 {digest}, expected {sha256} (wrong version?)")
    tree = ast.parse(source)
    nodes = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name in names]
    if {n.name for n in nodes} != names:
        raise SystemExit(f"{path} does not define {sorted(names)}")
    exec(compile(ast.Module(body=nodes, type_ignores=[]), str(path), "exec"), namespace)
    return {name: namespace[name] for name in names}


def load_caiman_functions(summary_images_py: Path) -> dict:
    """CaImAn v1.12.1 local_correlations and local_correlations_fft (numpy, scipy, cv2 only)."""
    import cv2
    from scipy.ndimage import convolve, generate_binary_structure

    namespace = {
        "np": np,
        "cv2": cv2,
        "convolve": convolve,
        "generate_binary_structure": generate_binary_structure,
    }
    return extract_functions(
        summary_images_py,
        {"local_correlations", "local_correlations_fft"},
        CAIMAN_SHA256,
        namespace,
    )


def load_suite2p_0146_enhanced_mean(register_py: Path):
    """suite2p 0.14.6 registration.register.compute_enhanced_mean_image (numpy, scipy only)."""
    from scipy.signal import medfilt2d

    namespace = {"np": np, "medfilt2d": medfilt2d}
    return extract_functions(
        register_py, {"compute_enhanced_mean_image"}, S2P0146_REGISTER_SHA256, namespace
    )["compute_enhanced_mean_image"]


def main(argv: list[str]) -> None:
    if len(argv) != 3:
        raise SystemExit(__doc__)
    caiman_src, s2p0146_register = Path(argv[1]), Path(argv[2])

    rng = np.random.default_rng(SEED)
    movie = make_movie(rng)
    assert movie.shape == (N_FRAMES, LY, LX) and movie.dtype == np.uint16
    np.save(HERE / "movie.npy", movie, allow_pickle=False)

    # ---- CaImAn ------------------------------------------------------------
    caiman = load_caiman_functions(caiman_src)
    mov32 = movie.astype(np.float32)  # (frames, rows, columns); swap_dim=False keeps it so
    with np.errstate(divide="ignore", invalid="ignore"):
        lc8 = caiman["local_correlations"](mov32, eight_neighbours=True, swap_dim=False)
        lc4 = caiman["local_correlations"](mov32, eight_neighbours=False, swap_dim=False)
    lcfft = caiman["local_correlations_fft"](mov32, eight_neighbours=True, swap_dim=False)
    np.save(HERE / "caiman_local_correlations.npy", lc8, allow_pickle=False)
    np.save(HERE / "caiman_local_correlations_4n.npy", lc4, allow_pickle=False)
    np.save(HERE / "caiman_local_correlations_fft.npy", lcfft, allow_pickle=False)

    # ---- suite2p -----------------------------------------------------------
    import suite2p
    from suite2p.registration.utils import highpass_mean_image

    mean_image = movie.mean(axis=0).astype(np.float32)
    np.save(HERE / "mean_image.npy", mean_image, allow_pickle=False)
    # exactly what suite2p 1.1.0's registration_wrapper does (register.py line 999),
    # aspect=1.0 as run_s2p passes no aspect
    meanImgE = highpass_mean_image(mean_image.astype("float32"), aspect=1.0)
    np.save(HERE / "suite2p_meanImgE.npy", meanImgE, allow_pickle=False)

    # suite2p 0.14.6: ops as run_s2p had them when diameter was given and no
    # "spatscale_pix" was set (the function then takes spatscale_pix = diameter, aspect = 1)
    enhanced_0146 = load_suite2p_0146_enhanced_mean(s2p0146_register)
    old = {}
    for d in (12, 5):
        ops = {"meanImg": mean_image.copy(), "diameter": d}
        old[d] = enhanced_0146(mean_image.copy(), ops)
        np.save(HERE / f"suite2p0146_meanImgE_d{d}.npy", old[d], allow_pickle=False)

    print("suite2p", suite2p.version)
    for name, arr in [
        ("lc8", lc8),
        ("lc4", lc4),
        ("lcfft", lcfft),
        ("meanImgE", meanImgE),
        ("0.14.6 d12", old[12]),
        ("0.14.6 d5", old[5]),
    ]:
        print(
            name,
            arr.dtype,
            arr.shape,
            "nan:",
            int(np.isnan(arr).sum()),
            "min/max:",
            np.nanmin(arr),
            np.nanmax(arr),
        )


if __name__ == "__main__":
    main(sys.argv)
