"""Seed schedulers for the coverage-guided fuzzer (numpy only).

Each one implements a published selection rule and can state its selection distribution in closed form
(:meth:`probabilities`), which the tests check against observed frequencies.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from armour_core.api.scheduler import SeedScheduler

from .configs import CoverageGainConfig, DeepHunterConfig, RecencyConfig, UniformConfig


def _draw(p: np.ndarray, rng: np.random.Generator) -> int:
    """Inverse-CDF draw from a probability vector (vectorised; robust to rounding in the last bin)."""
    c = np.cumsum(p)
    return int(min(np.searchsorted(c, rng.random() * c[-1], side="right"), len(p) - 1))


class Uniform(SeedScheduler):
    """Every entry with probability 1/n (DeepHunter's "uniform" strategy)."""

    Config = UniformConfig

    def probabilities(self, stats):
        n = len(stats["fuzz_count"])
        return np.full(n, 1.0 / n)

    def _select(self, stats, rng):
        return int(rng.integers(len(stats["fuzz_count"])))


class CoverageGain(SeedScheduler):
    """MindArmour's rule, made total.

    MindArmour pops a uniformly random entry that has not been mutated yet (each entry is fuzzed once) and
    stops when none is left. Here: while unfuzzed entries exist, one of them uniformly; afterwards entries are
    weighted by the coverage gain they brought, ``gain + floor * max(gain)`` (uniform if no entry gained).
    """

    Config = CoverageGainConfig

    def probabilities(self, stats):
        fresh = np.asarray(stats["fuzz_count"]) == 0
        if fresh.any():
            return fresh / fresh.sum()
        gain = np.maximum(np.asarray(stats["gain"], dtype=np.float64), 0.0)
        top = gain.max()
        if top <= 0:
            return np.full(len(gain), 1.0 / len(gain))
        w = gain + self.config.floor * top
        return w / w.sum()

    def _select(self, stats, rng):
        return _draw(self.probabilities(stats), rng)


class Recency(SeedScheduler):
    """TensorFuzz's reservoir (Odena et al. 2019): the ``window`` newest entries plus one entry drawn
    uniformly from the whole corpus; the next seed is drawn uniformly from that reservoir."""

    Config = RecencyConfig

    def probabilities(self, stats):
        order = np.asarray(stats["order"])
        n = len(order)
        m = min(self.config.window, n)
        newest = np.zeros(n)
        newest[np.argsort(order, kind="stable")[n - m:]] = 1.0
        return newest / (m + 1) + 1.0 / (n * (m + 1))

    def _select(self, stats, rng):
        order = np.asarray(stats["order"])
        n = len(order)
        m = min(self.config.window, n)
        reservoir = np.append(np.argsort(order, kind="stable")[n - m:], rng.integers(n))
        return int(reservoir[rng.integers(m + 1)])


class DeepHunter(SeedScheduler):
    """DeepHunter's probabilistic batch prioritisation (Xie et al. 2019, Eq. 3).

    A cursor scans the corpus cyclically; the entry under the cursor is accepted with probability
    ``p(f) = 1 - f / gamma`` if ``f < (1 - p_min) * gamma`` else ``p_min``, where ``f`` is how often it has
    been fuzzed. Rarely fuzzed entries are favoured (diversity) and new entries, appended right behind the
    scan, are reached soon with probability 1 (recency). The cursor is part of :meth:`state`.
    """

    Config = DeepHunterConfig

    def __init__(self, **config: Any):
        super().__init__(**config)
        self.cursor = 0

    def accept_probability(self, fuzz_count: np.ndarray) -> np.ndarray:
        g, p_min = self.config.gamma, self.config.p_min
        f = np.asarray(fuzz_count, dtype=np.float64)
        return np.where(f < (1.0 - p_min) * g, 1.0 - f / g, p_min)

    def _scan(self, n: int) -> np.ndarray:
        return (self.cursor + np.arange(n)) % n

    def probabilities(self, stats):
        n = len(stats["fuzz_count"])
        scan = self._scan(n)
        p = self.accept_probability(stats["fuzz_count"])[scan]
        reach = np.concatenate([[1.0], np.cumprod(1.0 - p)[:-1]])
        first = p * reach / (1.0 - np.prod(1.0 - p))
        out = np.empty(n)
        out[scan] = first
        return out

    def _select(self, stats, rng):
        n = len(stats["fuzz_count"])
        scan = self._scan(n)
        p = self.accept_probability(stats["fuzz_count"])[scan]
        while True:  # one vectorised pass per loop; a whole pass rejects with probability <= (1 - p_min)^n
            hits = np.flatnonzero(rng.random(n) < p)
            if hits.size:
                chosen = int(scan[hits[0]])
                self.cursor = (chosen + 1) % max(n, 1)
                return chosen

    def state(self):
        return {"cursor": int(self.cursor)}

    def load_state(self, state):
        self.cursor = int(state.get("cursor", 0))
