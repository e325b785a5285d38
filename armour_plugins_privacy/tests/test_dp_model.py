"""DPModel end to end: MindSpore datasets and callbacks, the budget monitor, DP optimizers, adaptive
mechanisms accounted as run, micro-batches and shuffling accounted soundly, and bad inputs."""

from __future__ import annotations

import warnings

import dp_accounting
import numpy as np
import pytest
from dp_accounting import rdp as dp_rdp

ms = pytest.importorskip("mindspore")

import armour_core.ms  # noqa: E402,F401
import mindspore.dataset as ds  # noqa: E402
from mindspore import nn  # noqa: E402
from mindspore.train import LossMonitor  # noqa: E402

from armour_core import registry  # noqa: E402
from armour_core.builtin.models import MLP  # noqa: E402
from armour_core.errors import ConfigError, InvalidInputError, UnknownPluginError  # noqa: E402
from armour_plugins_privacy.dp.callbacks import PrivacyMonitor  # noqa: E402
from armour_plugins_privacy.dp.model import DPModel, DPOptimizerClassFactory, ShuffledSamplingWarning  # noqa: E402

N = 128


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    x = rng.random((N, 1, 8, 8)).astype(np.float32)
    y = (x.reshape(N, -1)[:, :10].argmax(1)).astype(np.int32)  # a learnable rule
    return x, y


def _net(seed=0):
    ms.set_seed(seed)
    return MLP(input_shape=(1, 8, 8), hidden=16)


def _loss():
    return nn.SoftmaxCrossEntropyWithLogits(sparse=True, reduction="mean")


def _model(net=None, **kw):
    net = net or _net()
    args = {"noise_multiplier": 1.0, "clip_norm": 1.0, "batch_size": 16, "accountant": "rdp"}
    args.update(kw)
    return DPModel(network=net, loss_fn=_loss(), optimizer=nn.SGD(net.trainable_params(), 0.1), **args)


def _rdp(events) -> float:
    acc = dp_rdp.RdpAccountant()
    for e in events:
        acc.compose(e)
    return acc.get_epsilon(1e-5)


def test_train_with_dataset_callbacks_and_budget(data, capsys):
    x, y = data
    net = _net()
    names = [p.name for p in net.trainable_params()]
    before = [p.asnumpy().copy() for p in net.trainable_params()]
    dataset = ds.NumpySlicesDataset({"x": x, "y": y}, shuffle=False).batch(16)
    model = DPModel(network=net, loss_fn=_loss(), optimizer=nn.Momentum(net.trainable_params(), 0.05, 0.9),
                    noise_multiplier=2.0, clip_norm=1.0, accountant="rdp")
    budget = 1.5  # about 19 steps at sigma=2, q=1/8
    monitor = PrivacyMonitor(budget, every=4)
    model.train(50, dataset, callbacks=[LossMonitor(8), monitor])
    q = 16 / N
    assert model.clipper.method == "ghost"
    assert monitor.stopped_at == model.steps_taken > 0
    eps = model.epsilon()
    assert eps <= budget < model.epsilon_after(1, sampling_rate=q)  # stopped at the last affordable step
    assert eps == pytest.approx(_rdp([dp_accounting.SelfComposedDpEvent(
        dp_accounting.PoissonSampledDpEvent(q, dp_accounting.GaussianDpEvent(2.0)), model.steps_taken)]), rel=1e-9)
    assert monitor.history and monitor.history[-1] == (model.steps_taken, eps)
    out = capsys.readouterr().out
    assert "epsilon" in out and "loss is" in out
    assert [p.name for p in net.trainable_params()] == names  # checkpoints load into a fresh network
    assert any(not np.array_equal(b, p.asnumpy()) for b, p in zip(before, net.trainable_params()))
    assert len(model.history) == model.steps_taken


def test_adaptive_mechanisms_are_accounted_as_run(data):
    """ada_gaussian's σ(t) and adaptive clipping's statistic are both in the ledger and in ε."""
    x, y = data
    model = _model(noise=("ada_gaussian", {"decay_rate": 0.05, "decay_policy": "step"}), noise_multiplier=1.5,
                   clip=("adaptive", {"count_noise": 0.2, "learning_rate": 0.5}), clip_norm=0.05)
    model.train(2, (x, y))
    steps = model.ledger.steps
    sigmas = [s["sigma"] for s in steps]
    assert sigmas == pytest.approx([1.5 * 0.95 ** t for t in range(len(steps))])
    assert all(s["gradient_noise_multiplier"] > s["noise_multiplier"] for s in steps)  # count query paid for
    clips = [s["clip_norm"] for s in steps]
    assert clips[0] == 0.05 and clips[-1] > clips[0]  # tiny C: nearly all clipped, so the quantile rule grows it
    q = 16 / N
    events = [dp_accounting.PoissonSampledDpEvent(q, dp_accounting.GaussianDpEvent(s)) for s in sigmas]
    assert model.epsilon() == pytest.approx(_rdp(events), rel=1e-9)


def test_micro_batches_and_shuffling_are_accounted_soundly(data):
    x, y = data
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = _model(sampling="shuffle", micro_batches=4, noise_multiplier=2.0)
        model.train(1, (x, y))
    assert any(issubclass(w.category, ShuffledSamplingWarning) for w in caught)
    assert model.clipper.method == "micro_batch" and model.clipper.sensitivity == 2.0
    assert model.steps_taken == N // 16
    assert {s["sigma"] for s in model.ledger.steps} == {1.0}  # σ/2: one example moves a group by up to 2C
    # one shuffled pass: one Gaussian mechanism, replace-one (another factor 2), no amplification
    assert model.epsilon() == pytest.approx(_rdp([dp_accounting.GaussianDpEvent(0.5)]), rel=1e-9)


def test_dp_optimizer_factory(data):
    factory = DPOptimizerClassFactory()
    factory.set_mechanisms("Gaussian", noise_multiplier=1.2, clip_norm=0.8)
    momentum = factory.create("Momentum")
    net = _net()
    opt = momentum(params=net.trainable_params(), learning_rate=0.1, momentum=0.9)
    assert isinstance(opt, nn.Momentum)
    model = DPModel(network=net, loss_fn=_loss(), optimizer=opt, batch_size=16)
    assert model.noise_multiplier == 1.2 and model.clip.clip_norm == 0.8
    with pytest.raises(ConfigError, match="noise_multiplier"):
        DPModel(network=net, loss_fn=_loss(), optimizer=opt, batch_size=16, noise_multiplier=2.0)
    with pytest.raises(InvalidInputError, match="policy"):
        factory.create("RMSProp")
    with pytest.raises(UnknownPluginError):
        DPOptimizerClassFactory().set_mechanisms("laplace", noise_multiplier=1.0, clip_norm=1.0)
    with pytest.raises(InvalidInputError, match="set_mechanisms"):
        DPOptimizerClassFactory().create("SGD")


@pytest.mark.parametrize("kwargs, error, match", [
    ({"noise_multiplier": 0.0}, InvalidInputError, "noise_multiplier"),
    ({"noise_multiplier": -1.0}, InvalidInputError, "noise_multiplier"),
    ({"noise_multiplier": None}, InvalidInputError, "noise_multiplier"),
    ({"clip_norm": 0.0}, InvalidInputError, "clip_norm"),
    ({"clip_norm": -0.5}, InvalidInputError, "clip_norm"),
    ({"delta": 0.0}, InvalidInputError, "delta"),
    ({"delta": 1.0}, InvalidInputError, "delta"),
    ({"noise": "laplace"}, UnknownPluginError, "laplace"),
    ({"clip": "quantile"}, UnknownPluginError, "quantile"),
    ({"accountant": "moments"}, UnknownPluginError, "moments"),
    ({"sampling": "random"}, InvalidInputError, "sampling"),
    ({"method": "micro_batch"}, InvalidInputError, "micro_batches"),
    ({"seed": -1}, InvalidInputError, "seed"),
])
def test_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        _model(**kwargs)


def test_one_place_for_sigma_and_clip():
    noise = registry.create("noise", "gaussian", noise_multiplier=1.0, clip_norm=1.0)
    with pytest.raises(ConfigError, match="noise_multiplier"):
        _model(noise=noise, noise_multiplier=2.0)
    with pytest.raises(ConfigError, match="clip_norm"):
        _model(noise=registry.create("noise", "gaussian", noise_multiplier=1.0, clip_norm=3.0), noise_multiplier=None)
    model = _model(noise=noise, noise_multiplier=None)
    assert model.noise is noise


def test_bad_datasets(data):
    x, y = data
    model = _model()
    with pytest.raises(InvalidInputError, match="empty"):
        model.train(1, (x[:0], y[:0]))
    with pytest.raises(InvalidInputError, match="lengths"):
        model.train(1, (x, y[:5]))
    bad = x.copy()
    bad[0, 0, 0, 0] = np.nan
    with pytest.raises(InvalidInputError, match="NaN"):
        model.train(1, (bad, y))
    with pytest.raises(InvalidInputError, match="batch_size"):
        _model(batch_size=None).train(1, (x, y))
    with pytest.raises(InvalidInputError, match="epoch"):
        model.train(0, (x, y))
    assert model.steps_taken == 0 and model.epsilon() == 0.0
