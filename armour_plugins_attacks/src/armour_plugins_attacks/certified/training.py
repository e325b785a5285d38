"""Gaussian data augmentation of the base classifier (Cohen et al. 2019, §4; Lecuyer et al. 2019): train on
``x + N(0, σ² I)`` with the σ the smoothed classifier will use, so the base classifier is accurate under the
noise it is smoothed with (a normally trained network degrades quickly as σ grows)."""

from __future__ import annotations

from typing import Any

import numpy as np
from armour_core.api.validators import check_int, check_positive
from armour_core.errors import InvalidInputError


def train_with_noise(network: Any, x: np.ndarray, y: np.ndarray, *, sigma: float, epochs: int = 10,
                     batch_size: int = 64, learning_rate: float = 1e-3, seed: int = 0,
                     progress: bool | None = None) -> float:
    """Train the MindSpore ``network`` in place with Adam on cross-entropy at Gaussian-noised inputs, fresh
    noise for every epoch; returns the mean training loss.

    The ``epochs`` noisy copies of the training set are drawn up front (one array; memory ``epochs`` times the
    data) and trained on as one shuffled pass with the core's compiled step, so the optimizer state runs on
    across epochs and the step compiles once."""
    from armour_core.ms.train import train_classifier

    sigma = check_positive(sigma, "sigma")
    epochs = check_int(epochs, "epochs", low=1)
    x = np.asarray(x, dtype=np.float32)
    y = np.asarray(y)
    if len(x) != len(y) or len(x) == 0:
        raise InvalidInputError(f"x and y: expected equal, non-zero lengths, got {len(x)} and {len(y)}")
    rng = np.random.default_rng(seed)
    noisy = np.concatenate([x + np.float32(sigma) * rng.standard_normal(x.shape, dtype=np.float32)
                            for _ in range(epochs)])
    history = train_classifier(network, noisy, np.tile(y, epochs), epochs=1, batch_size=batch_size,
                               learning_rate=learning_rate, seed=seed, progress=progress)
    return float(history[-1])
