"""What LiRA and RMIA share: the attacker's population, the design of which pool examples each shadow
(reference) model trains on, and the shadows themselves, trained as tasks on an executor and cached on disk.

Both attacks build shadows the same way from the same pool, seed and recipe, so with equal settings they use
the very same cached models (an RMIA audit after a LiRA audit trains nothing).
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import attrs
import numpy as np

from armour_core.api.inference import MembershipInference
from armour_core.errors import ConfigError, InvalidInputError
from armour_core.executors import Executor, get_executor

from .shadows import ShadowBuilder, row_keys, shadow_task


@attrs.frozen
class ReferenceOutputs:
    """Logits of every shadow on each queried array, ``(shadows, rows, classes)``, and the design."""

    logits: list[np.ndarray]
    keep: np.ndarray  #: (shadows, pool) inclusion matrix
    keys: np.ndarray  #: sorted row keys of the pool

    def in_mask(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """(shadows, n): whether each shadow trained on each ``(x_i, y_i)`` (False for rows not in the pool)."""
        q = row_keys(x, y)
        pos = np.minimum(np.searchsorted(self.keys, q), len(self.keys) - 1)
        idx = np.where(self.keys[pos] == q, pos, -1)
        return np.where(idx >= 0, self.keep[:, np.maximum(idx, 0)], False)


def design_block(fraction: float) -> tuple[int, int]:
    """(p, q): shadows come in blocks of q in which every pool example is IN for exactly p (p/q ≈ fraction)."""
    f = Fraction(float(fraction)).limit_denominator(64)
    return max(f.numerator, 1), max(f.denominator, 2)


class ShadowAttack(MembershipInference):
    """Base of attacks calibrated with shadow models (config: ``shadows``, ``online``, ``keep_fraction``,
    ``architecture``, the training recipe, ``cache``, ``progress``, ``seed``).

    Args:
        model: the target (an ``nn.Cell`` or armour ``Classifier``).
        network_fn: ``() -> nn.Cell`` building an untrained shadow network; or set ``architecture`` to a
            registered model name (``mlp``, ``lenet5``) and shadows are built like the target's default.
            For the ``processes`` and ``ray`` executors it must be a module-level function (or a
            ``functools.partial`` of one): workers import it.
        executor: where shadows train: ``"local"`` (default), ``"processes"``, ``"ray"`` or an
            :class:`armour_core.executors.Executor`. Results are the same on every executor.
    """

    def __init__(self, *, model: Any, network_fn: Any = None, executor: str | Executor | None = None,
                 **config: Any):
        super().__init__(model=model, **config)
        if network_fn is not None and not callable(network_fn):
            raise ConfigError(f"network_fn: expected a callable returning an nn.Cell, got {network_fn!r}")
        if executor is not None and not isinstance(executor, (str, Executor)):
            raise ConfigError(f"executor: expected 'local', 'processes', 'ray' or an Executor, got {executor!r}")
        self.network_fn = network_fn
        self.executor = get_executor(executor) if isinstance(executor, str) else executor
        self._pop: tuple[np.ndarray, np.ndarray] | None = None
        self._pop_member: np.ndarray | None = None
        self.shadows_loaded_ = 0
        self.shadows_trained_ = 0

    # ------------------------------------------------------------------ population
    def _fit(self, xm, ym, xn, yn) -> None:
        self.set_population(np.concatenate([xm, xn]), np.concatenate([ym, yn]),
                            known_members=np.r_[np.ones(len(xm), bool), np.zeros(len(xn), bool)])

    def set_population(self, x: Any, y: Any, known_members: Any = None) -> "ShadowAttack":
        """Data the attacker may train shadows on (duplicates are dropped). ``known_members`` (optional
        boolean mask) marks rows known to be members of the target's training set: shadows may train on
        them, but an attack that needs non-member population points (RMIA's z) leaves them out."""
        xa, ya = self._xy(x, y, "population")
        if known_members is None:
            known = np.zeros(len(xa), bool)
        else:
            known = np.asarray(known_members)
            if known.dtype != bool or known.shape != (len(xa),):
                raise InvalidInputError(f"known_members: expected a boolean mask of shape ({len(xa)},), got "
                                        f"{known.dtype} of shape {known.shape}")
        _, first = np.unique(row_keys(xa, ya), return_index=True)
        first = np.sort(first)
        self._pop = (xa[first], ya[first])
        self._pop_member = known[first]
        self.fitted = True
        return self

    # ------------------------------------------------------------------ shadows
    def _shadow_builder(self, input_shape: tuple[int, ...]) -> ShadowBuilder:
        if self.network_fn is not None:
            return ShadowBuilder(factory=self.network_fn)
        arch = self.config.architecture
        if arch is None:
            raise ConfigError(f"{self.name}: shadow models need an architecture: set architecture='mlp' (a "
                              "registered model name) or pass network_fn=<callable returning an untrained nn.Cell>")
        from armour_core import registry

        return ShadowBuilder(model=registry.spec("model", arch).name, input_shape=tuple(input_shape),
                             num_classes=int(self.model.num_classes))

    def _design(self, n_pool: int) -> np.ndarray:
        """(shadows, n_pool) inclusion matrix, reproducible from ``seed``. Shadows come in blocks of q in
        which each pool example is IN for exactly p (p/q = ``keep_fraction``; Carlini et al.'s balanced
        design per block). A block does not depend on how many shadows there are, so shadow s trains on
        the same data whatever ``shadows`` is, and a larger run reuses the smaller run's cached shadows."""
        p, q = design_block(self.config.keep_fraction)
        s = self.config.shadows
        blocks = [self.rng(7, n_pool, b).random((q, n_pool)).argsort(axis=0) < p for b in range(-(-s // q))]
        return np.concatenate(blocks)[:s]

    def _pool(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Distinct rows the shadows draw from (online: population + queries; offline: population), with
        their sorted keys."""
        if self.config.online:
            px, py = (x, y) if self._pop is None else (np.concatenate([self._pop[0], x]),
                                                       np.concatenate([self._pop[1], y]))
        else:
            if self._pop is None:
                raise InvalidInputError(f"{self.name} (offline): call fit(...) or set_population(x, y) first; "
                                        "offline shadows train on the attacker's population, never on the targets")
            px, py = self._pop
        keys, first = np.unique(row_keys(px, py), return_index=True)
        return px[first], py[first], keys

    def reference_outputs(self, x: np.ndarray, y: np.ndarray, queries: list[np.ndarray]) -> ReferenceOutputs:
        """Every shadow's logits on each array of ``queries`` (trained as tasks on the executor, or loaded)."""
        cfg = self.config
        pool_x, pool_y, keys = self._pool(x, y)
        keep = self._design(len(keys))
        builder = self._shadow_builder(tuple(x.shape[1:]))
        executor = self.executor or get_executor("local")
        if executor.name != "local":
            builder.check_picklable()
        from armour_core.cache import cache_dir

        root = str(cache_dir()) if cfg.cache else None
        recipe = {"epochs": cfg.epochs, "batch_size": cfg.batch_size, "learning_rate": cfg.learning_rate,
                  "weight_decay": cfg.weight_decay}
        tasks = [{"builder": builder, "x": pool_x[keep[s]], "y": pool_y[keep[s]], "recipe": recipe,
                  "seed": int(self.rng(100, s).integers(2**31 - 1)), "cache": cfg.cache, "cache_root": root,
                  "queries": list(queries)} for s in range(cfg.shadows)]
        results = executor.map(shadow_task, tasks, desc=f"{self.name} shadows", progress=cfg.progress)
        loaded = sum(r["loaded"] for r in results)
        self.shadows_loaded_ += loaded
        self.shadows_trained_ += len(results) - loaded
        logits = [np.stack([r["logits"][i] for r in results]) for i in range(len(queries))]
        return ReferenceOutputs(logits=logits, keep=keep, keys=keys)
