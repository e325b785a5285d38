"""``evaluate_robustness``: the point-wise worst case, budgets, minimum-norm read-off, and every reliability
warning firing on a constructed case (and staying quiet on a sound evaluation).

The model is the conformance kit's pure-numpy softmax regression (exact gradients, no compilation), and the
constructed attacks are registered in-process, as a notebook would.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault("ARMOUR_PLUGINS_STRICT", "1")
os.environ.setdefault("ARMOUR_PROGRESS", "0")

from armour_core import hookimpl, registry  # noqa: E402
from armour_core.api.attack import Attack  # noqa: E402
from armour_core.errors import ConfigError, InvalidInputError  # noqa: E402
from armour_core.specs import AttackSpec, PluginSpec  # noqa: E402
from armour_core.testing.models import SoftmaxRegression  # noqa: E402
from armour_plugins_attacks.evaluation import evaluate_robustness  # noqa: E402

EPS = [0.05, 0.1, 0.2]


class _Null(Attack):
    """Never moves: a white-box attack whose gradients are useless."""

    needs_gradients = False

    def _generate(self, x, y, target):
        return x


class _SignStep(Attack):
    """FGSM (by its gradient) — registered as black-box so it can out-do the null white-box attack."""

    def _generate(self, x, y, target):
        _, g = self.model.loss_gradient(x, y)
        return x + self.config.eps * np.sign(g)


class _GivesUp(Attack):
    """FGSM for small budgets, nothing above 0.15: robust accuracy rises with eps."""

    def _generate(self, x, y, target):
        if self.config.eps > 0.15:
            return x
        _, g = self.model.loss_gradient(x, y)
        return x + self.config.eps * np.sign(g)


class _Unseeded(Attack):
    """Ignores its seed (draws OS entropy): not reproducible."""

    needs_gradients = False

    def _generate(self, x, y, target):
        return x + np.random.default_rng().uniform(-self.config.eps, self.config.eps, x.shape)


class _MinNorm(Attack):
    """Minimum-norm L∞: the smallest step on a grid along the gradient sign that flips the label."""

    minimum_norm = True

    def _generate(self, x, y, target):
        _, g = self.model.loss_gradient(x, y)
        out = x.copy()
        done = np.zeros(len(x), bool)
        for t in np.linspace(0.01, 0.3, 30):
            cand = np.clip(x + t * np.sign(g), 0, 1)
            flip = (self.model.predict(cand) != y) & ~done
            out[flip] = cand[flip]
            done |= flip
        return out


class _Plugin:
    @hookimpl
    def armour_attacks(self):
        def rec(name, cls, threat="white_box", minimum=False):
            return PluginSpec(name=f"evaltest.{name}", kind="attack", target=cls, summary=f"test attack {name}",
                              facet=AttackSpec(norms=("linf",), threat_model=threat, minimum_norm=minimum))

        yield rec("null", _Null)
        yield rec("sign_step_bb", _SignStep, threat="black_box")
        yield rec("gives_up", _GivesUp)
        yield rec("unseeded", _Unseeded)
        yield rec("min_norm", _MinNorm, minimum=True)


@pytest.fixture(scope="module", autouse=True)
def test_attacks():
    registry.register(_Plugin(), name="evaltest")
    yield
    registry.reset()


@pytest.fixture(scope="module")
def data(armour_digits):
    return armour_digits.x_test[:120], armour_digits.y_test[:120]


def kinds(rep):
    return sorted({w.kind for w in rep.warnings})


def test_sound_evaluation_has_no_warnings_and_worst_case_is_pointwise(armour_softmax, data):
    x, y = data
    rep = evaluate_robustness(armour_softmax, x, y, attacks=["fgsm", ("evaltest.min_norm", {})], eps=EPS)
    assert rep.warnings == [], [w.message for w in rep.warnings]
    for i in range(len(EPS)):
        assert rep.worst_case[i] <= min(acc[i] for acc in rep.robust_accuracy.values()) + 1e-12
    assert np.all(np.diff(rep.worst_case) <= 0)
    assert rep.robust_mask.shape == (3, len(x)) and rep.worst_case == [float(m.mean()) for m in rep.robust_mask]
    # budgets: FGSM is one forward+backward pass per batch and eps; the min-norm attack ran once
    assert rep.budget["fgsm"]["backward_calls"] == 3 and rep.budget["fgsm"]["queries"] == 3 * len(x)
    assert rep.budget["evaltest.min_norm"]["backward_calls"] == 1
    assert rep.clean_accuracy >= rep.worst_case[0]
    d = rep.to_dict()
    assert set(d["robust_accuracy"]) == {"fgsm", "evaltest.min_norm"} and len(d["runs"]) == 6
    assert len(rep.examples["adversarial"]) == 3 and rep.examples["adversarial"][0].shape == (8, *x.shape[1:])


def test_minimum_norm_read_off_matches_norms(armour_softmax, data):
    """A min-norm point counts as broken at eps exactly when its L∞ perturbation is ≤ eps (up to float32
    rounding of x + δ: a relative 1e-6)."""
    x, y = data
    rep = evaluate_robustness(armour_softmax, x, y, attacks=["evaltest.min_norm"], eps=EPS, check_determinism=False)
    res = registry.create("attack", "evaltest.min_norm", model=armour_softmax, eps=None).generate(x, y)
    correct = armour_softmax.predict(x) == y
    dist = np.abs(res.adversarial - x).reshape(len(x), -1).max(1)
    for e, acc in zip(EPS, rep.robust_accuracy["evaltest.min_norm"]):
        broken = res.success & (dist <= e * (1 + 1e-6))
        assert acc == pytest.approx(np.mean(correct & ~broken))


def test_black_box_beating_white_box_is_flagged(armour_softmax, data):
    x, y = data
    rep = evaluate_robustness(armour_softmax, x, y, attacks=["evaltest.null", "evaltest.sign_step_bb"], eps=EPS)
    flagged = [w for w in rep.warnings if w.kind == "black_box_beats_white_box"]
    assert flagged and all(w.attack == "evaltest.sign_step_bb" and w.count > 0 for w in flagged)
    assert rep.threat_models == {"evaltest.null": "white_box", "evaltest.sign_step_bb": "black_box"}


def test_non_monotone_eps_is_flagged(armour_softmax, data):
    x, y = data
    rep = evaluate_robustness(armour_softmax, x, y, attacks=["evaltest.gives_up"], eps=EPS)
    w = [w for w in rep.warnings if w.kind == "not_monotone_in_eps"]
    assert {v.attack for v in w} == {"evaltest.gives_up", "worst case"} and all(v.eps == 0.2 for v in w)


def test_non_deterministic_attack_and_model_are_flagged(armour_softmax, data):
    x, y = data
    rep = evaluate_robustness(armour_softmax, x, y, attacks=["fgsm", "evaltest.unseeded"], eps=[0.3])
    attacks = {w.attack for w in rep.warnings if w.kind == "non_deterministic"}
    assert attacks == {"evaltest.unseeded"}

    class Noisy(SoftmaxRegression):
        def _logits(self, x):
            z = super()._logits(x)
            return z + np.random.default_rng().normal(0, 1e-3, z.shape).astype(np.float32)

    noisy = Noisy(armour_softmax.W, armour_softmax.b, input_shape=armour_softmax.input_shape)
    rep = evaluate_robustness(noisy, x, y, attacks=["fgsm"], eps=[0.1])
    assert any(w.kind == "non_deterministic" and w.attack is None for w in rep.warnings)


def test_vanishing_gradients_are_flagged(armour_softmax, data):
    x, y = data

    class Masked(SoftmaxRegression):
        """A non-differentiable preprocessing in front of the model: zero input gradients."""

        def _loss_gradient(self, x, y, loss):
            values, g = super()._loss_gradient(x, y, loss)
            return values, np.zeros_like(g)

    masked = Masked(armour_softmax.W, armour_softmax.b, input_shape=armour_softmax.input_shape)
    rep = evaluate_robustness(masked, x, y, attacks=["fgsm"], eps=[0.1])
    w = [w for w in rep.warnings if w.kind == "vanishing_gradients"]
    assert w and w[0].count == len(x)
    assert rep.robust_accuracy["fgsm"][0] == pytest.approx(rep.clean_accuracy)  # the attack was blind


def test_bad_arguments(armour_softmax, data):
    x, y = data
    with pytest.raises(InvalidInputError, match="eps"):
        evaluate_robustness(armour_softmax, x, y, eps=[-0.1])
    with pytest.raises(InvalidInputError, match="eps"):
        evaluate_robustness(armour_softmax, x, y, eps=[])
    with pytest.raises(InvalidInputError, match="eps"):
        evaluate_robustness(armour_softmax, x, y, attacks=[("fgsm", {"eps": 0.1})])
    with pytest.raises(InvalidInputError, match="attacks"):
        evaluate_robustness(armour_softmax, x, y, attacks=[42])
    with pytest.raises(ConfigError, match="norm"):
        evaluate_robustness(armour_softmax, x, y, attacks=["fgsm"], norm="l2")
    with pytest.raises(InvalidInputError, match="norm"):
        evaluate_robustness(armour_softmax, x, y, norm="l3")
    with pytest.raises(InvalidInputError, match="y"):
        evaluate_robustness(armour_softmax, x, y[:5])
    with pytest.raises(KeyError):
        evaluate_robustness(armour_softmax, x, y, attacks=["no_such_attack"])


def test_on_the_default_cnn_with_pgd(armour_lenet, armour_digits):
    """The MindSpore path end to end: compiled PGD is at least as strong as FGSM point-wise in aggregate."""
    x, y = armour_digits.x_test[:96], armour_digits.y_test[:96]
    rep = evaluate_robustness(armour_lenet, x, y, attacks=["fgsm", ("pgd", {"steps": 10})], eps=[0.1, 0.2],
                              determinism_samples=8)
    assert rep.robust_accuracy["pgd(steps=10)"][0] <= rep.robust_accuracy["fgsm"][0] + 0.02
    assert rep.worst_case[1] <= rep.worst_case[0]
    assert not [w for w in rep.warnings if w.kind in ("non_deterministic", "vanishing_gradients")]


def test_autoattack_sharded_over_examples_equals_the_whole_run(armour_softmax, data):
    """Every AutoAttack member draws per batch from stream first_batch + i: shards of whole batches (here
    run as tasks on the local executor) merge into the unsharded run's figures exactly."""
    x, y = data[0][:24], data[1][:24]
    kw = dict(attacks=[("autoattack", {"steps": 3, "queries": 30, "target_classes": 2})], eps=[0.05, 0.1],
              batch_size=8, check_determinism=False)
    whole = evaluate_robustness(armour_softmax, x, y, **kw)
    sharded = evaluate_robustness(armour_softmax, x, y, **kw, executor="local", shard_size=8)
    assert sharded.robust_accuracy == whole.robust_accuracy and sharded.worst_case == whole.worst_case
    assert np.array_equal(sharded.robust_mask, whole.robust_mask)
    assert all(np.array_equal(a, b) for a, b in zip(sharded.examples["adversarial"], whole.examples["adversarial"]))
    assert whole.worst_case[-1] < whole.clean_accuracy  # AutoAttack broke points
    with pytest.raises(InvalidInputError, match="shard_size: only used with executor="):
        evaluate_robustness(armour_softmax, x, y, **kw, shard_size=8)
