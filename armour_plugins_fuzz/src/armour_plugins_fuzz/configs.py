"""Mutator and coverage hyperparameters (frozen attrs classes; light to import)."""

from __future__ import annotations

import attrs

from armour_core.api.coverage import CoverageConfig
from armour_core.api.mutator import MutatorConfig, range_field


@attrs.frozen(kw_only=True)
class GaussianBlurConfig(MutatorConfig):
    """``sigma``: range of the blur's standard deviation, in pixels."""

    sigma: tuple[float, float] = range_field((0.3, 1.5), low=0.0, high=10.0)


@attrs.frozen(kw_only=True)
class NeuronCoverageConfig(CoverageConfig):
    """``threshold``: a neuron is covered once its output exceeds it; ``scaled``: compare after min-max
    scaling each layer's outputs per input (DeepXplore) instead of on raw outputs (DeepGauge)."""

    threshold: float = attrs.field(default=0.1)
    scaled: bool = False

    @threshold.validator
    def _check(self, attribute, value):
        if self.scaled and not 0.0 <= value < 1.0:
            raise ValueError(f"threshold must lie in [0, 1) when scaled=True, got {value}")
