"""The compiled loop behind every iterative gradient attack (BIM, PGD, MIM, DI-FGSM, VMI-FGSM).

One loop body covers the family: gradient (optionally at a diverse input), variance tuning, momentum,
steepest-ascent step for the norm, projection onto the ε-ball and the bounds. The body is written once in
MindSpore ops and run in one of four ways:

* ``loop``: the whole iteration loop is a ``while`` loop inside one ``mindspore.jit`` graph. One launch per
  attack call; the compile time does not grow with ``steps``, and ``steps``, ``eps`` and ``step_size`` are
  graph inputs, so changing them never recompiles.
* ``unroll``: the loop unrolled at compile time (compile time grows with ``steps``; no faster than
  ``loop`` in our measurements).
* ``step``: one compiled graph per iteration, called from Python.
* ``eager``: the body in PyNative, no graph. The only path for a classifier that is not a MindSpore model
  (e.g. the numpy models of the conformance kit): its gradients come from ``Classifier.loss_gradient``.

``auto`` chooses ``loop`` for MindSpore models (measured in ``benchmarks/bench_attacks_gradient.py``:
within noise of ``unroll`` and ≤ the per-step graph on the digits MLP and LeNet5, with a compile
time independent of ``steps``) and ``eager`` otherwise.

Randomness (DI transforms, VMI neighbours) is drawn in numpy from the attack's seeded generator, step by
step, and fed to the graph as inputs, so results do not depend on the mode or on how the loop is chunked.
Batches are padded to a few bucket sizes so varying batch sizes (fuzzing, hypothesis) reuse graphs;
compiled graphs live in the model's one cache (``MSModel.compiled``), keyed by the loop structure, so they
run in inference mode and are rebuilt when the network's parameters are replaced.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs
import numpy as np

from armour_core.api.batching import pad_batch

#: per-chunk budget for step-wise random inputs fed to the graph (bytes); larger draws are chunked
RANDOM_INPUT_BUDGET = 32 * 2**20
#: longest loop unrolled into one graph (compile time and graph size grow with it)
MAX_UNROLL = 50
_TINY = 1e-12
_HYPER = ("eps", "alpha", "decay", "radius", "lo", "hi", "spread", "sign")


@attrs.frozen
class LoopSpec:
    """The static structure of an attack loop: what the compiled graph depends on (besides shapes)."""

    norm: str  #: linf, l2 or l1
    loss: str = "ce"
    momentum: bool = False
    diversity: bool = False
    neighbours: int = 0  #: VMI neighbour samples per step (0: no variance tuning)

    @property
    def passes_per_step(self) -> int:
        return 1 + self.neighbours


# ------------------------------------------------------------------------------------------ the body
def _build_body(spec: LoopSpec, grad: Callable, grad_div: Callable | None) -> Callable:
    """The loop body as MindSpore code.

    ``grad(points, labels)`` is ∇ of the summed loss; ``grad_div(points, labels, ah, aw)`` the same at the
    diverse input ``ah @ points @ aw.T``, pulled back to ``points``.
    """
    import mindspore as ms
    from mindspore import ops

    norm, momentum, diversity, nbh = spec.norm, spec.momentum, spec.diversity, spec.neighbours

    def rows(t):
        return t.reshape(t.shape[0], -1)

    def ascent_step(d, adv, alpha, lo, hi, spread):
        """The step of length ``alpha`` that most increases the loss linearised with gradient ``d``.

        L∞: ``alpha * sign(d)``. L2: ``alpha * d / ||d||``. L1: sparse L1 descent (Tramèr & Boneh 2019):
        ``alpha / spread`` on each of the ``spread`` largest-|d| coordinates; a coordinate closer to its
        bound takes only what fits and the rest of the budget flows to the next largest (water-filling), so
        no step is lost to clipping.
        """
        if norm == "linf":
            return alpha * ops.sign(d)
        f = rows(d)
        if norm == "l2":
            n = ops.sqrt((f * f).sum(1, keepdims=True))
            return (alpha * f / (n + _TINY)).reshape(d.shape)
        a = rows(adv)
        room = ops.select(f > 0, hi - a, ops.select(f < 0, a - lo, a * 0.0))
        room = ops.minimum(ops.maximum(room, room * 0.0), alpha / spread)
        _, order = ops.sort(ops.abs(f), axis=1, descending=True)
        room_sorted = ops.gather_elements(room, 1, order)
        before = ops.cumsum(room_sorted, 1) - room_sorted
        take = ops.minimum(ops.maximum(alpha - before, before * 0.0), room_sorted)
        _, inverse = ops.sort(order.astype(ms.float32), axis=1)
        return (ops.sign(f) * ops.gather_elements(take, 1, inverse)).reshape(d.shape)

    def project(adv, x0, eps, lo, hi, lower, upper):
        if norm == "linf":  # the ε-box intersected with the bounds, computed once per call
            return ops.minimum(ops.maximum(adv, lower), upper)
        delta = adv - x0
        if norm == "l2":
            f = rows(delta)
            n = ops.sqrt((f * f).sum(1, keepdims=True))
            delta = (f * ops.minimum(n * 0.0 + 1.0, eps / (n + _TINY))).reshape(delta.shape)
        else:
            delta = _project_l1(rows(delta), eps).reshape(delta.shape)
        return ops.minimum(ops.maximum(x0 + delta, lo), hi)

    def _project_l1(f, eps):
        """Duchi et al. (2008): sort-based Euclidean projection of each row onto the L1 ball; the in-graph
        twin of :func:`armour_core.api.norms.project` (why both: :mod:`.steps`)."""
        a = ops.abs(f)
        u = ops.sort(a, axis=1, descending=True)[0]
        css = ops.cumsum(u, 1)
        idx = ops.cumsum(ops.ones_like(u), 1)
        count = ((u - (css - eps) / idx) > 0).astype(ms.int32).sum(1, keepdims=True)
        count = ops.maximum(count, ops.ones_like(count))
        theta = (ops.gather_elements(css, 1, count - 1) - eps) / count.astype(f.dtype)
        theta = ops.maximum(theta, theta * 0.0)
        shrunk = ops.sign(f) * ops.maximum(a - theta, a * 0.0)
        inside = a.sum(1, keepdims=True) <= eps
        return ops.select(ops.broadcast_to(inside, f.shape), f, shrunk)

    # L∞ without momentum or variance tuning steps along sign(±g) = ±sign(g): the sign goes into the step length
    signed_step = norm == "linf" and not momentum and nbh == 0

    def prepare(x0, hyper):
        """What stays fixed during a call, computed once before the iterations: the scalars of ``hyper`` and,
        for L∞, the box ``[max(x0 − ε, lo), min(x0 + ε, hi)]`` the iterate is projected onto."""
        eps, alpha, decay, radius, lo, hi, spread, sgn = (hyper[0], hyper[1], hyper[2], hyper[3], hyper[4],
                                                          hyper[5], hyper[6], hyper[7])
        if norm == "linf":
            lower, upper = ops.maximum(x0 - eps, lo), ops.minimum(x0 + eps, hi)
        else:
            lower, upper = lo, hi
        if signed_step:
            alpha = alpha * sgn
        return eps, alpha, decay, radius, lo, hi, spread, sgn, lower, upper

    def iterate(adv, mom, var, x0, y, fixed, ah, aw, noise):
        """One iteration, given :func:`prepare`'s values."""
        eps, alpha, decay, radius, lo, hi, spread, sgn, lower, upper = fixed
        if diversity:
            g = grad_div(adv, y, ah, aw)
        else:
            g = grad(adv, y)
        if signed_step:
            return project(adv + alpha * ops.sign(g), x0, eps, lo, hi, lower, upper), mom, var
        g = g * sgn
        if nbh > 0:
            tuned = g + var
            shape = adv.shape
            around = ops.expand_dims(adv, 0) + noise * radius
            flat = around.reshape((nbh * shape[0],) + shape[1:])
            gn = grad(flat, ops.tile(y, (nbh,))) * sgn
            var = gn.reshape((nbh,) + shape).mean(0) - g
            g = tuned
        if momentum:
            f = rows(g)
            l1 = ops.abs(f).sum(1, keepdims=True)
            mom = mom * decay + (f / (l1 + _TINY)).reshape(g.shape)
            d = mom
        else:
            d = g
        adv = project(adv + ascent_step(d, adv, alpha, lo, hi, spread), x0, eps, lo, hi, lower, upper)
        return adv, mom, var

    def body(adv, mom, var, x0, y, hyper, ah, aw, noise):
        return iterate(adv, mom, var, x0, y, prepare(x0, hyper), ah, aw, noise)

    body.prepare, body.iterate = prepare, iterate
    return body


# ------------------------------------------------------------------------------------------ gradients
def _ms_gradients(model: Any, spec: LoopSpec) -> tuple[Callable, Callable | None]:
    """Differentiable-in-graph gradient functions built on ``MSModel.logits_fn``."""
    import mindspore as ms
    from mindspore import ops

    from armour_core.ms.losses import LOSSES

    per_sample = LOSSES[spec.loss]
    logits_fn = model.logits_fn

    def total(points, labels):
        return per_sample(logits_fn(points), labels).sum()

    grad = ms.grad(total, grad_position=0)
    grad_div = None
    if spec.diversity:
        def total_div(points, labels, ah, aw):
            diverse = ops.matmul(ops.matmul(ah, points), ops.transpose(aw, (1, 0)))
            return per_sample(logits_fn(diverse), labels).sum()

        grad_div = ms.grad(total_div, grad_position=0)
    return grad, grad_div


def _classifier_gradients(model: Any, spec: LoopSpec) -> tuple[Callable, Callable | None]:
    """Eager gradient functions through ``Classifier.loss_gradient`` (numpy), for any classifier."""
    import mindspore as ms
    from mindspore import ops

    def grad(points, labels):
        _, g = model.loss_gradient(points.asnumpy(), labels.asnumpy(), loss=spec.loss)
        return ms.Tensor(np.asarray(g, dtype=np.float32))

    def grad_div(points, labels, ah, aw):
        diverse = ops.matmul(ops.matmul(ah, points), ops.transpose(aw, (1, 0)))
        g = grad(diverse, labels)
        return ops.matmul(ops.matmul(ops.transpose(ah, (1, 0)), g), aw)  # the transform is linear

    return grad, grad_div


# ------------------------------------------------------------------------------------------ compiled forms
def compiled_loop(model: Any, spec: LoopSpec, mode: str, unroll: int = 0) -> Callable:
    """The (cached) compiled function for ``mode`` in ``loop``/``unroll``/``step``.

    Signature: ``(adv, mom, var, x0, y, hyper, ah, aw, noise[, n]) -> (adv, mom, var)``; ``ah``,
    ``aw`` and ``noise`` carry one leading entry per step of the chunk (``step``: a single step's).
    """
    def build():
        import mindspore as ms

        grad, grad_div = _ms_gradients(model, spec)
        body = _build_body(spec, grad, grad_div)
        prepare, iterate = body.prepare, body.iterate
        if mode == "step":
            return ms.jit(body)
        if mode == "unroll":
            def unrolled(adv, mom, var, x0, y, hyper, ah, aw, noise):
                fixed = prepare(x0, hyper)
                for t in range(unroll):
                    adv, mom, var = iterate(adv, mom, var, x0, y, fixed, ah[t], aw[t], noise[t])
                return adv, mom, var

            return ms.jit(unrolled)

        def loop(adv, mom, var, x0, y, hyper, ah, aw, noise, n):
            fixed = prepare(x0, hyper)  # hoisted: MindSpore does not move loop invariants out of the while
            i = 0
            while i < n:
                adv, mom, var = iterate(adv, mom, var, x0, y, fixed, ah[i], aw[i], noise[i])
                i = i + 1
            return adv, mom, var

        return ms.jit(loop)

    return model.compiled("attack_loop", (spec, mode, unroll), build)


def eager_body(model: Any, spec: LoopSpec) -> Callable:
    """The uncompiled body (PyNative); gradients in-graph for MindSpore models, else via the classifier.

    Bodies for other classifiers are rebuilt per call (nothing to compile)."""
    if "graphs" not in model.capabilities:
        return _build_body(spec, *_classifier_gradients(model, spec))
    return model.compiled("attack_loop", (spec, "eager", 0), lambda: _build_body(spec, *_ms_gradients(model, spec)))


# ------------------------------------------------------------------------------------------ the driver
StepDraw = Callable[[int], tuple[np.ndarray | None, np.ndarray | None, np.ndarray | None]]


def resolve_mode(model: Any, mode: str) -> str:
    if "graphs" not in model.capabilities:
        return "eager"
    return "loop" if mode == "auto" else mode


def run_loop(model: Any, spec: LoopSpec, *, x0: np.ndarray, start: np.ndarray, labels: np.ndarray,
             steps: int, hyper: dict[str, float], draw: StepDraw | None = None,
             mode: str = "auto") -> np.ndarray:
    """Run ``steps`` iterations from ``start`` and return the final iterate (numpy, float32).

    ``draw(t)`` returns step ``t``'s random inputs ``(ah, aw, noise)`` (None for unused parts); it is
    called once per step, in order. ``hyper`` holds the graph's scalar inputs (``_HYPER``: eps, step
    length, momentum decay, VMI neighbourhood radius, bounds, L1 spread, +1 to ascend the loss or -1 to
    descend it for a target). Every iteration counts
    ``1 + neighbours`` forward and backward passes on ``model``.
    """
    mode = resolve_mode(model, mode)
    with model.uncounted():  # counted once below, the same for every mode
        out = _iterate(model, spec, mode, x0, start, labels, steps, hyper, draw)
    # the eager classifier path's loss_gradient calls see an N*B neighbour batch as one pass, the graphs are
    # invisible to the counters: count what the loop did
    passes = steps * spec.passes_per_step
    model.count(forward=passes, backward=passes, queries=passes * x0.shape[0])
    return out


def _iterate(model: Any, spec: LoopSpec, mode: str, x0: np.ndarray, start: np.ndarray, labels: np.ndarray,
             steps: int, hyper: dict[str, float], draw: StepDraw | None) -> np.ndarray:
    import mindspore as ms

    n = x0.shape[0]
    # padded to 16, powers of two to 64, then multiples of 64 rows (the graphs' few shapes)
    pad, (x0p, startp, yp) = pad_batch(x0, start, labels.astype(np.int32), pad=mode != "eager")
    hyp = ms.Tensor(np.array([hyper[k] for k in _HYPER], dtype=np.float32))
    adv = ms.Tensor(startp)
    mom = ms.Tensor(np.zeros_like(startp))
    var = ms.Tensor(np.zeros_like(startp))
    xt, yt = ms.Tensor(x0p), ms.Tensor(yp)
    draw = draw or _no_draw

    def inputs(t0: int, count: int, size: int) -> tuple[Any, Any, Any]:
        """Steps ``t0 .. t0+count`` of random inputs, stacked to ``size`` entries (zeros beyond)."""
        parts = [draw(t) for t in range(t0, t0 + count)]
        return tuple(_stack([p[j] for p in parts], size, pad, along_batch=(j == 2)) for j in range(3))

    if mode in ("eager", "step"):
        fn = eager_body(model, spec) if mode == "eager" else compiled_loop(model, spec, "step")
        for t in range(steps):
            ah, aw, noise = inputs(t, 1, 1)
            adv, mom, var = fn(adv, mom, var, xt, yt, hyp, ah[0], aw[0], noise[0])
    else:
        chunk = _chunk_length(spec, steps, startp.shape)
        if mode == "unroll":
            chunk = min(chunk, MAX_UNROLL)
        t = 0
        while t < steps:
            count = min(chunk, steps - t)
            if mode == "unroll":
                ah, aw, noise = inputs(t, count, count)
                fn = compiled_loop(model, spec, "unroll", count)
                adv, mom, var = fn(adv, mom, var, xt, yt, hyp, ah, aw, noise)
            else:
                ah, aw, noise = inputs(t, count, chunk)
                fn = compiled_loop(model, spec, "loop")
                adv, mom, var = fn(adv, mom, var, xt, yt, hyp, ah, aw, noise, ms.Tensor(count, ms.int32))
            t += count
    return adv.asnumpy()[:n]


def _no_draw(t: int):
    return None, None, None


def _chunk_length(spec: LoopSpec, steps: int, shape: tuple[int, ...]) -> int:
    """Steps per graph launch: all of them unless the per-step random inputs would exceed the budget."""
    if spec.neighbours == 0:
        return steps
    per_step = 4 * spec.neighbours * int(np.prod(shape))
    return int(max(1, min(steps, RANDOM_INPUT_BUDGET // per_step)))




def _stack(parts: list[np.ndarray | None], size: int, batch: int, *, along_batch: bool):
    """Stack per-step arrays to ``size`` leading entries as a Tensor (a (size, 1) dummy when unused)."""
    import mindspore as ms

    if parts[0] is None:
        return ms.Tensor(np.zeros((size, 1), np.float32))
    arrs = [np.asarray(p, dtype=np.float32) for p in parts]
    if along_batch and arrs[0].shape[1] != batch:  # neighbour noise: (N, B, ...) padded along B with zeros
        extra = batch - arrs[0].shape[1]
        arrs = [np.concatenate([a, np.zeros((a.shape[0], extra, *a.shape[2:]), np.float32)], axis=1) for a in arrs]
    out = np.stack(arrs)
    if out.shape[0] < size:
        out = np.concatenate([out, np.zeros((size - out.shape[0], *out.shape[1:]), np.float32)])
    return ms.Tensor(out)
