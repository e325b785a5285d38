"""DeepGauge-family neuron coverage criteria."""

from __future__ import annotations

import numpy as np

from armour_core.api.coverage import Coverage

from .configs import NeuronCoverageConfig


class NeuronCoverage(Coverage):
    """NC: the fraction of neurons whose output exceeded ``threshold`` for at least one input.

    With ``scaled=True`` each layer's outputs are min-max scaled per input first (DeepXplore's variant).
    """

    Config = NeuronCoverageConfig
    state_attrs = ("covered",)

    def _reset(self) -> None:
        self.covered: dict[str, np.ndarray] = {}

    def _update(self, acts: dict[str, np.ndarray]) -> None:
        for name, a in acts.items():
            if self.config.scaled:
                lo = a.min(axis=1, keepdims=True)
                span = a.max(axis=1, keepdims=True) - lo
                a = np.where(span > 0, (a - lo) / np.where(span > 0, span, 1), 0.0)
            hit = (a > self.config.threshold).any(axis=0)
            prev = self.covered.get(name)
            self.covered[name] = hit if prev is None else prev | hit

    def _value(self) -> float:
        total = sum(c.size for c in self.covered.values())
        return sum(int(c.sum()) for c in self.covered.values()) / total if total else 0.0
