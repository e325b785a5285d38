"""Defenses: every one raises robust accuracy against an iterative attack on the default CNN (digits).

Protocol (paired, seeded): start from the cached pretrained LeNet5, fine-tune it two epochs with the
defense and, as the control, two epochs of plain training with the same optimizer, batches and seed.
Both are attacked with the same compiled PGD-20 (eps 0.1) on the 450 test digits. The defended model must be
robust on significantly more points: an exact one-sided McNemar (sign) test on the discordant pairs at
p < 0.001, which also makes the effect a real one rather than a lucky seed.
"""

from __future__ import annotations

import math
import os

import numpy as np
import pytest

os.environ.setdefault("ARMOUR_PLUGINS_STRICT", "1")
os.environ.setdefault("ARMOUR_PROGRESS", "0")

ms = pytest.importorskip("mindspore")

from armour_core import registry  # noqa: E402
from armour_core.ms import pretrained as pt  # noqa: E402
from armour_plugins_attacks.defenses.inner import PGDProbe  # noqa: E402

EPS = 0.1
COMMON = dict(epochs=2, learning_rate=1e-3, batch_size=64, seed=0)
N_TRAIN = 1280  # a multiple of the batch size: one compiled shape per step


def fresh_pretrained(model: str = "lenet5"):
    """A new network holding the cached default weights (tests must not train the shared fixture)."""
    pre = pt.pretrained(model, "digits")
    net = pt.build(model, pre.dataset, seed=0)
    ms.load_param_into_net(net, ms.load_checkpoint(pre.checkpoint), strict_load=True)
    return net, pre.dataset


def robust_mask(network, data) -> tuple[np.ndarray, float]:
    from armour_core.ms.model import MSModel

    model = MSModel(network, bounds=data.bounds, num_classes=10, input_shape=data.input_shape)
    probe = PGDProbe(model=model, eps=EPS, steps=20, seed=123)
    res = probe.generate(data.x_test, data.y_test)
    clean = float(np.mean(np.asarray(model.predict(data.x_test)) == data.y_test))
    return res.predictions == data.y_test, clean


def sign_test_p(wins: int, losses: int) -> float:
    """One-sided exact binomial p-value of ``wins`` or more out of ``wins + losses`` at p = 1/2."""
    n = wins + losses
    return sum(math.comb(n, k) for k in range(wins, n + 1)) / 2.0 ** n


@pytest.fixture(scope="module")
def control():
    net, data = fresh_pretrained()
    registry.create("defense", "pad", network=net, replace_ratio=0.0, eps=EPS, **COMMON).fit(
        data.x_train[:N_TRAIN], data.y_train[:N_TRAIN])
    return robust_mask(net, data)


def _given_examples(net, data):
    from armour_core.ms.model import MSModel

    model = MSModel(net, bounds=data.bounds, num_classes=10, input_shape=data.input_shape)
    adv = PGDProbe(model=model, eps=EPS, steps=10, seed=7).generate(data.x_train[:N_TRAIN],
                                                                    data.y_train[:N_TRAIN]).adversarial
    return {"x_adv": adv}


def _ensemble_kwargs(net, data):
    static, _ = fresh_pretrained("mlp")
    return {"static_models": [static]}


CASES = {
    "pad": dict(eps=EPS, steps=7),
    "trades": dict(eps=EPS, steps=7, beta=6.0),
    "mart": dict(eps=EPS, steps=7, beta=6.0),
    "nad": dict(eps=EPS),
    "adversarial_training_with_attacks": dict(attacks=("fgsm",), eps=EPS, replace_ratio=1.0),
    "ensemble_adversarial_training": dict(eps=EPS, replace_ratio=1.0),
    "adversarial_training": dict(replace_ratio=1.0),
}


@pytest.mark.parametrize("name", list(CASES))
def test_defense_raises_robust_accuracy(name, control):
    ctrl_robust, ctrl_clean = control
    net, data = fresh_pretrained()
    ctor, fit = {}, {}
    if name == "ensemble_adversarial_training":
        ctor = _ensemble_kwargs(net, data)
    if name == "adversarial_training":
        fit = _given_examples(net, data)
    defense = registry.create("defense", name, network=net, **CASES[name], **COMMON, **ctor)
    history = defense.fit(data.x_train[:N_TRAIN], data.y_train[:N_TRAIN], **fit)
    assert [h.epoch for h in history] == [0, 1]
    assert all(np.isfinite(h.loss) and h.seconds > 0 for h in history)
    robust, clean = robust_mask(net, data)
    print(f"{name}: robust {robust.mean():.3f} (control {ctrl_robust.mean():.3f}), clean {clean:.3f} "
          f"(control {ctrl_clean:.3f})")
    wins = int(np.sum(robust & ~ctrl_robust))
    losses = int(np.sum(~robust & ctrl_robust))
    p = sign_test_p(wins, losses)
    assert robust.mean() > ctrl_robust.mean() and p < 1e-3, (
        f"{name}: robust accuracy {robust.mean():.3f} vs control {ctrl_robust.mean():.3f} "
        f"(wins {wins}, losses {losses}, p={p:.2g})")
    assert clean > 0.85 and clean > ctrl_clean - 0.08, f"{name}: clean accuracy collapsed to {clean:.3f}"
