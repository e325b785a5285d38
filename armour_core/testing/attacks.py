"""A one-step attack for testing core without a plugin distribution (the ``core`` and ``core-ms`` sessions)."""

from __future__ import annotations

import numpy as np

from ..api.attack import Attack, AttackConfig


class SignStep(Attack):
    """``x + eps * sign(∇x loss)``: the smallest attack that asks a model for its (compiled) input gradient, so a
    test of the attack base, the runtime or its errors needs no first-party attack."""

    Config = AttackConfig
    norms = ("linf",)

    def _generate(self, x, y, target):
        _, g = self.model.loss_gradient(x, y)
        return x + self.config.eps * np.sign(g)
