"""The package installs as a napari plugin and its core stays headless."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

GUI_PACKAGES = (
    "napari",
    "qtpy",
    "PyQt5",
    "PyQt6",
    "PySide2",
    "PySide6",
    "magicgui",
    "vispy",
    "matplotlib",
)


@pytest.mark.parametrize(
    "module", ["napari_roimasks", "napari_roimasks.roi_masks", "napari_roimasks.core"]
)
def test_importing_the_core_imports_no_gui_package(module):
    code = (
        f"import sys, {module}\n"
        f"loaded = sorted({{m.split('.')[0] for m in sys.modules}} & set({GUI_PACKAGES!r}))\n"
        "print(','.join(loaded))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "", f"importing {module} loaded {result.stdout.strip()}"


def test_drop_in_api_has_allensdk_names():
    from napari_roimasks import roi_masks

    assert (
        roi_masks.RIGHT_SHIFT,
        roi_masks.LEFT_SHIFT,
        roi_masks.DOWN_SHIFT,
        roi_masks.UP_SHIFT,
    ) == (0, 1, 2, 3)
    for name in (
        "Mask",
        "RoiMask",
        "NeuropilMask",
        "create_roi_mask",
        "create_neuropil_mask",
        "create_roi_mask_array",
        "validate_mask",
        "calculate_traces",
        "calculate_roi_and_neuropil_traces",
    ):
        assert callable(getattr(roi_masks, name))
    assert issubclass(roi_masks.RoiMask, roi_masks.Mask) and issubclass(
        roi_masks.NeuropilMask, roi_masks.Mask
    )


def test_manifest_npe2_loads_is_the_root_file():
    npe2 = pytest.importorskip("npe2")
    from importlib.resources import files

    manifest = npe2.PluginManifest.from_distribution("napari-roimasks")
    assert manifest.name == "napari-roimasks"
    root = Path(__file__).parents[1] / "napari.yaml"
    packaged = files("napari_roimasks") / "napari.yaml"
    assert packaged.read_text() == root.read_text()
    from_root = npe2.PluginManifest.from_file(root)
    assert (from_root.display_name, from_root.contributions) == (
        manifest.display_name,
        manifest.contributions,
    )


def test_npe2_validate_command_passes():
    result = subprocess.run(
        [sys.executable, "-m", "npe2", "validate", "napari_roimasks"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "valid" in result.stdout
