"""Single-step gradient attacks: FGSM, FGM, R+FGSM, R+FGM, least-likely class and its random-start form.

Each makes one forward+backward pass through ``Classifier.loss_gradient`` (the least-likely-class attacks
one forward pass more to find that class), so they work on any classifier with gradients. Untargeted
attacks ascend the cross-entropy of the true label; targeted ones descend the cross-entropy of the target.
"""

from __future__ import annotations

import numpy as np

from armour_core.api.attack import Attack

from .configs import FGMConfig, FGSMConfig, LLCConfig, RFGMConfig, RFGSMConfig, RLLCConfig
from .steps import l1_box_step, random_direction, steepest_step
from .records import RECORDS


class _SingleStep(Attack):
    """One optional random step of ``alpha`` followed by one gradient step spending the rest of ``eps``."""

    def _alpha(self) -> float:
        """Length of the random first step (0: none)."""
        return 0.0

    def _labels(self, x: np.ndarray, y: np.ndarray, target: np.ndarray | None) -> tuple[np.ndarray, float]:
        """Labels whose loss the step follows, and +1 (ascend) or -1 (descend)."""
        return (y, 1.0) if target is None else (target, -1.0)

    def _generate(self, x: np.ndarray, y: np.ndarray, target: np.ndarray | None) -> np.ndarray:
        c = self.config
        labels, sign = self._labels(x, y, target)
        alpha = self._alpha()
        start = x.astype(np.float64)
        if alpha > 0:
            start = np.clip(start + alpha * random_direction(self.attack_rng(), x.shape, c.norm), *self.bounds)
        _, grad = self.model.loss_gradient(start.astype(x.dtype), labels, loss="ce")
        g = sign * np.asarray(grad, dtype=np.float64)
        if c.norm == "l1":
            return start + l1_box_step(g, start, self.bounds, c.eps - alpha)
        return start + (c.eps - alpha) * steepest_step(g, c.norm)


class FGSM(_SingleStep):
    """Fast gradient sign method (Goodfellow, Shlens & Szegedy, 2015).

    ``x_adv = x + eps * sign(∇x CE(f(x), y))``; targeted: ``x - eps * sign(∇x CE(f(x), t))``.
    """

    Config = FGSMConfig
    record = RECORDS["fgsm"]


class FGM(_SingleStep):
    """Fast gradient method: one step of length ``eps`` along the steepest-ascent direction of ``norm``.

    L2: ``x + eps * ∇ / ||∇||_2`` (Goodfellow et al.'s L2 variant, as in Miyato et al. 2016). L1: the exact
    maximiser of the linearised loss over the L1 ball intersected with the bounds — the budget goes to the
    coordinates with the largest |∇|, each moved up to its bound (a fractional knapsack), so no budget is
    lost to clipping (a plain ``eps * sign`` on the top coordinate would mostly be clipped away).
    """

    Config = FGMConfig
    record = RECORDS["fgm"]


class RFGSM(_SingleStep):
    """R+FGSM (Tramèr et al. 2018, "Ensemble adversarial training"): ``x' = x + alpha * sign(N(0, I))``,
    then ``x' + (eps - alpha) * sign(∇x' CE(f(x'), y))``. The random step escapes the gradient masking
    that makes FGSM weak against adversarially trained models. ``alpha`` defaults to ``eps / 2``."""

    Config = RFGSMConfig
    record = RECORDS["rfgsm"]

    def _alpha(self) -> float:
        c = self.config
        return c.eps / 2 if c.alpha is None else c.alpha


class RFGM(RFGSM):
    """The L2 analogue of R+FGSM: a random step of L2 length ``alpha`` in a uniformly random direction
    (normalised Gaussian noise, not sign noise), then ``(eps - alpha) * ∇ / ||∇||_2`` from there. The
    result's L2 distance to ``x`` is at most ``eps`` by the triangle inequality."""

    Config = RFGMConfig
    record = RECORDS["rfgm"]


class LLC(_SingleStep):
    """Least-likely class method (Kurakin et al. 2017): the attack finds ``y_LL = argmin_k f(x)_k`` itself
    (one forward pass) and takes one step of ``eps`` decreasing ``CE(f(x), y_LL)``. Untargeted: success
    means the label changed; the least-likely class is only the direction (``result.predictions`` shows
    whether it was reached)."""

    Config = LLCConfig
    record = RECORDS["llc"]

    def least_likely(self, x: np.ndarray) -> np.ndarray:
        """The class the model scores lowest for each sample (counts one forward pass)."""
        return np.asarray(self.model.logits(x)).argmin(axis=1)

    def _labels(self, x, y, target):
        return self.least_likely(x), -1.0


class RLLC(LLC):
    """Random-start least-likely class (Tramèr et al. 2018's R+Step-LL): ``x' = x + alpha * sign(N(0, I))``
    (L2: a random direction of length ``alpha``), then ``eps - alpha`` towards the least-likely class of
    ``x``. ``alpha`` defaults to ``eps / 2``."""

    Config = RLLCConfig
    record = RECORDS["rllc"]

    def _alpha(self) -> float:
        c = self.config
        return c.eps / 2 if c.alpha is None else c.alpha
