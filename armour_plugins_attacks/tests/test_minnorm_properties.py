"""Properties the minimum-norm attacks and the AutoAttack family must satisfy (beyond the contract kit)."""

from __future__ import annotations

import numpy as np
import pytest

from armour_core import registry
from armour_core.errors import ConfigError, InvalidInputError


@pytest.fixture(scope="module")
def batch(armour_mlp, armour_digits):
    """32 test digits the MLP classifies correctly."""
    x, y = armour_digits.x_test[:80], armour_digits.y_test[:80]
    ok = armour_mlp.predict(x) == y
    return x[ok][:32], y[ok][:32]


def _make(name, model, **config):
    return registry.create("attack", name, model=model, **config)


# ------------------------------------------------------------------------------ DeepFool
def test_deepfool_linf_textbook_step_succeeds(armour_mlp, batch):
    """MindArmour divides the L∞ step by ||w||₁ twice and fools 0 %; the textbook step fools > 90 %."""
    x, y = batch
    res = _make("deepfool", armour_mlp, norm="linf").generate(x, y)
    assert res.success_rate > 0.9
    assert np.all(res.norms < 0.5)


@pytest.mark.parametrize("norm", ["l2", "linf"])
def test_deepfool_norm_does_not_rise_with_iterations(armour_mlp, batch, norm):
    """A sample fooled within k iterations keeps its point when more iterations are allowed."""
    x, y = batch
    short = _make("deepfool", armour_mlp, norm=norm, steps=2).generate(x, y)
    long = _make("deepfool", armour_mlp, norm=norm, steps=20).generate(x, y)
    both = short.success & long.success
    assert long.success.sum() >= short.success.sum()
    assert np.all(long.norms[both] <= short.norms[both] + 1e-6)
    assert long.success_rate > 0.9


def test_deepfool_counts_one_backward_pass_per_iteration(armour_mlp, batch):
    x, y = batch
    res = _make("deepfool", armour_mlp, steps=3).generate(x, y)
    assert 1 <= res.backward_calls <= 3  # all classes of all samples in one pass per iteration


# ------------------------------------------------------------------------------ C&W
def test_cw_norm_falls_with_search_steps_and_beats_fgm(armour_mlp, batch):
    x, y = batch
    cfg = dict(steps=40, initial_const=1.0, learning_rate=0.05, chunk=5)
    runs = [_make("cw", armour_mlp, binary_search_steps=k, **cfg).generate(x, y) for k in (1, 3)]
    both = runs[0].success & runs[1].success
    assert runs[1].success.sum() >= runs[0].success.sum()
    assert np.all(runs[1].norms[both] <= runs[0].norms[both] + 1e-6)  # best-so-far over search rounds
    cw = runs[1]
    assert cw.success_rate >= 0.8
    assert cw.backward_calls == cw.forward_calls <= 3 * 40  # one backward pass per Adam iteration
    # FGM at the smallest eps (of a grid) reaching C&W's success rate has a larger median L2
    if "fgm" not in registry.names("attack"):
        pytest.skip("fgm not registered yet")
    for eps in np.linspace(0.25, 4.0, 16):
        fgm = _make("fgm", armour_mlp, eps=float(eps)).generate(x, y)
        if fgm.success_rate >= cw.success_rate:
            break
    assert np.median(cw.norms[cw.success]) < np.median(fgm.norms[fgm.success])


def test_cw_targeted_hits_target(armour_mlp, batch):
    x, y = batch
    t = (y + 3) % 10
    res = _make("cw", armour_mlp, binary_search_steps=3, steps=40, initial_const=1.0,
                learning_rate=0.1, chunk=5).generate(x, y, target=t)
    assert np.mean(res.predictions == t) >= 0.8


# ------------------------------------------------------------------------------ FAB
@pytest.mark.parametrize("norm", ["linf", "l2"])
def test_fab_adversarial_and_norm_falls_with_steps(armour_mlp, batch, norm):
    x, y = batch
    runs = [_make("fab", armour_mlp, norm=norm, steps=k).generate(x, y) for k in (2, 10)]
    both = runs[0].success & runs[1].success
    assert runs[1].success_rate > 0.9
    assert np.all(runs[1].norms[both] <= runs[0].norms[both] + 1e-6)
    assert np.all(runs[1].predictions[runs[1].success] != y[runs[1].success])


def test_fab_targeted_hits_target(armour_mlp, batch):
    x, y = batch
    t = (y + 1) % 10
    res = _make("fab", armour_mlp, steps=10).generate(x, y, target=t)
    assert np.mean(res.predictions == t) >= 0.8


def test_hyperplane_projection_is_feasible_and_minimal():
    """The exact box-constrained projection agrees with a generic constrained solver (SLSQP)."""
    from scipy.optimize import minimize

    from armour_plugins_attacks.minnorm.projection import project_onto_hyperplane

    rng = np.random.default_rng(0)
    w = rng.normal(size=(12, 5))
    x = rng.uniform(0, 1, size=(12, 5))
    r = rng.normal(scale=0.3, size=12)
    for norm in ("l2", "linf"):
        d = project_onto_hyperplane(w, r, -x, 1 - x, norm)
        assert np.all((x + d >= -1e-12) & (x + d <= 1 + 1e-12))
        for i in range(12):
            reach = w[i] @ d[i]
            box = [(-x[i, j], 1 - x[i, j]) for j in range(5)]
            if abs(reach - r[i]) > 1e-9:  # unreachable: the box corner gets as close as possible
                corner = np.where(w[i] * np.sign(r[i]) > 0, np.array(box)[:, 1], np.array(box)[:, 0])
                assert abs(w[i] @ corner - reach) < 1e-9
                continue
            if norm == "l2":
                ref = minimize(lambda v: v @ v, np.zeros(5), method="SLSQP", bounds=box,
                               constraints=[{"type": "eq", "fun": lambda v, i=i: w[i] @ v - r[i]}])
                assert d[i] @ d[i] <= ref.fun + 1e-6
            else:  # min t s.t. |v_j| <= t, w·v = r, box: a linear programme over (v, t)
                from scipy.optimize import linprog

                c = np.r_[np.zeros(5), 1.0]
                a_ub = np.r_[np.c_[np.eye(5), -np.ones(5)], np.c_[-np.eye(5), -np.ones(5)]]
                lp = linprog(c, A_ub=a_ub, b_ub=np.zeros(10), A_eq=np.r_[w[i], 0.0][None], b_eq=[r[i]],
                             bounds=box + [(0, None)])
                assert np.abs(d[i]).max() <= lp.fun + 1e-7


# ------------------------------------------------------------------------------ AutoAttack family
def test_autoattack_worst_case_not_above_any_member(armour_mlp, batch):
    x, y = batch
    aa = _make("autoattack", armour_mlp, eps=0.06, steps=5, square_max_queries=30, target_classes=2)
    res = aa.generate(x, y)
    robust = 1 - res.success_rate
    for label, member in aa.members():
        alone = 1 - member.generate(x, y).success_rate
        assert robust <= alone + 1e-12, label
    assert [m["attack"] for m in aa.last_report["members"]][:1] == ["apgd-ce"]


def test_autoattack_versions(armour_mlp, batch):
    x, y = batch
    plus = _make("autoattack", armour_mlp, version="plus").members()
    assert [label for label, _ in plus] == ["apgd-ce", "apgd-dlr", "fab", "square", "apgd-t", "fab-t"]
    assert all(m.config.restarts == 5 for label, m in plus[:4])
    rand = _make("autoattack", armour_mlp, version="rand", eps=0.05, steps=2, eot_samples=3)
    assert [m.config.eot_samples for _, m in rand.members()] == [3, 3]
    res = rand.generate(x[:8], y[:8])
    # APGD-CE on every point: (1 start + 2 steps) x 3 gradient samples; APGD-DLR again if points survive
    assert res.backward_calls in (9, 18)


def test_apgd_at_least_as_strong_as_pgd(armour_mlp, batch):
    """At equal budget (10 steps, same ε) APGD breaks at least as many points as PGD."""
    x, y = batch
    apgd = _make("apgd", armour_mlp, eps=0.05, steps=10).generate(x, y)
    if "pgd" in registry.names("attack"):
        pgd = _make("pgd", armour_mlp, eps=0.05, steps=10).generate(x, y)
        strength = pgd.success_rate
    else:  # PGD with the usual eps/4 step, written here: the same budget of 10 gradient steps
        xa = x.copy()
        for _ in range(10):
            _, g = armour_mlp.loss_gradient(xa, y)
            xa = np.clip(np.clip(xa + 0.0125 * np.sign(g), x - 0.05, x + 0.05), 0, 1)
        strength = np.mean(armour_mlp.predict(xa) != y)
    assert apgd.success_rate >= strength
    assert apgd.backward_calls == 11


def test_apgd_checkpoints_follow_the_paper():
    from armour_plugins_attacks.autoattack.apgd import checkpoints

    assert checkpoints(100) == [0, 22, 41, 57, 70, 80, 87, 93, 99]


def test_apgd_targeted_hits_target(armour_mlp, batch):
    x, y = batch
    t = (y + 1) % 10
    res = _make("apgd", armour_mlp, eps=0.3, steps=10, loss="dlr").generate(x, y, target=t)
    assert np.mean(res.predictions == t) >= 0.8


def test_square_budget_bounds_and_flat_features(armour_softmax, armour_digits):
    x = armour_digits.x_test[:24].reshape(24, -1)
    y = armour_digits.y_test[:24]
    from armour_core.testing.models import SoftmaxRegression

    flat_model = SoftmaxRegression(armour_softmax.W, armour_softmax.b, input_shape=(64,))
    for norm, eps in (("linf", 0.2), ("l2", 1.5)):
        res = _make("square", flat_model, eps=eps, norm=norm, max_queries=50).generate(x, y)
        assert res.queries <= 24 * 50
        assert res.adversarial.min() >= 0.0 and res.adversarial.max() <= 1.0
        assert np.all(res.norms <= eps * (1 + 1e-6))
        assert res.success_rate > 0.3
        assert res.backward_calls == 0


def test_square_charges_the_query_oracle_per_sample(armour_mlp, batch):
    """Square runs on the black-box oracle: per-sample charges sum to result.queries, none over budget."""
    x, y = batch
    atk = _make("square", armour_mlp, eps=0.05, max_queries=20, seed=0)
    res = atk.generate(x, y)
    assert atk.queries_per_sample.sum() == res.queries
    assert atk.queries_per_sample.max() <= 20
    assert res.forward_calls >= 1 and res.backward_calls == 0


def test_square_queries_is_a_deprecated_alias_of_max_queries(armour_mlp, batch):
    x, y = batch
    with pytest.warns(DeprecationWarning, match="max_queries"):
        old = _make("square", armour_mlp, eps=0.1, queries=15, seed=3)
    assert old.config.max_queries == 15
    new = _make("square", armour_mlp, eps=0.1, max_queries=15, seed=3)
    np.testing.assert_array_equal(old.generate(x, y).adversarial, new.generate(x, y).adversarial)
    with pytest.raises(ConfigError, match="give max_queries= only"):
        _make("square", armour_mlp, queries=5, max_queries=5)


def test_autoattack_queries_is_a_deprecated_alias_of_square_max_queries(armour_mlp):
    """The budget is the Square member's, not the ensemble's (APGD and FAB query too): named so."""
    with pytest.warns(DeprecationWarning, match="AutoAttack: queries= is deprecated, use square_max_queries="):
        old = _make("autoattack", armour_mlp, eps=0.1, queries=40)
    assert old.config.square_max_queries == 40 and dict(old.members())["square"].config.max_queries == 40
    with pytest.raises(ConfigError, match="give square_max_queries= only"):
        _make("autoattack", armour_mlp, queries=5, square_max_queries=5)


def test_square_targeted(armour_mlp, batch):
    x, y = batch
    t = (y + 1) % 10
    res = _make("square", armour_mlp, eps=0.3, max_queries=200).generate(x, y, target=t)
    assert np.mean(res.predictions == t) >= 0.8


# ------------------------------------------------------------------------------ JSMA, L-BFGS
def test_jsma_changes_at_most_gamma_d_features_and_hits_target(armour_mlp, batch):
    x, y = batch
    t = (y + 1) % 10
    res = _make("jsma", armour_mlp, gamma=0.3).generate(x, y, target=t)
    assert np.all(res.norms <= 0.3 * 64)
    assert np.mean(res.predictions == t) >= 0.7


def test_lbfgs_gradient_matches_finite_differences(armour_mlp, batch):
    x, y = batch
    x = x[:2].astype(np.float64)
    atk = _make("lbfgs", armour_mlp)
    t = (y[:2] + 1) % 10
    const = np.array([0.7, 3.0])
    rng = np.random.default_rng(0)
    point = np.clip(x + rng.uniform(-0.05, 0.05, x.shape), 0, 1).reshape(-1)
    _, grad = atk.objective(point, x.astype(np.float32), t, const)
    h = 1e-2  # float32 network: central differences with a step well above its rounding
    for i in rng.choice(point.size, 8, replace=False):
        e = np.zeros_like(point)
        e[i] = h
        fd = (atk.objective(point + e, x.astype(np.float32), t, const)[0]
              - atk.objective(point - e, x.astype(np.float32), t, const)[0]) / (2 * h)
        assert abs(fd - grad[i]) < 2e-2 * max(1.0, abs(grad[i]))


def test_lbfgs_targeted_hits_target(armour_mlp, batch):
    x, y = batch
    t = (y + 1) % 10
    res = _make("lbfgs", armour_mlp, search_steps=3, max_iterations=40).generate(x[:16], y[:16], target=t[:16])
    assert np.mean(res.predictions == t[:16]) >= 0.8


# ------------------------------------------------------------------------------ bad input
@pytest.mark.parametrize("name, bad", [
    ("deepfool", {"norm": "l1"}), ("deepfool", {"overshoot": -0.1}), ("cw", {"confidence": -1.0}),
    ("cw", {"learning_rate": 0.0}), ("apgd", {"loss": "hinge"}), ("apgd", {"rho": 1.5}),
    ("square", {"max_queries": 0}), ("square", {"p_init": 0.0}), ("autoattack", {"version": "fast"}),
    ("fab", {"alpha_max": 2.0}), ("jsma", {"theta": 0.0}), ("jsma", {"gamma": 1.5}),
    ("lbfgs", {"search_steps": 0}),
])
def test_bad_config_rejected(armour_mlp, name, bad):
    with pytest.raises(ConfigError):
        _make(name, armour_mlp, **bad)


def test_untargeted_attack_rejects_target(armour_mlp, batch):
    x, y = batch
    with pytest.raises(ConfigError):
        _make("deepfool", armour_mlp).generate(x, y, target=y)
    with pytest.raises(InvalidInputError):
        _make("cw", armour_mlp, steps=2, binary_search_steps=1).generate(x, y, target=y + 100)


def test_square_rejects_5d_inputs(armour_softmax):
    from armour_core.testing.models import SoftmaxRegression

    m = SoftmaxRegression(armour_softmax.W, armour_softmax.b, input_shape=(1, 1, 8, 8))
    with pytest.raises(InvalidInputError):
        _make("square", m, max_queries=5).generate(np.zeros((2, 1, 1, 8, 8), np.float32), np.zeros(2, int))


# ------------------------------------------------------------------------------ any Classifier
def test_gradient_attacks_work_on_a_numpy_classifier(armour_softmax, armour_digits):
    """Without a MindSpore graph the attacks fall back to the Classifier interface (and count its passes)."""
    x, y = armour_digits.x_test[:24], armour_digits.y_test[:24]
    ok = armour_softmax.predict(x) == y
    apgd = _make("apgd", armour_softmax, eps=0.3, steps=10).generate(x, y)
    assert apgd.success[ok].mean() > 0.9 and 1 <= apgd.backward_calls <= 11
    cw = _make("cw", armour_softmax, binary_search_steps=2, steps=20, initial_const=1.0,
               learning_rate=0.1).generate(x, y)
    assert cw.success[ok].mean() > 0.8 and cw.backward_calls == cw.forward_calls <= 40
    t = (y + 1) % 10
    apgd_t = _make("apgd", armour_softmax, eps=0.3, steps=10, loss="dlr").generate(x, y, target=t)
    assert np.mean(apgd_t.predictions == t) > 0.8
    aa = _make("autoattack", armour_softmax, eps=0.3, steps=5, square_max_queries=20, target_classes=2).generate(x, y)
    assert aa.success[ok].mean() >= apgd.success[ok].mean()
