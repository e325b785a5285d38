"""Suppress-privacy policies: which weights to zero at a given sparsity.

A suppressor answers one question, ``masks(weights, sparsity)``: for each layer, a boolean mask (True =
keep) suppressing exactly ``round(s_l * size_l)`` entries, where the per-layer sparsity ``s_l`` is the
requested one (uniform), a per-layer dict, or an allocation the policy computes from a global budget
(``_allocate``). The schedule (when to mask, how sparse) belongs to
:class:`armour_plugins_privacy.suppress.model.SuppressCtrl`; the policy only ranks weights.
"""

from __future__ import annotations

import abc
import math
from typing import Any, ClassVar

import attrs
import numpy as np

from ..errors import InvalidInputError
from .arrays import to_numpy
from .base import Algorithm, seed_field


@attrs.frozen(kw_only=True)
class SuppressorConfig:
    seed: int | None = seed_field()


def check_sparsity(value: Any, name: str = "sparsity") -> float:
    """A sparsity in [0, 1) (1 would suppress a whole layer)."""
    try:
        s = float(value)
    except (TypeError, ValueError):
        raise InvalidInputError(f"{name}: expected a number in [0, 1), got {value!r}") from None
    if not (math.isfinite(s) and 0.0 <= s < 1.0):
        raise InvalidInputError(f"{name}: expected a sparsity in [0, 1), got {value!r}")
    return s


def mask_sparsity(masks: dict[str, np.ndarray]) -> dict[str, float]:
    """Fraction of suppressed entries per layer, plus ``"__all__"`` over every layer."""
    out = {name: float(1.0 - np.count_nonzero(m) / m.size) for name, m in masks.items()}
    total = sum(m.size for m in masks.values())
    out["__all__"] = float(sum(m.size - np.count_nonzero(m) for m in masks.values()) / total) if total else 0.0
    return out


class Suppressor(Algorithm, abc.ABC):
    """Chooses which weights to zero: ``masks(weights, sparsity)`` keeps the most important entries of each
    layer, importance coming from ``_importance`` and per-layer sparsity from ``_allocate``."""

    Config: ClassVar[type] = SuppressorConfig

    def masks(self, weights: dict[str, Any], sparsity: float | dict[str, float], *, step: int = 0,
              min_keep: dict[str, int] | None = None) -> dict[str, np.ndarray]:
        """Boolean keep-masks per layer.

        Args:
            weights: layer name -> weight array (numpy or Tensor).
            sparsity: one sparsity in [0, 1) (the policy may allocate it across layers) or a dict giving
                each layer's sparsity.
            step: training step (policies whose choice changes over time may use it).
            min_keep: layer name -> number of entries that must survive (MindArmour's ``min_num``).
        """
        if not isinstance(weights, dict) or not weights:
            raise InvalidInputError("weights: expected a dict with at least one layer name -> array")
        arrays = {}
        for name, w in weights.items():
            a = np.asarray(to_numpy(w, f"weights[{name!r}]"), dtype=np.float64)
            if a.size == 0:
                raise InvalidInputError(f"weights[{name!r}]: empty array")
            if not np.all(np.isfinite(a)):
                raise InvalidInputError(f"weights[{name!r}]: contains NaN or infinite values")
            arrays[name] = a
        if isinstance(sparsity, dict):
            unknown = sorted(set(sparsity) - set(arrays))
            missing = sorted(set(arrays) - set(sparsity))
            if unknown or missing:
                raise InvalidInputError(f"sparsity: per-layer dict must name exactly the layers of weights "
                                        f"(unknown {unknown}, missing {missing})")
            per_layer = {n: check_sparsity(s, f"sparsity[{n!r}]") for n, s in sparsity.items()}
        else:
            per_layer = self._allocate(arrays, check_sparsity(sparsity))
        min_keep = dict(min_keep or {})
        for name, k in min_keep.items():
            if name not in arrays:
                raise InvalidInputError(f"min_keep: unknown layer {name!r}; layers: {sorted(arrays)}")
            if not isinstance(k, (int, np.integer)) or k < 0:
                raise InvalidInputError(f"min_keep[{name!r}]: expected an int >= 0, got {k!r}")
        rng = self.rng(step)
        out = {}
        for name, w in arrays.items():
            imp = np.asarray(self._importance(name, w, rng), dtype=np.float64).ravel()
            if imp.size != w.size:
                raise InvalidInputError(f"{type(self).__name__}._importance returned {imp.size} values for "
                                        f"layer {name!r} of size {w.size}")
            k = int(round(per_layer[name] * imp.size))
            k = max(0, min(k, imp.size - max(int(min_keep.get(name, 0)), 1)))
            keep = np.ones(imp.size, dtype=bool)
            if k:
                keep[np.argsort(imp, kind="stable")[:k]] = False
            out[name] = keep.reshape(w.shape)
        return out

    def _allocate(self, weights: dict[str, np.ndarray], sparsity: float) -> dict[str, float]:
        """Per-layer sparsity for a global ``sparsity`` (default: the same for every layer)."""
        return {name: sparsity for name in weights}

    @abc.abstractmethod
    def _importance(self, name: str, weight: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Importance of each entry of ``weight`` (the least important are suppressed first)."""
