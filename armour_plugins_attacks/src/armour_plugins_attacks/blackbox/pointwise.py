"""Pointwise attack (Schott, Rauber, Bethge & Brendel, ICLR 2019): decision-based L0 minimisation.

1. Start from an adversarial point: ``starting_points=`` if given, for targeted attacks a batch member
   already labelled as the target, otherwise salt-and-pepper noise (budget: ``init_queries``).
2. *Reset phase*: visit the perturbed coordinates in random order and reset each to its original value
   whenever the input stays adversarial; repeat passes until a pass resets nothing. The result is
   locally L0-minimal: no single remaining coordinate can be reset.
3. *Refinement* (``refine=True``): for every coordinate still perturbed, bisect between its original
   and its adversarial value (``search_steps`` steps) and keep the value closest to the original that
   stays adversarial, which shrinks the L2 size without changing the L0 count.

The batch is processed in lockstep: at each step every sample tests one of its own coordinates, and all
those candidates go to the model in one forward call.
"""

from __future__ import annotations

import numpy as np

from .oracle import QueryOracle, StartingPointAttack
from .noise import salt_and_pepper_search
from .configs import PointwiseConfig
from .records import RECORDS


class Pointwise(StartingPointAttack):
    """Pointwise attack, L0, untargeted and targeted, decision-based."""

    Config = PointwiseConfig
    record = RECORDS["pointwise"]

    def _generate(self, x: np.ndarray, y: np.ndarray, target: np.ndarray | None) -> np.ndarray:
        cfg = self.config
        rng = self.attack_rng()
        xf = self._flat(x)
        n = xf.shape[0]
        orc = self._oracle(x, y, target)
        labels = orc.labels_of(xf, np.arange(n))
        already = orc.is_adversarial_label(labels, np.arange(n))
        adv, found = self._given_starts(orc, x, xf, labels, ~already)
        steps = min(100, cfg.init_queries)
        noisy, got = salt_and_pepper_search(
            orc, xf, ~already & ~found, steps=steps, repetitions=max(1, cfg.init_queries // steps),
            budget=cfg.init_queries, norm="l0", bounds=self.bounds, rng=rng)
        adv[got] = noisy[got]
        found |= got
        self._reset_phase(orc, xf, adv, found, rng)
        if cfg.refine:
            self._refine_phase(orc, xf, adv, found, rng)
        return adv.reshape(x.shape)

    @staticmethod
    def _orders(xf: np.ndarray, adv: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Per sample: its perturbed coordinates first, in random order, and how many there are."""
        diff = adv != xf
        keys = rng.random(diff.shape) + 2.0 * ~diff
        return np.argsort(keys, axis=1), diff.sum(axis=1)

    def _reset_phase(self, orc: QueryOracle, xf: np.ndarray, adv: np.ndarray, active: np.ndarray,
                     rng: np.random.Generator) -> None:
        active = active.copy()
        while True:
            active &= orc.remaining() >= 1
            if not active.any():
                return
            order, count = self._orders(xf, adv, rng)
            changed = np.zeros(len(xf), dtype=bool)
            for k in range(int(count[active].max(initial=0))):
                i = np.flatnonzero(active & (k < count) & (orc.remaining() >= 1))
                if i.size == 0:
                    break
                j = order[i, k]
                cand = adv[i].copy()
                cand[np.arange(i.size), j] = xf[i, j]
                ok = orc.decide(cand, i)
                adv[i[ok]] = cand[ok]
                changed[i[ok]] = True
            active &= changed

    def _refine_phase(self, orc: QueryOracle, xf: np.ndarray, adv: np.ndarray, active: np.ndarray,
                      rng: np.random.Generator) -> None:
        order, count = self._orders(xf, adv, rng)
        for k in range(int(count[active].max(initial=0))):
            i = np.flatnonzero(active & (k < count) & (orc.remaining() >= 1))
            if i.size == 0:
                return
            j = order[i, k]
            rows = np.arange(i.size)
            orig = xf[i, j].astype(np.float64)
            low = np.zeros(i.size)  # fraction of the way from the original value: 0 is not adversarial
            high = np.ones(i.size)  # 1 (the current value) is adversarial
            best = adv[i, j].copy()
            for _ in range(self.config.search_steps):
                live = np.flatnonzero(orc.remaining()[i] >= 1)
                if live.size == 0:
                    break
                mid = (low[live] + high[live]) / 2.0
                value = (orig[live] + mid * (adv[i[live], j[live]].astype(np.float64) - orig[live])).astype(np.float32)
                cand = adv[i[live]].copy()
                cand[rows[: live.size], j[live]] = value
                ok = orc.decide(cand, i[live])
                high[live[ok]] = mid[ok]
                best[live[ok]] = value[ok]
                low[live[~ok]] = mid[~ok]
            adv[i, j] = best
