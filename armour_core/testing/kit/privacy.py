"""Checks for noise, clip, accountant, suppressor and inference plugins (the ``armour_plugins_privacy``
kinds).

Case options read here — noise: ``n`` (samples per statistical check, 200,000). inference: ``model``
(default ``armour_softmax``, the pure-numpy classifier), ``n`` (members and non-members, 100).
Statistical checks use 6-sigma bounds derived from the sampling distributions (false alarm below 1e-8).
"""

from __future__ import annotations

import attrs
import numpy as np
import pytest
from hypothesis import given

from ... import registry
from ...errors import ConfigError, InvalidInputError
from ...specs import NoiseSpec
from .. import strategies as S
from .evasion import HYP, _raises_naming, model_of
from .records import BUILDERS, cached, create, spec_of


# ------------------------------------------------------------------------------------------ noise
def _check_moments(samples: np.ndarray, sd: float) -> None:
    """Mean ~ N(0, sd²/n); the sample sd has relative std ≈ 1/sqrt(2n): both within 6 sigma."""
    n = samples.size
    assert abs(samples.mean()) < 6 * sd / np.sqrt(n), f"mean {samples.mean()} for sd {sd}"
    assert abs(samples.std() / sd - 1) < 6 / np.sqrt(2 * n), f"sd {samples.std()} vs declared {sd}"


def check_noise_facet(case, request) -> None:
    """The record's NoiseSpec ``adaptive`` flag is the class's."""
    spec = spec_of(case)
    facet = spec.facet or NoiseSpec()
    assert bool(facet.adaptive) == bool(registry.get("noise", case.name).adaptive), "adaptive differs"


def check_noise_statistics(case, request) -> None:
    """Samples have mean 0 and the declared standard deviation, at the first step and later ones."""
    mech = create(case, request)
    n = case.option("n", 200_000)
    for step in (0, 10):
        _check_moments(mech.sample((n,), step=step).astype(np.float64), mech.stddev(step))


def check_noise_scale_family(case, request) -> None:
    """The std is σ(step) times the clip norm, and noise drawn for clip norm c has c times the spread."""
    mech = create(case, request)
    for step in (0, 7):
        sigma = mech.noise_multiplier_at(step)
        assert sigma > 0
        assert mech.stddev(step, clip_norm=2.5) == pytest.approx(2.5 * sigma)
    n = case.option("n", 200_000) // 2
    _check_moments(mech.sample((n,), step=3, clip_norm=4.0).astype(np.float64), 4.0 * mech.noise_multiplier_at(3))


def check_noise_shape_and_dtype(case, request) -> None:
    """``sample`` gives the asked shape in float64 or float32 and refuses other dtypes naming ``dtype``."""
    mech = create(case, request)
    assert mech.sample((3, 4)).shape == (3, 4) and mech.sample((3, 4)).dtype == np.float64
    assert mech.sample(5, dtype=np.float32).dtype == np.float32 and mech.sample(5).shape == (5,)
    _raises_naming(InvalidInputError, "dtype", mech.sample, (2,), dtype=np.int32)


def check_noise_seed_reproduces(case, request) -> None:
    """Seeded noise repeats under the same seed and stream, and differs across streams."""
    if create(case, request).config.secure:
        pytest.skip("secure (CSPRNG) noise is not reproducible by design")
    a, b = create(case, request, seed=1), create(case, request, seed=1)
    assert np.array_equal(a.sample((100,)), b.sample((100,)))
    a.reseed(1)
    b.reseed(2)
    assert not np.array_equal(a.sample((100,)), b.sample((100,))), "two streams drew the same noise"


def check_noise_rejects_bad_multiplier(case, request) -> None:
    """A noise multiplier or clip norm <= 0 is a ConfigError naming it."""
    for field in ("noise_multiplier", "clip_norm"):
        for bad in (0.0, -1.0):
            _raises_naming(ConfigError, field, create, case, request, **{field: bad})


# ------------------------------------------------------------------------------------------ clip
def _norms(seed: int, n: int = 64) -> np.ndarray:
    return np.random.default_rng(seed).gamma(2.0, 0.7, n)


def check_clip_norm_stays_positive(case, request) -> None:
    """Starting from the configured clip norm, every update returns a finite positive norm (the policy's
    new ``clip_norm``); a non-adaptive policy never moves."""
    clip = create(case, request)
    start = clip.clip_norm
    assert start == clip.config.clip_norm
    for step in range(20):
        c = clip.update(_norms(step), expected_batch_size=64)
        assert c == clip.clip_norm and np.isfinite(c) and c > 0, c
    if not clip.adaptive:
        assert clip.clip_norm == start, f"a fixed policy moved {start} -> {clip.clip_norm}"


def check_gradient_noise_not_reduced(case, request) -> None:
    """The gradient's noise multiplier is at least the requested one (a policy that looks at the data pays
    for it with gradient noise), and equal to it for a non-adaptive policy."""
    clip = create(case, request)
    for z in (1.0, 3.0):
        g = clip.gradient_noise_multiplier(z, expected_batch_size=256)
        assert g >= z - 1e-12, f"gradient multiplier {g} below the requested {z}"
        if not clip.adaptive:
            assert g == z


def check_clip_seed_reproduces(case, request) -> None:
    """Two policies with the same seed follow the same clip-norm trajectory."""
    runs = []
    for _ in range(2):
        clip = create(case, request, seed=4)
        runs.append([clip.update(_norms(s), expected_batch_size=64) for s in range(10)])
    assert runs[0] == runs[1]


def check_clip_rejects_bad_input(case, request) -> None:
    """Negative or NaN norms name ``per_example_norms``; a non-positive batch size names
    ``expected_batch_size``; a clip norm <= 0 in the config names ``clip_norm``."""
    clip = create(case, request)
    for bad in ([1.0, -0.5], [np.nan]):
        _raises_naming(InvalidInputError, "per_example_norms", clip.update, np.array(bad))
    _raises_naming(InvalidInputError, "expected_batch_size", clip.update, _norms(0), expected_batch_size=0)
    _raises_naming(ConfigError, "clip_norm", create, case, request, clip_norm=0.0)


# ------------------------------------------------------------------------------------------ accountants
def _eps(case, request, sigma: float = 1.0, q: float = 0.01, steps: int = 100, delta: float = 1e-5) -> float:
    return create(case, request).step(noise_multiplier=sigma, sampling_rate=q, steps=steps).epsilon(delta)


def check_epsilon_zero_before_steps(case, request) -> None:
    """A fresh accountant has spent nothing; after steps ε is finite and positive."""
    acc = create(case, request)
    assert acc.epsilon(1e-5) == 0.0 and acc.steps == 0
    eps = _eps(case, request)
    assert np.isfinite(eps) and eps > 0, eps


def check_epsilon_monotone_in_steps(case, request) -> None:
    """More steps never cost less."""
    eps = [_eps(case, request, steps=s) for s in (10, 100, 300)]
    assert eps[0] < eps[1] < eps[2], eps


def check_epsilon_decreases_with_noise(case, request) -> None:
    """More noise, or a lower sampling rate, costs less."""
    base = _eps(case, request)
    assert _eps(case, request, sigma=2.0) < base
    assert _eps(case, request, q=0.005) < base


def check_delta_respected(case, request) -> None:
    """ε is non-increasing in δ, and a δ outside (0, 1) is an InvalidInputError naming ``delta``."""
    acc = create(case, request).step(noise_multiplier=1.0, sampling_rate=0.01, steps=100)
    eps = [acc.epsilon(d) for d in (1e-7, 1e-5, 1e-3)]
    assert eps[0] >= eps[1] >= eps[2], eps
    for bad in (0.0, 1.0, 1.5, -1e-5):
        _raises_naming(InvalidInputError, "delta", acc.epsilon, bad)


def check_composition_independent_of_chunks(case, request) -> None:
    """Reporting 100 steps as 30 + 70 costs what 100 at once cost."""
    acc = create(case, request)
    acc.step(noise_multiplier=1.0, sampling_rate=0.01, steps=30)
    acc.step(noise_multiplier=1.0, sampling_rate=0.01, steps=70)
    assert acc.steps == 100
    assert acc.epsilon(1e-5) == pytest.approx(_eps(case, request), rel=1e-3)


def check_accountant_rejects_bad_steps(case, request) -> None:
    """A noise multiplier <= 0, a sampling rate outside (0, 1] and steps < 1 are errors naming them."""
    acc = create(case, request)
    for arg, value in (("noise_multiplier", 0.0), ("sampling_rate", 1.5), ("steps", 0)):
        kwargs = {"noise_multiplier": 1.0, "sampling_rate": 0.01, "steps": 1, arg: value}
        _raises_naming(InvalidInputError, arg, acc.step, **kwargs)
    assert acc.steps == 0, "a refused step was composed"


def check_fresh_is_empty(case, request) -> None:
    """``fresh()`` is an empty accountant of the same kind and configuration."""
    acc = create(case, request).step(noise_multiplier=1.0, sampling_rate=0.01, steps=10)
    new = acc.fresh()
    assert type(new) is type(acc) and new.config == acc.config
    assert new.steps == 0 and new.epsilon(1e-5) == 0.0


# ------------------------------------------------------------------------------------------ suppressors
def _weights() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    return {"fc1.weight": rng.normal(size=(16, 8)), "conv.weight": 3 * rng.normal(size=(4, 2, 3, 3)),
            "fc2.bias": 0.1 * rng.normal(size=(7,))}


def check_declared_sparsity(case, request) -> None:
    """For drawn sparsities: per-layer sparsities suppress exactly ``round(s_l * size_l)`` entries of each
    layer; a global one suppresses ``round(s * total)`` up to one entry per layer of rounding, keeping at
    least one entry of each layer. Masks are boolean, shaped like the weights."""
    weights = _weights()
    total = sum(w.size for w in weights.values())

    @HYP
    @given(s=S.sparsities)
    def run(s):
        sup = create(case, request)
        masks = sup.masks(weights, s)
        for k, w in weights.items():
            assert masks[k].shape == w.shape and masks[k].dtype == bool and masks[k].any(), k
        suppressed = sum(int((~m).sum()) for m in masks.values())
        assert abs(suppressed - s * total) <= len(weights), f"{suppressed} suppressed at {s} of {total}"
        per_layer = sup.masks(weights, {k: s for k in weights})
        for k, w in weights.items():
            want = min(int(round(s * w.size)), w.size - 1)
            assert int((~per_layer[k]).sum()) == want, f"{k}: wrong number suppressed at {s}"

    run()


def check_min_keep_respected(case, request) -> None:
    """``min_keep`` entries of a layer survive any sparsity."""
    weights = _weights()
    masks = create(case, request).masks(weights, {k: 0.9 for k in weights}, min_keep={"fc1.weight": 50})
    assert masks["fc1.weight"].sum() >= 50


def check_suppressor_seed_reproduces(case, request) -> None:
    """Two policies with the same seed choose the same masks."""
    weights = _weights()
    a = create(case, request, seed=2).masks(weights, 0.5, step=3)
    b = create(case, request, seed=2).masks(weights, 0.5, step=3)
    assert all(np.array_equal(a[k], b[k]) for k in weights)


def check_suppressor_rejects_bad_input(case, request) -> None:
    """A sparsity outside [0, 1) names ``sparsity``; no layers, or NaN weights, name ``weights``."""
    sup = create(case, request)
    for bad in (1.0, -0.1, float("nan")):
        _raises_naming(InvalidInputError, "sparsity", sup.masks, _weights(), bad)
    _raises_naming(InvalidInputError, "weights", sup.masks, {}, 0.5)
    _raises_naming(InvalidInputError, "weights", sup.masks, {"a": np.array([1.0, np.nan])}, 0.5)


# ------------------------------------------------------------------------------------------ inference
BUILDERS["inference"] = lambda case, request: {"model": model_of(case, request, "armour_softmax")}


def _membership_data(case, request):
    d = request.getfixturevalue("armour_digits")
    n = case.option("n", 100)
    model = model_of(case, request, "armour_softmax")
    shape = (-1, *model.input_shape) if model.input_shape is not None else d.x_train.shape
    return (d.x_train[:n].reshape(shape), d.y_train[:n], d.x_test[:n].reshape(shape), d.y_test[:n])


def _fitted_inference(case, request, **overrides):
    build = lambda: create(case, request, **overrides).fit(*_membership_data(case, request))  # noqa: E731
    return build() if overrides else cached(request, case, "fitted", build)


def check_scores_per_example(case, request) -> None:
    """``score`` gives one finite float per example."""
    xm, ym, *_ = _membership_data(case, request)
    s = _fitted_inference(case, request).score(xm, ym)
    assert s.shape == (len(xm),) and s.dtype == np.float64 and np.all(np.isfinite(s)), s


def check_evaluate_report(case, request) -> None:
    """``evaluate`` reports AUC, TPR at each FPR and per-example risks in [0, 1], counts matching the input,
    and a best balanced accuracy of at least one half (a rule and its opposite)."""
    data = _membership_data(case, request)
    rep = _fitted_inference(case, request).evaluate(*data)
    assert rep.n_member == len(data[0]) and rep.n_nonmember == len(data[2])
    assert 0.0 <= rep.auc <= 1.0 and 0.5 <= rep.balanced_accuracy <= 1.0, rep
    assert all(0.0 <= v <= 1.0 for v in rep.tpr_at_fpr.values()), rep.tpr_at_fpr
    for risk in (rep.risk_member, rep.risk_nonmember):
        assert np.all((risk >= 0) & (risk <= 1))


def check_inference_requires_fit(case, request) -> None:
    """An attack that learns from known members refuses to score before ``fit``, saying so."""
    if not registry.get("inference", case.name).needs_fit:
        pytest.skip("a threshold attack needs no fit")
    xm, ym, *_ = _membership_data(case, request)
    _raises_naming(InvalidInputError, "fit", create(case, request).score, xm, ym)


def check_inference_seed_reproduces(case, request) -> None:
    """Two attacks with the same seed, fitted on the same data, give the same scores."""
    if "seed" not in attrs.fields_dict(registry.get("inference", case.name).Config):
        pytest.skip("no seed")
    xm, ym, *_ = _membership_data(case, request)
    a = _fitted_inference(case, request, seed=5).score(xm, ym)
    b = _fitted_inference(case, request, seed=5).score(xm, ym)
    assert np.allclose(a, b, rtol=1e-6, atol=1e-9)


def check_inference_rejects_bad_inputs(case, request) -> None:
    """NaN inputs and labels out of range are InvalidInputErrors naming the argument."""
    xm, ym, *_ = _membership_data(case, request)
    atk = _fitted_inference(case, request)
    nan = xm[:4].copy()
    nan[0].flat[0] = np.nan
    _raises_naming(InvalidInputError, "x_query", atk.score, nan, ym[:4])
    _raises_naming(InvalidInputError, "y_query", atk.score, xm[:4], ym[:4] + 1000)


CHECKS = {
    "noise": [check_noise_facet, check_noise_statistics, check_noise_scale_family, check_noise_shape_and_dtype,
              check_noise_seed_reproduces, check_noise_rejects_bad_multiplier],
    "clip": [check_clip_norm_stays_positive, check_gradient_noise_not_reduced, check_clip_seed_reproduces,
             check_clip_rejects_bad_input],
    "accountant": [check_epsilon_zero_before_steps, check_epsilon_monotone_in_steps,
                   check_epsilon_decreases_with_noise, check_delta_respected,
                   check_composition_independent_of_chunks, check_accountant_rejects_bad_steps,
                   check_fresh_is_empty],
    "suppressor": [check_declared_sparsity, check_min_keep_respected, check_suppressor_seed_reproduces,
                   check_suppressor_rejects_bad_input],
    "inference": [check_scores_per_example, check_evaluate_report, check_inference_requires_fit,
                  check_inference_seed_reproduces, check_inference_rejects_bad_inputs],
}
