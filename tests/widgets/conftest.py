"""GUI tests: a real napari viewer (``make_napari_viewer``) on a real, possibly virtual, X display.

``make_napari_viewer`` comes from napari's pytest plugin and closes its viewers
after each test; ``qtbot`` from pytest-qt. scripts/test.sh starts Xvfb when
there is no display.
"""

import pytest

pytest.importorskip("napari")
pytest.importorskip("pytestqt")
