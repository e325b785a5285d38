"""Auto-PGD (Croce & Hein, ICML 2020: "Reliable evaluation of adversarial robustness with an ensemble of
diverse parameter-free attacks").

PGD without a step-size to tune: the step starts at ``2ε`` and is halved at checkpoints
``w_j = ⌈p_j N⌉`` (``p_0 = 0``, ``p_1 = 0.22``, ``p_{j+1} = p_j + max(p_j - p_{j-1} - 0.03, 0.06)``) when

1. fewer than ``ρ·(w_j - w_{j-1})`` of the steps since the last checkpoint increased the loss, or
2. neither the step size nor the best loss changed since the last checkpoint;

after a halving the iterate restarts from the best point found. Steps use momentum
``x_{k+1} = P(x_k + α(z_{k+1} - x_k) + (1 - α)(x_k - x_{k-1}))`` with ``z_{k+1} = P(x_k + η·s(∇f))``,
``s`` = sign (L∞) or L2-normalisation, ``α = momentum = 0.75``.

Losses: cross-entropy and the difference of logits ratio ``DLR = -(z_y - max_{j≠y} z_j) / (z_π1 - z_π3)``;
targeted: ``-CE(z, t)`` and ``-(z_y - z_t) / (z_π1 - (z_π3 + z_π4)/2)``. With ``target_classes = k``
(APGD-T) the targeted loss is run against each of the ``k`` most likely other classes in turn on the
samples not yet misclassified.

Each iteration is one compiled graph call (one forward + backward pass, or ``eot_samples`` of them for
randomised models: Expectation over Transformation) that also keeps the per-sample best loss, best point
and first adversarial point, so nothing returns to the host between checkpoints. Classifiers that are not
MindSpore models run the same iteration in numpy through their ``loss_gradient``.
"""

from __future__ import annotations

import math

import numpy as np

from armour_core.api.attack import Attack
from armour_core.api.batching import pad_to_bucket
from armour_core.errors import InvalidInputError

from .configs import APGDConfig, APGDTConfig
from ..minnorm.deepfool import top_other_classes
from ..minnorm.scores import class_scores_and_gradients
from .records import RECORDS


def checkpoints(steps: int) -> list[int]:
    """The iterations ``w_j`` at which APGD may halve its step (paper, section 3.2)."""
    p = [0.0, 0.22]
    while p[-1] < 1.0:
        p.append(p[-1] + max(p[-1] - p[-2] - 0.03, 0.06))
    marks = {int(math.ceil(round(v * steps, 9))) for v in p}  # round: 0.41 + 0.16 must not ceil to 58
    return sorted(m for m in marks if m <= steps)


class _APGDGraph:
    """The compiled APGD iteration for one model, loss, targeting mode and norm (kept in the model's cache,
    ``MSModel.compiled``, so it runs in inference mode and follows replaced weights)."""

    def __init__(self, model, **opts):
        import mindspore as ms

        key = tuple(sorted(opts.items()))
        self.start = model.compiled("apgd_start", key, lambda: _apgd_functions(model, **opts)[0])
        self.step = model.compiled("apgd_step", key, lambda: _apgd_functions(model, **opts)[1])
        self.to_device = ms.Tensor

    @staticmethod
    def to_host(t):
        return t.asnumpy()


def _apgd_functions(model, *, loss: str, targeted: bool, norm: str, eot: int, lo: float, hi: float):
    """The jitted ``start`` (first evaluation) and ``step`` (one APGD iteration)."""
    import mindspore as ms
    from mindspore import ops

    logits_fn = model.logits_fn

    def objective(x, y, t):
        z = logits_fn(x)
        n_cls = z.shape[1]
        oh_y = ops.one_hot(y, n_cls, 1.0, 0.0).astype(z.dtype)
        z_y = (z * oh_y).sum(1)
        if loss == "ce":
            logp = ops.log_softmax(z, 1)
            if targeted:
                oh_t = ops.one_hot(t, n_cls, 1.0, 0.0).astype(z.dtype)
                values = (logp * oh_t).sum(1)
            else:
                values = -(logp * oh_y).sum(1)
        else:
            top, _ = ops.topk(z, 4 if targeted else 3)
            if targeted:
                oh_t = ops.one_hot(t, n_cls, 1.0, 0.0).astype(z.dtype)
                z_t = (z * oh_t).sum(1)
                values = -(z_y - z_t) / (top[:, 0] - 0.5 * (top[:, 2] + top[:, 3]) + 1e-12)
            else:
                other = (z - 1e9 * oh_y).max(1)
                values = -(z_y - other) / (top[:, 0] - top[:, 2] + 1e-12)
        return values.sum(), values, z

    vg = ms.value_and_grad(objective, grad_position=0, has_aux=True)

    def evaluate(x, y, t):
        total_v, total_g, z = None, None, None
        for _ in range(eot):
            (_, v, z), g = vg(x, y, t)
            total_v = v if total_v is None else total_v + v
            total_g = g if total_g is None else total_g + g
        return total_v / eot, total_g / eot, z

    def expand(a, ref):
        return a.reshape((-1,) + (1,) * (ref.ndim - 1))

    def project(x, x0, eps):
        d = x - x0
        if norm == "linf":
            d = ops.clamp(d, -eps, eps)
        else:
            flat = d.reshape(d.shape[0], -1)
            nrm = ops.sqrt((flat * flat).sum(1) + 1e-24)
            d = d * expand(ops.minimum(eps / nrm, ops.ones_like(nrm)), d)
        return ops.clamp(x0 + d, lo, hi)

    def succeeded(z, y, t, explicit):
        pred = z.argmax(1)
        hit = (pred == t).astype(z.dtype)
        miss = (pred != y).astype(z.dtype)
        return explicit * hit + (1.0 - explicit) * miss

    def start(x, y, t, explicit):
        v, g, z = evaluate(x, y, t)
        return v, g, succeeded(z, y, t, explicit)

    def step(x_k, x_prev, g_k, loss_k, eta, alpha, x0, y, t, eps, explicit,
             f_max, x_max, g_max, count, adv, found):
        if norm == "linf":
            direction = ops.sign(g_k)
        else:
            flat = g_k.reshape(g_k.shape[0], -1)
            direction = g_k / expand(ops.sqrt((flat * flat).sum(1)) + 1e-12, g_k)
        z_next = project(x_k + expand(eta, x_k) * direction, x0, eps)
        x_next = project(x_k + alpha * (z_next - x_k) + (1.0 - alpha) * (x_k - x_prev), x0, eps)
        v, g, z = evaluate(x_next, y, t)
        ok = succeeded(z, y, t, explicit)
        count = count + (v > loss_k).astype(count.dtype)
        better = v > f_max
        f_max = ops.where(better, v, f_max)
        x_max = ops.where(expand(better, x_max), x_next, x_max)
        g_max = ops.where(expand(better, g_max), g, g_max)
        fresh = ops.logical_and(ok > 0, found <= 0)
        adv = ops.where(expand(fresh, adv), x_next, adv)
        found = ops.maximum(found, ok)
        return x_next, x_k, g, v, f_max, x_max, g_max, count, adv, found

    return ms.jit(start), ms.jit(step)


class _APGDNumpy:
    """The same iteration for any :class:`Classifier` with gradients (numpy; no compiled graph).

    CE and untargeted DLR come from ``model.loss_gradient``; the targeted DLR is built from the class
    gradients of :mod:`..minnorm.scores` (it only uses score differences, which are exact there).
    """

    to_device = staticmethod(np.asarray)
    to_host = staticmethod(np.asarray)
    counts_itself = True  # passes go through model.loss_gradient / logits, which count them

    def __init__(self, model, *, loss: str, targeted: bool, norm: str, eot: int, lo: float, hi: float):
        self.model, self.loss, self.targeted, self.norm, self.eot = model, loss, targeted, norm, eot
        self.lo, self.hi = lo, hi

    def _once(self, x, y, t):
        m = self.model
        if self.loss == "ce":
            if self.targeted:
                v, g = m.loss_gradient(x, t, loss="ce")
                return -np.asarray(v, np.float64), -np.asarray(g, np.float64)
            v, g = m.loss_gradient(x, y, loss="ce")
            return np.asarray(v, np.float64), np.asarray(g, np.float64)
        if not self.targeted:
            v, g = m.loss_gradient(x, y, loss="dlr")
            return np.asarray(v, np.float64), np.asarray(g, np.float64)
        z = np.asarray(m.logits(x), np.float64)
        order = np.argsort(-z, axis=1)[:, :4]
        classes = np.column_stack([y, t, order[:, 0], order[:, 2], order[:, 3]])
        s, gr = class_scores_and_gradients(m, x.astype(np.float32), classes)
        rows = np.arange(len(x))[:, None]
        sc = s[rows, classes]
        num = -(sc[:, 0] - sc[:, 1])
        den = sc[:, 2] - 0.5 * (sc[:, 3] + sc[:, 4]) + 1e-12
        gnum = -(gr[:, 0] - gr[:, 1])
        gden = gr[:, 2] - 0.5 * (gr[:, 3] + gr[:, 4])
        e = (-1,) + (1,) * (x.ndim - 1)
        return num / den, (gnum * den.reshape(e) - num.reshape(e) * gden) / (den ** 2).reshape(e)

    def _evaluate(self, x, y, t):
        vs, gs = zip(*(self._once(x, y, t) for _ in range(self.eot)))
        z = np.asarray(self.model.logits(x.astype(np.float32)), np.float64)
        return sum(vs) / self.eot, sum(gs) / self.eot, z

    def _project(self, x, x0, eps):
        d = x - x0
        if self.norm == "linf":
            d = np.clip(d, -eps, eps)
        else:
            nrm = np.sqrt((d.reshape(len(d), -1) ** 2).sum(axis=1) + 1e-24)
            d = d * np.minimum(eps / nrm, 1.0).reshape((-1,) + (1,) * (d.ndim - 1))
        return np.clip(x0 + d, self.lo, self.hi)

    @staticmethod
    def _succeeded(z, y, t, explicit):
        pred = z.argmax(axis=1)
        return np.where(explicit > 0, pred == t, pred != y).astype(np.float64)

    def start(self, x, y, t, explicit):
        v, g, z = self._evaluate(x, y, t)
        return v, g, self._succeeded(z, y, t, explicit)

    def step(self, x_k, x_prev, g_k, loss_k, eta, alpha, x0, y, t, eps, explicit,
             f_max, x_max, g_max, count, adv, found):
        e = (-1,) + (1,) * (x_k.ndim - 1)
        if self.norm == "linf":
            direction = np.sign(g_k)
        else:
            direction = g_k / (np.sqrt((g_k.reshape(len(g_k), -1) ** 2).sum(axis=1)) + 1e-12).reshape(e)
        z_next = self._project(x_k + eta.reshape(e) * direction, x0, eps)
        x_next = self._project(x_k + alpha * (z_next - x_k) + (1.0 - alpha) * (x_k - x_prev), x0, eps)
        v, g, z = self._evaluate(x_next, y, t)
        ok = self._succeeded(z, y, t, explicit)
        count = count + (v > loss_k)
        better = v > f_max
        f_max = np.where(better, v, f_max)
        x_max = np.where(better.reshape(e), x_next, x_max)
        g_max = np.where(better.reshape(e), g, g_max)
        fresh = (ok > 0) & (found <= 0)
        adv = np.where(fresh.reshape(e), x_next, adv)
        return x_next, x_k, g, v, f_max, x_max, g_max, count, adv, np.maximum(found, ok)


class APGD(Attack):
    """Auto-PGD, L∞ and L2, CE or DLR, untargeted / targeted (``target=``) / APGD-T (``target_classes``)."""

    Config = APGDConfig
    record = RECORDS["apgd"]

    def _graph(self, loss: str, targeted: bool):
        lo, hi = self.model.bounds
        opts = dict(loss=loss, targeted=targeted, norm=self.config.norm, eot=self.config.eot_samples, lo=lo, hi=hi)
        return (_APGDGraph if "graphs" in self.model.capabilities else _APGDNumpy)(self.model, **opts)

    def _generate(self, x: np.ndarray, y: np.ndarray, target: np.ndarray | None) -> np.ndarray:
        adv, _ = self.attack_rows(x, y, target, np.ones(len(x), dtype=bool))
        return adv

    def attack_rows(self, x: np.ndarray, y: np.ndarray, target: np.ndarray | None, active: np.ndarray
                    ) -> tuple[np.ndarray, np.ndarray]:
        """Attack the rows where ``active`` holds; returns the batch (other rows unchanged) and success."""
        cfg = self.config
        needed = 4 if (target is not None or cfg.target_classes) else 3  # DLR's denominator uses 3 or 4 logits
        if cfg.loss == "dlr" and self.model.num_classes < needed:
            raise InvalidInputError(f"loss='dlr' needs at least {needed} classes here, "
                                    f"the model has {self.model.num_classes}")
        rng = self.attack_rng()
        adv = x.copy()
        found = np.zeros(len(x), dtype=bool)
        if target is not None:
            plans = [(target, True, True)]
        elif cfg.target_classes:
            others = top_other_classes(np.asarray(self.model.logits(x)), y, cfg.target_classes)
            plans = [(others[:, j], True, False) for j in range(others.shape[1])]
        else:
            plans = [(y, False, False)]
        for tgt, targeted_loss, explicit in plans:
            for _ in range(cfg.restarts):
                noise = self._noise(rng, x.shape)  # drawn for every row: see the package docstring
                rows = np.flatnonzero(active & ~found)
                if rows.size == 0:
                    return adv, found
                idx = pad_to_bucket(rows)
                out, ok = self._restart(x[idx], y[idx], tgt[idx], noise[idx], targeted_loss, explicit)
                adv[rows] = out[: rows.size]
                found[rows] = ok[: rows.size]
        return adv, found

    def _noise(self, rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
        eps = self.config.eps
        if not self.config.random_start:
            return np.zeros(shape, np.float32)
        if self.config.norm == "linf":
            t = rng.uniform(-1.0, 1.0, size=shape)
            scale = np.abs(t.reshape(shape[0], -1)).max(axis=1)
        else:
            t = rng.standard_normal(size=shape)
            scale = np.sqrt((t.reshape(shape[0], -1) ** 2).sum(axis=1))
        return (eps * t / np.maximum(scale, 1e-12).reshape((-1,) + (1,) * (len(shape) - 1))).astype(np.float32)

    def _restart(self, x, y, t, noise, targeted_loss: bool, explicit: bool):
        cfg, model = self.config, self.model
        lo, hi = model.bounds
        n = x.shape[0]
        g = self._graph(cfg.loss, targeted_loss)
        dev, host = g.to_device, g.to_host
        x0 = dev(x.astype(np.float32))
        ty, tt = dev(y.astype(np.int32)), dev(t.astype(np.int32))
        eps = dev(np.float32(cfg.eps))
        flag = dev(np.float32(1.0 if explicit else 0.0))
        x_k = dev(np.clip(x + noise, lo, hi).astype(np.float32))
        loss_k, g_k, ok = g.start(x_k, ty, tt, flag)
        passes = cfg.eot_samples
        f_max, x_max, g_max = loss_k, x_k, g_k
        adv, found = x_k, ok
        count = dev(np.zeros(n, np.float32))
        eta_np = np.full(n, 2.0 * cfg.eps, np.float32)
        eta = dev(eta_np)
        x_prev = x_k
        marks = checkpoints(cfg.steps)
        last_mark, last_eta, last_fmax = 0, eta_np.copy(), host(loss_k).copy()
        one, alpha = dev(np.float32(1.0)), dev(np.float32(cfg.momentum))
        for k in range(1, cfg.steps + 1):
            x_k, x_prev, g_k, loss_k, f_max, x_max, g_max, count, adv, found = g.step(
                x_k, x_prev, g_k, loss_k, eta, one if k == 1 else alpha, x0, ty, tt, eps, flag,
                f_max, x_max, g_max, count, adv, found)
            passes += cfg.eot_samples
            if k in marks and k < cfg.steps:
                if host(found).min() > 0:
                    break
                fmax_np = host(f_max)
                few = host(count) < cfg.rho * (k - last_mark)
                stalled = (last_eta == eta_np) & (last_fmax == fmax_np)
                reduce = few | stalled
                if reduce.any():
                    eta_np = np.where(reduce, eta_np / 2.0, eta_np).astype(np.float32)
                    eta = dev(eta_np)
                    r = reduce.reshape((-1,) + (1,) * (x.ndim - 1))
                    xm, gm = host(x_max), host(g_max)
                    x_k = dev(np.where(r, xm, host(x_k)))
                    g_k = dev(np.where(r, gm, host(g_k)))
                    loss_k = dev(np.where(reduce, fmax_np, host(loss_k)))
                    x_prev = x_k
                count = dev(np.zeros(n, np.float32))
                last_mark, last_eta, last_fmax = k, eta_np.copy(), fmax_np.copy()
        if not getattr(g, "counts_itself", False):  # compiled graph: report its passes
            model.count(forward=passes, backward=passes, queries=passes * n)
        ok = host(found) > 0
        out = np.where(ok.reshape((-1,) + (1,) * (x.ndim - 1)), host(adv), host(x_max))
        return out.astype(x.dtype), ok


class APGDT(APGD):
    """APGD-T: APGD with the targeted DLR loss against the 9 most likely other classes (AutoAttack's member)."""

    Config = APGDTConfig
    record = RECORDS["apgd_t"]
