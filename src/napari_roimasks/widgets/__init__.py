"""The plugin's dock widgets (Qt): thin layers over :mod:`napari_roimasks.roi_model` and the core."""

from .roi_masks_dock import RoiMasksWidget
from .traces_dock import TracesWidget

__all__ = ["RoiMasksWidget", "TracesWidget"]
