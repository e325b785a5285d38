"""Activation capture in one compiled pass (equal to the PyNative-hook capture) on the default LeNet5 (the
criteria's contracts: test_kit.py)."""

from __future__ import annotations

import numpy as np
import pytest

from armour_core import registry
from armour_core.errors import InvalidInputError
from armour_core.testing import requires_mindspore

pytestmark = requires_mindspore


@pytest.fixture(scope="module")
def ms():
    import armour_core.ms  # noqa: F401  (CPU runtime settings)
    import mindspore

    return mindspore


def _same(a, b):
    assert list(a) == list(b)
    for k in a:
        np.testing.assert_allclose(a[k], b[k], rtol=1e-5, atol=1e-6, err_msg=k)
    np.testing.assert_allclose(a.logits, b.logits, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("fixture", ["armour_lenet", "armour_mlp"])
def test_compiled_capture_equals_hooks(request, armour_digits, fixture):
    model = request.getfixturevalue(fixture)
    x = armour_digits.x_test[:37]
    names_before = [p.name for p in model.network.get_parameters()]
    fast = model.capture(x)
    assert model.activation_capture().mode == "compiled"
    slow = model.capture(x, method="hooks")
    _same(fast, slow)
    np.testing.assert_allclose(fast.logits, model.logits(x), rtol=1e-5, atol=1e-6)
    assert [p.name for p in model.network.get_parameters()] == names_before
    layers = tuple(model.layer_names()[-2:])
    sub = model.capture(x[:5], layers)
    assert sorted(sub) == sorted(layers)
    _same(sub, model.capture(x[:5], layers, method="hooks"))


def test_shared_cells_and_non_chain_networks(ms):
    from mindspore import nn

    from armour_core.ms.model import MSModel

    class Shared(nn.Cell):  # one ReLU cell called twice: a chain, layers 'relu' and 'relu#1'
        def __init__(self):
            super().__init__()
            self.flat, self.fc1, self.relu, self.fc2, self.out = (nn.Flatten(), nn.Dense(16, 8), nn.ReLU(),
                                                                  nn.Dense(8, 8), nn.Dense(8, 3))

        def construct(self, x):
            return self.out(self.relu(self.fc2(self.relu(self.fc1(self.flat(x))))))

    class Residual(Shared):  # a skip connection: not a chain, captured with hooks
        def construct(self, x):
            h = self.relu(self.fc1(self.flat(x)))
            return self.out(self.relu(self.fc2(h)) + h)

    ms.set_seed(0)
    x = np.random.default_rng(0).uniform(0, 1, (5, 1, 4, 4)).astype(np.float32)
    shared = MSModel(Shared(), input_shape=(1, 4, 4))
    a = shared.capture(x)
    assert shared.activation_capture().mode == "compiled"
    assert list(a) == ["fc1", "relu", "fc2", "relu#1", "out"]
    _same(a, shared.capture(x, method="hooks"))
    # after a few batch sizes, new sizes are padded onto an existing graph or a power of two: same values
    for n in (1, 2, 3, 4, 5, 6, 7, 9):
        xn = np.random.default_rng(n).uniform(0, 1, (n, 1, 4, 4)).astype(np.float32)
        _same(shared.capture(xn), shared.capture(xn, method="hooks"))
    assert len(shared.activation_capture().compiled_sizes) < 8
    res = MSModel(Residual(), input_shape=(1, 4, 4))
    r = res.capture(x)
    cap = res.activation_capture()
    assert cap.mode == "hooks" and "previous leaf" in cap.reason
    np.testing.assert_allclose(r["relu#1"], np.maximum(r["fc2"], 0), atol=1e-6)
    with pytest.raises(InvalidInputError, match="compiled"):
        res.capture(x, method="compiled")

    class Pair(nn.Cell):  # a leaf returning two tensors
        def construct(self, x):
            return x, x * 2

    class TwoOut(Shared):
        def __init__(self):
            super().__init__()
            self.pair = Pair()

        def construct(self, x):
            a, b = self.pair(self.relu(self.fc1(self.flat(x))))
            return self.out(a + b)

    two = MSModel(TwoOut(), input_shape=(1, 4, 4))
    t = two.capture(x)
    assert two.activation_capture().mode == "hooks"
    np.testing.assert_allclose(t["pair"], t["relu"], atol=1e-6)  # a multi-output leaf reports its first
    with pytest.raises(InvalidInputError, match="layers"):
        res.capture(x, ("nope",))


def test_one_capture_feeds_every_criterion(armour_lenet, armour_digits):
    """The fuzzer's pattern: one forward pass gives the logits and the activations for all criteria."""
    d = armour_digits
    covs = [registry.create("coverage", n, model=armour_lenet) for n in ("neuron", "k_multisection", "dsa")]
    for c in covs:
        if c.needs_profile:
            c.fit(d.x_train[:300], d.y_train[:300])
    acts = armour_lenet.capture(d.x_test[:40])
    for c in covs:
        ref = registry.create("coverage", _name(c), model=armour_lenet)
        if ref.needs_profile:
            ref.fit(d.x_train[:300], d.y_train[:300])
        c.update_activations(acts)
        ref.update(d.x_test[:40])
        assert c.value == pytest.approx(ref.value) and 0 < c.value <= 1


def _name(cov) -> str:
    for spec in registry.specs("coverage"):
        if spec.target.endswith(":" + type(cov).__name__):
            return spec.name
    raise AssertionError(type(cov).__name__)
