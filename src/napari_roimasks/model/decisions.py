"""A curator's decisions about ROIs (cell, not cell, unlabeled), with their own undo and redo.

Headless: :class:`Decisions` holds one :class:`RoiDecision` per ROI key and
the steps to undo and redo; :class:`~napari_roimasks.model.RoiModel` owns one,
keeps the table's rows current and tells the views (``decisions_changed``).

Decisions are kept per key, whether or not the ROI exists at the moment: when
napari's paint undo brings back an ROI (same label) that an erase deleted, its
decision is back with it. Decision undo is separate from napari's paint undo:
one step is one curator action (one or several ROIs decided at once, or a
reason given).

Shapes are numbered by their place in the layer, so deleting one gives the
shapes after it new keys: :meth:`Decisions.renumber` moves their decisions,
and their undo history, along. A deleted shape never comes back (napari has no
undo for shapes), and its number goes to the next shape: its decision is kept
under a :class:`DeletedRoi` key that no ROI has, so the undo steps that
decided it still undo and redo (changing nothing on screen).
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from numbers import Integral

from ..io.roi_set import Decision
from .triage import roi_key_order

__all__ = [
    "MAX_UNDO_STEPS",
    "DecisionStep",
    "Decisions",
    "DeletedRoi",
    "RoiDecision",
]

#: How many decision steps can be undone (the oldest are forgotten beyond).
MAX_UNDO_STEPS = 1000


@dataclass(frozen=True)
class RoiDecision:
    """What the curator decided about one ROI.

    Attributes
    ----------
    decision : Decision
    reason : str
        Why, in the curator's words ("" when none was given).
    decided_at : datetime or None
        When the decision or its reason last changed (timezone-aware); None
        for an ROI never touched (or a file that did not record it).
    """

    decision: Decision = Decision.UNLABELED
    reason: str = ""
    decided_at: datetime | None = None


UNDECIDED = RoiDecision()


@dataclass(frozen=True)
class DeletedRoi:
    """The key a deleted ROI's decision is kept under when its own key went to another ROI
    (see :meth:`Decisions.renumber`).

    Attributes
    ----------
    key : hashable
        The key the ROI had when it was deleted.
    serial : int
        Tells apart ROIs deleted under the same key (shape 3 deleted twice).
    """

    key: Hashable
    serial: int

    def __str__(self) -> str:
        return f"{self.key} (deleted)"


@dataclass(frozen=True)
class DecisionStep:
    """One curator action, as undo sees it.

    Attributes
    ----------
    changes : tuple of (key, before, after)
        Each ROI the action changed, with its :class:`RoiDecision` before and after.
    """

    changes: tuple[tuple[Hashable, RoiDecision, RoiDecision], ...]

    @property
    def keys(self) -> set:
        """The ROIs this step changes."""
        return {key for key, _, _ in self.changes}

    def describe(self, undo: bool) -> str:
        """What undoing (``undo``) or redoing this step does, in a few words
        (e.g. ``"ROI 12 cell -> unlabeled"``, ``"3 ROIs reason -> 'dim'"``)."""
        old, new = (2, 1) if undo else (1, 2)
        records = [(change[old], change[new]) for change in self.changes]
        if any(a.decision != b.decision for a, b in records):
            what = _choices(_words(a.decision) for a, _ in records)
            what += " -> " + _choices(_words(b.decision) for _, b in records)
        else:
            what = "reason " + _choices(_quoted(a.reason) for a, _ in records)
            what += " -> " + _choices(_quoted(b.reason) for _, b in records)
        return f"{_rois(self.keys)} {what}"


class Decisions:
    """Every ROI's decision, by key, with undo and redo of the curator's actions.

    Parameters
    ----------
    clock : callable, optional
        Returns the time of a decision (timezone-aware); the current UTC time
        by default. Tests pass their own.
    max_steps : int
        How many steps undo remembers (:data:`MAX_UNDO_STEPS`).

    Notes
    -----
    The methods that change decisions return the keys whose decision changed
    (empty: nothing changed, and no undo step was added); they do not check
    that the ROIs exist (:class:`~napari_roimasks.model.RoiModel` does).
    """

    def __init__(self, *, clock: Callable[[], datetime] | None = None, max_steps=MAX_UNDO_STEPS):
        if int(max_steps) < 1:
            raise ValueError(f"max_steps must be at least 1, got {max_steps}")
        self._clock = clock or _utc_now
        self._records: dict[Hashable, RoiDecision] = {}
        self._probabilities: dict[Hashable, float] = {}
        self._undo: deque[DecisionStep] = deque(maxlen=int(max_steps))
        self._redo: list[DecisionStep] = []
        self._deleted = 0  # DeletedRoi serials given so far

    # -- reading ------------------------------------------------------------------------------
    def get(self, key) -> RoiDecision:
        """The ROI's decision (unlabeled, no reason, no time for an ROI never decided)."""
        return self._records.get(key, UNDECIDED)

    def keys_known(self) -> list[int]:
        """The integer keys with a decision kept, deleted ROIs' too (a new ROI takes a key above
        them, so it never inherits a deleted ROI's decision)."""
        return [
            int(k) for k in self._records if isinstance(k, Integral) and not isinstance(k, bool)
        ]

    def probability(self, key) -> float | None:
        """A classifier's probability that the ROI is a cell (e.g. suite2p's), when known."""
        return self._probabilities.get(key)

    @property
    def can_undo(self) -> bool:
        """Whether there is an action to undo."""
        return bool(self._undo)

    @property
    def can_redo(self) -> bool:
        """Whether there is an undone action to redo."""
        return bool(self._redo)

    @property
    def undo_text(self) -> str:
        """What Undo would do (``"Undo: ROI 12 cell -> unlabeled"``); "" when nothing."""
        return f"Undo: {self._undo[-1].describe(undo=True)}" if self._undo else ""

    @property
    def redo_text(self) -> str:
        """What Redo would do (``"Redo: ROI 12 unlabeled -> cell"``); "" when nothing."""
        return f"Redo: {self._redo[-1].describe(undo=False)}" if self._redo else ""

    # -- changing -----------------------------------------------------------------------------
    def replace(
        self,
        records: Mapping[Hashable, RoiDecision],
        probabilities: Mapping[Hashable, float | None] | None = None,
    ) -> None:
        """Take a saved session's decisions and probabilities; undo and redo are forgotten.

        Times without a timezone are taken as local times; NaN probabilities as unknown.
        """
        taken = {
            key: RoiDecision(
                _decision(record.decision), str(record.reason), _aware(record.decided_at)
            )
            for key, record in records.items()
        }
        known = {key: float(p) for key, p in (probabilities or {}).items() if p is not None}
        self._records = taken
        self._probabilities = {key: p for key, p in known.items() if not math.isnan(p)}
        self._undo.clear()
        self._redo.clear()

    def set_with_roi_edit(self, records: Mapping[Hashable, RoiDecision]) -> set:
        """Set decisions as part of an ROI edit (a merge or split, or its undo): no decision
        undo step, as the edit's own undo brings them back. Returns the keys that changed."""
        changed = {key for key, record in records.items() if self.get(key) != record}
        for key in changed:
            self._records[key] = records[key]
        return changed

    def decide(self, keys: Iterable, decision: Decision | str, *, reason: str | None = None) -> set:
        """Set the decision of ``keys`` (one undo step); ``reason`` None keeps each ROI's reason.

        Raises
        ------
        ValueError
            For a decision other than cell, not_cell or unlabeled.
        """
        decision = _decision(decision)
        reason = None if reason is None else _reason(reason)
        return self._apply(
            keys,
            lambda key, old: (decision, old.reason if reason is None else reason),
        )

    def decide_each(self, choices: Mapping[Hashable, tuple[Decision | str, str]]) -> set:
        """Give each ROI its own decision and reason, in one undo step (e.g. suggestions the
        curator accepted at once).

        Raises
        ------
        ValueError
            For a decision other than cell, not_cell or unlabeled.
        """
        wanted = {key: (_decision(d), _reason(r)) for key, (d, r) in choices.items()}
        return self._apply(wanted, lambda key, old: wanted[key])

    def set_reason(self, keys: Iterable, reason: str) -> set:
        """Give ``keys`` a reason ("" clears it), keeping their decisions (one undo step)."""
        reason = _reason(reason)
        return self._apply(keys, lambda key, old: (old.decision, reason))

    def undo(self) -> set:
        """Undo the last action: its ROIs get back their decision, reason and time."""
        if not self._undo:
            return set()
        step = self._undo.pop()
        self._redo.append(step)
        self._records.update((key, before) for key, before, _ in step.changes)
        return step.keys

    def redo(self) -> set:
        """Redo the last undone action (with the time it was first made)."""
        if not self._redo:
            return set()
        step = self._redo.pop()
        self._undo.append(step)
        self._records.update((key, after) for key, _, after in step.changes)
        return step.keys

    def renumber(self, mapping: Mapping[Hashable, Hashable | None]) -> set:
        """ROIs take new keys (the shapes after a deleted one move up): ``mapping`` gives each
        moved ROI's old key -> its new key, or None for an ROI deleted for good.

        A moved ROI takes its decision, probability and undo history along: undoing a
        step made before the renumbering changes the ROI the curator decided, under its
        new key. A deleted ROI's decision and history go under a new :class:`DeletedRoi`
        key: no row shows it and no file saves it, but the steps that decided it still
        undo and redo in their turn (changing nothing on screen; Undo's text says
        "ROI 3 (deleted)"). Keys not in ``mapping`` keep their decisions.

        Parameters
        ----------
        mapping : mapping of key -> key or None
            A new key must be one of the mapping's old keys (a key vacated by a move or a
            deletion) or a key nothing is kept under, and no two ROIs may take the same key.

        Returns
        -------
        set
            The keys (old and new) whose decision or probability reads differently now.

        Raises
        ------
        ValueError
            For two ROIs onto one key, or onto a key whose ROI is not moved (nothing changes).
        """
        targets = [new for new in mapping.values() if new is not None]
        if len(set(targets)) != len(targets):
            raise ValueError("two ROIs cannot take the same key")
        # a key no record holds is free (e.g. a shape put back at its place by an undo)
        kept = [new for new in targets if new not in mapping and self._holds(new)]
        if kept:
            raise ValueError(f"ROI {kept[0]!r} is not moved: another ROI cannot take its key")
        new_keys = {}
        for old, new in mapping.items():
            if new is None:
                new, self._deleted = DeletedRoi(old, self._deleted), self._deleted + 1
            new_keys[old] = new
        before = {key: (self.get(key), self.probability(key)) for key in mapping}

        def moved(key):
            return new_keys.get(key, key)

        self._records = {moved(key): record for key, record in self._records.items()}
        self._probabilities = {moved(key): p for key, p in self._probabilities.items()}
        self._undo = deque((_renamed(step, moved) for step in self._undo), self._undo.maxlen)
        self._redo = [_renamed(step, moved) for step in self._redo]
        return {
            key
            for key in {*mapping, *new_keys.values()}
            if (self.get(key), self.probability(key)) != before.get(key, (UNDECIDED, None))
        }

    def _holds(self, key) -> bool:
        """Whether anything is kept under ``key`` (a decision, a probability, an undo step)."""
        return (
            key in self._records
            or key in self._probabilities
            or any(key in step.keys for step in (*self._undo, *self._redo))
        )

    def _apply(self, keys: Iterable, change: Callable) -> set:
        now = None
        changes = []
        for key in dict.fromkeys(keys):  # each key once, in the caller's order
            old = self.get(key)
            decision, reason = change(key, old)
            if (decision, reason) == (old.decision, old.reason):
                continue
            now = now or _aware(self._clock())
            changes.append((key, old, RoiDecision(decision, reason, now)))
        if not changes:
            return set()
        step = DecisionStep(tuple(changes))
        self._undo.append(step)
        self._redo.clear()
        self._records.update((key, after) for key, _, after in changes)
        return step.keys


# -- helpers --------------------------------------------------------------------------------------
def _renamed(step: DecisionStep, moved: Callable) -> DecisionStep:
    return DecisionStep(tuple((moved(key), before, after) for key, before, after in step.changes))


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)


def _aware(when: datetime | None) -> datetime | None:
    if when is None or when.tzinfo is not None:
        return when
    return when.astimezone()  # Python's rule for a naive time: local


def _decision(decision) -> Decision:
    return decision if isinstance(decision, Decision) else Decision.from_text(decision)


def _reason(reason) -> str:
    if not isinstance(reason, str):
        raise TypeError(f"a reason is text, got {type(reason).__name__}")
    return reason


def _words(decision: Decision) -> str:
    return decision.value.replace("_", " ")


def _quoted(reason: str) -> str:
    return repr(reason) if reason else "none"


def _choices(values: Iterable[str]) -> str:
    """One value, or the different ones joined by '/' (in first-seen order)."""
    return "/".join(dict.fromkeys(values))


def _rois(keys: set) -> str:
    if len(keys) == 1:
        return f"ROI {next(iter(keys))}"
    if len(keys) <= 3:
        return "ROIs " + ", ".join(str(k) for k in sorted(keys, key=roi_key_order))
    return f"{len(keys)} ROIs"
