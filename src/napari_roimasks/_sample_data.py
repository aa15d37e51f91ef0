"""File > Open Sample > ROI masks: a synthetic two-photon recording made on the fly."""

from __future__ import annotations

from .synthetic import make_recording


def synthetic_recording():
    """A 300-frame 256x256 recording: movie, mean image and ground-truth ROI labels.

    The movie's metadata holds its motion border (``motion_border``: left,
    right, top, bottom) and each cell's spike frames (``spike_frames``).
    """
    recording = make_recording()
    metadata = {
        "motion_border": recording.motion_border.as_allen(),
        "spike_frames": [s.tolist() for s in recording.spike_frames],
        "shifts": recording.shifts.tolist(),
    }
    return [
        (recording.movie, {"name": "movie", "colormap": "gray", "metadata": metadata}, "image"),
        (
            recording.mean_image,
            {"name": "mean image", "colormap": "gray", "visible": False},
            "image",
        ),
        (recording.roi_labels, {"name": "ROIs", "opacity": 0.6}, "labels"),
    ]
