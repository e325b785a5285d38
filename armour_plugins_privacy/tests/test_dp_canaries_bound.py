"""The one-run audit's bound (Steinke, Nasr & Jagielski 2023, Section 5 and Appendix D) against values derived
independently: the binomial-tail inversion (scipy's beta quantiles), the all-correct closed form, the δ > 0
p-value with exact binomial coefficients; and the guesses. No MindSpore needed."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import beta

from armour_core.errors import InvalidInputError
from armour_plugins_privacy.dp.canaries import (CanaryAudit, best_guesses, count_correct, epsilon_lower_bound,
                                                guess_grid, p_value)


def _logit(q: float) -> float:
    return math.log(q / (1.0 - q))


# ---------------------------------------------------------------------- the bound
@pytest.mark.parametrize(("r", "v"), [(10, 9), (50, 40), (100, 80), (200, 190), (1000, 700)])
def test_pure_epsilon_bound_inverts_the_binomial_tail(r, v):
    """δ = 0: the bound is the ε whose q = e^ε/(1+e^ε) puts P[Bin(r, q) >= v] at 1 - confidence, i.e. the
    one-sided Clopper-Pearson lower end of the accuracy (a beta quantile), mapped through the logit."""
    for confidence in (0.9, 0.95, 0.99):
        q = beta.ppf(1 - confidence, v, r - v + 1)
        expected = max(0.0, _logit(q))
        assert epsilon_lower_bound(r, r, v, delta=0.0, confidence=confidence) == pytest.approx(expected, rel=1e-7,
                                                                                               abs=1e-9)


@pytest.mark.parametrize("r", [1, 5, 20, 100, 1000])
def test_all_correct_guesses_give_the_closed_form(r):
    """v = r: P[Bin(r, q) = r] = q^r, so the bound is logit(p^(1/r)) at level p = (1 - confidence)/choices."""
    for choices in (1, 8):
        p = 0.05 / choices
        expected = max(0.0, _logit(p ** (1.0 / r)))
        assert epsilon_lower_bound(r, r, r, delta=0.0, confidence=0.95, choices=choices) == pytest.approx(
            expected, rel=1e-9, abs=1e-12)


def _p_value_by_hand(m, r, v, eps, delta):
    """The δ > 0 p-value of the paper's (ε, δ) theorem with exact binomial coefficients and plain loops."""
    q = math.exp(eps) / (1 + math.exp(eps))
    pmf = [math.comb(r, k) * q ** k * (1 - q) ** (r - k) for k in range(r + 1)]
    tail = sum(pmf[v:])
    alpha = max((sum(pmf[v - i:v]) / i for i in range(1, v + 1)), default=0.0)
    return min(1.0, tail + 2 * m * delta * alpha)


@pytest.mark.parametrize(("m", "r", "v", "eps", "delta"), [(100, 40, 35, 1.0, 1e-5), (100, 40, 35, 2.5, 1e-3),
                                                         (500, 60, 60, 3.0, 1e-4), (64, 64, 20, 0.5, 1e-2),
                                                         (30, 10, 0, 1.0, 1e-3)])
def test_p_value_with_delta_matches_the_theorem(m, r, v, eps, delta):
    assert p_value(m, r, v, eps, delta) == pytest.approx(_p_value_by_hand(m, r, v, eps, delta), rel=1e-9, abs=1e-15)


def test_bound_orders():
    """More correct guesses, fewer choices, smaller δ and fewer canaries for the δ term: a larger bound; and
    the bound rejects exactly the ε whose p-value is below the level."""
    assert epsilon_lower_bound(200, 100, 90, delta=1e-5) > epsilon_lower_bound(200, 100, 80, delta=1e-5) > 0
    assert epsilon_lower_bound(200, 100, 90, delta=1e-5) > epsilon_lower_bound(200, 100, 90, delta=1e-5, choices=10)
    pure = epsilon_lower_bound(200, 100, 90, delta=0.0)
    assert pure > epsilon_lower_bound(200, 100, 90, delta=1e-4) > epsilon_lower_bound(200, 100, 90, delta=1e-3)
    assert epsilon_lower_bound(200, 100, 90, delta=1e-4) > epsilon_lower_bound(20000, 100, 90, delta=1e-4)
    eps = epsilon_lower_bound(300, 100, 90, delta=1e-4)
    assert p_value(300, 100, 90, eps * 0.999, 1e-4) < 0.05 <= p_value(300, 100, 90, eps * 1.001, 1e-4)
    assert epsilon_lower_bound(100, 100, 50, delta=1e-5) == 0.0  # chance-level guessing rejects nothing


def test_guesses_and_bad_input():
    scores = np.array([0.1, 0.9, 0.5, 0.3, 0.8, 0.2])
    included = np.array([False, True, False, False, True, True])
    assert count_correct(scores, included, 2, 0) == 2  # 0.9 and 0.8: both in
    assert count_correct(scores, included, 2, 2) == 3  # lowest 0.1 (out, right) and 0.2 (in, wrong)
    assert count_correct(scores, included, 0, 3) == 2
    assert guess_grid(64)[:2] == ((32, 32), (32, 0)) and min(k for k, _ in guess_grid(64)) == 4
    for bad in [dict(m=10, r=11, v=1), dict(m=10, r=5, v=6), dict(m=10, r=5, v=-1)]:
        with pytest.raises(InvalidInputError, match="correct <= guesses <= canaries"):
            epsilon_lower_bound(bad["m"], bad["r"], bad["v"], delta=1e-5)
    with pytest.raises(InvalidInputError, match="confidence"):
        epsilon_lower_bound(10, 10, 10, delta=1e-5, confidence=1.0)
    with pytest.raises(InvalidInputError, match="audit_canaries"):
        CanaryAudit(1)
    with pytest.raises(InvalidInputError, match="audit_kind"):
        CanaryAudit(16, kind="poison")
    with pytest.raises(InvalidInputError, match="guesses"):
        CanaryAudit(16, guesses=(10, 10))
    with pytest.raises(InvalidInputError, match="pool"):
        CanaryAudit(16, pool=(np.zeros((20, 2)), np.zeros(20)))


# ---------------------------------------------------------------------- audits of mechanisms with a known ε
def _audit(scores, included, delta):
    return best_guesses(scores, included, delta=delta, confidence=0.95, grid=guess_grid(len(scores)))["epsilon_lower"]


@pytest.mark.parametrize("eps", [1.0, 2.0])
def test_randomized_response_audit_is_valid_and_nearly_tight(eps):
    """Each canary's output is its inclusion bit flipped with probability 1/(1+e^ε): exactly ε-DP per canary.
    Over 40 audits of 4000 canaries (the k-sweep included) the 95% bound exceeds ε at most twice, and on
    average reaches 85% of it: the procedure is the paper's, not merely conservative."""
    rng = np.random.default_rng(1)
    bounds = []
    for _ in range(40):
        included = rng.random(4000) < 0.5
        honest = rng.random(4000) < math.exp(eps) / (1 + math.exp(eps))
        bounds.append(_audit(np.where(honest, included, ~included).astype(float), included, 0.0))
    bounds = np.array(bounds)
    assert (bounds > eps).sum() <= 2 and bounds.mean() >= 0.85 * eps


def _gaussian_delta(eps: float, mu: float) -> float:
    """δ(ε) of the Gaussian mechanism with sensitivity / σ = μ (Balle & Wang 2018)."""
    from scipy.stats import norm

    return norm.cdf(-eps / mu + mu / 2) - math.exp(eps) * norm.cdf(-eps / mu - mu / 2)


def test_gaussian_mechanism_audit_stays_below_its_exact_epsilon():
    """Scores N(μ·b, 1) per canary: the Gaussian mechanism, whose exact ε at δ solves δ(ε) = δ. The δ > 0
    bound never exceeds that ε and reaches a quarter of it with 1000 canaries."""
    from scipy.optimize import brentq

    delta = 1e-5
    for mu in (1.0, 2.0):
        exact = brentq(lambda e, mu=mu: _gaussian_delta(e, mu) - delta, 0, 100)
        rng = np.random.default_rng(int(mu))
        bounds = []
        for _ in range(20):
            included = rng.random(1000) < 0.5
            bounds.append(_audit(rng.normal(size=1000) + mu * included, included, delta))
        assert max(bounds) < exact and np.mean(bounds) > 0.25 * exact
