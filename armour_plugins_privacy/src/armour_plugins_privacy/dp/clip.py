"""Clipping-norm policies: a fixed bound, and quantile-based adaptive clipping (Andrew et al. 2021)."""

from __future__ import annotations

import math

import attrs
import numpy as np

from armour_core.api.base import seed_field
from armour_core.api.clip import ClipMechanism
from armour_core.api.validators import positive_field, unit_field
from armour_core.errors import InvalidInputError


class FixedClip(ClipMechanism):
    """Every example's gradient is clipped to the same ``clip_norm`` for the whole run."""


@attrs.frozen(kw_only=True)
class AdaptiveClipConfig:
    """Andrew et al. 2021, "Differentially Private Learning with Adaptive Clipping".

    ``target_quantile`` γ: the fraction of examples that should end up unclipped. ``learning_rate`` η and
    ``update``: ``"geometric"`` C ← C·exp(−η(b̃ − γ)) (the paper's rule, MindArmour's 'Geometric') or
    ``"linear"`` C ← C − η(b̃ − γ) (MindArmour's 'Linear'), where b̃ is the noisy unclipped fraction.
    ``count_noise`` σ_b is the std of the noise on the unclipped count, as a fraction of the expected batch
    size (the paper's default: 1/20 of it).
    """

    clip_norm: float = positive_field(1.0)
    target_quantile: float = unit_field(0.5, low_closed=False, high_closed=False)
    learning_rate: float = positive_field(0.2)
    update: str = attrs.field(default="geometric", validator=attrs.validators.in_(("geometric", "linear")))
    count_noise: float = positive_field(0.05)
    min_clip_norm: float = positive_field(1e-6)
    seed: int | None = seed_field()


class AdaptiveClip(ClipMechanism):
    """Clip norm that tracks a quantile of the per-example gradient norms, privately.

    Each step releases the unclipped count Σ(1[‖g_i‖ ≤ C] − ½) + N(0, σ_b²) (sensitivity ½). Combined with
    the gradient sum released with multiplier σ_Δ, the pair costs exactly one Gaussian mechanism with
    multiplier z where z⁻² = σ_Δ⁻² + (2σ_b)⁻² (the paper's Theorem 1). So the accountant is charged with the
    requested z, and the gradient gets σ_Δ = (z⁻² − (2σ_b)⁻²)^(−½): the statistic is paid for, not free.
    The noise std is σ_Δ times the *current* clip norm, so noise stays calibrated as C moves.
    """

    Config = AdaptiveClipConfig
    adaptive = True

    def count_stddev(self, expected_batch_size: float) -> float:
        return self.config.count_noise * float(expected_batch_size)

    def gradient_noise_multiplier(self, noise_multiplier: float, expected_batch_size: float) -> float:
        sb = self.count_stddev(expected_batch_size)
        inv = noise_multiplier ** -2 - (2.0 * sb) ** -2
        if inv <= 0:
            raise InvalidInputError(
                f"noise_multiplier={noise_multiplier} is too small for adaptive clipping with count noise "
                f"{sb:.3g} (needs noise_multiplier < 2*count_noise*batch = {2 * sb:.3g}); raise count_noise or "
                "the noise multiplier")
        return float(inv ** -0.5)

    def _update(self, norms: np.ndarray, expected_batch_size: float) -> float:
        c = self.config
        centred = float(np.sum(norms <= self.clip_norm) - 0.5 * norms.size)
        noisy = centred + self.generator().normal(0.0, self.count_stddev(expected_batch_size))
        fraction = noisy / expected_batch_size + 0.5
        if c.update == "geometric":
            new = self.clip_norm * math.exp(-c.learning_rate * (fraction - c.target_quantile))
        else:
            new = self.clip_norm - c.learning_rate * (fraction - c.target_quantile)
        return max(float(new), c.min_clip_norm)
