"""Properties of the black-box attacks beyond the conformance kit: exact per-sample query accounting and
budgets, labels meaning true labels (HopSkipJump), flat feature vectors, other data ranges, batch
vectorisation, and algorithm-specific guarantees (HSJA distance falls with budget, pointwise L0-minimality)."""

from __future__ import annotations

import numpy as np
import pytest

from armour_core import registry
from armour_core.api.model import Classifier
from armour_core.errors import InvalidInputError
from armour_core.testing import check
from armour_core.api import batching

ALL = ["hsja", "nes", "genetic", "pso", "pointwise", "salt_and_pepper"]
SMALL = {
    "hsja": {"max_queries": 150},
    "nes": {"eps": 0.2, "max_queries": 150, "samples": 10},
    "genetic": {"eps": 0.2, "max_queries": 150},
    "pso": {"eps": 0.2, "max_queries": 150},
    "pointwise": {"max_queries": 150, "init_queries": 60},
    "salt_and_pepper": {"max_queries": 150, "steps": 40},
}
GENEROUS = {
    "hsja": {"max_queries": 1500},
    "nes": {"eps": 0.3, "max_queries": 2000, "samples": 20},
    "genetic": {"eps": 0.3, "max_queries": 3000},
    "pso": {"eps": 0.3, "max_queries": 3000},
    "pointwise": {"max_queries": 1500},
    "salt_and_pepper": {"max_queries": 1000},
}


class Wrapped(Classifier):
    """Delegates to another classifier, optionally rescaling inputs from ``bounds`` to the inner range and
    reshaping flat inputs; counts every row that reaches the network."""

    capabilities = frozenset({"forward"})

    def __init__(self, inner, *, bounds=None, input_shape=None):
        super().__init__()
        self.inner = inner
        self.bounds = tuple(bounds) if bounds is not None else inner.bounds
        self.input_shape = tuple(input_shape) if input_shape is not None else inner.input_shape
        self.num_classes = inner.num_classes
        self.rows = 0

    def _logits(self, x):
        self.rows += len(x)
        lo, hi = self.bounds
        ilo, ihi = self.inner.bounds
        u = (np.asarray(x, np.float64) - lo) / (hi - lo) * (ihi - ilo) + ilo
        return self.inner._logits(u.reshape(len(x), *self.inner.input_shape).astype(np.float32))


@pytest.fixture(scope="module")
def data(armour_mlp, armour_digits):
    x, y = armour_digits.x_test[:120], armour_digits.y_test[:120]
    ok = armour_mlp.predict(x) == y
    return x[ok][:12], y[ok][:12]


@pytest.mark.parametrize("name", ALL)
def test_queries_counted_exactly_and_budget_honoured(name, armour_mlp, data, monkeypatch):
    x, y = data
    x, y = x[:6], y[:6]
    budget = SMALL[name]["max_queries"]
    padded = registry.create("attack", name, model=Wrapped(armour_mlp), seed=1, **SMALL[name])
    res_padded = padded.generate(x, y)
    monkeypatch.setattr(batching, "bucket", lambda n, **kw: n)  # no padding: every row sent is a real query
    model = Wrapped(armour_mlp)
    atk = registry.create("attack", name, model=model, seed=1, **SMALL[name])
    res = atk.generate(x, y)
    per_sample = atk.queries_per_sample
    check(res.queries == model.rows - len(x), f"{res.queries} reported, {model.rows - len(x)} rows evaluated "
                                              "(minus the base's success check)")
    check(per_sample.shape == (len(x),) and per_sample.sum() == res.queries)
    check(per_sample.max() <= budget, f"a sample used {per_sample.max()} > {budget} queries")
    check(res.queries > 0)
    # padding rows are neither counted nor change the result
    check(res_padded.queries == res.queries)
    check(np.array_equal(res_padded.adversarial, res.adversarial))


@pytest.mark.parametrize("budget", [1, 2, 7])
def test_tiny_budgets_never_exceeded(budget, armour_mlp, data):
    x, y = data
    for name in ALL:
        cfg = {**SMALL[name], "max_queries": budget}
        cfg.pop("init_queries", None)
        atk = registry.create("attack", name, model=armour_mlp, **cfg)
        res = atk.generate(x[:4], y[:4])
        check(atk.queries_per_sample.max() <= budget, f"{name}: {atk.queries_per_sample} > {budget}")
        check(res.queries <= 4 * budget)
        adv = res.adversarial
        check(adv.min() >= 0.0 and adv.max() <= 1.0)


def test_hsja_untargeted_labels_are_true_labels(armour_lenet, armour_digits):
    """MindArmour's HopSkipJump treats the given labels as targets and reports 100% success with zero
    perturbation. Here ``y`` are true labels: success means the prediction moved away from ``y``."""
    x, y = armour_digits.x_test[:40], armour_digits.y_test[:40]
    correct = armour_lenet.predict(x) == y
    x, y = x[correct][:10], y[correct][:10]
    res = registry.create("attack", "hsja", model=armour_lenet, max_queries=1500).generate(x, y)
    check(res.success_rate >= 0.9, f"success {res.success_rate}")
    check(np.all(res.norms[res.success] > 0), "success reported with zero perturbation on correct points")
    check(np.all(res.predictions[res.success] != y[res.success]))
    # the MindArmour reading (labels as targets) would ask for y itself: already satisfied at zero distance
    targeted = registry.create("attack", "hsja", model=armour_lenet, max_queries=300).generate(x, y, target=y)
    check(np.all(targeted.norms == 0) and targeted.success.all())


def test_hsja_targeted_with_starting_points(armour_mlp, armour_digits):
    x, y = armour_digits.x_test[:60], armour_digits.y_test[:60]
    x, y = x[:8], y[:8]
    target = (y + 3) % 10
    pool_x, pool_y = armour_digits.x_train, armour_mlp.predict(armour_digits.x_train)
    starts = np.stack([pool_x[np.flatnonzero(pool_y == t)[0]] for t in target])
    atk = registry.create("attack", "hsja", model=armour_mlp, max_queries=1000, seed=0)
    res = atk.generate(x, y, target=target, starting_points=starts)
    check(np.mean(res.predictions == target) >= 0.99)
    start_dist = np.sqrt(((starts - x) ** 2).reshape(len(x), -1).sum(1))
    check(np.all(res.norms[res.success] < start_dist[res.success]), "did not move towards the input")
    with pytest.raises(InvalidInputError):
        atk.generate(x, y, target=target, starting_points=starts[:3])


def test_hsja_distance_falls_with_budget(armour_mlp, data):
    x, y = data
    norms = []
    for budget in (200, 800, 3000):
        res = registry.create("attack", "hsja", model=armour_mlp, max_queries=budget, seed=0).generate(x, y)
        check(res.success.all())
        norms.append(np.median(res.norms))
    check(norms[0] > norms[1] > norms[2], f"median L2 not decreasing with the budget: {norms}")


@pytest.mark.parametrize("name", ALL)
def test_flat_feature_vectors(name, armour_mlp, armour_digits):
    """A digits MLP on 64-feature input (N, 64), with data in [0, 255]: success, and every output inside
    the bounds (MindArmour's black-box attacks returned values down to -4.1e9)."""
    x, y = armour_digits.x_test[:60], armour_digits.y_test[:60]
    model = Wrapped(armour_mlp, bounds=(0.0, 255.0), input_shape=(64,))
    xf = (x.reshape(len(x), 64) * 255.0).astype(np.float32)
    ok = model.predict(xf) == y
    xf, y = xf[ok][:10], y[ok][:10]
    cfg = dict(GENEROUS[name])
    if "eps" in cfg:
        cfg["eps"] = cfg["eps"] * 255.0
    res = registry.create("attack", name, model=model, **cfg).generate(xf, y)
    adv = res.adversarial
    check(adv.shape == xf.shape and adv.dtype == xf.dtype)
    check(adv.min() >= 0.0 and adv.max() <= 255.0, f"outside [0, 255]: [{adv.min()}, {adv.max()}]")
    check(res.success_rate >= 0.8, f"{name}: success {res.success_rate} on flat vectors")


def test_already_adversarial_inputs_are_returned_unchanged(armour_mlp, armour_digits):
    x, y = armour_digits.x_test[:200], armour_digits.y_test[:200]
    wrong = armour_mlp.predict(x) != y
    assert wrong.any()
    xw, yw = x[wrong][:3], y[wrong][:3]
    for name in ALL:
        res = registry.create("attack", name, model=armour_mlp, **SMALL[name]).generate(xw, yw)
        check(res.success.all() and np.all(res.norms == 0), f"{name} moved an already misclassified input")


def test_population_of_the_whole_batch_in_one_call(armour_mlp, data):
    """Vectorised over the batch: the number of forward calls does not grow with the batch size."""
    x, y = data
    res = registry.create("attack", "nes", model=armour_mlp, eps=0.05, max_queries=210, samples=10,
                          seed=0).generate(x, y)
    check(res.forward_calls <= 210 // 21, f"NES made {res.forward_calls} calls for at most 10 iterations")
    check(res.queries > 10 * res.forward_calls, "each call should carry the populations of many samples")


def test_pointwise_result_is_locally_l0_minimal(armour_mlp, data):
    """After the reset phase no single perturbed coordinate can go back to its original value."""
    x, y = data
    x, y = x[:6], y[:6]
    res = registry.create("attack", "pointwise", model=armour_mlp, max_queries=5000, refine=False,
                          seed=0).generate(x, y)
    check(res.success.all())
    adv = res.adversarial.reshape(len(x), -1)
    flat = x.reshape(len(x), -1)
    for i in range(len(x)):
        coords = np.flatnonzero(adv[i] != flat[i])
        trials = np.repeat(adv[i][None], len(coords), axis=0)
        trials[np.arange(len(coords)), coords] = flat[i, coords]
        pred = armour_mlp.predict(trials.reshape(len(coords), *x.shape[1:]))
        check(np.all(pred == y[i]), f"sample {i}: a coordinate could still be reset")
    # refinement keeps the L0 count and shrinks the L2 size
    refined = registry.create("attack", "pointwise", model=armour_mlp, max_queries=5000, seed=0).generate(x, y)
    l2 = lambda r: np.sqrt(((r.adversarial - x) ** 2).reshape(len(x), -1).sum(1))  # noqa: E731
    check(np.all(refined.norms == res.norms))
    check(np.all(l2(refined) <= l2(res) + 1e-6) and np.any(l2(refined) < l2(res)))


def test_salt_and_pepper_uses_only_the_bounds(armour_mlp, data):
    x, y = data
    res = registry.create("attack", "salt_and_pepper", model=armour_mlp, max_queries=500).generate(x, y)
    changed = res.adversarial != x
    check(np.all(np.isin(res.adversarial[changed], [0.0, 1.0])), "noise values other than the bounds")


@pytest.mark.parametrize("name", ["genetic", "pso", "nes"])
def test_score_based_attacks_are_seeded(name, armour_mlp, data):
    x, y = data
    a = registry.create("attack", name, model=armour_mlp, seed=3, **SMALL[name]).generate(x, y)
    b = registry.create("attack", name, model=armour_mlp, seed=3, **SMALL[name]).generate(x, y)
    c = registry.create("attack", name, model=armour_mlp, seed=4, **SMALL[name]).generate(x, y)
    check(np.array_equal(a.adversarial, b.adversarial))
    check(not np.array_equal(a.adversarial, c.adversarial))
