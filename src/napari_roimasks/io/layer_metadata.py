"""The motion border and ring options as an ROI layer carries them in ``layer.metadata``.

The docks keep both up to date on the ROI layer; File > Save writes them with
the ROIs (in the formats that hold them) and File > Open puts them back:

- ``metadata[LAYER_METADATA_BORDER]``: AllenSDK's ``[left, right, top, bottom]`` (floats);
- ``metadata[LAYER_METADATA_RING_OPTIONS]``:
  ``{"outer_radius": int, "inner_gap": int, "min_pixels": int}``;
- ``metadata[LAYER_METADATA_IMAGE_SHAPE]``: ``[rows, columns]`` of the image the
  ROIs were drawn on (a Shapes layer does not know it).

Plain dicts and lists, so that napari can copy and show them; no napari import.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, fields

from ..core.border import MotionBorder
from ..core.neuropil import RingOptions

__all__ = [
    "LAYER_METADATA_BORDER",
    "LAYER_METADATA_IMAGE_SHAPE",
    "LAYER_METADATA_RING_OPTIONS",
    "border_from_metadata",
    "layer_metadata",
    "ring_options_from_metadata",
]

#: ``layer.metadata`` key of the motion border: ``[left, right, top, bottom]`` in pixels.
LAYER_METADATA_BORDER = "motion_border"
#: ``layer.metadata`` key of the ring options: ``{"outer_radius", "inner_gap", "min_pixels"}``.
LAYER_METADATA_RING_OPTIONS = "ring_options"
#: ``layer.metadata`` key of the image size: ``[rows, columns]``.
LAYER_METADATA_IMAGE_SHAPE = "image_shape"


def layer_metadata(
    border: MotionBorder | None = None,
    ring_options: RingOptions | None = None,
    image_shape: tuple[int, int] | None = None,
) -> dict:
    """The metadata entries for a border, ring options and image size; a None one is left out.

    Examples
    --------
    >>> layer_metadata(MotionBorder(1, 2, 3, 4), RingOptions(13, 2, 0))
    {'motion_border': [1.0, 2.0, 3.0, 4.0], 'ring_options': {'outer_radius': 13, 'inner_gap': 2, 'min_pixels': 0}}
    """
    entries = {}
    if border is not None:
        entries[LAYER_METADATA_BORDER] = [float(v) for v in border.as_allen()]
    if ring_options is not None:
        entries[LAYER_METADATA_RING_OPTIONS] = asdict(ring_options)
    if image_shape is not None:
        entries[LAYER_METADATA_IMAGE_SHAPE] = [int(n) for n in image_shape]
    return entries


def border_from_metadata(metadata: Mapping | None) -> MotionBorder | None:
    """The motion border a layer's metadata holds; None when it holds none.

    Raises
    ------
    ValueError
        When the entry is not four numbers >= 0 (the message says which key).
    """
    value = (metadata or {}).get(LAYER_METADATA_BORDER)
    if value is None:
        return None
    try:
        return MotionBorder.from_allen(value)
    except (TypeError, ValueError) as error:
        raise ValueError(f"layer metadata {LAYER_METADATA_BORDER!r}: {error}") from None


def ring_options_from_metadata(metadata: Mapping | None) -> RingOptions | None:
    """The ring options a layer's metadata holds (a missing key takes its default); None when none.

    Raises
    ------
    ValueError
        When the entry is not a dict of the three options with valid values.
    """
    value = (metadata or {}).get(LAYER_METADATA_RING_OPTIONS)
    if value is None:
        return None
    if isinstance(value, RingOptions):
        return value
    names = [f.name for f in fields(RingOptions)]
    if not isinstance(value, Mapping) or set(value) - set(names):
        raise ValueError(
            f"layer metadata {LAYER_METADATA_RING_OPTIONS!r} must be a dict of "
            f"{', '.join(names)}; got {value!r}"
        )
    try:
        return RingOptions(**value)
    except ValueError as error:
        raise ValueError(f"layer metadata {LAYER_METADATA_RING_OPTIONS!r}: {error}") from None
