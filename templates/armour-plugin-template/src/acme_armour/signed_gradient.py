"""An attack: subclass ``Attack`` and fill in ``_generate``. The base validates the inputs, projects the
result onto the ε-ball and the bounds, counts passes and returns the same array type it was given."""

import numpy as np

from armour_core.api.attack import Attack

from .configs import SignedGradientConfig


class RandomStartSignedGradient(Attack):
    """Signed-gradient ascent on the cross-entropy from a random point of the L∞ ball (Madry et al.'s PGD
    written against the Classifier interface: any model with ``gradients`` works, numpy or MindSpore).

    A targeted run descends the loss of the target class instead. Each step is one ``loss_gradient`` call,
    which the model counts as a forward and a backward pass.
    """

    Config = SignedGradientConfig
    norms = ("linf",)
    targeted = True

    def _generate(self, x, y, target):
        eps, (lo, hi) = self.config.eps, self.bounds
        rng = self.attack_rng()  # seeded by config.seed and the batch index: reproducible
        adv = x + rng.uniform(-eps, eps, x.shape).astype(x.dtype) if self.config.random_start else x.copy()
        adv = np.clip(adv, lo, hi)
        labels, sign = (y, 1.0) if target is None else (target, -1.0)
        alpha = self.config.step_size * eps
        for _ in range(self.config.steps):
            _, grad = self.model.loss_gradient(adv, labels, loss="ce")
            adv = adv + sign * alpha * np.sign(grad)
            adv = np.clip(np.clip(adv, x - eps, x + eps), lo, hi)  # stay in the ball and the bounds
        return adv
