"""Membership metrics and the DP-audit statistics, checked against scikit-learn, scipy and hand counts.

No MindSpore needed: the audit's soundness is tested on a randomized-response "training" whose privacy
is exactly ε, so its empirical lower bound must stay below ε (and come close with many trials)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import beta
from sklearn.metrics import roc_auc_score

from armour_core.api.inference import (membership_metrics, risk_scores, roc_curve, tpr_at_fpr)
from armour_core.api.model import Classifier
from armour_core.errors import InvalidInputError
from armour_plugins_privacy.dp.audit import audit, clopper_pearson, epsilon_lower_bound, make_canaries
from armour_plugins_privacy.inference.shadows import row_keys


@pytest.mark.parametrize("seed", range(5))
def test_auc_matches_sklearn_with_ties(seed):
    rng = np.random.default_rng(seed)
    sm = np.round(rng.normal(0.5, 1, 300), 1)  # rounding creates many ties
    sn = np.round(rng.normal(0.0, 1, 200), 1)
    r = membership_metrics(sm, sn)
    ref = roc_auc_score(np.r_[np.ones(300), np.zeros(200)], np.r_[sm, sn])
    assert r.auc == pytest.approx(ref, abs=1e-12)


def test_tpr_at_fpr_hand_computed():
    # non-members 0..9, members 12, 11, 10, 8.5, 5.5 (no ties: the ROC is a staircase)
    sn = np.arange(10.0)
    sm = np.array([5.5, 8.5, 10.0, 11.0, 12.0])
    fpr, tpr, thr = roc_curve(sm, sn)
    # threshold 10: 3/5 members, 0 non-members; 9: (0.1, 0.6); 8.5: (0.1, 0.8); 6: (0.4, 0.8); 5.5: (0.4, 1)
    assert tpr_at_fpr(fpr, tpr, 0.0) == pytest.approx(0.6)
    assert tpr_at_fpr(fpr, tpr, 0.05) == pytest.approx(0.6)
    assert tpr_at_fpr(fpr, tpr, 0.1) == pytest.approx(0.8)
    assert tpr_at_fpr(fpr, tpr, 0.39) == pytest.approx(0.8)
    assert tpr_at_fpr(fpr, tpr, 0.4) == pytest.approx(1.0)
    r = membership_metrics(sm, sn, fprs=(0.05,), decision_threshold=10.0)
    assert r.tpr_at_fpr[0.05] == pytest.approx(0.6) and r.tpr_at_fpr_floor[0.05] == pytest.approx(0.6)
    assert r.precision == pytest.approx(1.0) and r.recall == pytest.approx(0.6)
    assert r.accuracy == pytest.approx((3 + 10) / 15)
    # best balanced accuracy: threshold 8.5 -> (0.8 + 0.9) / 2 = 0.85
    assert r.balanced_accuracy == pytest.approx(0.85) and r.best_threshold == pytest.approx(8.5)


def test_interpolation_across_ties():
    """A tie group of 1 non-member and 3 members is crossed diagonally: random tie-breaking."""
    sn = np.arange(10.0)
    sm = np.array([20.0, 5.0, 5.0, 5.0])
    fpr, tpr, _ = roc_curve(sm, sn)
    # (0.4, 0.25) at threshold 6, then the tie group at 5 jumps to (0.5, 1.0)
    assert tpr_at_fpr(fpr, tpr, 0.45) == pytest.approx(0.25 + 0.5 * 0.75)
    assert tpr_at_fpr(fpr, tpr, 0.45, interpolate=False) == pytest.approx(0.25)


def test_low_fpr_when_n_fpr_below_one():
    """N=100 non-members: TPR at FPR 0.1% never uses a threshold with FPR 1%; with a member tied with the
    top non-member, the tie is split linearly; the report flags the resolution limit."""
    sn = np.arange(100.0)
    sm = np.array([150.0, 99.0, 50.0])
    fpr, tpr, _ = roc_curve(sm, sn)
    assert tpr_at_fpr(fpr, tpr, 0.001, interpolate=False) == pytest.approx(1 / 3)
    assert tpr_at_fpr(fpr, tpr, 0.001) == pytest.approx(1 / 3 + 0.1 * (1 / 3))
    r = membership_metrics(sm, sn)
    assert r.tpr_at_fpr_floor[0.001] == pytest.approx(1 / 3)
    assert any("N*FPR" in n for n in r.notes)
    alphas = np.linspace(0, 0.05, 51)
    vals = [tpr_at_fpr(fpr, tpr, a) for a in alphas]
    assert np.all(np.diff(vals) >= -1e-12)
    # a threshold-based cross-check: the deterministic value is the best TPR over thresholds with FPR <= a
    for a in (0.0, 0.005, 0.01, 0.3):
        ok = [np.mean(sm >= t) for t in np.r_[sm, sn, np.inf] if np.mean(sn >= t) <= a]
        assert tpr_at_fpr(fpr, tpr, a, interpolate=False) == pytest.approx(max(ok))


def test_risk_scores_are_nonmember_quantiles():
    sn = np.array([0.0, 1.0, 2.0, 3.0])
    assert np.allclose(risk_scores([-1.0, 1.0, 10.0], sn), [0.0, (1 + 0.5) / 4, 1.0])


def test_metrics_reject_bad_scores():
    with pytest.raises(InvalidInputError, match="scores_member"):
        membership_metrics([], [1.0])
    with pytest.raises(InvalidInputError, match="NaN"):
        membership_metrics([np.nan], [1.0])
    with pytest.raises(InvalidInputError, match="fprs"):
        membership_metrics([1.0], [0.0], fprs=(0.0,))
    with pytest.raises(InvalidInputError, match="alpha"):
        tpr_at_fpr(np.array([0.0, 1.0]), np.array([0.0, 1.0]), 1.5)


# ------------------------------------------------------------------------------------------ audit statistics
@pytest.mark.parametrize("k,n", [(0, 10), (3, 10), (10, 10), (17, 400), (1, 1)])
def test_clopper_pearson_matches_scipy_beta(k, n):
    lo, hi = clopper_pearson(k, n, 0.05)
    ref_lo = 0.0 if k == 0 else beta.ppf(0.025, k, n - k + 1)
    ref_hi = 1.0 if k == n else beta.ppf(0.975, k + 1, n - k)
    assert lo == pytest.approx(ref_lo, abs=1e-12) and hi == pytest.approx(ref_hi, abs=1e-12)
    assert lo <= k / n <= hi


def test_clopper_pearson_coverage():
    """The interval covers the true p in at least 95% of draws (it is conservative)."""
    rng = np.random.default_rng(0)
    p, n = 0.3, 40
    hits = [lo <= p <= hi for lo, hi in (clopper_pearson(int(k), n) for k in rng.binomial(n, p, 400))]
    assert np.mean(hits) >= 0.95


def test_clopper_pearson_bad_inputs():
    with pytest.raises(InvalidInputError, match="trials"):
        clopper_pearson(0, 0)
    with pytest.raises(InvalidInputError, match="successes"):
        clopper_pearson(5, 3)
    with pytest.raises(InvalidInputError, match="alpha"):
        clopper_pearson(1, 3, alpha=1.0)


def test_epsilon_bound_formula():
    eps, fpr_hi, fnr_hi = epsilon_lower_bound(5, 500, 100, 500, delta=1e-5)
    expected = max(math.log((1 - 1e-5 - fnr_hi) / fpr_hi), math.log((1 - 1e-5 - fpr_hi) / fnr_hi))
    assert eps == pytest.approx(expected)
    assert fpr_hi == pytest.approx(beta.ppf(0.975, 6, 495))
    assert epsilon_lower_bound(250, 500, 250, 500, delta=1e-5)[0] == 0.0  # a coin flip proves nothing
    with pytest.raises(InvalidInputError, match="delta"):
        epsilon_lower_bound(1, 10, 1, 10, delta=1.0)


class _RandomizedResponse(Classifier):
    """A "model" whose only output about a canary is its membership bit through randomized response:
    exactly ε-DP with respect to each canary."""

    bounds = (0.0, 1.0)
    num_classes = 10
    input_shape = None

    def __init__(self, train_keys, eps, seed, labels_of):
        super().__init__()
        self.train_keys, self.eps, self.seed, self.labels_of = train_keys, eps, seed, labels_of

    def _logits(self, x):
        y = self.labels_of(x)
        member = np.isin(row_keys(x, y), self.train_keys)
        truthful = np.random.default_rng(self.seed).random(len(x)) < math.exp(self.eps) / (1 + math.exp(self.eps))
        says_member = member == truthful
        z = np.zeros((len(x), 10))
        z[np.arange(len(x)), y] = np.where(says_member, 10.0, -10.0)
        return z


def _rr_audit(eps, seed, runs=40, canaries=50):
    rng = np.random.default_rng(123)
    x = rng.random((200, 6)).astype(np.float32)
    y = rng.integers(0, 10, 200)
    cx, cy = make_canaries(x, y, canaries, num_classes=10, seed=seed)
    x_train, y_train = rng.random((30, 6)).astype(np.float32), rng.integers(0, 10, 30)
    table = dict(zip(row_keys(cx, np.zeros(len(cx))).tolist(), cy.tolist()))

    def labels_of(q):
        return np.array([table[k] for k in row_keys(q, np.zeros(len(q))).tolist()])

    def train_fn(tx, ty, s):
        return _RandomizedResponse(row_keys(tx, ty), eps, s, labels_of), eps

    return audit(train_fn, x_train, y_train, canary_x=cx, canary_y=cy, runs=runs, delta=0.0, seed=seed,
                 num_classes=10)


def test_audit_is_sound_and_tight_on_randomized_response():
    res = _rr_audit(1.0, seed=0)
    assert res.accountant_epsilon == 1.0
    assert 0.5 < res.epsilon_lower <= 1.0, res.describe()
    # soundness over many independent audits: the 95% bound exceeds the true epsilon rarely
    exceed = [_rr_audit(1.0, seed=s, runs=10, canaries=20).epsilon_lower > 1.0 for s in range(1, 21)]
    assert np.mean(exceed) <= 0.2  # binomial(20, <=0.05): P[>=5 exceedances] < 0.003
    assert _rr_audit(0.0, seed=3).epsilon_lower < 0.3  # no privacy loss, (almost) no bound


def test_audit_bad_inputs():
    x = np.random.default_rng(0).random((20, 4)).astype(np.float32)
    y = np.arange(20) % 3
    with pytest.raises(InvalidInputError, match="runs"):
        audit(lambda a, b, s: None, x, y, runs=0)
    with pytest.raises(InvalidInputError, match="train_fn"):
        audit("not callable", x, y)
    with pytest.raises(InvalidInputError, match="canaries"):
        audit(lambda a, b, s: None, x, y, canaries=50)
    with pytest.raises(InvalidInputError, match="x"):
        audit(lambda a, b, s: None, x[:0], y[:0])
    with pytest.raises(InvalidInputError, match="y"):
        audit(lambda a, b, s: None, x, y[:5])
    with pytest.raises(InvalidInputError, match="kind"):
        make_canaries(x, y, 3, num_classes=3, kind="bogus")


def test_tied_scores_give_a_finite_best_threshold():
    """All scores tied (an attack that finds nothing, e.g. RMIA dominating no population point): balanced
    accuracy 1/2 at a finite threshold, so the report stays valid JSON."""
    import json

    from armour_core.api.inference import membership_metrics

    r = membership_metrics(np.zeros(5), np.zeros(7))
    assert r.balanced_accuracy == 0.5 and r.best_threshold == 0.0 and r.auc == 0.5
    json.dumps(r.to_dict(), allow_nan=False)
