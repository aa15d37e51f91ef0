"""Each ROI's quality metrics and the decision they suggest, kept current with the model.

:class:`RoiQuality` is held by the :class:`~napari_roimasks.model.RoiModel`
(``model.quality``). The model asks it to :meth:`~RoiQuality.refresh` the
ROIs whose pixels, rings or traces changed before it rebuilds their table
rows, so a row always carries current metrics
(:attr:`RoiSummary.metrics <napari_roimasks.model.RoiSummary>`) and
suggestion. What only the curator changes here (the summary images the image
metrics read, the threshold rules, the classifier) reaches the views through
the model's ``quality_changed`` event.

The work follows what changed: shape and image metrics for the ROIs named,
trace metrics only where an ROI's traces or its r changed since they were last
computed. Suggestions never decide: the model's
:meth:`~napari_roimasks.model.RoiModel.accept_suggestions` is the curator's own
act, one undo step, and leaves decided ROIs alone unless asked.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence

import numpy as np

from ..core.classifier import CellClassifier, ClassifierError
from ..core.metrics import METRICS, border_distances, image_metrics, shape_metrics, trace_metrics
from ..io.roi_set import Decision
from .suggestions import Suggestion, ThresholdRule, suggest
from .traces import corrected_traces

__all__ = ["METRIC_TITLES", "RoiQuality"]

#: Each metric as the table and the colour bar name it, with what it means for a curator.
METRIC_TITLES: dict[str, tuple[str, str]] = {
    "area": ("area", "ROI pixels"),
    "compactness": (
        "compact",
        "suite2p's compactness: 1 for a disc, higher for a spread-out or ragged ROI",
    ),
    "aspect_ratio": ("aspect", "suite2p's aspect ratio: 1 for a disc, towards 2 for a line"),
    "border_distance": (
        "border",
        "Pixels between the ROI and the motion border (negative: it reaches into it)",
    ),
    "skew": ("skew", "Skewness of the corrected trace F - r Fneu (scipy.stats.skew)"),
    "snr": ("SNR", "(99th percentile - median) of F - r Fneu over its robust noise sigma"),
    "events": ("events", "Transients of F - r Fneu above median + 3 sigma"),
    "correlation_roi": ("corr", "Mean of the correlation image inside the ROI"),
    "correlation_ring": ("corr ring", "Mean of the correlation image in the neuropil ring"),
    "brightness_z": (
        "bright z",
        "(mean image inside the ROI - its mean in the ring) / its std in the ring",
    ),
}

_QUALITY_FORMAT = "napari-roimasks quality"

_NO_METRICS = dict.fromkeys(METRICS, math.nan)


class RoiQuality:
    """The metrics of every ROI of a model, the rules and classifier, and their suggestions.

    Parameters
    ----------
    model : RoiModel
        The model it follows (it calls :meth:`refresh`; see the module).

    Attributes
    ----------
    images : dict of str -> (rows, columns) ndarray
        The summary images the image metrics read (``"mean"``, ``"correlation"``).
    rules : tuple of ThresholdRule
    classifier : CellClassifier or None
    """

    def __init__(self, model) -> None:
        self._model = model
        self.images: dict[str, np.ndarray] = {}
        self.rules: tuple[ThresholdRule, ...] = ()
        self.classifier: CellClassifier | None = None
        self._metrics: dict = {}  # key -> {name: float}
        self._suggestions: dict = {}  # key -> Suggestion or None
        self._trace_inputs: dict = {}  # key -> (the RoiTraces, r) its trace metrics came from

    # -- reading ------------------------------------------------------------------------------
    def metrics(self, key) -> Mapping[str, float]:
        """One ROI's metrics by name (NaN: not known, e.g. no traces yet)."""
        return self._metrics.get(key, _NO_METRICS)

    def suggestion(self, key) -> Suggestion | None:
        """What the rules and the classifier suggest for one ROI (None: neither is set)."""
        return self._suggestions.get(key)

    def values(self, name: str, keys: Sequence | None = None) -> np.ndarray:
        """(n,) float64: one metric of ``keys`` (default every ROI, in key order)."""
        keys = self._model.roi_keys() if keys is None else keys
        return np.array([self.metrics(k)[name] for k in keys], dtype=np.float64)

    def table(self, keys: Sequence | None = None) -> dict[str, np.ndarray]:
        """Metrics of ``keys`` (default every ROI, in key order) as name -> (n,) float64."""
        keys = self._model.roi_keys() if keys is None else list(keys)
        return {name: self.values(name, keys) for name in METRICS}

    # -- kept current (the model calls this) ----------------------------------------------------
    def refresh(self, keys: Iterable | None = None, *, shapes: bool = True) -> None:
        """Compute the metrics and suggestions of ``keys`` (None: every ROI) again, after
        their pixels, rings or traces changed; trace metrics only where the traces or their
        r did. ROIs no longer there are forgotten.

        Parameters
        ----------
        keys : iterable, optional
        shapes : bool, optional
            False: only their traces changed (the shape and image metrics are kept).
        """
        model = self._model
        present = model.roi_keys()
        if keys is None:
            keys = present
            self._metrics = {k: self._metrics[k] for k in present if k in self._metrics}
            kept = set(present)
            self._trace_inputs = {k: v for k, v in self._trace_inputs.items() if k in kept}
            self._suggestions = {k: v for k, v in self._suggestions.items() if k in kept}
        else:
            asked = set(keys)
            for key in asked - set(present):
                self._metrics.pop(key, None)
                self._trace_inputs.pop(key, None)
                self._suggestions.pop(key, None)
            keys = [k for k in present if k in asked]
        if not keys:
            return
        if shapes or any(k not in self._metrics for k in keys):
            self._refresh_shapes(keys)
        self._refresh_traces(keys)
        self._suggest(keys)

    def rename(self, moves: Mapping) -> None:
        """ROIs took new keys (old key -> new key), their pixels, rings and traces with them:
        their metrics and suggestions follow."""
        for table in (self._metrics, self._trace_inputs, self._suggestions):
            moved = {key: table.pop(key) for key in list(moves) if key in table}
            table.update({moves[key]: value for key, value in moved.items()})

    def _refresh_shapes(self, keys: Sequence) -> None:
        """Shape and image metrics of ``keys``."""
        model = self._model
        masks = [model.roi(k) for k in keys]
        rings = [model.ring(k) for k in keys]
        values = shape_metrics(masks)
        values["border_distance"] = border_distances(masks, model.border, model.image_shape)
        shape = model.image_shape
        images = {k: v for k, v in self.images.items() if v.shape == shape}  # another size: none
        values.update(
            image_metrics(
                masks, rings, correlation=images.get("correlation"), mean=images.get("mean")
            )
        )
        for i, key in enumerate(keys):
            row = dict(self._metrics.get(key, _NO_METRICS))
            row.update({name: float(column[i]) for name, column in values.items()})
            self._metrics[key] = row

    def _refresh_traces(self, keys: Sequence) -> None:
        """Trace metrics of the ``keys`` whose traces or r changed since they were computed."""
        model = self._model
        ratios = model.contamination_ratios()
        stale, inputs = [], []
        for key in keys:
            traces = model.traces.get(key)
            wanted = None if traces is None else (traces, ratios.get(key, math.nan))
            had = self._trace_inputs.get(key)
            if wanted is None:
                if had is not None or key not in self._trace_inputs:
                    self._trace_inputs[key] = None
                    for name in ("skew", "snr", "events"):
                        self._metrics[key][name] = math.nan
                continue
            if had is not None and had[0] is wanted[0] and _same(had[1], wanted[1]):
                continue
            stale.append(key)
            inputs.append(wanted)
        if not stale:
            return
        lengths = {len(traces.roi) for traces, _ in inputs}
        for length in lengths:  # traces of one movie share a length; each length in one call
            group = [i for i, (traces, _) in enumerate(inputs) if len(traces.roi) == length]
            corrected = np.stack(
                [
                    corrected_traces(inputs[i][0].roi, inputs[i][0].neuropil, inputs[i][1])
                    for i in group
                ]
            )
            values = trace_metrics(corrected)
            for j, i in enumerate(group):
                key = stale[i]
                for name, column in values.items():
                    self._metrics[key][name] = float(column[j])
                self._trace_inputs[key] = inputs[i]

    def _suggest(self, keys: Sequence) -> None:
        if not self.rules and self.classifier is None:
            for key in keys:
                self._suggestions[key] = None
            return
        suggestions = suggest(self.table(keys), self.rules, self.classifier)
        self._suggestions.update(zip(keys, suggestions, strict=True))

    # -- what the curator changes ---------------------------------------------------------------
    def set_images(self, *, mean: np.ndarray | None = None, correlation=None) -> None:
        """The summary images the image metrics read (e.g. computed or opened); None: none."""
        images = {}
        for name, image in (("mean", mean), ("correlation", correlation)):
            if image is not None:
                image = np.asarray(image)
                if self._model.image_shape is not None and image.shape != self._model.image_shape:
                    raise ValueError(
                        f"the {name} image is {image.shape[0]}x{image.shape[1]} pixels, the "
                        f"ROIs' image {self._model.image_shape[0]}x{self._model.image_shape[1]}"
                    )
                images[name] = image
        self.images = images
        self._changed(None)

    def set_rules(self, rules: Iterable[ThresholdRule]) -> None:
        """The threshold rules every cell must meet (replacing the earlier ones).

        Raises
        ------
        ValueError
            For a rule on a metric that does not exist (nothing is changed).
        """
        rules = tuple(rules)
        for rule in rules:
            if rule.metric not in METRICS:
                raise ValueError(f"{rule.metric!r} is not a metric (one of {', '.join(METRICS)})")
        if rules != self.rules:
            self.rules = rules
            self._resuggest()

    def train(self) -> CellClassifier:
        """Train the classifier on the ROIs decided so far and suggest with it.

        Raises
        ------
        ClassifierError
            With too few decided cells or not cells, or no metric known for all of them
            (the message says which); the earlier classifier stays.
        """
        self.set_classifier(CellClassifier.train(*self.training_set()))
        return self.classifier

    def training_set(self) -> tuple[dict[str, np.ndarray], np.ndarray]:
        """What :meth:`train` learns from (for training in another thread): every ROI's
        metrics (name -> (n,) float64) and (n,) 1 for a decided cell, 0 for a decided not
        cell, NaN for an ROI not decided."""
        model = self._model
        keys = model.roi_keys()
        labels = {Decision.CELL: 1.0, Decision.NOT_CELL: 0.0}
        is_cell = np.array([labels.get(model.decisions.get(k).decision, np.nan) for k in keys])
        return self.table(keys), is_cell

    def set_classifier(self, classifier: CellClassifier | None) -> None:
        """Suggest with this classifier (trained here, or read from a file); None: none.

        Raises
        ------
        ClassifierError
            When it reads a metric these ROIs lack.
        """
        if classifier is not None:
            missing = [name for name in classifier.features if name not in METRICS]
            if missing:
                raise ClassifierError(
                    f"the classifier reads {', '.join(missing)}, which these ROIs do not have"
                )
        self.classifier = classifier
        self._resuggest()

    def _resuggest(self) -> None:
        keys = self._model.roi_keys()
        self._suggest(keys)
        self._model.quality_changed_for(None)

    def _changed(self, keys) -> None:
        self.refresh(keys)
        self._model.quality_changed_for(keys)

    # -- kept in the session file ---------------------------------------------------------------
    def to_json(self) -> str:
        """The rules and the classifier as JSON text (plain numbers, never pickle)."""
        return json.dumps(
            {
                "format": _QUALITY_FORMAT,
                "rules": [[r.metric, r.minimum, r.maximum] for r in self.rules],
                "classifier": None
                if self.classifier is None
                else json.loads(self.classifier.to_json()),
            }
        )

    def restore_json(self, text: str | None) -> None:
        """Take the rules and the classifier :meth:`to_json` wrote ("" or None: none).

        Raises
        ------
        ValueError
            For text that is not what :meth:`to_json` writes (nothing is changed).
        """
        rules, classifier = (), None
        if text:
            try:
                saved = json.loads(text)
                if saved.get("format") != _QUALITY_FORMAT:
                    raise ValueError("not the session's rules and classifier")
                rules = tuple(
                    ThresholdRule(str(metric), _bound(low), _bound(high))
                    for metric, low, high in saved["rules"]
                )
                if any(rule.minimum is None and rule.maximum is None for rule in rules):
                    raise ValueError("a rule without a bound")
                if saved.get("classifier") is not None:
                    classifier = CellClassifier.from_json(json.dumps(saved["classifier"]))
            except (ValueError, TypeError, KeyError, AttributeError) as error:
                raise ValueError(f"its rules and classifier cannot be read ({error})") from None
        for rule in rules:
            if rule.metric not in METRICS:
                raise ValueError(f"a rule on {rule.metric!r}, which is not a metric")
        self.rules, self.classifier = rules, classifier
        self._resuggest()


def _same(a: float, b: float) -> bool:
    return a == b or (math.isnan(a) and math.isnan(b))


def _bound(value) -> float | None:
    return None if value is None else float(value)
