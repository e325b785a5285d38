"""MSModel: compiled forward/gradients, preprocessing inside, counters, activations, per-example grads."""

from __future__ import annotations

import numpy as np
import pytest

from armour_core.testing.markers import requires_dists, requires_mindspore

pytestmark = requires_mindspore


@pytest.fixture(scope="module")
def ms():
    import armour_core.ms  # noqa: F401  (runtime settings)
    import mindspore

    return mindspore


@pytest.fixture(scope="module")
def small(ms):
    from armour_core.builtin.models import MLP
    from armour_core.ms.model import MSModel

    ms.set_seed(0)
    net = MLP(input_shape=(1, 4, 4), num_classes=3, hidden=8)
    return net, MSModel(net, input_shape=(1, 4, 4))


def test_gradient_matches_finite_differences(small):
    net, model = small
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, (5, 1, 4, 4)).astype(np.float32)
    y = np.array([0, 1, 2, 0, 1])
    for loss in ("ce", "margin", "dlr"):
        values, grad = model.loss_gradient(x, y, loss=loss)
        assert values.shape == (5,) and grad.shape == x.shape
        h = 1e-2
        e = np.zeros_like(x)
        e[:, 0, 2, 1] = h
        vp, _ = model.loss_gradient(x + e, y, loss=loss)
        vm, _ = model.loss_gradient(x - e, y, loss=loss)
        np.testing.assert_allclose((vp - vm) / (2 * h), grad[:, 0, 2, 1], rtol=5e-2, atol=2e-3)


def test_counters_and_num_classes(small):
    _, model = small
    before = model.counters()
    x = np.zeros((4, 1, 4, 4), np.float32)
    model.predict(x)
    model.loss_gradient(x, np.zeros(4, np.int64))
    f, b, q = (a - c for a, c in zip(model.counters(), before))
    assert (f, b, q) == (2, 1, 8)
    assert model.num_classes == 3


def test_tensor_in_tensor_out(small, ms):
    _, model = small
    z = model.logits(ms.Tensor(np.zeros((2, 1, 4, 4), np.float32)))
    assert isinstance(z, ms.Tensor) and z.shape == (2, 3)
    assert isinstance(model.logits(np.zeros((2, 1, 4, 4), np.float32)), np.ndarray)


def test_preprocessing_applied_inside(ms):
    from armour_core.builtin.models import MLP
    from armour_core.ms.model import MSModel

    ms.set_seed(1)
    net = MLP(input_shape=(1, 2, 2), num_classes=2, hidden=4)
    x = np.random.default_rng(0).uniform(0, 1, (3, 1, 2, 2)).astype(np.float32)
    plain = MSModel(net).logits((x - 0.5) / 0.25)
    wrapped = MSModel(net, mean=0.5, std=0.25).logits(x)
    np.testing.assert_allclose(plain, wrapped, rtol=1e-5, atol=1e-6)


def test_probability_outputs_become_log_probabilities(ms):
    from mindspore import nn

    from armour_core.builtin.models import MLP
    from armour_core.ms.model import MSModel

    ms.set_seed(2)
    base = MLP(input_shape=(1, 2, 2), num_classes=3, hidden=4)
    soft = nn.SequentialCell([base, nn.Softmax()])
    x = np.random.default_rng(0).uniform(0, 1, (4, 1, 2, 2)).astype(np.float32)
    y = np.array([0, 1, 2, 0])
    v_logit, g_logit = MSModel(base).loss_gradient(x, y)
    v_prob, g_prob = MSModel(soft, output="probabilities").loss_gradient(x, y)
    np.testing.assert_allclose(v_logit, v_prob, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(g_logit, g_prob, rtol=1e-3, atol=1e-5)


def test_bad_wrapping_arguments(ms):
    from armour_core.builtin.models import MLP
    from armour_core.errors import InvalidInputError
    from armour_core.ms.model import MSModel

    net = MLP(input_shape=(1, 2, 2), num_classes=2, hidden=4)
    for kwargs, arg in [({"bounds": (1, 0)}, "bounds"), ({"output": "scores"}, "output"),
                        ({"mean": 0.5}, "mean"), ({"mean": 0, "std": 0}, "std"), ({"num_classes": 1}, "num_classes")]:
        with pytest.raises(InvalidInputError, match=arg):
            MSModel(net, **kwargs)
    with pytest.raises(InvalidInputError, match="network"):
        MSModel(object())
    with pytest.raises(InvalidInputError, match="x"):
        MSModel(net, input_shape=(1, 2, 2)).logits(np.zeros((1, 1, 3, 3), np.float32))


def test_activations_capture_every_leaf_layer(small):
    _, model = small
    acts = model.activations(np.zeros((3, 1, 4, 4), np.float32))
    assert list(acts) == ["fc1", "relu", "fc2"]
    assert acts["fc1"].shape == (3, 8) and acts["fc2"].shape == (3, 3)
    np.testing.assert_allclose(acts["relu"], np.maximum(acts["fc1"], 0))
    assert list(model.activations(np.zeros((1, 1, 4, 4), np.float32), layers=("fc2",))) == ["fc2"]


@requires_dists("privacy")  # ms/per_example.py moves to armour-plugins-privacy (issue 10)
def test_per_example_gradients_match_a_loop(ms):
    from armour_core.builtin.models import LeNet5
    from armour_core.ms.losses import cross_entropy
    from armour_core.ms.per_example import per_example_gradients

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
