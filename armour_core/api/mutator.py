"""Input mutators for fuzzing: vectorised, seeded, shape-, dtype- and bounds-preserving.

A mutator's config holds its parameter space: ``(min, max)`` ranges from which :meth:`Mutator.sample_params`
draws one value per input. :meth:`Mutator.mutate` applies per-input parameters to a whole batch at once.
Intensities are fractions of the data range, so one config serves data in [0, 1] and in [0, 255].

:func:`is_valid` is DeepHunter's validity check. This base imports neither the registry nor MindSpore:
resolving mutator names through the registry (adversarial mutators made from fuzzing attacks included) is the
fuzz distribution's job, in :mod:`armour_plugins_fuzz.mutators.resolve`.
"""

from __future__ import annotations

import abc
from typing import Any, ClassVar

import attrs
import numpy as np

from ..errors import InvalidInputError
from .arrays import check_inputs, like, to_numpy
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

    def convert(value):
        if np.isscalar(value):
            value = (value, value)
        try:
            return tuple(float(t) for t in value)
        except (TypeError, ValueError):
            raise ValueError(f"expected a (min, max) pair of numbers, got {value!r}") from None

    return attrs.field(default=default, converter=convert, validator=check,
                       metadata={"armour_range": (float(low), float(high))})


@attrs.frozen(kw_only=True)
class MutatorConfig:
    seed: int | None = seed_field()


class Mutator(Algorithm, abc.ABC):
    """Base of every mutator.

    The config holds the parameter space (ranges); :meth:`sample_params` draws one parameter set per
    sample, and :meth:`_mutate` applies them to the whole batch at once. ``category`` must match the
    record's ``MutatorSpec``; ``image_only`` mutators need (N, C, H, W) or (N, H, W) batches.
    """

    Config: ClassVar[type] = MutatorConfig
    category: ClassVar[str] = "pixel"
    image_only: ClassVar[bool] = True
    #: names of the config fields that are (min, max) ranges sampled per sample
    ranges: ClassVar[tuple[str, ...]] = ()

    def __init__(self, *, bounds: tuple[float, float] = (0.0, 1.0), **config: Any):
        self.config = make_config(self.Config, config, owner=type(self).__name__)
        self.bounds = _check_bounds(bounds)
        self._calls = 0

    @property
    def span(self) -> float:
        """Width of the data range (intensities in configs are fractions of it)."""
        return self.bounds[1] - self.bounds[0]

    def param_limits(self, name: str) -> tuple[float, float]:
        """The hard limits a value of parameter ``name`` must respect (wider than its configured range)."""
        field = attrs.fields_dict(self.Config).get(name)
        return field.metadata.get("armour_range", (-np.inf, np.inf)) if field is not None else (-np.inf, np.inf)

    def sample_params(self, n: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
        """One value per sample for each ranged parameter, uniform over its range."""
        if not isinstance(n, (int, np.integer)) or n < 0:
            raise InvalidInputError(f"n: expected a non-negative int, got {n!r}")
        return {name: rng.uniform(*getattr(self.config, name), size=int(n)) for name in self.ranges}

    def mutate(self, x: Any, params: dict[str, Any] | None = None, *,
               rng: np.random.Generator | None = None) -> Any:
        """Mutated copy of the batch ``x`` (same shape, dtype, array type; values within ``bounds``).

        ``params``: per-sample values (scalars broadcast) for some or all ranged parameters; the rest are
        sampled. ``rng``: the generator for sampling and any inner randomness (default: derived from
        ``seed`` and a call counter, so a seeded mutator gives the same sequence of mutants every run).
        """
        xa = check_inputs(x, name="x", bounds=self.bounds)
        if self.image_only:
            image_shape(xa)
        if rng is None:
            rng = self.rng(self._calls)
            self._calls += 1
        n = xa.shape[0]
        given = {} if params is None else dict(params)
        unknown = set(given) - set(self.ranges)
        if unknown:
            raise InvalidInputError(f"params: unknown parameter(s) {sorted(unknown)} for "
                                    f"{type(self).__name__}; expected {list(self.ranges)}")
        sampled = self.sample_params(n, rng)
        for k, v in given.items():
            arr = np.asarray(to_numpy(v, f"params[{k!r}]"), dtype=np.float64)
            try:
                arr = np.broadcast_to(arr, (n,))
            except ValueError:
                raise InvalidInputError(f"params[{k!r}]: expected a scalar or {n} values, got shape "
                                        f"{arr.shape}") from None
            lo, hi = self.param_limits(k)
            if not np.all(np.isfinite(arr)) or arr.min() < lo or arr.max() > hi:
                raise InvalidInputError(f"params[{k!r}]: values must be finite and within [{lo}, {hi}], "
                                        f"got range [{arr.min()}, {arr.max()}]")
            sampled[k] = arr
        out = np.asarray(self._mutate(xa, sampled, rng), dtype=np.float64)
        if out.shape != xa.shape:
            raise RuntimeError(f"{type(self).__name__}._mutate changed the shape {xa.shape} -> {out.shape}")
        out = np.clip(np.nan_to_num(out, nan=self.bounds[0]), *self.bounds).astype(xa.dtype)
        return like(out, x)

    @abc.abstractmethod
    def _mutate(self, x: np.ndarray, params: dict[str, np.ndarray], rng: np.random.Generator) -> np.ndarray:
        """Apply per-sample ``params`` to the batch."""


def _check_bounds(bounds: Any) -> tuple[float, float]:
    try:
        lo, hi = (float(b) for b in bounds)
    except (TypeError, ValueError):
        raise InvalidInputError(f"bounds: expected (low, high), got {bounds!r}") from None
    if not (np.isfinite(lo) and np.isfinite(hi) and lo < hi):
        raise InvalidInputError(f"bounds: expected finite (low, high) with low < high, got {bounds!r}")
    return lo, hi


def image_shape(x: np.ndarray) -> tuple[int, int, int]:
    """(C, H, W) of an image batch (N, C, H, W) or (N, H, W); a clear error for flat feature vectors."""
    if x.ndim == 4:
        return x.shape[1], x.shape[2], x.shape[3]
    if x.ndim == 3:
        return 1, x.shape[1], x.shape[2]
    raise InvalidInputError(f"x: image mutators need a batch of images (N, C, H, W) or (N, H, W), got shape "
                            f"{x.shape}; reshape flat feature vectors to images, or use a mutator that works "
                            "on any shape (noise mutators, adversarial mutators)")


def validity(x: np.ndarray, ref: np.ndarray, *, bounds: tuple[float, float], alpha: float, beta: float,
             change_tol: float | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(valid mask, L0 count, L∞) of each mutant ``x`` against its reference ``ref`` (both ``(N, ...)`` arrays,
    already checked): DeepHunter's constraints, L0 < ``alpha`` of the elements or L∞ <= ``beta`` of the range.

    An element counts as changed when it moved by more than ``change_tol`` (default: half an 8-bit grey level
    of the range, so round-off from resampling is not a change). The fuzzer calls this on every batch.
    """
    lo, hi = bounds
    tol = (hi - lo) / 510.0 if change_tol is None else change_tol
    d = np.abs(x.reshape(x.shape[0], -1).astype(np.float64) - ref.reshape(ref.shape[0], -1))
    size = d.shape[1]
    l0 = np.count_nonzero(d > tol, axis=1)
    linf = d.max(axis=1) if size else np.zeros(x.shape[0])
    return (l0 < alpha * size) | (linf <= beta * (hi - lo)), l0, linf


def is_valid(reference: Any, mutant: Any, *, bounds: tuple[float, float], alpha: float = 0.02,
             beta: float = 0.2) -> np.ndarray:
    """DeepHunter's validity check per sample, on checked inputs: a mutant is valid when it changes fewer than
    ``alpha`` of the elements (L0) or changes none by more than ``beta`` of the data range (L∞).

    Measured against the data range given by ``bounds``, so [0, 1] and [0, 255] data behave alike; any change
    above float32 round-off counts in L0.
    """
    lo, hi = _check_bounds(bounds)
    if not (0.0 <= alpha <= 1.0 and 0.0 <= beta <= 1.0):
        raise InvalidInputError(f"alpha and beta must lie in [0, 1], got alpha={alpha}, beta={beta}")
    ref = np.asarray(to_numpy(reference, "reference"), dtype=np.float64)
    mut = np.asarray(to_numpy(mutant, "mutant"), dtype=np.float64)
    if ref.shape != mut.shape or ref.ndim < 1:
        raise InvalidInputError(f"mutant: shape {mut.shape} differs from reference {ref.shape}")
    return validity(mut, ref, bounds=(lo, hi), alpha=alpha, beta=beta, change_tol=1e-6 * (hi - lo))[0]


#: registry helpers that moved to the fuzz distribution; the old names forward for one release
_MOVED = ("adversarial_attack_names", "mutator_names", "mutator_category", "create_mutator")


def __getattr__(name: str) -> Any:
    if name in _MOVED:
        import importlib
        import warnings

        new = "armour_plugins_fuzz.mutators.resolve"
        warnings.warn(f"armour_core.api.mutator.{name} moved to {new}.{name}; the old name is removed in the next "
                      "release", DeprecationWarning, stacklevel=2)
        try:
            module = importlib.import_module(new)
        except ModuleNotFoundError:
            raise ImportError(f"{name} is provided by armour-plugins-fuzz: pip install armour-plugins-fuzz") from None
        return getattr(module, name)
    raise AttributeError(f"module 'armour_core.api.mutator' has no attribute {name!r}")
