"""Per-example clipping-norm policies for DP-SGD (fixed, adaptive)."""

from __future__ import annotations

from typing import Any, ClassVar

import attrs
import numpy as np

from ..errors import InvalidInputError
from .base import Algorithm, seed_field
from .validators import positive_field


@attrs.frozen(kw_only=True)
class ClipConfig:
    clip_norm: float = positive_field(1.0)
    seed: int | None = seed_field()


class ClipMechanism(Algorithm):
    """Per-example clipping-norm policy: ``clip_norm`` now, ``update(norms)`` after each step.

    A policy that looks at the data (adaptive clipping) spends privacy on it; it says how through
    :meth:`gradient_noise_multiplier`: the noise multiplier the *gradient* must use so that gradient and
    clip statistic together cost no more than a Gaussian mechanism with the requested multiplier.
    """

    Config: ClassVar[type] = ClipConfig
    adaptive: ClassVar[bool] = False

    def __init__(self, **config: Any):
        super().__init__(**config)
        self.clip_norm = float(self.config.clip_norm)
        self._gen: np.random.Generator | None = None

    def reseed(self, *stream: int) -> None:
        """Restart the policy's generator on a stream derived from ``seed`` (once per training session)."""
        self._gen = self.rng(*stream)

    def generator(self) -> np.random.Generator:
        if self._gen is None:
            self._gen = self.rng()
        return self._gen

    def gradient_noise_multiplier(self, noise_multiplier: float, expected_batch_size: float) -> float:
        """The gradient's share of ``noise_multiplier`` (all of it unless the policy spends privacy)."""
        return float(noise_multiplier)

    def update(self, per_example_norms: Any, *, expected_batch_size: float | None = None) -> float:
        """Fold one step's per-example gradient norms into the policy; returns the next clip norm.

        ``expected_batch_size`` normalises the noisy count of a Poisson batch (its true size is private).
        """
        norms = np.asarray(per_example_norms, dtype=np.float64).ravel()
        if not np.all(np.isfinite(norms)) or (norms.size and norms.min() < 0):
            raise InvalidInputError("per_example_norms: expected an array of finite norms >= 0")
        if expected_batch_size is None:
            expected_batch_size = float(max(norms.size, 1))
        if not expected_batch_size > 0:
            raise InvalidInputError(f"expected_batch_size must be > 0, got {expected_batch_size!r}")
        self.clip_norm = float(self._update(norms, float(expected_batch_size)))
        return self.clip_norm

    def _update(self, norms: np.ndarray, expected_batch_size: float) -> float:
        return self.clip_norm
