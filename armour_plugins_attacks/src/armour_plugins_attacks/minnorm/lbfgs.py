"""Box-constrained L-BFGS (Szegedy et al., ICLR 2014: "Intriguing properties of neural networks").

For each sample, minimise ``c · CE(f(x'), t) + ||x' - x||₂²`` over the box with scipy's L-BFGS-B and search
(per sample: ×10 until a first success, then bisection) for the smallest ``c`` whose minimiser is
classified as ``t``; the smallest adversarial point found is returned. The gradient handed to L-BFGS is
the exact gradient of that objective, ``c·∇CE + 2(x' - x)`` (MindArmour's is not). The samples are
independent terms of one summed objective, so a single L-BFGS-B run per search round handles the whole
batch. Untargeted calls aim at the most likely wrong class.
"""

from __future__ import annotations

import numpy as np

from armour_core.api.attack import Attack

from .configs import LBFGSConfig
from .deepfool import top_other_classes
from .records import RECORDS


class LBFGS(Attack):
    """Szegedy et al.'s box-constrained L-BFGS attack, L2, targeted (``target=``) or nearest-class."""

    Config = LBFGSConfig
    record = RECORDS["lbfgs"]

    def objective(self, flat: np.ndarray, x: np.ndarray, target: np.ndarray, const: np.ndarray
                  ) -> tuple[float, np.ndarray]:
        """Value and exact gradient of ``Σ_i c_i·CE(f(x'_i), t_i) + ||x'_i - x_i||²`` at ``x' = flat``."""
        n = x.shape[0]
        xa = flat.reshape(x.shape)
        ce, grad = self.model.loss_gradient(xa.astype(np.float32), target, loss="ce")
        ce = np.asarray(ce, dtype=np.float64)
        grad = np.asarray(grad, dtype=np.float64).reshape(n, -1)
        diff = flat.reshape(n, -1) - x.reshape(n, -1).astype(np.float64)
        value = float((const * ce).sum() + (diff * diff).sum())
        return value, (const[:, None] * grad + 2.0 * diff).reshape(-1)

    def _generate(self, x: np.ndarray, y: np.ndarray, target: np.ndarray | None) -> np.ndarray:
        from scipy.optimize import Bounds, minimize

        cfg, model = self.config, self.model
        lo, hi = model.bounds
        n = x.shape[0]
        aim = target if target is not None else top_other_classes(np.asarray(model.logits(x)), y, 1)[:, 0]
        x64 = x.astype(np.float64)
        best = x64.copy()
        best_l2 = np.full(n, np.inf)
        const = np.full(n, cfg.initial_const)
        lower, upper = np.zeros(n), np.full(n, np.inf)
        box = Bounds(np.full(x64.size, lo), np.full(x64.size, hi))
        for _ in range(cfg.search_steps):
            res = minimize(self.objective, x64.reshape(-1), args=(x, aim, const), jac=True, method="L-BFGS-B",
                           bounds=box, options={"maxiter": cfg.max_iterations})
            cand = res.x.reshape(x.shape).astype(x.dtype)
            pred = np.asarray(model.predict(cand))
            ok = pred == aim if target is not None else pred != y
            l2 = np.sqrt(((cand.astype(np.float64) - x64).reshape(n, -1) ** 2).sum(axis=1))
            improve = ok & (l2 < best_l2)
            best[improve], best_l2[improve] = cand[improve], l2[improve]
            upper = np.where(ok, np.minimum(upper, const), upper)
            lower = np.where(ok, lower, np.maximum(lower, const))
            const = np.where(np.isfinite(upper), (lower + upper) / 2.0, const * 10.0)
        return best.astype(x.dtype)
