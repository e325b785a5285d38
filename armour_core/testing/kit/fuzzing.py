"""Checks for mutators, coverage criteria and seed schedulers (the ``armour_plugins_fuzz`` kinds).

Case options read here — mutator: ``model`` (a fixture name, for mutators whose record declares
capabilities: inputs are then digits shaped for the model, bounds the model's). coverage: ``model``
(default ``armour_lenet``), ``n_profile`` (300 training digits for criteria that need a profile).
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ... import registry
from ...api.arrays import to_numpy
from ...errors import InvalidInputError
from ...specs import CoverageSpec, MutatorSpec
from .. import strategies as S
from .evasion import HYP, _raises_naming, model_of
from .records import BUILDERS, create, spec_of


# ------------------------------------------------------------------------------------------ mutators
def _mutator_kwargs(case, request) -> dict:
    if case.option("model") is None:
        return {"bounds": (0.0, 1.0)}
    return {"model": model_of(case, request)}  # bounds are the model's


BUILDERS["mutator"] = _mutator_kwargs


def _model_inputs(case, request) -> np.ndarray:
    model = model_of(case, request)
    x = request.getfixturevalue("armour_digits").x_test[:16]
    return x.reshape(len(x), *model.input_shape) if model.input_shape is not None else x


def check_mutator_facet(case, request) -> None:
    """The record's MutatorSpec category is the class's."""
    spec = spec_of(case)
    assert isinstance(spec.facet, MutatorSpec), f"{case.name}: the facet must be a MutatorSpec"
    assert registry.get("mutator", case.name).category == spec.facet.category, "category differs"


def check_keeps_shape_dtype_bounds(case, request) -> None:
    """For drawn image batches, data ranges and seeds: the mutant keeps shape and dtype and stays in bounds."""
    if case.option("model") is not None:
        x = _model_inputs(case, request)

        @HYP
        @given(seed=S.seeds)
        def run_on_model(seed):
            m = create(case, request, seed=seed % 1000)
            out = to_numpy(m.mutate(x))
            assert out.shape == x.shape and out.dtype == x.dtype
            assert out.min() >= m.bounds[0] and out.max() <= m.bounds[1], f"outside {m.bounds}"

        run_on_model()
        return

    @HYP
    @given(batch=S.image_batches(), seed=S.seeds)
    def run(batch, seed):
        x, b = batch
        out = to_numpy(create(case, request, bounds=b, seed=seed % 1000).mutate(x))
        assert out.shape == x.shape and out.dtype == x.dtype, f"{x.shape} {x.dtype} -> {out.shape} {out.dtype}"
        assert out.min() >= b[0] and out.max() <= b[1], f"outside {b}: [{out.min()}, {out.max()}]"

    run()


def check_mutator_seed_reproduces(case, request) -> None:
    """Two mutators with the same seed give the same sequence of mutants."""
    x = _model_inputs(case, request) if case.option("model") is not None else \
        np.random.default_rng(0).uniform(0, 1, (6, 1, 8, 8)).astype(np.float32)
    a, b = create(case, request, seed=3), create(case, request, seed=3)
    for _ in range(2):
        assert np.array_equal(to_numpy(a.mutate(x)), to_numpy(b.mutate(x))), "same seed, other mutants"


def check_params_within_ranges(case, request) -> None:
    """Sampled parameters lie in their configured ranges, which lie within the parameters' hard limits."""
    m = create(case, request)
    if not m.ranges:
        pytest.skip("no ranged parameter")
    params = m.sample_params(64, np.random.default_rng(0))
    for name in m.ranges:
        lo, hi = getattr(m.config, name)
        hard = m.param_limits(name)
        assert hard[0] <= lo <= hi <= hard[1], f"{name}: range {(lo, hi)} outside its limits {hard}"
        assert params[name].shape == (64,) and np.all((params[name] >= lo) & (params[name] <= hi)), name


def check_mutator_rejects_bad_input(case, request) -> None:
    """Inputs outside the bounds name ``x``; unknown parameters name ``params``; an image mutator given flat
    vectors names ``x``."""
    m = create(case, request)
    x = _model_inputs(case, request) if case.option("model") is not None else \
        np.full((2, 1, 8, 8), 0.5, np.float32)
    _raises_naming(InvalidInputError, "x", m.mutate, x + 2.0 * (m.bounds[1] - m.bounds[0]))
    _raises_naming(InvalidInputError, "params", m.mutate, x, {"armour_not_a_param": 0.1})
    if m.image_only:
        _raises_naming(InvalidInputError, "x", m.mutate, x.reshape(len(x), -1))


# ------------------------------------------------------------------------------------------ coverage
BUILDERS["coverage"] = lambda case, request: {"model": model_of(case, request, "armour_lenet")}


def _coverage(case, request):
    cov = create(case, request)
    if cov.needs_profile:
        d = request.getfixturevalue("armour_digits")
        n = case.option("n_profile", 300)
        cov.fit(d.x_train[:n], d.y_train[:n])
    return cov


def _test_inputs(request, n: int = 64) -> np.ndarray:
    return request.getfixturevalue("armour_digits").x_test[:n]


def check_coverage_facet(case, request) -> None:
    """The record's CoverageSpec agrees with the class (``needs_profile``)."""
    spec = spec_of(case)
    assert isinstance(spec.facet, CoverageSpec), f"{case.name}: the facet must be a CoverageSpec"
    assert bool(registry.get("coverage", case.name).needs_profile) == bool(spec.facet.needs_profile), \
        "needs_profile differs"


def check_monotone_in_unit_interval(case, request) -> None:
    """Adding drawn slices of a batch one by one: the value starts at 0, stays in [0, 1], never decreases,
    and ``gain`` predicts each rise without changing the state."""
    x = _test_inputs(request)

    @HYP
    @given(cuts=st.lists(st.integers(1, len(x) - 1), min_size=1, max_size=4, unique=True).map(sorted))
    def run(cuts):
        cov = _coverage(case, request)
        prev = cov.value
        assert prev == 0.0, f"a fresh criterion is at {prev}"
        for part in np.split(x, cuts):
            g = cov.gain(part)
            assert cov.value == prev, "gain() changed the state"
            cov.update(part)
            assert 0.0 <= cov.value <= 1.0, cov.value
            assert cov.value >= prev - 1e-12, f"coverage decreased {prev} -> {cov.value}"
            assert abs((cov.value - prev) - g) < 1e-9, f"gain() said {g}, update() added {cov.value - prev}"
            prev = cov.value

    run()


def check_reset(case, request) -> None:
    """``reset`` forgets the covered set (value 0, count 0) and the same inputs then cover the same again."""
    x = _test_inputs(request)
    cov = _coverage(case, request).update(x)
    first = cov.value
    cov.reset()
    assert cov.value == 0.0 and cov.count == 0
    assert cov.update(x).value == pytest.approx(first, abs=1e-12)


def check_state_round_trip(case, request) -> None:
    """``set_state(get_state())`` rewinds: adding the same inputs after it gives the same value."""
    x = _test_inputs(request)
    cov = _coverage(case, request).update(x[:32])
    saved = cov.get_state()
    at_saved = cov.value
    after = cov.update(x[32:]).value
    cov.set_state(saved)
    assert cov.value == pytest.approx(at_saved, abs=1e-12)
    assert cov.update(x[32:]).value == pytest.approx(after, abs=1e-12)


def check_sample_gains_add_up(case, request) -> None:
    """Per-input gains are non-negative and sum to the batch's gain."""
    x = _test_inputs(request, 24)
    cov = _coverage(case, request).update(x[:8])
    acts = cov.capture(x[8:])
    gains = cov.sample_gains(acts)
    assert gains.shape == (16,) and np.all(gains >= -1e-12), gains
    assert gains.sum() == pytest.approx(cov.gain_activations(acts), abs=1e-9)


def check_requires_profile(case, request) -> None:
    """A criterion that needs a training-set profile refuses updates before ``fit``, saying so."""
    if not registry.get("coverage", case.name).needs_profile:
        pytest.skip("needs no profile")
    _raises_naming(InvalidInputError, "fit", create(case, request).update, _test_inputs(request, 4))


# ------------------------------------------------------------------------------------------ schedulers
@st.composite
def corpus_stats(draw, max_n: int = 12) -> dict[str, np.ndarray]:
    """Per-entry statistics as the fuzzer passes them (see :mod:`armour_core.api.scheduler`)."""
    n = draw(st.integers(1, max_n))
    ints = st.lists(st.integers(0, 50), min_size=n, max_size=n)
    return {"fuzz_count": np.array(draw(ints)), "age": np.array(draw(ints)), "depth": np.array(draw(ints)),
            "gain": np.array(draw(st.lists(st.floats(0.0, 1.0), min_size=n, max_size=n))),
            "order": np.arange(n)}


def _stats(n: int = 8) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    return {"fuzz_count": rng.integers(0, 5, n), "gain": rng.uniform(0, 1, n), "age": rng.integers(0, 9, n),
            "order": np.arange(n), "depth": rng.integers(0, 3, n)}


def check_selects_valid_index(case, request) -> None:
    """For drawn corpus statistics, ``select`` returns an index into the corpus, one with probability > 0
    when the scheduler states its distribution."""

    @HYP
    @given(stats=corpus_stats(), seed=S.seeds)
    def run(stats, seed):
        sched = create(case, request)
        p = sched.probabilities(stats)
        rng = np.random.default_rng(seed)
        for _ in range(5):
            i = sched.select(stats, rng)
            assert 0 <= i < len(stats["order"]), i
            assert p is None or p[i] > 0, f"selected {i}, which has probability 0"

    run()


def check_probabilities_distribution(case, request) -> None:
    """A stated selection distribution has one non-negative entry per seed and sums to 1."""
    stats = _stats()
    p = create(case, request).probabilities(stats)
    if p is None:
        pytest.skip("the scheduler states no closed-form distribution")
    p = np.asarray(p, dtype=np.float64)
    assert p.shape == (8,) and np.all(p >= 0) and p.sum() == pytest.approx(1.0), p


def check_scheduler_seed_reproduces(case, request) -> None:
    """The same generator seed gives the same sequence of choices."""
    stats = _stats()
    runs = []
    for _ in range(2):
        sched, rng = create(case, request), np.random.default_rng(11)
        runs.append([sched.select(stats, rng) for _ in range(20)])
    assert runs[0] == runs[1], runs


def check_scheduler_state_round_trip(case, request) -> None:
    """``state()`` is JSON and ``load_state`` resumes: a restored scheduler makes the same next choices."""
    stats = _stats()
    sched = create(case, request)
    rng = np.random.default_rng(5)
    for _ in range(5):
        sched.select(stats, rng)
    state = json.loads(json.dumps(sched.state()))
    resumed = create(case, request)
    resumed.load_state(state)
    a = [sched.select(stats, np.random.default_rng(9)) for _ in range(5)]
    b = [resumed.select(stats, np.random.default_rng(9)) for _ in range(5)]
    assert a == b, (a, b)


def check_scheduler_rejects_bad_stats(case, request) -> None:
    """An empty corpus and statistics of unequal lengths are InvalidInputErrors naming ``stats``."""
    sched = create(case, request)
    rng = np.random.default_rng(0)
    bad = dict(_stats())
    bad["gain"] = bad["gain"][:3]
    for stats in ({}, {k: v[:0] for k, v in _stats().items()}, bad):
        _raises_naming(InvalidInputError, "stats", sched.select, stats, rng)


CHECKS = {
    "mutator": [check_mutator_facet, check_keeps_shape_dtype_bounds, check_mutator_seed_reproduces,
                check_params_within_ranges, check_mutator_rejects_bad_input],
    "coverage": [check_coverage_facet, check_monotone_in_unit_interval, check_reset, check_state_round_trip,
                 check_sample_gains_add_up, check_requires_profile],
    "scheduler": [check_selects_valid_index, check_probabilities_distribution, check_scheduler_seed_reproduces,
                  check_scheduler_state_round_trip, check_scheduler_rejects_bad_stats],
}
