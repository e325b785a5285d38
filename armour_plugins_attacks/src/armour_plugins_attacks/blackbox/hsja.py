"""HopSkipJumpAttack (Chen, Jordan & Wainwright, IEEE S&P 2020): a decision-based minimum-norm attack.

Only the model's top-1 decision is used. From an adversarial starting point the attack repeats:

1. *bisection* along the segment (L2) or the L∞ box (L∞) between the original input and the current
   point, which lands just on the adversarial side of the decision boundary;
2. *gradient-direction estimation* at that boundary point by Monte-Carlo: the sign of the decision at
   ``x_b + delta * u`` for random unit vectors ``u``, with a baseline subtracted (the paper's variance
   reduction);
3. a *geometric step-size search* along the estimate (L∞ uses its sign), from ``dist / sqrt(t)``
   halved until the point is adversarial again.

Labels mean what they mean everywhere in armour: ``y`` are the true labels (the decision is "not
``y``"); a targeted attack takes ``target=`` (the decision is "``target``"). A sample that is already
adversarial needs no perturbation; every other sample starts from uniform noise (or from
``starting_points=``) and reports success only once a perturbed point crosses the boundary.
"""

from __future__ import annotations

import numpy as np

from armour_core.api.batching import MAX_CALL_ELEMENTS

from .oracle import QueryOracle, StartingPointAttack, row_norms
from .configs import HopSkipJumpConfig
from .records import RECORDS


class HopSkipJump(StartingPointAttack):
    """HopSkipJumpAttack, L2 and L∞, untargeted and targeted (``target=``), decision-based."""

    Config = HopSkipJumpConfig
    record = RECORDS["hsja"]

    # ------------------------------------------------------------------ geometry
    def _theta(self, d: int) -> float:
        cfg = self.config
        return cfg.gamma / (d ** 1.5) if cfg.norm == "l2" else cfg.gamma / (d ** 2)

    def _toward(self, x: np.ndarray, p: np.ndarray, alpha: np.ndarray) -> np.ndarray:
        """The point at parameter ``alpha`` between ``x`` (alpha = 0) and ``p`` (L2: blend factor in
        [0, 1]; L∞: box radius around ``x``)."""
        a = alpha[:, None]
        if self.config.norm == "l2":
            out = (1.0 - a) * x.astype(np.float64) + a * p.astype(np.float64)
        else:
            out = np.clip(p.astype(np.float64), x - a, x + a)
        return self._clip(out)

    def _bisect(self, orc: QueryOracle, x: np.ndarray, p: np.ndarray, owner: np.ndarray,
                theta: float) -> np.ndarray:
        """Boundary points between each ``x`` (not adversarial) and ``p`` (adversarial).

        Every returned point was either given in ``p`` or evaluated as adversarial; a sample whose
        budget runs out keeps the closest adversarial point found so far.
        """
        if self.config.norm == "l2":
            high = np.ones(len(x))
            tol = np.full(len(x), theta)
        else:
            high = row_norms(p.astype(np.float64) - x, "linf")
            tol = np.minimum(high * theta, theta)
        low = np.zeros(len(x))
        best = p.copy()
        while True:
            live = ((high - low) > tol) & (orc.remaining()[owner] >= 1)
            if not live.any():
                return best
            i = np.flatnonzero(live)
            mid = (high[i] + low[i]) / 2.0
            pts = self._toward(x[i], p[i], mid)
            ok = orc.decide(pts, owner[i])
            high[i[ok]] = mid[ok]
            best[i[ok]] = pts[ok]
            low[i[~ok]] = mid[~ok]

    def _bisect_cost(self, theta: float) -> int:
        """Upper bound on the queries of one bisection."""
        return int(np.ceil(np.log2(1.0 / theta))) + 2

    def _estimate_direction(self, orc: QueryOracle, xb: np.ndarray, owner: np.ndarray, evals: np.ndarray,
                            delta: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Monte-Carlo estimate of the boundary normal at each ``xb`` (unit L2 norm) from ``evals[i]``
        decisions per sample, evaluated for the whole group in one call."""
        n, d = xb.shape
        k = int(evals.max())
        lo, hi = self.bounds
        if self.config.norm == "l2":
            u = rng.standard_normal((n, k, d))
        else:
            u = rng.uniform(-1.0, 1.0, size=(n, k, d))
        u /= np.maximum(np.sqrt((u * u).sum(axis=2, keepdims=True)), 1e-12)
        valid = np.arange(k)[None, :] < evals[:, None]
        pts = np.clip(xb[:, None, :].astype(np.float64) + delta[:, None, None] * u, lo, hi).astype(np.float32)
        dirs = (pts.astype(np.float64) - xb[:, None, :]) / delta[:, None, None]  # directions after clipping
        decision = np.zeros((n, k))
        decision[valid] = np.where(orc.decide(pts[valid], np.repeat(owner, evals)), 1.0, -1.0)
        count = evals.astype(np.float64)
        mean = decision.sum(axis=1) / count
        # baseline subtraction (variance reduction); when all decisions agree, keep their sign
        mixed = np.abs(mean) < 1.0
        weights = np.where(mixed[:, None], decision - mean[:, None], decision) * valid
        grad = (weights[:, :, None] * dirs).sum(axis=1) / count[:, None]
        return grad / np.maximum(np.sqrt((grad * grad).sum(axis=1, keepdims=True)), 1e-12)

    # ------------------------------------------------------------------ the attack
    def _starting(self, orc: QueryOracle, x: np.ndarray, labels: np.ndarray, needed: np.ndarray,
                  rng: np.random.Generator):
        """Adversarial starting points: given ones, then (targeted) batch members already labelled as the
        target, then uniform noise."""
        d = x.shape[1]
        start, found = self._given_starts(orc, self._x_batch, x, labels, needed)
        lo, hi = self.bounds
        for _ in range(self.config.init_tries):
            i = np.flatnonzero(needed & ~found & (orc.remaining() >= 1))
            if i.size == 0:
                break
            cand = self._clip(rng.uniform(lo, hi, size=(i.size, d)))
            ok = orc.decide(cand, i)
            start[i[ok]] = cand[ok]
            found[i[ok]] = True
        return start, found

    def _generate(self, x: np.ndarray, y: np.ndarray, target: np.ndarray | None) -> np.ndarray:
        cfg = self.config
        rng = self.attack_rng()
        self._x_batch = x
        xf = self._flat(x)
        n, d = xf.shape
        orc = self._oracle(x, y, target)
        everyone = np.arange(n)
        labels = orc.labels_of(xf, everyone)
        already = orc.is_adversarial_label(labels, everyone)  # adversarial without any perturbation
        best = xf.copy()
        best_dist = np.where(already, 0.0, np.inf)
        start, found = self._starting(orc, xf, labels, ~already, rng)
        theta = self._theta(d)
        bisect_cost = self._bisect_cost(theta)

        cur = xf.copy()
        i = np.flatnonzero(found)
        if i.size:
            cur[i] = self._bisect(orc, xf[i], start[i], i, theta)
        dist = row_norms(cur.astype(np.float64) - xf, cfg.norm)
        improve = found & (dist < best_dist)
        best[improve], best_dist[improve] = cur[improve], dist[improve]
        active = found.copy()
        lo, hi = self.bounds

        for t in range(1, cfg.max_iter + 1):
            if cfg.eps is not None:
                active &= best_dist > cfg.eps
            evals = np.minimum(int(min(cfg.init_evals * np.sqrt(t), cfg.max_evals)),
                               orc.remaining() - bisect_cost - 1)
            active &= evals >= 2  # too few queries left for a meaningful estimate
            i = np.flatnonzero(active)
            if i.size == 0:
                break
            if t == 1:
                delta = np.full(i.size, 0.1 * (hi - lo))
            else:
                scale = np.sqrt(d) * theta if cfg.norm == "l2" else d * theta
                delta = np.maximum(scale * dist[i], 1e-7 * (hi - lo))
            grad = np.empty((i.size, d))
            group = max(1, MAX_CALL_ELEMENTS // max(1, int(evals[i].max()) * d))
            for g in range(0, i.size, group):
                sl = slice(g, g + group)
                grad[sl] = self._estimate_direction(orc, cur[i[sl]], i[sl], evals[i[sl]], delta[sl], rng)
            update = grad if cfg.norm == "l2" else np.sign(grad)

            # geometric step-size search: halve from dist / sqrt(t) until adversarial again
            step = dist[i] / np.sqrt(t)
            cand = cur[i].copy()
            pending = np.ones(i.size, dtype=bool)
            for _ in range(cfg.max_step_halvings):
                live = np.flatnonzero(pending & (orc.remaining()[i] > bisect_cost))
                if live.size == 0:
                    break
                pts = self._clip(cur[i[live]].astype(np.float64) + step[live, None] * update[live])
                ok = orc.decide(pts, i[live])
                cand[live[ok]] = pts[ok]
                pending[live[ok]] = False
                step[live[~ok]] /= 2.0
            moved = ~pending
            j = i[moved]
            if j.size:
                cur[j] = self._bisect(orc, xf[j], cand[moved], j, theta)
                dist[j] = row_norms(cur[j].astype(np.float64) - xf[j], cfg.norm)
                better = dist[j] < best_dist[j]
                best[j[better]], best_dist[j[better]] = cur[j[better]], dist[j[better]]
        return best.reshape(x.shape)
