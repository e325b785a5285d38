"""Pitfalls of MindArmour's fuzz testing (``/work/shared/MINDARMOUR_PITFALLS.md``, section "Fuzzing").

The pitfall that needs an attack as adversarial mutator (NumPy >= 1.24 with every category) is in
``tests/test_trust_fuzz_with_attacks.py``."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from armour_core import registry
from armour_core.testing.markers import skip_module_unless_dists

skip_module_unless_dists("fuzz")


@pytest.fixture
def pynative():
    import mindspore as ms

    import armour_core.ms  # noqa: F401

    previous = ms.get_context("mode")
    ms.set_context(mode=ms.PYNATIVE_MODE)
    yield
    ms.set_context(mode=previous)


def test_every_coverage_criterion_works_on_an_unedited_network_in_pynative(pynative, armour_digits):
    """Pitfall: "Coverage needs no edits to the user's network (MindArmour needs `TensorSummary` ops and GRAPH
    mode)."

    A plain user ``nn.Cell`` (no summary ops, no taps), in PyNative mode: every registered coverage criterion
    fits, takes every input and reports a value in [0, 1] (> 0 for the neuron-output criteria); afterwards
    the network has the same cells and parameter names, no forward hook left behind, and the same outputs."""
    import mindspore as ms
    from mindspore import nn

    from armour_core.ms.model import MSModel

    class UserNet(nn.Cell):
        def __init__(self):
            super().__init__()
            self.flatten = nn.Flatten()
            self.hidden = nn.Dense(64, 32)
            self.act = nn.ReLU()
            self.head = nn.Dense(32, 10)

        def construct(self, x):
            return self.head(self.act(self.hidden(self.flatten(x))))

    ms.set_seed(0)
    net = UserNet()
    x = armour_digits.x_test[:40]
    names = [p.name for p in net.get_parameters()]
    cells = [n for n, _ in net.cells_and_names()]
    out_before = net(ms.Tensor(x)).asnumpy()
    model = MSModel(net, num_classes=10, input_shape=(1, 8, 8))
    for name in registry.names("coverage"):
        cov = registry.create("coverage", name, model=model)
        if cov.needs_profile:
            cov.fit(armour_digits.x_train[:200], armour_digits.y_train[:200], cache=False)
        cov.update(x)
        assert cov.count == len(x) and 0.0 <= cov.value <= 1.0, (name, cov.count, cov.value)
        if name in ("neuron", "top_k", "k_multisection"):
            assert cov.value > 0.0, (name, cov.value)
    assert [p.name for p in net.get_parameters()] == names
    assert [n for n, _ in net.cells_and_names()] == cells
    for _, cell in net.cells_and_names():
        hooks = getattr(cell, "_forward_hook", None) or {}
        assert len(hooks) == 0, f"a forward hook was left on {cell}"
    np.testing.assert_array_equal(net(ms.Tensor(x)).asnumpy(), out_before)


def test_validity_knows_0_1_and_0_255_data():
    """Pitfall: "Validity checks know the data range ([0,1] as well as 0–255)." The same relative change is
    valid (or invalid) whether the images are stored in [0, 1] or in 0–255."""
    from armour_plugins_fuzz.fuzzer import oracles as fuzz_oracles

    rng = np.random.default_rng(0)
    x = rng.uniform(0.2, 0.8, (4, 1, 8, 8))
    small, big = x + 0.1, x + 0.3
    for scale in (1.0, 255.0):
        ok_small = fuzz_oracles.validity(small * scale, x * scale, bounds=(0.0, scale), alpha=0.02, beta=0.2)[0]
        ok_big = fuzz_oracles.validity(big * scale, x * scale, bounds=(0.0, scale), alpha=0.02, beta=0.2)[0]
        assert ok_small.all() and not ok_big.any(), scale


@pytest.mark.parametrize("name", ["neuron", "k_multisection", "top_k"])
def test_gain_threshold_is_honoured_for_each_criterion_in_the_fuzzer(name, armour_mlp, armour_digits):
    """Pitfall: "gain thresholds are honoured for every criterion". A fuzzer keeps a mutant only when its
    coverage gain on that criterion exceeds the criterion's threshold."""
    from armour_plugins_fuzz.fuzzer import Fuzzer

    x, y = armour_digits.x_test[:4], armour_digits.y_test[:4]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        fz = Fuzzer(armour_mlp, ["gaussian_noise"], coverage=name, scheduler="uniform", mutants_per_seed=6,
                    alpha=0.5, beta=0.5, gain_threshold={name: 0.01}, x_train=armour_digits.x_train[:200], seed=0)
        rep = fz.run(x, y, max_iters=6)
    kept = np.array([len(c) > 0 for c in rep.corpus_chains])
    assert np.all(np.asarray(rep.corpus_gains)[kept] > 0.01)


def test_coverage_of_a_growing_corpus_is_incremental(armour_mlp, armour_digits):
    """Pitfall: "coverage of a growing corpus is updated incrementally, not recomputed over every prefix."
    Adding batches one by one captures each input once and ends at the value of one update over all of them
    (for every registered criterion)."""
    x = armour_digits.x_test[:30]
    for name in registry.names("coverage"):
        inc = registry.create("coverage", name, model=armour_mlp)
        once = registry.create("coverage", name, model=armour_mlp)
        if inc.needs_profile:
            inc.fit(armour_digits.x_train[:200], armour_digits.y_train[:200], cache=False)
            once.fit(armour_digits.x_train[:200], armour_digits.y_train[:200], cache=False)
        before = armour_mlp.forward_calls
        for part in (x[:10], x[10:20], x[20:]):
            inc.update(part)
        assert armour_mlp.forward_calls - before <= 3, name  # one capture per added batch, no prefix replays
        once.update(x)
        assert inc.value == pytest.approx(once.value, abs=1e-12), name
        assert inc.count == once.count == 30, name


def test_scale_and_rotate_about_the_centre_without_hidden_zoom():
    """Pitfall: "Scale and rotate transform about the image centre, without hidden zoom."

    A centred disc keeps its centre of mass under rotation and scaling; rotation keeps its area (a hidden
    zoom would scale it), and scaling by s scales its area by s²."""
    size = 21
    c = (size - 1) / 2
    yy, xx = np.mgrid[0:size, 0:size]
    disc = (((yy - c) ** 2 + (xx - c) ** 2) <= 4.0 ** 2).astype(np.float32)[None, None]
    area = disc.sum()
    rot = registry.create("mutator", "rotate", seed=0).mutate(disc, {"degrees": 37.0})[0, 0]
    assert rot.sum() == pytest.approx(area, rel=0.03)
    for img in (rot, registry.create("mutator", "scale", seed=0).mutate(disc, {"factor": 1.5})[0, 0]):
        m = img.sum()
        assert abs((img * yy).sum() / m - c) < 1e-3 and abs((img * xx).sum() / m - c) < 1e-3
    scaled = registry.create("mutator", "scale", seed=0).mutate(disc, {"factor": 1.5})[0, 0]
    assert scaled.sum() == pytest.approx(area * 1.5 ** 2, rel=0.06)


def test_fuzzing_0_255_data_behaves_like_the_same_data_in_0_1(armour_lenet, armour_digits):
    """Pitfall: "Validity checks know the data range ([0,1] as well as 0–255)".

    The default LeNet behind a wrapper taking 0–255 pixels (scaled inside the model) is fuzzed with the
    same seeds ×255 and the same fuzzer seed: mutants stay in [0, 255], and the run matches the [0, 1] run
    (same number of iterations, corpus size and failures; corpus ×255 up to float rounding)."""
    from armour_core.ms.model import MSModel
    from armour_plugins_fuzz.fuzzer import Fuzzer

    x, y = armour_digits.x_test[:8], armour_digits.y_test[:8]
    m255 = MSModel(armour_lenet.network, bounds=(0.0, 255.0), mean=0.0, std=255.0, num_classes=10,
                   input_shape=(1, 8, 8))
    reports = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        for model, scale in ((armour_lenet, 1.0), (m255, 255.0)):
            fz = Fuzzer(model, ["gaussian_blur", "contrast"], coverage="neuron", scheduler="uniform",
                        mutants_per_seed=6, alpha=0.5, beta=0.3, seed=0)
            reports.append(fz.run((x * scale).astype(np.float32), y, max_iters=8))
    r01, r255 = reports
    assert r255.bounds == (0.0, 255.0)
    c255 = np.asarray(r255.corpus_x)
    assert c255.min() >= 0.0 and c255.max() <= 255.0
    assert len(r255.corpus_x) == len(r01.corpus_x) > len(x) - r01.seeds_misclassified  # mutants were kept
    assert r255.failures == r01.failures
    np.testing.assert_allclose(c255 / 255.0, np.asarray(r01.corpus_x), atol=1e-4)
