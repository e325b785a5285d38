"""Issue 9, items 4, 19 and 21: DPModel checks its data before spending privacy, never charges a step that
failed before anything was released, and never recompiles its step for chunked Poisson batches."""

from __future__ import annotations

import numpy as np
import pytest

ms = pytest.importorskip("mindspore")

import armour_core.ms  # noqa: E402,F401
from mindspore import nn  # noqa: E402
from mindspore.train.callback import Callback  # noqa: E402

from armour_plugins_privacy.dp.model import DPModel  # noqa: E402
from armour_core.builtin.models import MLP  # noqa: E402
from armour_core.errors import InvalidInputError  # noqa: E402

N = 64


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    x = rng.random((N, 1, 8, 8)).astype(np.float32)
    return x, rng.integers(0, 10, N).astype(np.int32)


def _model(net=None, **kw):
    ms.set_seed(0)
    net = net or MLP(input_shape=(1, 8, 8), hidden=16)
    args = {"noise_multiplier": 1.0, "clip_norm": 1.0, "batch_size": 8, "accountant": "rdp"}
    args.update(kw)
    return DPModel(network=net, loss_fn=nn.SoftmaxCrossEntropyWithLogits(sparse=True, reduction="mean"),
                   optimizer=nn.SGD(net.trainable_params(), 0.1), **args)


def _labels(y, kind):
    if kind == "one_past_the_end":
        return np.where(np.arange(len(y)) == 3, 10, y).astype(np.int32)  # label 10 on a 10-class network
    if kind == "one_indexed":
        return (y + 1).astype(np.int64)
    if kind == "negative":
        return np.where(np.arange(len(y)) == 0, -1, y).astype(np.int32)
    if kind == "float_integral":
        return y.astype(np.float32)
    if kind == "float":
        return y.astype(np.float32) + 0.5
    if kind == "one_hot":
        return np.eye(10, dtype=np.int32)[y]
    raise AssertionError(kind)


@pytest.mark.parametrize("kind", ["one_past_the_end", "one_indexed", "negative", "float_integral", "float",
                                  "one_hot"])
def test_bad_labels_are_refused_before_any_privacy_is_spent(data, kind, tmp_path):
    x, y = data
    model = _model(ledger=tmp_path / "run.ledger")
    with pytest.raises(InvalidInputError, match=r"^y: "):
        model.train(1, (x, _labels(y, kind)))
    assert model.steps_taken == 0 and model.epsilon() == 0.0 and model.ledger.sessions == []


@pytest.mark.parametrize("dtype", [np.int8, np.uint8, np.int64, np.uint16])
def test_integer_labels_of_any_numpy_type_train(data, dtype):
    x, y = data
    model = _model()
    model.train(1, (x[:16], y[:16].astype(dtype)))
    assert model.steps_taken == 2


def test_wrong_x_shape_is_named_before_any_privacy_is_spent(data, tmp_path):
    x, y = data
    model = _model(ledger=tmp_path / "run.ledger")
    with pytest.raises(InvalidInputError, match=r"x: .*\(1, 7, 7\)"):
        model.train(1, (x[:, :, :7, :7].copy(), y))
    bad = x.copy()
    bad[5, 0, 1, 1] = np.inf
    with pytest.raises(InvalidInputError, match=r"^x: .*NaN or infinite"):
        model.train(1, (bad, y))
    assert model.steps_taken == 0 and model.epsilon() == 0.0 and model.ledger.sessions == []


class _TrainingOnlyBug(nn.Cell):
    """A leaf layer that runs in inference mode but not in the training step (a shape error only its
    training branch has)."""

    def construct(self, x):
        if self.training:
            return x.reshape(-1, 7)
        return x


def _fails_in_training():
    return nn.SequentialCell([nn.Flatten(), _TrainingOnlyBug(), nn.Dense(64, 10)])


def test_a_step_that_fails_before_release_is_not_charged(data, tmp_path):
    x, y = data
    net = _fails_in_training()
    before = [p.asnumpy().copy() for p in net.trainable_params()]
    model = _model(net, ledger=tmp_path / "run.ledger")
    with pytest.raises(Exception):  # noqa: B017 - MindSpore's own compile error
        model.train(1, (x, y))
    assert model.steps_taken == 0 and model.epsilon() == 0.0
    assert all(np.array_equal(b, p.asnumpy()) for b, p in zip(before, net.trainable_params()))


def test_the_dry_run_leaves_weights_and_optimizer_state_as_they_were(data):
    """The pre-charge dry run of the step is invisible: one Momentum step after it equals one computed
    without it (same seed, same batch)."""
    x, y = data

    def one_step(dry):
        ms.set_seed(0)
        net = MLP(input_shape=(1, 8, 8), hidden=16)
        model = DPModel(network=net, loss_fn=nn.SoftmaxCrossEntropyWithLogits(sparse=True, reduction="mean"),
                        optimizer=nn.Momentum(net.trainable_params(), 0.1, 0.9, weight_decay=0.1),
                        noise_multiplier=1.0, clip_norm=1.0, batch_size=8, accountant="rdp")
        model._prepare(x, y, 16)
        if dry:
            model._dry_run(x, y, 16)
        net.set_train(True)
        idx = np.arange(16)
        model._run_step(x, y, [(idx, np.ones(16, np.float32))], 1.0, np.zeros(model._n_noise, np.float32), 8.0)
        model._run_step(x, y, [(idx, np.ones(16, np.float32))], 1.0, np.zeros(model._n_noise, np.float32), 8.0)
        return [p.asnumpy() for p in model._dp_opt.get_parameters()]

    for a, b in zip(one_step(False), one_step(True)):
        np.testing.assert_array_equal(a, b)


class _Compiles(Callback):
    """New MindSpore graph compilations (entries of its compile cache) after each step."""

    def __init__(self):
        from mindspore.graph import api

        self.cache = api.ms_compile_cache
        self.start = len(self.cache)
        self.per_step = []

    def on_train_step_end(self, run_context):
        self.per_step.append(len(self.cache) - self.start)


def test_chunked_poisson_steps_compile_once(data):
    """A Poisson batch above the physical batch size is summed in chunks; 50 such steps compile each graph
    once (before: the carried sums were a constant tuple and every chunked step recompiled, 1.5 s each)."""
    x, y = data
    model = _model(physical_batch_size=8, batch_size=10)  # mean 10, physical 8: most steps need 2+ chunks
    chunked = []
    original = model._run_step

    def counting(x, y, chunks, *args, **kwargs):
        chunked.append(len(chunks) > 1)
        return original(x, y, chunks, *args, **kwargs)

    model._run_step = counting
    compiles = _Compiles()
    model.train(8, (x, y), callbacks=[compiles])  # 8 epochs of round(64/10) = 6 steps
    model.train(1, (x, y), callbacks=[compiles])
    assert len(chunked) >= 50 and sum(chunked) >= 25
    # step, step_carry, accumulate: one graph each, all compiled by the time the first chunked step ends
    first_chunked = chunked.index(True)
    assert compiles.per_step[-1] <= 3
    assert compiles.per_step[-1] == compiles.per_step[first_chunked]
