"""A differentiable Monte-Carlo stand-in for the smoothed classifier, to attack it (SmoothAdv, Salman et al.,
NeurIPS 2019): ``log( (1/m) Σ_i softmax(f(x + δ_i)) )`` over ``m`` noise draws ``δ_i ~ N(0, σ² I)`` fixed when
the model is built, as logits of a MindSpore network. Wrapped in an ``MSModel``, every white-box attack of the
registry (``registry.create("attack", "pgd", model=smoothed_model(...), norm="l2", ...)``) runs on it, compiled.

The attack's point is then judged by the smoothed classifier itself (the certifier's PREDICT, fresh noise), not
by this approximation."""

from __future__ import annotations

from typing import Any

import mindspore as ms
import numpy as np
from armour_core.api.model import as_classifier
from armour_core.api.validators import check_int, check_positive
from armour_core.errors import InvalidInputError
from armour_core.ms.model import MSModel
from mindspore import nn, ops


class MonteCarloSmoothing(nn.Cell):
    """The base network's softmax averaged over fixed Gaussian draws, returned as log-probabilities."""

    def __init__(self, base: MSModel, noise: np.ndarray):
        super().__init__(auto_prefix=False)
        self.net = base.network
        self.noise = ms.Tensor(noise.astype(np.float32))  # (m, *input_shape): a constant of the graph
        self.draws = int(noise.shape[0])
        self.sample_shape = tuple(int(s) for s in noise.shape[1:])
        self.preprocess = base.preprocess
        self.probabilities = base.output == "probabilities"

    def construct(self, x):
        b = x.shape[0]
        noisy = (x.expand_dims(1) + self.noise).reshape((b * self.draws,) + self.sample_shape)
        z = self.net(self.preprocess(noisy))
        if self.probabilities:
            z = ops.log(ops.clamp(z, 1e-12, 1.0))
        p = ops.softmax(z, axis=-1).reshape((b, self.draws, -1)).mean(axis=1)
        return ops.log(ops.clamp(p, 1e-12, 1.0))


def smoothed_model(model: Any, *, sigma: float, draws: int = 32, seed: int = 0) -> MSModel:
    """An ``MSModel`` whose logits are the Monte-Carlo smoothed log-probabilities of ``model`` (a MindSpore
    classifier with a known input shape) over ``draws`` fixed noise draws of standard deviation ``sigma``."""
    base = as_classifier(model)
    if not isinstance(base, MSModel):
        raise InvalidInputError(f"model: expected a MindSpore model, got {type(base).__name__}")
    shape = base.input_shape or base._ok_shape
    if shape is None:
        raise InvalidInputError("model: its input shape is unknown; wrap the network with input_shape=")
    sigma = check_positive(sigma, "sigma")
    draws = check_int(draws, "draws", low=1)
    noise = sigma * np.random.default_rng(seed).standard_normal((draws, *shape))
    return MSModel(MonteCarloSmoothing(base, noise), bounds=base.bounds, num_classes=base.num_classes,
                   input_shape=shape)
