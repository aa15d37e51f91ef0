"""The motion border: the bands at the frame's edges that motion correction spoils.

When a two-photon movie is motion corrected, every frame is shifted; the
pixels shifted in from outside the field of view hold no signal. The motion
border records, for each side of the frame, how wide that unusable band is.
An ROI that reaches into it is excluded, and a neuropil ring is clipped to
stay out of it.

AllenSDK stores the border as a list ``[b0, b1, b2, b3]`` indexed by the shift
that caused it (``RIGHT_SHIFT=0`` spoils the left edge, ``LEFT_SHIFT=1`` the
right edge, ``DOWN_SHIFT=2`` the top, ``UP_SHIFT=3`` the bottom). Widths may be
fractional: a column is usable when it lies wholly inside the usable area.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from numbers import Real

import numpy as np

__all__ = ["MotionBorder", "UsableArea"]


@dataclass(frozen=True)
class UsableArea:
    """The rows and columns of a frame that the motion border leaves usable.

    Attributes
    ----------
    first_row, last_row, first_column, last_column : int
        Inclusive bounds. When the border is wider than the frame,
        ``first > last`` on that axis and :attr:`is_empty` is true.
    """

    first_row: int
    last_row: int
    first_column: int
    last_column: int

    @property
    def is_empty(self) -> bool:
        """True when no pixel of the frame is usable."""
        return self.first_row > self.last_row or self.first_column > self.last_column

    def contains_box(self, top: int, left: int, bottom: int, right: int) -> bool:
        """Whether the inclusive box ``[top..bottom] x [left..right]`` is usable."""
        return (
            left >= self.first_column
            and right <= self.last_column
            and top >= self.first_row
            and bottom <= self.last_row
        )


@dataclass(frozen=True)
class MotionBorder:
    """Widths, in pixels, of the unusable band on each side of the frame.

    Parameters
    ----------
    left, right, top, bottom : float
        Band widths; finite and >= 0. Fractional widths are allowed.

    Examples
    --------
    >>> border = MotionBorder.from_allen([2.5, 0, 1, 0])
    >>> border.usable_area(image_h=10, image_w=8)
    UsableArea(first_row=1, last_row=9, first_column=3, last_column=7)
    """

    left: float = 0.0
    right: float = 0.0
    top: float = 0.0
    bottom: float = 0.0

    def __post_init__(self) -> None:
        for side in ("left", "right", "top", "bottom"):
            value = getattr(self, side)
            if isinstance(value, bool) or not isinstance(value, Real):
                raise TypeError(
                    f"motion border {side!r} must be a number of pixels, got {type(value).__name__}"
                )
            if not math.isfinite(value) or value < 0:
                raise ValueError(
                    f"motion border {side!r} must be a finite number >= 0, got {value!r}"
                )
            object.__setattr__(self, side, float(value))

    @classmethod
    def from_allen(cls, border) -> MotionBorder:
        """Read AllenSDK's ``[b0, b1, b2, b3]`` list (left, right, top, bottom bands).

        Parameters
        ----------
        border : sequence of 4 numbers, or MotionBorder
            Band widths indexed by ``RIGHT_SHIFT, LEFT_SHIFT, DOWN_SHIFT, UP_SHIFT``.

        Raises
        ------
        TypeError
            If ``border`` is not a sequence of four numbers.
        ValueError
            If it does not hold exactly four finite numbers >= 0.
        """
        if isinstance(border, MotionBorder):
            return border
        if isinstance(border, (str, bytes)) or not hasattr(border, "__len__"):
            raise TypeError(
                "border must be a sequence of 4 numbers [left, right, top, bottom] "
                f"(AllenSDK's RIGHT_SHIFT, LEFT_SHIFT, DOWN_SHIFT, UP_SHIFT), "
                f"got {type(border).__name__}"
            )
        values = np.asarray(border)
        if values.shape != (4,):
            raise ValueError(
                "border must hold exactly 4 numbers [left, right, top, bottom], "
                f"got shape {values.shape}"
            )
        if values.dtype.kind not in "iuf":
            raise TypeError(f"border must hold numbers, got {values.dtype} values")
        return cls(*(float(v) for v in values))

    @classmethod
    def from_shifts(cls, x_shifts, y_shifts) -> MotionBorder:
        """The border that per-frame rigid shifts leave: the largest shift in each direction.

        Parameters
        ----------
        x_shifts, y_shifts : (n_frames,) array_like of float
            Shift applied to each frame by motion correction, in pixels; positive
            x moved the frame's content right (leaving an empty band on the
            left), positive y moved it down (empty band on top). This is the
            sign of suite2p's ``xoff``/``yoff`` and the Allen pipeline's ``x``/``y``.

        Raises
        ------
        ValueError
            If the shifts are empty, of different lengths, or not finite.
        """
        x = np.asarray(x_shifts, dtype=float).ravel()
        y = np.asarray(y_shifts, dtype=float).ravel()
        if x.size == 0 or x.shape != y.shape:
            raise ValueError(
                f"motion shifts need one x and one y per frame, got {x.size} x and {y.size} y values"
            )
        if not (np.isfinite(x).all() and np.isfinite(y).all()):
            raise ValueError("motion shifts must be finite numbers (found NaN or inf)")
        return cls(
            left=max(float(x.max()), 0.0),
            right=max(float(-x.min()), 0.0),
            top=max(float(y.max()), 0.0),
            bottom=max(float(-y.min()), 0.0),
        )

    def as_allen(self) -> list[float]:
        """The border as AllenSDK's list ``[left, right, top, bottom]``."""
        return [self.left, self.right, self.top, self.bottom]

    def check_fits(self, image_h: int, image_w: int) -> None:
        """Raise a ValueError saying so when the border leaves no usable pixel of the image."""
        if self.usable_area(image_h, image_w).is_empty:
            raise ValueError(
                f"a border of left {self.left:g}, right {self.right:g}, top {self.top:g}, "
                f"bottom {self.bottom:g} px leaves no usable pixel of the {image_w}x{image_h} image"
            )

    def usable_area(self, image_h: int, image_w: int) -> UsableArea:
        """The inclusive row and column range the border leaves usable.

        A column ``c`` is usable when ``ceil(left) <= c <= floor(W - right) - 1``,
        likewise for rows; this is AllenSDK's rule.
        """
        return UsableArea(
            first_row=math.ceil(self.top),
            last_row=math.floor(image_h - self.bottom) - 1,
            first_column=math.ceil(self.left),
            last_column=math.floor(image_w - self.right) - 1,
        )
