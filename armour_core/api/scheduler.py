"""Fuzzer seed schedulers: which corpus entry to mutate next."""

from __future__ import annotations

import abc
from typing import ClassVar

import attrs
import numpy as np

from ..errors import InvalidInputError
from .base import Algorithm, seed_field

@attrs.frozen(kw_only=True)
class SchedulerConfig:
    seed: int | None = seed_field()


class SeedScheduler(Algorithm, abc.ABC):
    """Picks the next corpus entry to mutate from per-entry statistics."""

    Config: ClassVar[type] = SchedulerConfig

    def select(self, stats: dict[str, np.ndarray], rng: np.random.Generator) -> int:
        """``stats`` holds equal-length arrays (``fuzz_count``, ``gain``, ``age``...); returns an index."""
        n = len(next(iter(stats.values()))) if stats else 0
        if n == 0:
            raise InvalidInputError("stats: the corpus is empty")
        i = int(self._select(stats, rng))
        if not 0 <= i < n:
            raise RuntimeError(f"{type(self).__name__} selected index {i} outside the corpus of {n}")
        return i

    @abc.abstractmethod
    def _select(self, stats: dict[str, np.ndarray], rng: np.random.Generator) -> int:
        """Index of the next seed."""
