"""What every ROI file format reads and writes: a set of ROIs, and the error for a bad file.

Every format module (:mod:`napari_roimasks.io.formats`) imports these; this
module imports none of them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum

import numpy as np

from ..core.border import MotionBorder
from ..core.masks import MaskCrop
from ..core.neuropil import RingOptions

__all__ = ["Decision", "RoiEntry", "RoiFileError", "RoiSet", "id_from_text"]


class RoiFileError(ValueError):
    """An ROI file cannot be read or written as ROIs; the message names the file and the problem."""


class Decision(str, Enum):
    """A curator's decision about an ROI: a cell, not a cell, or not decided yet.

    The values are what files hold (``"cell"``, ``"not_cell"``, ``"unlabeled"``).
    """

    CELL = "cell"
    NOT_CELL = "not_cell"
    UNLABELED = "unlabeled"

    @classmethod
    def from_text(cls, text) -> Decision:
        """The decision a file's text names (case and ``-``/space blind).

        Raises
        ------
        ValueError
            Naming the text and the three decisions.
        """
        key = str(text).strip().lower().replace("-", "_").replace(" ", "_")
        try:
            return cls(key)
        except ValueError:
            raise ValueError(
                f"unknown decision {text!r}: expected cell, not_cell or unlabeled"
            ) from None


@dataclass(frozen=True)
class RoiEntry:
    """One ROI: its id, its pixels (None: none), its group and its pixels' weights.

    Attributes
    ----------
    id : int or str
        What the user calls the ROI (a label value, a name).
    crop : MaskCrop or None
        Its pixels in a box of the image; None for an ROI without pixels.
    mask_group : int
        A user-defined category (AllenSDK's ``mask_group``); -1: none.
    weights : (rows, columns) float ndarray or None
        Each pixel's weight in ``crop``'s box, the shape of ``crop.pixels``
        (e.g. an NWB pixel mask's or suite2p's ``lam``); the mask is the pixels
        with weight > 0. None: every mask pixel weighs 1. Traces are means over
        the mask, unweighted, as AllenSDK's.
    decision : Decision
        The curator's decision (new and drawn ROIs: unlabeled).
    reason : str
        Why, in the curator's words ("" when none was given).
    decided_at : datetime or None
        When the decision was made (timezone-aware), when known.
    probability : float or None
        A classifier's probability that the ROI is a cell (suite2p's ``iscell``
        second column), when known.
    """

    id: object
    crop: MaskCrop | None
    mask_group: int = -1
    weights: np.ndarray | None = field(default=None, compare=False, repr=False)
    decision: Decision = Decision.UNLABELED
    reason: str = ""
    decided_at: datetime | None = None
    probability: float | None = None


@dataclass
class RoiSet:
    """What an ROI file holds.

    Attributes
    ----------
    rois : list of RoiEntry
    border : MotionBorder or None
        The motion border the ROIs were judged with, when the file holds one.
    image_shape : (rows, columns) or None
        The frame size the ROIs were drawn on, when the file holds it.
    ring_options : RingOptions or None
        How the neuropil rings were drawn, when the file holds them.
    version : str or None
        The napari-roimasks version that wrote the file (this project's files only).
    kind : str
        The name of the format the ROIs were read from (see ``RoiFormat.name``).
    """

    rois: list[RoiEntry]
    border: MotionBorder | None = None
    image_shape: tuple[int, int] | None = None
    ring_options: RingOptions | None = None
    version: str | None = None
    kind: str = field(default="")


def id_from_text(text) -> int | str:
    """An ROI id read back from a format that stores ids as text: ``"12"`` -> 12, else the text.

    Only canonical whole numbers become ints (``"007"`` stays text), so that
    writing the id again gives the same text.
    """
    text = text.decode() if isinstance(text, bytes) else str(text)
    try:
        number = int(text)
    except ValueError:
        return text
    return number if str(number) == text else text
