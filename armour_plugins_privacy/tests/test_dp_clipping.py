"""Per-example clipping: every path (ghost, vmap, micro-batch) equals a brute-force per-example loop.

The loop (one backward pass per example, clipping in float64 numpy) exists only here, as the reference.
"""

from __future__ import annotations

import numpy as np
import pytest

ms = pytest.importorskip("mindspore")

import armour_core.ms  # noqa: E402,F401
from mindspore import nn, ops  # noqa: E402

from armour_core.builtin.models import MLP, LeNet5  # noqa: E402
from armour_core.errors import InvalidInputError  # noqa: E402
from armour_core.ms.losses import cross_entropy  # noqa: E402
from armour_plugins_privacy.dp.per_example import (make_clipper, micro_batch_sensitivity,  # noqa: E402
                                                   per_example_gradients)

B = 6
SHAPE = (1, 8, 8)
CLIP = 0.5
TOL = 1e-5


def _batch():
    rng = np.random.default_rng(0)
    x = rng.random((B, *SHAPE)).astype(np.float32)
    y = rng.integers(0, 10, B).astype(np.int32)
    mask = np.ones(B, np.float32)
    mask[-2:] = 0.0  # the last two rows are padding and must contribute nothing
    return x, y, mask


def _brute_force(net, params, x, y, mask, per_layer):
    def one(xi, yi):
        return cross_entropy(net(xi), yi).sum()

    grad = ms.grad(one, None, params)
    k = len(params)
    ref = [np.zeros(p.shape, np.float64) for p in params]
    for i in range(len(x)):
        if not mask[i]:
            continue
        g = [t.asnumpy().astype(np.float64) for t in grad(ms.Tensor(x[i:i + 1]), ms.Tensor(y[i:i + 1]))]
        if per_layer:
            for j in range(k):
                ref[j] += g[j] * min(1.0, CLIP / np.sqrt(k) / max(np.linalg.norm(g[j]), 1e-300))
        else:
            norm = np.sqrt(sum(float((t ** 2).sum()) for t in g))
            for j in range(k):
                ref[j] += g[j] * min(1.0, CLIP / norm)
    return ref


def _clipped(net, method, per_layer, loss=None, micro_batches=None):
    x, y, mask = _batch()
    params = net.trainable_params()
    loss = loss or nn.SoftmaxCrossEntropyWithLogits(sparse=True, reduction="mean")
    clipper = make_clipper(net, loss, params, sample_x=x, sample_y=y, batch_size=B, per_layer=per_layer,
                           method=method, micro_batches=micro_batches)
    sums, ratio, losses = ms.jit(clipper.fn)(ms.Tensor(x), ms.Tensor(y), ms.Tensor(mask), ms.Tensor(CLIP, ms.float32))
    return clipper, [s.asnumpy() for s in sums], ratio.asnumpy(), losses.asnumpy(), (net, params, x, y, mask)


@pytest.mark.parametrize("per_layer", [False, True], ids=["flat", "per_layer"])
@pytest.mark.parametrize("net_cls", [MLP, LeNet5], ids=["mlp", "lenet5"])
def test_ghost_equals_brute_force(net_cls, per_layer):
    ms.set_seed(1)
    clipper, sums, ratio, losses, (net, params, x, y, mask) = _clipped(net_cls(input_shape=SHAPE), "auto", per_layer)
    assert clipper.method == "ghost", clipper.reason  # Dense/Conv2d chains take the ghost path by default
    ref = _brute_force(net, params, x, y, mask, per_layer)
    for s, r, p in zip(sums, ref, params):
        assert s.shape == tuple(p.shape)
        np.testing.assert_allclose(s, r, atol=TOL, rtol=0, err_msg=p.name)
    assert np.all(ratio[mask == 0] == 0)
    # clipped sums never exceed the sensitivity bound: Σ_i ‖clip(g_i)‖ ≤ n·C
    assert np.sqrt(sum((s.astype(np.float64) ** 2).sum() for s in sums)) <= mask.sum() * CLIP + 1e-4
    ref_loss = cross_entropy(net(ms.Tensor(x)), ms.Tensor(y)).asnumpy()
    np.testing.assert_allclose(losses, ref_loss, atol=1e-5)


@pytest.mark.parametrize("per_layer", [False, True], ids=["flat", "per_layer"])
def test_vmap_equals_brute_force(per_layer):
    ms.set_seed(2)
    clipper, sums, _, _, (net, params, x, y, mask) = _clipped(LeNet5(input_shape=SHAPE), "vmap", per_layer)
    assert clipper.method == "vmap"
    ref = _brute_force(net, params, x, y, mask, per_layer)
    for s, r in zip(sums, ref):
        np.testing.assert_allclose(s, r, atol=TOL, rtol=0)


def test_micro_batches_of_one_are_per_example():
    ms.set_seed(3)
    clipper, sums, _, _, (net, params, x, y, mask) = _clipped(MLP(input_shape=SHAPE), "micro_batch", False,
                                                              micro_batches=B)
    assert clipper.sensitivity == 1.0
    ref = _brute_force(net, params, x, y, mask, False)
    for s, r in zip(sums, ref):
        np.testing.assert_allclose(s, r, atol=TOL, rtol=0)


def test_micro_batch_sensitivity_follows_group_size():
    """MindArmour prints the same ε for 4 and 32 micro-batches of a 32-batch; a group of >1 examples moves
    by up to 2C when one example is removed, so the accountant must see σ/2."""
    assert micro_batch_sensitivity(32, 32) == 1.0
    assert micro_batch_sensitivity(32, None) == 1.0
    assert micro_batch_sensitivity(32, 4) == 2.0
    assert micro_batch_sensitivity(32, 16) == 2.0


class _Functional(nn.Cell):
    """A functional op between cells: not a chain of leaf cells, so ghost clipping must step aside."""

    def __init__(self):
        super().__init__()
        self.flatten = nn.Flatten()
        self.fc1 = nn.Dense(64, 16)
        self.fc2 = nn.Dense(16, 10)

    def construct(self, x):
        return self.fc2(ops.tanh(self.fc1(self.flatten(x))) * 2.0)


def test_unsupported_network_falls_back_to_vmap_and_stays_exact():
    ms.set_seed(4)
    clipper, sums, _, _, (net, params, x, y, mask) = _clipped(_Functional(), "auto", False)
    assert clipper.method == "vmap" and "functional" in clipper.reason
    ref = _brute_force(net, params, x, y, mask, False)
    for s, r in zip(sums, ref):
        np.testing.assert_allclose(s, r, atol=TOL, rtol=0)
    x, y, _ = _batch()
    with pytest.raises(InvalidInputError, match="ghost"):
        make_clipper(_Functional(), nn.SoftmaxCrossEntropyWithLogits(sparse=True), sample_x=x, sample_y=y,
                     batch_size=B, method="ghost")


def test_bad_method_is_named():
    x, y, _ = _batch()
    with pytest.raises(InvalidInputError, match="method"):
        make_clipper(MLP(input_shape=SHAPE), cross_entropy, sample_x=x, sample_y=y, batch_size=B, method="loop")
    with pytest.raises(InvalidInputError, match="micro_batches"):
        make_clipper(MLP(input_shape=SHAPE), cross_entropy, sample_x=x, sample_y=y, batch_size=B,
                     method="micro_batch", micro_batches=4)


def test_dense_with_activation_takes_the_ghost_path_exactly():
    """``Dense(activation=...)`` owns its activation cell; ghost clipping treats the pair as one call (it
    used to see the activation as a separate call and fall back to vmap)."""
    ms.set_seed(5)
    net = nn.SequentialCell([nn.Flatten(), nn.Dense(64, 16, activation="tanh"), nn.Dense(16, 10)])
    clipper, sums, _, _, (net, params, x, y, mask) = _clipped(net, "auto", False)
    assert clipper.method == "ghost", clipper.reason
    ref = _brute_force(net, params, x, y, mask, False)
    for s, r in zip(sums, ref):
        np.testing.assert_allclose(s, r, atol=TOL, rtol=0)


def test_per_example_gradients_match_a_loop():
    """The vmap per-example gradients equal one backward pass per example."""
    ms.set_seed(3)
    net = LeNet5(input_shape=(1, 8, 8), num_classes=10)
    params = net.trainable_params()
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, (4, 1, 8, 8)).astype(np.float32)
    y = rng.integers(0, 10, 4).astype(np.int32)
    per = per_example_gradients(net, cross_entropy, params)(ms.Tensor(x), ms.Tensor(y))

    def one(xb, yb):
        return cross_entropy(net(xb), yb).sum()

    g1 = ms.grad(one, grad_position=None, weights=params)
    for i in range(4):  # brute-force loop: allowed in tests only
        ref = g1(ms.Tensor(x[i:i + 1]), ms.Tensor(y[i:i + 1]))
        for p_ex, p_ref in zip(per, ref):
            np.testing.assert_allclose(p_ex.asnumpy()[i], p_ref.asnumpy(), rtol=1e-5, atol=1e-5)
