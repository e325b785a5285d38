"""The Attack template method, on a numpy classifier (runs without MindSpore)."""

from __future__ import annotations

import attrs
import numpy as np
import pytest

from armour_core.api.attack import Attack, AttackConfig
from armour_core.errors import ConfigError, InvalidInputError
from armour_core.testing.models import SoftmaxRegression


@attrs.frozen(kw_only=True)
class OvershootConfig(AttackConfig):
    factor: float = attrs.field(default=10.0, validator=attrs.validators.gt(0))


class Overshoot(Attack):
    """Steps far outside the ball on purpose: the base must project the result back."""

    Config = OvershootConfig
    norms = ("linf", "l2", "l1")
    targeted = False

    def _generate(self, x, y, target):
        _, g = self.model.loss_gradient(x, y)
        noise = self.attack_rng().normal(size=x.shape)
        return x + self.config.factor * (np.sign(g) + 0.1 * noise)


@pytest.fixture(scope="module")
def model():
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, (300, 1, 4, 4)).astype(np.float32)
    y = (x.reshape(300, -1)[:, :8].sum(1) > x.reshape(300, -1)[:, 8:].sum(1)).astype(np.int64)
    return SoftmaxRegression.fit(x, y, 2), x[:40], y[:40]


@pytest.mark.parametrize("norm,eps", [("linf", 0.05), ("l2", 0.5), ("l1", 1.5)])
def test_result_projected_onto_ball_and_bounds(model, norm, eps):
    clf, x, y = model
    res = Overshoot(model=clf, eps=eps, norm=norm).generate(x, y)
    assert res.adversarial.shape == x.shape and res.adversarial.dtype == x.dtype
    assert res.adversarial.min() >= 0 and res.adversarial.max() <= 1
    assert np.all(res.norms <= eps * (1 + 1e-6) + 1e-7)
    assert res.forward_calls == 1 and res.backward_calls == 1 and res.queries == len(x)
    np.testing.assert_array_equal(res.predictions, clf.predict(res.adversarial))
    np.testing.assert_array_equal(res.success, res.predictions != y)


def test_labels_default_to_predictions_and_batches(model):
    clf, x, y = model
    atk = Overshoot(model=clf, eps=0.1)
    a = atk.batch_generate(x, batch_size=7, progress=False)
    assert a.adversarial.shape == x.shape and a.success.shape == (len(x),)
    assert a.backward_calls == int(np.ceil(len(x) / 7))


def test_reproducible_and_seed_zero_is_a_seed(model):
    clf, x, y = model
    a = Overshoot(model=clf, eps=0.1, seed=0, factor=0.01).generate(x, y).adversarial
    b = Overshoot(model=clf, eps=0.1, seed=0, factor=0.01).generate(x, y).adversarial
    c = Overshoot(model=clf, eps=0.1, seed=1, factor=0.01).generate(x, y).adversarial
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_a_shard_of_whole_batches_draws_what_the_whole_input_draws(model):
    """Batch i uses stream first_batch + i: shards of whole batches reproduce the unsharded run exactly."""
    clf, x, y = model
    atk = Overshoot(model=clf, eps=0.1, factor=0.01)
    whole = atk.batch_generate(x, y, batch_size=8, progress=False).adversarial
    shards = [atk.batch_generate(x[s:s + 16], y[s:s + 16], batch_size=8, progress=False, first_batch=s // 8)
              for s in range(0, len(x), 16)]
    np.testing.assert_array_equal(np.concatenate([r.adversarial for r in shards]), whole)
    unaligned = atk.batch_generate(x[16:32], y[16:32], batch_size=8, progress=False).adversarial
    assert not np.array_equal(unaligned, whole[16:32])  # without the offset a shard redraws batch 0's noise
    with pytest.raises(InvalidInputError, match="first_batch: expected an int >= 0"):
        atk.batch_generate(x, y, first_batch=-1)


@pytest.mark.parametrize("case,arg", [
    ("nan", "x"), ("rank", "x"), ("dtype", "x"), ("bounds", "x"), ("labels_range", "y"), ("labels_len", "y"),
    ("onehot", "y"), ("empty", "x"),
])
def test_bad_input_names_the_argument(model, case, arg):
    clf, x, y = model
    atk = Overshoot(model=clf, eps=0.1)
    xx, yy = x.copy(), y.copy()
    if case == "nan":
        xx[0, 0, 0, 0] = np.nan
    elif case == "rank":
        xx = xx[0]
        yy = yy[:1]
    elif case == "dtype":
        xx = (xx * 255).astype(np.uint8)
    elif case == "bounds":
        xx = xx + 2
    elif case == "labels_range":
        yy = yy + 5
    elif case == "labels_len":
        yy = yy[:-1]
    elif case == "onehot":
        yy = np.eye(2)[yy]
    elif case == "empty":
        xx, yy = xx[:0], yy[:0]
    with pytest.raises(InvalidInputError, match=rf"^{arg}"):
        atk.generate(xx, yy)


def test_config_errors(model):
    clf, _, _ = model
    with pytest.raises(ConfigError, match="eps"):
        Overshoot(model=clf, eps=-1.0)
    with pytest.raises(ConfigError, match="epz"):
        Overshoot(model=clf, epz=0.1)
    with pytest.raises(ConfigError, match="norm"):
        Overshoot(model=clf, norm="l7")
    with pytest.raises(ConfigError, match="untargeted"):
        Overshoot(model=clf).generate(np.zeros((1, 1, 4, 4), np.float32), [0], target=[1])
    with pytest.raises(InvalidInputError, match="model"):
        Overshoot(model=object())


def test_evolve_revalidates(model):
    clf, _, _ = model
    atk = Overshoot(model=clf, eps=0.1)
    assert atk.evolve(eps=0.2).config.eps == 0.2 and atk.config.eps == 0.1
    with pytest.raises(ConfigError):
        atk.evolve(eps=-1)


def test_numpy_classifier_gradients_match_finite_differences(model):
    clf, x, y = model
    for loss in ("ce", "margin", "dlr") if clf.num_classes >= 3 else ("ce", "margin"):
        v, g = clf.loss_gradient(x[:3], y[:3], loss=loss)
        h = 1e-3
        e = np.zeros_like(x[:3])
        e[:, 0, 1, 2] = h
        vp, _ = clf.loss_gradient(x[:3] + e, y[:3], loss=loss)
        vm, _ = clf.loss_gradient(x[:3] - e, y[:3], loss=loss)
        np.testing.assert_allclose((vp - vm) / (2 * h), g[:, 0, 1, 2], rtol=1e-2, atol=1e-3)
