"""What an NWB file says about the session: who recorded which animal, where, and how.

:class:`NwbSession` is what :func:`napari_roimasks.io.nwb.write_nwb` writes as
the file's metadata; its checks are nwbinspector's, so that a file written
with it has nothing for nwbinspector to fix. The command line's session
options and the Traces dock's NWB export dialog fill one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields
from datetime import datetime, timezone

import numpy as np

__all__ = ["SEX_WORDS", "NwbSession"]

# the forms nwbinspector accepts (nwbinspector.checks._nwbfile_metadata)
_AGE = re.compile(
    r"P(?!$)(\d+(\.\d+)?Y)?(\d+(\.\d+)?M)?(\d+(\.\d+)?W)?(\d+(\.\d+)?D)?"
    r"(T(?=\d)(\d+(\.\d+)?H)?(\d+(\.\d+)?M)?(\d+(\.\d+)?S)?)?"
)
_SPECIES = re.compile(r"[A-Z][a-z]* [a-z]+|http://purl\.obolibrary\.org/obo/NCBITaxon_\d+")
#: The sexes NWB knows, by their letter.
SEX_WORDS = {"M": "male", "F": "female", "U": "unknown", "O": "other"}
_WAVELENGTHS_NM = (200.0, 2000.0)
_MIN_RATE = 0.01  # nwbinspector takes a lower rate for a period given as a rate


@dataclass(frozen=True)
class NwbSession:
    """What an NWB file says about the recording: session, people, animal, imaging.

    Every field has a default, so ``NwbSession()`` writes a valid file; a lab
    fills in what DANDI and nwbinspector ask for. Values are checked when the
    session is made: a bad one raises ``ValueError`` whose message starts with
    the field's name.

    Attributes
    ----------
    session_description : str
        What the session was, in a sentence.
    experiment_description : str or None
        What the experiment was about.
    experimenter : tuple of str
        Who did it, each as ``"Last, First"`` (DANDI's form).
    institution, lab : str or None
    keywords : tuple of str
        Terms to find the file by.
    session_start_time : datetime or None
        When the recording started; without a time zone, the local one. None:
        the time the file is written.
    subject_id, species, age : str or None
        The animal: give all three or none. ``species`` in Latin
        (``"Mus musculus"``) or as an NCBI taxonomy IRI; ``age`` as an ISO 8601
        duration (``"P90D"``, or a range ``"P60D/P90D"``).
    sex : {'U', 'M', 'F', 'O'}
        Unknown, male, female or other.
    indicator : str
        The calcium indicator, e.g. ``"GCaMP6f"``.
    location : str
        Where the plane lies; for a mouse, an Allen CCF term (``"VISp"``).
    excitation_wavelength, emission_wavelength : float or None
        In nanometres (e.g. 920 and 510); None: not known.
    imaging_rate : float
        Frames per second of the movie (and the traces).
    device_description : str
        The microscope.
    """

    session_description: str = (
        "Two-photon calcium imaging: ROIs curated and traces extracted with napari-roimasks"
    )
    experiment_description: str | None = None
    experimenter: tuple[str, ...] = ()
    institution: str | None = None
    lab: str | None = None
    keywords: tuple[str, ...] = ("two-photon calcium imaging", "ROI segmentation", "neuropil")
    session_start_time: datetime | None = None
    subject_id: str | None = None
    species: str | None = None
    sex: str = "U"
    age: str | None = None
    indicator: str = "unknown"
    location: str = "unknown"
    excitation_wavelength: float | None = None
    emission_wavelength: float | None = None
    imaging_rate: float = 30.0
    device_description: str = "two-photon microscope"

    def __post_init__(self) -> None:
        def put(name, value):
            object.__setattr__(self, name, value)

        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, str):
                put(f.name, value.strip() or (None if f.default is None else ""))
        for name in ("experimenter", "keywords"):
            value = getattr(self, name)
            items = (value,) if isinstance(value, str) else tuple(value or ())
            put(name, tuple(s.strip() for s in map(str, items) if s.strip()))
        for name in ("session_description", "indicator", "location", "device_description"):
            if not getattr(self, name):
                raise ValueError(f"{name}: must not be empty")
        start = self.session_start_time
        if start is not None:
            if start.tzinfo is None:
                start = start.astimezone()  # the local time zone, as pynwb assumes
                put("session_start_time", start)
            if start > datetime.now(timezone.utc):
                raise ValueError(f"session_start_time: {start.isoformat()} is in the future")
        self._check_subject()
        for name in ("excitation_wavelength", "emission_wavelength"):
            value = getattr(self, name)
            low, high = _WAVELENGTHS_NM
            if value is not None and not (low <= float(value) <= high):
                raise ValueError(
                    f"{name}: {value} is not a wavelength in nanometres ({low:.0f}-{high:.0f}, "
                    "e.g. 920 for a two-photon laser, 510 for GCaMP's emission)"
                )
        if not (np.isfinite(self.imaging_rate) and self.imaging_rate >= _MIN_RATE):
            raise ValueError(
                f"imaging_rate: {self.imaging_rate} is not a frame rate in frames per second "
                f"(at least {_MIN_RATE})"
            )

    def _check_subject(self) -> None:
        if self.sex not in SEX_WORDS:
            raise ValueError(f"sex: {self.sex!r} is not one of U (unknown), M, F, O (other)")
        given = {"subject_id": self.subject_id, "species": self.species, "age": self.age}
        if not any(given.values()) and self.sex == "U":
            return
        missing = [name for name, value in given.items() if not value]
        if missing:
            raise ValueError(
                f"{missing[0]}: an animal is described by subject_id, species and age "
                f"together; {', '.join(missing)} missing"
            )
        if "/" in self.subject_id:
            raise ValueError(f"subject_id: {self.subject_id!r} must not contain '/'")
        if not _SPECIES.fullmatch(self.species):
            raise ValueError(
                f"species: {self.species!r} is neither a Latin binomial ('Mus musculus') nor "
                "an NCBI taxonomy IRI (http://purl.obolibrary.org/obo/NCBITaxon_10090)"
            )
        bounds = self.age.split("/") if self.age.count("/") == 1 else [self.age]
        if not all(b == "" or _AGE.fullmatch(b) for b in bounds) or not bounds[0]:
            raise ValueError(
                f"age: {self.age!r} is not an ISO 8601 duration such as P90D (90 days), "
                "P12W or a range P60D/P90D"
            )

    @property
    def has_subject(self) -> bool:
        """Whether the session describes the animal."""
        return self.subject_id is not None
