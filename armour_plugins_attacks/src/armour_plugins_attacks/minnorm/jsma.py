"""JSMA, the Jacobian-based saliency map attack (Papernot et al., EuroS&P 2016: "The limitations of deep
learning in adversarial settings").

A targeted L0 attack: at every iteration the forward derivative gives, for each feature ``p``,
``α_p = ∂z_t/∂x_p`` (towards the target) and ``β_p = Σ_{j≠t} ∂z_j/∂x_p`` (towards every other class). The
pair of still-modifiable features ``(p, q)`` maximising the saliency

    α·(-β)  with α = α_p + α_q > 0, β = β_p + β_q < 0     (θ > 0: features are increased)
    (-α)·β  with α < 0, β > 0                               (θ < 0: features are decreased)

is changed by ``θ·(hi - lo)`` (clipped to the bounds) and leaves the search domain. A sample stops when it
is classified as the target; at most ``⌊γ·d/2⌋`` pairs are changed, so at most ``γ·d`` features.
Saliencies use the logits (log-probabilities for classifiers that only expose a loss gradient). All
samples and all pairs are scored at once; one backward pass per iteration gives every class gradient.
Without ``target=`` a random target other than the true class is drawn per sample (from ``seed``).
"""

from __future__ import annotations

import numpy as np

from armour_core.api.attack import Attack

from .configs import JSMAConfig
from .scores import class_scores_and_gradients
from .records import RECORDS


class JSMA(Attack):
    """JSMA, targeted, L0 (``theta``, ``gamma``); minimum norm (``eps=None`` by default)."""

    Config = JSMAConfig
    record = RECORDS["jsma"]

    def _generate(self, x: np.ndarray, y: np.ndarray, target: np.ndarray | None) -> np.ndarray:
        cfg, model = self.config, self.model
        lo, hi = model.bounds
        n = x.shape[0]
        c = model.num_classes
        if target is None:
            shift = self.attack_rng().integers(1, c, size=n)
            target = (y + shift) % c
        flat = x.reshape(n, -1).astype(np.float64)
        d = flat.shape[1]
        increase = cfg.theta > 0
        domain = flat < hi if increase else flat > lo
        budget = int(np.floor(cfg.gamma * d / 2.0))
        classes = np.tile(np.arange(c), (n, 1))
        offdiag = ~np.eye(d, dtype=bool)
        for _ in range(budget):
            scores, g = class_scores_and_gradients(model, flat.reshape(x.shape).astype(np.float32), classes)
            live = (scores.argmax(axis=1) != target) & (domain.sum(axis=1) >= 2)
            if not live.any():
                break
            g = g.reshape(n, c, d).astype(np.float32)
            upd = np.flatnonzero(live)
            alpha = g[upd, target[upd]]
            beta = g[upd].sum(axis=1) - alpha
            pick = np.empty(upd.size, dtype=np.int64)
            per = max(1, int(4e6 // (d * d)))  # bound the (rows, d, d) pair tables to ~4e6 entries
            for s0 in range(0, upd.size, per):
                sl = slice(s0, s0 + per)
                pick[sl] = self._best_pairs(alpha[sl], beta[sl], domain[upd[sl]], offdiag, increase)
            p, q = pick // d, pick % d
            step = cfg.theta * (hi - lo)
            for idx in (p, q):
                flat[upd, idx] = np.clip(flat[upd, idx] + step, lo, hi)
                domain[upd, idx] = False
        return flat.reshape(x.shape).astype(x.dtype)

    @staticmethod
    def _best_pairs(alpha, beta, domain, offdiag, increase):
        """Index ``p·d + q`` of the most salient admissible pair per row (falls back to the target term)."""
        n, d = alpha.shape
        if not increase:
            alpha, beta = -alpha, -beta  # decreasing features: the same search with the signs flipped
        a2 = alpha[:, :, None] + alpha[:, None, :]
        b2 = beta[:, :, None] + beta[:, None, :]
        allowed = domain[:, :, None] & domain[:, None, :]
        allowed &= offdiag
        sal = a2 * -b2
        sal[~(allowed & (a2 > 0) & (b2 < 0))] = -np.inf
        sal = sal.reshape(n, d * d)
        best = sal.argmax(axis=1)
        missing = ~np.isfinite(sal[np.arange(n), best])
        if missing.any():  # no pair with the right signs: the pair that moves the target logit most
            a2[~allowed] = -np.inf
            best[missing] = a2[missing].reshape(-1, d * d).argmax(axis=1)
        return best
