"""MagNet (Meng & Chen, CCS 2017): detectors and a reformer built on an auto-encoder of clean data.

* ``magnet_error`` (detector I): the reconstruction error ``mean |x - AE(x)|^p`` — adversarial inputs
  lie off the data manifold the auto-encoder learned, so it reconstructs them poorly.
* ``magnet_divergence`` (detector II): the Jensen–Shannon divergence between the classifier's
  softmax at temperature T on ``x`` and on ``AE(x)`` — catches inputs close to the manifold whose
  small reconstruction change still moves the prediction.
* ``transform`` (the reformer): ``AE(x)``, which moves inputs towards the manifold before classifying.

``fit(x_clean)`` trains the auto-encoder (see :mod:`.autoencoder`) unless one is given as
``autoencoder=`` (e.g. shared between both detectors, as in the paper), then sets the threshold for
``fpr`` — preferably on held-out clean data: ``fit(x_train, x_calibration=x_val)``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from armour_core.api.detector import Detector

from ._common import probabilities
from .autoencoder import AutoEncoder
from .configs import MagNetDivergenceConfig, MagNetErrorConfig
from .records import RECORDS


class _MagNet(Detector):
    has_transform = True

    def __init__(self, *, model: Any = None, bounds: tuple[float, float] | None = None,
                 autoencoder: AutoEncoder | None = None, **config: Any):
        super().__init__(model=model, bounds=bounds, **config)
        if autoencoder is not None and not isinstance(autoencoder, AutoEncoder):
            raise TypeError(f"autoencoder: expected an armour MagNet AutoEncoder, got {type(autoencoder).__name__}")
        self.autoencoder = autoencoder
        self.loss_history: list[float] = []

    def _fit(self, x: np.ndarray, y: np.ndarray | None) -> None:
        if self.autoencoder is not None:
            return
        cfg = self.config
        self.autoencoder = AutoEncoder(x.shape[1:], self.bounds, architecture=cfg.architecture, hidden=cfg.hidden)
        self.loss_history = self.autoencoder.train(
            x, epochs=cfg.epochs, batch_size=cfg.batch_size, learning_rate=cfg.learning_rate,
            weight_decay=cfg.weight_decay, noise=cfg.noise, seed=cfg.seed)

    def _transform(self, x: np.ndarray) -> np.ndarray:
        return self.autoencoder.reconstruct(x)


class MagNetError(_MagNet):
    """MagNet detector I: reconstruction error of the auto-encoder."""

    Config = MagNetErrorConfig
    record = RECORDS["magnet_error"]

    def _score(self, x: np.ndarray) -> np.ndarray:
        diff = np.abs(x.astype(np.float64) - self.autoencoder.reconstruct(x)) / (self.bounds[1] - self.bounds[0])
        return (diff ** self.config.p).reshape(len(x), -1).mean(axis=1)


class MagNetDivergence(_MagNet):
    """MagNet detector II: Jensen–Shannon divergence of the classifier's softened outputs on x and AE(x)."""

    Config = MagNetDivergenceConfig
    record = RECORDS["magnet_divergence"]

    def _score(self, x: np.ndarray) -> np.ndarray:
        t = self.config.temperature
        p = probabilities(self.model, x, t)
        q = probabilities(self.model, self.autoencoder.reconstruct(x), t)
        return jensen_shannon(p, q)


def jensen_shannon(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Row-wise Jensen–Shannon divergence (natural log), 0.5 KL(p||m) + 0.5 KL(q||m) with m = (p + q) / 2."""
    m = 0.5 * (p + q)

    def kl(a, b):
        with np.errstate(divide="ignore", invalid="ignore"):
            terms = np.where(a > 0, a * (np.log(np.maximum(a, 1e-300)) - np.log(np.maximum(b, 1e-300))), 0.0)
        return terms.sum(axis=1)

    return np.maximum(0.5 * kl(p, m) + 0.5 * kl(q, m), 0.0)
