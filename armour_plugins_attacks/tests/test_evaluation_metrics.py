"""Attack, defense and black-box defense metrics against hand-computed values (numpy only)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from armour_core.errors import InvalidInputError
from armour_plugins_attacks.evaluation import (attack_metrics, blackbox_defense_metrics, defense_metrics,
                                               js_divergence, radar_plot, ssim)


# ------------------------------------------------------------------------------------------- SSIM
@pytest.mark.parametrize("shape,axis", [((5, 1, 8, 8), 1), ((3, 3, 16, 12), 1), ((4, 9, 9, 3), -1), ((2, 7, 7), None)])
def test_ssim_of_identical_images_is_one(shape, axis):
    x = np.random.default_rng(0).uniform(0, 1, shape)
    np.testing.assert_allclose(ssim(x, x, channel_axis=axis), 1.0, atol=1e-12)


def test_ssim_falls_with_noise_and_is_symmetric():
    rng = np.random.default_rng(1)
    x = rng.uniform(0, 1, (6, 1, 12, 12))
    values = [ssim(x, np.clip(x + rng.normal(0, s, x.shape), 0, 1)).mean() for s in (0.01, 0.05, 0.2)]
    assert 1.0 > values[0] > values[1] > values[2]
    z = np.clip(x + 0.1, 0, 1)
    np.testing.assert_allclose(ssim(x, z), ssim(z, x), atol=1e-12)


def test_ssim_constant_images_closed_form():
    """Two flat images a and b: variances vanish and SSIM = (2ab + C1) / (a² + b² + C1)."""
    a, b = 0.3, 0.5
    c1 = (0.01 * 1.0) ** 2
    got = ssim(np.full((1, 1, 8, 8), a), np.full((1, 1, 8, 8), b))
    np.testing.assert_allclose(got, (2 * a * b + c1) / (a * a + b * b + c1), rtol=1e-9)


def test_ssim_rejects_bad_shapes():
    with pytest.raises(InvalidInputError):
        ssim(np.zeros((2, 1, 4, 4)), np.zeros((2, 1, 4, 5)))
    with pytest.raises(InvalidInputError):
        ssim(np.zeros((2, 16)), np.zeros((2, 16)))


# ---------------------------------------------------------------------------------- attack metrics
def _constructed():
    """Four 1×4×4 images, three classes. Point 2 is misclassified before the attack (and perturbed a lot:
    it must not count), point 1 resists, points 0 and 3 are broken."""
    x = np.zeros((4, 1, 4, 4))
    y = np.array([0, 1, 2, 0])
    adv = x.copy()
    adv[0, 0, 0, :2] = 0.5  # L0 2, L2 sqrt(0.5), Linf 0.5
    adv[1] += 0.1  # resisted: not averaged
    adv[2] += 1.0  # initially wrong: not averaged
    adv[3, 0, 1, 1] = 0.25  # L0 1, L2 0.25, Linf 0.25
    clean = np.array([[0.8, 0.1, 0.1], [0.1, 0.8, 0.1], [0.6, 0.3, 0.1], [0.7, 0.2, 0.1]])
    advp = np.array([[0.2, 0.7, 0.1], [0.2, 0.7, 0.1], [0.1, 0.1, 0.8], [0.3, 0.6, 0.1]])
    return x, y, adv, clean, advp


def test_attack_metrics_hand_computed():
    x, y, adv, clean, advp = _constructed()
    m = attack_metrics(x, y, adv, clean_probabilities=clean, adv_probabilities=advp)
    assert m.n == 4 and m.attacked == 3 and m.successes == 2
    assert m.clean_accuracy == pytest.approx(0.75)
    assert m.misclassification_rate == pytest.approx(2 / 3)
    assert m.robust_accuracy == pytest.approx(0.25)  # only point 1: point 2 was never correct
    assert m.avg_l0 == pytest.approx(1.5)
    assert m.avg_l2 == pytest.approx((math.sqrt(0.5) + 0.25) / 2)
    assert m.avg_linf == pytest.approx((0.5 + 0.25) / 2)
    assert m.avg_confidence_adversarial == pytest.approx((0.7 + 0.6) / 2)
    assert m.avg_confidence_true == pytest.approx((0.2 + 0.3) / 2)
    assert m.noise_tolerance == pytest.approx(((0.7 - 0.2) + (0.6 - 0.3)) / 2)
    assert 0 < m.avg_ssim < 1


def test_distortion_counts_only_initially_correct_points():
    """Making the initially-wrong point's perturbation huge changes nothing (MindArmour averages it in)."""
    x, y, adv, clean, advp = _constructed()
    base = attack_metrics(x, y, adv, clean_probabilities=clean, adv_probabilities=advp)
    adv2 = adv.copy()
    adv2[2] = 1.0
    again = attack_metrics(x, y, adv2, clean_probabilities=clean, adv_probabilities=advp)
    assert (again.avg_l2, again.avg_linf, again.avg_l0) == (base.avg_l2, base.avg_linf, base.avg_l0)


def test_targeted_success_is_reaching_the_target():
    x, y, adv, clean, advp = _constructed()
    m = attack_metrics(x, y, adv, clean_probabilities=clean, adv_probabilities=advp, target=np.array([1, 2, 0, 2]))
    assert m.targeted and m.successes == 1  # only point 0 reached its target (class 1)
    assert m.avg_confidence_adversarial == pytest.approx(0.7)


def test_attack_metrics_with_model_and_errors(armour_softmax, armour_digits):
    x, y = armour_digits.x_test[:40], armour_digits.y_test[:40]
    m = attack_metrics(x, y, x, model=armour_softmax)
    assert m.successes == 0 and m.avg_l2 is None and m.misclassification_rate == 0.0
    with pytest.raises(InvalidInputError, match="probabilities"):
        attack_metrics(x, y, x, clean_probabilities=np.ones((40, 10)) * 3, adv_probabilities=np.ones((40, 10)) / 10)
    with pytest.raises(InvalidInputError, match="x_adv"):
        attack_metrics(x, y, x[:5], model=armour_softmax)
    with pytest.raises(InvalidInputError, match="model="):
        attack_metrics(x, y, x)


# --------------------------------------------------------------------------------- defense metrics
def test_defense_metrics_constructed_example():
    y = np.array([0, 1, 2, 0, 1])
    raw = np.array([[.9, .05, .05], [.1, .8, .1], [.2, .2, .6], [.1, .8, .1], [.7, .2, .1]])
    dfd = np.array([[.6, .2, .2], [.1, .6, .3], [.5, .3, .2], [.5, .4, .1], [.8, .1, .1]])
    m = defense_metrics(raw, dfd, y)
    # raw correct on {0,1,2}, defended on {0,1,3}
    assert m.cav == pytest.approx(0.0)
    assert m.crr == pytest.approx(1 / 5)  # point 3 rectified
    assert m.csr == pytest.approx(1 / 5)  # point 2 sacrificed
    assert m.ccv == pytest.approx((abs(.9 - .6) + abs(.8 - .6)) / 2)
    expected_cos = float(np.mean(js_divergence(raw[[0, 1]], dfd[[0, 1]])))
    assert m.cos == pytest.approx(expected_cos)


def test_js_divergence_bounds():
    np.testing.assert_allclose(js_divergence([[1.0, 0.0]], [[0.0, 1.0]]), [math.log(2)])
    np.testing.assert_allclose(js_divergence([[0.3, 0.7]], [[0.3, 0.7]]), [0.0], atol=1e-15)


def test_defense_metrics_errors():
    with pytest.raises(InvalidInputError, match="def_probabilities"):
        defense_metrics(np.full((3, 2), .5), np.full((4, 2), .5), np.zeros(3, int))
    with pytest.raises(InvalidInputError, match="probabilities"):
        defense_metrics(np.full((3, 2), 2.0), np.full((3, 2), .5), np.zeros(3, int))


# ------------------------------------------------------------------------------- black-box metrics
def test_blackbox_defense_metrics_constructed():
    m = blackbox_defense_metrics(raw_success=[1, 1, 1, 0], def_success=[1, 0, 0, 0], raw_queries=[10, 20, 30, 40],
                                 def_queries=[50, 100, 100, 100], max_queries=100, detections=[2, 0, 5, 1],
                                 benign_flags=[0, 0, 1, 0, 0], raw_benign_seconds=[1.0, 1.0],
                                 def_benign_seconds=[1.5, 1.5])
    assert m.asv == pytest.approx(0.75 - 0.25)
    assert m.qcv == pytest.approx((87.5 - 25) / 100)
    assert m.detection_rate == pytest.approx(0.75) and m.mean_detections == pytest.approx(2.0)
    assert m.fpr == pytest.approx(0.2) and m.qrv == pytest.approx(0.5)
    with pytest.raises(InvalidInputError, match="max_queries"):
        blackbox_defense_metrics(raw_success=[1], def_success=[1], raw_queries=[1], def_queries=[1], max_queries=0)
    with pytest.raises(InvalidInputError, match="def_queries"):
        blackbox_defense_metrics(raw_success=[1], def_success=[1], raw_queries=[1], def_queries=[1, 2],
                                 max_queries=10)


def test_radar_plot():
    fig = radar_plot({"raw": {"CAV": 0.0, "CRR": 0.1, "CSR": 0.05}, "defended": {"CAV": 0.02, "CRR": 0.2, "CSR": 0.1}})
    ax = fig.axes[0]
    assert len(ax.lines) == 2 and all(len(line.get_xdata()) == 4 for line in ax.lines)  # closed polygons
    import matplotlib.pyplot as plt

    plt.close(fig)
    with pytest.raises(InvalidInputError, match="3 metrics"):
        radar_plot({"a": {"x": 1, "y": 2}})
    with pytest.raises(InvalidInputError, match="differ"):
        radar_plot({"a": {"x": 1, "y": 2, "z": 3}, "b": {"x": 1, "y": 2, "w": 3}})
