"""MindSpore pieces the defenses compile into their training steps.

Everything is a ``def`` (lambdas do not parse inside ``mindspore.jit``/``grad``) closing over constants, so
an inner maximisation and the parameter update compile into one graph per batch shape: one launch per
batch instead of one per ascent step.
"""

from __future__ import annotations

import mindspore as ms
from mindspore import nn, ops

from armour_core.ms.losses import cross_entropy


def make_optimizer(network: nn.Cell, config) -> nn.Optimizer:
    """The optimizer named by ``config.optimizer`` over the network's trainable parameters."""
    params = network.trainable_params()
    if config.optimizer == "adam":
        return nn.Adam(params, learning_rate=config.learning_rate, weight_decay=config.weight_decay)
    momentum = config.momentum if config.optimizer == "momentum" else 0.0
    return nn.SGD(params, learning_rate=config.learning_rate, momentum=momentum,
                  weight_decay=config.weight_decay)


def kl_per_sample(z_ref, z):
    """KL(softmax(z_ref) ‖ softmax(z)) per sample, from logits (log-softmax keeps it finite)."""
    logp_ref = ops.log_softmax(z_ref, 1)
    return (ops.exp(logp_ref) * (logp_ref - ops.log_softmax(z, 1))).sum(1)


def _per_sample_norm(g, n):
    flat = g.reshape(n, -1)
    shape = (n,) + (1,) * (g.ndim - 1)
    return ops.sqrt((flat * flat).sum(1) + 1e-20).reshape(shape)


def inner_maximiser(logits_fn, loss_fn, *, eps: float, alpha: float, steps: int, norm: str,
                    bounds: tuple[float, float]):
    """``run(x, ref, x0) -> x'``: ``steps`` ascent steps on ``sum(loss_fn(logits_fn(x'), ref))`` from ``x0``,
    each followed by projection onto the ``norm`` ball of radius ``eps`` around ``x`` and the box ``bounds``.

    L∞ steps follow the gradient's sign, L2 steps its per-sample normalised direction. ``ref`` is what the
    loss compares against (labels for CE, clean logits for the TRADES KL). The result carries no gradient.
    """
    lo, hi = float(bounds[0]), float(bounds[1])

    def total(xa, ref):
        return loss_fn(logits_fn(xa), ref).sum()

    grad_x = ms.grad(total, grad_position=0)

    def project(xa, x):
        if norm == "linf":
            xa = ops.minimum(ops.maximum(xa, x - eps), x + eps)
        else:
            d = xa - x
            nrm = _per_sample_norm(d, d.shape[0])
            d = d * ops.clamp(eps / nrm, max=1.0)
            xa = x + d
        return ops.clamp(xa, lo, hi)

    def run(x, ref, x0):
        xa = project(x0, x)
        for _ in range(steps):
            g = grad_x(xa, ref)
            if norm == "linf":
                xa = xa + alpha * ops.sign(g)
            else:
                xa = xa + alpha * g / _per_sample_norm(g, g.shape[0])
            xa = project(xa, x)
        return ops.stop_gradient(xa)

    return run


def ce_mean(logits_fn):
    """Mean cross-entropy of ``logits_fn`` on a batch (a ``def`` for ``value_and_grad``)."""

    def objective(x, y):
        return cross_entropy(logits_fn(x), y).mean()

    return objective


def compile_update(objective, optimizer: nn.Optimizer, prologue=None):
    """A jitted step: optional ``prologue(*inputs) -> inputs'`` (the inner maximisation), then one optimizer
    update on ``objective(*inputs')``. Returns the loss, made to data-depend on the first layer's gradient
    (the last one backprop computes) so the next launch does not starve the CPU (MindSpore CPU finding E4).
    """
    vg = ms.value_and_grad(objective, None, optimizer.parameters)

    if prologue is None:
        def step(*inputs):
            loss, grads = vg(*inputs)
            return ops.depend(loss + 0.0 * grads[0].sum(), optimizer(grads))
    else:
        def step(*inputs):
            loss, grads = vg(*prologue(*inputs))
            return ops.depend(loss + 0.0 * grads[0].sum(), optimizer(grads))

    return ms.jit(step)
