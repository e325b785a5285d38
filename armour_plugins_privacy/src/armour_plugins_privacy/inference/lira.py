"""LiRA, the likelihood-ratio attack of Carlini et al. (2022), "Membership Inference Attacks From First
Principles".

For each target example the attack models the target's logit-scaled confidence
phi = log(p_y / (1 - p_y)) under two hypotheses with Gaussians fitted per example over shadow models:
trained with the example (IN) and without it (OUT). Online: the score is the log-likelihood ratio
log N(phi; mu_in, s_in^2) - log N(phi; mu_out, s_out^2). Offline (no shadow ever sees the targets): a
one-sided test, score = log P[Z <= phi] with Z ~ N(mu_out, s_out^2).

Shadows train on random subsets of a pool: the attacker's population (given to ``fit``; LiRA ignores the
membership labels there) plus, online, the queried examples themselves, with a balanced design so every
query is IN for exactly ``keep_fraction`` of the shadows.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from armour_core.api.inference import MembershipInference, logit_confidence
from armour_core.errors import ConfigError, InvalidInputError
from armour_core.progress import Progress

from .configs import LiRAConfig
from .shadows import logits_of, row_keys, train_shadow


def _masked_stats(phi: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Count, mean and unbiased variance of ``phi`` (shadows, views, n) over the shadows where ``mask``
    (shadows, n) holds: shapes (n,), (views, n), (views, n)."""
    m = mask[:, None, :]
    n = mask.sum(axis=0)
    mu = np.where(m, phi, 0.0).sum(axis=0) / np.maximum(n, 1)
    ss = np.where(m, (phi - mu) ** 2, 0.0).sum(axis=0)
    return n, mu, ss / np.maximum(n - 1, 1)


def _pooled_variance(n: np.ndarray, var: np.ndarray) -> np.ndarray:
    """One variance per view for all examples: within-example sums of squares pooled over examples."""
    dof = np.maximum(n - 1, 0)
    total = dof.sum()
    pooled = (var * dof).sum(axis=-1) / total if total else np.zeros(var.shape[0])
    return np.broadcast_to(pooled[:, None], var.shape).copy()


def query_views(x: np.ndarray, augment: bool, fill: float) -> list[np.ndarray]:
    """The queried inputs, plus (``augment``) four one-pixel shifts of each image, filled with ``fill``
    (Carlini et al.'s multiple queries: the training-time invariances of the model)."""
    if not augment:
        return [x]
    if x.ndim != 4:
        raise InvalidInputError(f"augment=True: shifted queries need image batches (N, C, H, W), got shape {x.shape}")
    views = [x]
    for axis, step in ((2, 1), (2, -1), (3, 1), (3, -1)):
        v = np.roll(x, step, axis=axis)
        edge = [slice(None)] * 4
        edge[axis] = slice(0, 1) if step > 0 else slice(-1, None)
        v[tuple(edge)] = fill
        views.append(v)
    return views


def _log_normal_pdf(x, mu, var):
    return -0.5 * (np.log(2 * np.pi * var) + (x - mu) ** 2 / var)


class LiRA(MembershipInference):
    """Likelihood-ratio membership inference with MindSpore shadow models.

    Args:
        model: the target (an ``nn.Cell`` or armour ``Classifier``).
        network_fn: ``() -> nn.Cell`` building an untrained shadow network; or set ``architecture`` to a
            registered model name (``mlp``, ``lenet5``) and shadows are built like the target's default.
    """

    Config: ClassVar[type] = LiRAConfig
    registry_name = "lira"

    def __init__(self, *, model: Any, network_fn: Any = None, **config: Any):
        super().__init__(model=model, **config)
        if network_fn is not None and not callable(network_fn):
            raise ConfigError(f"network_fn: expected a callable returning an nn.Cell, got {network_fn!r}")
        self.network_fn = network_fn
        self._pop: tuple[np.ndarray, np.ndarray] | None = None
        self.stats_: dict[str, np.ndarray] = {}  #: per-example Gaussians of the last ``score`` call
        self.shadows_loaded_ = 0
        self.shadows_trained_ = 0

    # ------------------------------------------------------------------ population
    def _fit(self, xm, ym, xn, yn) -> None:
        self.set_population(np.concatenate([xm, xn]), np.concatenate([ym, yn]))

    def set_population(self, x: Any, y: Any) -> "LiRA":
        """Data the attacker may train shadows on (membership unknown; duplicates are dropped)."""
        xa, ya = self._xy(x, y, "population")
        _, first = np.unique(row_keys(xa, ya), return_index=True)
        first = np.sort(first)
        self._pop = (xa[first], ya[first])
        self.fitted = True
        return self

    # ------------------------------------------------------------------ shadows
    def _builder(self, input_shape: tuple[int, ...]):
        if self.network_fn is not None:
            fn = self.network_fn
            return fn, f"fn-{getattr(fn, '__module__', '')}.{getattr(fn, '__qualname__', type(fn).__name__)}"
        arch = self.config.architecture
        if arch is None:
            raise ConfigError("lira: shadow models need an architecture: set architecture='mlp' (a registered "
                              "model name) or pass network_fn=<callable returning an untrained nn.Cell>")
        from armour_core import registry

        name = registry.spec("model", arch).name
        num_classes = self.model.num_classes

        def build():
            return registry.create("model", name, input_shape=tuple(input_shape), num_classes=num_classes)

        return build, f"{name}-{'x'.join(map(str, input_shape))}-c{num_classes}"

    def _design(self, n_pool: int) -> np.ndarray:
        """(shadows, n_pool) inclusion matrix: each pool example in exactly round(keep_fraction * S)
        shadows (Carlini et al.'s balanced design), reproducible from ``seed``."""
        s = self.config.shadows
        k = int(round(self.config.keep_fraction * s))
        k = min(max(k, 1), s - 1) if s > 1 else 1
        rng = self.rng(7, n_pool)
        order = rng.random((s, n_pool)).argsort(axis=0)
        keep = order < k
        if s == 1:  # a single (offline) shadow trains on a random keep_fraction of the pool
            keep = (rng.random((1, n_pool)) < self.config.keep_fraction)
        return keep

    def shadow_confidences(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Logit-scaled confidences of every shadow on each view of ``(x, y)``, (shadows, views, n), and
        the IN mask, (shadows, n)."""
        cfg = self.config
        if cfg.online:
            px, py = (x, y) if self._pop is None else (np.concatenate([self._pop[0], x]),
                                                       np.concatenate([self._pop[1], y]))
        else:
            if self._pop is None:
                raise InvalidInputError("lira (offline): call fit(...) or set_population(x, y) first; offline "
                                        "shadows train on the attacker's population, never on the targets")
            px, py = self._pop
        keys, inverse = np.unique(row_keys(px, py), return_index=False, return_inverse=True)
        first = np.full(len(keys), -1)
        first[inverse[::-1]] = np.arange(len(px))[::-1]  # first occurrence of each distinct row
        pool_x, pool_y = px[first], py[first]
        qkeys = row_keys(x, y)
        pos = np.searchsorted(keys, qkeys)
        pos = np.minimum(pos, len(keys) - 1)
        qidx = np.where(keys[pos] == qkeys, pos, -1)
        keep = self._design(len(keys))
        build, arch_id = self._builder(tuple(x.shape[1:]))
        recipe = {"epochs": cfg.epochs, "batch_size": cfg.batch_size, "learning_rate": cfg.learning_rate,
                  "weight_decay": cfg.weight_decay}
        views = query_views(x, cfg.augment, self.model.bounds[0])
        phi = np.empty((cfg.shadows, len(views), len(x)))
        with Progress(cfg.shadows, "LiRA shadows", enabled=cfg.progress, unit="models") as bar:
            for s in range(cfg.shadows):
                seed = int(self.rng(100, s).integers(2**31 - 1))
                net, loaded = train_shadow(build, arch_id, pool_x[keep[s]], pool_y[keep[s]], recipe=recipe,
                                           seed=seed, cache=cfg.cache)
                self.shadows_loaded_ += int(loaded)
                self.shadows_trained_ += int(not loaded)
                for v, xv in enumerate(views):
                    phi[s, v] = logit_confidence(logits_of(net, xv), y)
                bar.update(1)
        in_mask = np.where(qidx >= 0, keep[:, np.maximum(qidx, 0)], False)
        return phi, in_mask

    # ------------------------------------------------------------------ scoring
    def _score(self, x, y):
        cfg = self.config
        target = np.stack([logit_confidence(self.model.logits(v), y)
                           for v in query_views(x, cfg.augment, self.model.bounds[0])])
        phi, in_mask = self.shadow_confidences(x, y)
        n_out, mu_out, var_out = _masked_stats(phi, ~in_mask)
        n_in, mu_in, var_in = _masked_stats(phi, in_mask)
        use_global = cfg.variance == "global" or (cfg.variance == "auto" and cfg.shadows < 64)
        if use_global:
            var_out = _pooled_variance(n_out, var_out)
            var_in = _pooled_variance(n_in, var_in)
        floor = 1e-8
        var_out = np.maximum(var_out, floor)
        var_in = np.maximum(var_in, floor)
        if np.any(n_out == 0):
            raise InvalidInputError("lira: some queried examples were in every shadow's training set; add "
                                    "population data or lower keep_fraction")
        from scipy.special import log_ndtr

        # views are combined by averaging their per-view statistics (Carlini et al.'s multi-query LiRA)
        offline = log_ndtr((target - mu_out) / np.sqrt(var_out)).mean(axis=0)
        if cfg.online:
            llr = (_log_normal_pdf(target, mu_in, var_in) - _log_normal_pdf(target, mu_out, var_out)).mean(axis=0)
            score = np.where(n_in > 0, llr, offline)
        else:
            score = offline
        self.stats_ = {"target": target, "mu_in": mu_in, "mu_out": mu_out, "var_in": var_in,
                       "var_out": var_out, "n_in": n_in, "n_out": n_out}
        return score
