"""Suppress-privacy policies (kind ``suppressor``): which weights a suppress step zeroes.

* ``magnitude``: MindArmour's policy, the smallest |w| of each layer (Zhu & Gupta's gradual magnitude
  pruning, whose cubic schedule :class:`~armour_plugins_privacy.suppress.model.SuppressCtrl` applies).
* ``random``: a seeded random subset; each layer's ranking is fixed for the whole run, so masks are nested
  as sparsity grows (a suppressed weight never comes back) — the control to compare magnitude against.
* ``layerwise``: LAMP (Lee et al., ICLR 2021, "Layer-adaptive sparsity for the magnitude-based pruning"):
  a global budget split across layers by the LAMP score w_u^2 / sum_{|w_v| >= |w_u|} w_v^2, which
  compares weights of layers of different scale and always leaves each layer its largest weight.
"""

from __future__ import annotations

import zlib

import numpy as np

from armour_core.api.suppressor import Suppressor


class MagnitudeSuppressor(Suppressor):
    """Suppress the smallest-magnitude weights of each layer."""

    def _importance(self, name, weight, rng):
        return np.abs(weight)


class RandomSuppressor(Suppressor):
    """Suppress a random subset; the ranking of each layer depends only on ``seed`` and the layer name."""

    def _importance(self, name, weight, rng):
        return self.rng(zlib.crc32(name.encode())).random(weight.size)


def lamp_scores(weight: np.ndarray) -> np.ndarray:
    """LAMP score of each entry: w_u^2 / (sum of w_v^2 over entries at least as large), in [0, 1]."""
    sq = np.asarray(weight, dtype=np.float64).ravel() ** 2
    order = np.argsort(sq, kind="stable")
    sorted_sq = sq[order]
    tail = np.cumsum(sorted_sq[::-1])[::-1]  # sum over v >= u in ascending order
    scores = np.empty_like(sq)
    scores[order] = np.divide(sorted_sq, tail, out=np.zeros_like(sorted_sq), where=tail > 0)
    scores[order[-1]] = 1.0  # the largest entry of a layer always survives
    return scores


class LayerwiseSuppressor(Suppressor):
    """LAMP: one global threshold on LAMP scores sets each layer's sparsity."""

    def _importance(self, name, weight, rng):
        return lamp_scores(weight)

    def _allocate(self, weights, sparsity):
        names = list(weights)
        scores = [lamp_scores(weights[n]) for n in names]
        sizes = np.array([s.size for s in scores])
        total = int(sizes.sum())
        k = int(round(sparsity * total))
        if k == 0:
            return {n: 0.0 for n in names}
        allscores = np.concatenate(scores)
        owner = np.repeat(np.arange(len(names)), sizes)
        # the k lowest LAMP scores overall (ties broken by layer order, then position: deterministic)
        chosen = np.argsort(allscores, kind="stable")[:k]
        counts = np.bincount(owner[chosen], minlength=len(names))
        counts = np.minimum(counts, sizes - 1)
        return {n: float(c / s) for n, c, s in zip(names, counts, sizes)}
