"""Randomized smoothing against its paper's definitions on a case with a closed form (no MindSpore).

Base classifier ``f(x) = 1[w·x + b > 0]``. Under ``N(0, σ² I)`` noise the top class has probability
``pA = Φ(|w·x + b| / (σ‖w‖))``, the smoothed classifier equals ``f`` and its exact L2 robustness radius is the
distance to the hyperplane, ``D = |w·x + b| / ‖w‖`` (Cohen et al.'s bound ``σ Φ⁻¹(pA)`` is tight here). So the
law of every output of PREDICT and CERTIFY is a finite binomial sum, computed below from the definitions (a
Clopper–Pearson bound, a two-sided binomial test) and compared with what the certifier returns for thousands
of independent runs (copies of one point in a batch draw independent noise). Tolerances: 6 standard errors of
the sampled mean (false alarm below 1e-8 per comparison).
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from armour_core import registry
from armour_core.api.model import Classifier
from armour_plugins_attacks.certified.base import ABSTAIN
from armour_plugins_attacks.certified.smoothing import binomial_p_values, clopper_pearson_lower

W, B, SIGMA = np.array([1.0, 2.0, -2.0, 0.5]), 0.3, 0.5


class Halfspace(Classifier):
    """``class 1`` iff ``w·x + b > 0`` (logits ``(0, w·x + b)``)."""

    capabilities = frozenset({"forward"})

    def __init__(self):
        super().__init__()
        self.bounds, self.num_classes, self.input_shape = (-50.0, 50.0), 2, (len(W),)

    def _logits(self, x):
        s = x.reshape(len(x), -1).astype(np.float64) @ W + B
        return np.stack([np.zeros_like(s), s], axis=1)


def point_at(distance: float) -> np.ndarray:
    """A point on the class-1 side at L2 ``distance`` from the hyperplane."""
    unit = W / np.linalg.norm(W)
    return (distance - B / np.linalg.norm(W)) * unit


def smoothing(**config):
    return registry.create("certifier", "randomized_smoothing", model=Halfspace(),
                           **{"sigma": SIGMA, "n0": 100, "n": 1000, "alpha": 0.01, **config})


def exact_certify(p_a: float, n0: int, n: int, alpha: float, distance: float) -> dict[str, float]:
    """Law of CERTIFY from its definition: the n0 votes pick class 1 when it has more of them (ties go to class
    0), then ``pA`` is the one-sided Clopper–Pearson bound of the n fresh votes for the picked class."""
    k = np.arange(n + 1)
    lower = np.where(k > 0, stats.beta.ppf(alpha, np.maximum(k, 1), n - k + 1), 0.0)
    certified = lower > 0.5
    radius = np.where(certified, SIGMA * stats.norm.ppf(np.where(certified, lower, 0.75)), 0.0)
    right = stats.binom.sf(n0 // 2, n0, p_a)  # P(class 1 gets more than half of the n0 votes)
    pmf_right, pmf_wrong = stats.binom.pmf(k, n, p_a), stats.binom.pmf(k, n, 1 - p_a)
    mix = right * pmf_right + (1 - right) * pmf_wrong
    return {"abstain": float(mix[~certified].sum()), "mean_radius": float(mix @ radius),
            "mean_sq_radius": float(mix @ radius ** 2),
            "violation": float(right * pmf_right[radius > distance].sum() + (1 - right) * pmf_wrong[certified].sum())}


def exact_predict(p_a: float, n: int, alpha: float) -> dict[str, float]:
    """Law of PREDICT: class 1 gets K ~ Bin(n, pA) of the n votes; answer the majority when the two-sided test
    of max(K, n-K) out of n against ½ rejects at alpha."""
    k = np.arange(n + 1)
    p = np.array([stats.binomtest(int(i), n, 0.5).pvalue for i in k])
    pmf = stats.binom.pmf(k, n, p_a)
    answers = p <= alpha
    return {"abstain": float(pmf[~answers].sum()), "wrong": float(pmf[answers & (k < n - k)].sum())}


def _close(observed: float, expected: float, sd: float, runs: int) -> None:
    assert abs(observed - expected) <= 6 * sd / np.sqrt(runs) + 1e-9, (observed, expected)


def test_statistics_match_scipy_reference():
    """The vectorised two-sided binomial test and Clopper–Pearson bound are scipy's ``binomtest`` (its exact
    interval at confidence 1 - 2α has the one-sided 1 - α bound as its lower end)."""
    n = 60
    for k in range(n + 1):
        assert binomial_p_values(np.array([k]), np.array([n - k]))[0] == pytest.approx(
            stats.binomtest(k, n, 0.5).pvalue, rel=1e-9, abs=1e-12)
        low = stats.binomtest(k, n).proportion_ci(confidence_level=1 - 2 * 0.01, method="exact").low
        assert clopper_pearson_lower(np.array([k]), n, 0.01)[0] == pytest.approx(low, rel=1e-7, abs=1e-12)


@pytest.mark.parametrize("p_a", [0.8, 0.95, 0.99])
def test_certify_radius_and_abstain_laws(p_a):
    """Over independent runs: the certified radius exceeds the true radius D (or the wrong class is certified)
    at most with probability α, and the abstain rate and the mean radius are those the definitions give."""
    distance = SIGMA * stats.norm.ppf(p_a)
    runs, c = 3000, smoothing(seed=int(100 * p_a))
    res = c.certify(np.repeat(point_at(distance)[None], runs, axis=0))
    law = exact_certify(p_a, c.config.n0, c.config.n, c.config.alpha, distance)
    assert law["violation"] <= c.config.alpha  # Proposition 2, in closed form
    violated = (res.labels != 1) & (res.labels != ABSTAIN) | (res.radii > distance + 1e-9)
    _close(violated.mean(), law["violation"], np.sqrt(c.config.alpha), runs)
    _close(res.abstain_rate, law["abstain"], np.sqrt(law["abstain"] * (1 - law["abstain"])) + 1e-3, runs)
    sd = np.sqrt(max(law["mean_sq_radius"] - law["mean_radius"] ** 2, 0.0))
    _close(res.radii.mean(), law["mean_radius"], sd + 1e-6, runs)
    assert np.all(res.radii <= SIGMA * stats.norm.ppf(c.config.alpha ** (1 / c.config.n)) + 1e-9)


def test_radius_approaches_the_true_radius_as_n_grows():
    """The certified radius is a lower bound that tightens as n grows: its mean rises towards D, stays within the
    exact law at each n, and the gap shrinks like the Clopper–Pearson bound's width, ∝ 1/√n."""
    p_a, runs = 0.95, 400
    distance = SIGMA * stats.norm.ppf(p_a)
    x = np.repeat(point_at(distance)[None], runs, axis=0)
    gaps = []
    for n in (100, 1000, 10_000):
        res = smoothing(n=n, alpha=0.001, seed=n).certify(x)
        law = exact_certify(p_a, 100, n, 0.001, distance)
        sd = np.sqrt(max(law["mean_sq_radius"] - law["mean_radius"] ** 2, 0.0))
        _close(res.radii.mean(), law["mean_radius"], sd + 1e-6, runs)
        gaps.append(distance - res.radii.mean())
    assert 0 < gaps[2] < gaps[1] < gaps[0], gaps
    # first-order width of the bound in radius units at n = 10,000: σ z_{1-α} √(pA(1-pA)/n) / φ(Φ⁻¹(pA))
    width = SIGMA * stats.norm.ppf(0.999) * np.sqrt(p_a * (1 - p_a) / 10_000) / stats.norm.pdf(stats.norm.ppf(p_a))
    assert gaps[2] < 1.5 * width and gaps[2] < 0.3 * gaps[0], (gaps, width)


@pytest.mark.parametrize("p_a", [0.5, 0.53, 0.6])
def test_predict_abstains_as_the_binomial_test_implies(p_a):
    """PREDICT's abstain and error rates are the binomial test's: on the hyperplane (pA = ½) it answers at all
    with probability ≤ α, and it answers the wrong class with probability ≤ α."""
    distance = SIGMA * stats.norm.ppf(p_a)
    runs, c = 3000, smoothing(n=200, alpha=0.05, seed=7)
    res = c.predict(np.repeat(point_at(distance)[None], runs, axis=0))
    law = exact_predict(p_a, 200, 0.05)
    if p_a == 0.5:
        assert 1 - law["abstain"] <= 0.05
    assert law["wrong"] <= 0.05
    _close(res.abstain_rate, law["abstain"], np.sqrt(law["abstain"] * (1 - law["abstain"])) + 1e-3, runs)
    wrong = (res.labels != ABSTAIN) & (res.labels != 1)
    _close(wrong.mean(), law["wrong"], np.sqrt(law["wrong"] * (1 - law["wrong"])) + 1e-3, runs)
    assert np.all((res.labels == ABSTAIN) == (res.p_values > 0.05))


def test_certify_is_vectorised_over_the_batch():
    """One batch of 50 points takes ceil(50 · (n0 + n) / batch_size) forward passes, not one per point."""
    c = smoothing(n0=20, n=180, batch_size=1000)
    res = c.certify(np.repeat(point_at(0.5)[None], 50, axis=0))
    assert res.forward_calls == 1 + 9 and res.queries == 50 * 200  # 50·20 selection rows, then 50·180 in 9 calls


def test_bad_config_is_named():
    from armour_core.errors import ConfigError

    for key, bad in (("sigma", 0.0), ("n", 0), ("n0", 0), ("alpha", 1.0), ("alpha", 0.0), ("batch_size", 0)):
        with pytest.raises(ConfigError, match=key):
            smoothing(**{key: bad})
