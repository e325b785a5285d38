"""Per-example gradients and per-example clipping for DP-SGD.

Three ways to get the clipped gradient sum ``Σ_i clip(∇ℓ_i)``, all vectorised over the batch:

* ``ghost`` (:mod:`armour_plugins_privacy.dp.ghost`): book-keeping clipping for chains of layers with a ghost
  rule (Dense and Conv2d built in, more registered per layer type) — per-example norms from activations and
  output gradients, no per-example gradient of dense layers;
* ``vmap``: ``mindspore.vmap`` of the single-example gradient, the general path for any network;
* ``micro_batch``: MindArmour's scheme — the batch is split into ``k`` micro-batches whose *mean*
  gradients are clipped. Only on explicit request: it is per-example DP only when micro-batches have one
  example, otherwise one example moves a clipped micro-batch gradient by up to ``2C`` (see
  :func:`micro_batch_sensitivity`).

:func:`make_clipper` picks ``ghost`` when the network allows it and ``vmap`` otherwise. Every clipper is a
``def`` ``clip(x, y, mask, clip_norm) -> (sums, ratio, losses)`` meant to run inside the caller's
``mindspore.jit`` graph: ``sums`` are aligned with the parameters, ``ratio`` (B,) says how far each example
was above its bound (``> 1`` means clipped) and ``losses`` (B,) are per-example losses. ``mask`` zeroes
padded examples, so a Poisson batch padded to a static shape compiles once.

Flat clipping bounds each example's whole gradient by ``C``; per-layer clipping bounds each of the ``K``
parameter tensors by ``C/√K``, which keeps the total sensitivity at ``C``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import attrs
import mindspore as ms
import numpy as np
from mindspore import nn, ops

from armour_core.errors import InvalidInputError
from . import ghost
from .ghost import clip_factors, row_sq  # defined beside ghost clipping (which per_example builds on)


def per_example_gradients(network: nn.Cell, loss_fn: Callable, params: Sequence[ms.Parameter] | None = None,
                          *, jit: bool = True) -> Callable:
    """Per-example gradients of ``loss_fn(network(x_i), y_i)`` with respect to ``params``.

    ``loss_fn(logits, labels)`` must return a scalar or a length-1 vector for a batch of one.
    """
    params = list(params if params is not None else network.trainable_params())

    def single(xi, yi):
        out = loss_fn(network(xi.expand_dims(0)), yi.expand_dims(0))
        return out.sum()

    grads = ms.vmap(ms.grad(single, grad_position=None, weights=params), in_axes=(0, 0))

    def run(x, y):
        return grads(x, y)

    return ms.jit(run) if jit else run


def per_example_norms(grads: Sequence[ms.Tensor], *, per_layer: bool = False):
    """L2 norm of each example's gradient: ``(B,)`` overall, or ``(B, n_params)`` per parameter."""
    n = grads[0].shape[0]
    sq = ops.stack([(g.reshape(n, -1) ** 2).sum(1) for g in grads], axis=1)
    return ops.sqrt(sq) if per_layer else ops.sqrt(sq.sum(1))


def clipped_sum(grads: Sequence[ms.Tensor], clip_norm, *, per_layer: bool = False) -> tuple:
    """Sum over the batch of materialised per-example gradients clipped to ``clip_norm``."""
    n = grads[0].shape[0]
    sums, _ = clip_rows(grads, clip_norm, ops.ones((n,), ms.float32), per_layer)
    return sums


def clip_rows(grads, clip_norm, mask, per_layer: bool):
    """Clip each row (example or micro-batch) of the stacked gradients ``grads`` (each ``(R, *p.shape)``) and
    sum the rows: one matmul per parameter. Returns the sums and each row's clip ratio (masked)."""
    rows = grads[0].shape[0]
    flat = ()
    sq = ()
    for g in grads:
        gf = g.reshape(rows, -1)
        flat = flat + (gf,)
        sq = sq + (row_sq(gf),)
    factors, ratio = clip_factors(sq, clip_norm, mask, per_layer)
    sums = ()
    for j in range(len(flat)):
        sums = sums + (ops.matmul(factors[j].reshape(1, rows), flat[j]).reshape(grads[j].shape[1:]),)
    return sums, ratio


def per_example_loss(loss_fn: Callable, sample_logits: np.ndarray, sample_y: np.ndarray) -> Callable:
    """``loss_fn`` as a function returning one loss per example.

    MindSpore losses usually reduce (``reduction='mean'``). A ``nn.LossBase`` is cloned with
    ``reduction='none'`` (checked against the original on a sample); any other reducing callable is mapped
    over the batch with ``vmap`` (exact, but slower to compile and run).
    """
    import copy
    import warnings

    z = ms.Tensor(np.ascontiguousarray(sample_logits, dtype=np.float32))
    y = ms.Tensor(sample_y)
    out = loss_fn(z, y)
    n = z.shape[0]
    if out.ndim == 1 and out.shape[0] == n:
        return loss_fn
    if isinstance(loss_fn, nn.LossBase) and getattr(loss_fn, "reduction", None) in ("mean", "sum"):
        clone = copy.deepcopy(loss_fn)  # never touch the user's loss object
        clone.reduction, clone.average, clone.reduce = "none", False, False
        values = clone(z, y)
        if values.ndim == 1 and values.shape[0] == n:
            v = values.asnumpy().astype(np.float64)
            ref = float(out.asnumpy())
            agg = v.mean() if loss_fn.reduction == "mean" else v.sum()
            if abs(agg - ref) <= 1e-4 * max(1.0, abs(ref)):
                return clone
    warnings.warn(f"loss_fn {type(loss_fn).__name__} reduces over the batch; mapping it over examples with vmap "
                  "(give a loss that returns per-example values, e.g. reduction='none', for faster steps)",
                  stacklevel=3)

    def single(zi, yi):
        return loss_fn(zi.expand_dims(0), yi.expand_dims(0)).sum()

    mapped = ms.vmap(single, in_axes=(0, 0))

    def batched(logits, labels):
        return mapped(logits, labels)

    return batched


def vmap_clipper(network: nn.Cell, loss: Callable, params: Sequence[ms.Parameter], *,
                 per_layer: bool = False) -> Callable:
    """The general path: per-example gradients with ``mindspore.vmap``, then clipping by matmul."""
    params = list(params)

    def single(xi, yi):
        return loss(network(xi.expand_dims(0)), yi.expand_dims(0)).sum()

    value_and_grads = ms.vmap(ms.value_and_grad(single, grad_position=None, weights=params), in_axes=(0, 0))

    def clip(x, y, mask, clip_norm):
        losses, grads = value_and_grads(x, y)
        sums, ratio = clip_rows(grads, clip_norm, mask, per_layer)
        return sums, ratio, losses

    return clip


def micro_batch_clipper(network: nn.Cell, loss: Callable, params: Sequence[ms.Parameter], *, micro_batches: int,
                        batch_size: int, per_layer: bool = False) -> Callable:
    """MindArmour's micro-batching: clip the mean gradient of each of ``micro_batches`` equal groups.

    Padded examples are left out of their group's mean; an all-padding group contributes nothing.
    The returned ``ratio`` and ``losses`` are per example (each example gets its group's ratio).
    """
    if batch_size % micro_batches:
        raise InvalidInputError(f"micro_batches: {micro_batches} must divide the batch size {batch_size}")
    params = list(params)
    m = batch_size // micro_batches

    def group_loss(xg, yg, mg):
        values = loss(network(xg), yg)
        return (values * mg).sum() / ops.maximum(mg.sum(), 1.0), values

    value_and_grads = ms.vmap(ms.value_and_grad(group_loss, grad_position=None, weights=params, has_aux=True),
                              in_axes=(0, 0, 0))

    def clip(x, y, mask, clip_norm):
        xg = x.reshape((micro_batches, m) + x.shape[1:])
        yg = y.reshape((micro_batches, m))
        mg = mask.reshape((micro_batches, m))
        (_, losses), grads = value_and_grads(xg, yg, mg)
        present = (mg.sum(1) > 0).astype(ms.float32)
        sums, ratio = clip_rows(grads, clip_norm, present, per_layer)
        per_example_ratio = (ratio.reshape(micro_batches, 1) * ops.ones((micro_batches, m), ms.float32))
        return sums, per_example_ratio.reshape(-1) * mask, losses.reshape(-1)

    return clip


def micro_batch_sensitivity(batch_size: int, micro_batches: int | None) -> float:
    """L2 sensitivity of the clipped sum, in units of the clip norm, under add/remove of one example.

    Per-example clipping (or micro-batches of one example): 1. Larger micro-batches: 2, because removing one
    example can turn its group's clipped mean into any other vector of norm ≤ C. The accountant divides the
    noise multiplier by this.
    """
    if micro_batches is None or micro_batches == batch_size:
        return 1.0
    return 2.0


@attrs.frozen
class Clipper:
    """A compiled-graph-ready clipping function and how it computes per-example gradients."""

    fn: Callable
    method: str  #: "ghost", "vmap" or "micro_batch"
    reason: str = ""  #: why the ghost path was not used (empty when it was)
    sensitivity: float = 1.0  #: in units of the clip norm (see :func:`micro_batch_sensitivity`)


METHODS = ("auto", "ghost", "vmap", "micro_batch")


def make_clipper(network: nn.Cell, loss_fn: Callable, params: Sequence[ms.Parameter] | None = None, *,
                 sample_x: np.ndarray, sample_y: np.ndarray, batch_size: int, per_layer: bool = False,
                 method: str = "auto", micro_batches: int | None = None) -> Clipper:
    """Build the clipping function for ``network`` and ``loss_fn``.

    ``method="auto"`` uses ghost clipping where every parametrised layer has a rule and falls back to
    ``vmap`` otherwise (the reason is kept in :attr:`Clipper.reason`); ``"micro_batch"`` needs
    ``micro_batches``.
    """
    if method not in METHODS:
        raise InvalidInputError(f"method: expected one of {', '.join(METHODS)}, got {method!r}")
    if (micro_batches is not None) != (method == "micro_batch"):
        raise InvalidInputError("micro_batches: give it exactly when method='micro_batch'")
    params = list(params if params is not None else network.trainable_params())
    if not params:
        raise InvalidInputError("network: has no trainable parameters")
    sample_x = np.ascontiguousarray(sample_x[:4], dtype=np.float32)
    sample_y = np.asarray(sample_y[:4])
    was_training = network.training
    network.set_train(False)
    logits = network(ms.Tensor(sample_x)).asnumpy()
    network.set_train(was_training)
    loss = per_example_loss(loss_fn, logits, sample_y)
    if method == "micro_batch":
        fn = micro_batch_clipper(network, loss, params, micro_batches=int(micro_batches), batch_size=batch_size,
                                 per_layer=per_layer)
        return Clipper(fn, "micro_batch", "micro-batching requested",
                       micro_batch_sensitivity(batch_size, micro_batches))
    reason = ""
    if method in ("auto", "ghost"):
        try:
            plan = ghost.analyse(network, sample_x, params)
        except ghost.GhostUnsupported as exc:
            if method == "ghost":
                raise InvalidInputError(f"method='ghost': {exc}") from None
            reason = str(exc)
        else:
            return Clipper(ghost.build_ghost_clipper(plan, loss, batch_size=batch_size, per_layer=per_layer), "ghost")
    return Clipper(vmap_clipper(network, loss, params, per_layer=per_layer), "vmap", reason or "vmap requested")
