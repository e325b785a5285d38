"""Membership-inference attacks: score how likely each example was a training member."""

from __future__ import annotations

import abc
from typing import Any, ClassVar

import attrs
import numpy as np

from .arrays import check_inputs, check_labels
from .base import Algorithm, make_config, seed_field
from .model import as_classifier

@attrs.frozen(kw_only=True)
class InferenceConfig:
    seed: int | None = seed_field()


class MembershipInference(Algorithm, abc.ABC):
    """``fit`` on known members/non-members, ``score(x, y)`` (higher = member), ``evaluate``."""

    Config: ClassVar[type] = InferenceConfig

    def __init__(self, *, model: Any, **config: Any):
        self.config = make_config(self.Config, config, owner=type(self).__name__)
        self.model = as_classifier(model)

    def _xy(self, x: Any, y: Any, name: str) -> tuple[np.ndarray, np.ndarray]:
        xa = check_inputs(x, name=f"x_{name}", bounds=self.model.bounds, input_shape=self.model.input_shape)
        return xa, check_labels(y, n=xa.shape[0], num_classes=self.model.num_classes, name=f"y_{name}")

    def fit(self, x_member: Any, y_member: Any, x_nonmember: Any, y_nonmember: Any) -> "MembershipInference":
        self._fit(*self._xy(x_member, y_member, "member"), *self._xy(x_nonmember, y_nonmember, "nonmember"))
        return self

    def score(self, x: Any, y: Any) -> np.ndarray:
        return np.asarray(self._score(*self._xy(x, y, "query")), dtype=np.float64)

    def _fit(self, xm, ym, xn, yn) -> None:  # noqa: B027 - optional (threshold attacks need no training)
        """Train the attack."""

    @abc.abstractmethod
    def _score(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Per-example membership scores."""
