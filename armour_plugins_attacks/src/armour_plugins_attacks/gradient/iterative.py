"""Iterative gradient attacks: BIM, PGD (L∞, L2, L1), MIM, DI-FGSM, M-DI-FGSM and VMI-FGSM.

They share one loop (:mod:`armour_plugins_attacks.gradient.loop`), compiled as a single MindSpore graph for
MindSpore models: each attack only says what its loop contains (random start, momentum, diverse inputs,
variance tuning) and draws its randomness from the seeded generator.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from armour_core.api.attack import Attack
from armour_core.errors import InvalidInputError

from . import loop
from .configs import (BIMConfig, DIFGSMConfig, IterativeConfig, MDIFGSMConfig, MIMConfig, PGDConfig,
                      VMIFGSMConfig)
from .steps import random_in_ball, sparse_count
from .diversity import diversity_matrices
from .records import RECORDS


class IterativeAttack(Attack):
    """Base of the iterative gradient attacks (untargeted: ascend the loss of ``y``; targeted: descend the
    loss of ``target``)."""

    Config: ClassVar[type] = IterativeConfig
    #: default step size as a multiple of eps / steps
    step_ratio: ClassVar[float] = 1.0

    @property
    def step_size(self) -> float:
        c = self.config
        return c.step_size if c.step_size is not None else self.step_ratio * c.eps / c.steps

    def loop_spec(self) -> loop.LoopSpec:
        c = self.config
        return loop.LoopSpec(norm=c.norm, loss=c.loss,
                               momentum=self._momentum(),
                               diversity=self._diverse(), neighbours=getattr(c, "neighbours", 0))

    def _momentum(self) -> bool:
        return False

    def _diverse(self) -> bool:
        return False

    def _hyper(self, x: np.ndarray, targeted: bool) -> dict[str, float]:
        c = self.config
        lo, hi = self.bounds
        return {"eps": c.eps, "alpha": self.step_size, "decay": float(getattr(c, "decay", 0.0)),
                "radius": float(getattr(c, "beta", 0.0)) * c.eps, "lo": lo, "hi": hi,
                "spread": float(sparse_count(int(np.prod(x.shape[1:])), c.sparsity)),
                "sign": -1.0 if targeted else 1.0}

    def _start(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return x

    def _draw(self, x: np.ndarray, rng: np.random.Generator):
        """Per-step random inputs ``t -> (ah, aw, noise)`` (None: the loop needs none)."""
        return None

    def _check_input(self, x: np.ndarray) -> None:
        if self.config.loss == "dlr" and self.model.num_classes < 3:
            raise InvalidInputError(f"{type(self).__name__}: loss='dlr' needs at least 3 classes")

    def _run_once(self, x: np.ndarray, labels: np.ndarray, targeted: bool, rng: np.random.Generator) -> np.ndarray:
        c = self.config
        start = np.clip(self._start(x, rng), *self.bounds).astype(np.float32)
        return loop.run_loop(self.model, self.loop_spec(), x0=x.astype(np.float32), start=start,
                               labels=labels, steps=c.steps, hyper=self._hyper(x, targeted),
                               draw=self._draw(x, rng), mode=c.compile)

    def _generate(self, x: np.ndarray, y: np.ndarray, target: np.ndarray | None) -> np.ndarray:
        self._check_input(x)
        if self.config.eps == 0.0:
            return x.copy()
        labels = y if target is None else target
        return self._run_once(x, labels, target is not None, self.attack_rng())


class BIM(IterativeAttack):
    """Basic iterative method (Kurakin, Goodfellow & Bengio 2017): ``steps`` projected steps of
    ``step_size`` (default ``eps / steps``) from ``x``; L∞ sign steps, L2 normalised-gradient steps, L1
    sparse steps, each followed by the projection onto the ε-ball and the bounds."""

    Config = BIMConfig
    record = RECORDS["bim"]


class PGD(IterativeAttack):
    """Projected gradient descent (Madry et al. 2018) with a random start drawn uniformly from the ε-ball.

    L∞: sign steps, clipping. L2: normalised-gradient steps and the true L2-ball projection (rescaling, not
    per-coordinate clipping). L1: Tramèr & Boneh's (2019) sparse L1 descent (SLIDE) — steps on the top
    ``100 - sparsity`` % of gradient coordinates, skipping saturated ones — and the exact Euclidean
    projection onto the L1 ball (Duchi et al. 2008). ``restarts > 1`` runs independent random starts and
    keeps, per sample, the first that fools the model.
    """

    Config = PGDConfig
    record = RECORDS["pgd"]
    step_ratio = 2.5

    def _start(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        if not self.config.random_start:
            return x
        return x.astype(np.float64) + random_in_ball(rng, x.shape, self.config.eps, self.config.norm)

    def _generate(self, x: np.ndarray, y: np.ndarray, target: np.ndarray | None) -> np.ndarray:
        self._check_input(x)
        if self.config.eps == 0.0:
            return x.copy()
        labels = y if target is None else target
        targeted = target is not None
        rng = self.attack_rng()
        best = self._run_once(x, labels, targeted, rng)
        if self.config.restarts == 1:
            return best
        done = self._fooled(best, labels, targeted)
        for _ in range(self.config.restarts - 1):
            if done.all():
                break
            todo = np.flatnonzero(~done)
            adv = self._run_once(x[todo], labels[todo], targeted, rng)
            ok = self._fooled(adv, labels[todo], targeted)
            best[todo] = adv  # unfooled samples keep the latest try; fooled ones are final
            done[todo[ok]] = True
        return best

    def _fooled(self, adv: np.ndarray, labels: np.ndarray, targeted: bool) -> np.ndarray:
        pred = np.asarray(self.model.predict(adv))
        return pred == labels if targeted else pred != labels


class MIM(IterativeAttack):
    """Momentum iterative method (Dong et al. 2018): ``g ← μ g + ∇ / ||∇||_1``, then a sign step (L∞) or
    a normalised step (L2) along ``g``; ``decay`` is μ."""

    Config = MIMConfig
    record = RECORDS["mim"]

    def _momentum(self) -> bool:
        return True


class DIFGSM(IterativeAttack):
    """Diverse-inputs iterative FGSM (Xie et al. 2019): each gradient is taken at ``T(x_t)``, a random
    resize-and-pad of the current point applied with probability ``diversity_prob`` (one transform per
    iteration for the batch, drawn from the seeded generator). ``decay`` > 0 adds MI-FGSM momentum
    (M-DI²-FGSM). Needs image batches ``(N, C, H, W)`` or ``(N, H, W)``."""

    Config = DIFGSMConfig
    record = RECORDS["difgsm"]

    def _momentum(self) -> bool:
        return self.config.decay > 0

    def _diverse(self) -> bool:
        return True

    def _check_input(self, x: np.ndarray) -> None:
        super()._check_input(x)
        if x.ndim not in (3, 4):
            raise InvalidInputError(f"x: {type(self).__name__} resizes and pads images, so it needs batches "
                                    f"of shape (N, C, H, W) or (N, H, W); got shape {x.shape}")

    def _draw(self, x: np.ndarray, rng: np.random.Generator):
        h, w = x.shape[-2], x.shape[-1]
        c = self.config

        def draw(t: int):
            ah, aw = diversity_matrices(rng, h, w, resize_rate=c.resize_rate, prob=c.diversity_prob)
            return ah, aw, None

        return draw


class MDIFGSM(DIFGSM):
    """M-DI²-FGSM (Xie et al. 2019): diverse inputs with momentum ``decay`` = 1 by default."""

    Config = MDIFGSMConfig
    record = RECORDS["mdifgsm"]


class VMIFGSM(IterativeAttack):
    """Variance-tuning MI-FGSM (Wang & He 2021).

    Each iteration: ``ĝ = ∇J(x_t)``; momentum ``g ← μ g + (ĝ + v) / ||ĝ + v||_1``; a sign step; then the
    variance ``v ← mean_i ∇J(x_t + r_i) - ĝ`` over ``neighbours`` points ``r_i ~ U[-β ε, β ε]^d``. The
    neighbour gradients are one batched backward pass of ``N * B`` rows, so an iteration costs ``N + 1``
    passes (counted).
    """

    Config = VMIFGSMConfig
    record = RECORDS["vmifgsm"]

    def _momentum(self) -> bool:
        return True

    def _draw(self, x: np.ndarray, rng: np.random.Generator):
        n = self.config.neighbours

        def draw(t: int):
            return None, None, rng.uniform(-1.0, 1.0, size=(n, *x.shape)).astype(np.float32)

        return draw

