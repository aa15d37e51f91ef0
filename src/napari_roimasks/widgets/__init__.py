"""The plugin's dock widgets (Qt): thin layers over the ROI model and the core.

napari, a Qt binding and the docks' plotting packages come with the ``all`` extra (``gui`` beside
an existing napari), not with the package: without them, importing this package raises an
:class:`ImportError` whose message is one line that says what to install (napari shows it when a
dock cannot load, and ``python -m napari_roimasks`` prints it).
"""

import importlib

VIEWER_MISSING = (
    "napari-roimasks: the viewer needs napari and a Qt binding: pip install 'napari-roimasks[all]'"
)


def _not_importable(names: tuple[str, ...]) -> list[str]:
    """The names among ``names`` that cannot be imported."""
    missing = []
    for name in names:
        # qtpy raises an ImportError (QtBindingsNotFoundError) when no Qt binding is installed
        try:
            importlib.import_module(name)
        except ImportError:
            missing.append(name)
    return missing


def check_viewer_packages() -> None:
    """Raise a one-line :class:`ImportError` when a package the docks need is missing.

    Raises
    ------
    ImportError
        Without napari or a Qt binding: :data:`VIEWER_MISSING`. With both but without the docks'
        own packages (an environment that had napari before this plugin): the packages missing and
        the ``gui`` extra, which adds them without touching napari or its Qt. The error has no
        chained cause, so it reads as that line alone.
    """
    missing = _not_importable(("napari", "qtpy"))
    if missing:
        raise ImportError(VIEWER_MISSING, name=missing[0]) from None
    missing = _not_importable(("magicgui", "matplotlib", "pandas"))
    if missing:
        raise ImportError(
            f"napari-roimasks: the docks need {' and '.join(missing)} beside napari: "
            "pip install 'napari-roimasks[gui]'",
            name=missing[0],
        ) from None


check_viewer_packages()

from .quality_dock import RoiQualityWidget  # noqa: E402
from .roi_masks_dock import RoiMasksWidget  # noqa: E402  (after the check: it imports napari)
from .traces_dock import TracesWidget  # noqa: E402

__all__ = [
    "VIEWER_MISSING",
    "RoiMasksWidget",
    "RoiQualityWidget",
    "TracesWidget",
    "check_viewer_packages",
]
