"""Drop-in replacement for ``allensdk.brain_observatory.roi_masks``.

Code written against AllenSDK runs unchanged after swapping the import::

    from napari_roimasks import roi_masks

and gets AllenSDK's answers: the same masks, flags, exclusions and traces
(exactly, for integer movies). Where AllenSDK crashes or silently gives a wrong
answer, this module raises a clear error or gives the documented answer; the
README's "Differences from AllenSDK" lists every such case.

The border is AllenSDK's list ``[b0, b1, b2, b3]``: the widths of the unusable
bands on the left, right, top and bottom of the frame, indexed by
``RIGHT_SHIFT``, ``LEFT_SHIFT``, ``DOWN_SHIFT`` and ``UP_SHIFT``.
"""

from __future__ import annotations

import logging
import os
from numbers import Integral

import numpy as np

from .core.border import MotionBorder
from .core.exclusions import EMPTY_NEUROPIL, EMPTY_ROI, MOTION_BORDER, overlaps_motion_border
from .core.kept import LastBuilt, content_digest
from .core.masks import MaskCrop, bounding_box, crop_to_box, pixel_list_plane
from .core.neuropil import allen_neuropil_crop, neuropil_region
from .core.traces import check_frame_source, extract_traces

__all__ = [
    "DOWN_SHIFT",
    "LEFT_SHIFT",
    "RIGHT_SHIFT",
    "UP_SHIFT",
    "Mask",
    "NeuropilMask",
    "RoiMask",
    "calculate_roi_and_neuropil_traces",
    "calculate_traces",
    "create_neuropil_mask",
    "create_roi_mask",
    "create_roi_mask_array",
    "validate_mask",
]

logger = logging.getLogger(__name__)

# Indexes of the border list, named as AllenSDK names them: after the shift
# that spoils a side (a frame shifted right has a junk band on its left).
RIGHT_SHIFT = 0
LEFT_SHIFT = 1
DOWN_SHIFT = 2
UP_SHIFT = 3


def _image_size(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, Integral) or value < 1:
        raise ValueError(f"{name} must be a whole number of pixels >= 1, got {value!r}")
    return int(value)


def _check_masks(masks, name: str, *, kind: str = "mask") -> list:
    """``masks`` as a list, each element a mask (a :class:`Mask`, or an object shaped like
    AllenSDK's), or a TypeError naming the argument, the element and what it is."""
    if isinstance(masks, (str, bytes, np.ndarray)) or not hasattr(masks, "__iter__"):
        raise TypeError(f"{name} must be a list of {kind}s, got {type(masks).__name__}")
    masks = list(masks)
    for i, mask in enumerate(masks):
        _check_mask(mask, f"{name}[{i}]", kind=kind)
    return masks


def _check_mask(mask, name: str, *, kind: str = "mask") -> None:
    if not isinstance(mask, Mask) and not all(hasattr(mask, a) for a in _MASK_ATTRIBUTES):
        article = "an" if kind.startswith("ROI") else "a"
        raise TypeError(
            f"{name} has type {type(mask).__name__}, expected {article} {kind} "
            "(made by create_roi_mask or create_neuropil_mask)"
        )


#: What every mask has (AllenSDK's masks too).
_MASK_ATTRIBUTES = ("img_rows", "img_cols", "x", "y", "width", "height", "mask", "label")


class Mask:
    """A segmentation mask on a two-photon image: its box and the pixels inside it.

    Its two subclasses are :class:`RoiMask` (a cell) and :class:`NeuropilMask`
    (the ring around a cell, whose signal is subtracted from the cell's).
    Create masks with :func:`create_roi_mask` and :func:`create_neuropil_mask`.

    Parameters
    ----------
    image_w, image_h : int
        Width (columns) and height (rows) of the image the mask lies in.
    label : str or None
        User-defined text that identifies the mask.
    mask_group : int
        User-defined number to put masks into categories.

    Attributes
    ----------
    x, y : int
        Column and row of the box's top-left pixel (0 until initialised).
    width, height : int
        Size of the box (0 for an empty mask).
    mask : (height, width) bool ndarray or None
        The mask's pixels inside the box; None for an empty mask.
    flags : set of str
        ``'zero_pixels'`` for an empty mask, ``'overlaps_motion_border'`` for an
        ROI that reaches into the motion border.
    img_rows, img_cols : int
        Image height and width.
    """

    def __init__(self, image_w, image_h, label, mask_group):
        self.img_rows = _image_size(image_h, "image_h")
        self.img_cols = _image_size(image_w, "image_w")
        self.x = 0
        self.width = 0
        self.y = 0
        self.height = 0
        self.mask = None
        self.label = label
        self.mask_group = mask_group
        self.flags = set()

    @property
    def overlaps_motion_border(self) -> bool:
        """True when the mask reaches into the motion border."""
        return "overlaps_motion_border" in self.flags

    def __str__(self) -> str:
        return "%s: TL=%d,%d w,h=%d,%d\n%s" % (
            self.label,
            self.x,
            self.y,
            self.width,
            self.height,
            str(self.mask),
        )

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(label={self.label!r}, x={self.x}, y={self.y}, "
            f"width={self.width}, height={self.height}, flags={sorted(self.flags)})"
        )

    def init_by_pixels(self, border, pix_list):
        """Initialise the mask from a list of pixels.

        Parameters
        ----------
        border : sequence of 4 float
            Motion border ``[left, right, top, bottom]``; see :func:`create_roi_mask`.
        pix_list : (n, 2) array_like of int
            ``(x, y)`` = (column, row) of every mask pixel, inside the image.
        """
        self.init_by_mask(border, pixel_list_plane(pix_list, self.img_rows, self.img_cols))

    def init_by_mask(self, border, array):
        """Initialise the mask from an image-sized array (nonzero = mask pixel)."""
        raise NotImplementedError("use RoiMask or NeuropilMask")

    def get_mask_plane(self) -> np.ndarray:
        """The mask on the full image plane.

        Returns
        -------
        (img_rows, img_cols) float64 ndarray
            1.0 on the mask's pixels, 0.0 elsewhere.
        """
        plane = np.zeros((self.img_rows, self.img_cols))
        if self.mask is not None:
            plane[self.y : self.y + self.height, self.x : self.x + self.width] = self.mask
        return plane

    def _image_plane(self, array) -> np.ndarray:
        plane = np.asarray(array)
        if plane.shape != (self.img_rows, self.img_cols):
            raise ValueError(
                f"the mask array must have the image's shape (image_h={self.img_rows}, "
                f"image_w={self.img_cols}), got shape {plane.shape}"
            )
        return plane

    def _set_box(self, plane: np.ndarray, box, window_origin=(0, 0)) -> None:
        top, left, bottom, right = box
        self.x, self.y = left, top
        self.width, self.height = right - left + 1, bottom - top + 1
        # A boolean copy: AllenSDK keeps a view in the input's dtype, so a 0/1
        # uint8 mask later indexes frames by position instead of selecting pixels.
        self.mask = crop_to_box(plane, window_origin, box)


class RoiMask(Mask):
    """The mask of a region of interest: one cell's pixels.

    An ROI is never cropped by the motion border; when its box leaves the
    usable area it is flagged ``'overlaps_motion_border'`` and excluded.
    """

    def init_by_mask(self, border, array):
        """Initialise the ROI from an image-sized array.

        Parameters
        ----------
        border : sequence of 4 float
            Motion border ``[left, right, top, bottom]``.
        array : (img_rows, img_cols) array_like
            Nonzero marks an ROI pixel.
        """
        motion_border = MotionBorder.from_allen(border)
        plane = self._image_plane(array)
        box = bounding_box(plane)
        if box is None:
            self.flags.add("zero_pixels")
            return
        self._set_box(plane, box)
        roi = MaskCrop(self.y, self.x, self.mask)
        if overlaps_motion_border(roi, motion_border.usable_area(self.img_rows, self.img_cols)):
            self.flags.add("overlaps_motion_border")


class NeuropilMask(Mask):
    """The neuropil ring around one ROI, clipped to the usable area of the image."""

    def __init__(self, w, h, label, mask_group):
        super().__init__(w, h, label, mask_group)

    def init_by_mask(self, border, array):
        """Initialise the neuropil mask from an image-sized array.

        Parameters
        ----------
        border : sequence of 4 float
            Motion border ``[left, right, top, bottom]``; the mask's box is
            clipped to the usable area.
        array : (img_rows, img_cols) array_like
            Nonzero marks a neuropil pixel.
        """
        self._init_from_window(border, self._image_plane(array), (0, 0))

    def _init_from_window(self, border, window: np.ndarray, origin: tuple[int, int]) -> None:
        usable = MotionBorder.from_allen(border).usable_area(self.img_rows, self.img_cols)
        crop = allen_neuropil_crop(MaskCrop(origin[0], origin[1], window), usable)
        if crop is None:
            self.flags.add("zero_pixels")
            return
        self._set_box(window, (crop.top, crop.left, crop.bottom - 1, crop.right - 1), origin)


def create_roi_mask(
    image_w, image_h, border, pix_list=None, roi_mask=None, label=None, mask_group=-1
) -> RoiMask:
    """Create an ROI from a pixel list or an image-sized mask.

    Parameters
    ----------
    image_w, image_h : int
        Width (columns) and height (rows) of the image.
    border : sequence of 4 float
        Motion border ``[left, right, top, bottom]`` (``RIGHT_SHIFT``,
        ``LEFT_SHIFT``, ``DOWN_SHIFT``, ``UP_SHIFT``): widths of the unusable
        bands; ``[0, 0, 0, 0]`` when the whole image is usable.
    pix_list : (n, 2) array_like of int, optional
        ``(x, y)`` = (column, row) of every ROI pixel.
    roi_mask : (image_h, image_w) array_like, optional
        Nonzero marks an ROI pixel. Used when ``pix_list`` is None.
    label : str, optional
        Text that identifies the ROI.
    mask_group : int, optional
        User-defined category.

    Returns
    -------
    RoiMask

    Raises
    ------
    TypeError
        If neither ``pix_list`` nor ``roi_mask`` is given.
    ValueError
        For a bad border, a pixel outside the image, or a mask of the wrong shape.
    """
    roi = RoiMask(image_w, image_h, label, mask_group)
    if pix_list is not None:
        roi.init_by_pixels(border, pix_list)
    elif roi_mask is not None:
        roi.init_by_mask(border, roi_mask)
    else:
        raise TypeError("create_roi_mask needs the ROI's pixels: pass pix_list or roi_mask")
    return roi


def create_neuropil_mask(roi, border, combined_binary_mask, label=None) -> NeuropilMask:
    """Create the neuropil ring of an ROI.

    The ring holds every pixel within 13 rows and 13 columns of an ROI pixel
    that belongs to no ROI, clipped to the usable area of the image.

    Parameters
    ----------
    roi : RoiMask
        The ROI the ring surrounds.
    border : sequence of 4 float
        Motion border ``[left, right, top, bottom]``.
    combined_binary_mask : (image_h, image_w) array_like
        Union of all ROIs (nonzero = some ROI's pixel); for example
        ``create_roi_mask_array(rois).max(axis=0)``.
    label : str, optional
        Text that identifies the neuropil mask.

    Returns
    -------
    NeuropilMask
        Its ``mask_group`` is the ROI's.
    """
    _check_mask(roi, "roi", kind="ROI mask")
    combined = np.asarray(combined_binary_mask)
    if combined.shape != (roi.img_rows, roi.img_cols):
        raise ValueError(
            f"combined_binary_mask must have the image's shape ({roi.img_rows}, {roi.img_cols}), "
            f"got shape {combined.shape}"
        )
    return _neuropil_for(roi, border, combined, label)


def _neuropil_for(
    roi, border, occupied: np.ndarray, label, *, options=None, usable=None
) -> NeuropilMask:
    neuropil = NeuropilMask(w=roi.img_cols, h=roi.img_rows, label=label, mask_group=roi.mask_group)
    if roi.mask is None:
        neuropil.flags.add("zero_pixels")
        return neuropil
    crop = MaskCrop(roi.y, roi.x, np.asarray(roi.mask) != 0)
    region = neuropil_region(crop, occupied, options=options, usable=usable)
    neuropil._init_from_window(border, region.pixels, (region.top, region.left))
    return neuropil


def create_neuropil_masks(rois, border, *, options=None, labels=None) -> list:
    """Every ROI's neuropil mask at once (beyond AllenSDK: its ring options).

    Parameters
    ----------
    rois : list of RoiMask
        All for the same image.
    border : sequence of 4 float
        Motion border ``[left, right, top, bottom]``.
    options : RingOptions, optional
        Outer radius, inner gap, minimum size; default AllenSDK's ring, which
        gives exactly :func:`create_neuropil_mask`'s masks.
    labels : list of str, optional
        The neuropil masks' labels; default ``"neuropil for <ROI label>"``.

    Returns
    -------
    list of NeuropilMask
    """
    from .core.neuropil import RingOptions

    options = options or RingOptions()
    rois = _check_masks(rois, "rois", kind="ROI mask")
    if not rois:
        return []
    image_h, image_w = rois[0].img_rows, rois[0].img_cols
    occupied = _union_of_rois(rois, image_h, image_w)
    usable = MotionBorder.from_allen(border).usable_area(image_h, image_w)
    masks = []
    for i, roi in enumerate(rois):
        if labels is not None:
            label = labels[i]
        else:
            label = None if roi.label is None else f"neuropil for {roi.label}"
        masks.append(_neuropil_for(roi, border, occupied, label, options=options, usable=usable))
    return masks


def create_roi_mask_array(rois):
    """Stack ROIs into image-sized planes.

    Parameters
    ----------
    rois : list of RoiMask
        All made for the same image size.

    Returns
    -------
    (n_rois, img_rows, img_cols) uint8 ndarray, or None
        1 on each ROI's pixels. None for an empty list, as AllenSDK returns.
    """
    if rois is None:
        return None
    rois = _check_masks(rois, "rois", kind="ROI mask")
    if not rois:
        return None
    height, width = rois[0].img_rows, rois[0].img_cols
    planes = np.zeros((len(rois), height, width), dtype=np.uint8)
    for i, roi in enumerate(rois):
        if (roi.img_rows, roi.img_cols) != (height, width):
            raise ValueError(
                f"ROI {i} ({roi.label!r}) was made for a {roi.img_cols}x{roi.img_rows} image, "
                f"ROI 0 for {width}x{height}; all ROIs must share one image size"
            )
        planes[i] = roi.get_mask_plane()
    return planes


def _union_of_rois(rois, image_h: int, image_w: int) -> np.ndarray:
    occupied = np.zeros((image_h, image_w), dtype=bool)
    for i, roi in enumerate(rois):
        if (roi.img_rows, roi.img_cols) != (image_h, image_w):
            raise ValueError(
                f"ROI {i} ({roi.label!r}) was made for a {roi.img_cols}x{roi.img_rows} image "
                f"but the movie's frames are {image_w}x{image_h}"
            )
        if roi.mask is not None:
            occupied[roi.y : roi.y + roi.height, roi.x : roi.x + roi.width] |= (
                np.asarray(roi.mask) != 0
            )
    return occupied


def validate_mask(mask) -> list[dict]:
    """The reasons, if any, that a mask's trace cannot be used.

    Parameters
    ----------
    mask : RoiMask or NeuropilMask

    Returns
    -------
    list of dict
        ``{'roi_id': mask.label, 'exclusion_label_name': name}`` with name
        ``'empty_roi_mask'`` / ``'empty_neuropil_mask'`` for a mask without
        pixels, then ``'motion_border'`` for a mask in the motion border.
    """
    _check_mask(mask, "mask")
    exclusions = []
    if "zero_pixels" in mask.flags or mask.mask is None or not np.asarray(mask.mask).any():
        if isinstance(mask, NeuropilMask):
            reason = EMPTY_NEUROPIL
        elif isinstance(mask, RoiMask):
            reason = EMPTY_ROI
        else:
            reason = "zero_pixels"
        exclusions.append({"roi_id": mask.label, "exclusion_label_name": reason})
    if "overlaps_motion_border" in mask.flags:
        exclusions.append({"roi_id": mask.label, "exclusion_label_name": MOTION_BORDER})
    return exclusions


def _mask_crop(mask, image_h: int, image_w: int) -> MaskCrop:
    pixels = np.asarray(mask.mask) != 0
    if pixels.shape != (mask.height, mask.width):
        raise ValueError(
            f"mask {mask.label!r}: its pixels have shape {pixels.shape} but its box is "
            f"{mask.height} rows x {mask.width} columns"
        )
    if mask.x < 0 or mask.y < 0 or mask.x + mask.width > image_w or mask.y + mask.height > image_h:
        raise ValueError(f"mask {mask.label!r} lies partly outside the {image_w}x{image_h} image")
    return MaskCrop(int(mask.y), int(mask.x), pixels)


def calculate_traces(stack, mask_list, block_size=1000):
    """Mean of every mask in every frame of a movie.

    Parameters
    ----------
    stack : (n_frames, img_rows, img_cols) array-like
        Any frame source that slices by frame range: numpy array or memmap,
        ``h5py.Dataset``, dask or zarr array. Each block of frames is read once.
    mask_list : list of Mask
        ROI and neuropil masks, all for the movie's frame size.
    block_size : int, optional
        Frames read at once.

    Returns
    -------
    traces : (n_masks, n_frames) float64 ndarray
        Mean over each mask's pixels; a row of NaN for a mask that
        :func:`validate_mask` rejects.
    exclusions : list of dict
        The rejected masks' exclusions, in mask order.
    """
    _, image_h, image_w = check_frame_source(stack)
    exclusions = []
    mask_list = _check_masks(mask_list, "mask_list")
    crops = []  # None for an excluded mask: its row comes out NaN
    for i, mask in enumerate(mask_list):
        if (mask.img_rows, mask.img_cols) != (image_h, image_w):
            raise ValueError(
                f"mask {i} ({mask.label!r}) was made for a {mask.img_cols}x{mask.img_rows} image "
                f"but the movie's frames are {image_w}x{image_h}"
            )
        reasons = validate_mask(mask)
        if reasons:
            exclusions.extend(reasons)
            logger.warning(
                'unable to extract traces for mask "%s": %s',
                mask.label,
                ", ".join(r["exclusion_label_name"] for r in reasons),
            )
            crops.append(None)
        else:
            crops.append(_mask_crop(mask, image_h, image_w))
    traces = extract_traces(stack, crops, block_size=block_size)
    return traces, exclusions


#: The last few ROI sets' neuropil masks (read, never changed, here): the same ROIs and border
#: called again, e.g. on another movie of the session, do not build their rings again.
_NEUROPIL_BUILT: LastBuilt[list] = LastBuilt(4)


def _rois_digest(rois, border) -> bytes:
    """A digest of everything a set of ROIs' neuropil masks are built from."""
    parts = [tuple(float(b) for b in border)]
    for roi in rois:
        mask = None if roi.mask is None else np.asarray(roi.mask) != 0
        parts += [
            (roi.img_rows, roi.img_cols, roi.x, roi.y, roi.width, roi.height),
            (roi.label, roi.mask_group, sorted(roi.flags)),
            mask,
        ]
    return content_digest(parts)


def calculate_roi_and_neuropil_traces(movie_h5, roi_mask_list, motion_border):
    """ROI and neuropil traces of an HDF5 movie, reading the movie once.

    Parameters
    ----------
    movie_h5 : str or os.PathLike
        HDF5 file whose dataset ``data`` is the movie (frames, rows, columns).
    roi_mask_list : list of RoiMask
    motion_border : sequence of 4 float
        Motion border ``[left, right, top, bottom]`` the neuropil rings are clipped to.

    Returns
    -------
    roi_traces : (n_rois, n_frames) float64 ndarray
    neuropil_traces : (n_rois, n_frames) float64 ndarray
    exclusions : list of dict
        Exclusions of the ROIs, then of the neuropil masks.
    """
    import h5py

    MotionBorder.from_allen(motion_border)
    roi_mask_list = _check_masks(roi_mask_list, "roi_mask_list", kind="ROI mask")
    path = os.fspath(movie_h5)
    with h5py.File(path, "r") as movie_file:
        if "data" not in movie_file:
            raise KeyError(
                f"{path} has no dataset 'data' (the movie as frames x rows x columns); "
                f"it holds: {', '.join(movie_file.keys()) or 'nothing'}"
            )
        frames = movie_file["data"]
        n_frames, image_h, image_w = check_frame_source(frames)
        _union_of_rois(roi_mask_list, image_h, image_w)  # checks every ROI against the movie
        neuropil_masks = _NEUROPIL_BUILT.get(
            _rois_digest(roi_mask_list, motion_border),
            lambda: create_neuropil_masks(roi_mask_list, motion_border),
        )
        logger.info(
            "calculating %d traces (ROI + neuropil) over %d frames",
            2 * len(roi_mask_list),
            n_frames,
        )
        traces, exclusions = calculate_traces(frames, roi_mask_list + neuropil_masks)
    n_rois = len(roi_mask_list)
    return traces[:n_rois], traces[n_rois:], exclusions
