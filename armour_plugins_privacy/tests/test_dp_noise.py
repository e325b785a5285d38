"""Noise mechanisms: declared statistics (tolerances from the normal and chi-square laws), secure noise,
reproducibility, the decay schedules, and bad inputs."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from armour_core import registry
from armour_core.errors import ConfigError, InvalidInputError, UnknownPluginError
from armour_core.secure_random import SecureGenerator

ALPHA = 1e-6  # two-sided false-alarm rate of each statistical check


def test_secure_noise_is_not_reproducible():
    """CSPRNG noise ignores the seed by design: two mechanisms with the same seed draw different noise."""
    a = registry.create("noise", "gaussian", noise_multiplier=0.9, secure=True, seed=1).sample((100,))
    b = registry.create("noise", "gaussian", noise_multiplier=0.9, secure=True, seed=1).sample((100,))
    assert not np.array_equal(a, b)


def _check_gaussian(samples: np.ndarray, sd: float) -> None:
    """Mean: z-test; variance: (n−1)s²/σ² ~ χ²(n−1). Both two-sided at ALPHA."""
    n = samples.size
    z = samples.mean() / (sd / np.sqrt(n))
    assert abs(z) < stats.norm.ppf(1 - ALPHA / 2), f"mean {samples.mean()} (z={z:.2f})"
    chi = (n - 1) * samples.var(ddof=1) / sd ** 2
    lo, hi = stats.chi2.ppf([ALPHA / 2, 1 - ALPHA / 2], n - 1)
    assert lo < chi < hi, f"variance {samples.var(ddof=1)} vs {sd ** 2}"
    # tails: fraction beyond 2σ matches 2·Φ(−2) within a binomial interval
    p = 2 * stats.norm.sf(2.0)
    k = int(np.sum(np.abs(samples) > 2 * sd))
    lo_k, hi_k = stats.binom.ppf([ALPHA / 2, 1 - ALPHA / 2], n, p)
    assert lo_k <= k <= hi_k, f"{k} samples beyond 2 sd, expected ~{n * p:.0f}"


@pytest.mark.parametrize("secure", [False, True], ids=["seeded", "secure"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_gaussian_statistics(secure, dtype):
    mech = registry.create("noise", "gaussian", noise_multiplier=1.1, clip_norm=2.0, secure=secure)
    s = mech.sample((400, 500), step=3, dtype=dtype)
    assert s.shape == (400, 500) and s.dtype == dtype
    _check_gaussian(s.astype(np.float64).ravel(), 2.2)
    # the current clip norm (adaptive clipping) rescales the noise
    _check_gaussian(mech.sample(100_000, clip_norm=0.5).ravel(), 0.55)


@pytest.mark.parametrize("n", [1, 2, 7, 10_001])
def test_float32_box_muller_shapes_and_reproducibility(n):
    """The float32 sampler (Box–Muller, both outputs used) returns exactly ``n`` finite values, the same for
    the same seed and stream, for odd and even ``n``."""
    from armour_plugins_privacy.dp.noise import normal_float32

    a = normal_float32(np.random.default_rng(5), n, 0.7)
    b = normal_float32(np.random.default_rng(5), n, 0.7)
    assert a.shape == (n,) and a.dtype == np.float32 and np.isfinite(a).all()
    np.testing.assert_array_equal(a, b)


def test_float32_noise_is_gaussian_in_shape_and_tails():
    """Four million float32 draws: Kolmogorov–Smirnov against N(0, σ²) at ALPHA, and the counts beyond 3σ and
    4.5σ within their binomial intervals. Float32 uniforms would cut the tails at 5.8σ (a truncated Gaussian is
    not the mechanism the accountant charges); the radius comes from 53-bit uniforms, so no draw is truncated
    there: with this many draws, beyond 4.5σ is expected ~27 times."""
    from armour_plugins_privacy.dp.noise import normal_float32

    sd = 1.3
    z = normal_float32(np.random.default_rng(11), 4_000_000, sd).astype(np.float64)
    assert stats.kstest(z[:1_000_000] / sd, "norm").pvalue > ALPHA
    for t in (3.0, 4.5):
        p = 2 * stats.norm.sf(t)
        k = int(np.sum(np.abs(z) > t * sd))
        lo, hi = stats.binom.ppf([ALPHA / 2, 1 - ALPHA / 2], z.size, p)
        assert lo <= k <= hi, f"{k} draws beyond {t} sd, expected ~{z.size * p:.0f}"
    # the two Box–Muller outputs of a pair are independent: correlation of the halves ~ N(0, 1/m)
    m = z.size // 2
    r = np.corrcoef(z[:m], z[m:2 * m])[0, 1]
    assert abs(r) < stats.norm.ppf(1 - ALPHA / 2) / np.sqrt(m)


def test_secure_generator_uniforms_and_integers():
    g = SecureGenerator()
    u = g.random(200_000)
    assert u.min() >= 0.0 and u.max() < 1.0
    assert stats.kstest(u, "uniform").pvalue > ALPHA
    k = g.integers(0, 7, size=70_000)
    counts = np.bincount(k, minlength=7)
    assert stats.chisquare(counts).pvalue > ALPHA


def test_seed_zero_is_a_seed_not_os_randomness():
    """MindSpore/MindArmour treat seed=0 as "random"; here 0 is an ordinary, reproducible seed."""
    a = registry.create("noise", "gaussian", noise_multiplier=1.0, seed=0).sample(50)
    b = registry.create("noise", "gaussian", noise_multiplier=1.0, seed=0).sample(50)
    c = registry.create("noise", "gaussian", noise_multiplier=1.0, seed=1).sample(50)
    d = registry.create("noise", "gaussian", noise_multiplier=1.0, seed=None).sample(50)
    e = registry.create("noise", "gaussian", noise_multiplier=1.0, seed=None).sample(50)
    assert np.array_equal(a, b) and not np.array_equal(a, c) and not np.array_equal(d, e)


def test_reseed_gives_fresh_streams_per_session():
    mech = registry.create("noise", "gaussian", noise_multiplier=1.0, seed=5)
    mech.reseed(0)
    s0 = mech.sample(20)
    mech.reseed(1)
    s1 = mech.sample(20)
    mech.reseed(0)
    assert not np.array_equal(s0, s1) and np.array_equal(mech.sample(20), s0)


@pytest.mark.parametrize("policy", ["time", "step"])
def test_ada_gaussian_schedule(policy):
    mech = registry.create("noise", "ada_gaussian", noise_multiplier=2.0, decay_rate=0.01, decay_policy=policy,
                           min_noise_multiplier=0.5)
    for t in (0, 1, 10, 100):
        want = 2.0 / (1 + 0.01 * t) if policy == "time" else 2.0 * 0.99 ** t
        assert mech.noise_multiplier_at(t) == pytest.approx(max(want, 0.5))
    assert mech.noise_multiplier_at(10_000) == 0.5  # floored
    assert mech.stddev(10, clip_norm=3.0) == pytest.approx(3.0 * mech.noise_multiplier_at(10))
    _check_gaussian(mech.sample(100_000, step=50), mech.stddev(50))


@pytest.mark.parametrize("bad", [{"noise_multiplier": 0.0}, {"noise_multiplier": -1.0}, {"clip_norm": 0.0},
                                 {"sigma": 1.0}])
def test_bad_config_is_rejected(bad):
    with pytest.raises(ConfigError, match=next(iter(bad)) if "sigma" not in bad else "unknown config key"):
        registry.create("noise", "gaussian", **bad)


def test_bad_sample_arguments():
    mech = registry.create("noise", "gaussian", noise_multiplier=1.0)
    with pytest.raises(InvalidInputError, match="clip_norm"):
        mech.sample(3, clip_norm=0.0)
    with pytest.raises(InvalidInputError, match="dtype"):
        mech.sample(3, dtype=np.int32)
    with pytest.raises(UnknownPluginError, match="gaussian"):
        registry.create("noise", "gausian")
