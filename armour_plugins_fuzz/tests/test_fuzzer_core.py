"""The Fuzzer's loop on the embedded default: findings, coverage over time, lineage and validity rules,
oracles, per-mutator counters and the report."""

from __future__ import annotations

import json

import numpy as np
import pytest
from fuzz_helpers import IntegerShift, NanLinear, affine_steps

from armour_core import registry
from armour_plugins_fuzz.fuzzer import oracles as fuzz_oracles
from armour_plugins_fuzz.fuzzer import Fuzzer

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


@pytest.fixture(scope="module")
def seeds(armour_digits):
    d = armour_digits
    return d.x_test[:24], d.y_test[:24]


@pytest.fixture(scope="module")
def run_blur_shift(armour_lenet, seeds):
    """One shared run with a pixel mutator (registry) and an affine one (instance): generous validity bounds
    so that failures and affine lineages appear in a short run."""
    fz = Fuzzer(armour_lenet, ["gaussian_blur", IntegerShift(dx=(-2, 2), dy=(-2, 2))], coverage="neuron",
                scheduler="uniform", mutants_per_seed=12, alpha=0.5, beta=0.5, seed=3)
    before = armour_lenet.forward_calls
    rep = fz.run(*seeds, max_iters=60)
    return fz, rep, armour_lenet.forward_calls - before


def test_findings_really_fail(armour_lenet, run_blur_shift):
    _, rep, _ = run_blur_shift
    mutated = [j for j, f in enumerate(rep.findings) if f["chain"]]
    assert mutated, "the generous configuration should find misclassified mutants"
    x = rep.findings_x[mutated]
    labels = np.array([rep.findings[j]["label"] for j in mutated])
    pred = np.asarray(armour_lenet.predict(x))
    assert np.all(pred != labels)
    assert np.array_equal(pred, [rep.findings[j]["prediction"] for j in mutated])
    for j in mutated:
        f = rep.findings[j]
        assert "misclassification" in f["kinds"] and f["parent"] >= 0 and f["iteration"] >= 1
    # initial seeds the model already gets wrong are reported with an empty chain and left out of the corpus
    seeds_wrong = [f for f in rep.findings if not f["chain"]]
    assert len(seeds_wrong) == rep.seeds_misclassified
    assert not {f["seed_index"] for f in seeds_wrong} & set(rep.corpus_roots.tolist())
    assert rep.failures == len(mutated)


def test_coverage_history_monotone(run_blur_shift):
    fz, rep, _ = run_blur_shift
    h = rep.coverage_history["neuron"]
    assert len(h) == rep.iterations + 1 == 61
    assert np.all(np.diff(h) >= 0) and 0 <= h[0] and h[-1] <= 1
    assert rep.coverage["neuron"] == pytest.approx(fz.criteria["neuron"].value)


def test_one_forward_per_iteration(run_blur_shift, seeds):
    _, rep, forwards = run_blur_shift
    assert forwards <= rep.iterations + 1  # one batched pass per iteration plus one for the 24 seeds


def test_affine_at_most_once_per_lineage(run_blur_shift):
    _, rep, _ = run_blur_shift
    chains = rep.corpus_chains + [f["chain"] for f in rep.findings]
    assert max(affine_steps(rep, c) for c in chains) == 1  # affine lineages exist, and never twice
    assert max(len(c) for c in rep.corpus_chains) >= 1


def _reference(rep, fz, chain, root):
    """The lineage's reference: the seed, moved by the chain's affine step (if any) with its recorded params."""
    ref = rep.seeds_x[root][None]
    for step in chain:
        m = next(m for m in fz.mutators if m.key == step["mutator"])
        if m.category == "affine":
            ref = m.impl.mutate(ref, {k: np.array([v]) for k, v in step["params"].items()})
    return ref[0]


def test_validity_bounds_respected(run_blur_shift):
    fz, rep, _ = run_blur_shift
    lo, hi = rep.bounds
    items = [(rep.corpus_x[i], rep.corpus_chains[i], rep.corpus_roots[i]) for i in range(len(rep.corpus_x))]
    items += [(rep.findings_x[j], f["chain"], f["seed_index"]) for j, f in enumerate(rep.findings) if f["chain"]]
    checked = 0
    for x, chain, root in items:
        if not chain:
            continue
        ref = _reference(rep, fz, chain, root)
        d = np.abs(x.astype(np.float64) - ref).ravel()
        l0, linf = np.count_nonzero(d > (hi - lo) / 510), d.max()
        assert l0 < fz.alpha * d.size or linf <= fz.beta * (hi - lo) + 1e-6
        checked += 1
    assert checked > 0


def test_validity_knows_the_data_range():
    rng = np.random.default_rng(0)
    x01 = rng.uniform(0.2, 0.8, (3, 1, 8, 8))
    big = x01 + 0.3  # every element moved by 0.3 of a [0, 1] range: invalid for beta = 0.2
    small = x01 + 0.1
    one = x01.copy()
    one[:, 0, 0, 0] += 0.6  # one element of 64 moved a lot: valid by L0 for alpha = 0.02
    for scale in (1.0, 255.0):  # the same images on a 0-255 scale give the same verdicts
        b = (0.0, scale)
        v = [fuzz_oracles.validity(m * scale, x01 * scale, bounds=b, alpha=0.02, beta=0.2)[0]
             for m in (big, small, one)]
        assert not v[0].any() and v[1].all() and v[2].all()


def test_mutator_counters_add_up(run_blur_shift):
    _, rep, _ = run_blur_shift
    s = rep.mutators
    assert sum(m.tried for m in s.values()) == rep.iterations * 12
    assert all(m.kept <= m.valid <= m.tried for m in s.values())
    assert sum(m.kept for m in s.values()) == len(rep.corpus_x) - (rep.seeds - rep.seeds_misclassified)
    assert sum(m.failures for m in s.values()) == rep.failures
    for c in rep.corpus_chains:  # every kept entry's last step is a mutator that reports kept > 0
        if c:
            assert s[c[-1]["mutator"]].kept > 0


def test_gain_threshold_honoured(armour_lenet, seeds):
    x, y = seeds
    fz = Fuzzer(armour_lenet, ["gaussian_blur"], coverage="neuron", scheduler="uniform", mutants_per_seed=8,
                alpha=0.5, beta=0.5, gain_threshold={"neuron": 0.9}, seed=0)
    rep = fz.run(x, y, max_iters=15)
    assert len(rep.corpus_x) == rep.seeds - rep.seeds_misclassified  # nothing gains 90 % coverage at once
    fz = Fuzzer(armour_lenet, ["gaussian_blur"], coverage="neuron", scheduler="uniform", mutants_per_seed=8,
                alpha=0.5, beta=0.5, gain_threshold=0.002, seed=0)
    rep = fz.run(x[:3], y[:3], max_iters=30)
    kept = np.array([len(c) > 0 for c in rep.corpus_chains])
    assert kept.any()
    assert np.all(rep.corpus_gains[kept] > 0.002)


def test_criterion_min_gain_honoured(armour_lenet, armour_digits, seeds):
    """MindArmour meant KMNC's threshold to be 0.1 / k but its check never fires (the threshold is 0 for
    every criterion); here each criterion's own ``min_gain`` is the default threshold."""
    if "k_multisection" not in registry.names("coverage"):
        pytest.skip("no 'k_multisection' criterion registered")
    x, y = seeds
    k = 10
    fz = Fuzzer(armour_lenet, ["gaussian_blur"], coverage=[("k_multisection", {"k": k, "min_gain": 0.1 / k})],
                scheduler="uniform", mutants_per_seed=8, alpha=0.5, beta=0.5, x_train=armour_digits.x_train[:300])
    assert fz.thresholds == {"k_multisection": 0.01}
    rep = fz.run(x[:6], y[:6], max_iters=15)
    kept = np.array([len(c) > 0 for c in rep.corpus_chains])
    assert np.all(rep.corpus_gains[kept] > 0.01)
    fz0 = Fuzzer(armour_lenet, ["gaussian_blur"], coverage=[("k_multisection", {"k": k})], scheduler="uniform",
                 mutants_per_seed=8, alpha=0.5, beta=0.5, x_train=armour_digits.x_train[:300])
    rep0 = fz0.run(x[:6], y[:6], max_iters=15)
    assert (np.array([len(c) > 0 for c in rep0.corpus_chains]).sum() > kept.sum())  # the threshold mattered


def test_more_criteria_share_one_capture(armour_lenet, armour_digits, seeds):
    names = [n for n in ("neuron", "k_multisection", "neuron_boundary", "top_k") if n in registry.names("coverage")]
    specs = {n: registry.spec("coverage", n) for n in names}
    fz = Fuzzer(armour_lenet, ["gaussian_blur"], coverage=names, scheduler="deephunter", mutants_per_seed=6,
                alpha=0.5, beta=0.5, x_train=armour_digits.x_train[:300], seed=1)
    rep = fz.run(*seeds, max_iters=10)
    for n in names:
        h = rep.coverage_history[n]
        assert np.all(np.diff(h) >= 0) and 0 <= h[0] <= h[-1] <= 1, n
    assert set(rep.coverage) == set(names) and all(isinstance(s.facet, object) for s in specs.values())


def test_nan_inf_oracle_and_reproducible_seed():
    rng = np.random.default_rng(0)
    w = rng.normal(size=(64, 4))
    model = NanLinear(w, input_shape=(1, 8, 8), nan_above=0.55)
    x = rng.uniform(0.3, 0.5, (6, 1, 8, 8)).astype(np.float32)
    y = np.argmax(x.reshape(6, -1) @ w, axis=1)

    class Brighten(IntegerShift):
        category = "pixel"
        ranges = ("dx",)

        def _mutate(self, x, params, rng):
            return x + 0.05 * np.abs(params["dx"]).reshape(-1, 1, 1, 1)

    def go():
        fz = Fuzzer(model, [Brighten(dx=(1, 4))], coverage=("neuron", {"threshold": 0.0}),
                    oracles=("nan_inf",), alpha=1.0, beta=1.0, mutants_per_seed=5, seed=7)
        return fz.run(x, y, max_iters=20)

    rep = go()
    nan = [j for j, f in enumerate(rep.findings) if f["kinds"] == ["nan_inf"]]
    assert nan and rep.failures == len(nan)
    assert np.all(rep.findings_x[nan].reshape(len(nan), -1).mean(1) > 0.55)
    again = go()
    assert np.array_equal(rep.findings_x, again.findings_x) and rep.findings == again.findings


def test_differential_oracle(armour_lenet, seeds):
    x, y = seeds
    fz = Fuzzer(armour_lenet, ["gaussian_blur"], coverage="neuron", differential="float16",
                oracles=("nan_inf",), mutants_per_seed=4, alpha=0.5, beta=0.5)
    rep = fz.run(x[:6], y[:6], max_iters=3)
    assert "differential" in rep.config["oracles"]
    other = fz.differential._other
    for j in range(len(rep.findings)):  # any disagreement found is real
        xi = rep.findings_x[j:j + 1]
        assert np.asarray(other.predict(xi))[0] != np.asarray(armour_lenet.predict(xi))[0]
    # with a logit tolerance below float16 round-off every input disagrees, by a float16-sized amount
    strict = fuzz_oracles.Differential(armour_lenet, "float16", tol=1e-9)
    bad, diff = strict.compare(x[:6])
    assert bad.all() and np.all((diff > 0) & (diff < 0.5))
    graph = fuzz_oracles.Differential(armour_lenet, "graph")
    bad, diff = graph.compare(x[:6])  # PyNative and graph agree for this network
    assert not bad.any() and np.all(diff < 1e-3)


def test_float16_oracle_on_a_never_called_network(seeds):
    """The float16 twin learns the number of classes from the first batch (it used to need a forward pass
    before the oracle was built)."""
    from armour_core.ms.model import MSModel

    x, _ = seeds
    net = registry.create("model", "mlp", input_shape=(1, 8, 8), num_classes=10)  # never called
    oracle = fuzz_oracles.Differential(MSModel(net), "float16", tol=1e-9)
    bad, diff = oracle.compare(x[:4])
    assert bad.shape == (4,) and oracle._other.num_classes == 10 and np.all((diff > 0) & (diff < 0.5))


def test_report_json_and_html(run_blur_shift, tmp_path):
    _, rep, _ = run_blur_shift
    html, js = rep.write(tmp_path)
    data = json.loads(js.read_text())
    assert data["iterations"] == 60 and data["failures"] == rep.failures
    assert len(data["coverage_history"]["neuron"]) == 61 and set(data["mutators"]) == set(rep.mutators)
    text = html.read_text()
    assert "Coverage-guided fuzzing" in text and text.count("data:image/png;base64") >= 2  # plot + failure grid


def test_registry_mutators_by_category(armour_lenet, seeds):
    """Whatever mutators the registry holds run through the loop, grouped by their record's category."""
    names = [s.name for s in registry.specs("mutator") if registry.availability("mutator", s.name) == ""
             and s.facet.category in ("pixel", "affine")]
    fz = Fuzzer(armour_lenet, names, coverage="neuron", mutants_per_seed=len(names) * 2, alpha=0.5, beta=0.5)
    assert {m.name: m.category for m in fz.mutators} == {n: registry.spec("mutator", n).facet.category for n in names}
    rep = fz.run(*seeds, max_iters=4)
    assert sum(s.tried for s in rep.mutators.values()) == 4 * len(names) * 2


def test_registry_affine_moves_reference_identically(armour_lenet, seeds):
    """For every registered affine mutator (perspective draws inner randomness too): an entry one affine step
    from its seed has exactly its reference as input, and affine happens at most once per lineage."""
    affine = [s.name for s in registry.specs("mutator") if s.facet.category == "affine"
              and registry.availability("mutator", s.name) == ""]
    if not affine:
        pytest.skip("no affine mutator registered")
    fz = Fuzzer(armour_lenet, ["contrast" if "contrast" in registry.names("mutator") else "gaussian_blur", *affine],
                coverage=[("neuron", {"threshold": 0.0}), "top_k"], scheduler="uniform",
                mutants_per_seed=3 * len(affine), alpha=1.0, beta=1.0, seed=2)
    rep = fz.run(*seeds, max_iters=12)
    single = [i for i, c in enumerate(rep.corpus_chains) if len(c) == 1 and c[0]["mutator"] in affine]
    assert single, "some affine mutant should join the corpus"
    for i in single:
        np.testing.assert_allclose(rep.corpus_x[i], rep.corpus_refs[i], atol=1e-6)
    chains = rep.corpus_chains + [f["chain"] for f in rep.findings]
    assert max(affine_steps(rep, c) for c in chains) <= 1


def test_keep_failures_follows_mindarmour(armour_lenet, seeds):
    """Default (DeepHunter): failing mutants are findings, never corpus entries. keep_failures=True (MindArmour):
    a failing mutant that raises coverage joins the corpus as well, and is reported as a finding."""
    x, y = seeds
    kw = dict(coverage=[("neuron", {"threshold": 0.0}), "top_k"], scheduler="uniform", mutants_per_seed=10,
              alpha=1.0, beta=1.0, seed=4)
    rep = Fuzzer(armour_lenet, ["gaussian_blur", "contrast"], **kw).run(x, y, max_iters=20)
    pred = np.asarray(armour_lenet.predict(rep.corpus_x))
    assert np.all(pred == rep.corpus_labels)
    rep2 = Fuzzer(armour_lenet, ["gaussian_blur", "contrast"], keep_failures=True, **kw).run(x, y, max_iters=20)
    pred2 = np.asarray(armour_lenet.predict(rep2.corpus_x))
    failing = np.flatnonzero(pred2 != rep2.corpus_labels)
    assert failing.size > 0
    finding_chains = [f["chain"] for f in rep2.findings]
    assert all(rep2.corpus_chains[i] in finding_chains for i in failing)
