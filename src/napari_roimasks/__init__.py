"""napari-roimasks: curate two-photon ROIs, see their neuropil rings, extract traces.

Importing the package imports only the numerical core (numpy, scipy): headless
pipelines use :mod:`napari_roimasks.roi_masks`, a drop-in replacement for
``allensdk.brain_observatory.roi_masks``. The napari widgets load only when
napari asks for them.
"""

from importlib.metadata import PackageNotFoundError, version

from . import roi_masks
from .core import MotionBorder

try:
    __version__ = version("napari-roimasks")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0+unknown"

__all__ = ["MotionBorder", "__version__", "roi_masks"]
