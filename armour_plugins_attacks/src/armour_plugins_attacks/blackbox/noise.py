"""Salt-and-pepper noise attack: decision-based search for the sparsest impulse noise that changes the
decision.

For densities ``p = 1/steps, 2/steps, ..., 1`` each sample's input gets every coordinate replaced with
probability ``p``: half of those by the lower bound ("pepper"), half by the upper bound ("salt"). The
first density that changes the decision ends a repetition; the next repetition searches only up to 1.2
times that density, and the smallest perturbation (in the configured norm) over all repetitions is
kept. Every sample of the batch queries the same density level in one forward call. Noise is drawn per
coordinate (per channel for images).
"""

from __future__ import annotations

import numpy as np

from .oracle import BlackBoxAttack, QueryOracle, row_norms
from .configs import SaltAndPepperConfig
from .records import RECORDS


def salt_and_pepper_search(orc: QueryOracle, xf: np.ndarray, needed: np.ndarray, *, steps: int,
                           repetitions: int, budget: int, norm: str, bounds: tuple[float, float],
                           rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Best salt-and-pepper adversarial point per sample among ``needed`` (and which samples found one),
    using at most ``budget`` queries per sample (fewer when the oracle's remaining budget is smaller)."""
    n, d = xf.shape
    lo, hi = (np.float32(b) for b in bounds)
    best = xf.copy()
    best_norm = np.full(n, np.inf)
    found = np.zeros(n, dtype=bool)
    spent = np.zeros(n, dtype=np.int64)
    top = np.ones(n)
    for _ in range(repetitions):
        live = needed.copy()
        for s in range(1, steps + 1):
            live &= (orc.remaining() >= 1) & (spent < budget)
            i = np.flatnonzero(live)
            if i.size == 0:
                break
            p = (s / steps) * top[i]
            u = rng.random((i.size, d))
            cand = xf[i].copy()
            cand[u < (p / 2.0)[:, None]] = lo
            cand[u >= (1.0 - p / 2.0)[:, None]] = hi
            ok = orc.decide(cand, i)
            spent[i] += 1
            hit = i[ok]
            size = row_norms(cand[ok].astype(np.float64) - xf[hit], norm)
            better = size < best_norm[hit]
            best[hit[better]] = cand[ok][better]
            best_norm[hit[better]] = size[better]
            found[hit] = True
            top[hit] = np.minimum(1.0, p[ok] * 1.2)
            live[hit] = False
        if not np.any(needed & (orc.remaining() >= 1) & (spent < budget)):
            break
    return best, found


class SaltAndPepper(BlackBoxAttack):
    """Salt-and-pepper noise attack (L0, L2 or L∞ decides which success is kept), untargeted,
    decision-based."""

    Config = SaltAndPepperConfig
    record = RECORDS["salt_and_pepper"]

    def _generate(self, x: np.ndarray, y: np.ndarray, target: np.ndarray | None) -> np.ndarray:
        cfg = self.config
        xf = self._flat(x)
        orc = self._oracle(x, y, target)
        already = orc.decide(xf, np.arange(len(xf)))
        best, _ = salt_and_pepper_search(orc, xf, ~already, steps=cfg.steps, repetitions=cfg.repetitions,
                                         budget=cfg.max_queries, norm=cfg.norm, bounds=self.bounds,
                                         rng=self.attack_rng())
        return best.reshape(x.shape)
