"""NES attack (Ilyas, Engstrom, Athalye & Lin, ICML 2018): projected gradient ascent on a loss whose
gradient is estimated from scores alone with natural evolution strategies.

The estimate uses antithetic Gaussian sampling: for ``u_1..u_n ~ N(0, I)``

    g = 1 / (2 n sigma) * sum_i [L(x + sigma u_i) - L(x - sigma u_i)] u_i,

an estimate of the gradient of the Gaussian-smoothed loss. ``g`` is averaged with momentum and drives a
PGD step (``sign(g)`` for L∞, ``g / ||g||`` for L2) followed by the projection onto the ε-ball and the
bounds. Each iteration costs ``2 n + 1`` queries per sample (the population and the current iterate,
evaluated in one forward call); a sample stops as soon as its iterate is adversarial.
"""

from __future__ import annotations

import numpy as np

from .oracle import BlackBoxAttack
from .configs import NESConfig
from .records import RECORDS


class NES(BlackBoxAttack):
    """NES gradient estimation + PGD, L∞ and L2, untargeted and targeted, score-based."""

    Config = NESConfig
    record = RECORDS["nes"]

    def _generate(self, x: np.ndarray, y: np.ndarray, target: np.ndarray | None) -> np.ndarray:
        cfg = self.config
        rng = self.attack_rng()
        xf = self._flat(x)
        n, d = xf.shape
        orc = self._oracle(x, y, target)
        objective = orc.cross_entropy if cfg.loss == "ce" else orc.margin
        step = cfg.step_size if cfg.step_size is not None else cfg.eps / 10.0
        half = cfg.samples
        per_iter = 2 * half + 1
        lo, hi = self.bounds
        adv = xf.copy()
        momentum = np.zeros((n, d))
        active = np.ones(n, dtype=bool)
        while True:
            active &= orc.remaining() >= per_iter
            i = np.flatnonzero(active)
            if i.size == 0:
                break
            u = rng.standard_normal((i.size, half, d))
            centre = adv[i].astype(np.float64)[:, None, :]
            plus = np.clip(centre + cfg.sigma * u, lo, hi)
            minus = np.clip(centre - cfg.sigma * u, lo, hi)
            rows = np.concatenate([adv[i][:, None, :], plus.astype(np.float32), minus.astype(np.float32)], axis=1)
            owner = np.repeat(i, per_iter)
            logits = orc.logits(rows.reshape(-1, d), owner)
            done = orc.is_adversarial(logits, owner).reshape(i.size, per_iter)[:, 0]
            values = objective(logits, owner).reshape(i.size, per_iter)
            diff = values[:, 1:1 + half] - values[:, 1 + half:]
            grad = (diff[:, :, None] * u).sum(axis=1) / (2.0 * half * cfg.sigma)
            active[i[done]] = False
            keep = ~done
            j = i[keep]
            momentum[j] = cfg.momentum * momentum[j] + (1.0 - cfg.momentum) * grad[keep]
            g = momentum[j]
            if cfg.norm == "linf":
                move = step * np.sign(g)
            else:
                move = step * g / np.maximum(np.sqrt((g * g).sum(axis=1, keepdims=True)), 1e-12)
            adv[j] = self._project(adv[j].astype(np.float64) + move, xf[j])
        return adv.reshape(x.shape)
