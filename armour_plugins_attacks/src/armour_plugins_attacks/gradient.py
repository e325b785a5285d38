"""Single-step gradient attacks."""

from __future__ import annotations

import numpy as np

from armour_core.api.attack import Attack

from .configs import FGSMConfig


class FGSM(Attack):
    """Fast gradient sign method (Goodfellow, Shlens & Szegedy, 2015).

    ``x_adv = x + eps * sign(∇x CE(f(x), y))``; targeted: ``x - eps * sign(∇x CE(f(x), t))``.
    """

    Config = FGSMConfig
    norms = ("linf",)
    targeted = True

    def _generate(self, x: np.ndarray, y: np.ndarray, target: np.ndarray | None) -> np.ndarray:
        labels, direction = (y, 1.0) if target is None else (target, -1.0)
        _, grad = self.model.loss_gradient(x, labels, loss="ce")
        return x + direction * self.config.eps * np.sign(grad)
