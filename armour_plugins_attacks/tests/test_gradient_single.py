"""Single-step gradient attacks: exact formulas, optimality of the L1 step, random starts, least-likely class."""

from __future__ import annotations

import numpy as np
import pytest

from armour_core import registry
from armour_core.errors import ConfigError
from armour_plugins_attacks.gradient.steps import (l1_box_step, random_direction, random_in_ball, sparse_count,
                                                     steepest_step)


@pytest.fixture(scope="module")
def digits_batch(armour_digits):
    return armour_digits.x_test[:40], armour_digits.y_test[:40]


def _grad(model, x, labels):
    return np.asarray(model.loss_gradient(x, labels)[1], dtype=np.float64)


# ------------------------------------------------------------------------------------------ FGSM / FGM
def test_fgsm_is_one_signed_step(armour_softmax, digits_batch):
    x, y = digits_batch
    res = registry.create("attack", "fgsm", model=armour_softmax, eps=0.07).generate(x, y)
    want = np.clip(x + 0.07 * np.sign(_grad(armour_softmax, x, y)), 0, 1).astype(np.float32)
    np.testing.assert_allclose(res.adversarial, want, atol=1e-6)
    assert (res.forward_calls, res.backward_calls, res.queries) == (1, 1, len(x))


def test_fgsm_targeted_descends_the_target_loss(armour_softmax, digits_batch):
    x, y = digits_batch
    t = (y + 3) % 10
    res = registry.create("attack", "fgsm", model=armour_softmax, eps=0.05).generate(x, y, target=t)
    want = np.clip(x - 0.05 * np.sign(_grad(armour_softmax, x, t)), 0, 1)
    np.testing.assert_allclose(res.adversarial, want, atol=1e-6)
    before, _ = armour_softmax.loss_gradient(x, t)
    after, _ = armour_softmax.loss_gradient(res.adversarial, t)
    assert np.mean(after) < np.mean(before)


def test_fgm_l2_steps_along_the_normalised_gradient():
    """Away from the bounds the step is exactly eps * g / ||g||_2."""
    rng = np.random.default_rng(0)
    from armour_core.testing import SoftmaxRegression

    model = SoftmaxRegression(rng.normal(size=(16, 3)), np.zeros(3), input_shape=(16,))
    x = rng.uniform(0.3, 0.7, (8, 16)).astype(np.float32)
    y = rng.integers(0, 3, 8)
    res = registry.create("attack", "fgm", model=model, eps=0.2).generate(x, y)
    g = _grad(model, x, y)
    want = x + 0.2 * g / np.linalg.norm(g, axis=1, keepdims=True)
    np.testing.assert_allclose(res.adversarial, want, atol=1e-6)
    np.testing.assert_allclose(res.norms, 0.2, rtol=1e-5)


def test_l1_box_step_solves_the_linear_program():
    """The greedy fill equals the optimum of max <g, d> s.t. ||d||_1 <= eps, lo <= x + d <= hi (scipy LP)."""
    linprog = pytest.importorskip("scipy.optimize").linprog
    rng = np.random.default_rng(1)
    g = rng.normal(size=(5, 12))
    x = rng.choice([0.0, 1.0, 0.5, 0.9], size=(5, 12))
    for budget in (0.3, 2.0, 50.0):
        d = l1_box_step(g, x, (0.0, 1.0), budget)
        assert np.all(np.abs(d).sum(1) <= budget + 1e-9)
        assert np.all(x + d >= -1e-12) and np.all(x + d <= 1 + 1e-12)
        for i in range(len(g)):  # d = p - m, p, m >= 0: max g.(p - m) s.t. sum(p + m) <= eps, box on p - m
            n = g.shape[1]
            c = -np.concatenate([g[i], -g[i]])
            a_ub = np.vstack([np.ones(2 * n), np.hstack([np.eye(n), -np.eye(n)]), np.hstack([-np.eye(n), np.eye(n)])])
            b_ub = np.concatenate([[budget], 1.0 - x[i], x[i]])
            best = -linprog(c, A_ub=a_ub, b_ub=b_ub, bounds=(0, None)).fun
            assert g[i] @ d[i] == pytest.approx(best, rel=1e-7, abs=1e-9)


def test_fgm_l1_spends_the_budget_that_fits(armour_mlp, armour_digits):
    x, y = armour_digits.x_test[:30], armour_digits.y_test[:30]
    res = registry.create("attack", "fgm", model=armour_mlp, eps=3.0, norm="l1").generate(x, y)
    np.testing.assert_allclose(res.norms, 3.0, rtol=1e-4)  # digits have room for 3 units of L1 change


def test_sparse_l1_step_spreads_over_the_top_coordinates():
    g = np.array([[5.0, -4.0, 3.0, 0.1, -0.2, 0.0, 0.0, 0.0]])
    x = np.full((1, 8), 0.5)
    d = l1_box_step(g, x, (0.0, 1.0), 0.6, spread=3)  # top-3: 0.2 each
    np.testing.assert_allclose(d, [[0.2, -0.2, 0.2, 0, 0, 0, 0, 0]])
    x[0, 0] = 0.95  # little room on the largest: the rest flows on, nothing is clipped away
    d = l1_box_step(g, x, (0.0, 1.0), 0.6, spread=3)
    np.testing.assert_allclose(d, [[0.05, -0.2, 0.2, 0.0, -0.15, 0, 0, 0]], atol=1e-12)
    assert sparse_count(784, 99.0) == 8 and sparse_count(64, 99.0) == 1 and sparse_count(10, 0.0) == 10


def test_steepest_step_units_and_zero_gradient():
    g = np.array([[3.0, -4.0], [0.0, 0.0]])
    np.testing.assert_allclose(steepest_step(g, "l2"), [[0.6, -0.8], [0, 0]])
    np.testing.assert_array_equal(steepest_step(g, "linf"), [[1, -1], [0, 0]])
    with pytest.raises(ValueError):
        steepest_step(g, "l1")


# ------------------------------------------------------------------------------------------ random starts
def test_random_l2_direction_is_l2_noise_not_sign_noise():
    """MindArmour's random L2 attacks draw sign noise (L2 length alpha * sqrt(d)); ours is a uniformly random
    unit direction."""
    u = random_direction(np.random.default_rng(0), (200, 64), "l2")
    np.testing.assert_allclose(np.linalg.norm(u, axis=1), 1.0, rtol=1e-12)
    assert len(np.unique(np.round(np.abs(u), 8))) > 1000  # continuous magnitudes, not +-c
    # isotropic: the mean direction is ~0 (each coordinate has mean 0 and variance 1/d)
    assert np.abs(u.mean(0)).max() < 5 / np.sqrt(200 * 64)


def test_rfgm_random_step_is_l2_noise(armour_mlp):
    """alpha = eps: the whole budget is the random step; its L2 length is alpha and it is not sign noise."""
    x = np.full((6, 1, 8, 8), 0.5, np.float32)
    res = registry.create("attack", "rfgm", model=armour_mlp, eps=0.5, alpha=0.5, seed=3).generate(x)
    d = (res.adversarial - x).reshape(6, -1)
    np.testing.assert_allclose(np.linalg.norm(d, axis=1), 0.5, rtol=1e-5)
    assert len(np.unique(np.round(np.abs(d), 5))) > 100
    assert res.norms.max() <= 0.5 * (1 + 1e-6)


@pytest.mark.parametrize("norm,eps", [("linf", 0.2), ("l2", 1.5), ("l1", 4.0)])
def test_random_in_ball_stays_inside_and_fills_it(norm, eps):
    from armour_core.api.norms import lp_norm

    d = random_in_ball(np.random.default_rng(0), (4000, 3), eps, norm)
    r = lp_norm(d, norm)
    assert np.all(r <= eps * (1 + 1e-12))
    # uniform in a d=3 ball: P(r <= eps * t) = t^3 for every norm; check the median radius
    assert np.median(r) / eps == pytest.approx(0.5 ** (1 / 3), abs=0.02)


def test_rfgsm_with_zero_alpha_is_fgsm_and_random_start_changes_it(armour_mlp, digits_batch):
    x, y = digits_batch
    fgsm = registry.create("attack", "fgsm", model=armour_mlp, eps=0.1).generate(x, y).adversarial
    r0 = registry.create("attack", "rfgsm", model=armour_mlp, eps=0.1, alpha=0.0).generate(x, y).adversarial
    np.testing.assert_array_equal(fgsm, r0)
    r = registry.create("attack", "rfgsm", model=armour_mlp, eps=0.1).generate(x, y)
    assert not np.array_equal(r.adversarial, fgsm)
    assert r.norms.max() <= 0.1 * (1 + 1e-6)


def test_alpha_above_eps_is_rejected(armour_mlp):
    for name in ("rfgsm", "rfgm", "rllc"):
        with pytest.raises(ConfigError, match="alpha"):
            registry.create("attack", name, model=armour_mlp, eps=0.1, alpha=0.2)


# ------------------------------------------------------------------------------------------ least-likely class
def test_llc_finds_the_least_likely_class_itself(armour_mlp, digits_batch):
    x, y = digits_batch
    atk = registry.create("attack", "llc", model=armour_mlp, eps=0.1)
    ll = atk.least_likely(x)
    np.testing.assert_array_equal(ll, np.asarray(armour_mlp.logits(x)).argmin(1))
    assert np.all(ll != y)
    res = atk.generate(x, y)  # no target given: the attack chose it
    tfgsm = registry.create("attack", "fgsm", model=armour_mlp, eps=0.1).generate(x, y, target=ll)
    np.testing.assert_array_equal(res.adversarial, tfgsm.adversarial)
    assert (res.forward_calls, res.backward_calls) == (2, 1)
    # it moves towards the least-likely class: that class's score rises
    p0 = np.asarray(armour_mlp.probabilities(x))[np.arange(len(x)), ll]
    p1 = np.asarray(armour_mlp.probabilities(res.adversarial))[np.arange(len(x)), ll]
    assert np.mean(p1 > p0) > 0.9


def test_llc_is_untargeted(armour_mlp, digits_batch):
    x, y = digits_batch
    with pytest.raises(ConfigError, match="untargeted"):
        registry.create("attack", "llc", model=armour_mlp).generate(x, y, target=y)


def test_rllc_zero_alpha_is_llc_and_uses_the_clean_least_likely_class(armour_mlp, digits_batch):
    x, y = digits_batch
    a = registry.create("attack", "llc", model=armour_mlp, eps=0.1).generate(x, y).adversarial
    b = registry.create("attack", "rllc", model=armour_mlp, eps=0.1, alpha=0.0).generate(x, y).adversarial
    np.testing.assert_array_equal(a, b)
    r = registry.create("attack", "rllc", model=armour_mlp, eps=0.1, seed=1).generate(x, y)
    assert not np.array_equal(r.adversarial, a) and r.norms.max() <= 0.1 * (1 + 1e-6)


@pytest.mark.parametrize("name,norm", [("fgsm", "l2"), ("fgm", "linf"), ("rfgsm", "l1"), ("rfgm", "linf"),
                                       ("llc", "l1")])
def test_unsupported_norm_is_a_config_error(armour_mlp, name, norm):
    with pytest.raises(ConfigError, match="not supported"):
        registry.create("attack", name, model=armour_mlp, norm=norm)
