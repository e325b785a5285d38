"""Batch sampling for DP-SGD, and padding to one static shape so the compiled step never recompiles.

Poisson sampling (each example joins each batch independently with probability ``q``) is what the
accountants' subsampling amplification assumes, so it is the default. Its batches vary in size; they are
cut into chunks of a fixed *physical* size with a 0/1 mask marking real examples (padding contributes
nothing). Shuffled fixed-size batches are offered for compatibility only: they get no amplification
(see :mod:`armour_plugins_privacy.dp.accountants`).
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np

from armour_core.errors import InvalidInputError


def default_physical_batch(expected: float, n: int) -> int:
    """Expected batch size plus two standard deviations, rounded up to a multiple of 8 (≈2% of Poisson
    batches need a second chunk)."""
    q = min(expected / n, 1.0)
    size = expected + 2.0 * math.sqrt(expected * (1.0 - q))
    return int(min(max(8, math.ceil(size / 8) * 8), max(n, 1)))


class PoissonSampler:
    """Independent Bernoulli(``q``) membership of every example in every batch."""

    sampling = "poisson"

    def __init__(self, n: int, q: float, rng: np.random.Generator):
        if n < 1:
            raise InvalidInputError("dataset: is empty")
        if not 0.0 < q <= 1.0:
            raise InvalidInputError(f"sampling rate must lie in (0, 1], got {q!r}")
        self.n, self.q, self.rng = n, q, rng
        self.expected_batch_size = q * n
        self.steps_per_epoch = max(1, round(1.0 / q))

    def batch(self) -> np.ndarray:
        return np.flatnonzero(self.rng.random(self.n) < self.q)

    def epoch(self) -> Iterator[np.ndarray]:
        for _ in range(self.steps_per_epoch):
            yield self.batch()


class ShuffleSampler:
    """Fixed-size batches from a fresh permutation per epoch (last partial batch dropped)."""

    sampling = "shuffle"

    def __init__(self, n: int, batch_size: int, rng: np.random.Generator):
        if n < 1:
            raise InvalidInputError("dataset: is empty")
        if not 1 <= batch_size <= n:
            raise InvalidInputError(f"batch_size must lie in [1, {n}], got {batch_size!r}")
        self.n, self.rng = n, rng
        self.batch_size = batch_size
        self.q = batch_size / n
        self.expected_batch_size = float(batch_size)
        self.steps_per_epoch = n // batch_size

    def epoch(self) -> Iterator[np.ndarray]:
        order = self.rng.permutation(self.n)
        for i in range(self.steps_per_epoch):
            yield order[i * self.batch_size:(i + 1) * self.batch_size]


def pad_chunks(idx: np.ndarray, physical: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Split ``idx`` into chunks of ``physical`` indices plus a float32 mask (1 = real example).

    An empty batch still yields one all-padding chunk: the step must run (and add noise) regardless, or
    the batch size would leak.
    """
    chunks = []
    for start in range(0, max(len(idx), 1), physical):
        part = idx[start:start + physical]
        mask = np.zeros(physical, np.float32)
        mask[:len(part)] = 1.0
        padded = np.zeros(physical, np.int64)
        padded[:len(part)] = part
        chunks.append((padded, mask))
    return chunks
