"""SuppressModel: reaches the scheduled sparsity in PyNative and GRAPH mode, keeps the network's parameter
names (a checkpoint loads into a fresh network), and rejects bad schedules with clear errors."""

from __future__ import annotations

import numpy as np
import pytest

from armour_core.testing import requires_mindspore

pytestmark = requires_mindspore


@pytest.fixture(scope="module")
def digits():
    from armour_core import registry

    return registry.create("dataset", "digits")


def _net(digits, seed=0):
    import mindspore as ms

    from armour_core import registry

    ms.set_seed(seed)
    return registry.create("model", "mlp", input_shape=digits.input_shape, num_classes=10)


def _ds(digits, batch=64):
    import mindspore.dataset as mds

    mds.config.set_seed(0)
    return mds.NumpySlicesDataset({"x": digits.x_train, "y": digits.y_train.astype(np.int32)}, shuffle=True,
                                  num_parallel_workers=1).batch(batch, drop_remainder=True)


def test_reaches_sparsity_and_checkpoint_loads(mode, digits, tmp_path):
    import mindspore as ms
    from mindspore import nn
    from mindspore.train.callback import CheckpointConfig, ModelCheckpoint

    from armour_core.ms.train import accuracy
    from armour_plugins_privacy.suppress.model import SuppressModel

    net = _net(digits)
    names = [p.name for p in net.get_parameters()]
    model = SuppressModel(net, loss_fn=nn.SoftmaxCrossEntropyWithLogits(sparse=True, reduction="mean"),
                          optimizer=nn.Adam(net.trainable_params(), learning_rate=1e-2),
                          suppressor="magnitude", start_epoch=1, end_epoch=3, mask_times=6, sparse_end=0.8)
    ckpt_cb = ModelCheckpoint(prefix="sup", directory=str(tmp_path),
                              config=CheckpointConfig(save_checkpoint_steps=1000))
    model.train(5, _ds(digits), callbacks=[ckpt_cb])
    sp = model.sparsity()
    # exact: round(0.8 * size) zeros per layer, kept through the last two epochs of Adam updates
    assert sp["fc1.weight"] == pytest.approx(round(0.8 * 64 * 128) / (64 * 128))
    assert sp["fc2.weight"] == pytest.approx(0.8)
    hist = model.suppress_ctrl.history
    assert len(hist) == 6 and np.all(np.diff([h["target"] for h in hist]) > 0)
    assert hist[-1]["target"] == pytest.approx(0.8)
    assert accuracy(net, digits.x_test, digits.y_test) > 0.8
    assert [p.name for p in net.get_parameters()] == names  # user's names untouched
    # the network's own checkpoint loads strictly into a fresh network
    path = str(tmp_path / "net.ckpt")
    ms.save_checkpoint(net, path)
    fresh = _net(digits, seed=5)
    assert ms.load_param_into_net(fresh, ms.load_checkpoint(path), strict_load=True) == ([], [])
    x = ms.Tensor(digits.x_test[:16])
    assert np.allclose(fresh(x).asnumpy(), net(x).asnumpy(), atol=1e-6)
    # so does the ModelCheckpoint callback's checkpoint of the train network (optimizer state and masks extra)
    saved = sorted(tmp_path.glob("sup*.ckpt"))[-1]
    fresh2 = _net(digits, seed=6)
    not_loaded, _ = ms.load_param_into_net(fresh2, ms.load_checkpoint(str(saved)))
    assert not_loaded == []
    assert np.allclose(fresh2(x).asnumpy(), net(x).asnumpy(), atol=1e-6)


def test_mindarmour_style_api_and_layerwise(digits):
    from mindspore import nn

    from armour_plugins_privacy.suppress.model import MaskLayer, SuppressCtrl, SuppressMasker, SuppressModel

    net = _net(digits)
    model = SuppressModel(net, loss_fn=nn.SoftmaxCrossEntropyWithLogits(sparse=True, reduction="mean"),
                          optimizer=nn.Momentum(net.trainable_params(), learning_rate=0.05, momentum=0.9))
    ctrl = SuppressCtrl(net, [MaskLayer("fc1.weight", min_keep=100, upper_bound=0.5), "fc2.weight"],
                        suppressor="layerwise", start_epoch=2, end_epoch=3, mask_times=4, sparse_start=0.1,
                        sparse_end=0.95)
    model.link_suppress_ctrl(ctrl)
    model.train(3, _ds(digits), callbacks=[SuppressMasker(model, ctrl)])
    sp = model.sparsity()
    total = 64 * 128 + 128 * 10
    assert sp["__all__"] == pytest.approx(round(0.95 * total) / total, abs=2 / total)
    assert (net.fc1.weight.asnumpy() != 0).sum() >= 100
    assert np.abs(net.fc1.weight.asnumpy()).max() <= 0.5 + 0.05  # clipped at the last suppress step
    assert ctrl.history[0]["target"] == pytest.approx(0.1)


def test_mindarmour_factory(digits):
    from armour_core.errors import InvalidInputError
    from armour_plugins_privacy.suppress.model import MaskLayer, SuppressCtrl, SuppressPrivacyFactory

    net = _net(digits)
    ctrl = SuppressPrivacyFactory().create(net, [MaskLayer("fc1.weight", min_keep=10)], end_epoch=4,
                                           batch_num=20, start_epoch=2, mask_times=8, lr=0.1, sparse_end=0.5)
    assert isinstance(ctrl, SuppressCtrl) and list(ctrl.params) == ["fc1.weight"]
    assert list(ctrl.plan(20).values())[-1] == pytest.approx(0.5)
    with pytest.raises(InvalidInputError, match="policy"):
        SuppressPrivacyFactory().create(net, ["fc1.weight"], policy="federated")


def test_schedule_is_cubic():
    from armour_plugins_privacy.suppress.model import SuppressCtrl

    ctrl = SuppressCtrl(_net_lazy(), start_epoch=2, end_epoch=5, mask_times=4, sparse_end=0.8)
    plan = ctrl.plan(10)
    assert list(plan) == [20, 30, 40, 50]
    for step, s in plan.items():
        progress = (step - 10) / 40
        assert s == pytest.approx(0.8 * (1 - (1 - progress) ** 3))


def _net_lazy():
    from armour_core import registry

    return registry.create("model", "mlp", input_shape=(1, 8, 8), num_classes=10)


@pytest.mark.parametrize("kwargs,match", [
    ({"sparse_end": 1.0}, "sparse_end"),
    ({"sparse_end": -0.2}, "sparse_end"),
    ({"sparse_start": 0.5, "sparse_end": 0.3}, "sparse_start"),
    ({"start_epoch": 4, "end_epoch": 2}, "start_epoch"),
    ({"mask_times": 0}, "mask_times"),
    ({"layers": ["nope.weight"]}, "nope.weight"),
    ({"layers": ["fc1.weight", "fc1.weight"]}, "twice"),
    ({"suppressor": "nonexistent"}, "nonexistent"),
])
def test_bad_schedules(kwargs, match):
    from armour_core.errors import ArmourError
    from armour_plugins_privacy.suppress.model import SuppressCtrl

    with pytest.raises(ArmourError, match=match):
        SuppressCtrl(_net_lazy(), **kwargs)


def test_model_errors(digits):
    from mindspore import nn

    from armour_core.errors import InvalidInputError
    from armour_plugins_privacy.suppress.model import SuppressCtrl, SuppressModel

    net = _net(digits)
    loss = nn.SoftmaxCrossEntropyWithLogits(sparse=True, reduction="mean")
    with pytest.raises(InvalidInputError, match="optimizer"):
        SuppressModel(net, loss_fn=loss)
    model = SuppressModel(net, loss_fn=loss, optimizer=nn.Adam(net.trainable_params()))
    with pytest.raises(InvalidInputError, match="schedule"):
        model.train(1, _ds(digits))
    with pytest.raises(InvalidInputError, match="different network"):
        model.link_suppress_ctrl(SuppressCtrl(_net_lazy()))
    with pytest.raises(InvalidInputError, match="either"):
        SuppressModel(net, loss_fn=loss, optimizer=nn.Adam(net.trainable_params()),
                      suppress_ctrl=SuppressCtrl(net), sparse_end=0.5)
    model.link_suppress_ctrl(SuppressCtrl(net))
    with pytest.raises(InvalidInputError, match="dataset_sink_mode"):
        model.train(1, _ds(digits), dataset_sink_mode=True)
