"""Defenses beyond the kit's contract (test_kit.py): losses against hand-computed values, reproducibility,
pure adversarial training (replace_ratio = 1), per-epoch reporting and clear errors."""

from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault("ARMOUR_PLUGINS_STRICT", "1")
os.environ.setdefault("ARMOUR_PROGRESS", "0")

ms = pytest.importorskip("mindspore")

from armour_core import registry  # noqa: E402
from armour_core.errors import ConfigError, InvalidInputError  # noqa: E402
from armour_core.ms import pretrained as pt  # noqa: E402
from armour_core.ms.model import MSModel  # noqa: E402

def small_net(seed: int = 0):
    data = registry.create("dataset", "digits")
    return pt.build("mlp", data, seed=seed), data


# ------------------------------------------------------------------------------------ loss values
def _ce(z, y):
    z = z - z.max(1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(1, keepdims=True))
    return -logp[np.arange(len(y)), y], np.exp(logp)


def test_trades_at_eps0_is_cross_entropy():
    """With eps = 0 the adversarial point is x itself, so KL = 0 and the TRADES loss is the clean CE."""
    net, data = small_net()
    x, y = data.x_train[:32], data.y_train[:32]
    z = net(ms.Tensor(x)).asnumpy()
    expected = _ce(z, y)[0].mean()
    d = registry.create("defense", "trades", network=net, eps=0.0, steps=2, beta=6.0, seed=0)
    assert d.train_batch(x, y) == pytest.approx(expected, rel=1e-4, abs=1e-5)


def test_mart_at_eps0_matches_hand_computed_loss():
    """eps = 0: x' = x, KL = 0, so the MART loss is its boosted CE −log p_y − log(1.0001 − max_{k≠y} p_k)."""
    net, data = small_net()
    x, y = data.x_train[:32], data.y_train[:32]
    ce, p = _ce(net(ms.Tensor(x)).asnumpy(), y)
    wrong = p.copy()
    wrong[np.arange(len(y)), y] = -1
    expected = (ce - np.log(1.0001 - wrong.max(1) + 1e-12)).mean()
    d = registry.create("defense", "mart", network=net, eps=0.0, steps=2, beta=6.0, seed=0)
    assert d.train_batch(x, y) == pytest.approx(expected, rel=1e-4, abs=1e-5)


def test_trades_with_beta0_trains_like_plain_training():
    """β = 0 removes the robustness term: parameters after an epoch equal plain CE training's."""
    nets = []
    for name, cfg in (("trades", {"beta": 0.0, "eps": 0.1, "steps": 2}), ("pad", {"replace_ratio": 0.0})):
        net, data = small_net()
        registry.create("defense", name, network=net, seed=3, learning_rate=1e-3, **cfg).fit(
            data.x_train[:256], data.y_train[:256])
        nets.append([p.asnumpy() for p in net.trainable_params()])
    for a, b in zip(*nets):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)


def test_pad_inner_maximisation_increases_loss_and_stays_in_ball():
    """The compiled PGD (the one PAD trains on) raises the CE loss and never leaves the ε-ball or bounds."""
    from armour_plugins_attacks.defenses.inner import PGDProbe

    pre = pt.pretrained("lenet5", "digits")
    x, y = pre.dataset.x_test[:64], pre.dataset.y_test[:64]
    for norm, eps in (("linf", 0.1), ("l2", 0.5)):
        res = PGDProbe(model=pre.model, eps=eps, norm=norm, steps=10, seed=0).generate(x, y)
        adv = res.adversarial
        assert res.norms.max() <= eps * (1 + 1e-5)
        assert adv.min() >= 0.0 and adv.max() <= 1.0
        loss_clean, _ = pre.model.loss_gradient(x, y)
        loss_adv, _ = pre.model.loss_gradient(adv, y)
        assert loss_adv.mean() > loss_clean.mean() + 0.5


# ------------------------------------------------------------------------------ behaviour, errors
def test_reproducible_under_seed_and_history():
    states = []
    for _ in range(2):
        net, data = small_net()
        d = registry.create("defense", "pad", network=net, eps=0.1, steps=3, seed=11, learning_rate=1e-3, epochs=2)
        hist = d.fit(data.x_train[:192], data.y_train[:192], x_val=data.x_test[:64], y_val=data.y_test[:64],
                     eval_attack="fgsm")
        states.append([p.asnumpy() for p in net.trainable_params()])
        assert [h.epoch for h in hist] == [0, 1]
        assert all(h.clean_accuracy is not None and h.robust_accuracy is not None for h in hist)
    for a, b in zip(*states):
        np.testing.assert_array_equal(a, b)


def test_pure_adversarial_training_uses_only_adversarial_examples():
    """replace_ratio = 1 with given examples: the batch loss is the CE on x_adv, not on x."""
    net, data = small_net()
    x, y = data.x_train[:32], data.y_train[:32]
    x_adv = np.clip(x + 0.3, 0, 1).astype(np.float32)
    expected = _ce(net(ms.Tensor(x_adv)).asnumpy(), y)[0].mean()
    d = registry.create("defense", "adversarial_training", network=net, replace_ratio=1.0)
    assert d.train_batch(x, y, x_adv=x_adv) == pytest.approx(expected, rel=1e-4, abs=1e-5)


def test_attacks_split_between_members():
    net, data = small_net()
    d = registry.create("defense", "adversarial_training_with_attacks", network=net,
                        attacks=["fgsm", ("fgsm", {"eps": 0.05})], eps=0.2, replace_ratio=1.0)
    assert [a.config.eps for a in d.attacks] == [0.2, 0.05]
    d.fit(data.x_train[:128], data.y_train[:128])
    assert d.model.backward_calls >= 4  # both attacks ran on every batch


def test_eval_attack_by_name_and_errors():
    net, data = small_net()
    d = registry.create("defense", "nad", network=net, eps=0.1)
    hist = d.fit(data.x_train[:64], data.y_train[:64], x_val=data.x_test[:32], y_val=data.y_test[:32],
                 eval_attack="fgsm")
    assert hist[-1].robust_accuracy is not None
    with pytest.raises(InvalidInputError, match="x_adv"):
        d.fit(data.x_train[:64], data.y_train[:64], x_adv=data.x_train[:64])
    with pytest.raises(InvalidInputError, match="x_val and y_val"):
        d.fit(data.x_train[:64], data.y_train[:64], x_val=data.x_test[:8])
    with pytest.raises(InvalidInputError, match="bounds"):
        d.fit(data.x_train[:64] * 3, data.y_train[:64])
    with pytest.raises(InvalidInputError, match="y"):
        d.fit(data.x_train[:64], data.y_train[:63])
    given = registry.create("defense", "adversarial_training", network=net)
    with pytest.raises(InvalidInputError, match="x_adv"):
        given.fit(data.x_train[:64], data.y_train[:64])
    with pytest.raises(InvalidInputError, match="x_adv"):
        given.fit(data.x_train[:64], data.y_train[:64], x_adv=data.x_train[:32])
    with pytest.raises(ConfigError):
        registry.create("defense", "pad", network=net, norm="l7")
    with pytest.raises(ConfigError):
        registry.create("defense", "adversarial_training_with_attacks", network=net, attacks=[42])
    with pytest.raises(InvalidInputError, match="static_models"):
        registry.create("defense", "ensemble_adversarial_training", network=net, static_models=[])
    with pytest.raises(InvalidInputError, match="static_models"):
        registry.create("defense", "ensemble_adversarial_training", network=net, static_models=[net])


def test_ensemble_alternates_sources():
    net, data = small_net()
    static = MSModel(small_net(2)[0], bounds=(0, 1), num_classes=10, input_shape=(1, 8, 8))
    d = registry.create("defense", "ensemble_adversarial_training", network=net, static_models=[static],
                        replace_ratio=1.0)
    d.fit(data.x_train[:128], data.y_train[:128], progress=False)  # two batches: current, then static
    assert d.model.backward_calls == 1 and static.backward_calls == 1


@pytest.mark.parametrize("name", ["pad", "trades", "mart"])
def test_l2_threat_model_and_partial_last_batch(name):
    """L2 inner maximisation trains, and an epoch whose last batch is smaller (a second compiled shape) works."""
    net, data = small_net()
    before = [p.asnumpy().copy() for p in net.trainable_params()]
    d = registry.create("defense", name, network=net, norm="l2", eps=0.5, steps=2, learning_rate=1e-3)
    hist = d.fit(data.x_train[:100], data.y_train[:100])  # batches of 64 and 36
    assert np.isfinite(hist[0].loss)
    assert any(not np.array_equal(a, p.asnumpy()) for a, p in zip(before, net.trainable_params()))
