"""A curator's decision as files hold it: text for the decision and its time, a number for the
probability, and the one check every reader makes of them.

Every format that keeps decisions (``*.roimasks.h5``, Allen JSON's extra fields, NWB columns,
the table's CSV) writes them through :func:`decision_fields` and reads them back through
:func:`read_decision`, so a decision, its reason, its time and a probability come back equal
whatever the format.
"""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import datetime
from numbers import Real

from .roi_set import Decision, RoiEntry

__all__ = [
    "decided_at_text",
    "decision_fields",
    "read_decision",
    "with_decision",
]


def decided_at_text(when: datetime | None) -> str:
    """A decision's time as ISO 8601 text with its zone (``""`` when unknown).

    A time without a zone is taken as local time (Python's rule), so the text always has one.
    """
    if when is None:
        return ""
    if when.tzinfo is None:
        when = when.astimezone()
    return when.isoformat()


def decision_fields(entry: RoiEntry) -> tuple[str, str, str, float]:
    """``(decision, reason, decided_at, probability)`` of an ROI as files hold them.

    Returns
    -------
    decision : str
        ``"cell"``, ``"not_cell"`` or ``"unlabeled"``.
    reason : str
    decided_at : str
        ISO 8601 with the zone; ``""`` when unknown.
    probability : float
        NaN when unknown.
    """
    probability = math.nan if entry.probability is None else float(entry.probability)
    return (
        Decision(entry.decision).value,
        str(entry.reason),
        decided_at_text(entry.decided_at),
        probability,
    )


def read_decision(
    decision, reason="", decided_at="", probability=None
) -> tuple[Decision, str, datetime | None, float | None]:
    """A decision, its reason, time and probability from what a file holds, checked.

    Parameters
    ----------
    decision : str or bytes
        ``cell``, ``not_cell`` or ``unlabeled`` (case, ``-`` and space blind).
    reason : str or bytes
    decided_at : str, bytes or None
        ISO 8601 with a zone; empty or None: unknown.
    probability : float, str or None
        In [0, 1]; NaN, None or empty text: unknown.

    Raises
    ------
    ValueError
        Naming the value and what was expected.
    """
    decision = Decision.from_text(_text(decision))
    reason = _text(reason)
    when = None
    decided_at = _text(decided_at).strip() if decided_at is not None else ""
    if decided_at:
        try:
            when = datetime.fromisoformat(decided_at.replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(
                f"decided_at {decided_at!r} is not an ISO 8601 time (e.g. 2024-05-01T10:30:00+02:00)"
            ) from None
        if when.tzinfo is None:
            raise ValueError(f"decided_at {decided_at!r} has no time zone; expected e.g. +00:00")
    return decision, reason, when, _probability(probability)


def with_decision(entry: RoiEntry, decision, reason, decided_at, probability) -> RoiEntry:
    """``entry`` with the decision fields :func:`read_decision` gives for these values.

    Raises
    ------
    ValueError
        As :func:`read_decision`.
    """
    decision, reason, when, chance = read_decision(decision, reason, decided_at, probability)
    return replace(entry, decision=decision, reason=reason, decided_at=when, probability=chance)


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _probability(value) -> float | None:
    if value is None or (isinstance(value, (str, bytes)) and not _text(value).strip()):
        return None
    try:
        number = float(_text(value) if isinstance(value, bytes) else value)
    except (TypeError, ValueError):
        raise ValueError(f"probability {value!r} is not a number in [0, 1]") from None
    if isinstance(value, bool) or not isinstance(value, (Real, str, bytes)):
        raise ValueError(f"probability {value!r} is not a number in [0, 1]")
    if math.isnan(number):
        return None
    if not 0 <= number <= 1:
        raise ValueError(f"probability {number} is not in [0, 1]")
    return number
