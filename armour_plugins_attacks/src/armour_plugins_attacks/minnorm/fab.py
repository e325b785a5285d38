"""FAB, the fast adaptive boundary attack (Croce & Hein, ICML 2020: "Minimally distorted adversarial
examples with a fast adaptive boundary attack").

At the iterate ``x_i`` every boundary ``z_k - z_y = 0`` is linearised (one backward pass for all classes,
:mod:`.scores`) and the closest one in the attack norm is chosen. ``x_i`` and the original point
``x`` are both projected onto that hyperplane *inside the box* (exact, :mod:`.projection`),
giving ``δ_i`` and ``δ_0``; the next iterate is the biased combination

    x_{i+1} = clip((1 - α)(x_i + η δ_i) + α (x + η δ_0)),   α = min(||δ_i|| / (||δ_i|| + ||δ_0||), α_max),

which keeps the iterate near the original point. Once ``x_{i+1}`` is adversarial it is recorded if it
is the smallest found, then pulled back towards ``x``: ``x_{i+1} ← (1 - β) x + β x_{i+1}``. Later restarts
begin at a random point at half the best distance (or ``eps`` / ``init_radius``) from ``x``.

Targeted (``target=t``): the boundary between ``t`` and the strongest other class is followed, success
means predicted ``t``. FAB-T (``target_classes = k``, AutoAttack's member) follows the boundary between the
true class and each of the ``k`` most likely other classes in turn, success meaning misclassification.
"""

from __future__ import annotations

import numpy as np

from armour_core.api.attack import Attack
from armour_core.api.norms import lp_norm

from .configs import FABConfig, FABTConfig
from .deepfool import dual_norm, top_other_classes
from .scores import difference_gradients
from .projection import project_onto_hyperplane
from .records import RECORDS


class FAB(Attack):
    """FAB, L∞ and L2, untargeted / targeted / FAB-T, minimum norm (``eps=None`` by default)."""

    Config = FABConfig
    record = RECORDS["fab"]

    def _generate(self, x: np.ndarray, y: np.ndarray, target: np.ndarray | None) -> np.ndarray:
        adv, _ = self.attack_rows(x, y, target, np.ones(len(x), dtype=bool))
        return adv

    def attack_rows(self, x: np.ndarray, y: np.ndarray, target: np.ndarray | None, active: np.ndarray
                    ) -> tuple[np.ndarray, np.ndarray]:
        """Attack the rows where ``active`` holds; returns the batch (other rows unchanged) and success."""
        cfg, model = self.config, self.model
        n = len(x)
        flat = x.reshape(n, -1).astype(np.float64)
        best = flat.copy()
        best_norm = np.full(n, np.inf)
        pred0 = np.asarray(model.predict(x))
        already = (pred0 == target) if target is not None else (pred0 != y)
        best_norm[already] = 0.0
        rng = self.attack_rng()
        if target is not None:
            plans = [(target, "explicit")]
        elif cfg.target_classes:
            others = top_other_classes(np.asarray(model.logits(x)), y, cfg.target_classes)
            plans = [(others[:, j], "pair") for j in range(others.shape[1])]
        else:
            plans = [(None, "nearest")]
        for tgt, mode in plans:
            for r in range(cfg.restarts):
                noise = rng.uniform(-1.0, 1.0, size=flat.shape) if r > 0 else None  # drawn for every row
                rows = np.flatnonzero(active & ~already) if mode != "pair" else np.flatnonzero(
                    active & ~already & ~np.isfinite(best_norm))
                if rows.size == 0:
                    break
                self._descend(x, flat, y, tgt, mode, rows, noise, best, best_norm)
        found = np.isfinite(best_norm)
        return best.reshape(x.shape).astype(x.dtype), found

    def _start(self, flat, rows, noise, best_norm):
        lo, hi = self.model.bounds
        x0 = flat[rows]
        if noise is None:
            return x0.copy()
        cap = self.config.eps if self.config.eps is not None else self.config.init_radius
        radius = np.minimum(np.where(np.isfinite(best_norm[rows]), best_norm[rows], cap), cap) / 2.0
        t = noise[rows]
        scale = lp_norm(t, self.config.norm)
        return np.clip(x0 + t * (radius / np.maximum(scale, 1e-12))[:, None], lo, hi)

    def _descend(self, x, flat, y, tgt, mode, rows, noise, best, best_norm):
        cfg, model = self.config, self.model
        lo, hi = model.bounds
        shape = x.shape[1:]
        x0 = flat[rows]
        xi = self._start(flat, rows, noise, best_norm)
        yr = y[rows]
        tr = None if tgt is None else tgt[rows]
        num_classes = model.num_classes
        if mode == "nearest":
            all_cls = np.arange(num_classes)
            others = np.stack([np.delete(all_cls, c) for c in range(num_classes)])[yr]
        for _ in range(cfg.steps):
            batch = xi.reshape(len(rows), *shape).astype(np.float32)
            if mode == "nearest":
                _, f, w = difference_gradients(model, batch, yr, others)
                dist = np.abs(f) / (dual_norm(w, cfg.norm) + 1e-12)
                s = dist.argmin(axis=1)
                k = np.arange(len(rows))
                f_s, w_s = f[k, s], w[k, s]
            elif mode == "pair":
                _, f, w = difference_gradients(model, batch, yr, tr[:, None])
                f_s, w_s = f[:, 0], w[:, 0]
            else:  # explicit target: boundary between t and the strongest other class at x_i
                z = np.asarray(model.logits(batch), dtype=np.float64)
                z[np.arange(len(rows)), tr] = -np.inf
                rival = z.argmax(axis=1)
                _, f, w = difference_gradients(model, batch, rival, tr[:, None])
                f_s, w_s = -f[:, 0], -w[:, 0]  # f_s = z_rival - z_t < 0 once the target leads
            # hyperplane f_s + w_s·(p - x_i) = 0, projected from x_i and from x (inside the box)
            d_i = project_onto_hyperplane(w_s, -f_s, lo - xi, hi - xi, cfg.norm)
            r0 = -f_s - (w_s * (x0 - xi)).sum(axis=1)
            d_0 = project_onto_hyperplane(w_s, r0, lo - x0, hi - x0, cfg.norm)
            n_i, n_0 = lp_norm(d_i, cfg.norm), lp_norm(d_0, cfg.norm)
            alpha = np.minimum(n_i / (n_i + n_0 + 1e-12), cfg.alpha_max)[:, None]
            nxt = np.clip((1 - alpha) * (xi + cfg.eta * d_i) + alpha * (x0 + cfg.eta * d_0), lo, hi)
            pred = np.asarray(model.predict(nxt.reshape(len(rows), *shape).astype(np.float32)))
            hit = pred == tr if mode == "explicit" else pred != yr
            # the float32 point is what the model saw: measure and keep that one
            nxt32 = nxt.astype(np.float32).astype(np.float64)
            dist_new = lp_norm(nxt32 - x0, cfg.norm)
            improve = hit & (dist_new < best_norm[rows])
            upd = rows[improve]
            best[upd] = nxt32[improve]
            best_norm[upd] = dist_new[improve]
            nxt[hit] = (1 - cfg.beta) * x0[hit] + cfg.beta * nxt[hit]
            xi = nxt


class FABT(FAB):
    """FAB-T: FAB towards each of the 9 most likely other classes (AutoAttack's member)."""

    Config = FABTConfig
    record = RECORDS["fab_t"]
