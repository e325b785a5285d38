"""Per-example clipping-norm policies for DP-SGD (fixed, adaptive)."""

from __future__ import annotations

import abc
from typing import Any, ClassVar

import attrs
import numpy as np

from ..errors import InvalidInputError
from .base import Algorithm, seed_field

@attrs.frozen(kw_only=True)
class ClipConfig:
    clip_norm: float = attrs.field(default=1.0, validator=attrs.validators.gt(0.0))
    seed: int | None = seed_field()


class ClipMechanism(Algorithm, abc.ABC):
    """Per-example clipping-norm policy: ``clip_norm`` now, ``update(norms)`` after each step."""

    Config: ClassVar[type] = ClipConfig

    def __init__(self, **config: Any):
        super().__init__(**config)
        self.clip_norm = float(self.config.clip_norm)

    def update(self, per_example_norms: Any) -> float:
        """Fold one step's per-example gradient norms into the policy; returns the next clip norm."""
        norms = np.asarray(per_example_norms, dtype=np.float64).ravel()
        if norms.size == 0 or not np.all(np.isfinite(norms)) or norms.min() < 0:
            raise InvalidInputError("per_example_norms: expected a non-empty array of finite norms >= 0")
        self.clip_norm = float(self._update(norms))
        return self.clip_norm

    def _update(self, norms: np.ndarray) -> float:
        return self.clip_norm
