"""Properties of the detectors that MindArmour gets wrong, plus each method's defining behaviour."""

from __future__ import annotations

import numpy as np
import pytest

from armour_core import registry
from armour_core.api.detector import Detector, DetectorConfig, roc_auc, threshold_for_fpr
from armour_core.api.model import Classifier
from armour_core.errors import CapabilityError, ConfigError, InvalidInputError
from armour_core.testing import check
from armour_plugins_attacks.detectors._common import median_smooth
from armour_plugins_attacks.detectors.squeezing import reduce_bit_depth


# ------------------------------------------------------------------------------------------ thresholds
@pytest.mark.parametrize("n,fpr", [(10, 0.05), (19, 0.05), (20, 0.05), (7, 0.1), (1000, 0.001), (3, 0.3)])
def test_threshold_for_fpr_exact_even_when_n_fpr_below_one(n, fpr):
    rng = np.random.default_rng(n)
    scores = rng.normal(size=n)
    t = threshold_for_fpr(scores, fpr)
    flagged = int(np.sum(scores > t))
    check(flagged <= np.floor(n * fpr), f"{flagged} of {n} clean flagged at fpr={fpr}")
    check(flagged == int(np.floor(n * fpr)), "threshold not the smallest one meeting the rate")
    if n * fpr < 1:
        check(t == scores.max() and flagged == 0)


def test_threshold_with_ties_never_exceeds_rate():
    scores = np.array([0.0] * 5 + [1.0] * 5)
    t = threshold_for_fpr(scores, 0.3)  # 3 may exceed; the five tied at 1.0 cannot be split
    check(np.sum(scores > t) <= 3)


def test_detector_fit_with_few_clean_points_flags_none(armour_mlp, armour_digits):
    x = armour_digits.x_train[:12]  # N * fpr = 0.6 < 1
    det = registry.create("detector", "spatial_smoothing", model=armour_mlp, fpr=0.05).fit(x)
    check(not det.detect(x).any())
    check(det.threshold == det.score(x).max())


def test_roc_auc_matches_pairwise_definition():
    rng = np.random.default_rng(0)
    neg, pos = rng.normal(size=40).round(1), (rng.normal(size=30) + 1).round(1)
    pairs = (pos[:, None] > neg[None, :]).mean() + 0.5 * (pos[:, None] == neg[None, :]).mean()
    check(abs(roc_auc(neg, pos) - pairs) < 1e-12)


# ------------------------------------------------------------------------------------------ spatial smoothing
def test_spatial_smoothing_filters_each_sample_alone(armour_lenet, armour_digits):
    x = armour_digits.x_test[:9]
    det = registry.create("detector", "spatial_smoothing", model=armour_lenet).fit(armour_digits.x_train[:50])
    batch = det.transform(x)
    alone = np.concatenate([det.transform(x[i:i + 1]) for i in range(len(x))])
    check(np.array_equal(batch, alone), "smoothing a batch differs from smoothing each sample alone")
    s_batch = det.score(x)
    s_alone = np.concatenate([det.score(x[i:i + 1]) for i in range(len(x))])
    check(np.allclose(s_batch, s_alone, atol=1e-5))
    # constant samples stay constant: nothing leaks in from their neighbours in the batch
    stack = np.stack([np.zeros((1, 8, 8)), np.ones((1, 8, 8)), np.zeros((1, 8, 8))]).astype(np.float32)
    check(np.array_equal(det.transform(stack), stack))


def test_median_smooth_keeps_channels_apart_and_handles_flat_vectors():
    x = np.zeros((2, 3, 6, 6), np.float32)
    x[:, 1] = 1.0
    check(np.array_equal(median_smooth(x, 3), x))
    v = np.array([[0, 0, 9, 0, 0, 5, 5, 5]], np.float32)
    check(np.array_equal(median_smooth(v, 3)[0], [0, 0, 0, 0, 0, 5, 5, 5]))


# ------------------------------------------------------------------------------------------ region based
class Recorder(Classifier):
    """Passes through to a model and keeps every row it was asked to classify."""

    capabilities = frozenset({"forward"})

    def __init__(self, inner):
        super().__init__()
        self.inner, self.bounds, self.num_classes = inner, inner.bounds, inner.num_classes
        self.input_shape = inner.input_shape
        self.seen = []

    def _logits(self, x):
        self.seen.append(np.array(x))
        return self.inner._logits(x)


def test_region_offsets_are_independent_per_element(armour_mlp, armour_digits):
    """One independent U(-r, r) offset per input element (MindArmour drew one offset per sample)."""
    x = np.full((1, 1, 8, 8), 0.5, np.float32)  # mid-range: clipping never touches the offsets
    r, m = 0.2, 400
    model = Recorder(armour_mlp)
    det = registry.create("detector", "region_based", model=model, radius=r, samples=m).fit(
        armour_digits.x_train[:20])
    model.seen.clear()
    det.score(x)
    rows = np.concatenate(model.seen).reshape(-1, 64)
    off = rows[np.any(rows != 0.5, axis=1)][:m] - 0.5  # the m region points (padding rows repeat one)
    check(off.shape == (m, 64))
    check(np.abs(off).max() <= r + 1e-6)
    within = off.std(axis=1)  # spread across the elements of one point: r / sqrt(3) for independent draws
    check(np.all(within > 0.5 * r / np.sqrt(3)), "offsets do not vary across the elements of a point")
    corr = np.corrcoef(off.T)[np.triu_indices(64, 1)]
    check(np.abs(corr).max() < 6 / np.sqrt(m), f"elements correlated: max |corr| {np.abs(corr).max():.3f}")
    check(abs(off.mean()) < 6 * r / np.sqrt(3 * off.size))
    check(abs(off.std() - r / np.sqrt(3)) < 0.05 * r)


def test_region_radius_search_keeps_accuracy(armour_mlp, armour_digits):
    d = armour_digits
    det = registry.create("detector", "region_based", model=armour_mlp, samples=30, search_steps=5,
                          search_inputs=128).fit(d.x_train[:128], d.y_train[:128])
    check(0 < det.radius <= 0.5)
    point = np.mean(armour_mlp.predict(d.x_train[:128]) == d.y_train[:128])
    region = np.mean(det.predict(d.x_train[:128]) == d.y_train[:128])
    check(region >= point - 0.05, f"region accuracy {region} vs point {point}")


# ------------------------------------------------------------------------------------------ ensemble
class Fixed(Detector):
    """A detector whose scores are given: flags exactly the samples in ``flags``."""

    Config = DetectorConfig
    needs_training = False

    def __init__(self, flags):
        super().__init__(bounds=(0.0, 1.0))
        self.flags = np.asarray(flags, bool)
        self.threshold = 0.5

    def _score(self, x):
        return self.flags[: len(x)].astype(np.float64)


@pytest.mark.parametrize("rule,expected", [
    ("any", [0, 1, 1, 1, 1, 1, 1, 1]),
    ("all", [0, 0, 0, 0, 0, 0, 0, 1]),
    ("vote", [0, 0, 0, 1, 0, 1, 1, 1]),
])
def test_ensemble_combines_decisions_per_sample(rule, expected):
    a = [0, 1, 0, 1, 0, 1, 0, 1]
    b = [0, 0, 1, 1, 0, 0, 1, 1]
    c = [0, 0, 0, 0, 1, 1, 1, 1]
    ens = registry.create("detector", "ensemble", members=[Fixed(a), Fixed(b), Fixed(c)], rule=rule,
                          calibrate_members=False)
    x = np.zeros((8, 2), np.float32)
    ens.fit(x[:1])
    check(np.array_equal(ens.member_decisions(x), np.stack([a, b, c], 1).astype(bool)))
    check(np.array_equal(ens.detect(x), np.asarray(expected, bool)), f"{rule}: {ens.detect(x)}")


def test_ensemble_calibration_bounds_the_joint_false_positive_rate(armour_mlp, armour_digits):
    x = armour_digits.x_train[:300]
    for rule in ("any", "vote", "all"):
        ens = registry.create("detector", "ensemble", model=armour_mlp, rule=rule, fpr=0.1,
                              members=["spatial_smoothing", ("feature_squeezing", {"median_size": None}),
                                       ("region_based", {"radius": 0.1, "samples": 20})]).fit(x)
        check(np.mean(ens.detect(x)) <= 0.1, f"{rule}: joint FPR {np.mean(ens.detect(x))}")


def test_ensemble_rejects_bad_members():
    with pytest.raises(InvalidInputError):
        registry.create("detector", "ensemble", members=[])
    with pytest.raises(InvalidInputError):
        registry.create("detector", "ensemble", members=[42])


# ------------------------------------------------------------------------------------------ feature squeezing
def test_bit_depth_reduction_levels():
    x = np.linspace(0, 255, 1000, dtype=np.float32).reshape(10, 100)
    for bits in (1, 3, 5):
        out = reduce_bit_depth(x, bits, (0.0, 255.0))
        check(len(np.unique(out)) == 2 ** bits)
        check(np.abs(out - x).max() <= 255.0 / (2 ** bits - 1) / 2 + 1e-3)


def test_feature_squeezing_score_is_max_over_squeezers(armour_lenet, armour_digits):
    fit, x = armour_digits.x_train[:40], armour_digits.x_test[:20]
    both = registry.create("detector", "feature_squeezing", model=armour_lenet, bit_depth=2, median_size=2).fit(fit)
    bit = registry.create("detector", "feature_squeezing", model=armour_lenet, bit_depth=2, median_size=None).fit(fit)
    med = registry.create("detector", "feature_squeezing", model=armour_lenet, bit_depth=None, median_size=2).fit(fit)
    check(np.allclose(both.score(x), np.maximum(bit.score(x), med.score(x)), atol=1e-6))
    with pytest.raises(ConfigError):
        registry.create("detector", "feature_squeezing", model=armour_lenet, bit_depth=None, median_size=None)


# ------------------------------------------------------------------------------------------ MagNet
def test_magnet_training_is_seeded_and_needs_fit(armour_digits):
    x = armour_digits.x_train[:256]
    a = registry.create("detector", "magnet_error", epochs=2, seed=5).fit(x)
    b = registry.create("detector", "magnet_error", epochs=2, seed=5).fit(x)
    check(np.array_equal(a.transform(x[:10]), b.transform(x[:10])))
    check(a.loss_history == b.loss_history and len(a.loss_history) == 2)
    with pytest.raises(InvalidInputError):
        registry.create("detector", "magnet_error").score(x)
    with pytest.raises(InvalidInputError):
        registry.create("detector", "magnet_divergence")  # needs the classifier
    with pytest.raises(CapabilityError):
        Fixed([0]).transform(x[:1])  # detectors without a reformer say so


def test_magnet_dense_autoencoder_on_flat_vectors(armour_digits):
    x = armour_digits.x_train[:400].reshape(400, 64)
    det = registry.create("detector", "magnet_error", epochs=3, architecture="dense").fit(x)
    check(det.autoencoder.architecture == "dense")
    out = det.transform(x[:5])
    check(out.shape == (5, 64) and out.min() >= 0 and out.max() <= 1)
    with pytest.raises(InvalidInputError):
        registry.create("detector", "magnet_error", epochs=1, architecture="conv").fit(x)


# ------------------------------------------------------------------------------------------ arrays in, arrays out
def test_tensor_in_tensor_out_and_bad_inputs(armour_lenet, armour_digits):
    ms = pytest.importorskip("mindspore")
    x = armour_digits.x_test[:4]
    det = registry.create("detector", "spatial_smoothing", model=armour_lenet).fit(armour_digits.x_train[:30])
    out = det.transform(ms.Tensor(x))
    check(isinstance(out, ms.Tensor) and out.shape == x.shape)
    check(np.allclose(det.score(ms.Tensor(x)), det.score(x)))
    bad = x.copy()
    bad[0, 0, 0, 0] = np.nan
    for case in (bad, x + 3.0, x[0], x.astype(np.int64)):
        with pytest.raises(InvalidInputError):
            det.score(case)
    with pytest.raises(ConfigError):
        registry.create("detector", "spatial_smoothing", model=armour_lenet, fpr=1.5)
