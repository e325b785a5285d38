"""Per-example gradients, vectorised with ``mindspore.vmap`` (the general DP-SGD path).

``per_example_gradients(network, loss_fn)`` returns a compiled ``(x, y) -> tuple of (B, *p.shape)``
function: one gradient per example and parameter, without a Python loop over the batch.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import mindspore as ms
from mindspore import nn, ops


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
    """Sum over the batch of per-example gradients clipped to ``clip_norm``.

    Flat clipping scales each example's whole gradient to norm <= C; per-layer clipping gives parameter k
    the bound C/sqrt(K) so the total sensitivity stays C. The weighted sum is one matmul per parameter.
    """
    n = grads[0].shape[0]
    k = len(grads)
    out = []
    if per_layer:
        norms = per_example_norms(grads, per_layer=True)
        bound = clip_norm / (k ** 0.5)
        factors = ops.clamp(bound / (norms + 1e-12), max=1.0)
        for i, g in enumerate(grads):
            f = factors[:, i].reshape(1, n)
            out.append(ops.matmul(f, g.reshape(n, -1)).reshape(g.shape[1:]))
    else:
        norms = per_example_norms(grads)
        f = ops.clamp(clip_norm / (norms + 1e-12), max=1.0).reshape(1, n)
        for g in grads:
            out.append(ops.matmul(f, g.reshape(n, -1)).reshape(g.shape[1:]))
    return tuple(out)
