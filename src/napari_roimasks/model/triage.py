"""The triage order: the ROI table's rows sorted and filtered, and which ROI comes next.

Headless and pure: a :class:`TriageView` takes the model's rows
(:meth:`RoiModel.rows() <napari_roimasks.model.RoiModel.rows>`), and answers
what the table shows and where the keyboard goes (next, previous, next
unlabeled, and after a decision). Moving stops at the ends, as suite2p's GUI
does, unless asked to wrap.

A curator's step::

    place = view.place(key)              # before the decision: where the ROI stands
    model.decide([key], Decision.CELL)
    view.set_rows(model.rows())          # (the table's listener may do this)
    key = view.after_decision(place, AfterDecision.ADVANCE_TO_NEXT_UNLABELED)

Each step is O(n) for n ROIs (a sort when the rows change); no ring is read.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Hashable, Iterable
from dataclasses import dataclass
from enum import Enum

import numpy as np

from ..core.exclusions import EXCLUSION_TEXT
from ..core.metrics import METRICS
from ..io.roi_set import Decision

__all__ = [
    "DECISION_ORDER",
    "SORT_COLUMNS",
    "AfterDecision",
    "TriagePlace",
    "TriageView",
    "decision_counts",
    "roi_key_order",
    "sorted_keys",
]

#: How decisions sort (ascending): cells, not cells, then the undecided.
DECISION_ORDER = {Decision.CELL: 0, Decision.NOT_CELL: 1, Decision.UNLABELED: 2}
_TRACE_ORDER = {"": 0, "stale": 1, "current": 2}  # never extracted, stale, current

#: The row fields the table sorts by (``RoiSummary``'s attributes, and each of its metrics by
#: name), with their sort values; None (no probability, no time, a metric not known) sorts
#: last in either direction.
SORT_COLUMNS: dict[str, Callable] = {
    "key": lambda row: roi_key_order(row.key),
    "area": lambda row: row.area,
    "ring_pixels": lambda row: row.ring_pixels,
    "exclusions": lambda row: (len(row.exclusions), row.exclusions),
    "trace": lambda row: _TRACE_ORDER.get(row.trace, len(_TRACE_ORDER)),
    "decision": lambda row: DECISION_ORDER[row.decision],
    "probability": lambda row: row.probability,
    "reason": lambda row: row.reason.casefold(),
    "decided_at": lambda row: row.decided_at,
    "suggestion": lambda row: _suggestion_order(row.suggestion),
    "origin": lambda row: row.origin.casefold(),
    # each metric (the area is the row's own)
    **{
        name: (lambda row, name=name: _known(row.metrics.get(name)))
        for name in METRICS
        if name != "area"
    },
}


def _known(value):
    """A metric's sort value: None (last) when it is not known."""
    return None if value is None or value != value else value


def _suggestion_order(suggestion):
    """Suggested cells first, most likely first; then not cells, least likely last."""
    if suggestion is None:
        return None
    p = suggestion.probability
    return (DECISION_ORDER[suggestion.decision], -p if p == p else 0.0)


class AfterDecision(str, Enum):
    """Where the cursor goes after the curator decides an ROI."""

    STAY = "stay"
    ADVANCE_TO_NEXT_UNLABELED = "advance_to_next_unlabeled"


@dataclass(frozen=True)
class TriagePlace:
    """Where an ROI stood in the table before a decision (see :meth:`TriageView.place`).

    Attributes
    ----------
    key : hashable
    after, before : tuple of keys
        The rows shown below it (top to bottom) and above it (top to bottom).
    """

    key: Hashable
    after: tuple = ()
    before: tuple = ()


class TriageView:
    """The ROI table's order: rows sorted by a column and filtered by decision and text.

    Parameters
    ----------
    rows : iterable of RoiSummary
        The model's rows (anything with ``SORT_COLUMNS``' attributes).
    sort_by : str
        A key of :data:`SORT_COLUMNS`.
    descending : bool
        Ties are always in ascending key order.
    decisions : collection of Decision, or None
        The decisions shown (None: all).
    text : str
        Shown rows hold it (case-blind) in their ROI id, reason or exclusions ("": all).
    """

    def __init__(
        self,
        rows: Iterable = (),
        *,
        sort_by: str = "key",
        descending: bool = False,
        decisions: Collection[Decision] | None = None,
        text: str = "",
    ):
        self._rows: dict = {}
        self._by_key: tuple = ((), [])  # (the rows' keys as given, the same in key order)
        self._order: list = []  # every row's key, sorted
        self._position: dict = {}  # key -> index in _order
        self._shown: list = []  # the filtered keys, in order
        self._is_shown: set = set()
        self._shown_index: dict = {}  # key -> row in _shown
        self.sort_by, self.descending = _column(sort_by), bool(descending)
        self.decisions, self.text = _decisions(decisions), str(text)
        self.set_rows(rows)

    # -- what is shown ------------------------------------------------------------------------
    @property
    def keys(self) -> list:
        """The keys shown, top to bottom."""
        return list(self._shown)

    def __len__(self) -> int:
        return len(self._shown)

    def __contains__(self, key) -> bool:
        return key in self._is_shown

    def row_index(self, key) -> int | None:
        """The row an ROI is shown on (0 at the top); None when filtered out or unknown."""
        return self._shown_index.get(key)

    # -- changing -----------------------------------------------------------------------------
    def set_rows(self, rows: Iterable) -> None:
        """Take the model's rows (all of them) after any change: sorts and filters again."""
        self._rows = {row.key: row for row in rows}
        self._sort()

    def sort(self, column: str, *, descending: bool = False) -> None:
        """Sort by a :data:`SORT_COLUMNS` column.

        Raises
        ------
        ValueError
            For an unknown column, naming the columns.
        """
        self.sort_by, self.descending = _column(column), bool(descending)
        self._sort()

    def set_filter(self, *, decisions=..., text: str | None = None) -> None:
        """Show only these decisions (None: all) and rows holding ``text`` (""); omitted: unchanged."""
        if decisions is not ...:
            self.decisions = _decisions(decisions)
        if text is not None:
            self.text = str(text)
        self._filter()

    def _sort(self) -> None:
        value = SORT_COLUMNS[self.sort_by]
        by_key = self._keys_in_order()
        if self.sort_by == "key":  # the table's usual order
            order = by_key[::-1] if self.descending else list(by_key)
        else:
            rows = self._rows
            known = [key for key in by_key if value(rows[key]) is not None]
            # Python's sort is stable, reversed too: ties keep the ascending key order
            known.sort(key=lambda key: value(rows[key]), reverse=self.descending)
            order = known + [key for key in by_key if value(rows[key]) is None]
        if order != self._order:  # (a decision seldom moves a row)
            self._order = order
            self._position = {key: i for i, key in enumerate(order)}
        self._filter()

    def _keys_in_order(self) -> list:
        """The rows' keys in key order, sorted again only when they changed (a triage step
        changes a decision, not the keys)."""
        keys = tuple(self._rows)
        given, by_key = self._by_key
        if keys != given:
            by_key = sorted(keys, key=roi_key_order)
            self._by_key = (keys, by_key)
        return by_key

    def _filter(self) -> None:
        decisions, text = self.decisions, self.text.casefold()
        if decisions is None and not text:
            shown = list(self._order)
        else:
            shown = [
                key
                for key in self._order
                if (decisions is None or self._rows[key].decision in decisions)
                and (not text or text in _haystack(self._rows[key]))
            ]
        if shown != self._shown:
            self._shown = shown
            self._is_shown = set(shown)
            self._shown_index = {key: i for i, key in enumerate(shown)}

    # -- moving -------------------------------------------------------------------------------
    def next_roi(self, current=None, *, wrap: bool = False):
        """The ROI shown after ``current`` (None: the first); None at the end unless ``wrap``.

        An ROI the filter hides counts from where the sort puts it.
        """
        return self._first(self._following(current, wrap))

    def previous_roi(self, current=None, *, wrap: bool = False):
        """The ROI shown before ``current`` (None: the last); None at the top unless ``wrap``."""
        return self._first(self._preceding(current, wrap))

    def next_unlabeled(self, current=None, *, wrap: bool = False):
        """The next unlabeled ROI shown after ``current`` (None: from the top); None if none."""
        return self._first(self._following(current, wrap), unlabeled=True)

    def place(self, key) -> TriagePlace:
        """Where ``key`` stands now, to find its neighbours after a decision moves or hides it."""
        pos = self._position.get(key)
        if pos is None:
            return TriagePlace(key, tuple(self._order), ())
        return TriagePlace(key, tuple(self._order[pos + 1 :]), tuple(self._order[:pos]))

    def after_decision(self, place, policy: AfterDecision | str, *, wrap: bool = False):
        """The ROI to select after the curator decided ``place`` (a :class:`TriagePlace`
        taken before the decision, or the ROI's key: its place now).

        ``STAY``: the ROI itself, or, when the filter now hides it, the row that took its
        place (the one after it, else the one before). ``ADVANCE_TO_NEXT_UNLABELED``: the
        next unlabeled ROI shown after where it stood (from the top too if ``wrap``);
        where there is none, as ``STAY``. None only when no row is shown.
        """
        if not isinstance(place, TriagePlace):
            place = self.place(place)
        policy = AfterDecision(policy)
        if policy is AfterDecision.ADVANCE_TO_NEXT_UNLABELED:
            candidates = place.after + place.before if wrap else place.after
            found = self._first(candidates, unlabeled=True)
            if found is not None and found != place.key:
                return found
        if place.key in self._is_shown:
            return place.key
        following = self._first(place.after)
        return following if following is not None else self._first(reversed(place.before))

    def _first(self, keys: Iterable, *, unlabeled: bool = False):
        for key in keys:
            if key in self._is_shown and (
                not unlabeled or self._rows[key].decision is Decision.UNLABELED
            ):
                return key
        return None

    def _following(self, current, wrap: bool):
        pos = self._position.get(current)
        if pos is None:
            return iter(self._order)
        return _chain(self._order, range(pos + 1, len(self._order)), range(pos) if wrap else ())

    def _preceding(self, current, wrap: bool):
        pos = self._position.get(current)
        n = len(self._order)
        if pos is None:
            return reversed(self._order)
        return _chain(self._order, range(pos - 1, -1, -1), range(n - 1, pos, -1) if wrap else ())


def sorted_keys(rows: Iterable, column: str = "key", *, descending: bool = False) -> list:
    """The rows' keys sorted by a :data:`SORT_COLUMNS` column (ties by key; None last)."""
    return TriageView(rows, sort_by=column, descending=descending).keys


def decision_counts(rows: Iterable) -> dict[Decision, int]:
    """How many rows hold each decision (every decision present, 0 when none)."""
    decisions = [row.decision for row in rows]
    return {decision: decisions.count(decision) for decision in Decision}


def roi_key_order(key):
    """Sort value of an ROI key: numbers in numeric order, then texts."""
    return (0, key, "") if isinstance(key, (int, np.integer)) else (1, 0, str(key))


def _chain(order: list, *ranges):
    for indices in ranges:
        for i in indices:
            yield order[i]


def _haystack(row) -> str:
    names = [*row.exclusions, *(EXCLUSION_TEXT.get(e, "") for e in row.exclusions)]
    return "\n".join([str(row.key), row.reason, *names]).casefold()


def _column(column: str) -> str:
    if column not in SORT_COLUMNS:
        raise ValueError(f"cannot sort by {column!r}: choose one of {', '.join(SORT_COLUMNS)}")
    return column


def _decisions(decisions) -> frozenset | None:
    if decisions is None:
        return None
    return frozenset(d if isinstance(d, Decision) else Decision.from_text(d) for d in decisions)
