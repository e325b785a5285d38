"""Per-class input gradients for the minimum-norm attacks (DeepFool, FAB, JSMA), one pass for all classes.

DeepFool and FAB linearise every decision boundary ``z_k - z_y = 0`` at the current point, so they need
``∇z_k`` for several classes ``k`` at once. Instead of one backward pass per class (MindArmour's
``jacobian_matrix``), the batch is replicated once per requested class and a single backward pass of
``Σ_rows z[row, class_row]`` yields every row's gradient: vectorised over the batch and the classes.

For a MindSpore model (``MSModel``) this runs in one compiled graph built on ``model.logits_fn``. Any other
:class:`~armour_core.api.model.Classifier` with gradients works through its cross-entropy gradient, since
``∇CE(x, k) = -∇ log softmax(z)_k``: the scores are then log-probabilities, whose differences equal the
logit differences exactly, which is all DeepFool and FAB use.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from armour_core.api.batching import pad_to_bucket



def _build(model: Any):
    import mindspore as ms
    from mindspore import ops

    logits_fn = model.logits_fn

    def selected(x, classes):
        z = logits_fn(x)
        picked = (z * ops.one_hot(classes, z.shape[1], 1.0, 0.0).astype(z.dtype)).sum()
        return picked, z

    vg = ms.value_and_grad(selected, grad_position=0, has_aux=True)

    def run(x, classes):
        (_, z), g = vg(x, classes)
        return z, g

    return ms.jit(run)


def class_scores_and_gradients(model: Any, x: np.ndarray, classes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Scores ``s`` (B, C) at ``x`` and gradients ``∇s_k`` for ``k = classes[i, j]``: (B, K, *x.shape[1:]).

    Scores are logits for MindSpore models and log-probabilities otherwise (see the module docstring).
    Counts one forward and one backward pass (on a batch of B·K rows) and B·K queries.
    """
    b, k = classes.shape
    xr = np.repeat(x[:, None], k, axis=1).reshape(b * k, *x.shape[1:]).astype(np.float32)
    cr = classes.reshape(-1).astype(np.int32)
    if "graphs" in model.capabilities:
        import mindspore as ms

        idx = pad_to_bucket(np.arange(b * k))  # few distinct shapes -> few compilations
        fn = model.compiled("class_scores_and_gradients", (), lambda: _build(model))
        z, g = fn(ms.Tensor(xr[idx]), ms.Tensor(cr[idx]))
        model.count(forward=1, backward=1, queries=b * k)
        z = z.asnumpy()[: b * k].reshape(b, k, -1)[:, 0]
        return z.astype(np.float64), g.asnumpy()[: b * k].reshape(b, k, *x.shape[1:]).astype(np.float64)
    _, g = model.loss_gradient(xr, cr, loss="ce")
    logits = np.asarray(model.logits(x), dtype=np.float64)
    shifted = logits - logits.max(axis=1, keepdims=True)
    scores = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return scores, -np.asarray(g, dtype=np.float64).reshape(b, k, *x.shape[1:])


def difference_gradients(model: Any, x: np.ndarray, y: np.ndarray, others: np.ndarray
                         ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each sample, ``f_k = z_k - z_y`` and ``w_k = ∇f_k`` for the classes ``others`` (B, K).

    Returns ``(scores (B, C), f (B, K), w (B, K, d))`` with ``w`` flattened per sample.
    """
    classes = np.concatenate([y[:, None], others], axis=1)
    scores, g = class_scores_and_gradients(model, x, classes)
    b = x.shape[0]
    g = g.reshape(b, classes.shape[1], -1)
    rows = np.arange(b)[:, None]
    f = scores[rows, others] - scores[np.arange(b), y][:, None]
    w = g[:, 1:] - g[:, :1]
    return scores, f, w
