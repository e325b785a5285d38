"""Noise mechanisms for DP-SGD: the Gaussian mechanism and its decaying (adaptive) variant."""

from __future__ import annotations

import attrs
import numpy as np

from armour_core.api.base import seed_field
from armour_core.api.noise import NoiseMechanism
from armour_core.api.validators import positive_field, unit_field


class Gaussian(NoiseMechanism):
    """The Gaussian mechanism of DP-SGD (Abadi et al. 2016): i.i.d. N(0, (σ·C)²) per coordinate."""

    def _sample(self, shape: tuple[int, ...], step: int, std: float, dtype: np.dtype) -> np.ndarray:
        z = self.generator().standard_normal(shape, dtype=dtype)
        z *= dtype.type(std)
        return z


@attrs.frozen(kw_only=True)
class AdaGaussianConfig:
    """σ(t) decays from ``noise_multiplier`` with ``decay_rate`` per step.

    ``decay_policy="time"``: σ(t) = σ₀ / (1 + r·t) (MindArmour's 'Time'); ``"step"``: σ(t) = σ₀·(1 − r)ᵗ
    (MindArmour's 'Step'). ``min_noise_multiplier`` floors the schedule so the guarantee never vanishes.
    """

    noise_multiplier: float = positive_field(1.5)
    clip_norm: float = positive_field(1.0)
    decay_rate: float = unit_field(6e-4, high_closed=False)
    decay_policy: str = attrs.field(default="time", validator=attrs.validators.in_(("time", "step")))
    min_noise_multiplier: float = positive_field(0.3)
    seed: int | None = seed_field()
    secure: bool = False


class AdaGaussian(Gaussian):
    """Gaussian noise whose multiplier decays over training (MindArmour's adaptive mechanism).

    The accountant is charged with σ(t) of every step actually taken (the DP ledger records it), so the
    reported ε matches the noise the mechanism really added.
    """

    Config = AdaGaussianConfig
    adaptive = True

    def _noise_multiplier_at(self, step: int) -> float:
        c = self.config
        if c.decay_policy == "time":
            sigma = c.noise_multiplier / (1.0 + c.decay_rate * step)
        else:
            sigma = c.noise_multiplier * (1.0 - c.decay_rate) ** step
        return float(max(sigma, min(c.min_noise_multiplier, c.noise_multiplier)))
