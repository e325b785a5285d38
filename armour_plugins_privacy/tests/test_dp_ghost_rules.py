"""Ghost-clipping rules are registered per layer type: the built-in rules give the per-example norms that
per-example (vmap) gradients give, and a third party's rule for its own layer type joins the ghost path."""

from __future__ import annotations

import numpy as np
import pytest

ms = pytest.importorskip("mindspore")

import armour_core.ms  # noqa: E402,F401
from mindspore import Parameter, nn, ops  # noqa: E402

from armour_core.builtin.models import MLP, LeNet5  # noqa: E402
from armour_core.errors import InvalidInputError  # noqa: E402
from armour_core.ms.losses import cross_entropy  # noqa: E402
from armour_plugins_privacy.dp import ghost  # noqa: E402
from armour_plugins_privacy.dp.per_example import make_clipper, per_example_gradients, per_example_norms  # noqa: E402

B, SHAPE, CLIP = 6, (1, 8, 8), 0.5


class Scale(nn.Cell):
    """A layer armour has no rule for: an elementwise affine map ``x * weight + bias`` on (B, d)."""

    def __init__(self, d: int):
        super().__init__()
        self.weight = Parameter(ms.Tensor(np.linspace(0.5, 1.5, d).astype(np.float32)), name="weight")
        self.bias = Parameter(ms.Tensor(np.linspace(-0.1, 0.1, d).astype(np.float32)), name="bias")

    def construct(self, x):
        return x * self.weight + self.bias


class ScaleRule(ghost.GhostRule):
    """Per-example gradients of ``Scale``: ``g_i * a_i`` (weight) and ``g_i`` (bias), both of size d."""

    @staticmethod
    def params(cell):
        return [cell.weight, cell.bias]

    @staticmethod
    def norm(g, a, slot, config):
        piece = g * a if slot == 0 else g
        return ghost.row_sq(piece), piece

    @staticmethod
    def clipped_sum(f, piece, a, slot, shape):
        return ops.matmul(f.reshape(1, -1), piece).reshape(shape)


def _scale_net():
    ms.set_seed(7)
    return nn.SequentialCell([nn.Flatten(), nn.Dense(64, 16), Scale(16), nn.ReLU(), nn.Dense(16, 10)])


def _batch():
    rng = np.random.default_rng(0)
    return rng.random((B, *SHAPE)).astype(np.float32), rng.integers(0, 10, B).astype(np.int32)


def _ghost_and_vmap_norms(net, method="auto"):
    """(clipper, ghost per-example norms, vmap per-example norms, ghost sums, vmap sums)."""
    x, y = _batch()
    loss = nn.SoftmaxCrossEntropyWithLogits(sparse=True, reduction="mean")
    args = (ms.Tensor(x), ms.Tensor(y), ms.Tensor(np.ones(B, np.float32)), ms.Tensor(CLIP, ms.float32))
    clipper = make_clipper(net, loss, sample_x=x, sample_y=y, batch_size=B, method=method)
    sums, ratio, _ = ms.jit(clipper.fn)(*args)
    vmap = make_clipper(net, loss, sample_x=x, sample_y=y, batch_size=B, method="vmap")
    vsums, _, _ = ms.jit(vmap.fn)(*args)
    grads = per_example_gradients(net, cross_entropy)(ms.Tensor(x), ms.Tensor(y))
    return (clipper, ratio.asnumpy() * CLIP, per_example_norms(grads).asnumpy(), [s.asnumpy() for s in sums],
            [s.asnumpy() for s in vsums])


@pytest.fixture
def rules(monkeypatch):
    """A private copy of the rule table, so a test's registrations never leak into others."""
    monkeypatch.setattr(ghost, "_RULES", dict(ghost._RULES))
    return ghost._RULES


@pytest.mark.parametrize("make", [
    lambda: MLP(input_shape=SHAPE), lambda: LeNet5(input_shape=SHAPE),
    lambda: nn.SequentialCell([nn.Flatten(), nn.Dense(64, 16, activation="tanh"), nn.Dense(16, 10)])],
    ids=["dense", "conv2d+dense", "dense_activation"])
def test_builtin_rules_give_the_per_example_norms(make):
    ms.set_seed(1)
    clipper, norms, reference, sums, vsums = _ghost_and_vmap_norms(make())
    assert clipper.method == "ghost", clipper.reason
    np.testing.assert_allclose(norms, reference, rtol=1e-4, atol=1e-6)
    for s, v in zip(sums, vsums):
        np.testing.assert_allclose(s, v, atol=1e-5, rtol=0)


def test_a_layer_without_a_rule_falls_back_to_vmap_or_is_refused_by_name(rules):
    net = _scale_net()
    x, y = _batch()
    clipper = make_clipper(net, cross_entropy, sample_x=x, sample_y=y, batch_size=B)
    assert clipper.method == "vmap" and "no ghost rule for layer type Scale" in clipper.reason
    with pytest.raises(InvalidInputError, match="no ghost rule for layer type Scale"):
        make_clipper(net, cross_entropy, sample_x=x, sample_y=y, batch_size=B, method="ghost")


def test_a_registered_rule_for_a_custom_layer_matches_the_vmap_norms(rules):
    assert ghost.ghost_rule(Scale)(ScaleRule) is ScaleRule  # the decorator hands the class back
    assert isinstance(ghost.rule_for(Scale(3)), ScaleRule)
    clipper, norms, reference, sums, vsums = _ghost_and_vmap_norms(_scale_net(), method="ghost")
    assert clipper.method == "ghost"
    np.testing.assert_allclose(norms, reference, rtol=1e-4, atol=1e-6)
    for s, v in zip(sums, vsums):
        np.testing.assert_allclose(s, v, atol=1e-5, rtol=0)


def test_subclasses_use_their_nearest_registered_rule(rules):
    class MyDense(nn.Dense):
        pass

    assert isinstance(ghost.rule_for(MyDense(2, 2)), ghost.DenseRule)
    ghost.ghost_rule(MyDense)(ScaleRule)
    assert isinstance(ghost.rule_for(MyDense(2, 2)), ScaleRule)
    assert isinstance(ghost.rule_for(nn.Dense(2, 2)), ghost.DenseRule)
    assert ghost.rule_for(nn.ReLU()) is None


def test_registration_rejects_what_is_not_a_rule(rules):
    with pytest.raises(TypeError, match="layer_type"):
        ghost.ghost_rule("Dense")
    with pytest.raises(TypeError, match="GhostRule subclass"):
        ghost.ghost_rule(Scale)(object)


def test_registration_rejects_a_rule_missing_its_abstract_methods(rules):
    """``norm`` and ``clipped_sum`` are abstract: an incomplete rule is refused when registered, naming what it
    lacks, instead of failing later inside a compiled step."""

    class HalfRule(ghost.GhostRule):
        @staticmethod
        def norm(g, a, slot, config):
            return ghost.row_sq(g), g

    with pytest.raises(TypeError, match="HalfRule must define clipped_sum"):
        ghost.ghost_rule(Scale)(HalfRule)
    assert ghost.rule_for(Scale(2)) is None
