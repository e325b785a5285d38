"""Issue 9 item 15 for the privacy distribution (its configs pass the shared type checks in the kit's
DistributionContract): the DP entry points (accountant steps, calibration, DPModel) take numpy scalars for
σ, δ, q and refuse string numbers with an error naming the argument."""

from __future__ import annotations

import numpy as np
import pytest

from armour_core import registry
from armour_core.errors import InvalidInputError
from armour_plugins_privacy.dp.calibration import calibrate_noise

@pytest.mark.parametrize("cast", [np.float32, np.float64])
def test_accountant_takes_numpy_scalars(cast):
    """np.float32 σ, q and δ used to be "out of range"; they give the same ε as Python floats."""
    ref = registry.create("accountant", "rdp").step(noise_multiplier=1.1, sampling_rate=0.01, steps=100)
    acc = registry.create("accountant", "rdp").step(noise_multiplier=cast(1.1), sampling_rate=cast(0.01),
                                                    steps=np.int64(100))
    assert acc.epsilon(cast(1e-5)) == pytest.approx(ref.epsilon(1e-5), rel=1e-5)


@pytest.mark.parametrize("arg", ["noise_multiplier", "sampling_rate", "steps"])
def test_accountant_refuses_string_numbers_naming_the_argument(arg):
    args = {"noise_multiplier": 1.1, "sampling_rate": 0.01, "steps": 10}
    args[arg] = str(args[arg])
    with pytest.raises(InvalidInputError, match=f"{arg}.*string"):
        registry.create("accountant", "rdp").step(**args)
    with pytest.raises(InvalidInputError, match="delta.*string"):
        registry.create("accountant", "rdp").step(noise_multiplier=1.1, sampling_rate=0.01).epsilon("1e-5")


def test_calibration_takes_numpy_scalars_and_refuses_strings():
    ref = calibrate_noise(2.0, 1e-5, 0.01, 100, accountant="rdp", rtol=1e-2)
    ours = calibrate_noise(np.float32(2.0), np.float32(1e-5), np.float32(0.01), np.int64(100), accountant="rdp",
                           rtol=1e-2)
    assert ours == pytest.approx(ref, rel=2e-2)
    for arg in ("target_epsilon", "delta", "sampling_rate", "steps"):
        args = {"target_epsilon": 2.0, "delta": 1e-5, "sampling_rate": 0.01, "steps": 100}
        args[arg] = str(args[arg])
        with pytest.raises(InvalidInputError, match=arg):
            calibrate_noise(**args, accountant="rdp")


def test_dp_model_takes_numpy_scalars_and_refuses_strings():
    ms = pytest.importorskip("mindspore")
    from mindspore import nn

    from armour_plugins_privacy.dp.model import DPModel
    from armour_core.builtin.models import MLP

    ms.set_seed(0)
    net = MLP(input_shape=(1, 8, 8), hidden=8)

    def build(**kw):
        args = {"noise_multiplier": 1.0, "clip_norm": 1.0, "batch_size": 16, "accountant": "rdp", "delta": 1e-5}
        args.update(kw)
        return DPModel(network=net, loss_fn=nn.SoftmaxCrossEntropyWithLogits(sparse=True, reduction="mean"),
                       optimizer=nn.SGD(net.trainable_params(), 0.1), **args)

    model = build(noise_multiplier=np.float32(1.25), clip_norm=np.float32(0.5), delta=np.float32(1e-6))
    assert model.noise_multiplier == pytest.approx(1.25) and model.delta == pytest.approx(1e-6)
    for arg, value in (("noise_multiplier", "1.1"), ("clip_norm", "1.0"), ("delta", "1e-5")):
        with pytest.raises(InvalidInputError, match=arg):
            build(**{arg: value})


def test_privacy_monitor_budget_takes_numpy_scalars_and_refuses_strings():
    pytest.importorskip("mindspore")
    from armour_plugins_privacy.dp.callbacks import PrivacyMonitor

    assert PrivacyMonitor(budget=np.float32(3.0), delta=np.float32(1e-5), verbose=False).budget == 3.0
    with pytest.raises(InvalidInputError, match="budget.*string"):
        PrivacyMonitor(budget="3.0")
