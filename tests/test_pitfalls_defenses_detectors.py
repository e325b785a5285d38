"""Pitfalls of MindArmour's defenses, detectors and evaluation (``/work/shared/MINDARMOUR_PITFALLS.md``,
section "Defenses, detectors, evaluation"), through the registry."""

from __future__ import annotations

import numpy as np
import pytest

from armour_core import registry
from armour_core.api.detector import threshold_for_fpr
from armour_core.testing.markers import skip_module_unless_dists

skip_module_unless_dists("attacks")


def test_ensemble_detector_combines_member_decisions_per_sample(armour_mlp, armour_digits):
    """Pitfall: "An ensemble detector combines its members' decisions per sample (MindArmour uses 0/1 outputs
    as indices)."

    On clean and noisy digits, the ensemble's verdict for each sample is exactly the rule applied to that
    sample's member verdicts (any / all / majority), so flags follow the samples, not positions 0 and 1."""
    x_fit = armour_digits.x_train[:120]
    rng = np.random.default_rng(0)
    clean = armour_digits.x_test[:20]
    noisy = np.clip(clean + rng.normal(0, 0.35, clean.shape), 0, 1).astype(np.float32)
    x = np.concatenate([clean, noisy])
    members = ["spatial_smoothing", ("feature_squeezing", {"median_size": None}),
               ("region_based", {"radius": 0.1, "samples": 20})]
    for rule, combine in (("any", lambda d: d.any(1)), ("all", lambda d: d.all(1)),
                          ("vote", lambda d: d.sum(1) * 2 > d.shape[1])):
        ens = registry.create("detector", "ensemble", model=armour_mlp, rule=rule, fpr=0.2, members=members)
        ens.fit(x_fit)
        decisions = np.asarray(ens.member_decisions(x), bool)
        assert decisions.shape == (len(x), 3)
        np.testing.assert_array_equal(ens.detect(x), combine(decisions))
    assert decisions.any() and not decisions.all()  # a non-trivial case was exercised


def test_spatial_smoothing_scores_do_not_depend_on_the_rest_of_the_batch(armour_lenet, armour_digits):
    """Pitfall: "Spatial smoothing filters each sample on its own, never across the batch."

    Each sample's smoothed image and score are the same alone, in its batch, and in a batch whose other
    members are replaced by constant images."""
    det = registry.create("detector", "spatial_smoothing", model=armour_lenet).fit(armour_digits.x_train[:60])
    x = armour_digits.x_test[:6]
    other = np.concatenate([x[:1], np.ones_like(x[1:])])
    alone = det.transform(x[:1])
    np.testing.assert_array_equal(np.asarray(det.transform(x))[:1], alone)
    np.testing.assert_array_equal(np.asarray(det.transform(other))[:1], alone)
    assert det.score(x)[0] == pytest.approx(det.score(other)[0], abs=1e-6)
    assert det.score(x)[0] == pytest.approx(det.score(x[:1])[0], abs=1e-6)


def test_region_based_offsets_are_independent_per_element(armour_mlp, armour_digits):
    """Pitfall: "Region-based detection samples a hyper-cube around each input (one independent offset per
    input element)."

    The region predictions of a mid-grey image are reproduced by recording the queried points: offsets fill
    the cube [−r, r]^64 (each element uniform with std r/√3), not a diagonal line x + u·1."""
    from armour_core.api.model import Classifier

    class Recorder(Classifier):
        capabilities = frozenset({"forward", "gradients"})

        def __init__(self, inner):
            super().__init__()
            self.inner, self.bounds, self.num_classes = inner, inner.bounds, inner.num_classes
            self.input_shape = inner.input_shape
            self.rows = []

        def _logits(self, x):
            self.rows.append(np.array(x))
            return self.inner._logits(x)

    r = 0.2
    model = Recorder(armour_mlp)
    det = registry.create("detector", "region_based", model=model, radius=r, samples=200, seed=0)
    det.fit(armour_digits.x_train[:20])
    model.rows.clear()
    det.score(np.full((1, 1, 8, 8), 0.5, np.float32))
    pts = np.concatenate(model.rows).reshape(-1, 64)
    off = pts[np.any(pts != 0.5, axis=1)] - 0.5
    assert len(off) >= 200
    assert np.abs(off).max() <= r + 1e-6
    per_point_spread = off.std(axis=1)  # 0 for one offset per sample
    assert np.median(per_point_spread) == pytest.approx(r / np.sqrt(3), rel=0.2)


@pytest.mark.parametrize("n,fpr", [(10, 0.05), (40, 0.01), (3, 0.2)])
def test_fpr_threshold_correct_when_n_fpr_below_one(n, fpr, armour_mlp, armour_digits):
    """Pitfall: "Thresholds set for a false-positive rate stay correct when N·fpr < 1."

    With fewer clean points than 1/fpr, no clean calibration point may be flagged (any flag would be a
    false-positive rate of at least 1/N > fpr): the threshold function and fitted detectors agree."""
    scores = np.random.default_rng(n).normal(size=n)
    assert np.sum(scores > threshold_for_fpr(scores, fpr)) == 0
    x = armour_digits.x_train[:n]
    for name, cfg in (("spatial_smoothing", {}), ("feature_squeezing", {})):
        det = registry.create("detector", name, model=armour_mlp, fpr=fpr, **cfg).fit(x)
        assert not np.asarray(det.detect(x)).any(), name


#: every defense whose Config has a ``replace_ratio`` (TRADES and MART have none: they always train on both)
REPLACE_RATIO = ["adversarial_training", "adversarial_training_with_attacks", "ensemble_adversarial_training", "nad",
                 "pad"]


@pytest.mark.parametrize("name", REPLACE_RATIO)
def test_pure_adversarial_training_replace_ratio_one_is_allowed(name):
    """Pitfall: "Pure adversarial training (`replace_ratio = 1`) is allowed." Every defense with a
    ``replace_ratio`` accepts 1 and trains a batch with it (its own attack generating the examples, or given
    ones for plain ``adversarial_training``)."""
    from armour_core.ms import pretrained as pt

    data = registry.create("dataset", "digits")
    net = pt.build("mlp", data, seed=0)
    extra = {"static_models": [pt.build("mlp", data, seed=1)]} if name == "ensemble_adversarial_training" else {}
    d = registry.create("defense", name, network=net, replace_ratio=1.0, **extra)
    x, y = data.x_train[:16], data.y_train[:16]
    given = {"x_adv": np.clip(x + 0.2, 0, 1).astype(np.float32)} if name == "adversarial_training" else {}
    loss = d.train_batch(x, y, **given)
    assert np.isfinite(loss)


def test_replace_ratio_list_is_every_defense_with_one():
    """Guard: the list above is exactly the registered defenses with a ``replace_ratio`` (none skips)."""
    import attrs

    with_ratio = {n for n in registry.names("defense")
                  if "replace_ratio" in {f.name for f in attrs.fields(registry.get("defense", n).Config)}}
    assert with_ratio == set(REPLACE_RATIO)


def test_attack_metrics_are_absolute_and_over_initially_correct_points(armour_softmax, armour_digits):
    """Pitfall: "Attack metrics report absolute Lp distances (say if relative) and count only points that were
    correct before the attack."

    Distortions are input-space norms of x' − x (a uniform shift of 0.1 on 64 pixels: L2 0.8, L∞ 0.1),
    independent of ‖x‖; initially misclassified points change neither the rate nor the averages."""
    from armour_plugins_attacks.evaluation.metrics import attack_metrics

    x, y = armour_digits.x_test[:80], armour_digits.y_test[:80]
    assert np.any(armour_softmax.predict(x) != y)
    x = np.clip(x, 0, 0.9).astype(np.float32)
    x_adv = (x + 0.1).astype(np.float32)
    m = attack_metrics(x, y, x_adv, model=armour_softmax)
    assert m.attacked == int(np.sum(armour_softmax.predict(x) == y))
    assert m.successes >= 1  # the shift breaks at least one point (deterministic model and data)
    assert m.avg_l2 == pytest.approx(0.1 * 8, rel=1e-5)
    assert m.avg_linf == pytest.approx(0.1, rel=1e-5)
    wild = x_adv.copy()
    bad = np.flatnonzero(armour_softmax.predict(x) != y)
    wild[bad] = 1.0 - x[bad]  # huge perturbations of initially wrong points
    m2 = attack_metrics(x, y, wild, model=armour_softmax)
    assert (m2.attacked, m2.successes, m2.avg_l2, m2.avg_linf) == (m.attacked, m.successes, m.avg_l2, m.avg_linf)
