"""DeepFool (Moosavi-Dezfooli, Fawzi & Frossard, CVPR 2016): the nearest linearised decision boundary.

At the current point every boundary ``f_k = z_k - z_y = 0`` is linearised with ``w_k = ∇f_k``; the closest
one in the attack norm is ``l = argmin_k |f_k| / ||w_k||_q`` (``q`` the dual norm: 2 for L2, 1 for L∞),
and the step that reaches it is

* L2: ``r = (|f_l| / ||w_l||_2²) · w_l``;
* L∞: ``r = (|f_l| / ||w_l||_1) · sign(w_l)`` — the textbook step (MindArmour divides by ``||w_l||_1`` a
  second time, which shrinks the step to almost nothing and gives 0 % success).

Steps accumulate into ``r_tot`` and the iterate is ``clip(x + (1 + overshoot) · r_tot)``; a sample stops
as soon as it is misclassified. All candidate gradients of all samples come from one backward pass per
iteration (:mod:`.scores`), so the cost is ``iterations`` passes over a batch of ``B·(K+1)`` rows.
"""

from __future__ import annotations

import numpy as np

from armour_core.api.attack import Attack

from .configs import DeepFoolConfig
from .scores import difference_gradients
from .records import RECORDS

_TINY = 1e-8
_PUSH = 1e-4  # the reference implementation's extra push past the linearised boundary


def top_other_classes(logits: np.ndarray, y: np.ndarray, k: int) -> np.ndarray:
    """The ``k`` most likely classes other than ``y`` per sample, most likely first: (B, k)."""
    z = np.array(logits, dtype=np.float64, copy=True)
    z[np.arange(len(z)), y] = -np.inf
    k = max(1, min(k, z.shape[1] - 1))
    return np.argsort(-z, axis=1, kind="stable")[:, :k]


def dual_norm(w: np.ndarray, norm: str) -> np.ndarray:
    """``||w||_q`` over the last axis, ``q`` dual to ``norm`` (L2 ↔ L2, L∞ ↔ L1)."""
    if norm == "l2":
        return np.sqrt((w * w).sum(axis=-1))
    return np.abs(w).sum(axis=-1)


class DeepFool(Attack):
    """DeepFool, L2 and L∞, untargeted, minimum norm (``eps=None`` by default)."""

    Config = DeepFoolConfig
    record = RECORDS["deepfool"]

    def _generate(self, x: np.ndarray, y: np.ndarray, target: np.ndarray | None) -> np.ndarray:
        cfg, model = self.config, self.model
        lo, hi = model.bounds
        n = x.shape[0]
        x0 = x.reshape(n, -1).astype(np.float64)
        others = top_other_classes(np.asarray(model.logits(x)), y, cfg.candidates)
        r_tot = np.zeros_like(x0)
        adv = x0.copy()
        for _ in range(cfg.steps):
            scores, f, w = difference_gradients(model, adv.reshape(x.shape).astype(np.float32), y, others)
            active = np.flatnonzero(scores.argmax(axis=1) == y)
            if active.size == 0:
                break
            f, w = f[active], w[active]
            wq = dual_norm(w, cfg.norm) + _TINY
            dist = np.abs(f) / wq
            best = dist.argmin(axis=1)
            rows = np.arange(active.size)
            wl, dl = w[rows, best], dist[rows, best]
            if cfg.norm == "l2":
                step = (dl + _PUSH)[:, None] * wl / wq[rows, best][:, None]
            else:
                step = (dl + _PUSH)[:, None] * np.sign(wl)
            r_tot[active] += step
            adv[active] = np.clip(x0[active] + (1.0 + cfg.overshoot) * r_tot[active], lo, hi)
        return adv.reshape(x.shape).astype(x.dtype)
