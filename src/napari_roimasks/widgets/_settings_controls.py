"""The motion border and neuropil ring controls of the "ROI masks" dock.

They show the model's settings and hand every edit to it; a value the model
refuses gets a notification and the controls show the model's value again.
The border can also come from a motion-correction offsets file.
"""

from __future__ import annotations

from magicgui.widgets import FloatSpinBox, PushButton, SpinBox
from napari.utils.notifications import show_error, show_info, show_warning
from qtpy.QtWidgets import QFileDialog

from ..core.border import MotionBorder
from ..core.neuropil import RingOptions
from ..io.motion_offsets import MotionOffsetsError, border_from_offsets_file

_SIDES = (
    ("left", "RIGHT_SHIFT = 0", "the frame was shifted right, so its left edge is empty"),
    ("right", "LEFT_SHIFT = 1", "the frame was shifted left, so its right edge is empty"),
    ("top", "DOWN_SHIFT = 2", "the frame was shifted down, so its top edge is empty"),
    ("bottom", "UP_SHIFT = 3", "the frame was shifted up, so its bottom edge is empty"),
)


class SettingsControls:
    """Border widths (left, right, top, bottom) and ring options, bound to a model.

    Parameters
    ----------
    model : RoiModel
    parent : QWidget
        The dock, for the file dialog.
    """

    def __init__(self, model, *, parent):
        self.model = model
        self._parent = parent
        self.from_offsets = PushButton(text="Border from motion offsets…")
        self.from_offsets.tooltip = (
            "Set the border from a motion-correction file: CSV or HDF5 with x and y shifts, "
            "or suite2p's ops.npy (xoff, yoff). Border = the largest shift in each direction."
        )
        self.from_offsets.changed.connect(lambda: self.border_from_offsets())
        self.border = {}
        for side, index_name, why in _SIDES:
            box = FloatSpinBox(label=f"border {side} (px)", min=0, max=10_000, step=0.5)
            box.tooltip = f"Unusable band on the {side}: AllenSDK's border[{index_name}] ({why})"
            box.changed.connect(self._border_edited)
            self.border[side] = box
        self.radius = SpinBox(label="ring outer radius", min=1, max=500, value=13)
        self.radius.tooltip = (
            "How far the neuropil ring reaches from the ROI, in pixels (AllenSDK: 13)"
        )
        self.gap = SpinBox(label="ring inner gap", min=0, max=499, value=0)
        self.gap.tooltip = "Pixels next to the ROI left out of its ring (suite2p's inner_neuropil_radius; AllenSDK: 0)"
        self.min_pixels = SpinBox(label="ring min pixels", min=0, max=1_000_000, value=0)
        self.min_pixels.tooltip = "Grow a ring until it has at least this many pixels (suite2p's min_neuropil_pixels; 0: off)"
        for box in self.ring_boxes:
            box.changed.connect(self._ring_options_edited)

    @property
    def ring_boxes(self) -> tuple:
        """The outer radius, inner gap and min pixels controls."""
        return (self.radius, self.gap, self.min_pixels)

    def set_border(self, border: MotionBorder) -> bool:
        """Apply a motion border; False (and a notification) when the image cannot take it."""
        try:
            self.model.set_border(border)
        except ValueError as error:
            show_warning(f"Border not changed: {error}. Use smaller values.")
            self.show()
            return False
        return True

    def border_from_offsets(self, path=None) -> bool:
        """Set the border from a motion-correction offsets file (asks for one without ``path``)."""
        if path is None:
            path, _ = QFileDialog.getOpenFileName(
                self._parent,
                "Motion-correction offsets",
                "",
                "Motion offsets (*.csv *.tsv *.txt *.h5 *.hdf5 *.npy);;All files (*)",
            )
            if not path:
                return False
        try:
            border = border_from_offsets_file(path)
        except MotionOffsetsError as error:
            show_error(f"Border not changed: {error}")
            return False
        if not self.set_border(border):
            return False
        show_info(
            f"Motion border from {path}: left {border.left:g}, right {border.right:g}, "
            f"top {border.top:g}, bottom {border.bottom:g} px"
        )
        return True

    def show(self) -> None:
        """Show the model's settings (without taking them for the user's edits)."""
        border, options = self.model.border, self.model.ring_options
        values = [(self.border[side], getattr(border, side)) for side in self.border]
        values += list(
            zip(
                self.ring_boxes,
                (options.outer_radius, options.inner_gap, options.min_pixels),
                strict=True,
            )
        )
        for box, value in values:
            with box.changed.blocked():
                box.value = value

    def _border_edited(self, _value=None) -> None:
        self.set_border(MotionBorder(*(self.border[side].value for side, _, _ in _SIDES)))

    def _ring_options_edited(self, _value=None) -> None:
        try:
            options = RingOptions(*(box.value for box in self.ring_boxes))
        except ValueError as error:
            show_warning(f"Ring options not changed: {error}")
            self.show()
            return
        self.model.set_ring_options(options)
