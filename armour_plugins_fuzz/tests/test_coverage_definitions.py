"""Coverage criteria against DeepGauge's and Kim et al.'s definitions on small hand-computed activations.

A numpy "model" exposes its input rows as the neuron values of two layers, so every expected value below is
worked out by hand from the arrays in the test. No MindSpore needed.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from armour_core import registry
from armour_core.api.coverage import Activations, clear_profile_cache
from armour_core.api.model import Classifier
from armour_core.errors import ConfigError, InvalidInputError


class Identity(Classifier):
    """Inputs (N, 2, U): layer ``a`` is x[:, 0], layer ``b`` is x[:, 1]; logits are layer ``a``'s first 3."""

    capabilities = frozenset({"forward", "activations"})

    def __init__(self, units: int = 4):
        super().__init__()
        self.input_shape = (2, units)
        self.bounds = (-20.0, 20.0)
        self.num_classes = 3

    def _logits(self, x):
        return x[:, 0, :3].astype(np.float32)

    def layer_names(self):
        return ["a", "b"]

    def activations(self, x, layers=None):
        names = layers or ("a", "b")
        return {n: np.asarray(x[:, i], np.float32) for i, n in enumerate(("a", "b")) if n in names}

    def fingerprint(self):
        return "identity-model"


def batch(a, b):
    return np.stack([np.asarray(a, np.float32), np.asarray(b, np.float32)], axis=1)


TRAIN = batch([[0, 0, 0, 0], [2, 4, 1, 0]], [[1, 1, 1, 1], [3, 1, 1, 1]])
# training profile: a: low [0,0,0,0] high [2,4,1,0];  b: low [1,1,1,1] high [3,1,1,1]


def make(name, **config):
    return registry.create("coverage", name, model=Identity(), **config)


def test_neuron_coverage_counts_outputs_above_threshold():
    cov = make("neuron", threshold=0.5)
    cov.update(batch([[1, 0, 0, 0.5]], [[0, 0, 0, 0]]))  # a0 only (0.5 is not > 0.5)
    assert cov.value == pytest.approx(1 / 8)
    cov.update(batch([[0, 0, 0, 0]], [[0, 2, 0, 3]]))
    assert cov.value == pytest.approx(3 / 8)
    scaled = make("neuron", threshold=0.5, scaled=True)  # per-input min-max scaling per layer (DeepXplore)
    scaled.update(batch([[0, 1, 2, 4]], [[5, 5, 5, 5]]))  # a -> [0, .25, .5, 1]; b constant -> 0
    assert scaled.value == pytest.approx(1 / 8)


def test_top_k_neuron_coverage_and_patterns():
    cov = make("top_k", k=2)
    x = batch([[5, 1, 4, 0], [0, 9, 1, 8]], [[1, 2, 3, 4], [4, 3, 2, 1]])
    cov.update(x[:1])  # a: {0, 2}; b: {2, 3}
    assert cov.value == pytest.approx(4 / 8)
    cov.update(x[1:])  # a: {1, 3}; b: {0, 1}
    assert cov.value == 1.0
    pat = make("top_k_pattern", k=2)
    pat.update(np.concatenate([x, x[:1]]))
    assert pat.patterns == 2
    assert pat.value == pytest.approx(2 / (math.comb(4, 2) ** 2))
    capped = make("top_k_pattern", k=2, capacity=4)
    capped.update(x)
    assert capped.value == pytest.approx(0.5)


def test_k_multisection_coverage():
    cov = make("k_multisection", k=4).fit(TRAIN)
    # a0 range [0, 2] sections of 0.5: 0.1 -> s0, 2.0 (= high) -> s3; a1 [0, 4]: 3.9 -> s3; a2 [0, 1]: 1.5 out
    # a3 constant 0: 0 hits all 4 one-point sections; b0 [1, 3]: 2.2 -> s2; b1..b3 constant 1: 1 hits all 4
    cov.update(batch([[0.1, 3.9, 1.5, 0.0]], [[2.2, 0.0, 1.0, 5.0]]))
    assert cov.value == pytest.approx((1 + 1 + 0 + 4 + 1 + 0 + 4 + 0) / 32)
    cov.update(batch([[2.0, 3.9, 0.3, 0.0]], [[2.2, 0.0, 1.0, 5.0]]))
    assert cov.value == pytest.approx((2 + 1 + 1 + 4 + 1 + 0 + 4 + 0) / 32)


def test_boundary_and_strong_activation_coverage():
    x = batch([[-1, 5, 0.5, 0]], [[3.5, 0.5, 1, 1]])  # a0 < low, a1 > high, b0 > high, b1 < low
    nbc = make("neuron_boundary").fit(TRAIN).update(x)
    assert nbc.value == pytest.approx(4 / 16)
    snac = make("strong_neuron_activation").fit(TRAIN).update(x)
    assert snac.value == pytest.approx(2 / 8)
    # widened by one training standard deviation: a1 std 2 -> high 6, b0 std 1 -> high 4, a0 low -1 (not <)
    wide = make("strong_neuron_activation", std_scale=1.0).fit(TRAIN).update(x)
    assert wide.value == 0.0


def test_profile_needs_fit_and_is_cached(tmp_path):
    clear_profile_cache()
    cov = make("k_multisection")
    with pytest.raises(InvalidInputError, match="fit"):
        cov.update(TRAIN)
    cov.fit(TRAIN)
    again = make("neuron_boundary").fit(TRAIN)
    assert again.profile is cov.profile  # same model parameters, data and layers: computed once
    cov.fit(TRAIN, disk=tmp_path)
    files = list(tmp_path.glob("*.npz"))
    assert len(files) == 1 and not list(tmp_path.glob(".*.tmp"))
    clear_profile_cache()
    from_disk = make("k_multisection").fit(TRAIN, disk=tmp_path)
    np.testing.assert_array_equal(from_disk.profile.high["a"], cov.profile.high["a"])
    other = make("k_multisection").fit(TRAIN + 0.5)
    assert other.profile is not cov.profile


def test_gains_are_sequential_and_thresholds_honoured():
    cov = make("neuron", threshold=0.5)
    x = batch([[1, 1, 0, 0], [1, 1, 1, 0], [0, 0, 0, 0], [1, 1, 1, 1]], np.zeros((4, 4)))
    acts = cov.capture(x)
    np.testing.assert_allclose(cov.sample_gains(acts), [2 / 8, 1 / 8, 0, 1 / 8])
    assert cov.gain_activations(acts) == pytest.approx(4 / 8) and cov.value == 0.0
    strict = make("neuron", threshold=0.5, min_gain=0.2)
    kept = strict.accept(x)
    # input 0 gains 2/8 > 0.2 (kept); input 1 gains 1/8 (dropped); input 3 then gains 2/8 (kept)
    np.testing.assert_array_equal(kept, [True, False, False, True])
    assert strict.value == pytest.approx(4 / 8) and strict.count == 2
    assert strict.is_gain(0.25) and not strict.is_gain(0.2)
    with pytest.raises(ConfigError, match="min_gain"):
        make("neuron", min_gain=-0.1)


def test_state_round_trip():
    cov = make("top_k_pattern", k=1)
    cov.update(batch([[1, 0, 0, 0]], [[0, 1, 0, 0]]))
    state = cov.get_state()
    cov.update(batch([[0, 1, 0, 0]], [[0, 1, 0, 0]]))
    v = cov.value
    cov.set_state(state)
    assert cov.patterns == 1 and cov.count == 1
    cov.update(batch([[0, 1, 0, 0]], [[0, 1, 0, 0]]))
    assert cov.value == v


ALL = ["neuron", "top_k", "top_k_pattern", "k_multisection", "neuron_boundary", "strong_neuron_activation",
       "lsa", "dsa"]


@pytest.mark.parametrize("name", ALL)
@settings(max_examples=8, deadline=None, derandomize=True, database=None)
@given(data=st.data())
def test_monotone_unit_interval_and_gain_agrees(name, data):
    rng = np.random.default_rng(data.draw(st.integers(0, 1000)))
    train = rng.normal(0, 1, (40, 2, 4)).astype(np.float32)
    cov = make(name)
    if cov.needs_profile:
        cov.fit(train)
    x = rng.normal(0, 1.5, (12, 2, 4)).astype(np.float32)
    cuts = data.draw(st.lists(st.integers(1, 11), max_size=4, unique=True).map(sorted))
    prev = 0.0
    for part in np.split(x, cuts):
        acts = cov.capture(part)
        g, seq = cov.gain_activations(acts), cov.sample_gains(acts)
        cov.update_activations(acts)
        assert 0.0 <= cov.value <= 1.0
        assert cov.value >= prev
        assert cov.value - prev == pytest.approx(g, abs=1e-9)
        assert seq.sum() == pytest.approx(g, abs=1e-9) and np.all(seq >= 0)
        prev = cov.value


# ---------------------------------------------------------------------------------------- surprise adequacy
def test_kde_matches_scipy():
    scipy_stats = pytest.importorskip("scipy.stats")
    from armour_plugins_fuzz.coverage.surprise import GaussianKDE

    rng = np.random.default_rng(0)
    data = rng.normal(size=(60, 3)) @ np.array([[1, 0.3, 0], [0, 1, 0.2], [0, 0, 0.5]])
    pts = rng.normal(size=(7, 3))
    ref = scipy_stats.gaussian_kde(data.T).logpdf(pts.T)
    np.testing.assert_allclose(GaussianKDE(data).logpdf(pts), ref, rtol=1e-9, atol=1e-9)
    # leave-one-out equals a KDE fitted without the point (same bandwidth matrix)
    kde = GaussianKDE(data)
    loo = kde.logpdf(data[:1], np.array([0]))
    manual = kde.logpdf(data[:1]) + np.log(60 / 59)
    assert loo < manual  # dropping the point's own kernel lowers its density


def test_lsa_is_negative_log_density_of_predicted_class():
    scipy_stats = pytest.importorskip("scipy.stats")
    rng = np.random.default_rng(1)
    # class = argmax of layer a's first 3 values; traces are layer b
    a = np.zeros((90, 4), np.float32)
    a[np.arange(90), np.arange(90) % 3] = 5.0
    b = rng.normal(size=(90, 4)).astype(np.float32) + (np.arange(90) % 3)[:, None]
    train = batch(a, b)
    cov = make("lsa", layers=("b",), buckets=10).fit(train)
    q = batch([[0, 5, 0, 0], [5, 0, 0, 0]], [[1, 1, 1, 1], [3, 3, 3, 3]])
    members = b[np.arange(90) % 3 == 1]
    expected = -scipy_stats.gaussian_kde(members.T.astype(np.float64)).logpdf(np.ones((4, 1)))[0]
    sa = cov.surprise(q)
    assert sa[0] == pytest.approx(expected, rel=1e-6)
    assert sa[1] > sa[0]  # far from class 0's traces
    assert cov.lower <= 0.0 < cov.upper


def test_dsa_follows_the_paper():
    # class 0 traces at x=0 and x=1 (on a line), class 1 traces at x=10 and x=12
    a = np.zeros((4, 4), np.float32)
    a[:2, 0] = 5.0
    a[2:, 1] = 5.0
    b = np.zeros((4, 4), np.float32)
    b[:, 0] = [0, 1, 10, 12]
    cov = make("dsa", layers=("b",), buckets=4, upper=2.0).fit(batch(a, b))
    # query at x=3 predicted class 0: x_a = 1 (dist_a 2); x_b = nearest class-1 trace to x_a = 10; dist_b = 7
    q = batch([[5, 0, 0, 0]], [[3, 0, 0, 0]])
    assert cov.surprise(q)[0] == pytest.approx(2 / 7)
    cov.update(q)  # 2/7 in [0, 2] with 4 buckets -> bucket 0
    assert cov.value == pytest.approx(1 / 4)
    # the default upper bound: largest leave-one-out DSA of the training traces
    auto = make("dsa", layers=("b",)).fit(batch(a, b))
    # x=0: x_a=1 (1), x_b=10 -> dist 10 -> .1; x=1: x_a=0 (1), x_b=10 -> 9 -> 1/9; x=10: x_a=12 (2), x_b=1
    # -> dist 9 -> 2/9; x=12: x_a=10 (2), x_b=1 -> dist 11 -> 2/11
    assert auto.upper == pytest.approx(2 / 9)


def test_surprise_needs_logits_and_valid_bounds():
    cov = make("dsa", layers=("b",)).fit(TRAIN)
    acts = cov.capture(TRAIN)
    with pytest.raises(InvalidInputError, match="predicted class"):
        cov.update_activations(dict(acts))
    cov.update_activations(Activations(acts, logits=acts.logits))
    with pytest.raises(ConfigError, match="upper"):
        make("lsa", lower=1.0, upper=0.5)


def test_bad_configs_and_layers():
    with pytest.raises(ConfigError, match="k"):
        make("k_multisection", k=0)
    with pytest.raises(ConfigError, match="unknown config key"):
        make("top_k", topk=3)
    cov = make("neuron", layers=("nope",))
    with pytest.raises(InvalidInputError, match="layers"):
        cov.update(TRAIN)
    with pytest.raises(InvalidInputError, match="bounds"):
        make("neuron").update(TRAIN * 100)


@pytest.mark.parametrize("name", ALL)
def test_gain_threshold_honoured_by_every_criterion(name):
    rng = np.random.default_rng(3)
    train = rng.normal(0, 1, (40, 2, 4)).astype(np.float32)
    x = rng.normal(0, 2, (10, 2, 4)).astype(np.float32)
    free = make(name)
    if free.needs_profile:
        free.fit(train)
    gains = free.sample_gains(free.capture(x))
    kept = free.accept(x)
    np.testing.assert_array_equal(kept, gains > 0)  # threshold 0: exactly the inputs that add coverage
    strict = make(name, min_gain=0.99)
    if strict.needs_profile:
        strict.fit(train)
    assert not strict.accept(x).any() and strict.value == 0.0 and strict.count == 0


@pytest.mark.parametrize("name", ALL)
def test_updates_are_incremental(name, monkeypatch):
    """Adding a batch touches only that batch (MindArmour recomputes coverage over every prefix)."""
    rng = np.random.default_rng(4)
    cov = make(name)
    if cov.needs_profile:
        cov.fit(rng.normal(0, 1, (40, 2, 4)).astype(np.float32))
    seen = []
    original = type(cov)._update

    def counting(self, acts):
        seen.append(acts.size)
        return original(self, acts)

    monkeypatch.setattr(type(cov), "_update", counting)
    for n in (3, 4, 5):
        cov.update(rng.normal(0, 1, (n, 2, 4)).astype(np.float32))
    assert seen == [3, 4, 5] and cov.count == 12


@pytest.mark.parametrize("name,config,fit", [("neuron", {}, False), ("top_k", {"k": 2}, False),
                                             ("k_multisection", {"k": 4}, True), ("top_k_pattern", {"k": 2}, False)])
def test_merging_two_runs_states_is_running_both_inputs(name, config, fit):
    """Fuzzing campaigns merge their coverage: run A's state merged into run B's equals one run over both
    inputs (the union of the covered sets), whatever the order."""
    rng = np.random.default_rng(1)
    xa, xb = rng.uniform(-1, 5, (3, 2, 4)).astype(np.float32), rng.uniform(-1, 5, (2, 2, 4)).astype(np.float32)
    runs = [make(name, **config) for _ in range(3)]
    if fit:
        runs = [r.fit(TRAIN) for r in runs]
    a, b, both = runs
    a.update(xa), b.update(xb), both.update(np.concatenate([xa, xb]))
    merged = make(name, **config)
    if fit:
        merged.fit(TRAIN)
    merged.merge_state(b.get_state()).merge_state(a.get_state())
    assert merged.value == pytest.approx(both.value) and merged.count == both.count == 5
    assert merged.value >= max(a.value, b.value)
    with pytest.raises(InvalidInputError, match=r"state: missing key\(s\)"):
        merged.merge_state({"count": 1})
