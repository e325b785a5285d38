"""Iterative gradient attacks: projections, random starts, momentum, diverse inputs, variance tuning, the
compiled loop (modes agree, graphs cached, passes counted) and strength against FGSM."""

from __future__ import annotations

import numpy as np
import pytest

from armour_core import registry
from armour_core.api.norms import clip_to_ball_and_bounds, lp_norm
from armour_core.errors import ConfigError, InvalidInputError
from armour_core.api.batching import bucket
from armour_plugins_attacks.gradient import loop as _graph
from armour_plugins_attacks.gradient.steps import l1_box_step, sparse_count
from armour_plugins_attacks.gradient.diversity import apply, diversity_matrices, resize_pad_matrix


@pytest.fixture(scope="module")
def batch(armour_digits):
    return armour_digits.x_test[:32], armour_digits.y_test[:32]


def _raw(atk, x, y, target=None):
    """The attack's own output, before the base class projects it (what the loop itself produced)."""
    return atk._generate(x, y, target)


# ------------------------------------------------------------------------------------------ projections
def test_pgd_l2_projects_onto_the_l2_ball_not_coordinatewise(armour_mlp, batch):
    """MindArmour clips each coordinate to ±eps (an L2 norm of up to eps * sqrt(d)); PGD-L2 must rescale."""
    x, y = batch
    x = (0.25 + 0.5 * x).astype(np.float32)  # away from the bounds, so only the ball constrains
    atk = registry.create("attack", "pgd", model=armour_mlp, eps=1.0, norm="l2", steps=20, step_size=0.5)
    adv = _raw(atk, x, y)
    norms = lp_norm(adv.astype(np.float64) - x, "l2")
    assert norms.max() <= 1.0 + 1e-5
    assert np.median(norms) > 0.999  # big steps: the ball constraint is active
    assert np.abs(adv - x).max() < 1.0  # and no coordinate sits at ±eps, as coordinate clipping would leave


def test_pgd_l1_projection_is_the_euclidean_one(armour_mlp, batch):
    """One huge BIM-L1 step: the loop's result equals Duchi's projection (ball, then box) of x + step."""
    x, y = batch
    atk = registry.create("attack", "bim", model=armour_mlp, eps=2.0, norm="l1", steps=1, step_size=6.0,
                          sparsity=80.0)
    adv = _raw(atk, x, y)
    _, g = armour_mlp.loss_gradient(x, y)
    step = l1_box_step(g, x, (0.0, 1.0), 6.0, spread=sparse_count(64, 80.0))
    want = clip_to_ball_and_bounds(x, (x + step).astype(np.float32), 2.0, "l1", (0.0, 1.0))
    np.testing.assert_allclose(adv, want, atol=2e-5)
    assert lp_norm(adv.astype(np.float64) - x, "l1").max() <= 2.0 * (1 + 1e-5)


def test_sparse_l1_step_in_the_graph_matches_numpy(armour_mlp, batch):
    x, y = batch
    atk = registry.create("attack", "bim", model=armour_mlp, eps=50.0, norm="l1", steps=1, step_size=1.5,
                          sparsity=90.0)
    adv = _raw(atk, x, y)
    _, g = armour_mlp.loss_gradient(x, y)
    want = x + l1_box_step(g, x, (0.0, 1.0), 1.5, spread=sparse_count(64, 90.0))
    np.testing.assert_allclose(adv, want, atol=2e-6)


def test_linf_loop_stays_in_the_ball_before_the_base_projection(armour_mlp, batch):
    x, y = batch
    for name in ("bim", "pgd", "mim", "difgsm", "mdifgsm", "vmifgsm"):
        extra = {"neighbours": 3} if name == "vmifgsm" else {}
        atk = registry.create("attack", name, model=armour_mlp, eps=0.05, steps=4, step_size=0.04, **extra)
        adv = _raw(atk, x, y)
        assert np.abs(adv.astype(np.float64) - x).max() <= 0.05 + 1e-6, name
        assert adv.min() >= 0 and adv.max() <= 1, name


# ------------------------------------------------------------------------------------------ random start
def test_pgd_random_start_differs_from_bim(armour_mlp, batch):
    x, y = batch
    cfg = dict(eps=0.1, steps=5, step_size=0.02)
    bim = registry.create("attack", "bim", model=armour_mlp, **cfg).generate(x, y).adversarial
    pgd = registry.create("attack", "pgd", model=armour_mlp, seed=0, **cfg).generate(x, y).adversarial
    pgd1 = registry.create("attack", "pgd", model=armour_mlp, seed=1, **cfg).generate(x, y).adversarial
    plain = registry.create("attack", "pgd", model=armour_mlp, random_start=False, **cfg).generate(x, y).adversarial
    assert np.mean(pgd != bim) > 0.3 and np.mean(pgd != pgd1) > 0.3
    np.testing.assert_array_equal(plain, bim)


def test_pgd_restarts_only_add_successes(armour_mlp, batch):
    x, y = batch
    one = registry.create("attack", "pgd", model=armour_mlp, eps=0.08, steps=5).generate(x, y)
    three = registry.create("attack", "pgd", model=armour_mlp, eps=0.08, steps=5, restarts=3).generate(x, y)
    assert np.all(three.success[one.success])
    assert three.success.sum() >= one.success.sum()
    assert three.backward_calls >= one.backward_calls


# ------------------------------------------------------------------------------------------ strength
def test_pgd_beats_fgsm_on_the_default_cnn(armour_lenet, armour_digits):
    x, y = armour_digits.x_test[:200], armour_digits.y_test[:200]
    for eps in (0.05, 0.1):
        fgsm = registry.create("attack", "fgsm", model=armour_lenet, eps=eps).generate(x, y)
        pgd = registry.create("attack", "pgd", model=armour_lenet, eps=eps, steps=20).generate(x, y)
        assert 1 - pgd.success_rate <= 1 - fgsm.success_rate, eps
    assert pgd.success_rate > 0.5


def test_targeted_pgd_descends_the_target_loss(armour_mlp, batch):
    x, y = batch
    t = (y + 5) % 10
    res = registry.create("attack", "pgd", model=armour_mlp, eps=0.3, steps=20).generate(x, y, target=t)
    assert np.mean(res.predictions == t) > 0.8


@pytest.mark.parametrize("loss", ["margin", "dlr"])
def test_other_losses(armour_mlp, batch, loss):
    x, y = batch
    res = registry.create("attack", "pgd", model=armour_mlp, eps=0.3, steps=10, loss=loss).generate(x, y)
    assert res.success_rate > 0.8


# ------------------------------------------------------------------------------------------ momentum, variance
def test_mim_without_decay_is_bim(armour_mlp, batch):
    """g / ||g||_1 has the sign (and L2 direction) of g: with mu = 0 MI-FGSM is BIM."""
    x, y = batch
    for norm, eps in (("linf", 0.1), ("l2", 1.0)):
        bim = registry.create("attack", "bim", model=armour_mlp, eps=eps, norm=norm).generate(x, y).adversarial
        mim = registry.create("attack", "mim", model=armour_mlp, eps=eps, norm=norm, decay=0.0).generate(x, y)
        np.testing.assert_allclose(mim.adversarial, bim, atol=1e-6)


def test_momentum_changes_the_path(armour_mlp, batch):
    x, y = batch
    a = registry.create("attack", "mim", model=armour_mlp, eps=0.2, decay=1.0).generate(x, y).adversarial
    b = registry.create("attack", "mim", model=armour_mlp, eps=0.2, decay=0.0).generate(x, y).adversarial
    assert not np.array_equal(a, b)


def test_vmi_with_a_vanishing_neighbourhood_is_mim(armour_mlp, batch):
    """The variance term mean_i ∇J(x + r_i) - ∇J(x) vanishes as beta -> 0 on a piecewise-linear net."""
    x, y = batch
    mim = registry.create("attack", "mim", model=armour_mlp, eps=0.1).generate(x, y).adversarial
    vmi = registry.create("attack", "vmifgsm", model=armour_mlp, eps=0.1, beta=1e-7, neighbours=4).generate(x, y)
    assert np.mean(vmi.adversarial != mim) < 0.01
    wide = registry.create("attack", "vmifgsm", model=armour_mlp, eps=0.1, neighbours=4).generate(x, y)
    assert not np.array_equal(wide.adversarial, mim)


# ------------------------------------------------------------------------------------------ diverse inputs
def test_diversity_transform_resizes_and_pads():
    rng = np.random.default_rng(0)
    x = rng.uniform(0.1, 1.0, (3, 2, 28, 28)).astype(np.float32)  # no zeros: padding is visible
    for _ in range(20):
        ah, aw = diversity_matrices(rng, 28, 28, resize_rate=0.9, prob=1.0)
        out = apply(x, ah, aw)
        assert out.shape == x.shape
        assert not np.allclose(out, x)
        rows = ah.sum(1) > 0
        cols = aw.sum(1) > 0
        assert 25 <= rows.sum() <= 27 and rows.sum() == cols.sum()  # one scale for both axes, shrunk
        assert np.all(out[:, :, ~rows, :] == 0) and np.all(out[:, :, :, ~cols] == 0)  # zero padding
        assert np.all(ah.sum(1)[rows] == 1)  # nearest neighbour: every kept pixel copies one input pixel
        vals = set(np.unique(out[:, :, rows][..., cols]).tolist())
        assert vals <= set(np.unique(x).tolist())


def test_diversity_transform_probability_and_enlarging():
    rng = np.random.default_rng(1)
    applied = [not np.array_equal(diversity_matrices(rng, 16, 16, resize_rate=0.8, prob=0.5)[0], np.eye(16))
               for _ in range(400)]
    assert 0.5 - 4 * 0.025 < np.mean(applied) < 0.5 + 4 * 0.025  # Binomial(400, 0.5): 4 sigma
    ah, aw = diversity_matrices(rng, 16, 16, resize_rate=0.5, prob=0.0)
    np.testing.assert_array_equal(ah, np.eye(16))
    changed = 0
    for _ in range(20):
        ah, aw = diversity_matrices(rng, 16, 16, resize_rate=1.25, prob=1.0)
        assert ah.shape == (16, 16) and aw.shape == (16, 16)
        changed += not np.array_equal(ah, np.eye(16))
    assert changed >= 15
    np.testing.assert_array_equal(resize_pad_matrix(4, 2, 4, 1), [[0, 0, 0, 0], [0, 1, 0, 0], [0, 0, 0, 1],
                                                                  [0, 0, 0, 0]])


def test_difgsm_really_uses_diverse_inputs(armour_mlp, batch):
    x, y = batch
    cfg = dict(eps=0.1, steps=10)
    bim = registry.create("attack", "bim", model=armour_mlp, **cfg).generate(x, y).adversarial
    off = registry.create("attack", "difgsm", model=armour_mlp, diversity_prob=0.0, **cfg).generate(x, y)
    np.testing.assert_allclose(off.adversarial, bim, atol=1e-6)
    on = registry.create("attack", "difgsm", model=armour_mlp, diversity_prob=1.0, **cfg).generate(x, y)
    assert np.mean(on.adversarial != bim) > 0.1


def test_difgsm_gradient_is_pulled_back_through_the_transform(armour_softmax, armour_mlp, batch):
    """The eager path (explicit A_h.T G A_w) and the graph (autodiff through the matmuls) agree with the
    numpy attack on the same draws: one DI step equals a sign step of the pulled-back gradient."""
    x, y = batch
    atk = registry.create("attack", "difgsm", model=armour_softmax, eps=0.1, steps=1, diversity_prob=1.0, seed=4)
    adv = _raw(atk, x, y)
    rng = atk.attack_rng()
    ah, aw = diversity_matrices(rng, 8, 8, resize_rate=0.9, prob=1.0)
    _, g = armour_softmax.loss_gradient(apply(x, ah, aw).astype(np.float32), y)
    pulled = np.matmul(np.matmul(ah.T, g), aw)
    np.testing.assert_allclose(adv, np.clip(x + 0.1 * np.sign(pulled), 0, 1), atol=1e-6)


def test_difgsm_needs_images(armour_softmax):
    from armour_core.testing import SoftmaxRegression

    flat = SoftmaxRegression(np.ones((16, 2)), np.zeros(2), input_shape=(16,))
    with pytest.raises(InvalidInputError, match="images"):
        registry.create("attack", "difgsm", model=flat).generate(np.full((2, 16), 0.5, np.float32), np.zeros(2, int))


# ------------------------------------------------------------------------------------------ the compiled loop
@pytest.mark.parametrize("name,cfg", [("pgd", {"eps": 0.1}), ("pgd", {"eps": 3.0, "norm": "l1"}),
                                      ("mdifgsm", {"eps": 0.1}), ("vmifgsm", {"eps": 0.1, "neighbours": 3})])
def test_compile_modes_agree(armour_mlp, batch, name, cfg):
    x, y = batch
    out = {mode: registry.create("attack", name, model=armour_mlp, steps=4, compile=mode, **cfg).generate(x, y)
           for mode in ("loop", "unroll", "step", "eager")}
    for mode, res in out.items():
        assert np.mean(res.adversarial != out["loop"].adversarial) < 1e-3, mode
        assert res.backward_calls == out["loop"].backward_calls


def test_chunked_loops_match_one_launch(armour_mlp, batch, monkeypatch):
    """Long loops run as several launches (VMI noise budget, unroll cap) without changing the result."""
    x, y = batch
    cfg = dict(eps=0.1, steps=3, neighbours=2)
    whole = registry.create("attack", "vmifgsm", model=armour_mlp, **cfg).generate(x, y).adversarial
    monkeypatch.setattr(_graph, "RANDOM_INPUT_BUDGET", 4 * 2 * 32 * 64 * 2)  # two steps per launch
    assert _graph._chunk_length(_graph.LoopSpec(norm="linf", neighbours=2), 3, (32, 1, 8, 8)) == 2
    chunked = registry.create("attack", "vmifgsm", model=armour_mlp, **cfg).generate(x, y).adversarial
    np.testing.assert_array_equal(chunked, whole)
    monkeypatch.setattr(_graph, "MAX_UNROLL", 2)
    unrolled = registry.create("attack", "bim", model=armour_mlp, eps=0.1, steps=3, compile="unroll")
    plain = registry.create("attack", "bim", model=armour_mlp, eps=0.1, steps=3)
    np.testing.assert_array_equal(unrolled.generate(x, y).adversarial, plain.generate(x, y).adversarial)


def test_graphs_are_cached_and_reused_across_eps_and_steps(armour_mlp, batch):
    x, y = batch
    a = registry.create("attack", "bim", model=armour_mlp, eps=0.1, steps=3, loss="margin")
    a.generate(x, y)
    builds = armour_mlp.graphs.builds
    registry.create("attack", "bim", model=armour_mlp, eps=0.2, steps=7, loss="margin").generate(x[:20], y[:20])
    compiles = armour_mlp.graphs.compiles
    a.generate(x, y, target=(y + 1) % 10)
    assert armour_mlp.graphs.builds == builds  # same structure: no new graph
    assert armour_mlp.graphs.compiles == compiles  # and no new compile for shapes seen before


def test_passes_are_counted(armour_mlp, batch):
    x, y = batch
    res = registry.create("attack", "pgd", model=armour_mlp, eps=0.1, steps=7).generate(x, y)
    assert (res.forward_calls, res.backward_calls, res.queries) == (7, 7, 7 * len(x))
    res = registry.create("attack", "vmifgsm", model=armour_mlp, eps=0.1, steps=2, neighbours=3).generate(x, y)
    assert (res.forward_calls, res.backward_calls, res.queries) == (8, 8, 8 * len(x))


def test_batch_padding_does_not_change_results(armour_mlp, batch):
    x, y = batch
    atk = registry.create("attack", "pgd", model=armour_mlp, eps=0.1, steps=5, random_start=False)
    whole = atk.generate(x, y).adversarial
    part = atk.generate(x[:5], y[:5]).adversarial  # padded to a bucket of 16
    np.testing.assert_array_equal(part, whole[:5])
    assert bucket(1) == 16 and bucket(17) == 32 and bucket(256) == 256
    assert bucket(257) == 320


def test_eps_zero_returns_the_input(armour_mlp, batch):
    x, y = batch
    for name in ("pgd", "mdifgsm"):
        res = registry.create("attack", name, model=armour_mlp, eps=0.0).generate(x, y)
        np.testing.assert_array_equal(res.adversarial, x)


# ------------------------------------------------------------------------------------------ bad configs
@pytest.mark.parametrize("name,bad", [
    ("pgd", {"norm": "l0"}), ("mim", {"norm": "l1"}), ("vmifgsm", {"norm": "l2"}), ("pgd", {"steps": 0}),
    ("pgd", {"steps": 2.5}), ("bim", {"step_size": 0.0}), ("bim", {"step_size": -1.0}), ("pgd", {"restarts": 0}),
    ("mim", {"decay": -1.0}), ("difgsm", {"diversity_prob": 1.5}), ("difgsm", {"resize_rate": 1.0}),
    ("difgsm", {"resize_rate": 0.0}), ("vmifgsm", {"neighbours": 0}), ("vmifgsm", {"beta": 0.0}),
    ("pgd", {"loss": "hinge"}), ("pgd", {"compile": "fast"}), ("pgd", {"sparsity": 100.0}),
    ("pgd", {"eps": float("nan")}), ("pgd", {"random_start": "yes"}), ("bim", {"stepsize": 0.1}),
])
def test_bad_config_is_a_config_error(armour_mlp, name, bad):
    key = next(iter(bad))
    with pytest.raises(ConfigError, match=key if key != "norm" else "norm"):
        registry.create("attack", name, model=armour_mlp, **bad)


def test_bad_inputs_are_named(armour_mlp, batch):
    x, y = batch
    atk = registry.create("attack", "pgd", model=armour_mlp, eps=0.1, steps=2)
    with pytest.raises(InvalidInputError, match="x"):
        atk.generate(x.reshape(len(x), -1), y)  # wrong rank / shape for the model
    with pytest.raises(InvalidInputError, match="target"):
        atk.generate(x, y, target=np.full(len(x), 10))
    with pytest.raises(InvalidInputError, match="y"):
        atk.generate(x, np.full(len(x), -1))


def test_graphs_follow_reloaded_weights(armour_mlp, batch):
    """``load_param_into_net`` moves parameters to new storage that a compiled graph would not see."""
    import mindspore as ms

    from armour_core.builtin.models import MLP
    from armour_core.ms.model import MSModel

    x, y = batch
    net = MLP(input_shape=(1, 8, 8))
    fresh = MSModel(net, num_classes=10, input_shape=(1, 8, 8))
    atk = registry.create("attack", "bim", model=fresh, eps=0.1, steps=3)
    before = _raw(atk, x, y)
    ms.load_param_into_net(net, armour_mlp.network.parameters_dict())
    after = _raw(atk, x, y)
    want = _raw(registry.create("attack", "bim", model=armour_mlp, eps=0.1, steps=3), x, y)
    np.testing.assert_array_equal(after, want)
    assert not np.array_equal(before, after)
