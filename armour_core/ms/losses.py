"""Per-sample losses on logits, written as ``def`` functions so they compose inside ``mindspore.jit``,
``grad`` and ``vmap`` (lambdas do not parse there)."""

from __future__ import annotations

from mindspore import ops

from ..api.model import LOSSES as NAMES


def cross_entropy(z, y):
    """-log softmax(z)[y], per sample."""
    onehot = ops.one_hot(y, z.shape[1], 1.0, 0.0).astype(z.dtype)
    return -(ops.log_softmax(z, 1) * onehot).sum(1)


def margin(z, y):
    """Carlini–Wagner margin max_{j != y} z_j - z_y (positive once misclassified)."""
    onehot = ops.one_hot(y, z.shape[1], 1.0, 0.0).astype(z.dtype)
    z_true = (z * onehot).sum(1)
    z_other = (z - 1e9 * onehot).max(1)
    return z_other - z_true


def dlr(z, y):
    """Croce & Hein's difference-of-logits ratio, -(z_y - max_{j!=y} z_j) / (z_pi1 - z_pi3), per sample.

    Needs at least three classes."""
    top, _ = ops.topk(z, 3)
    return margin(z, y) / (top[:, 0] - top[:, 2] + 1e-12)


#: the graph implementation of each loss named in :data:`armour_core.api.model.LOSSES` (the one list of
#: names, which numpy classifiers also implement), in that order
LOSSES = dict(zip(NAMES, (cross_entropy, margin, dlr), strict=True))
