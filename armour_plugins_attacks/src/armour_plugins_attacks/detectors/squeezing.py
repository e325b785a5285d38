"""Feature squeezing (Xu, Evans & Qi, NDSS 2018).

Squeezers shrink the input space an adversary can use: bit-depth reduction (each value rounded to one
of ``2^bits`` levels of the data range) and median smoothing (a ``median_size`` window per sample and
channel). An input is scored by the largest L1 distance between the model's probabilities on it and on
each squeezed version; clean inputs barely move, adversarial ones often do. All versions go to the
model in one call.
"""

from __future__ import annotations

import numpy as np

from armour_core.api.detector import Detector

from ._common import l1_distance, median_smooth, probabilities
from .configs import FeatureSqueezingConfig
from .records import RECORDS


def reduce_bit_depth(x: np.ndarray, bits: int, bounds: tuple[float, float]) -> np.ndarray:
    """Round every value to one of ``2**bits`` evenly spaced levels spanning ``bounds``."""
    lo, hi = bounds
    levels = 2 ** bits - 1
    u = np.clip((np.asarray(x, np.float64) - lo) / (hi - lo), 0.0, 1.0)
    return (np.round(u * levels) / levels * (hi - lo) + lo).astype(np.float32)


class FeatureSqueezing(Detector):
    """Max over squeezers of the L1 distance between predictions on x and on the squeezed x."""

    Config = FeatureSqueezingConfig
    record = RECORDS["feature_squeezing"]

    def squeeze(self, x: np.ndarray) -> list[np.ndarray]:
        """The squeezed versions of ``x``, one per configured squeezer."""
        out = []
        if self.config.bit_depth is not None:
            out.append(reduce_bit_depth(x, self.config.bit_depth, self.bounds))
        if self.config.median_size is not None:
            out.append(median_smooth(x, self.config.median_size).astype(np.float32))
        return out

    def _score(self, x: np.ndarray) -> np.ndarray:
        versions = self.squeeze(x)
        p = probabilities(self.model, np.concatenate([x.astype(np.float32), *versions]))
        n = len(x)
        base = p[:n]
        return np.max([l1_distance(base, p[(i + 1) * n:(i + 2) * n]) for i in range(len(versions))], axis=0)
