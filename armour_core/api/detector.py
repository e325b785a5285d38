"""Adversarial-example detectors: ``fit`` on clean data sets a threshold for a target false-positive rate.

Contract (every detector): ``score(x)`` is a float per sample, higher meaning more suspicious;
``detect(x)`` is exactly ``score(x) > threshold``; ``transform(x)`` returns purified inputs for the
detectors that define a reformer. The threshold is the smallest value that flags at most
``floor(N * fpr)`` of the N clean calibration scores — so a small calibration set never yields a
threshold that flags clean data above the requested rate (with ``N * fpr < 1`` nothing clean is
flagged).
"""

from __future__ import annotations

import abc
from typing import Any, ClassVar

import attrs
import numpy as np

from ..errors import CapabilityError, InvalidInputError
from .arrays import check_inputs, check_labels, like
from .base import Algorithm, make_config, seed_field
from .model import as_classifier


@attrs.frozen(kw_only=True)
class DetectorConfig:
    """``fpr``: the false-positive rate on clean data the threshold is chosen for."""

    fpr: float = attrs.field(default=0.05, validator=[attrs.validators.gt(0.0), attrs.validators.lt(1.0)])
    seed: int | None = seed_field()


def threshold_for_fpr(clean_scores: np.ndarray, fpr: float) -> float:
    """The smallest threshold t such that at most ``floor(N·fpr)`` clean scores exceed t.

    When N·fpr < 1 no clean score may exceed it, so t is the maximum clean score (never an
    interpolated quantile that flags clean points above the target rate).
    """
    s = np.sort(np.asarray(clean_scores, dtype=np.float64))
    if s.size == 0:
        raise InvalidInputError("clean_scores: need at least one clean score to set a threshold")
    if np.isnan(s).any():
        raise InvalidInputError("clean_scores: contains NaN")
    k = int(np.floor(len(s) * fpr))
    return float(s[len(s) - 1 - k])


@attrs.frozen(kw_only=True)
class DetectionReport:
    """How a fitted detector does on clean and adversarial inputs."""

    detection_rate: float  #: fraction of adversarial inputs flagged (true-positive rate)
    false_positive_rate: float  #: fraction of clean inputs flagged
    threshold: float
    n_clean: int
    n_adversarial: int
    auc: float  #: ROC AUC of the scores (adversarial vs clean), ties counted half


class Detector(Algorithm, abc.ABC):
    """Base of every detector: ``score`` (higher = more suspicious), ``detect`` = score > threshold.

    Subclasses implement :meth:`_score` and, when they learn something, :meth:`_fit`. Hooks with
    defaults: :meth:`_calibration_scores` (clean scores the threshold is set on) and
    :meth:`_threshold` (how the threshold follows from them), :meth:`_transform` (the reformer).
    """

    Config: ClassVar[type] = DetectorConfig
    #: the PluginSpec this class implements; when set, ``needs_training`` comes from its ``DetectorSpec`` and
    #: ``needs_model`` from its capabilities (``forward``), so the record is the one declaration of both
    record: ClassVar[Any] = None
    needs_training: ClassVar[bool] = True
    has_transform: ClassVar[bool] = False
    needs_model: ClassVar[bool] = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        record = cls.__dict__.get("record")
        if record is not None:
            cls.needs_training = bool(record.facet.needs_training)
            cls.needs_model = "forward" in record.capabilities

    def __init__(self, *, model: Any = None, bounds: tuple[float, float] | None = None, **config: Any):
        self.config = make_config(self.Config, config, owner=type(self).__name__)
        self.model = as_classifier(model, bounds=tuple(bounds) if bounds is not None else None) \
            if model is not None else None
        if self.needs_model and self.model is None:
            raise InvalidInputError(f"{type(self).__name__}: model= is required (the detector queries the classifier)")
        self.bounds = self.model.bounds if self.model is not None else tuple(bounds or (0.0, 1.0))
        self.threshold: float | None = None
        self._fitted = False

    def _x(self, x: Any, name: str = "x") -> np.ndarray:
        shape = self.model.input_shape if self.model is not None else getattr(self, "_input_shape", None)
        return check_inputs(x, name=name, bounds=self.bounds, input_shape=shape)

    # ------------------------------------------------------------------ public API
    def fit(self, x: Any, y: Any = None, *, x_calibration: Any = None) -> Detector:
        """Train on clean ``x`` (labels when the method uses them) and set the threshold for ``fpr``.

        ``x_calibration``: held-out clean inputs to set the threshold on (recommended when the detector
        trains a model on ``x``, whose scores on its own training data are optimistic); defaults to ``x``.
        """
        xa = self._x(x)
        ya = None if y is None else check_labels(
            y, n=xa.shape[0], num_classes=self.model.num_classes_for(xa) if self.model else None)
        self._fit(xa, ya)
        self._input_shape = tuple(xa.shape[1:])
        self._fitted = True
        xc = xa if x_calibration is None else self._x(x_calibration, "x_calibration")
        self.threshold = self._threshold(np.asarray(self._calibration_scores(xc), dtype=np.float64))
        return self

    def calibrate(self, x_clean: Any, fpr: float | None = None) -> Detector:
        """Re-set the threshold on clean inputs (optionally for a new ``fpr``) without retraining."""
        if fpr is not None:
            self.config = make_config(self.Config, {**attrs.asdict(self.config, recurse=False), "fpr": fpr},
                                      owner=type(self).__name__)
        self._require_trained()
        self.threshold = self._threshold(np.asarray(self._calibration_scores(self._x(x_clean, "x_clean")),
                                                    dtype=np.float64))
        return self

    def score(self, x: Any) -> np.ndarray:
        """Per-sample detection score (float; higher means more likely adversarial)."""
        self._require_fit()
        return np.asarray(self._score(self._x(x)), dtype=np.float64)

    def detect(self, x: Any) -> np.ndarray:
        """Per-sample boolean: flagged as adversarial (exactly ``score(x) > threshold``)."""
        return self.score(x) > self.threshold

    def transform(self, x: Any) -> Any:
        """Purified inputs, for detectors that define a reformer (e.g. MagNet)."""
        if not self.has_transform:
            raise CapabilityError(f"{type(self).__name__} defines no transform")
        self._require_fit()
        return like(np.clip(self._transform(self._x(x)), *self.bounds).astype(np.float32), x)

    def evaluate(self, x_clean: Any, x_adversarial: Any) -> DetectionReport:
        """Detection rate on ``x_adversarial``, false-positive rate on ``x_clean`` and the scores' ROC AUC."""
        clean = self.score(x_clean)
        adv = self.score(x_adversarial)
        return DetectionReport(detection_rate=float(np.mean(adv > self.threshold)),
                               false_positive_rate=float(np.mean(clean > self.threshold)),
                               threshold=float(self.threshold), n_clean=len(clean), n_adversarial=len(adv),
                               auc=roc_auc(clean, adv))

    # ------------------------------------------------------------------ hooks
    def _require_fit(self) -> None:
        if self.threshold is None:
            raise InvalidInputError(f"{type(self).__name__}: call fit(x_clean) before score/detect")

    def _require_trained(self) -> None:
        """Before ``calibrate``: the detector's own model (if any) must exist."""
        if self.needs_training and not self._fitted:
            raise InvalidInputError(f"{type(self).__name__}: call fit(x_clean) before calibrate")

    def _fit(self, x: np.ndarray, y: np.ndarray | None) -> None:
        """Train the detector's own model, if it has one."""

    def _calibration_scores(self, x: np.ndarray) -> np.ndarray:
        """Clean scores the threshold is set on (stateful detectors override this to leave state alone)."""
        return self._score(x)

    def _threshold(self, clean_scores: np.ndarray) -> float:
        return threshold_for_fpr(clean_scores, self.config.fpr)

    @abc.abstractmethod
    def _score(self, x: np.ndarray) -> np.ndarray:
        """Per-sample scores."""

    def _transform(self, x: np.ndarray) -> np.ndarray:
        raise CapabilityError(f"{type(self).__name__} defines no transform")


def roc_auc(negative: np.ndarray, positive: np.ndarray) -> float:
    """ROC AUC of ``positive`` scores against ``negative`` ones (Mann–Whitney U, ties counted half)."""
    neg = np.asarray(negative, dtype=np.float64)
    pos = np.asarray(positive, dtype=np.float64)
    if neg.size == 0 or pos.size == 0:
        return float("nan")
    both = np.concatenate([neg, pos])
    order = np.argsort(both, kind="mergesort")
    ranks = np.empty(len(both))
    sorted_vals = both[order]
    # average ranks over ties
    _, first, counts = np.unique(sorted_vals, return_index=True, return_counts=True)
    avg = first + (counts - 1) / 2.0 + 1.0
    ranks[order] = np.repeat(avg, counts)
    u = ranks[len(neg):].sum() - len(pos) * (len(pos) + 1) / 2.0
    return float(u / (len(pos) * len(neg)))
