"""Defenses whose inner maximisation is compiled into the training step: PAD (Madry PGD-AT), TRADES, MART.

Each batch is one graph launch: the ascent steps on the input and the optimizer update run together.
Random starting points are drawn in numpy from the defense's seeded generator and passed in, so training
is reproducible under ``seed``.
"""

from __future__ import annotations

from typing import Any

import attrs
import numpy as np
from mindspore import ops

from armour_core.api.attack import Attack, AttackConfig
from armour_core.errors import CapabilityError
from armour_core.ms.losses import cross_entropy

from .base import MSDefense, labels, split_counts, tensor
from .configs import INNER_NORMS, MARTConfig, PADConfig, TRADESConfig
from .records import RECORDS
from .graphs import compile_update, inner_maximiser, kl_per_sample


def random_in_ball(rng: np.random.Generator, shape: tuple[int, ...], eps: float, norm: str) -> np.ndarray:
    """Uniform samples from the L∞ cube or the L2 ball of radius ``eps`` (one per row)."""
    if norm == "linf":
        return rng.uniform(-eps, eps, size=shape).astype(np.float32)
    n, d = shape[0], int(np.prod(shape[1:]))
    g = rng.standard_normal((n, d))
    g /= np.linalg.norm(g, axis=1, keepdims=True) + 1e-20
    r = eps * rng.uniform(0.0, 1.0, size=(n, 1)) ** (1.0 / d)
    return (g * r).reshape(shape).astype(np.float32)


class _InnerMaxDefense(MSDefense):
    def default_eval_attack(self) -> Any:
        c = self.config
        return PGDProbe(model=self.model, eps=c.eps, norm=c.norm, steps=max(20, c.steps), seed=c.seed)

    def _maximiser(self, loss_fn):
        c = self.config
        return inner_maximiser(self.model.logits_fn, loss_fn, eps=c.eps, alpha=c.alpha, steps=c.steps,
                               norm=c.norm, bounds=self.model.bounds)


class ProjectedAdversarialDefense(_InnerMaxDefense):
    """PAD: Madry et al. (2018) PGD adversarial training, min_θ E max_{‖δ‖≤ε} CE(f(x+δ), y).

    PGD with a uniform random start in the ε-ball, ``steps`` steps of ``step_size``, projected after every
    step; with ``replace_ratio < 1`` the rest of the batch stays clean (loss averaged over the whole batch).
    """

    Config = PADConfig
    record = RECORDS["pad"]

    def _train_batch(self, x, y, x_adv, rng):
        c = self.config
        n = len(x)
        k = split_counts(n, c.replace_ratio)
        if k == 0:
            return self.clean_step(x, y)
        perm = rng.permutation(n)
        a, b = np.sort(perm[:k]), np.sort(perm[k:])
        start = random_in_ball(rng, x[a].shape, c.eps, c.norm) if c.random_start else np.zeros_like(x[a])
        x0 = x[a] + start
        if k == n:
            step = self.compiled("pad", self._build_pure)
            out = step(tensor(x[a]), labels(y[a]), tensor(x0))
        else:
            step = self.compiled("pad_mix", self._build_mixed)
            out = step(tensor(x[a]), labels(y[a]), tensor(x0), tensor(x[b]), labels(y[b]))
        return float(out.asnumpy())

    def _build_pure(self):
        attack = self._maximiser(cross_entropy)
        logits_fn = self.model.logits_fn

        def prologue(x, y, x0):
            return attack(x, y, x0), y

        def objective(xa, y):
            return cross_entropy(logits_fn(xa), y).mean()

        return compile_update(objective, self.optimizer, prologue)

    def _build_mixed(self):
        attack = self._maximiser(cross_entropy)
        logits_fn = self.model.logits_fn

        def prologue(x, y, x0, xc, yc):
            return attack(x, y, x0), y, xc, yc

        def objective(xa, y, xc, yc):
            total = cross_entropy(logits_fn(xa), y).sum() + cross_entropy(logits_fn(xc), yc).sum()
            return total / (xa.shape[0] + xc.shape[0])

        return compile_update(objective, self.optimizer, prologue)


class TRADES(_InnerMaxDefense):
    """TRADES (Zhang et al. 2019): min_θ CE(f(x), y) + β·max_{‖x'−x‖≤ε} KL(f(x) ‖ f(x')).

    The inner maximisation ascends the KL against the (fixed) clean prediction from x + 0.001·N(0, 1);
    the outer loss differentiates through both f(x) and f(x').
    """

    Config = TRADESConfig
    record = RECORDS["trades"]

    def _train_batch(self, x, y, x_adv, rng):
        x0 = x + 0.001 * rng.standard_normal(x.shape).astype(np.float32)
        step = self.compiled("trades", self._build)
        return float(step(tensor(x), labels(y), tensor(x0)).asnumpy())

    def _build(self):
        logits_fn = self.model.logits_fn
        attack = self._maximiser(kl_per_sample_swapped)
        beta = float(self.config.beta)

        def prologue(x, y, x0):
            z_ref = ops.stop_gradient(logits_fn(x))
            return x, y, attack(x, z_ref, x0)

        def objective(x, y, xa):
            z = logits_fn(x)
            return cross_entropy(z, y).mean() + beta * kl_per_sample(z, logits_fn(xa)).mean()

        return compile_update(objective, self.optimizer, prologue)


def kl_per_sample_swapped(z, z_ref):
    """KL(softmax(z_ref) ‖ softmax(z)): the inner-maximisation loss with the adversarial logits first."""
    return kl_per_sample(z_ref, z)


class MART(_InnerMaxDefense):
    """MART (Wang et al. 2020): misclassification-aware adversarial training.

    x' maximises CE from x + 0.001·N(0, 1); the loss is the boosted CE on x'
    (−log p_y(x') − log(1 − max_{k≠y} p_k(x'))) plus β·KL(f(x) ‖ f(x'))·(1 − p_y(x)), which weighs the
    robustness term towards points the network misclassifies.
    """

    Config = MARTConfig
    record = RECORDS["mart"]

    def _train_batch(self, x, y, x_adv, rng):
        x0 = x + 0.001 * rng.standard_normal(x.shape).astype(np.float32)
        step = self.compiled("mart", self._build)
        return float(step(tensor(x), labels(y), tensor(x0)).asnumpy())

    def _build(self):
        logits_fn = self.model.logits_fn
        attack = self._maximiser(cross_entropy)
        beta = float(self.config.beta)

        def prologue(x, y, x0):
            return x, y, attack(x, y, x0)

        def objective(x, y, xa):
            z, za = logits_fn(x), logits_fn(xa)
            onehot = ops.one_hot(y, z.shape[1], 1.0, 0.0).astype(z.dtype)
            p_adv = ops.softmax(za, 1)
            p_wrong = (p_adv - 2.0 * onehot).max(1)
            bce = cross_entropy(za, y) - ops.log(1.0001 - p_wrong + 1e-12)
            p_true = (ops.softmax(z, 1) * onehot).sum(1)
            robust = kl_per_sample(z, za) * (1.0000001 - p_true)
            return bce.mean() + beta * robust.mean()

        return compile_update(objective, self.optimizer, prologue)


# ---------------------------------------------------------------------------------------------------
@attrs.frozen(kw_only=True)
class PGDProbeConfig(AttackConfig):
    """``steps`` signed (L∞) or normalised (L2) ascent steps of ``step_size`` (default 2.5·eps/steps)."""

    steps: int = attrs.field(default=20, validator=[attrs.validators.instance_of(int), attrs.validators.ge(1)])
    step_size: float | None = attrs.field(default=None, validator=attrs.validators.optional(
        attrs.validators.gt(0.0)))
    random_start: bool = True


class PGDProbe(Attack):
    """PGD on cross-entropy with the whole loop compiled into one graph: the defenses' default per-epoch
    robustness check (kept private to the defenses; the catalogue's ``pgd`` is the public attack)."""

    Config = PGDProbeConfig
    norms = INNER_NORMS  # a private probe without a record: its norms are its config's

    def __init__(self, *, model: Any, bounds: tuple[float, float] | None = None, **config: Any):
        super().__init__(model=model, bounds=bounds, **config)
        if "graphs" not in self.model.capabilities:
            raise CapabilityError(f"PGDProbe compiles its loop and needs the model capability 'graphs', which "
                                  f"{type(self.model).__name__} does not provide (use an MSModel)")

    def _generate(self, x, y, target):
        import mindspore as ms

        c = self.config
        alpha = c.step_size if c.step_size is not None else 2.5 * c.eps / c.steps
        key = (c.eps, alpha, c.steps, c.norm, tuple(self.model.bounds))
        graph = self.model.compiled("pgd_probe", key, lambda: ms.jit(inner_maximiser(
            self.model.logits_fn, cross_entropy, eps=c.eps, alpha=alpha, steps=c.steps, norm=c.norm,
            bounds=self.model.bounds)))  # the model's one cache: inference mode, follows reloaded weights
        rng = self.attack_rng()
        start = random_in_ball(rng, x.shape, c.eps, c.norm) if c.random_start else np.zeros_like(x)
        out = graph(tensor(x), labels(y), tensor(x + start)).asnumpy()
        self.model.count(forward=c.steps, backward=c.steps, queries=c.steps * len(x))
        return out
