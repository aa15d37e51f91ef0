"""The motion border's usable area follows AllenSDK's rounding rule."""

from __future__ import annotations

import pytest

from napari_roimasks.core import MotionBorder


@pytest.mark.parametrize(
    ("border", "expected"),
    [
        ([0, 0, 0, 0], (0, 19, 0, 29)),
        ([2.5, 1.0, 5.2, 3.0], (6, 16, 3, 28)),  # a partly spoiled column or row is unusable
        ([30, 0, 0, 0], (0, 19, 30, 29)),
    ],
)
def test_usable_area(border, expected):
    area = MotionBorder.from_allen(border).usable_area(image_h=20, image_w=30)
    assert (area.first_row, area.last_row, area.first_column, area.last_column) == expected
    assert area.is_empty == (border[0] == 30)


def test_round_trip_through_allensdk_order():
    border = MotionBorder(left=1, right=2.5, top=3, bottom=4)
    assert border.as_allen() == [1.0, 2.5, 3.0, 4.0]
    assert MotionBorder.from_allen(border.as_allen()) == border


def test_border_sides_must_be_numbers():
    with pytest.raises(TypeError, match="'left' must be a number of pixels"):
        MotionBorder(left="3")
