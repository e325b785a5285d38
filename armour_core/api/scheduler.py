"""Fuzzer seed schedulers: which corpus entry to mutate next.

The fuzzer keeps per-entry statistics as equal-length numpy arrays and hands them to :meth:`select`:

* ``fuzz_count``: how often the entry has been picked so far;
* ``gain``: the coverage gain the entry brought when it joined the corpus (largest over the criteria);
* ``age``: iterations since the entry joined (0 for the newest; initial seeds joined at iteration 0);
* ``order``: position of the entry in the corpus (0 is the oldest);
* ``depth``: number of mutations between the entry and its initial seed.

A scheduler with internal state (a scan cursor, say) exposes it through :meth:`state` and
:meth:`load_state`, so an interrupted fuzzing run resumes with the same choices.
"""

from __future__ import annotations

import abc
from typing import Any, ClassVar

import attrs
import numpy as np

from ..errors import InvalidInputError
from .base import Algorithm, seed_field

#: the statistics every fuzzer passes (schedulers may rely on them)
STATS = ("fuzz_count", "gain", "age", "order", "depth")


@attrs.frozen(kw_only=True)
class SchedulerConfig:
    seed: int | None = seed_field()


class SeedScheduler(Algorithm, abc.ABC):
    """Picks the next corpus entry to mutate from per-entry statistics."""

    Config: ClassVar[type] = SchedulerConfig

    def select(self, stats: dict[str, np.ndarray], rng: np.random.Generator) -> int:
        """``stats`` holds equal-length arrays (see :data:`STATS`); returns the index of the next seed."""
        if not stats:
            raise InvalidInputError("stats: the corpus is empty")
        lengths = {k: len(v) for k, v in stats.items()}
        n = next(iter(lengths.values()))
        if any(m != n for m in lengths.values()):
            raise InvalidInputError(f"stats: arrays must have equal lengths, got {lengths}")
        if n == 0:
            raise InvalidInputError("stats: the corpus is empty")
        i = int(self._select({k: np.asarray(v) for k, v in stats.items()}, rng))
        if not 0 <= i < n:
            raise RuntimeError(f"{type(self).__name__} selected index {i} outside the corpus of {n}")
        return i

    def probabilities(self, stats: dict[str, np.ndarray]) -> np.ndarray | None:
        """The selection distribution for the current state, when the scheduler can state it in closed
        form (used by tests and reports); ``None`` otherwise."""
        return None

    def state(self) -> dict[str, Any]:
        """JSON-serialisable internal state (empty for stateless schedulers)."""
        return {}

    def load_state(self, state: dict[str, Any]) -> None:  # noqa: B027 - optional hook
        """Restore what :meth:`state` returned."""

    @abc.abstractmethod
    def _select(self, stats: dict[str, np.ndarray], rng: np.random.Generator) -> int:
        """Index of the next seed."""
