"""Neuron-coverage criteria: ``update`` adds inputs, ``value`` is in [0, 1] and never decreases."""

from __future__ import annotations

import abc
import copy
from typing import Any, ClassVar

import attrs
import numpy as np

from ..errors import InvalidInputError
from .arrays import check_inputs
from .base import Algorithm, make_config
from .model import as_classifier


@attrs.frozen(kw_only=True)
class CoverageConfig:
    """``layers``: names of the layers whose neurons count (None: every layer the model exposes)."""

    layers: tuple[str, ...] | None = attrs.field(
        default=None, converter=attrs.converters.optional(tuple))


def neuron_values(act: np.ndarray) -> np.ndarray:
    """(N, units) neuron outputs: a convolutional channel's neuron is its spatial mean (DeepGauge, DeepHunter)."""
    a = np.asarray(act, dtype=np.float32)
    if a.ndim > 2:
        a = a.reshape(a.shape[0], a.shape[1], -1).mean(axis=2)
    return a.reshape(a.shape[0], -1)


class Coverage(Algorithm, abc.ABC):
    """Base of every coverage criterion.

    Subclasses implement :meth:`_update` (fold a batch of per-layer neuron outputs into the state) and
    :meth:`_value`; criteria that need a training-set profile set ``needs_profile`` and implement
    :meth:`_fit`. The state lives in attributes listed in ``state_attrs`` so :meth:`gain` can try a batch
    without committing it.
    """

    Config: ClassVar[type] = CoverageConfig
    needs_profile: ClassVar[bool] = False
    state_attrs: ClassVar[tuple[str, ...]] = ()

    def __init__(self, *, model: Any, **config: Any):
        self.config = make_config(self.Config, config, owner=type(self).__name__)
        self.model = as_classifier(model)
        if not hasattr(self.model, "activations"):
            raise InvalidInputError(f"model: {type(self.model).__name__} cannot expose layer activations")
        self.fitted = False
        self.reset()

    def _acts(self, x: Any) -> dict[str, np.ndarray]:
        xa = check_inputs(x, name="x", bounds=self.model.bounds, input_shape=self.model.input_shape)
        acts = self.model.activations(xa, layers=self.config.layers)
        if not acts:
            raise InvalidInputError("layers: no layer activations were captured; check the layer names "
                                    f"(available: {', '.join(self.model.layer_names())})")
        return {k: neuron_values(v) for k, v in acts.items()}

    def fit(self, x_train: Any) -> "Coverage":
        """Compute the training-set profile (per-neuron ranges etc.) that the criterion needs."""
        acts = self._acts(x_train)
        self._fit(acts)
        self.fitted = True
        self.reset()
        return self

    def update(self, x: Any) -> "Coverage":
        """Add a batch of inputs to the covered set; returns ``self``."""
        self._require_fit()
        acts = self._acts(x)
        self._update(acts)
        self.count += next(iter(acts.values())).shape[0]
        return self

    def update_activations(self, acts: dict[str, np.ndarray]) -> "Coverage":
        """Like :meth:`update` for activations already captured (the fuzzer captures once for all criteria)."""
        self._require_fit()
        acts = {k: neuron_values(v) for k, v in acts.items()}
        self._update(acts)
        self.count += next(iter(acts.values())).shape[0]
        return self

    def gain(self, x: Any) -> float:
        """How much ``value`` would rise if ``x`` were added (the state is left unchanged)."""
        self._require_fit()
        saved = {k: copy.deepcopy(getattr(self, k)) for k in self.state_attrs}
        before = self.value
        try:
            self._update(self._acts(x))
            return self.value - before
        finally:
            for k, v in saved.items():
                setattr(self, k, v)

    @property
    def value(self) -> float:
        return float(min(1.0, max(0.0, self._value())))

    def reset(self) -> "Coverage":
        """Forget the covered set (keeps the profile)."""
        self.count = 0
        self._reset()
        return self

    def _require_fit(self) -> None:
        if self.needs_profile and not self.fitted:
            raise InvalidInputError(f"{type(self).__name__} needs a training-set profile: call fit(x_train) first")

    def _fit(self, acts: dict[str, np.ndarray]) -> None:  # noqa: B027 - optional hook
        """Build the profile (only criteria with ``needs_profile``)."""

    @abc.abstractmethod
    def _reset(self) -> None:
        """Clear the covered-set state."""

    @abc.abstractmethod
    def _update(self, acts: dict[str, np.ndarray]) -> None:
        """Fold per-layer (N, units) neuron outputs into the state."""

    @abc.abstractmethod
    def _value(self) -> float:
        """The criterion's value for the current state."""
