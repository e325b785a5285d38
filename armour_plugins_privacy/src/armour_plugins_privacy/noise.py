"""Noise mechanisms."""

from __future__ import annotations

import numpy as np

from armour_core.api.noise import NoiseMechanism


class Gaussian(NoiseMechanism):
    """The Gaussian mechanism of DP-SGD (Abadi et al. 2016): i.i.d. N(0, (σ·C)²) per coordinate."""

    def _sample(self, shape: tuple[int, ...], step: int) -> np.ndarray:
        return self.generator().normal(0.0, self.stddev(step), size=shape)
