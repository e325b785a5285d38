"""Adversarial-example detectors: ``fit`` on clean data sets a threshold for a target false-positive rate."""

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
    k = int(np.floor(len(s) * fpr))
    return float(s[len(s) - 1 - k])


class Detector(Algorithm, abc.ABC):
    """Base of every detector: ``score`` (higher = more suspicious), ``detect`` = score > threshold."""

    Config: ClassVar[type] = DetectorConfig
    needs_training: ClassVar[bool] = True
    has_transform: ClassVar[bool] = False

    def __init__(self, *, model: Any = None, bounds: tuple[float, float] | None = None, **config: Any):
        self.config = make_config(self.Config, config, owner=type(self).__name__)
        self.model = as_classifier(model, bounds=tuple(bounds) if bounds is not None else None) \
            if model is not None else None
        self.bounds = self.model.bounds if self.model is not None else tuple(bounds or (0.0, 1.0))
        self.threshold: float | None = None

    def _x(self, x: Any, name: str = "x") -> np.ndarray:
        shape = self.model.input_shape if self.model is not None else None
        return check_inputs(x, name=name, bounds=self.bounds, input_shape=shape)

    def fit(self, x: Any, y: Any = None) -> "Detector":
        """Train on clean ``x`` (labels when the method uses them) and set the threshold for ``fpr``."""
        xa = self._x(x)
        ya = None if y is None else check_labels(
            y, n=xa.shape[0], num_classes=self.model.num_classes if self.model else None)
        self._fit(xa, ya)
        self.threshold = threshold_for_fpr(self._score(xa), self.config.fpr)
        return self

    def score(self, x: Any) -> np.ndarray:
        """Per-sample detection score (float; higher means more likely adversarial)."""
        self._require_fit()
        return np.asarray(self._score(self._x(x)), dtype=np.float64)

    def detect(self, x: Any) -> np.ndarray:
        """Per-sample boolean: flagged as adversarial."""
        return self.score(x) > self.threshold

    def transform(self, x: Any) -> Any:
        """Purified inputs, for detectors that define a reformer (e.g. MagNet)."""
        if not self.has_transform:
            raise CapabilityError(f"{type(self).__name__} defines no transform")
        self._require_fit()
        return like(np.clip(self._transform(self._x(x)), *self.bounds).astype(np.float32), x)

    def _require_fit(self) -> None:
        if self.threshold is None:
            raise InvalidInputError(f"{type(self).__name__}: call fit(x_clean) before score/detect")

    def _fit(self, x: np.ndarray, y: np.ndarray | None) -> None:  # noqa: B027 - optional
        """Train the detector's own model, if it has one."""

    @abc.abstractmethod
    def _score(self, x: np.ndarray) -> np.ndarray:
        """Per-sample scores."""

    def _transform(self, x: np.ndarray) -> np.ndarray:
        raise CapabilityError(f"{type(self).__name__} defines no transform")
