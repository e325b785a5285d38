"""Configuration of randomized smoothing (light: attrs only)."""

from __future__ import annotations

import attrs
from armour_core.api.base import seed_field
from armour_core.api.validators import int_field, positive_field, unit_field


@attrs.frozen(kw_only=True)
class SmoothingConfig:
    """Randomized smoothing (Cohen, Rosenfeld & Kolter 2019).

    ``sigma``: standard deviation of the Gaussian noise, in input units (the base classifier should be trained
    with the same noise: :func:`~armour_plugins_attacks.certified.training.train_with_noise`). ``n0``: noise
    samples that select the top class; ``n``: samples that estimate its probability (PREDICT uses ``n``);
    ``alpha``: the probability that a returned answer is wrong. The paper's ImageNet/CIFAR settings are
    ``n0=100, n=100_000, alpha=0.001``; ``n=10_000`` here keeps the default affordable: the largest radius
    ``n`` samples can certify is ``sigma * Φ⁻¹(alpha ** (1 / n))``, at α = 0.001 about 1.5σ, 2.5σ, 3.2σ and
    3.8σ for ``n`` = 100, 1,000, 10,000 and 100,000. ``batch_size``: noisy inputs per forward pass.
    """

    sigma: float = positive_field(0.25)
    n0: int = int_field(100)
    n: int = int_field(10_000)
    alpha: float = unit_field(0.001, low_closed=False, high_closed=False)
    batch_size: int = int_field(1000)
    seed: int | None = seed_field()
