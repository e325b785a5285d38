"""Seed schedulers pick per their published definitions.

Each scheduler states its selection distribution in closed form; the closed forms are checked against
hand-computed values from the definitions, and observed frequencies over N draws against the closed form
with a per-cell tolerance of 5 binomial standard deviations, 5 * sqrt(p (1 - p) / N) (a false alarm has
probability below 1e-6 per cell).
"""

from __future__ import annotations

import numpy as np
import pytest

from armour_core import registry
from armour_core.errors import ConfigError, InvalidInputError

N = 20000


def stats(fuzz_count, gain=None):
    f = np.asarray(fuzz_count)
    n = len(f)
    return {"fuzz_count": f, "gain": np.zeros(n) if gain is None else np.asarray(gain, float),
            "age": np.arange(n)[::-1], "order": np.arange(n), "depth": np.zeros(n, int)}


def frequencies(sched, st, n=N, seed=0, reset=None):
    rng = np.random.default_rng(seed)
    counts = np.zeros(len(st["fuzz_count"]))
    for _ in range(n):
        if reset is not None:
            reset()
        counts[sched.select(st, rng)] += 1
    return counts / n


def assert_matches(freq, p, n=N):
    tol = 5 * np.sqrt(p * (1 - p) / n) + 1e-12
    assert np.all(np.abs(freq - p) <= tol), (freq, p, tol)


def test_records():
    assert {"coverage_gain", "uniform", "recency", "deephunter"} <= set(registry.names("scheduler"))
    assert registry.spec("scheduler", "prob").name == "deephunter"
    assert registry.spec("scheduler", "tensorfuzz").name == "recency"


def test_uniform():
    s = registry.create("scheduler", "uniform")
    st = stats([0, 5, 2, 9, 1])
    np.testing.assert_allclose(s.probabilities(st), 0.2)
    assert_matches(frequencies(s, st), s.probabilities(st))


def test_coverage_gain_unfuzzed_first_then_by_gain():
    s = registry.create("scheduler", "coverage_gain", floor=0.1)
    st = stats([0, 3, 0, 1], gain=[0.0, 0.5, 0.2, 0.1])
    np.testing.assert_allclose(s.probabilities(st), [0.5, 0, 0.5, 0])  # MindArmour: each entry fuzzed once
    assert_matches(frequencies(s, st), s.probabilities(st))
    st = stats([1, 3, 2, 1], gain=[0.0, 0.5, 0.2, 0.1])
    w = np.array([0.0, 0.5, 0.2, 0.1]) + 0.1 * 0.5
    np.testing.assert_allclose(s.probabilities(st), w / w.sum())
    assert_matches(frequencies(s, st), w / w.sum())
    np.testing.assert_allclose(s.probabilities(stats([1, 1, 1])), 1 / 3)  # nothing gained: uniform


def test_recency_reservoir():
    s = registry.create("scheduler", "recency", window=3)
    st = stats([0] * 6)
    # reservoir = 3 newest (order 3, 4, 5) + one uniform entry; draw uniformly from the 4
    expected = np.array([0, 0, 0, 1, 1, 1]) / 4 + 1 / (6 * 4)
    np.testing.assert_allclose(s.probabilities(st), expected)
    assert_matches(frequencies(s, st), expected)
    small = stats([0, 0])  # fewer entries than the window: m = n
    np.testing.assert_allclose(s.probabilities(small), [0.5, 0.5])


def test_deephunter_acceptance_is_eq3():
    s = registry.create("scheduler", "deephunter", gamma=5.0, p_min=0.3)
    np.testing.assert_allclose(s.accept_probability([0, 1, 2, 3, 4, 10]), [1.0, 0.8, 0.6, 0.4, 0.3, 0.3])


def test_deephunter_scan_distribution():
    s = registry.create("scheduler", "deephunter", gamma=5.0, p_min=0.3)
    st = stats([4, 2, 4, 1, 4])  # accept probabilities 0.3, 0.6, 0.3, 0.8, 0.3
    p = np.array([0.3, 0.6, 0.3, 0.8, 0.3])
    for cursor in (0, 3):
        s.load_state({"cursor": cursor})
        order = (cursor + np.arange(5)) % 5
        q = p[order]
        first = q * np.concatenate([[1.0], np.cumprod(1 - q)[:-1]]) / (1 - np.prod(1 - q))
        expected = np.empty(5)
        expected[order] = first
        np.testing.assert_allclose(s.probabilities(st), expected)
        assert_matches(frequencies(s, st, reset=lambda c=cursor: s.load_state({"cursor": c})), expected)


def test_deephunter_prefers_new_and_rarely_fuzzed():
    s = registry.create("scheduler", "deephunter")
    st = stats([9, 9, 9, 0])  # an unfuzzed entry right after the cursor is taken for sure
    s.load_state({"cursor": 3})
    assert s.select(st, np.random.default_rng(0)) == 3 and s.state() == {"cursor": 0}
    # over a long run with fuzz counts updated, every entry gets fuzzed and the counts stay balanced
    rng = np.random.default_rng(1)
    f = np.zeros(6, int)
    for _ in range(600):
        f[s.select(stats(f), rng)] += 1
    assert f.min() > 0.5 * f.mean()


def test_select_rejects_bad_stats():
    s = registry.create("scheduler", "uniform")
    with pytest.raises(InvalidInputError, match="empty"):
        s.select({}, np.random.default_rng(0))
    with pytest.raises(InvalidInputError, match="empty"):
        s.select(stats([]), np.random.default_rng(0))
    with pytest.raises(InvalidInputError, match="equal lengths"):
        s.select({"fuzz_count": np.zeros(3), "gain": np.zeros(2)}, np.random.default_rng(0))


@pytest.mark.parametrize("name,bad", [("deephunter", {"gamma": 0.0}), ("deephunter", {"p_min": 0.0}),
                                      ("recency", {"window": 0}), ("coverage_gain", {"floor": -1.0}),
                                      ("uniform", {"bogus": 1})])
def test_configs_reject_invalid(name, bad):
    with pytest.raises(ConfigError):
        registry.create("scheduler", name, **bad)
