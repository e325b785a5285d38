"""The base of the ``certifier`` kind (declared by this distribution, not by armour-core): a certified-robustness
method over a base classifier, with a final public API that owns validation, seeding, counting and timing.

A certifier answers two questions about a *smoothed* (or otherwise certified) classifier ``g`` built on the
model: :meth:`Certifier.predict` — ``g(x)``, or an abstention when the answer is not statistically
significant — and :meth:`Certifier.certify` — ``g(x)`` with a radius within which ``g`` provably keeps that
answer (with probability ``1 - alpha`` over the certifier's own sampling), or an abstention.
"""

from __future__ import annotations

import abc
import time
from typing import Any

import attrs
import numpy as np
from armour_core.api.arrays import check_inputs, check_labels
from armour_core.api.base import Algorithm
from armour_core.api.model import as_classifier
from armour_core.errors import CapabilityError, InvalidInputError

#: the label of an abstention
ABSTAIN = -1


class _Answers:
    """What PREDICT and CERTIFY results share: one label per input, :data:`ABSTAIN` for an abstention."""

    labels: np.ndarray

    @property
    def abstained(self) -> np.ndarray:
        return self.labels == ABSTAIN

    @property
    def abstain_rate(self) -> float:
        return float(self.abstained.mean())


@attrs.frozen(kw_only=True)
class Prediction(_Answers):
    """``labels``: the certified classifier's class per input, :data:`ABSTAIN` where it abstains; ``p_values``:
    the significance of each answer (abstain when above ``alpha``)."""

    labels: np.ndarray
    p_values: np.ndarray
    forward_calls: int
    queries: int
    seconds: float


@attrs.frozen(kw_only=True)
class Certification(_Answers):
    """``labels``: the certified class per input (:data:`ABSTAIN` where none); ``radii``: the certified radius in
    ``norm`` (0 where abstained); ``p_lower``: the lower confidence bound on the top-class probability the radius
    comes from."""

    labels: np.ndarray
    radii: np.ndarray
    p_lower: np.ndarray
    norm: str
    forward_calls: int
    queries: int
    seconds: float

    def certified_accuracy(self, y: Any, radii: Any) -> np.ndarray:
        """For each radius ``r``: the share of inputs certified with their true label at a radius of at least
        ``r`` (Cohen et al.'s approximate certified test-set accuracy)."""
        y = check_labels(y, n=len(self.labels), num_classes=None)
        r = np.atleast_1d(np.asarray(radii, dtype=np.float64))
        if not np.all(np.isfinite(r)) or np.any(r < 0):
            raise InvalidInputError(f"radii: expected finite radii >= 0, got {radii!r}")
        correct = (self.labels == y)[None, :]
        return (correct & (self.radii[None, :] >= r[:, None])).mean(axis=1)


class Certifier(Algorithm, abc.ABC):
    """Base of every ``certifier`` plugin. Subclasses implement :meth:`_predict` and :meth:`_certify` on a
    validated float batch, vectorised over it; the public methods validate, time and count."""

    #: the norm the radii are measured in
    norm: str = "l2"

    def __init__(self, *, model: Any, **config: Any):
        super().__init__(**config)
        self.model = as_classifier(model)
        if "forward" not in self.model.capabilities:
            raise CapabilityError(f"{type(self).__name__} needs a model with forward passes")

    def _inputs(self, x: Any) -> np.ndarray:
        return check_inputs(x, bounds=self.model.bounds, input_shape=getattr(self.model, "input_shape", None))

    def predict(self, x: Any, *, progress: bool | None = None) -> Prediction:
        """The certified classifier's prediction for each input, abstaining where it is not significant."""
        xa = self._inputs(x)
        before, t0 = self.model.counters(), time.perf_counter()
        labels, p_values = self._predict(xa, progress)
        f, _, q = np.subtract(self.model.counters(), before)
        return Prediction(labels=np.asarray(labels, np.int64), p_values=np.asarray(p_values, np.float64),
                          forward_calls=int(f), queries=int(q), seconds=time.perf_counter() - t0)

    def certify(self, x: Any, *, progress: bool | None = None) -> Certification:
        """The certified class and radius for each input (abstaining where none can be certified)."""
        xa = self._inputs(x)
        before, t0 = self.model.counters(), time.perf_counter()
        labels, radii, p_lower = self._certify(xa, progress)
        f, _, q = np.subtract(self.model.counters(), before)
        return Certification(labels=np.asarray(labels, np.int64), radii=np.asarray(radii, np.float64),
                             p_lower=np.asarray(p_lower, np.float64), norm=self.norm, forward_calls=int(f),
                             queries=int(q), seconds=time.perf_counter() - t0)

    @abc.abstractmethod
    def _predict(self, x: np.ndarray, progress: bool | None) -> tuple[np.ndarray, np.ndarray]:
        """``(labels, p_values)`` for a validated batch (:data:`ABSTAIN` for abstentions)."""

    @abc.abstractmethod
    def _certify(self, x: np.ndarray, progress: bool | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(labels, radii, p_lower)`` for a validated batch (:data:`ABSTAIN` and radius 0 for abstentions)."""
