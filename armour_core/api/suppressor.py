"""Suppress-privacy policies: which weights to zero at a given sparsity."""

from __future__ import annotations

import abc
from typing import Any, ClassVar

import attrs
import numpy as np

from ..errors import InvalidInputError
from .base import Algorithm, seed_field

@attrs.frozen(kw_only=True)
class SuppressorConfig:
    seed: int | None = seed_field()


class Suppressor(Algorithm, abc.ABC):
    """Chooses which weights to zero: ``masks(weights, sparsity)`` keeps the (1 - sparsity) most important
    entries of each layer, importance coming from ``_importance``."""

    Config: ClassVar[type] = SuppressorConfig

    def masks(self, weights: dict[str, Any], sparsity: float | dict[str, float], *,
              step: int = 0) -> dict[str, np.ndarray]:
        if not weights:
            raise InvalidInputError("weights: expected at least one layer")
        out = {}
        rng = self.rng(step)
        for name, w in weights.items():
            s = sparsity[name] if isinstance(sparsity, dict) else sparsity
            if not 0.0 <= float(s) < 1.0:
                raise InvalidInputError(f"sparsity for {name!r} must lie in [0, 1), got {s!r}")
            w = np.asarray(w, dtype=np.float64)
            imp = np.asarray(self._importance(name, w, rng), dtype=np.float64).ravel()
            k = int(round(float(s) * imp.size))
            keep = np.ones(imp.size, dtype=bool)
            if k:
                keep[np.argsort(imp, kind="stable")[:k]] = False
            out[name] = keep.reshape(w.shape)
        return out

    @abc.abstractmethod
    def _importance(self, name: str, weight: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Importance of each entry of ``weight`` (the least important are suppressed first)."""
