"""Carlini–Wagner L2 (Carlini & Wagner, IEEE S&P 2017).

The box constraint disappears through the change of variables ``x' = lo + (hi - lo)·(tanh(w) + 1)/2``;
Adam minimises, per sample,

    ||x' - x||² + c · max(z_y - max_{j≠y} z_j + κ, 0)          (untargeted)
    ||x' - x||² + c · max(max_{j≠t} z_j - z_t + κ, 0)          (targeted)

and an outer binary search per sample looks for the smallest ``c`` that still succeeds (×10 until a first
success, bisection afterwards). The returned point is the smallest-L2 iterate that succeeded with
confidence ``κ`` over all rounds, so more search rounds can only lower the distortion.

Each Adam iteration is one forward and ONE backward pass of the summed objective (the margin term's
gradient comes from the same pass; no per-class Jacobian). ``chunk`` iterations, with Adam's state and
the best-so-far bookkeeping, run inside one compiled MindSpore graph. Classifiers that are not MindSpore
models run the same iteration in numpy through ``loss_gradient(..., "margin")``.
"""

from __future__ import annotations

import numpy as np

from armour_core.api.attack import Attack
from armour_core.api.batching import pad_to_bucket

from .configs import CWConfig
from .records import RECORDS

_BIG = 1e10


def adam_step(w, g, m, v, t, lr, *, sqrt, power, beta1: float = 0.9, beta2: float = 0.999):
    """One Adam update of ``w`` along gradient ``g`` (Kingma & Ba 2015, bias-corrected); returns the new
    ``(w, m, v, t)``. Plain arithmetic on the arrays, so the same code runs on numpy arrays and inside the
    compiled chunk (``sqrt``/``power``: ``np.sqrt``/``np.power`` or ``ops.sqrt``/``ops.pow``)."""
    t = t + 1.0
    m = beta1 * m + (1.0 - beta1) * g
    v = beta2 * v + (1.0 - beta2) * g * g
    w = w - lr * (m / (1.0 - power(beta1, t))) / (sqrt(v / (1.0 - power(beta2, t))) + 1e-8)
    return w, m, v, t


class _CWGraph:
    """Compiled chunks of C&W Adam iterations for one model, one direction and one chunk length (kept in the
    model's cache, ``MSModel.compiled``, so they run in inference mode and follow replaced weights)."""

    def __init__(self, model, *, targeted: bool, length: int, lo: float, hi: float):
        import mindspore as ms

        self.run = model.compiled("cw_chunk", (targeted, length, lo, hi),
                                  lambda: _cw_chunk(model, targeted=targeted, length=length, lo=lo, hi=hi))
        self.to_device = ms.Tensor

    @staticmethod
    def to_host(t):
        return t.asnumpy()


def _cw_chunk(model, *, targeted: bool, length: int, lo: float, hi: float):
    """The jitted chunk of ``length`` C&W Adam iterations."""
    import mindspore as ms
    from mindspore import ops

    logits_fn = model.logits_fn
    half = (hi - lo) / 2.0

    def objective(w, x0, onehot, const, kappa):
        xa = lo + half * (ops.tanh(w) + 1.0)
        z = logits_fn(xa)
        real = (z * onehot).sum(1)
        other = (z - 1e9 * onehot).max(1)
        gap = other - real if targeted else real - other
        hinge = ops.relu(gap + kappa)
        diff = (xa - x0).reshape(xa.shape[0], -1)
        l2 = (diff * diff).sum(1)
        loss = l2 + const * hinge
        return loss.sum(), loss, l2, gap, xa

    vg = ms.value_and_grad(objective, grad_position=0, has_aux=True)

    def chunk(w, m, v, t, x0, onehot, const, kappa, lr, best_l2, best_adv, found):
        loss = best_l2
        for _ in range(length):
            (_, loss, l2, gap, xa), g = vg(w, x0, onehot, const, kappa)
            ok = (gap < -kappa).astype(best_l2.dtype)  # succeeded with confidence kappa
            improved = ops.logical_and(ok > 0, l2 < best_l2)
            best_l2 = ops.where(improved, l2, best_l2)
            best_adv = ops.where(improved.reshape((-1,) + (1,) * (xa.ndim - 1)), xa, best_adv)
            found = ops.maximum(found, ok)
            w, m, v, t = adam_step(w, g, m, v, t, lr, sqrt=ops.sqrt, power=ops.pow)
        return w, m, v, t, loss, best_l2, best_adv, found

    return ms.jit(chunk)


class _CWNumpy:
    """The same chunk for any :class:`Classifier` with gradients: one ``loss_gradient(..., "margin")``
    call (one forward and one backward pass) per iteration, Adam in numpy."""

    counts_itself = True
    to_device = staticmethod(np.asarray)
    to_host = staticmethod(np.asarray)

    def __init__(self, model, *, targeted: bool, length: int, lo: float, hi: float):
        self.model, self.targeted, self.length = model, targeted, length
        self.lo, self.half = lo, (hi - lo) / 2.0

    def run(self, w, m, v, t, x0, onehot, const, kappa, lr, best_l2, best_adv, found):
        labels = onehot.argmax(axis=1)
        e = (-1,) + (1,) * (w.ndim - 1)
        loss = best_l2
        for _ in range(self.length):
            th = np.tanh(w)
            xa = self.lo + self.half * (th + 1.0)
            margin, g_margin = self.model.loss_gradient(xa.astype(np.float32), labels, loss="margin")
            margin, g_margin = np.asarray(margin, np.float64), np.asarray(g_margin, np.float64)
            gap, g_gap = (margin, g_margin) if self.targeted else (-margin, -g_margin)
            hinge = np.maximum(gap + kappa, 0.0)
            diff = xa - x0
            l2 = (diff.reshape(len(w), -1) ** 2).sum(axis=1)
            loss = l2 + const * hinge
            ok = gap < -kappa
            improved = ok & (l2 < best_l2)
            best_l2 = np.where(improved, l2, best_l2)
            best_adv = np.where(improved.reshape(e), xa, best_adv)
            found = np.maximum(found, ok.astype(np.float64))
            g_x = 2.0 * diff + (const * (hinge > 0)).reshape(e) * g_gap
            g = g_x * self.half * (1.0 - th * th)
            w, m, v, t = adam_step(w, g, m, v, t, lr, sqrt=np.sqrt, power=np.power)
        return w, m, v, t, loss, best_l2, best_adv, found


class CarliniWagnerL2(Attack):
    """Carlini–Wagner L2, untargeted or targeted (``target=``), minimum norm (``eps=None`` by default)."""

    Config = CWConfig
    record = RECORDS["cw"]

    def _graph(self, targeted: bool, length: int):
        lo, hi = self.model.bounds
        backend = _CWGraph if "graphs" in self.model.capabilities else _CWNumpy
        return backend(self.model, targeted=targeted, length=length, lo=lo, hi=hi)

    def _generate(self, x: np.ndarray, y: np.ndarray, target: np.ndarray | None) -> np.ndarray:
        n_real = x.shape[0]
        compiled = "graphs" in self.model.capabilities
        idx = pad_to_bucket(np.arange(n_real)) if compiled else np.arange(n_real)  # few shapes -> few compilations
        x, y = x[idx], y[idx]
        target = None if target is None else target[idx]
        cfg, model = self.config, self.model
        lo, hi = model.bounds
        n = x.shape[0]
        targeted = target is not None
        labels = target if targeted else y
        onehot = np.eye(model.num_classes, dtype=np.float32)[labels]
        x32 = x.astype(np.float32)
        unit = np.clip((x32 - lo) / (hi - lo) * 2.0 - 1.0, -1.0, 1.0) * (1.0 - 1e-6)
        w0 = np.arctanh(unit).astype(np.float32)

        backend = self._graph(targeted, cfg.chunk)
        dev, host = backend.to_device, backend.to_host
        const = np.full(n, cfg.initial_const, dtype=np.float64)
        lower = np.zeros(n)
        upper = np.full(n, _BIG)
        best_l2 = dev(np.full(n, np.inf, np.float32))
        best_adv = dev(x32)
        tx0, toh = dev(x32), dev(onehot)
        kappa, lr = dev(np.float32(cfg.confidence)), dev(np.float32(cfg.learning_rate))
        check_every = max(1, int(np.ceil(cfg.steps / 10)))
        lengths = [cfg.chunk] * (cfg.steps // cfg.chunk) + ([cfg.steps % cfg.chunk] if cfg.steps % cfg.chunk else [])
        iterations = 0
        for _ in range(cfg.binary_search_steps):
            w = dev(w0)
            m_state = dev(np.zeros_like(w0))
            v_state = dev(np.zeros_like(w0))
            t = dev(np.float32(0.0))
            found = dev(np.zeros(n, np.float32))
            tc = dev(const.astype(np.float32))
            previous, done, next_check = np.inf, 0, check_every
            for length in lengths:
                g = self._graph(targeted, length)
                w, m_state, v_state, t, loss, best_l2, best_adv, found = g.run(
                    w, m_state, v_state, t, tx0, toh, tc, kappa, lr, best_l2, best_adv, found)
                done += length
                iterations += length
                if cfg.abort_early and done >= next_check:
                    total = float(host(loss).astype(np.float64).sum())
                    if total > previous * 0.9999:
                        break
                    previous = total
                    next_check += check_every
            success = host(found) > 0
            upper = np.where(success, np.minimum(upper, const), upper)
            lower = np.where(success, lower, np.maximum(lower, const))
            const = np.where(upper < _BIG, (lower + upper) / 2.0, const * 10.0)
        if not getattr(backend, "counts_itself", False):  # compiled graph: report its passes
            model.count(forward=iterations, backward=iterations, queries=iterations * n_real)
        return host(best_adv)[:n_real].astype(x.dtype)
