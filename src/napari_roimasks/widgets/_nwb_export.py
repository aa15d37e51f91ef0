"""The Traces dock's "Export NWB…": the session's fields in a dialog.

- :class:`NwbSessionDialog`: the fields of an :class:`~napari_roimasks.io.nwb_session.NwbSession`
  (session, animal, imaging); OK keeps it open while a field is bad and says which.
- :func:`ask_session`: the dialog, modal, filled with the fields last used in this napari
  session (:func:`last_session`; not saved to disk).

What the file holds comes from the model (:func:`napari_roimasks.model.nwb_contents`).
"""

from __future__ import annotations

from dataclasses import fields
from datetime import datetime

from magicgui.widgets import ComboBox, FloatSpinBox, LineEdit
from qtpy.QtCore import Qt
from qtpy.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QGroupBox,
    QLabel,
    QVBoxLayout,
)

from ..io.nwb_session import SEX_WORDS, NwbSession

__all__ = ["NwbSessionDialog", "ask_session", "last_session", "remember"]

_last: NwbSession | None = None


def last_session() -> NwbSession:
    """The session fields last used for an NWB export in this napari session (else the defaults)."""
    return _last or NwbSession()


def remember(session: NwbSession) -> None:
    """Keep ``session``'s fields for the next export's dialog."""
    global _last
    _last = session


# -- the dialog ---------------------------------------------------------------------------------
_LIST_SEPARATOR = ";"
#: The sex box's choices: (what it shows, what NWB stores), unknown first.
_SEXES = sorted(((word, letter) for letter, word in SEX_WORDS.items()), key=lambda c: c[1] != "U")
#: (section, [(field, label, placeholder, tooltip)]); the frame rate and sex have their own controls
_SECTIONS = (
    (
        "Session",
        [
            ("session_description", "description", "", "What the session was, in a sentence"),
            ("experiment_description", "experiment", "what it was about", ""),
            (
                "experimenter",
                "experimenters",
                "Last, First; Last, First",
                "Who did it, as 'Last, First' (DANDI's form); separate several with ';'",
            ),
            ("institution", "institution", "", ""),
            ("lab", "lab", "", ""),
            ("keywords", "keywords", "", "Terms to find the file by; separate them with ';'"),
            (
                "session_start_time",
                "start",
                "2024-05-01T10:30 (empty: now)",
                "When the recording started, ISO 8601 (no time zone: local); empty: the time "
                "the file is written",
            ),
        ],
    ),
    (
        "Animal (all three, or none)",
        [
            ("subject_id", "subject id", "", "The animal's id"),
            ("species", "species", "Mus musculus", "Latin binomial, or an NCBI taxonomy IRI"),
            ("age", "age", "P90D", "ISO 8601 duration: P90D (90 days), P12W, or P60D/P90D"),
        ],
    ),
    (
        "Imaging",
        [
            ("indicator", "indicator", "GCaMP6f", "The calcium indicator"),
            (
                "location",
                "location",
                "VISp",
                "Where the imaging plane lies; for a mouse, a term of the Allen CCF "
                "(nwbinspector checks it), e.g. VISp or 'Primary visual area'",
            ),
            ("excitation_wavelength", "excitation (nm)", "920 (empty: not known)", ""),
            ("emission_wavelength", "emission (nm)", "510 (empty: not known)", ""),
            ("device_description", "microscope", "", "The microscope, in words"),
        ],
    ),
)
_LABELS = {name: label for _, rows in _SECTIONS for name, label, *_ in rows} | {
    "sex": "sex",
    "imaging_rate": "frame rate (Hz)",
}


class NwbSessionDialog(QDialog):
    """The NWB export's session fields: fill them, then OK.

    ``session()`` builds the :class:`NwbSession` the fields describe; OK calls
    it, and keeps the dialog open with the problem shown while a field is bad.
    After OK, ``chosen`` holds the session.

    Parameters
    ----------
    parent : QWidget, optional
    session : NwbSession, optional
        The fields to show first (default: :func:`last_session`).
    """

    def __init__(self, parent=None, session: NwbSession | None = None):
        super().__init__(parent)
        self.setWindowTitle("Export NWB: the session")
        self.setMinimumWidth(480)
        self.chosen: NwbSession | None = None
        self.fields: dict = {}
        layout = QVBoxLayout(self)
        for title, rows in _SECTIONS:
            controls = []
            for name, label, placeholder, tooltip in rows:
                edit = LineEdit(label=label)
                edit.native.setPlaceholderText(placeholder)
                edit.tooltip = tooltip or None
                self.fields[name] = edit
                controls.append(edit)
            if title.startswith("Animal"):
                self.fields["sex"] = ComboBox(label="sex", choices=_SEXES, value="U")
                controls.append(self.fields["sex"])
            if title == "Imaging":
                self.fields["imaging_rate"] = FloatSpinBox(
                    label="frame rate (Hz)", min=0.01, max=100_000, step=0.5, value=30.0
                )
                self.fields["imaging_rate"].tooltip = "Frames per second: the traces' times"
                controls.insert(2, self.fields["imaging_rate"])
            box = QGroupBox(title)
            form = QFormLayout(box)  # one label column per section
            form.setLabelAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
            for control in controls:
                form.addRow(control.label, control.native)
            layout.addWidget(box)
        self.problem = QLabel("")
        self.problem.setWordWrap(True)
        self.problem.setStyleSheet("color: #e0524c")
        self.problem.hide()
        layout.addWidget(self.problem)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Choose file…")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.show_session(session or last_session())

    def show_session(self, session: NwbSession) -> None:
        """Fill the fields with ``session``'s values."""
        for f in fields(NwbSession):
            value = getattr(session, f.name)
            control = self.fields[f.name]
            if f.name in ("sex", "imaging_rate"):
                control.value = value
            elif f.name in ("experimenter", "keywords"):
                control.value = f"{_LIST_SEPARATOR} ".join(value)
            elif isinstance(value, datetime):
                control.value = value.isoformat(timespec="minutes")
            elif isinstance(value, float):
                control.value = f"{value:g}"
            else:
                control.value = "" if value is None else str(value)

    def session(self) -> NwbSession:
        """The session the fields describe.

        Raises
        ------
        ValueError
            For a bad field; the message starts with the field's label.
        """
        given = {}
        for name, control in self.fields.items():
            value = control.value
            if name in ("experimenter", "keywords"):
                value = tuple(part for part in value.split(_LIST_SEPARATOR) if part.strip())
            elif name == "session_start_time":
                value = _time(value)
            elif name.endswith("_wavelength"):
                value = _number(name, value)
            given[name] = value
        try:
            return NwbSession(**given)
        except ValueError as error:
            name, _, problem = str(error).partition(": ")
            raise ValueError(f"{_LABELS.get(name, name)}: {problem}") from None

    def accept(self) -> None:
        try:
            self.chosen = self.session()
        except ValueError as error:
            self.problem.setText(str(error))
            self.problem.show()
            return
        self.problem.hide()
        remember(self.chosen)
        super().accept()


def _time(text: str) -> datetime | None:
    text = text.strip()
    if not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(
            f"start: {text!r} is not an ISO 8601 date or time, e.g. 2024-05-01T10:30"
        ) from None


def _number(name: str, text: str) -> float | None:
    text = text.strip()
    if not text:
        return None
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"{_LABELS[name]}: {text!r} is not a number") from None


def ask_session(parent=None) -> NwbSession | None:
    """Ask for the session's fields (filled with the last used); None when cancelled."""
    dialog = NwbSessionDialog(parent)
    return dialog.chosen if dialog.exec() == QDialog.DialogCode.Accepted else None
