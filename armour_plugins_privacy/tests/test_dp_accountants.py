"""Accountants against dp-accounting, calibration round trips, clip policies and bad inputs."""

from __future__ import annotations

import math

import dp_accounting
import numpy as np
import pytest
from dp_accounting import pld as dp_pld
from dp_accounting import rdp as dp_rdp
from hypothesis import given, settings
from hypothesis import strategies as st

from armour_core import registry
from armour_core.errors import ConfigError, InvalidInputError, UnknownPluginError
from armour_plugins_privacy.dp.calibration import calibrate_noise, epsilon_for


PLD_GRID = 1e-3  # coarser than the default 1e-4 to keep the suite fast; the comparison uses the same grid


def _reference(kind: str, q: float, sigma: float, steps: int, delta: float) -> float:
    event = dp_accounting.PoissonSampledDpEvent(q, dp_accounting.GaussianDpEvent(sigma))
    acc = dp_rdp.RdpAccountant() if kind == "rdp" else dp_pld.PLDAccountant(value_discretization_interval=PLD_GRID)
    acc.compose(event, steps)
    return acc.get_epsilon(delta)


@settings(max_examples=5, deadline=None, derandomize=True)
@given(q=st.floats(1e-3, 0.1), sigma=st.floats(0.8, 4.0), steps=st.integers(1, 1000),
       log_delta=st.floats(-9, -3))
def test_epsilon_equals_dp_accounting(q, sigma, steps, log_delta):
    delta = 10.0 ** log_delta
    for kind in ("rdp", "pld"):
        config = {"value_discretization_interval": PLD_GRID} if kind == "pld" else {}
        acc = registry.create("accountant", kind, **config)
        # split the run into uneven chunks: composition must not depend on how steps are reported
        first = steps // 3
        if first:
            acc.step(noise_multiplier=sigma, sampling_rate=q, steps=first)
        acc.step(noise_multiplier=sigma, sampling_rate=q, steps=steps - first)
        ours, ref = acc.epsilon(delta), _reference(kind, q, sigma, steps, delta)
        assert ours == pytest.approx(ref, rel=1e-3, abs=1e-6), kind


def test_zcdp_without_sampling_is_exact_zcdp():
    acc = registry.create("accountant", "zcdp").step(noise_multiplier=2.0, sampling_rate=1.0, steps=50)
    ref = dp_rdp.RdpAccountant()
    ref.compose(dp_accounting.ZCDpEvent(50 / (2 * 2.0 ** 2)))
    assert acc.epsilon(1e-5) == pytest.approx(ref.get_epsilon(1e-5), rel=1e-9)


def test_zcdp_uses_subsampling():
    """MindArmour's zCDP monitor ignores the sampling rate (ε ≈ 250 where RDP gives ≈ 2)."""
    sub = registry.create("accountant", "zcdp").step(noise_multiplier=1.1, sampling_rate=0.01, steps=1000)
    full = registry.create("accountant", "zcdp").step(noise_multiplier=1.1, sampling_rate=1.0, steps=1000)
    rdp = registry.create("accountant", "rdp").step(noise_multiplier=1.1, sampling_rate=0.01, steps=1000)
    assert sub.epsilon(1e-5) < 3.0 < 100 < full.epsilon(1e-5)
    assert sub.epsilon(1e-5) >= rdp.epsilon(1e-5) - 1e-9  # never tighter than RDP
    # heterogeneous composition: still sound (≥ RDP) and close to it
    for acc in (sub, rdp):
        acc.step(noise_multiplier=3.0, sampling_rate=0.05, steps=200)
    assert rdp.epsilon(1e-5) <= sub.epsilon(1e-5) <= 1.5 * rdp.epsilon(1e-5)


def test_pld_is_tightest():
    eps = {k: registry.create("accountant", k).step(noise_multiplier=1.0, sampling_rate=0.02, steps=500).epsilon(1e-5)
           for k in ("rdp", "pld", "zcdp")}
    assert eps["pld"] < eps["rdp"] <= eps["zcdp"] + 1e-9


def test_shuffled_batches_get_no_amplification():
    poisson = registry.create("accountant", "rdp").step(noise_multiplier=1.0, sampling_rate=0.01, steps=100)
    shuffle = registry.create("accountant", "rdp").step(noise_multiplier=1.0, sampling_rate=0.01, steps=100,
                                                        sampling="shuffle")
    ref = dp_rdp.RdpAccountant()
    ref.compose(dp_accounting.GaussianDpEvent(0.5))  # one pass, replace-one: sensitivity 2C
    assert shuffle.epsilon(1e-5) == pytest.approx(ref.get_epsilon(1e-5))
    assert shuffle.epsilon(1e-5) > 5 * poisson.epsilon(1e-5)


@pytest.mark.parametrize("accountant", ["rdp", ("pld", {"value_discretization_interval": 2e-3})],
                         ids=["rdp", "pld"])
def test_calibration_round_trip(accountant):
    q, steps, target = 0.01, 300, 2.0
    sigma = calibrate_noise(target, 1e-5, q, steps, accountant=accountant, rtol=5e-3)
    eps = epsilon_for(sigma, delta=1e-5, sampling_rate=q, steps=steps, accountant=accountant)
    assert eps <= target
    # a slightly smaller σ overshoots: the calibration is tight, not merely safe
    assert epsilon_for(sigma / 1.01, delta=1e-5, sampling_rate=q, steps=steps, accountant=accountant) > target
    assert eps > 0.97 * target


def test_calibration_matches_dp_accounting_calibrator():
    q, steps = 0.02, 300
    ours = calibrate_noise(1.5, 1e-6, q, steps, accountant="rdp", rtol=1e-4)
    ref = dp_accounting.calibrate_dp_mechanism(
        dp_rdp.RdpAccountant,
        lambda s: dp_accounting.SelfComposedDpEvent(
            dp_accounting.PoissonSampledDpEvent(q, dp_accounting.GaussianDpEvent(s)), steps),
        1.5, 1e-6, dp_accounting.LowerEndpointAndGuess(0.1, 1.0))
    assert ours == pytest.approx(ref, rel=2e-3)


@pytest.mark.parametrize("kwargs, match", [
    ({"target_epsilon": 0.0}, "target_epsilon"), ({"target_epsilon": -1.0}, "target_epsilon"),
    ({"delta": 0.0}, "delta"), ({"delta": 1.0}, "delta"), ({"delta": 1.5}, "delta"),
    ({"sampling_rate": 0.0}, "sampling_rate"), ({"sampling_rate": 1.5}, "sampling_rate"),
    ({"steps": 0}, "steps"), ({"accountant": "nope"}, "nope"), ({"target_epsilon": 1e-4}, "unreachable")])
def test_calibration_bad_inputs(kwargs, match):
    args = {"target_epsilon": 1.0, "delta": 1e-5, "sampling_rate": 0.01, "steps": 100, "accountant": "rdp", **kwargs}
    with pytest.raises((InvalidInputError, UnknownPluginError), match=match):
        calibrate_noise(**args)


@pytest.mark.parametrize("kwargs, match", [
    ({"noise_multiplier": 0.0}, "noise_multiplier"), ({"noise_multiplier": -2.0}, "noise_multiplier"),
    ({"noise_multiplier": math.nan}, "noise_multiplier"), ({"sampling_rate": 0.0}, "sampling_rate"),
    ({"steps": 0}, "steps"), ({"sampling": "random"}, "sampling")])
def test_accountant_bad_steps(kwargs, match):
    args = {"noise_multiplier": 1.0, "sampling_rate": 0.01, "steps": 1, **kwargs}
    with pytest.raises(InvalidInputError, match=match):
        registry.create("accountant", "rdp").step(**args)


@pytest.mark.parametrize("delta", [0.0, 1.0, -0.1, 2.0])
def test_accountant_bad_delta(delta):
    with pytest.raises(InvalidInputError, match="delta"):
        registry.create("accountant", "rdp").step(noise_multiplier=1.0, sampling_rate=0.01).epsilon(delta)
    with pytest.raises(InvalidInputError, match="delta"):
        registry.create("accountant", "pld").epsilon(delta)


def test_unknown_accountant_is_named():
    with pytest.raises(UnknownPluginError, match="pld"):
        registry.create("accountant", "pdl")


# ------------------------------------------------------------------ clip policies
def test_fixed_clip_stays_fixed_and_rejects_bad_norms():
    clip = registry.create("clip", "fixed", clip_norm=0.3)
    assert clip.update(np.array([0.1, 5.0])) == 0.3
    assert clip.gradient_noise_multiplier(1.1, 64) == 1.1
    for bad in (0.0, -1.0):
        with pytest.raises(ConfigError, match="clip_norm"):
            registry.create("clip", "fixed", clip_norm=bad)
    with pytest.raises(InvalidInputError, match="per_example_norms"):
        clip.update(np.array([np.nan]))


@pytest.mark.parametrize("rule", ["geometric", "linear"])
def test_adaptive_clip_tracks_the_quantile(rule):
    """With tiny count noise the clip norm converges to the target quantile of the norm distribution."""
    rng = np.random.default_rng(0)
    clip = registry.create("clip", "adaptive", clip_norm=0.1, target_quantile=0.7, learning_rate=0.3, update=rule,
                           count_noise=1e-3, seed=0)
    for _ in range(400):
        clip.update(rng.lognormal(0.0, 0.5, size=256), expected_batch_size=256)
    want = float(np.exp(0.5 * 0.5244))  # 0.7-quantile of lognormal(0, 0.5)
    assert clip.clip_norm == pytest.approx(want, rel=0.1)


def test_adaptive_clip_update_rules():
    norms = np.array([0.5, 2.0, 3.0, 4.0])  # one of four unclipped at C = 1
    g = registry.create("clip", "adaptive", clip_norm=1.0, target_quantile=0.5, learning_rate=0.2,
                        update="geometric", count_noise=1e-9)
    lin = registry.create("clip", "adaptive", clip_norm=1.0, target_quantile=0.5, learning_rate=0.2,
                          update="linear", count_noise=1e-9)
    assert g.update(norms, expected_batch_size=4) == pytest.approx(math.exp(-0.2 * (0.25 - 0.5)), rel=1e-6)
    assert lin.update(norms, expected_batch_size=4) == pytest.approx(1.0 - 0.2 * (0.25 - 0.5), rel=1e-6)


def test_adaptive_clip_pays_for_its_statistic():
    """Gradient noise σ_Δ and count noise σ_b compose to exactly the requested z: z⁻² = σ_Δ⁻² + (2σ_b)⁻²."""
    clip = registry.create("clip", "adaptive", count_noise=0.05)
    z, batch = 1.1, 256
    s_delta = clip.gradient_noise_multiplier(z, batch)
    s_b = clip.count_stddev(batch)
    assert s_delta > z
    assert s_delta ** -2 + (2 * s_b) ** -2 == pytest.approx(z ** -2)
    with pytest.raises(InvalidInputError, match="noise_multiplier"):
        clip.gradient_noise_multiplier(z, 5)  # count noise too small to pay from z


def test_adaptive_clip_config_errors():
    for bad in ({"target_quantile": 1.0}, {"update": "exp"}, {"learning_rate": 0.0}, {"count_noise": 0.0}):
        with pytest.raises(ConfigError, match=next(iter(bad))):
            registry.create("clip", "adaptive", **bad)
