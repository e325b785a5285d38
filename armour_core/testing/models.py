"""A pure-numpy classifier with exact gradients, so the bases and contracts can be tested without MindSpore."""

from __future__ import annotations

import numpy as np

from ..api.model import Classifier


class SoftmaxRegression(Classifier):
    """Linear softmax classifier ``z = x.reshape(N, -1) @ W + b`` with analytic input gradients."""

    capabilities = frozenset({"forward", "gradients", "probabilities"})

    def __init__(self, weights: np.ndarray, bias: np.ndarray, *, input_shape: tuple[int, ...],
                 bounds: tuple[float, float] = (0.0, 1.0)):
        super().__init__()
        self.W = np.asarray(weights, dtype=np.float64)
        self.b = np.asarray(bias, dtype=np.float64)
        self.input_shape = tuple(input_shape)
        self.bounds = tuple(float(v) for v in bounds)
        self.num_classes = int(self.W.shape[1])

    @classmethod
    def fit(cls, x: np.ndarray, y: np.ndarray, num_classes: int, *, l2: float = 1e-3, steps: int = 300,
            lr: float = 0.5, seed: int = 0) -> "SoftmaxRegression":
        """Full-batch gradient descent on cross-entropy (deterministic)."""
        rng = np.random.default_rng(seed)
        f = x.reshape(len(x), -1).astype(np.float64)
        w = rng.normal(0, 0.01, (f.shape[1], num_classes))
        b = np.zeros(num_classes)
        onehot = np.eye(num_classes)[y]
        for _ in range(steps):
            z = f @ w + b
            p = np.exp(z - z.max(1, keepdims=True))
            p /= p.sum(1, keepdims=True)
            g = (p - onehot) / len(f)
            w -= lr * (f.T @ g + l2 * w)
            b -= lr * g.sum(0)
        return cls(w, b, input_shape=x.shape[1:])

    def _logits(self, x: np.ndarray) -> np.ndarray:
        return (x.reshape(len(x), -1).astype(np.float64) @ self.W + self.b).astype(np.float32)

    def _loss_gradient(self, x, y, loss):
        z = self._logits(x).astype(np.float64)
        n, c = z.shape
        rows = np.arange(n)
        if loss == "ce":
            p = np.exp(z - z.max(1, keepdims=True))
            p /= p.sum(1, keepdims=True)
            values = -np.log(p[rows, y] + 1e-300)
            dz = p.copy()
            dz[rows, y] -= 1.0
        else:
            masked = z.copy()
            masked[rows, y] = -np.inf
            j = masked.argmax(1)
            m = z[rows, j] - z[rows, y]
            dz = np.zeros_like(z)
            dz[rows, j] += 1.0
            dz[rows, y] -= 1.0
            values = m
            if loss == "dlr":
                order = np.argsort(-z, axis=1)
                d = z[rows, order[:, 0]] - z[rows, order[:, 2]] + 1e-12
                values = m / d
                dd = np.zeros_like(z)
                dd[rows, order[:, 0]] += 1.0
                dd[rows, order[:, 2]] -= 1.0
                dz = dz / d[:, None] - (m / d ** 2)[:, None] * dd
        grad = (dz @ self.W.T).reshape(x.shape)
        return values.astype(np.float32), grad.astype(np.float32)
