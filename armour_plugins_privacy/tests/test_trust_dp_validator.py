"""Issue 9, item 1: DP-SGD refuses layers that mix examples or release batch statistics, names them and the
fix; for every layer type it accepts, replacing one example moves the clipped gradient sum by at most 2·C
(brute force through DPModel's own clipping graph, ghost and vmap paths)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

ms = pytest.importorskip("mindspore")

import armour_core.ms  # noqa: E402,F401
from mindspore import nn, ops  # noqa: E402

from armour_plugins_privacy.dp.model import DPModel  # noqa: E402
from armour_core.errors import InvalidInputError  # noqa: E402
from armour_plugins_privacy.dp.per_example import make_clipper  # noqa: E402
from armour_plugins_privacy.dp import validator  # noqa: E402

B = 6
CLIP = 0.01  # small: every example is clipped, so each clipped gradient has norm exactly C and 2C is tight


def _loss():
    return nn.SoftmaxCrossEntropyWithLogits(sparse=True, reduction="mean")


def _model(net, **kw):
    args = {"noise_multiplier": 1.0, "clip_norm": CLIP, "batch_size": 4, "accountant": "rdp"}
    args.update(kw)
    return DPModel(network=net, loss_fn=_loss(), optimizer=nn.SGD(net.trainable_params(), 0.1), **args)


class _Seq(nn.Cell):
    """Cells applied in order; ``reuse`` calls the cell at that index a second time right after itself."""

    def __init__(self, cells, reuse=None):
        super().__init__()
        self.body = nn.CellList(cells)
        self.reuse = reuse

    def construct(self, x):
        for i, cell in enumerate(self.body):
            x = cell(x)
            if self.reuse is not None and i == self.reuse:
                x = cell(x)
        return x


class _Tokens(nn.Cell):
    """Float token ids (DPModel feeds float32) to an Embedding."""

    def __init__(self, vocab, dim):
        super().__init__()
        self.emb = nn.Embedding(vocab, dim)

    def construct(self, x):
        return self.emb(x.astype(ms.int32))


def _bn_net(kind):
    ms.set_seed(0)
    if kind == "affine_false":
        bn = nn.BatchNorm2d(4, affine=False)
    else:
        bn = nn.BatchNorm2d(4)
        if kind == "frozen":
            bn.gamma.requires_grad = False
            bn.beta.requires_grad = False
    return nn.SequentialCell([nn.Conv2d(1, 4, 3, pad_mode="same"), bn, nn.ReLU(), nn.Flatten(), nn.Dense(64, 10)])


def _sensitivity(net, x, y, x_other, method):
    """max over one replaced example of ‖Σ clip(g_i)(D) − Σ clip(g_i)(D')‖, through DPModel's graph."""
    model = _model(net, method=method)
    model._dry_run = lambda *args: None  # only the clipping graph is needed here (saves a compilation)
    model._prepare(x, y, len(x))
    net.set_train(True)
    acc = model._compiled["accumulate"]
    mask, c = ms.Tensor(np.ones(len(x), np.float32)), ms.Tensor(CLIP, ms.float32)

    def total(xs, ys):
        sums, _, _ = acc(ms.Tensor(xs), ms.Tensor(ys), mask, c)
        return np.concatenate([s.asnumpy().astype(np.float64).ravel() for s in sums])

    base = total(x, y)
    worst = 0.0
    for k in (0, len(x) - 1):  # replace example k (input and label)
        x2, y2 = x.copy(), y.copy()
        x2[k], y2[k] = x_other, (y[k] + 5) % 10
        worst = max(worst, float(np.linalg.norm(base - total(x2, y2))))
    net.set_train(False)
    return model, worst


def _data(shape, *, vocab=None, seed=0):
    rng = np.random.default_rng(seed)
    if vocab:
        x = rng.integers(0, vocab, (B + 1, *shape)).astype(np.float32)
    else:
        x = rng.standard_normal((B + 1, *shape)).astype(np.float32)
    return x[:B], rng.integers(0, 10, B).astype(np.int32), x[B]


# ---------------------------------------------------------------------------------------------- validator
@pytest.mark.parametrize("kind", ["affine_false", "frozen", "trainable"])
def test_dpmodel_refuses_every_batchnorm_naming_layer_and_fix_before_charging(kind, tmp_path):
    x, y, _ = _data((1, 4, 4))
    model = _model(_bn_net(kind), ledger=tmp_path / "run.ledger")
    with pytest.raises(validator.DPValidationError) as info:
        model.train(1, (x, y))
    message = str(info.value)
    assert "'1'" in message and "BatchNorm2d" in message and "validator.fix" in message
    assert isinstance(info.value, InvalidInputError)
    assert [p.layer for p in info.value.problems] == ["1"]
    assert model.steps_taken == 0 and model.epsilon() == 0.0 and model.ledger.sessions == []


def test_batchnorm_breaks_the_bound_the_validator_protects():
    """Why the refusal: BatchNorm without parameters (affine=False: ghost clipping replays it over the whole
    batch) mixes examples; bypassing DPModel's validator, replacing one example moves the clipped sum by more
    than 2·C."""
    x, y, other = _data((1, 4, 4))
    net = _bn_net("affine_false")
    net.set_train(True)
    clipper = make_clipper(net, _loss(), sample_x=x, sample_y=y, batch_size=B, method="ghost")
    fn = ms.jit(clipper.fn)
    mask, c = ms.Tensor(np.ones(B, np.float32)), ms.Tensor(CLIP, ms.float32)
    x2 = x.copy()
    x2[0] = np.full_like(other, 100.0)  # an outlier shifts the statistics every other example is normalised with
    a, b = (np.concatenate([s.asnumpy().ravel() for s in fn(ms.Tensor(v), ms.Tensor(y), mask, c)[0]])
            for v in (x, x2))
    net.set_train(False)
    assert np.linalg.norm(a.astype(np.float64) - b) > 2 * CLIP * 1.2


class _Running(nn.Cell):
    """A custom layer that keeps a running statistic of the batch in a non-trainable parameter."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Dense(16, 10)
        self.seen = ms.Parameter(ms.Tensor(np.zeros(1, np.float32)), name="seen", requires_grad=False)

    def construct(self, x):
        x = x.reshape(x.shape[0], -1)
        if self.training:
            ops.assign_add(self.seen, x.mean().reshape(1))
        return self.fc(x)


def test_validate_lists_each_layer_with_reason_and_fix():
    net = nn.SequentialCell([nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.InstanceNorm2d(4), nn.Flatten(),
                             nn.Dense(16, 8), nn.BatchNorm1d(8), nn.Dense(8, 4), nn.BatchNorm3d(4)])
    problems = validator.validate(net)
    assert [(p.layer, p.cell_type) for p in problems] == [
        ("1", "BatchNorm2d"), ("2", "InstanceNorm2d"), ("5", "BatchNorm1d"), ("7", "BatchNorm3d")]
    assert all(p.reason and "fix(network)" in p.fix for p in problems)
    x = np.ones((2, 1, 4, 4), np.float32)
    running = _Running()
    (problem,) = validator.validate(running, x)
    assert problem.layer == "<network>" and "'seen'" in problem.reason
    assert running.seen.asnumpy()[0] == 0.0  # the probe put the buffer back
    assert validator.validate(nn.SequentialCell([nn.Flatten(), nn.Dense(16, 10)]), x) == []


def test_dpmodel_refuses_a_layer_with_train_mode_buffers(tmp_path):
    x, y, _ = _data((1, 4, 4))
    model = _model(_Running(), ledger=tmp_path / "run.ledger")
    with pytest.raises(validator.DPValidationError, match="seen"):
        model.train(1, (x, y))
    assert model.steps_taken == 0 and model.epsilon() == 0.0


def test_fix_swaps_batchnorm_for_groupnorm_in_a_copy():
    ms.set_seed(0)
    net = nn.SequentialCell([nn.Conv2d(1, 48, 3, pad_mode="same"), nn.BatchNorm2d(48), nn.ReLU(),
                             nn.InstanceNorm2d(48), nn.Flatten(), nn.Dense(48 * 16, 8), nn.BatchNorm1d(8, affine=False),
                             nn.Dense(8, 10)])
    fixed = validator.fix(net)
    assert validator.validate(fixed, np.zeros((2, 1, 4, 4), np.float32)) == []
    cells = dict(fixed.cells_and_names())
    assert isinstance(cells["1"], nn.GroupNorm) and cells["1"].num_groups == 16  # gcd(32, 48)
    assert isinstance(cells["3"], nn.GroupNorm) and cells["3"].num_groups == 48  # InstanceNorm: one per channel
    assert isinstance(cells["6"], nn.GroupNorm) and cells["6"].num_groups == 8 and not cells["6"].gamma.requires_grad
    names = [p.name for p in fixed.trainable_params()]
    assert "1.gamma" in names and "1.beta" in names and len(set(names)) == len(names)
    assert isinstance(dict(net.cells_and_names())["1"], nn.BatchNorm2d)  # the original is untouched
    x, y, _ = _data((1, 4, 4))
    model = _model(fixed)
    model.train(1, (x, y))
    assert model.steps_taken > 0


# ---------------------------------------------------------------------------------------------- sensitivity
def _conv_net(groups):
    return nn.SequentialCell([nn.Conv2d(2, 4, 3, stride=2, pad_mode="pad", padding=1, group=groups), nn.Tanh(),
                              nn.Conv2d(4, 4, (1, 3), pad_mode="valid"), nn.Flatten(), nn.Dense(12, 10)])


NETWORKS = {
    "dense": (lambda: nn.SequentialCell([nn.Flatten(), nn.Dense(32, 8, activation="relu"), nn.Dense(8, 10)]),
              (2, 4, 4), None, ("ghost", "vmap")),
    "conv": (lambda: _conv_net(1), (2, 5, 5), None, ("ghost", "vmap")),
    "conv_groups": (lambda: _conv_net(2), (2, 5, 5), None, ("vmap",)),
    "conv1d_pool": (lambda: nn.SequentialCell([nn.Conv1d(2, 4, 3, pad_mode="same"), nn.ReLU(),
                                               nn.MaxPool1d(2, 2), nn.Flatten(), nn.Dense(8, 10)]),
                    (2, 4), None, ("vmap",)),
    "norms_pool": (lambda: nn.SequentialCell([nn.Conv2d(2, 4, 3, pad_mode="same"), nn.GroupNorm(2, 4), nn.GELU(),
                                              nn.AvgPool2d(2, 2), nn.Flatten(), nn.LayerNorm((16,)),
                                              nn.Dense(16, 10)]),
                   (2, 4, 4), None, ("vmap",)),
    "embedding": (lambda: nn.SequentialCell([_Tokens(7, 3), nn.Flatten(), nn.Dense(15, 10)]), (5,), 7, ("vmap",)),
    "reused": (lambda: _Seq([nn.Flatten(), nn.Dense(8, 8), nn.Sigmoid(), nn.Dense(8, 10)], reuse=1),
               (8,), None, ("vmap",)),
}


@pytest.mark.parametrize("method", ["ghost", "vmap"])
@pytest.mark.parametrize("name", list(NETWORKS))
def test_replacing_one_example_moves_the_clipped_sum_by_at_most_2c(name, method):
    build, shape, vocab, methods = NETWORKS[name]
    if method not in methods:
        pytest.skip(f"{name}: no ghost rule (DPModel uses vmap)")
    ms.set_seed(1)
    x, y, other = _data(shape, vocab=vocab, seed=1)
    model, worst = _sensitivity(build(), x, y, other, method)
    assert model.clipper.method == method
    assert worst <= 2 * CLIP * (1 + 1e-5)
    assert worst > 0.1 * CLIP  # the check has teeth: the clipped sums do move


# ---------------------------------------------------------------------------------------------- property
LAYERS = ("dense", "conv", "groupnorm", "layernorm", "relu", "tanh", "pool", "batchnorm")


@st.composite
def _networks(draw):
    """A small random network: optional Embedding front end, then a conv stack and a dense head drawn
    from the layer types above; a drawn BatchNorm must be refused."""
    tokens = draw(st.booleans())
    cells, names = [], []
    if tokens:
        cells += [_Tokens(5, 2), _Swap()]  # (B, 4) ids -> (B, 4, 2) -> (B, 2, 4): channels first for Conv1d
        shape, spatial, channels = (4,), 4, 2
    else:
        shape, spatial, channels = (2, 4, 4), 4, 2
    conv_cls, gn_shape = (nn.Conv1d, 1) if tokens else (nn.Conv2d, 2)
    for kind in draw(st.lists(st.sampled_from(LAYERS[1:]), min_size=1, max_size=3)):
        names.append(kind)
        if kind == "conv":
            out = draw(st.sampled_from([2, 4]))
            cells.append(conv_cls(channels, out, 3, pad_mode="same", group=draw(st.sampled_from([1, 2]))))
            channels = out
        elif kind == "groupnorm":
            cells.append(nn.GroupNorm(2, channels))
        elif kind == "layernorm":
            cells.append(nn.LayerNorm((spatial,) * gn_shape, begin_norm_axis=-gn_shape, begin_params_axis=-gn_shape))
        elif kind == "relu":
            cells.append(nn.ReLU())
        elif kind == "tanh":
            cells.append(nn.Tanh())
        elif kind == "pool" and spatial >= 2:
            cells.append(nn.AvgPool1d(2, 2) if tokens else nn.AvgPool2d(2, 2))
            spatial //= 2
        elif kind == "batchnorm":
            cells.append(nn.BatchNorm1d(channels) if tokens else nn.BatchNorm2d(channels, affine=False))
    cells += [nn.Flatten(), nn.Dense(channels * spatial ** gn_shape, 6)]
    if draw(st.booleans()):
        cells += [nn.ReLU(), nn.Dense(6, 10)]
    else:
        cells += [nn.Dense(6, 10)]
    return _Seq(cells), shape, (5 if tokens else None), names


class _Swap(nn.Cell):
    def construct(self, x):
        return x.transpose(0, 2, 1)


@settings(max_examples=4, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(_networks())
def test_random_networks_are_refused_by_layer_or_keep_the_2c_bound(drawn):
    net, shape, vocab, names = drawn
    ms.set_seed(2)
    x, y, other = _data(shape, vocab=vocab, seed=2)
    if "batchnorm" in names:
        bad = [name for name, cell in net.cells_and_names() if "BatchNorm" in type(cell).__name__]
        with pytest.raises(validator.DPValidationError) as info:
            _model(net).train(1, (x, y))
        assert [p.layer for p in info.value.problems] == bad
        assert all(f"'{b}'" in str(info.value) for b in bad)
        return
    _, worst = _sensitivity(net, x, y, other, "auto")
    assert worst <= 2 * CLIP * (1 + 1e-5)
