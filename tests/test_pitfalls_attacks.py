"""Pitfalls of MindArmour's attacks (``/work/shared/MINDARMOUR_PITFALLS.md``, section "Attacks"), one test each.

Every test runs through the registry on the default digits MLP (or a numpy wrapper of it), with small budgets
and fixed seeds; the tests that iterate over ``registry.names("attack")`` fail when a new attack is registered
without a small configuration here, so no attack escapes them.
"""

from __future__ import annotations

import numpy as np
import pytest

from armour_core import registry
from armour_core.api.attack import AttackResult
from armour_core.api.model import Classifier
from armour_core.api.norms import lp_norm
from armour_core.errors import ConfigError, InvalidInputError
from armour_core.testing.markers import skip_module_unless_dists

skip_module_unless_dists("attacks")

#: A small, fast configuration of every registered attack (budgets only; defaults otherwise). The iterative
#: gradient attacks run their loop eagerly here: the properties checked do not depend on the compile mode
#: (``armour_plugins_attacks/tests/test_gradient_iterative.py::test_compile_modes_agree``) and graph
#: compilation would dominate these tests' time.
SMALL: dict[str, dict] = {
    "apgd": dict(steps=5), "apgd_t": dict(steps=5, target_classes=1),
    "autoattack": dict(steps=5, square_max_queries=50, target_classes=1, eot_samples=1),
    "bim": dict(steps=3, compile="eager"), "cw": dict(steps=10, binary_search_steps=1, chunk=5),
    "deepfool": dict(steps=5), "difgsm": dict(steps=3, compile="eager"), "fab": dict(steps=5),
    "fab_t": dict(steps=5, target_classes=1), "fgm": {}, "fgsm": {},
    "genetic": dict(max_queries=60), "hsja": dict(max_queries=100), "jsma": {},
    "lbfgs": dict(search_steps=1, max_iterations=10), "llc": {}, "mdifgsm": dict(steps=3, compile="eager"),
    "mim": dict(steps=3, compile="eager"),
    "nes": dict(max_queries=100, samples=10), "pgd": dict(steps=3, compile="eager"),
    "pointwise": dict(max_queries=100, init_queries=40),
    "pso": dict(max_queries=60), "rfgm": {}, "rfgsm": {}, "rllc": {},
    "salt_and_pepper": dict(max_queries=60, steps=20), "square": dict(queries=50),
    "vmifgsm": dict(steps=3, neighbours=3, compile="eager"),
}


def _facet(name):
    return registry.spec("attack", name).facet


@pytest.fixture(scope="module")
def batch(armour_mlp, armour_digits):
    """Eight test digits the MLP classifies correctly (so every success needs a real perturbation)."""
    x, y = armour_digits.x_test[:60], armour_digits.y_test[:60]
    ok = armour_mlp.predict(x) == y
    return x[ok][:8], y[ok][:8]


@pytest.fixture(scope="module")
def targets(armour_mlp, batch):
    """A target per sample: the model's second most likely class (reachable, and never the true label)."""
    z = armour_mlp.logits(batch[0])
    return np.argsort(-z, axis=1)[:, 1].astype(np.int64)


def test_every_registered_attack_has_a_small_configuration():
    """Guard: the "every attack" tests below iterate over the registry; a new attack must be listed here."""
    assert set(registry.names("attack")) <= set(SMALL), sorted(set(registry.names("attack")) - set(SMALL))


# ------------------------------------------------------------------------- one label format, one return type
@pytest.mark.parametrize("name", sorted(SMALL))
def test_one_label_format_one_return_type_and_labels_mean_true_labels(name, armour_mlp, batch, targets):
    """Pitfalls: "One label format (integer class indices) and one return type for every attack." and
    "Labels mean the same thing in every attack: true labels for untargeted attacks, an explicit `target`
    argument for targeted ones (MindArmour's HopSkipJump treats given labels as targets and reports 100%
    success with zero perturbation)."

    For every registered attack: integer labels in, an ``AttackResult`` out whose ``adversarial`` has the
    input's array type (Tensor in, Tensor out), one-hot labels are rejected, success means "prediction differs
    from the given true label" (or "equals the target"), and no success comes with a zero perturbation on
    inputs the model classifies correctly.
    """
    import mindspore as ms

    x, y = batch
    atk = registry.create("attack", name, model=armour_mlp, seed=0, **SMALL[name])
    with pytest.raises(InvalidInputError):
        atk.generate(x, np.eye(10, dtype=np.int64)[y])  # one-hot labels are not a second format
    res = atk.generate(ms.Tensor(x), ms.Tensor(y.astype(np.int32)))
    assert isinstance(res, AttackResult)
    assert isinstance(res.adversarial, ms.Tensor), type(res.adversarial)
    adv = res.adversarial.asnumpy()
    assert adv.shape == x.shape and adv.dtype == x.dtype
    pred = armour_mlp.predict(adv)
    np.testing.assert_array_equal(res.predictions, pred)
    np.testing.assert_array_equal(res.success, pred != y)  # y are true labels
    moved = lp_norm(adv.astype(np.float64) - x, "linf") > 0
    assert np.all(moved[res.success]), f"{name}: success reported with a zero perturbation"
    if _facet(name).targeted:
        t = registry.create("attack", name, model=armour_mlp, seed=0, **SMALL[name]).generate(x, y, target=targets)
        assert isinstance(t.adversarial, np.ndarray)  # numpy in, numpy out
        np.testing.assert_array_equal(t.success, armour_mlp.predict(t.adversarial) == targets)
    else:
        with pytest.raises(ConfigError):
            atk.generate(x, y, target=targets)


def test_hsja_given_labels_are_true_labels_not_targets(armour_mlp, batch):
    """Pitfall: "MindArmour's HopSkipJump treats given labels as targets and reports 100% success with zero
    perturbation". Given the true labels of correctly classified inputs, a success must move the input."""
    x, y = batch
    res = registry.create("attack", "hsja", model=armour_mlp, max_queries=300, seed=0).generate(x, y)
    assert res.success.any()
    assert np.all(res.norms[res.success] > 1e-3)
    assert np.all(armour_mlp.predict(res.adversarial)[res.success] != y[res.success])


# ------------------------------------------------------------------------- L2 / L1 balls
def _ball_attacks(norm):
    out = []
    for name in sorted(SMALL):
        if name in registry.names("attack") and norm in registry.get("attack", name).norms:
            out.append(name)
    return out


@pytest.mark.parametrize("norm,eps", [("l2", 0.6), ("l1", 3.0)])
def test_every_l2_l1_attack_returns_perturbations_inside_the_ball(norm, eps, armour_mlp, batch):
    """Pitfall: "PGD with the L2 norm must project onto the L2 ball (MindArmour clips each coordinate to ±ε:
    L2 = 2.0 for ε = 1.0). Same for every L2/L1 attack: the returned perturbation's norm is ≤ ε."

    Every registered attack supporting ``norm`` is run with ``eps``; the returned norms (recomputed here)
    are within ε up to float32 rounding.
    """
    x, y = batch
    x = (0.2 + 0.6 * x).astype(np.float32)  # away from the box: only the ball constrains
    names = _ball_attacks(norm)
    assert names
    for name in names:
        cfg = {k: v for k, v in SMALL[name].items()}
        res = registry.create("attack", name, model=armour_mlp, eps=eps, norm=norm, seed=0, **cfg).generate(x, y)
        d = lp_norm(np.asarray(res.adversarial, np.float64) - x, norm)
        assert d.max() <= eps * (1 + 1e-5), f"{name}: {norm} norm {d.max()} > eps {eps}"
        np.testing.assert_allclose(res.norms, d, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name,norm", [("pgd", "l2"), ("bim", "l2"), ("mim", "l2"), ("difgsm", "l2"),
                                       ("mdifgsm", "l2"), ("apgd", "l2"), ("pgd", "l1"), ("bim", "l1")])
def test_iterative_attacks_project_onto_the_true_ball_inside_their_loop(name, norm, armour_mlp, batch):
    """Pitfall: "PGD with the L2 norm must project onto the L2 ball (MindArmour clips each coordinate to ±ε)".

    The attack's own output (before the base class's safety projection) must already lie in the ball, and
    with large steps the L2 constraint is active without any coordinate pinned at ±ε (what coordinate clipping
    leaves behind)."""
    x, y = batch
    x = (0.2 + 0.6 * x).astype(np.float32)
    eps = 1.0 if norm == "l2" else 4.0
    extra = {"step_size": eps, "compile": "eager"} if name != "apgd" else {}
    atk = registry.create("attack", name, model=armour_mlp, eps=eps, norm=norm, steps=5, seed=0, **extra)
    raw = atk._generate(x, y, None)
    d = lp_norm(raw.astype(np.float64) - x, norm)
    assert d.max() <= eps * (1 + 1e-5), f"{name}: loop output {norm} norm {d.max()} > {eps}"
    if norm == "l2":
        assert np.median(d) > 0.99 * eps  # large steps: the ball constraint is active
        assert np.abs(raw - x).max() < 0.9 * eps  # no coordinate at ±eps


# ------------------------------------------------------------------------- random starts
@pytest.mark.parametrize("norm", ["linf", "l2"])
def test_pgd_random_start_differs_from_bim(norm, armour_mlp, batch):
    """Pitfall: "PGD has a random start (MindArmour's PGD is identical to BIM)." For L∞ and L2: PGD differs
    from BIM, depends on its seed, and equals BIM exactly when the random start is switched off."""
    x, y = batch
    eps = 0.1 if norm == "linf" else 1.0
    cfg = dict(eps=eps, norm=norm, steps=3, step_size=eps / 4, compile="eager")
    bim = registry.create("attack", "bim", model=armour_mlp, **cfg).generate(x, y).adversarial
    p0 = registry.create("attack", "pgd", model=armour_mlp, seed=0, **cfg).generate(x, y).adversarial
    p1 = registry.create("attack", "pgd", model=armour_mlp, seed=1, **cfg).generate(x, y).adversarial
    off = registry.create("attack", "pgd", model=armour_mlp, random_start=False, **cfg).generate(x, y).adversarial
    assert np.mean(p0 != bim) > 0.3 and np.mean(p0 != p1) > 0.3
    np.testing.assert_array_equal(off, bim)


def _cv_of_magnitudes(delta):
    """Per-sample coefficient of variation of |δ_i|: 0 for sign noise (every coordinate ±r), about 0.75 for
    a Gaussian direction (|N(0,1)| has std/mean = sqrt(π/2 − 1) ≈ 0.755)."""
    a = np.abs(delta.reshape(len(delta), -1).astype(np.float64))
    return a.std(axis=1) / a.mean(axis=1)


@pytest.mark.parametrize("name,cfg", [
    ("pgd", dict(norm="l2", eps=1.0, steps=1, step_size=1e-6, compile="eager")),
    ("rfgm", dict(norm="l2", eps=1.0, alpha=1.0)),
    ("rllc", dict(norm="l2", eps=1.0, alpha=1.0)),
])
def test_random_start_l2_attacks_draw_l2_noise_not_sign_noise(name, cfg, armour_mlp, batch):
    """Pitfall: "Random-start L2 attacks draw L2 noise, not `sign` noise."

    The configurations make the random part the whole perturbation (a negligible gradient step, or
    alpha = eps). Sign noise has |δ_i| constant across coordinates (coefficient of variation 0); an L2
    direction drawn from a Gaussian has CV ≈ 0.755 over 64 coordinates (sampling std ≈ 0.08)."""
    x, y = batch
    x = (0.25 + 0.5 * x).astype(np.float32)  # the box never clips the random start
    res = registry.create("attack", name, model=armour_mlp, seed=0, **cfg).generate(x, y)
    delta = np.asarray(res.adversarial, np.float64) - x
    assert np.all(lp_norm(delta, "l2") > 0)
    cv = _cv_of_magnitudes(delta)
    assert np.all(cv > 0.4), f"{name}: |delta| nearly constant across coordinates (sign noise?): {cv}"
    assert np.all(lp_norm(delta, "l2") <= 1.0 + 1e-5)


# ------------------------------------------------------------------------- DI-FGSM
def test_difgsm_really_applies_input_diversity_and_takes_steps_and_step_size(armour_mlp, batch):
    """Pitfall: "DI-FGSM / M-DI-FGSM really apply the random resize-and-pad input diversity (dead code in
    MindArmour), and step size and iteration count are parameters."

    With diversity probability 0 (and no momentum) DI-FGSM is exactly BIM; with probability 1 the gradients
    come from transformed inputs and the result differs. ``steps`` sets the number of backward passes and
    ``step_size`` changes the result. Same for M-DI-FGSM against MIM."""
    x, y = batch
    cfg = dict(eps=0.1, steps=3, step_size=0.02, seed=0, compile="eager")
    bim = registry.create("attack", "bim", model=armour_mlp, **cfg).generate(x, y)
    d0 = registry.create("attack", "difgsm", model=armour_mlp, diversity_prob=0.0, **cfg).generate(x, y)
    d1 = registry.create("attack", "difgsm", model=armour_mlp, diversity_prob=1.0, **cfg).generate(x, y)
    np.testing.assert_allclose(d0.adversarial, bim.adversarial, atol=1e-6)
    assert np.mean(np.abs(d1.adversarial - bim.adversarial) > 1e-6) > 0.2
    mim = registry.create("attack", "mim", model=armour_mlp, **cfg).generate(x, y)
    m0 = registry.create("attack", "mdifgsm", model=armour_mlp, diversity_prob=0.0, **cfg).generate(x, y)
    m1 = registry.create("attack", "mdifgsm", model=armour_mlp, diversity_prob=1.0, **cfg).generate(x, y)
    np.testing.assert_allclose(m0.adversarial, mim.adversarial, atol=1e-6)
    assert np.mean(np.abs(m1.adversarial - mim.adversarial) > 1e-6) > 0.2
    five = registry.create("attack", "difgsm", model=armour_mlp, diversity_prob=1.0,
                           **{**cfg, "steps": 5}).generate(x, y)
    assert (d1.backward_calls, five.backward_calls) == (3, 5)
    other = registry.create("attack", "difgsm", model=armour_mlp, diversity_prob=1.0,
                            **{**cfg, "step_size": 0.05}).generate(x, y)
    assert not np.allclose(other.adversarial, d1.adversarial)


# ------------------------------------------------------------------------- DeepFool, L-BFGS, LLC, C&W
def test_deepfool_linf_succeeds(armour_mlp, batch):
    """Pitfall: "DeepFool L∞ uses the textbook step (MindArmour divides by ‖w‖₁ twice and gets 0% success)."
    The textbook L∞ step fools almost every correctly classified digit with a small L∞ perturbation."""
    x, y = batch
    res = registry.create("attack", "deepfool", model=armour_mlp, norm="linf", steps=20).generate(x, y)
    assert res.success_rate >= 0.875
    assert np.all(res.norms[res.success] < 0.3)


def test_lbfgs_gradient_is_the_gradient_of_its_own_objective(armour_mlp, batch):
    """Pitfall: "L-BFGS returns the gradient of the objective it minimises (distance + c·loss)."

    The objective handed to scipy is Σ c_i·CE(f(x'_i), t_i) + ||x'_i − x_i||² (checked against the model's own
    CE), and central finite differences along random directions agree with the directional derivative of the
    gradient returned with it (h = 1e-2: the network runs in float32)."""
    x, y = batch
    x0 = x[:2]
    atk = registry.create("attack", "lbfgs", model=armour_mlp)
    t = (y[:2] + 1) % 10
    c = np.array([0.7, 3.0])
    rng = np.random.default_rng(0)
    point = np.clip(x0 + rng.uniform(-0.05, 0.05, x0.shape), 0, 1).astype(np.float64).reshape(-1)
    value, grad = atk.objective(point, x0, t, c)
    ce, _ = armour_mlp.loss_gradient(point.reshape(x0.shape).astype(np.float32), t)
    dist = float(((point - x0.reshape(-1).astype(np.float64)) ** 2).sum())
    assert value == pytest.approx(float((c * np.asarray(ce, np.float64)).sum()) + dist, rel=1e-5)
    h = 1e-2
    for _ in range(4):
        u = rng.normal(size=point.shape)
        u /= np.linalg.norm(u)
        fd = (atk.objective(point + h * u, x0, t, c)[0] - atk.objective(point - h * u, x0, t, c)[0]) / (2 * h)
        analytic = float(np.dot(grad, u))
        assert abs(fd - analytic) <= 2e-2 * max(1.0, abs(analytic)), (fd, analytic)


def test_llc_computes_the_least_likely_class_itself(armour_mlp, batch):
    """Pitfall: "The least-likely-class attack computes the least-likely class itself."

    LLC given only the true labels equals the targeted FGSM step towards argmin of the model's logits."""
    x, y = batch
    ll = np.argmin(armour_mlp.logits(x), axis=1)
    assert np.all(ll != y)
    llc = registry.create("attack", "llc", model=armour_mlp, eps=0.1).generate(x, y)
    fgsm = registry.create("attack", "fgsm", model=armour_mlp, eps=0.1).generate(x, y, target=ll)
    np.testing.assert_allclose(llc.adversarial, fgsm.adversarial, atol=1e-6)


def test_cw_one_backward_pass_per_iteration(armour_mlp, batch):
    """Pitfall: "C&W needs one backward pass of the margin loss per iteration, not a full Jacobian."

    With early abort off, 2 search rounds × 10 Adam iterations cost exactly 20 batch backward passes (a
    per-class Jacobian would cost 10 × that on 10 classes) and as many forward passes."""
    x, y = batch
    res = registry.create("attack", "cw", model=armour_mlp, steps=10, binary_search_steps=2, chunk=5,
                          abort_early=False).generate(x, y)
    assert res.backward_calls == 20
    assert res.forward_calls == 20


# ------------------------------------------------------------------------- black-box: bounds, flat vectors
class _Recorder(Classifier):
    """A black-box model on flat vectors in ``bounds`` (the digits MLP behind an affine map) that records the
    range of every row the attack queries."""

    capabilities = frozenset({"forward"})

    def __init__(self, inner, bounds):
        super().__init__()
        self.inner, self.bounds = inner, tuple(bounds)
        self.input_shape = (64,)
        self.num_classes = inner.num_classes
        self.lo, self.hi = np.inf, -np.inf

    def _logits(self, x):
        self.lo, self.hi = min(self.lo, float(x.min())), max(self.hi, float(x.max()))
        lo, hi = self.bounds
        u = ((np.asarray(x, np.float64) - lo) / (hi - lo)).reshape(len(x), 1, 8, 8).astype(np.float32)
        return self.inner._logits(u)


def _black_box():
    return [n for n in sorted(SMALL) if n in registry.names("attack") and _facet(n).threat_model == "black_box"]


@pytest.mark.parametrize("bounds", [(-1.0, 2.0), (0.0, 255.0)])
def test_every_black_box_attack_stays_in_bounds_on_flat_vectors(bounds, armour_mlp, batch):
    """Pitfall: "Black-box attacks (Genetic, PSO, every other) return inputs inside the bounds (MindArmour's
    returned values down to −4.1e9 for data in [0,1]); they work on flat feature vectors as well as images."

    Every black-box attack in the registry, on (N, 64) feature vectors with bounds other than [0, 1]: every
    *query* and every returned value lies in the bounds, and with a generous budget it succeeds."""
    x, y = batch
    lo, hi = bounds
    xf = (lo + x.reshape(len(x), 64) * (hi - lo)).astype(np.float32)
    names = _black_box()
    assert len(names) >= 6, names
    for name in names:
        model = _Recorder(armour_mlp, bounds)
        cfg = dict(SMALL[name])
        for key in ("max_queries", "queries"):
            if key in cfg:
                cfg[key] = cfg[key] * 10
        if registry.get("attack", name).Config is not None and "eps" in {
                f.name for f in __import__("attrs").fields(registry.get("attack", name).Config)}:
            if registry.get("attack", name)(model=model, **SMALL[name]).config.eps is not None:
                cfg["eps"] = 0.3 * (hi - lo)
        res = registry.create("attack", name, model=model, seed=0, **cfg).generate(xf, y)
        adv = np.asarray(res.adversarial)
        assert adv.shape == xf.shape
        assert adv.min() >= lo and adv.max() <= hi, f"{name}: returned [{adv.min()}, {adv.max()}]"
        assert model.lo >= lo and model.hi <= hi, f"{name}: queried [{model.lo}, {model.hi}] outside {bounds}"
        assert res.success_rate >= 0.5, f"{name}: success {res.success_rate} on flat vectors"
