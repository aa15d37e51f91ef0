"""napari-roimasks: curate two-photon ROIs, see their neuropil rings, extract traces.

Importing the package imports nothing heavy (its names load on first use): headless
pipelines use :mod:`napari_roimasks.roi_masks`, a drop-in replacement for
``allensdk.brain_observatory.roi_masks``. The napari widgets load only when
napari asks for them.

The names below load on first use, so a submodule (the command line, a reader)
starts without the others: ``napari_roimasks.roi_masks`` and ``MotionBorder``
import the core, ``__version__`` reads the installed package's metadata.
"""

from __future__ import annotations

import importlib

__all__ = ["MotionBorder", "__version__", "roi_masks"]


def __getattr__(name: str):
    if name == "roi_masks":  # import_module: ``from . import`` would ask this function again
        return importlib.import_module(f"{__name__}.roi_masks")
    if name == "MotionBorder":
        from .core import MotionBorder

        return MotionBorder
    if name == "__version__":
        from importlib.metadata import PackageNotFoundError, version

        try:
            found = version("napari-roimasks")
        except PackageNotFoundError:  # running from a source tree that was not installed
            found = "0+unknown"
        globals()["__version__"] = found
        return found
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
