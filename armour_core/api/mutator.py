"""Input mutators for fuzzing: vectorised, seeded, shape-, dtype- and bounds-preserving."""

from __future__ import annotations

import abc
from typing import Any, ClassVar

import attrs
import numpy as np

from ..errors import InvalidInputError
from .arrays import check_inputs, like
from .base import Algorithm, make_config, seed_field


def range_field(default: tuple[float, float], *, low: float = -np.inf, high: float = np.inf):
    """An attrs field holding a ``(min, max)`` parameter range inside ``[low, high]``."""

    def check(inst, attribute, value):
        if len(value) != 2 or not all(np.isfinite(value)):
            raise ValueError(f"{attribute.name}: expected a finite (min, max) pair, got {value!r}")
        lo, hi = value
        if lo > hi:
            raise ValueError(f"{attribute.name}: min {lo} exceeds max {hi}")
        if lo < low or hi > high:
            raise ValueError(f"{attribute.name}: range {value} must lie within [{low}, {high}]")

    return attrs.field(default=default, converter=lambda v: tuple(float(t) for t in v), validator=check)


@attrs.frozen(kw_only=True)
class MutatorConfig:
    seed: int | None = seed_field()


class Mutator(Algorithm, abc.ABC):
    """Base of every mutator.

    The config holds the parameter space (ranges); :meth:`sample_params` draws one parameter set per
    sample, and :meth:`_mutate` applies them to the whole batch at once.
    """

    Config: ClassVar[type] = MutatorConfig
    category: ClassVar[str] = "pixel"
    #: names of the config fields that are (min, max) ranges sampled per sample
    ranges: ClassVar[tuple[str, ...]] = ()

    def __init__(self, *, bounds: tuple[float, float] = (0.0, 1.0), **config: Any):
        self.config = make_config(self.Config, config, owner=type(self).__name__)
        lo, hi = (float(b) for b in bounds)
        if not lo < hi:
            raise InvalidInputError(f"bounds: expected (low, high) with low < high, got {bounds!r}")
        self.bounds = (lo, hi)
        self._calls = 0

    def sample_params(self, n: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
        """One value per sample for each ranged parameter, uniform over its range."""
        return {name: rng.uniform(*getattr(self.config, name), size=n) for name in self.ranges}

    def mutate(self, x: Any, params: dict[str, Any] | None = None, *,
               rng: np.random.Generator | None = None) -> Any:
        """Mutated copy of the batch ``x`` (same shape, dtype, array type; values within ``bounds``)."""
        xa = check_inputs(x, name="x", bounds=self.bounds)
        if rng is None:
            rng = self.rng(self._calls)
            self._calls += 1
        n = xa.shape[0]
        if params is None:
            params = self.sample_params(n, rng)
        else:
            params = {k: np.broadcast_to(np.asarray(v, dtype=np.float64), (n,)) for k, v in params.items()}
            unknown = set(params) - set(self.ranges)
            if unknown:
                raise InvalidInputError(f"params: unknown parameter(s) {sorted(unknown)} for "
                                        f"{type(self).__name__}; expected {list(self.ranges)}")
        out = np.asarray(self._mutate(xa, params, rng), dtype=np.float64)
        if out.shape != xa.shape:
            raise RuntimeError(f"{type(self).__name__}._mutate changed the shape {xa.shape} -> {out.shape}")
        out = np.clip(np.nan_to_num(out, nan=self.bounds[0]), *self.bounds).astype(xa.dtype)
        return like(out, x)

    @abc.abstractmethod
    def _mutate(self, x: np.ndarray, params: dict[str, np.ndarray], rng: np.random.Generator) -> np.ndarray:
        """Apply per-sample ``params`` to the batch."""
